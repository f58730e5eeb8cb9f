"""Checks shared by every reader: numeric, real, finite, non-empty, the right shape."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
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


def as_matrix(A, source: str):
    """Validate A and return it as float64 ndarray or float64 CSR matrix."""
    if is_sparse(A):
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
