"""Reader for MATLAB .mat files: v4/v5/v7 through scipy.io, v7.3 (HDF5) through h5py."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..memory import require_memory
from .keys import pick_matrix, pick_vector
from .validate import check_compressed

NUMERIC_CLASSES = {
    "double", "single", "logical", "sparse",
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
}


def _is_v73(source) -> bool:
    if isinstance(source, str):
        with open(source, "rb") as fh:
            head = fh.read(128)
    else:
        source.seek(0)
        head = source.read(128)
        source.seek(0)
    return b"MATLAB 7.3" in head or head[:8] == b"\x89HDF\r\n\x1a\n"


MI_TYPES = {1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 14, 15, 16, 17, 18}
MI_MATRIX, MI_COMPRESSED = 14, 15
MAX_DEPTH = 16


def _check_elements(buffer: bytes, start: int, end: int, order: str, label: str, depth: int = 0) -> None:
    """Walk MAT v5 data elements and refuse malformed tags before scipy's compiled reader sees them.

    scipy.io.loadmat crashed (segmentation fault) in condiag's fuzz runs on a small-data-element
    tag declaring more than 4 bytes; this check follows the MAT-file format (MathWorks, "MAT-File
    Format", 2019, ch. 1): every tag's type must be a known mi-type, small elements hold <= 4 bytes,
    and every element must fit inside its parent. Compressed elements are decompressed (bounded by
    the memory check) and checked the same way.
    """
    import struct

    if depth > MAX_DEPTH:
        raise InputError(label, "is not a valid MAT-file: elements nested too deeply")
    position = start
    while position < end:
        if end - position < 8:
            if any(buffer[position:end]):
                raise InputError(label, f"is not a valid MAT-file: a truncated element tag at byte {position}")
            return
        first, second = struct.unpack_from(order + "II", buffer, position)
        small_size = first >> 16
        if small_size:
            kind = first & 0xFFFF
            if kind not in MI_TYPES or small_size > 4:
                raise InputError(label, f"is not a valid MAT-file: malformed element tag at byte {position}")
            position += 8
            continue
        kind, size = first, second
        if kind not in MI_TYPES:
            raise InputError(label, f"is not a valid MAT-file: unknown element type {kind} at byte {position}")
        body = position + 8
        if body + size > end:
            raise InputError(label, f"is truncated: an element at byte {position} declares {size} bytes, {end - body} remain")
        if kind == MI_MATRIX:
            _check_matrix_size(buffer, body, size, order, label, position)
            _check_elements(buffer, body, body + size, order, label, depth + 1)
        elif kind == MI_COMPRESSED:
            inner = _inflate(buffer[body : body + size], order, label, position)
            _check_elements(inner, 0, len(inner), order, label, depth + 1)
        position = body + size + ((8 - size % 8) % 8 if kind != MI_COMPRESSED else 0)


NUMERIC_CLASS_CODES = set(range(4, 16))
"""mxCHAR_CLASS (4) to mxUINT64_CLASS (15), sparse (5) included: arrays whose payload the
dimensions bound; cells, structs and objects (1-3) nest other arrays and are bounded by those."""


def _check_matrix_size(buffer: bytes, body: int, size: int, order: str, label: str, position: int) -> None:
    """A numeric or sparse miMATRIX holds at most about 8·(3·prod(dims) + cols + 1) bytes of data.

    Its first two sub-elements are the array flags (class in the low byte) and the dimensions.
    An element much larger than its dimensions allow is refused: it is how a small file
    declaring a 10x10 matrix smuggles gigabytes past the declared-size check.
    """
    import struct

    if size < 40:
        return
    flag_type, flag_size = struct.unpack_from(order + "II", buffer, body)
    if flag_type != 6 or flag_size != 8:  # miUINT32, two words
        return
    class_code = struct.unpack_from(order + "I", buffer, body + 8)[0] & 0xFF
    dim_type, dim_size = struct.unpack_from(order + "II", buffer, body + 16)
    if class_code not in NUMERIC_CLASS_CODES or dim_type != 5 or not 8 <= dim_size <= 256 or body + 24 + dim_size > len(buffer):
        return
    dims = struct.unpack_from(order + f"{dim_size // 4}i", buffer, body + 24)
    entries = 1
    for n in dims:
        entries *= max(int(n), 0)
    allowed = 8 * (3 * entries + (dims[1] if len(dims) > 1 else 1) + 1) + 1024
    if size > allowed:
        raise InputError(
            label,
            f"is not a valid MAT-file: the array at byte {position} is {'x'.join(map(str, dims))} but its element holds {size} bytes",
        )


HEAD_BYTES = 8 + 16 + 8 + 256
"""Inflated first: the inner tag, the array flags and up to 64 dimensions."""


def _inflate(data: bytes, order: str, label: str, position: int) -> bytes:
    """Inflate a compressed element no further than the size its inner tag declares.

    The first 8 inflated bytes are the inner element's tag; its declared size is checked
    against the available memory before the rest is inflated, and a stream that inflates past
    it is refused, so a few megabytes cannot expand to gigabytes before any check runs.
    """
    import struct
    import zlib

    inflater = zlib.decompressobj()
    try:
        head = inflater.decompress(data, HEAD_BYTES)
        if len(head) < 8:
            raise InputError(label, f"is not a valid MAT-file: an empty compressed element at byte {position}")
        kind, size = struct.unpack_from(order + "II", head)
        if kind >> 16:  # a small element: 4 bytes of data in the tag itself
            size = 0
        if kind == MI_MATRIX:
            _check_matrix_size(head, 8, size, order, label, position)
        require_memory(8.0 + size, label, f"the compressed element at byte {position}, inflated,")
        wanted = 8 + size - len(head)
        rest = inflater.decompress(inflater.unconsumed_tail, wanted) if wanted > 0 else b""
    except zlib.error as exc:
        raise InputError(label, f"is not a valid MAT-file: corrupt compressed element at byte {position}") from exc
    if inflater.unconsumed_tail or (not inflater.eof and inflater.decompress(b"", 1)):
        raise InputError(label, f"is not a valid MAT-file: the compressed element at byte {position} inflates past the {size} bytes it declares")
    return head + rest


def _validate_v5(source, label: str) -> None:
    if isinstance(source, str):
        with open(source, "rb") as fh:
            data = fh.read()
    else:
        source.seek(0)
        data = source.read()
        source.seek(0)
    indicator = data[126:128] if len(data) >= 128 else b""
    if indicator not in (b"IM", b"MI"):
        return  # not v5: MAT v4 (no element tags; scipy's v4 reader checks sizes) or not a MAT-file at all
    _check_elements(data, 128, len(data), "<" if indicator == b"IM" else ">", label)


def _v5_variables(source, label: str) -> tuple[dict[str, tuple], dict[str, str]]:
    import scipy.io

    _validate_v5(source, label)

    try:
        found = scipy.io.whosmat(source)
    except Exception as exc:  # noqa: BLE001 - scipy raises MatReadError and others
        raise InputError(label, f"is not a readable MATLAB file ({str(exc)[:100]})") from exc
    variables: dict[str, tuple] = {}
    classes: dict[str, str] = {}  # MATLAB class names ('double', 'sparse', ...)
    for name, shape, cls in found:
        variables[name] = tuple(int(s) for s in shape)
        classes[name] = cls
    return variables, classes


def _v5_load(source, label: str, name: str, cls: str, shape, role: str):
    import scipy.io

    where = f"{label}:{name}"
    if cls not in NUMERIC_CLASSES:
        raise InputError(where, f"is a MATLAB {cls}, not a numeric {role}")
    require_memory(float(np.prod(shape, dtype=np.float64)) * 8, where, f"the {'x'.join(map(str, shape))} {role}")
    try:
        data = scipy.io.loadmat(source, variable_names=[name], squeeze_me=False)
    except (ValueError, OSError, TypeError, NotImplementedError) as exc:
        raise InputError(where, f"cannot be read ({str(exc)[:100]})") from exc
    return data[name]


def _v73_read(source, label: str, name: str | None, role: str, options, vector_key=None):
    import h5py

    from .hdf5 import read_dataset, walk_datasets

    with h5py.File(source, "r") as f:
        datasets, external = walk_datasets(f, label, options.allow_external)
        datasets = {k: v for k, v in datasets.items() if not k.startswith("#")}
        hard = [k for k in f if isinstance(f.get(k, getlink=True), h5py.HardLink)]
        groups = {k: (int(f[k].attrs.get("MATLAB_sparse", 0)), -1) for k in hard if isinstance(f[k], h5py.Group) and "MATLAB_sparse" in f[k].attrs}
        listing = {k: tuple(reversed(v)) for k, v in datasets.items() if "/" not in k}
        listing.update(groups)
        if role == "matrix":
            key = pick_matrix(listing, name, label)
        else:
            vector_key, _note = pick_vector(listing, name, label)
            if vector_key is None:
                raise InputError(label, "holds no vector b", "name it: --rhs FILE.mat:KEY")
            key = vector_key
        if key in groups:
            import scipy.sparse as sp

            grp = f[key]
            n_rows = int(grp.attrs["MATLAB_sparse"])
            if "ir" not in grp or "jc" not in grp:
                raise InputError(f"{label}:{key}", "is a MATLAB sparse matrix without its ir/jc index arrays")
            ir, jc = (np.asarray(read_dataset(f, f"{key}/{part}", label, "sparse index array", options.allow_external, external)).ravel()
                      for part in ("ir", "jc"))
            data = (np.asarray(read_dataset(f, f"{key}/data", label, "sparse data", options.allow_external, external)).ravel()
                    if "data" in grp else np.ones(len(ir)))
            check_compressed(jc, ir, len(data), len(jc) - 1, n_rows, f"{label}:{key}")
            return sp.csc_matrix((data, ir, jc), shape=(n_rows, len(jc) - 1)).tocsr(), key
        value = read_dataset(f, key, label, role, options.allow_external, external)
        return np.asarray(value).T, key  # MATLAB stores column-major


def read_matrix(source, label: str, fmt: str, options):
    from . import RawData

    if _is_v73(source):
        matrix, key = _v73_read(source, label, options.a_key, "matrix", options)
        vector = vector_label = None
        if options.b_key is not None:
            vector, b_key = _v73_read(source, label, options.b_key, "vector b", options)
            vector_label = f"{label}:{b_key}"
        return RawData(matrix=matrix, vector=vector, matrix_label=f"{label}:{key}", vector_label=vector_label)
    variables, classes = _v5_variables(source, label)
    name = pick_matrix(variables, options.a_key, label)
    b_name, note = pick_vector(variables, options.b_key, label, matrix_key=name)
    matrix = _v5_load(source, label, name, classes[name], variables[name], "matrix")
    vector = _v5_load(source, label, b_name, classes[b_name], variables[b_name], "vector b") if b_name else None
    return RawData(
        matrix=matrix,
        vector=vector,
        notes=[note] if note else [],
        matrix_label=f"{label}:{name}",
        vector_label=f"{label}:{b_name}" if b_name else None,
    )


def read_vector(source, label: str, fmt: str, key: str | None, options):
    if _is_v73(source):
        vector, name = _v73_read(source, label, key or options.b_key, "vector b", options)
        return vector, f"{label}:{name}", None
    variables, classes = _v5_variables(source, label)
    name, note = pick_vector(variables, key or options.b_key, label)
    if name is None:
        raise InputError(label, "holds no vector b", "name it: --rhs FILE.mat:KEY")
    return _v5_load(source, label, name, classes[name], variables[name], "vector b"), f"{label}:{name}", note
