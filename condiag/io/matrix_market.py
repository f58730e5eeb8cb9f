"""Reader for Matrix Market (.mtx) files; coordinate matrices stay sparse (CSR).

condiag parses the format itself (a header, comments, a size line, then numbers; NIST's
specification at math.nist.gov/MatrixMarket/formats.html) instead of calling
``scipy.io.mmread``: scipy's compiled reader crashed the process (segmentation fault) on
truncated files in condiag's fuzz runs. Here every count is checked against the size line
before anything is built, and the size line against the available memory before reading.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..memory import require_memory
from .validate import check_coordinates, check_sparse_size

LAYOUTS = ("coordinate", "array")
FIELDS = ("real", "integer", "pattern", "double", "complex")
SYMMETRIES = ("general", "symmetric", "skew-symmetric", "hermitian")


def _open_bytes(source):
    if isinstance(source, str):
        with open(source, "rb") as fh:
            return fh.read()
    source.seek(0)
    return source.read()


def _parse(source, label: str):
    """Return (matrix, notes): CSR for coordinate files, ndarray for array files."""
    data = _open_bytes(source)
    lines = data.split(b"\n", 1)
    banner = lines[0].decode("latin1").strip().split()
    if len(banner) != 5 or banner[0].lower() != "%%matrixmarket" or banner[1].lower() != "matrix":
        raise InputError(label, "is not a Matrix Market file (its first line must be '%%MatrixMarket matrix ...')")
    layout, field, symmetry = (w.lower() for w in banner[2:])
    if layout not in LAYOUTS or field not in FIELDS or symmetry not in SYMMETRIES:
        raise InputError(label, f"has an unknown Matrix Market header: {' '.join(banner[2:])}")
    if field == "complex" or symmetry == "hermitian":
        raise InputError(label, "holds a complex matrix; condiag handles real problems")
    rest = lines[1] if len(lines) > 1 else b""
    body_lines = rest.split(b"\n")
    index = 0
    while index < len(body_lines) and (not body_lines[index].strip() or body_lines[index].lstrip().startswith(b"%")):
        index += 1
    if index >= len(body_lines):
        raise InputError(label, "has no size line")
    try:
        size = [int(t) for t in body_lines[index].split()]
    except ValueError:
        raise InputError(label, f"has an invalid size line: {body_lines[index][:80]!r}") from None
    expected_size_fields = 3 if layout == "coordinate" else 2
    if len(size) != expected_size_fields or min(size) < 0:
        raise InputError(label, f"has an invalid size line: {body_lines[index][:80]!r}")
    rows, cols = size[0], size[1]
    if symmetry != "general" and rows != cols:
        raise InputError(label, f"declares a {symmetry} matrix that is not square ({rows}x{cols})")
    if layout == "coordinate":
        entries = size[2]
        per_entry = 2 if field == "pattern" else 3
        expected = entries * per_entry
        require_memory(entries * 48.0 * (2 if symmetry != "general" else 1), label, f"the {rows}x{cols} matrix ({entries} entries)")
        check_sparse_size((rows, cols), entries * (2 if symmetry != "general" else 1), label)
    else:
        if symmetry == "general":
            expected = rows * cols
        elif symmetry == "symmetric":
            expected = rows * (rows + 1) // 2
        else:
            expected = rows * (rows - 1) // 2
        require_memory(rows * cols * 8.0 + expected * 40.0, label, f"the dense {rows}x{cols} matrix")
    tokens = b"\n".join(line for line in body_lines[index + 1 :] if not line.lstrip().startswith(b"%")).split()
    if len(tokens) != expected:
        what = "truncated" if len(tokens) < expected else "longer than its size line says"
        raise InputError(label, f"is {what}: the size line promises {expected} numbers, the file holds {len(tokens)}")
    try:
        values = np.array(tokens, dtype=np.bytes_).astype(np.float64) if tokens else np.zeros(0)
    except ValueError:
        bad = next((t for t in tokens if not _is_float(t)), b"?")
        raise InputError(label, f"has a non-numeric entry {bad[:30].decode('latin1')!r}") from None
    if field == "integer" and values.size:
        numbers = values if layout == "array" else values.reshape(-1, 3)[:, 2]
        if np.any(numbers != np.floor(numbers)):
            bad = numbers[np.argmax(numbers != np.floor(numbers))]
            raise InputError(label, f"declares an integer field but holds the value {bad:g}")
    notes: list[str] = []
    if layout == "array":
        return _dense(values, rows, cols, symmetry), notes
    if field == "pattern":
        notes.append("pattern matrix: every stored entry taken as 1")
    return _sparse(values, rows, cols, per_entry, symmetry, label), notes


def _is_float(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _dense(values, rows, cols, symmetry):
    if symmetry == "general":
        return values.reshape(cols, rows).T.copy()
    matrix = np.zeros((rows, cols))
    lower = np.tril_indices(rows, 0 if symmetry == "symmetric" else -1)
    order = np.lexsort((lower[0], lower[1]))  # column-major order of the stored lower triangle
    r, c = lower[0][order], lower[1][order]
    matrix[r, c] = values
    sign = 1.0 if symmetry == "symmetric" else -1.0
    off = r != c
    matrix[c[off], r[off]] = sign * values[off]
    return matrix


def _sparse(values, rows, cols, per_entry, symmetry, label):
    import scipy.sparse as sp

    table = values.reshape(-1, per_entry)
    i, j = table[:, 0], table[:, 1]
    if table.shape[0] and (np.any(i != np.floor(i)) or np.any(j != np.floor(j))):
        raise InputError(label, "has a non-integer row or column index")
    i = i.astype(np.int64) - 1
    j = j.astype(np.int64) - 1
    if table.shape[0] and (i.min() < 0 or j.min() < 0 or i.max() >= rows or j.max() >= cols):
        raise InputError(label, f"has an index outside the declared {rows}x{cols} shape")
    v = table[:, 2] if per_entry == 3 else np.ones(table.shape[0])
    if symmetry != "general":
        _check_one_triangle(i, j, cols, symmetry, label)
        off = i != j
        sign = 1.0 if symmetry == "symmetric" else -1.0
        i, j, v = np.concatenate([i, j[off]]), np.concatenate([j, i[off]]), np.concatenate([v, sign * v[off]])
    check_coordinates(i, j, len(v), (rows, cols), label)
    return sp.coo_matrix((v, (i, j)), shape=(rows, cols)).tocsr()


def _check_one_triangle(i, j, n: int, symmetry: str, label: str) -> None:
    """A symmetric or skew-symmetric file stores one triangle only (NIST's specification).

    An entry given in both triangles would be counted twice when the matrix is mirrored, and a
    skew-symmetric matrix has a zero diagonal; both are refused instead of silently changed.
    """
    if symmetry == "skew-symmetric" and np.any(i == j):
        k = int(np.argmax(i == j))
        raise InputError(label, f"is skew-symmetric but stores a diagonal entry ({i[k] + 1}, {j[k] + 1})")
    off = i != j
    lower = np.unique(np.maximum(i[off], j[off]) * n + np.minimum(i[off], j[off]), return_counts=True)
    if np.any(lower[1] > 1):
        key = int(lower[0][np.argmax(lower[1] > 1)])
        raise InputError(
            label,
            f"is {symmetry} but lists the entry ({key // n + 1}, {key % n + 1}) more than once "
            "(both triangles, or repeated); mirroring would double it",
            "store only the lower triangle, as the Matrix Market format requires",
        )


def read_matrix(source, label: str, fmt: str, options):
    from . import RawData

    if options.a_key:
        raise InputError(label, f"a Matrix Market file holds one matrix; there is no key {options.a_key!r}")
    matrix, notes = _parse(source, label)
    return RawData(matrix=matrix, notes=notes)


def read_vector(source, label: str, fmt: str, key: str | None, options):
    if key:
        raise InputError(label, f"a Matrix Market file holds one matrix; there is no key {key!r}")
    vector, _notes = _parse(source, label)
    if hasattr(vector, "toarray"):
        vector = vector.toarray()
    return np.asarray(vector), label, None
