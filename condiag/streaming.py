"""Tall dense matrices bigger than memory: a streamed tall-skinny QR, block by block.

With [A | b] = Q [[R, z], [0, rho]] (R: d x d upper triangular, z = Q₁ᵀb, |rho| = the part of b
outside range(A)), every quantity condiag computes is a function of (R, z, rho) alone:

    ||A x - b||² = ||R x - z||² + rho²,   AᵀA = RᵀR,   Aᵀb = Rᵀz,

so the problem is replaced, exactly, by the (d + 1) x d problem A' = [R; 0], b' = [z; rho], with
the original row count kept for the loss convention (mean = 1/n). Singular values and right
singular vectors of A are those of R; the loss, gradient and Hessian of every full-batch method
are unchanged, so analyze and compare (except row-sampling SGD) run on the reduced problem.

The factor is accumulated as R_k = qr([R_{k-1}; block_k]) (Demmel, Grigori, Hoemmen & Langou,
"Communication-optimal parallel and sequential QR", SIAM J. Sci. Comput. 2012: sequential TSQR).
Blocks are read from HDF5 datasets or memory-mapped .npy files; peak memory is about four times
one block of rows plus R.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError
from .memory import available_memory_bytes, format_bytes

DEFAULT_SHARE = 0.5


@dataclass
class RowSource:
    """Rows of a dense on-disk matrix (or vector), read in blocks without loading the whole."""

    label: str
    shape: tuple
    dtype: np.dtype
    read: Any
    """read(start, stop) -> ndarray of those rows."""
    close: Any = None


def default_memory_limit() -> int:
    """Half of the memory available now."""
    return int(DEFAULT_SHARE * available_memory_bytes())


def parse_memory(text: str | None) -> int | None:
    """'512M', '2G', '1e9' -> bytes."""
    if text is None:
        return None
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    value = text.strip().lower().rstrip("ib").rstrip("b")
    factor = 1
    if value and value[-1] in units:
        factor, value = units[value[-1]], value[:-1]
    from .errors import UsageError

    try:
        size = float(value) * factor
    except ValueError:
        raise UsageError(f"memory_limit {text!r}: expected a size such as 512M or 2G", option="memory_limit") from None
    if not math.isfinite(size) or size < 1:
        raise UsageError(f"memory_limit {text!r}: expected a positive, finite size such as 512M or 2G", option="memory_limit")
    return int(size)


def open_rows(spec: str, allow_external: bool = False) -> RowSource | None:
    """A RowSource for a dense .npy or HDF5 dataset spec, or None for any other input."""
    from .io import detect_format, split_spec

    path, key = split_spec(spec)
    if path == "-" or not os.path.isfile(path):
        return None
    fmt = detect_format(path, None)
    if fmt == "npy":
        from .io.numpy_files import check_npy_file

        shape, dtype = check_npy_file(path)
        if dtype.kind not in "biuf" or len(shape) not in (1, 2):
            return None
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        if array.flags["F_CONTIGUOUS"] and array.ndim == 2 and array.shape[1] > 1:
            # rows are strided in a Fortran-ordered file: read them through the mapping
            return RowSource(path, tuple(array.shape), array.dtype, lambda a, b: np.asarray(array[a:b], dtype=np.float64))
        return _npy_rows(path, tuple(array.shape), array.dtype, int(array.offset))
    if fmt == "h5":
        import h5py

        handle = h5py.File(path, "r")
        if key is None:
            names = []
            handle.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) and obj.ndim == 2 else None)
            if len(names) != 1:
                handle.close()
                return None
            key = names[0]
        from .io.hdf5 import resolve

        try:
            dataset = resolve(handle, key, path, allow_external)
        except BaseException:
            handle.close()
            raise
        if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "biuf" or dataset.ndim not in (1, 2):
            handle.close()
            return None
        if (dataset.is_virtual or dataset.external) and not allow_external:
            handle.close()
            return None  # the regular loader refuses it with the target named
        return RowSource(f"{path}:{key}", tuple(dataset.shape), dataset.dtype,
                         lambda a, b: np.asarray(dataset[a:b], dtype=np.float64), handle.close)
    return None


def _npy_rows(path: str, shape: tuple, dtype: np.dtype, offset: int) -> RowSource:
    """Row blocks of a C-ordered .npy read with positional reads (os.pread) into a fresh buffer each time.

    A memory mapping would do the same work, but every page it touches stays mapped into the process and
    counts in its resident memory until the mapping closes: a 763 MiB matrix streamed under --memory-limit
    200M showed 937 MiB resident. Read pages go to the page cache instead, which the kernel reclaims, and
    are dropped from it (POSIX_FADV_DONTNEED) once a block is converted.
    """
    row_bytes = dtype.itemsize * (shape[1] if len(shape) == 2 else 1)
    fd = os.open(path, os.O_RDONLY)

    def read(start: int, stop: int) -> np.ndarray:
        count = (stop - start) * row_bytes
        position = offset + start * row_bytes
        data = bytearray(count)
        view = memoryview(data)
        done = 0
        while done < count:
            if hasattr(os, "preadv"):
                got = os.preadv(fd, [view[done:]], position + done)
            else:  # platforms without preadv: a copy per read
                chunk = os.pread(fd, count - done, position + done)
                view[done : done + len(chunk)] = chunk
                got = len(chunk)
            if got == 0:
                raise InputError(path, f"ends before row {stop:,}, which its header declares", "the file is truncated")
            done += got
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, position, count, os.POSIX_FADV_DONTNEED)
        rows = np.frombuffer(data, dtype=dtype)
        rows = rows.reshape(stop - start, shape[1]) if len(shape) == 2 else rows
        return rows.astype(np.float64)

    return RowSource(path, shape, dtype, read, lambda: os.close(fd))


def needs_streaming(source: RowSource, memory_limit: int) -> bool:
    """Whether A as float64 (and its decomposition workspace) exceeds the memory limit."""
    n = source.shape[0]
    d = source.shape[1] if len(source.shape) == 2 else 1
    return 8.0 * n * d * 2 > memory_limit


def tsqr(source: RowSource, rhs: RowSource | None, memory_limit: int, intercept: bool = False):
    """Stream [A (1) b] in row blocks; returns (R_aug (d+1) x (d+1), n, blocks read); d counts the intercept column."""
    from .spectrum import RowBlockQR

    n, d = source.shape
    d_data = d
    d = d + (1 if intercept else 0)
    if rhs is not None and rhs.shape[0] != n:
        raise InputError(rhs.label, f"b has {rhs.shape[0]} entries but A has {n} rows", "b needs one entry per row of A")
    width = d + 1
    block = int(max(width, memory_limit // (8 * width * 4)))
    if 8 * (width * width + 4 * block * width) > memory_limit and block <= width:
        raise InputError(source.label, f"a {width}-column TSQR needs more than --memory-limit {format_bytes(memory_limit)}",
                         "raise --memory-limit")
    qr = RowBlockQR(width, block)
    blocks = 0
    for start in range(0, n, block):
        stop = min(start + block, n)
        rows = source.read(start, stop)
        if rows.ndim == 1:
            rows = rows[:, None]
        if not np.all(np.isfinite(rows)):
            bad = np.argwhere(~np.isfinite(rows))[0]
            raise InputError(source.label, f"has NaN/Inf values, the first at A[{start + bad[0]}, {bad[1]}]", "remove or impute them")
        b_rows = rhs.read(start, stop).reshape(-1) if rhs is not None else np.zeros(stop - start)
        if rhs is not None and not np.all(np.isfinite(b_rows)):  # (zeros when there is no b)
            raise InputError(rhs.label, "has NaN/Inf values", "remove or impute them")
        qr.add(rows, b_rows, intercept)
        del rows, b_rows
        blocks += 1
    return qr.R, n, blocks


def load_streamed(spec: str, rhs: str | None, memory_limit: int, *, loss="sum", objective="least-squares", ridge=0.0,
                  intercept=False, allow_external=False, column_names=None):
    """The exactly equivalent reduced problem of a matrix too large for the memory limit (see the module docstring)."""

    source = open_rows(spec, allow_external)
    if source is None:
        return None
    if objective != "least-squares":
        raise InputError(source.label, "is larger than --memory-limit; streaming supports the least-squares objective only")
    rhs_source = open_rows(rhs, allow_external) if rhs else None
    if rhs and rhs_source is None:
        raise InputError(rhs, "cannot be streamed: b of a streamed problem must be a .npy file or an HDF5 dataset")
    if len(source.shape) != 2:
        raise InputError(source.label, f"A must be a 2-D matrix, got shape {source.shape}")
    try:
        R_aug, n, blocks = tsqr(source, rhs_source, memory_limit, intercept)
    finally:
        for s in (source, rhs_source):
            if s is not None and s.close:
                s.close()
    d = source.shape[1] + (1 if intercept else 0)
    if intercept:
        column_names = [f"x[{i}]" for i in range(d - 1)] + ["intercept"]
    note = (f"streamed: {n:,} x {d} ({format_bytes(8.0 * n * d)} as float64) read in {blocks} row blocks under "
            f"--memory-limit {format_bytes(memory_limit)} and reduced exactly by TSQR to its R factor")
    return reduced_problem(R_aug, n, has_rhs=rhs_source is not None, loss=loss, ridge=ridge, source=source.label,
                           rhs_source=rhs_source.label if rhs_source else None, column_names=column_names, note=note)


def reduced_problem(R_aug: np.ndarray, n: int, *, has_rhs: bool, loss: str, ridge: float, source: str, rhs_source: str | None,
                    column_names, note: str):
    """The exactly equivalent problem A' = [R; 0], b' = [z; rho] of the TSQR factor R_aug = [[R, z], [0, rho]].

    A factor with fewer rows than columns (fewer data rows than d + 1) is padded with zero rows; the
    original row count n is kept for the loss convention.
    """
    from .problem import Problem

    width = R_aug.shape[1]
    if R_aug.shape[0] < width:
        R_aug = np.vstack([R_aug, np.zeros((width - R_aug.shape[0], width))])
    d = width - 1
    A_reduced = np.vstack([R_aug[:d, :d], np.zeros((1, d))])
    b_reduced = np.concatenate([R_aug[:d, d], [R_aug[d, d]]]) if has_rhs else None
    return Problem.create(A_reduced, b_reduced, loss=loss, ridge=ridge, source=source, rhs_source=rhs_source,
                          column_names=column_names, notes=(note,), sample_count=n)


def maybe_streamed(spec: str, rhs: str | None, memory_limit: int | None, **options):
    """The reduced problem when ``spec`` is a dense .npy/HDF5 matrix too large for the limit, else None."""
    limit = memory_limit if memory_limit is not None else default_memory_limit()
    try:
        source = open_rows(spec, options.get("allow_external", False))
    except InputError:
        return None  # the regular loader reports the problem with the file
    except Exception:  # noqa: BLE001 - unreadable here: let the regular loader say why
        return None
    if source is None:
        return None
    big = len(source.shape) == 2 and needs_streaming(source, limit)
    if source.close:
        source.close()
    if not big:
        return None
    return load_streamed(spec, rhs, limit, **options)
