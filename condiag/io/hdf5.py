"""Reader for HDF5 files (``data.h5:group/dataset``); h5py is imported only here.

External links, virtual datasets and datasets with external raw storage point at
other files; they are refused unless ``allow_external`` is set, with the target named.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..memory import require_memory
from .keys import pick_matrix, pick_vector
from .validate import check_numeric_dtype

MAX_ENTRIES = 10_000
MAX_DEPTH = 32


def _open(source, label: str):
    import h5py

    try:
        return h5py.File(source, "r")
    except (OSError, ValueError) as exc:
        raise InputError(label, "is not a readable HDF5 file") from exc


def walk_datasets(group, label: str, allow_external: bool, prefix: str = "", depth: int = 0, out=None, external=None):
    """Map every dataset path to its shape; collect external links separately."""
    import h5py

    out = {} if out is None else out
    external = {} if external is None else external
    if depth > MAX_DEPTH:
        return out, external
    for name in group:
        if len(out) + len(external) >= MAX_ENTRIES:
            break
        path = f"{prefix}{name}"
        link = group.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            external[path] = f"{link.filename}:{link.path}"
            if not allow_external:
                continue
        elif isinstance(link, h5py.SoftLink):
            continue
        try:
            obj = group[name]
        except (KeyError, OSError, ValueError):
            continue
        if isinstance(obj, h5py.Dataset):
            out[path] = tuple(obj.shape) if obj.shape is not None else ()
        elif isinstance(obj, h5py.Group):
            walk_datasets(obj, label, allow_external, path + "/", depth + 1, out, external)
    return out, external


def resolve(f, name: str, label: str, allow_external: bool, role: str = "dataset"):
    """The object at ``name`` in the open file ``f``, or None; every path component is checked.

    h5py (like the HDF5 library) follows soft and external links silently at every component
    of a path, so ``x.h5:g/secret`` reads another file when ``g`` is an external link, or a
    soft link to one. Here each component's link is looked at before it is followed: an
    external link is refused unless ``allow_external`` (naming its target), a soft link is
    resolved by walking its own target path the same way (at most :data:`MAX_DEPTH` hops),
    and the object reached must live in ``f`` itself. Every route that opens HDF5 (the
    reader, MAT v7.3, streaming, Dask) resolves names through this one function.
    """
    import h5py

    hops = 0
    parts = [p for p in name.split("/") if p]
    current = f["/"]
    done: list[str] = []
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if not isinstance(current, h5py.Group):
            return None
        try:
            link = current.get(part, getlink=True)
        except (KeyError, OSError, ValueError, TypeError):
            return None
        if link is None:
            return None
        here = "/".join(done + [part])
        if isinstance(link, h5py.ExternalLink):
            if not allow_external:
                raise InputError(
                    f"{label}:{here}",
                    f"is an external link to {link.filename}:{link.path}",
                    "pass --allow-external if you trust that file",
                )
        elif isinstance(link, h5py.SoftLink):
            hops += 1
            if hops > MAX_DEPTH:
                raise InputError(f"{label}:{name}", "has a chain of soft links that is too long (a loop?)")
            target = link.path
            if target.startswith("/"):
                current, done = f["/"], []
            parts = [p for p in target.split("/") if p] + parts
            continue
        try:
            current = current[part]
        except (KeyError, OSError, ValueError, TypeError):
            return None
        done.append(part)
    if not allow_external and current.file.filename != f.filename:
        raise InputError(f"{label}:{name}", f"lies in another file ({current.file.filename})",
                         "pass --allow-external if you trust that file")
    return current


def _external_target(ds) -> str | None:
    if ds.is_virtual:
        files = sorted({src.file_name for src in ds.virtual_sources()})
        return "a virtual dataset mapping " + ", ".join(files)
    if ds.external:
        return "external raw storage in " + ", ".join(str(e[0]) for e in ds.external)
    return None


def read_dataset(f, name: str, label: str, role: str, allow_external: bool, external: dict):
    import h5py

    where = f"{label}:{name}"
    if name in external and not allow_external:
        raise InputError(
            where,
            f"is an external link to {external[name]}",
            "pass --allow-external if you trust that file",
        )
    obj = resolve(f, name, label, allow_external)
    if obj is None:
        raise InputError(label, f"has no dataset {name!r}")
    if isinstance(obj, h5py.Group):
        members = ", ".join(list(obj.keys())[:20]) or "nothing"
        raise InputError(where, f"is a group, not a dataset (it holds {members})", "name a dataset inside it")
    if not isinstance(obj, h5py.Dataset):
        raise InputError(where, "is not a dataset")
    target = _external_target(obj)
    if target and not allow_external:
        raise InputError(where, f"is {target}", "pass --allow-external if you trust those files")
    check_numeric_dtype(obj.dtype, where, role)
    if obj.shape is None:
        raise InputError(where, "is an empty (null) dataset")
    count = int(np.prod(obj.shape, dtype=np.float64)) if obj.shape else 1
    require_memory(count * 8, where, f"the {'x'.join(map(str, obj.shape))} {role}")
    try:
        return obj[()]
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(where, f"cannot be read: {str(exc)[:120]}") from exc


def read_matrix(source, label: str, fmt: str, options):
    from . import RawData

    with _open(source, label) as f:
        datasets, external = walk_datasets(f, label, options.allow_external)
        listing = {**datasets, **{k: ("external",) for k in external}}
        key = options.a_key
        if key is not None:
            key = key.lstrip("/")
        if key is not None and key not in listing and resolve(f, key, label, options.allow_external) is not None:
            listing[key] = ()
        name = pick_matrix(listing if key else datasets, key, label)
        vector = vector_label = None
        notes = []
        if options.b_key is not None or key is None:
            b_name, note = pick_vector(datasets, options.b_key, label, matrix_key=name)
            if b_name:
                vector = read_dataset(f, b_name, label, "vector b", options.allow_external, external)
                vector_label = f"{label}:{b_name}"
                notes += [note] if note else []
        matrix = read_dataset(f, name, label, "matrix", options.allow_external, external)
    return RawData(matrix=matrix, vector=vector, notes=notes, matrix_label=f"{label}:{name}", vector_label=vector_label)


def read_vector(source, label: str, fmt: str, key: str | None, options):
    with _open(source, label) as f:
        datasets, external = walk_datasets(f, label, options.allow_external)
        key = key.lstrip("/") if key else key
        if key is not None and key not in datasets and resolve(f, key, label, options.allow_external) is not None:
            datasets[key] = ()
        if key is None and external and not datasets:
            key = next(iter(external))
            datasets[key] = ("external",)
        name, note = pick_vector(datasets, key or options.b_key, label)
        if name is None:
            raise InputError(label, "holds no vector b", "name it: --rhs FILE.h5:KEY")
        vector = read_dataset(f, name, label, "vector b", options.allow_external, external)
    return vector, f"{label}:{name}", note
