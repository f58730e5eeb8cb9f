"""Choosing which array in a multi-array file (npz, HDF5, MAT) is A and which is b."""

from __future__ import annotations

from ..errors import InputError

MATRIX_NAMES = ("A", "X")
VECTOR_NAMES = {"A": ("b",), "X": ("y",), None: ("b", "y")}


def _listing(available: dict[str, tuple]) -> str:
    shown = [f"{name} {'x'.join(str(s) for s in shape) or 'scalar'}" for name, shape in list(available.items())[:20]]
    more = f", ... ({len(available) - 20} more)" if len(available) > 20 else ""
    return "; ".join(shown) + more if shown else "none"


def _basename(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def pick_matrix(available: dict[str, tuple], key: str | None, source: str, option: str = "--a-key") -> str:
    """Name of the entry holding A.

    An explicit ``key`` must exist. Otherwise an entry named ``A`` or ``X`` is taken
    (both present is ambiguous), else the only 2-D entry.
    """
    if key is not None:
        if key not in available:
            raise InputError(source, f"has no entry {key!r}; available: {_listing(available)}")
        return key
    named = [name for name in available if _basename(name) in MATRIX_NAMES]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise InputError(
            source,
            f"is ambiguous: it holds {', '.join(named)}; available: {_listing(available)}",
            f"choose one with {option} or PATH:KEY",
        )
    two_d = [name for name, shape in available.items() if len(shape) == 2]
    if len(two_d) == 1:
        return two_d[0]
    what = "no 2-D array" if not two_d else f"{len(two_d)} 2-D arrays and none named A or X"
    raise InputError(
        source,
        f"holds {what}; available: {_listing(available)}",
        f"name the matrix with {option} or PATH:KEY",
    )


def pick_vector(
    available: dict[str, tuple],
    key: str | None,
    source: str,
    matrix_key: str | None = None,
    option: str = "--b-key",
) -> tuple[str | None, str | None]:
    """Name of the entry holding b, or None when the file has none; and a note on the choice.

    An explicit ``key`` must exist. Otherwise ``b`` goes with ``A`` and ``y`` with ``X``;
    failing those, the only 1-D entry (with a note saying so).
    """
    if key is not None:
        if key not in available:
            raise InputError(source, f"has no entry {key!r}; available: {_listing(available)}")
        return key, None
    base = _basename(matrix_key) if matrix_key is not None else None
    prefix = matrix_key.rsplit("/", 1)[0] + "/" if matrix_key and "/" in matrix_key else ""
    wanted = VECTOR_NAMES.get(base, VECTOR_NAMES[None])
    for name in wanted:
        for candidate in (prefix + name, name):
            if candidate in available and candidate != matrix_key:
                return candidate, None
    others = [
        name
        for name, shape in available.items()
        if name != matrix_key and (len(shape) == 1 or (len(shape) == 2 and 1 in shape))
    ]
    if matrix_key is None and len(available) == 1:
        others = list(available)
    if len(others) == 1:
        return others[0], f"b taken from {others[0]!r}, the only vector in {source}"
    if matrix_key is None:
        raise InputError(
            source,
            f"holds no entry named b or y; available: {_listing(available)}",
            f"name the vector with {option} or PATH:KEY",
        )
    return None, None
