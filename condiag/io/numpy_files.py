"""Reader for .npy and .npz files (including scipy.sparse ``save_npz`` archives).

Safety: pickles are never loaded (``allow_pickle=False`` everywhere, and object dtypes
are refused from the header before any data is read); the header's declared size is
checked against the file (or zip member) size and against available memory before
anything is allocated, so a zip bomb or a lying header is refused up front.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np
from numpy.lib import format as npformat

from ..errors import InputError
from ..memory import require_memory
from .keys import pick_matrix, pick_vector
from .validate import (
    check_compressed,
    check_coordinates,
    check_numeric_dtype,
    describe_dtype,
)

SPARSE_KEYS = {
    "csr": ("data", "indices", "indptr", "shape"),
    "csc": ("data", "indices", "indptr", "shape"),
    "coo": ("data", "row", "col", "shape"),
}
MAX_HEADER = 10_000


def _read_header(fp, label: str):
    try:
        version = npformat.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(fp, max_header_size=MAX_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = npformat.read_array_header_2_0(fp, max_header_size=MAX_HEADER)
        else:
            shape, fortran, dtype = npformat._read_array_header(fp, version, max_header_size=MAX_HEADER)  # type: ignore[attr-defined]  # 3.0
    except (ValueError, EOFError, SyntaxError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise InputError(label, f"is not a valid .npy array ({str(exc).splitlines()[0][:120]})") from exc
    return shape, fortran, np.dtype(dtype)


def _check_header(shape, dtype, label: str, payload_bytes: int | None, role: str, in_memory: bool = True) -> None:
    """Refuse pickles, invalid shapes, a payload of another size than declared and, when the
    array is to be loaded whole (``in_memory``), one that does not fit in memory."""
    if dtype.hasobject:
        raise InputError(
            label,
            f"the {role} holds Python objects (a pickle, which can run code when loaded); condiag never unpickles",
            "save a numeric array, e.g. np.save(path, np.asarray(A, dtype=float))",
        )
    if not all(isinstance(s, int) and s >= 0 for s in shape):
        raise InputError(label, f"declares an invalid shape {shape!r}")
    count = 1
    for s in shape:
        count *= s
    nbytes = count * dtype.itemsize
    if payload_bytes is not None and nbytes > payload_bytes:
        raise InputError(
            label,
            f"is truncated: its header declares a {'x'.join(map(str, shape))} {describe_dtype(dtype)} array "
            f"({nbytes} bytes) but only {payload_bytes} bytes of data follow",
        )
    if payload_bytes is not None and nbytes < payload_bytes:
        raise InputError(
            label,
            f"is inconsistent: its header declares a {'x'.join(map(str, shape))} {describe_dtype(dtype)} array "
            f"({nbytes} bytes) but {payload_bytes} bytes of data follow",
        )
    if not in_memory:
        return
    require_memory(
        max(nbytes, count * 8),
        label,
        f"the {'x'.join(map(str, shape))} {describe_dtype(dtype)} {role}",
    )


def _read_array(fp, label: str, payload_total: int | None, role: str) -> np.ndarray:
    start = fp.tell()
    shape, _fortran, dtype = _read_header(fp, label)
    header_len = fp.tell() - start
    payload = None if payload_total is None else payload_total - header_len
    _check_header(shape, dtype, label, payload, role)
    fp.seek(start)
    try:
        return npformat.read_array(fp, allow_pickle=False)
    except ValueError as exc:
        raise InputError(label, f"cannot be read: {str(exc).splitlines()[0][:160]}") from exc


def _file_size(source) -> int:
    if isinstance(source, (str, os.PathLike)):
        return os.path.getsize(source)
    here = source.tell()
    source.seek(0, os.SEEK_END)
    size = source.tell()
    source.seek(here)
    return size


READ_CHUNK = 1 << 22
"""Bytes inflated per read: zipfile holds about two chunks beside the array (its output and its input)."""


def _read_payload(fp, shape, fortran: bool, dtype: np.dtype, label: str) -> np.ndarray:
    """Inflate an array's data straight into its own buffer, a chunk at a time.

    ``numpy.lib.format.read_array`` on a zip member reads the whole payload into a bytes object
    and copies it into the array: twice the declared size at the peak. Reading into the
    preallocated array keeps the peak at the array itself plus one chunk.
    """
    count = 1
    for s in shape:
        count *= s
    array = np.empty(count, dtype=dtype)
    view = memoryview(array.view(np.uint8).reshape(-1)) if count else memoryview(b"")  # type: ignore[arg-type]
    filled = 0
    while filled < len(view):
        got = fp.readinto(view[filled : filled + READ_CHUNK])
        if not got:
            raise InputError(label, f"is truncated: {filled} of {len(view)} bytes of data")
        filled += got
    if fortran:
        return array.reshape(shape[::-1]).transpose()
    return array.reshape(shape)


def check_npy_file(path: str) -> tuple[tuple, np.dtype]:
    """Shape and dtype of a .npy file from its header, after the same checks as a full load
    except the memory one (for readers that map the file and stream it)."""
    size = _file_size(path)
    with open(path, "rb") as fp:
        shape, _fortran, dtype = _read_header(fp, path)
        header_len = fp.tell()
    _check_header(shape, dtype, path, size - header_len, "matrix", in_memory=False)
    return tuple(shape), dtype


def _load_npy(source, label: str, role: str) -> np.ndarray:
    size = _file_size(source)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fp:
            return _read_array(fp, label, size, role)
    source.seek(0)
    return _read_array(source, label, size, role)


class _Archive:
    """An npz archive read member by member with size checks."""

    def __init__(self, source, label: str):
        self.label = label
        try:
            self.zip = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise InputError(label, "is not a valid .npz (zip) archive") from exc
        self.members = {}
        for info in self.zip.infolist():
            if info.is_dir():
                continue
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            self.members[name] = info
        total = sum(info.file_size for info in self.members.values())
        require_memory(total, label, f"the archive's {len(self.members)} members, uncompressed,")
        self._shapes: dict[str, tuple] | None = None

    def shapes(self) -> dict[str, tuple]:
        """Declared shape of every member, from its header only (non-arrays are reported)."""
        if self._shapes is None:
            shapes: dict[str, tuple] = {}
            for name, info in self.members.items():
                try:
                    with self.zip.open(info) as fp:
                        shape, _f, dtype = _read_header(fp, f"{self.label}:{name}")
                except (InputError, zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as exc:
                    raise InputError(self.label, f"member {name!r} is not a .npy array") from exc
                shapes[name] = tuple(shape)
            self._shapes = shapes
        return self._shapes

    def load(self, name: str, role: str) -> np.ndarray:
        info = self.members[name]
        label = f"{self.label}:{name}"
        try:
            with self.zip.open(info) as fp:
                shape, _fortran, dtype = _read_header(fp, label)
                header_len = fp.tell()
            _check_header(shape, dtype, label, info.file_size - header_len, role)
            with self.zip.open(info) as fp:
                _read_header(fp, label)
                return _read_payload(fp, shape, _fortran, dtype, label)
        except ValueError as exc:
            raise InputError(label, f"cannot be read: {str(exc).splitlines()[0][:160]}") from exc
        except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError) as exc:
            raise InputError(label, f"is corrupt: {str(exc)[:120]}") from exc

    def close(self):
        self.zip.close()


def _is_sparse_archive(shapes: dict[str, tuple]) -> bool:
    return "format" in shapes and "shape" in shapes and "data" in shapes


def _load_sparse(archive: _Archive):
    import scipy.sparse as sp

    label = archive.label
    fmt_arr = archive.load("format", "sparse format tag")
    fmt = fmt_arr.item()
    fmt = fmt.decode("ascii", "replace") if isinstance(fmt, bytes) else str(fmt)
    if fmt not in SPARSE_KEYS:
        raise InputError(label, f"is a scipy.sparse archive in format {fmt!r}", "save it as csr, csc or coo")
    missing = [k for k in SPARSE_KEYS[fmt] if k not in archive.members]
    if missing:
        raise InputError(label, f"is a scipy.sparse {fmt} archive missing {', '.join(missing)}")
    parts = {k: archive.load(k, f"sparse {k} array") for k in SPARSE_KEYS[fmt]}
    shape = tuple(int(s) for s in np.asarray(parts["shape"]).ravel())
    if len(shape) != 2:
        raise InputError(label, f"is a sparse array of shape {shape}; A must be 2-D")
    check_numeric_dtype(parts["data"].dtype, label)
    n_data = parts["data"].size
    if parts["data"].ndim != 1:
        raise InputError(label, "is an inconsistent scipy.sparse archive: its data is not 1-D")
    if fmt == "coo":
        check_coordinates(parts["row"], parts["col"], n_data, shape, label)
    else:
        major, minor = shape if fmt == "csr" else shape[::-1]
        check_compressed(parts["indptr"], parts["indices"], n_data, major, minor, label)
    try:
        if fmt == "coo":
            matrix = sp.coo_matrix((parts["data"], (parts["row"], parts["col"])), shape=shape)
        elif fmt == "csr":
            matrix = sp.csr_matrix((parts["data"], parts["indices"], parts["indptr"]), shape=shape)
        else:
            matrix = sp.csc_matrix((parts["data"], parts["indices"], parts["indptr"]), shape=shape)
        matrix = matrix.tocsr()
        matrix.check_format(full_check=True)
    except (ValueError, IndexError, TypeError) as exc:
        raise InputError(label, f"is an inconsistent scipy.sparse {fmt} archive: {str(exc)[:120]}") from exc
    return matrix


def read_matrix(source, label: str, fmt: str, options):
    from . import RawData

    if fmt == "npy":
        if options.a_key:
            raise InputError(label, f"a .npy file holds one array; there is no key {options.a_key!r}")
        return RawData(matrix=_load_npy(source, label, "matrix"))
    archive = _Archive(source, label)
    try:
        shapes = archive.shapes()
        if not shapes:
            raise InputError(label, "is an empty archive")
        if _is_sparse_archive(shapes) and options.a_key is None:
            return RawData(matrix=_load_sparse(archive), notes=["sparse matrix (scipy.sparse archive)"])
        a_name = pick_matrix(shapes, options.a_key, label)
        b_name, note = pick_vector(shapes, options.b_key, label, matrix_key=a_name)
        matrix = archive.load(a_name, "matrix")
        vector = archive.load(b_name, "vector b") if b_name else None
        return RawData(
            matrix=matrix,
            vector=vector,
            notes=[note] if note else [],
            matrix_label=f"{label}:{a_name}",
            vector_label=f"{label}:{b_name}" if b_name else None,
        )
    finally:
        archive.close()


def read_vector(source, label: str, fmt: str, key: str | None, options):
    if fmt == "npy":
        if key:
            raise InputError(label, f"a .npy file holds one array; there is no key {key!r}")
        return _load_npy(source, label, "vector b"), label, None
    archive = _Archive(source, label)
    try:
        shapes = archive.shapes()
        name, note = pick_vector(shapes, key or options.b_key, label)
        if name is None:
            raise InputError(label, "holds no vector b", "name it: --rhs FILE.npz:KEY")
        return archive.load(name, "vector b"), f"{label}:{name}", note
    finally:
        archive.close()
