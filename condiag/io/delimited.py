"""Reader for CSV and TSV text tables.

The header is detected (a first row with a non-numeric cell) unless ``header=False``;
``--target COL`` (a name or a 0-based index, negative allowed) takes b from one
column and the rest form A; without it, a column named ``b`` or ``y`` is taken as b.
Reads are bounded: lines longer than :data:`MAX_LINE_CHARS` and tables whose
float64 size exceeds the available memory are refused, and values are stored
row by row in a compact buffer.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import warnings
from array import array

import numpy as np

from ..errors import InputError
from ..memory import require_memory

MAX_LINE_CHARS = 32 * 1024 * 1024
MAX_COLUMNS = 1_000_000
TARGET_NAMES = ("b", "y")


class _BoundedLines:
    """Iterates text lines, refusing any longer than the limit (bounded memory)."""

    def __init__(self, stream, label: str):
        self.stream = stream
        self.label = label
        self.line = 0

    def __iter__(self):
        return self

    def __next__(self):
        line = self.stream.readline(MAX_LINE_CHARS + 1)
        if not line:
            raise StopIteration
        self.line += 1
        if len(line) > MAX_LINE_CHARS:
            raise InputError(
                self.label,
                f"line {self.line} is longer than {MAX_LINE_CHARS // (1024 * 1024)} MiB",
                "is this really a CSV table?",
            )
        return line


CHUNK_CHARS = 1 << 20
"""The fast path reads this many characters at a time and splits them into lines in C."""


def _chunked_lines(stream, label: str):
    """The lines of ``stream`` (each ending in its ``\\n``, the last possibly without), read :data:`CHUNK_CHARS` at a
    time and split by ``str.split``: one Python step per line instead of a ``readline`` call, with the same bound on
    a line's length (a line is held only up to :data:`MAX_LINE_CHARS` plus one chunk; a longer one raises ValueError,
    and the careful reader then names it). Only ``\\n`` ends a line here; a table with bare ``\\r`` endings reaches
    numpy as one long line, which it refuses, and the careful reader then reads it with :class:`_BoundedLines`."""
    carry = ""
    while True:
        chunk = stream.read(CHUNK_CHARS)
        if not chunk:
            break
        parts = (carry + chunk).split("\n")
        carry = parts.pop()
        if len(carry) > MAX_LINE_CHARS or (parts and max(map(len, parts)) >= MAX_LINE_CHARS):
            raise ValueError(f"{label}: a line is longer than {MAX_LINE_CHARS} characters")
        yield from map(str.__add__, parts, itertools.repeat("\n"))
    if carry:
        yield carry


def _text_stream(source, label: str):
    if isinstance(source, (str, os.PathLike)):
        size = os.path.getsize(source)
        raw = open(source, "rb")
    else:
        raw = source
        raw.seek(0, os.SEEK_END)
        size = raw.tell()
        raw.seek(0)
    # A number takes at least 2 characters with its separator; each becomes 8 bytes.
    require_memory(size * 4, label, "the table, as float64,")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""), size


def sniff_delimiter(sample: str, fmt: str) -> str:
    if fmt == "tsv":
        return "\t"
    counts = {d: sample.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return " "
    return best


def _parse_cell(cell: str, label: str, line: int, col: int) -> float:
    text = cell.strip()
    if not text:
        raise InputError(label, f"empty cell at line {line}, column {col + 1}", "fill or drop missing values")
    try:
        value = float(text)
    except ValueError:
        try:
            complex(text.replace("i", "j").replace(" ", ""))  # parses: a complex number, not a typo
        except ValueError:
            shown = text if len(text) <= 30 else text[:27] + "..."
            raise InputError(label, f"non-numeric cell {shown!r} at line {line}, column {col + 1}") from None
        raise InputError(
            label,
            f"complex number {text!r} at line {line}, column {col + 1}; condiag handles real problems",
        ) from None
    if not np.isfinite(value):
        raise InputError(label, f"{text} at line {line}, column {col + 1}", "remove or impute NaN/Inf values")
    return value


def _is_numeric(cell: str) -> bool:
    try:
        float(cell.strip())
    except ValueError:
        return False
    return True


def _read_with_loadtxt(stream, label: str, delimiter: str, header: bool | None):
    """The fast path: numpy's C parser on a well-formed table, fed through the same bounded line reader.

    Returns (values, names), or None when anything is irregular (comments, blank cells, ragged rows, quotes
    that need the csv module, a non-number): the careful reader then parses the file again and names the
    line and cell at fault. The header is recognised on the first non-blank line, as the careful reader does.
    """
    lines = _chunked_lines(stream, label)
    first = None
    try:
        for line in lines:
            if line.strip():
                first = line
                break
    except ValueError:  # an over-long line or a byte that is not UTF-8: the careful reader says which
        return None
    if first is None or first.lstrip().startswith("#") or "\r" in first.rstrip("\r\n"):
        return None  # a comment, or bare carriage returns ending lines (the careful reader's csv module splits them)
    cells = next(csv.reader([first], delimiter=delimiter, skipinitialspace=delimiter == " "))
    if delimiter == " ":
        cells = [c for c in cells if c != ""]
    if len(cells) > MAX_COLUMNS:
        return None  # the careful reader refuses it with the reason
    names = None
    if header is not False and not all(_is_numeric(c) for c in cells):
        names = [c.strip() for c in cells]
    rows = lines if names is not None else itertools.chain([first], lines)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an empty input warns; treat it as irregular
            table = np.loadtxt(rows, delimiter=None if delimiter == " " else delimiter, comments=None, dtype=np.float64,
                               ndmin=2, quotechar='"')
    except (ValueError, UserWarning):
        return None
    if table.shape[0] == 0 or table.shape[1] != len(cells) or not np.isfinite(table).all():
        return None
    return table, names


def read_table(source, label: str, fmt: str, header: bool | None):
    """Parse the table: returns (values as a 2-D float64 array, column names or None)."""
    stream, _size = _text_stream(source, label)
    try:
        try:
            sample = stream.read(64 * 1024)
        except UnicodeDecodeError as exc:
            raise InputError(label, f"is not UTF-8 text (byte {exc.start})") from None
        stream.seek(0)
        delimiter = sniff_delimiter(sample, fmt)
        fast = _read_with_loadtxt(stream, label, delimiter, header)
        if fast is not None:
            return fast
        stream.seek(0)
        lines = _BoundedLines(stream, label)
        reader = csv.reader(lines, delimiter=delimiter, skipinitialspace=delimiter == " ")
        values = array("d")
        row_lines = array("q")  # the file line of each data row, for messages
        names = None
        n_cols = None
        n_rows = 0
        try:
            for row in reader:
                if delimiter == " ":
                    row = [c for c in row if c != ""]
                if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
                    continue
                if n_cols is None:
                    if len(row) > MAX_COLUMNS:
                        raise InputError(label, f"has {len(row)} columns, more than condiag reads ({MAX_COLUMNS})")
                    n_cols = len(row)
                    if header is not False and not all(_is_numeric(c) for c in row):
                        names = [c.strip() for c in row]
                        continue
                if len(row) != n_cols:
                    raise InputError(
                        label,
                        f"line {lines.line} has {len(row)} fields, expected {n_cols} like the first row",
                        "check for ragged rows or stray delimiters",
                    )
                try:
                    values.extend(map(float, row))  # the fast path; float() ignores surrounding whitespace
                except ValueError:
                    del values[n_rows * n_cols:]
                    for col, cell in enumerate(row):  # the slow path names the cell that failed
                        values.append(_parse_cell(cell, label, lines.line, col))
                row_lines.append(lines.line)
                n_rows += 1
        except csv.Error as exc:
            raise InputError(label, f"is not a valid {fmt.upper()} table at line {lines.line}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise InputError(label, f"is not UTF-8 text (near line {lines.line + 1})") from exc
    finally:
        stream.detach() if not isinstance(source, (str, os.PathLike)) else stream.close()
    if n_rows == 0 or not n_cols:
        raise InputError(label, "holds no data rows")
    table = np.frombuffer(values, dtype=np.float64).reshape(n_rows, n_cols)  # shares the array's memory: no copy
    finite = np.isfinite(table)
    if not finite.all():
        bad_row, bad_col = (int(i) for i in np.argwhere(~finite)[0])
        raise InputError(label, f"{table[bad_row, bad_col]} at line {row_lines[bad_row]}, column {bad_col + 1}",
                         "remove or impute NaN/Inf values")
    return table, names


def _target_index(target: str | None, names, n_cols: int, label: str) -> int | None:
    if target is None:
        if names:
            lowered = [n.lower() for n in names]
            hits = [i for i, n in enumerate(lowered) if n in TARGET_NAMES]
            if len(hits) == 1 and n_cols > 1:
                return hits[0]
        return None
    if target.lower() == "none":
        return None
    if names and target in names:
        if names.count(target) > 1:
            raise InputError(label, f"has {names.count(target)} columns named {target!r}", "pass the index instead")
        return names.index(target)
    try:
        index = int(target)
    except ValueError:
        shown = ", ".join(names[:20]) if names else "the file has no header"
        raise InputError(label, f"has no column named {target!r} (columns: {shown})") from None
    if not -n_cols <= index < n_cols:
        raise InputError(label, f"has {n_cols} columns; --target {index} is out of range")
    return index % n_cols


def read_matrix(source, label: str, fmt: str, options):
    from . import RawData

    if options.a_key:
        raise InputError(label, f"a {fmt.upper()} table has no keys (got {options.a_key!r})", "use --target for b")
    table, names = read_table(source, label, fmt, options.header)
    n_cols = table.shape[1]
    target = _target_index(options.target, names, n_cols, label)
    notes = []
    if target is None:
        return RawData(matrix=table, column_names=names)
    if n_cols < 2:
        raise InputError(label, "has a single column, so nothing is left for A once b is taken", "drop --target")
    keep = [i for i in range(n_cols) if i != target]
    column_names = [names[i] for i in keep] if names else None
    b_label = names[target] if names else f"column {target}"
    if options.target is None:
        notes.append(f"b taken from column {b_label!r} (use --target to choose another, --target none for none)")
    return RawData(
        matrix=table[:, keep],
        vector=table[:, target],
        column_names=column_names,
        notes=notes,
        vector_label=f"{label}:{b_label}",
    )


def read_vector(source, label: str, fmt: str, key: str | None, options):
    table, names = read_table(source, label, fmt, options.header)
    if key is not None:
        index = _target_index(key, names, table.shape[1], label)
        return table[:, index], f"{label}:{key}", None
    if table.shape[1] != 1:
        raise InputError(label, f"has {table.shape[1]} columns; b must be one", "pick one with --rhs FILE:COLUMN")
    return table[:, 0], label, None
