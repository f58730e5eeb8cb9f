"""Checks shared by every reader: numeric, real, finite, non-empty, the right shape."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..memory import SPARSE_WORK_VECTORS, require_memory
from ..problem import is_sparse


def describe_dtype(dtype) -> str:
    """A short user-facing name for a dtype (``float32``, ``object``, ``string``)."""
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        return "object (Python objects)"
    if dtype.kind in "SUa":
        return "string"
    if dtype.kind == "V":
        return "structured/compound" if dtype.names else "raw bytes"
    return str(dtype)


def check_numeric_dtype(dtype, source: str, what: str = "matrix") -> None:
    """Raise unless ``dtype`` is boolean, integer or real floating point."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        raise InputError(
            source,
            f"the {what} is complex ({dtype}); condiag handles real problems",
            "split it into real and imaginary parts, e.g. stack [[Re A, -Im A], [Im A, Re A]]",
        )
    if dtype.kind not in "biuf":
        raise InputError(source, f"the {what} holds {describe_dtype(dtype)} data, not numbers")


def _first_nonfinite(values: np.ndarray) -> tuple[int, tuple[int, ...]]:
    bad = ~np.isfinite(values)
    count = int(np.count_nonzero(bad))
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if count else ()
    return count, first


def check_finite(values: np.ndarray, source: str, what: str, positions=None) -> None:
    """Raise with the count and first position of NaN/Inf entries, if any.

    ``positions`` maps a flat index of ``values`` to a (row, col) pair (sparse data).
    """
    count, first = _first_nonfinite(values)
    if not count:
        return
    if positions is not None:
        first = positions(first[0])
    kinds = []
    if np.isnan(values).any():
        kinds.append("NaN")
    if np.isinf(values).any():
        kinds.append("Inf")
    where = "[" + ", ".join(str(i) for i in first) + "]"
    raise InputError(
        source,
        f"the {what} has {count} {'/'.join(kinds)} value{'s' if count != 1 else ''}, the first at {what[0] if what else ''}{where}",
        "remove or impute them before analysing",
    )


def _integer_array(values, source: str, what: str) -> np.ndarray:
    """The index array as int64 (unsigned arrays too: their differences must be able to go negative)."""
    values = np.asarray(values)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise InputError(source, f"is an inconsistent sparse matrix: its {what} is not a 1-D integer array")
    if values.dtype.kind == "u" and values.size and int(values.max()) > np.iinfo(np.int64).max:
        raise InputError(source, f"is an inconsistent sparse matrix: its {what} holds an index beyond 2⁶³")
    return values.astype(np.int64, copy=False)


def check_sparse_size(shape, nnz: int, source: str) -> None:
    """Refuse a sparse shape whose working set would not fit, before anything is allocated.

    Conversions allocate a pointer array of length rows + 1, and the analysis keeps up to
    :data:`~condiag.memory.SPARSE_WORK_VECTORS` dense vectors of length rows + cols
    (Lanczos bases, LSQR work vectors), so a file of a few bytes declaring a 10⁹ x 10⁹
    matrix is refused here instead of exhausting memory later.
    """
    rows, cols = (int(s) for s in shape)
    if rows < 0 or cols < 0:
        raise InputError(source, f"declares a negative shape {rows}x{cols}")
    need = 8.0 * (SPARSE_WORK_VECTORS * (rows + cols) + 2 * nnz) + 4.0 * 2 * nnz
    require_memory(need, source, f"the sparse {rows}x{cols} matrix ({nnz} stored entries) and its analysis",
                   hint="check the shape the file declares")


def check_compressed(indptr, indices, n_data: int, n_major: int, n_minor: int, source: str) -> None:
    """Validate the index arrays of a CSR/CSC matrix before any compiled routine reads them.

    scipy's conversions (``tocsr``, ``tocoo``, products) trust ``indptr`` and ``indices``:
    an index out of range or a decreasing pointer makes them write outside their buffers
    (segmentation faults and heap corruption were seen with scipy 1.17; scipy issue #19949
    lists related crashes). Checked here: ``indptr`` has ``n_major + 1`` entries, starts at 0,
    never decreases and ends at ``len(indices) == n_data``; every index lies in ``[0, n_minor)``.
    """
    indptr = _integer_array(indptr, source, "index pointer")
    indices = _integer_array(indices, source, "index array")
    check_sparse_size((n_major, n_minor), len(indices), source)
    if len(indptr) != n_major + 1:
        raise InputError(source, f"is an inconsistent sparse matrix: {len(indptr)} index pointers for {n_major} rows/columns (expected {n_major + 1})")
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise InputError(source, "is an inconsistent sparse matrix: its index pointers do not start at 0 and increase")
    if indptr[-1] != len(indices) or len(indices) != n_data:
        raise InputError(source, f"is an inconsistent sparse matrix: {int(indptr[-1])} entries by its pointers, {len(indices)} indices and {n_data} values")
    if len(indices) and (indices.min() < 0 or indices.max() >= n_minor):
        raise InputError(source, f"is an inconsistent sparse matrix: an index outside 0..{n_minor - 1}")


def check_coordinates(row, col, n_data: int, shape, source: str) -> None:
    """Validate COO index arrays: equal lengths, every (row, col) inside ``shape``."""
    row = _integer_array(row, source, "row index array")
    col = _integer_array(col, source, "column index array")
    rows, cols = (int(s) for s in shape)
    check_sparse_size((rows, cols), len(row), source)
    if not len(row) == len(col) == n_data:
        raise InputError(source, f"is an inconsistent sparse matrix: {len(row)} rows, {len(col)} columns and {n_data} values")
    if n_data and (row.min() < 0 or col.min() < 0 or row.max() >= rows or col.max() >= cols):
        raise InputError(source, f"is an inconsistent sparse matrix: an index outside its {rows}x{cols} shape")


def check_sparse_structure(matrix, source: str) -> None:
    """Validate any scipy.sparse matrix's index arrays (CSR, CSC, COO; others are converted by scipy's own checks)."""
    fmt = getattr(matrix, "format", "")
    rows, cols = matrix.shape
    if fmt in ("csr", "csc"):
        major, minor = (rows, cols) if fmt == "csr" else (cols, rows)
        check_compressed(matrix.indptr, matrix.indices, len(matrix.data), major, minor, source)
    elif fmt == "coo":
        check_coordinates(matrix.row, matrix.col, len(matrix.data), matrix.shape, source)
    else:
        check_sparse_size(matrix.shape, int(matrix.nnz), source)


def as_matrix(A, source: str):
    """Validate A and return it as float64 ndarray or float64 CSR matrix."""
    if is_sparse(A):
        check_sparse_structure(A, source)
        A = A.tocsr()
        check_numeric_dtype(A.dtype, source)
        if A.ndim != 2:
            raise InputError(source, f"A must be 2-D, got {A.ndim}-D")
        if 0 in A.shape:
            raise InputError(source, f"A is empty (shape {A.shape[0]}x{A.shape[1]})")
        with np.errstate(all="ignore"):
            A = A.astype(np.float64)
        A.sum_duplicates()

        def pos(k):
            row = int(np.searchsorted(A.indptr, k, side="right") - 1)
            return (row, int(A.indices[k]))

        check_finite(A.data, source, "matrix A", positions=pos)
        return A
    A = np.asarray(A)
    check_numeric_dtype(A.dtype, source)
    if A.ndim != 2:
        shape = "x".join(str(s) for s in A.shape) or "scalar"
        hint = "reshape a vector to a single column (n, 1)" if A.ndim == 1 else None
        raise InputError(source, f"A must be a 2-D matrix, got shape {shape} ({A.ndim}-D)", hint)
    if 0 in A.shape:
        raise InputError(source, f"A is empty (shape {A.shape[0]}x{A.shape[1]})")
    with np.errstate(all="ignore"):  # float128 beyond float64's range becomes inf, reported just below
        A = np.ascontiguousarray(A, dtype=np.float64)
    check_finite(A, source, "matrix A")
    return A


def as_vector(b, source: str, n_rows: int) -> np.ndarray:
    """Validate b: real, finite, one entry per row of A; (n, 1) and (1, n) are flattened."""
    if is_sparse(b):
        b = b.toarray()
    b = np.asarray(b)
    check_numeric_dtype(b.dtype, source, "right-hand side b")
    if b.ndim == 2 and 1 in b.shape:
        b = b.reshape(-1)
    if b.ndim != 1:
        raise InputError(source, f"b must be a vector, got shape {'x'.join(str(s) for s in b.shape)}")
    if b.shape[0] != n_rows:
        raise InputError(
            source,
            f"b has {b.shape[0]} entries but A has {n_rows} rows",
            "b needs one entry per row of A",
        )
    with np.errstate(all="ignore"):
        b = np.ascontiguousarray(b, dtype=np.float64)
    check_finite(b, source, "right-hand side b")
    return b
