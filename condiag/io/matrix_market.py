"""Reader for Matrix Market (.mtx) files; coordinate matrices stay sparse (CSR)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..memory import require_memory


def _info(source, label: str):
    import scipy.io

    try:
        rows, cols, entries, layout, field, symmetry = scipy.io.mminfo(source)
    except (ValueError, OSError, IndexError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(label, f"is not a valid Matrix Market file ({str(exc)[:100]})") from exc
    if field == "complex":
        raise InputError(label, "holds a complex matrix; condiag handles real problems")
    if field not in ("real", "integer", "pattern", "double"):
        raise InputError(label, f"has unsupported field type {field!r}")
    if layout == "array":
        need = rows * cols * 8
    else:
        need = entries * 24 * (2 if symmetry != "general" else 1)
    require_memory(need, label, f"the {rows}x{cols} matrix ({entries} entries)")
    return rows, cols, layout, field


def _read(source, label: str):
    import scipy.io

    rows, cols, layout, field = _info(source, label)
    try:
        data = scipy.io.mmread(source)
    except (ValueError, OSError, IndexError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(label, f"is not a valid Matrix Market file ({str(exc)[:100]})") from exc
    notes = []
    if field == "pattern":
        notes.append("pattern matrix: every stored entry taken as 1")
    if hasattr(data, "tocsr"):
        data = data.tocsr()
        if field == "pattern":
            data.data = np.ones_like(data.data, dtype=float)
    return data, notes


def read_matrix(source, label: str, fmt: str, options):
    from . import RawData

    if options.a_key:
        raise InputError(label, f"a Matrix Market file holds one matrix; there is no key {options.a_key!r}")
    matrix, notes = _read(source, label)
    return RawData(matrix=matrix, notes=notes)


def read_vector(source, label: str, fmt: str, key: str | None, options):
    if key:
        raise InputError(label, f"a Matrix Market file holds one matrix; there is no key {key!r}")
    vector, _notes = _read(source, label)
    if hasattr(vector, "toarray"):
        vector = vector.toarray()
    return np.asarray(vector), label, None
