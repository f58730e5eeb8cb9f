"""Reading problems from files: one entry point, :func:`load_problem`, one reader per format.

A problem spec is ``PATH[:KEY]``; when the whole string names an existing file it is a
path (so paths containing ``:`` work). ``-`` reads standard input, with ``fmt`` set.
"""

from __future__ import annotations

import io as _io
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from ..problem import Problem

FORMATS = ("npy", "npz", "csv", "tsv", "h5", "mtx", "mat")
EXTENSIONS = {
    ".npy": "npy",
    ".npz": "npz",
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "csv",
    ".h5": "h5",
    ".hdf5": "h5",
    ".hdf": "h5",
    ".mtx": "mtx",
    ".mm": "mtx",
    ".mat": "mat",
}
STDIN_FORMATS = ("npy", "npz", "csv", "tsv")


@dataclass
class ReadOptions:
    """Format options every reader may consult."""

    a_key: str | None = None
    b_key: str | None = None
    target: str | None = None
    header: bool | None = None  # None: detect
    allow_external: bool = False


@dataclass
class RawData:
    """What a reader found: a matrix, perhaps a vector, column names and notes."""

    matrix: Any
    vector: Any = None
    column_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    matrix_label: str = ""
    vector_label: str | None = None


def split_spec(spec: str) -> tuple[str, str | None]:
    """Split ``PATH[:KEY]``; a spec naming an existing file is all path."""
    if spec == "-" or os.path.exists(spec):
        return spec, None
    if ":" in spec:
        path, key = spec.rsplit(":", 1)
        if path and (os.path.exists(path) or not os.path.splitext(key)[1]):
            return path, key or None
    return spec, None


def detect_format(path: str, fmt: str | None) -> str:
    """The reader for a path: ``fmt`` if given, else the file extension."""
    if fmt is not None:
        fmt = fmt.lower().lstrip(".")
        if fmt == "hdf5":
            fmt = "h5"
        if fmt not in FORMATS:
            raise InputError(path, f"unknown format {fmt!r}", f"use one of {', '.join(FORMATS)}")
        return fmt
    if path == "-":
        raise InputError("<stdin>", "reading standard input needs --format", f"one of {', '.join(STDIN_FORMATS)}")
    ext = os.path.splitext(path)[1].lower()
    if ext not in EXTENSIONS:
        raise InputError(
            path,
            f"unknown file extension {ext or '(none)'!r}",
            "supported: .npy .npz .csv .tsv .h5 .hdf5 .mtx .mat, or pass --format",
        )
    return EXTENSIONS[ext]


STREAM_FRACTION = 0.25
"""A stream (stdin, a FIFO, ``<(cmd)``, a device) is read into memory up to this share of the
available memory; the parse that follows needs room of its own."""
STREAM_CHUNK = 1 << 20


MAGIC = {"npy": (b"\x93NUMPY",), "npz": (b"PK\x03\x04", b"PK\x05\x06")}
"""How the binary formats read from streams begin: a stream that starts otherwise is refused
after its first chunk instead of being read to the end (``/dev/zero --format npy``)."""


def _sniff(first: bytes, fmt: str | None, label: str) -> None:
    if fmt in MAGIC and not first.startswith(MAGIC[fmt]):
        raise InputError(label, f"does not begin like a .{fmt} file")
    if fmt in ("csv", "tsv") and b"\x00" in first:
        raise InputError(label, f"holds NUL bytes: it is not {fmt.upper()} text")


def read_stream(stream, label: str, fmt: str | None = None) -> _io.BytesIO:
    """Read a stream in chunks into memory, refusing it once it passes :data:`STREAM_FRACTION` of the
    available memory (``/dev/zero`` never ends; a pipe's size is not known in advance), or at
    once when its first chunk cannot begin a file of format ``fmt``. The chunks go straight into
    the returned buffer (no second copy at the end)."""
    from ..memory import available_memory_bytes, format_bytes

    cap = int(STREAM_FRACTION * available_memory_bytes())
    buffer, total = _io.BytesIO(), 0
    while True:
        try:
            chunk = stream.read(min(STREAM_CHUNK, cap + 1 - total))
        except OSError as exc:
            raise InputError(label, f"cannot be read: {exc.strerror or type(exc).__name__}") from None
        if isinstance(chunk, str):
            chunk = chunk.encode("utf-8")
        if not chunk:
            buffer.seek(0)
            return buffer
        if not total:
            _sniff(chunk, fmt, label)
        buffer.write(chunk)
        total += len(chunk)
        if total > cap:
            raise InputError(label, f"is a stream longer than {format_bytes(cap)} (a quarter of the available memory)",
                             "save it to a file; large .npy/HDF5 files are streamed from disk")


def _open_source(path: str, fmt: str, stdin=None):
    """A path, or for ``-`` and other streams (FIFOs, devices) an in-memory copy; and the label for messages."""
    import stat

    if path == "-":
        if fmt not in STDIN_FORMATS:
            raise InputError("<stdin>", f"format {fmt} cannot be read from standard input", "save it to a file")
        if stdin is None and sys.stdin is None:
            raise InputError("<stdin>", "standard input is closed")
        stream = stdin if stdin is not None else sys.stdin.buffer
        return read_stream(stream, "<stdin>", fmt), "<stdin>"
    try:
        info = os.stat(path)
    except OSError as exc:
        import errno

        reasons = {errno.ENOENT: "no such file", errno.ELOOP: "is a loop of symbolic links",
                   errno.EACCES: "is not readable (permission denied)", errno.ENAMETOOLONG: "has a name that is too long",
                   errno.ENOTDIR: "no such file (a part of the path is not a folder)"}
        raise InputError(path, reasons.get(exc.errno or 0, f"cannot be opened: {exc.strerror}")) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(path, "is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise InputError(path, "is not readable (permission denied)")
    if not stat.S_ISREG(info.st_mode):  # a FIFO, <(cmd) or a device: read once, with a cap, then parse from memory
        try:
            with open(path, "rb") as stream:
                return read_stream(stream, path, fmt), path
        except OSError as exc:
            raise InputError(path, f"cannot be read: {exc.strerror}") from None
    return path, path


READERS = {"npy": "numpy_files", "npz": "numpy_files", "csv": "delimited", "tsv": "delimited", "h5": "hdf5",
           "mtx": "matrix_market", "mat": "matlab"}
"""Format → the module that reads it (imported on first use: h5py and scipy.io load only when needed)."""


def _reader(fmt: str):
    import importlib

    return importlib.import_module(f".{READERS[fmt]}", __name__)


def read_matrix(spec: str, options: ReadOptions, fmt: str | None = None, stdin=None) -> RawData:
    """Read A (and b, when the same file holds it) from a spec."""
    path, key = split_spec(spec)
    fmt = detect_format(path, fmt)
    source, label = _open_source(path, fmt, stdin)
    if key is not None and options.a_key is None:
        options = ReadOptions(**{**options.__dict__, "a_key": key})
    raw = _guarded(label, fmt, _reader(fmt).read_matrix, source, label, fmt, options)
    if not raw.matrix_label:
        raw.matrix_label = label
    return raw


def read_vector(spec: str, options: ReadOptions, fmt: str | None = None, stdin=None):
    """Read the right-hand side b named by ``--rhs``; returns (vector, label, note)."""
    path, key = split_spec(spec)
    fmt = detect_format(path, fmt if path == "-" else None)
    source, label = _open_source(path, fmt, stdin)
    return _guarded(label, fmt, _reader(fmt).read_vector, source, label, fmt, key, options)


def _guarded(label: str, fmt: str, reader, *args):
    """Call a reader; any failure other than our own InputError is a property of the file: one line, exit 3."""
    try:
        return reader(*args)
    except InputError:
        raise
    except MemoryError:
        raise InputError(label, "does not fit in the available memory") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is a property of the file
        raise InputError(label, f"cannot be read as {fmt}: {_short(exc)}") from exc


def _short(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return f"{type(exc).__name__}: {text[:200]}"


def load_problem(
    spec: str,
    rhs: str | None = None,
    *,
    loss: str = "sum",
    objective: str = "least-squares",
    intercept: bool = False,
    ridge: float = 0.0,
    a_key: str | None = None,
    b_key: str | None = None,
    target: str | int | None = None,
    header: bool | None = None,
    fmt: str | None = None,
    allow_external: bool = False,
    stdin=None,
) -> Problem:
    """Load and validate a problem.

    Parameters
    ----------
    spec : str
        ``PATH[:KEY]`` of A (or Q for the quadratic objective); ``-`` for stdin.
    rhs : str, optional
        ``PATH[:KEY]`` of b when it is not in the same file.
    loss, objective, intercept, ridge
        Stored on the :class:`~condiag.problem.Problem`; see its docstring.
    a_key, b_key : str, optional
        Names of A and b inside an npz, HDF5 or MAT file.
    target : str or int, optional
        CSV/TSV column (name or 0-based index, negative allowed) holding b.
    header : bool, optional
        CSV header: None detects it, False forces none.
    fmt : str, optional
        Format override (required for ``-``).
    allow_external : bool
        Allow HDF5 external links and virtual datasets that point to other files.

    Raises
    ------
    InputError
        For every malformed, hostile or inconsistent input (exit code 3).
    """
    options = ReadOptions(
        a_key=a_key,
        b_key=b_key,
        target=None if target is None else str(target),
        header=header,
        allow_external=allow_external,
    )
    raw = read_matrix(spec, options, fmt=fmt, stdin=stdin)
    notes = list(raw.notes)
    vector, rhs_label = raw.vector, raw.vector_label
    if rhs is not None:
        vector, rhs_label, note = read_vector(rhs, options, fmt=fmt, stdin=stdin)
        if note:
            notes.append(note)
    return Problem.create(
        raw.matrix,
        vector,
        loss=loss,
        objective=objective,
        ridge=ridge,
        intercept=intercept,
        source=raw.matrix_label,
        rhs_source=rhs_label,
        column_names=raw.column_names,
        notes=notes,
    )
