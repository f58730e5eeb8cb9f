"""Reading training-loss logs: one entry point, :func:`read_logs`, one parser per format.

A log is a sequence of (step, loss[, lr]) records. The formats people have at hand:

* CSV/TSV (a header names the columns; the loss column is found by name or ``column=``, the step
  column by name or ``step_column=``; TensorBoard's "Wall time,Step,Value" export is a CSV too),
* JSON lines (one object a line, as :class:`condiag.trace.Logger` writes),
* Hugging Face ``trainer_state.json`` (its ``log_history``),
* TensorBoard event files (``events.out.tfevents.*``; see :mod:`condiag.trace.tfevents`),
* a plain file with one number a line, and standard input (``-``).

NaN and Inf losses are data (a run that blew up), never a reason to refuse the file; a file that is not
a log (no loss column, a non-numeric loss, a step that is not a number) is bad input, one line.
Several runs in one file (a ``run`` column, or a step counter that starts again) are separate logs.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

LOSS_NAMES = ("loss", "train_loss", "training_loss", "train/loss", "loss/train", "train_loss_step", "value", "objective")
"""Column names taken as the loss, in this order of preference (case-insensitive)."""
STEP_NAMES = ("step", "global_step", "iteration", "iter", "it", "steps", "trainer/global_step")
LR_NAMES = ("lr", "learning_rate", "learning-rate", "train/lr", "lr-sgd", "lr-adam")
RUN_NAMES = ("run", "run_id", "run_name", "name", "experiment")
SHARPNESS_NAMES = ("sharpness", "lambda_max", "hessian_max_eigenvalue")
NAN_TOKENS = {"nan": math.nan, "+nan": math.nan, "-nan": math.nan, "inf": math.inf, "+inf": math.inf,
              "infinity": math.inf, "+infinity": math.inf, "-inf": -math.inf, "-infinity": -math.inf}
MAX_RECORDS = 50_000_000
"""More records than this is not a loss log (a step a second for a year and a half)."""


@dataclass(frozen=True)
class LossLog:
    """One training run's loss, as logged.

    Attributes
    ----------
    label : str
        The name shown in reports (the file, and the run within it).
    steps : ndarray of float
        The optimizer step of each record (0, 1, 2, ... when the log has no step column), increasing.
    loss : ndarray of float
        The logged loss; NaN and ±inf kept as logged.
    lr : ndarray of float or None
        The learning rate of each record, when the log has one.
    sharpness : ndarray of float or None
        λmax of the Hessian at each record where logged (NaN elsewhere).
    notes : tuple of str
        What the reader assumed (which column is the loss, ...).
    """

    label: str
    steps: np.ndarray
    loss: np.ndarray
    lr: np.ndarray | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    sharpness: np.ndarray | None = None
    """λmax of the loss's Hessian where the log has it (NaN elsewhere): a ``sharpness`` column or key."""

    @property
    def n_records(self) -> int:
        return int(self.loss.size)


# ---------------------------------------------------------------------------- numbers
def _number(value, label: str, where: str) -> float:
    """A log value as float: numbers, numeric strings and the NaN/Inf spellings; anything else is bad input."""
    if isinstance(value, bool) or value is None:
        raise InputError(label, f"{where}: {value!r} is not a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        lowered = text.lower()
        if lowered in NAN_TOKENS:
            return NAN_TOKENS[lowered]
        try:
            return float(text)
        except ValueError:
            shown = text if len(text) <= 30 else text[:27] + "..."
            raise InputError(label, f"{where}: {shown!r} is not a number") from None
    raise InputError(label, f"{where}: a {type(value).__name__} is not a number")


def _pick(names, wanted: str | None, candidates, label: str, what: str, required: bool) -> str | None:
    """The column (key) to use: ``wanted`` if given (it must exist), else the first candidate name present."""
    lowered = {str(n).strip().lower(): n for n in names}
    if wanted is not None:
        if wanted in names:
            return wanted
        if wanted.strip().lower() in lowered:
            return lowered[wanted.strip().lower()]
        raise InputError(label, f"has no {what} column {wanted!r} (it has: {', '.join(map(str, names))})")
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    if required:
        raise InputError(label, f"has no {what} column (looked for {', '.join(candidates[:4])}, ...; it has: "
                                f"{', '.join(map(str, list(names)[:12]))})", f"name it with --{'column' if what == 'loss' else 'step-column'}")
    return None


# ---------------------------------------------------------------------------- assembling runs
def _runs_from_records(label: str, steps, losses, lrs, runs, notes, sharpness=None) -> list[LossLog]:
    """Split records into runs (by run name, or where the step counter starts again) and validate each."""
    steps = np.asarray(steps, dtype=float)
    losses = np.asarray(losses, dtype=float)
    lr = None if lrs is None else np.asarray(lrs, dtype=float)
    sharp = None if sharpness is None else np.asarray(sharpness, dtype=float)
    if losses.size == 0:
        raise InputError(label, "holds no loss records")
    if not np.all(np.isfinite(steps)):
        raise InputError(label, f"the step column holds {steps[~np.isfinite(steps)][0]} at record "
                                f"{int(np.flatnonzero(~np.isfinite(steps))[0]) + 1}")
    groups: list[tuple[str, np.ndarray]] = []
    if runs is not None:
        names = np.asarray(runs, dtype=object)
        for name in dict.fromkeys(names.tolist()):
            groups.append((f"{label} [{name}]", np.flatnonzero(names == name)))
    else:
        restarts = np.flatnonzero(np.diff(steps) <= 0) + 1  # a counter going back starts a new run
        bounds = [0, *restarts.tolist(), steps.size]
        if len(bounds) > 2:
            notes = (*notes, f"the step counter starts again {len(bounds) - 2} time(s): {len(bounds) - 1} runs")
        for k in range(len(bounds) - 1):
            index = np.arange(bounds[k], bounds[k + 1])
            name = label
            if len(bounds) > 2:
                run_lr = None if lr is None else lr[index]
                constant = run_lr is not None and bool(np.all(np.isfinite(run_lr))) and np.ptp(run_lr) == 0
                name = f"{label} [run {k + 1}" + (f", lr {run_lr[0]:g}]" if run_lr is not None and constant else "]")
            groups.append((name, index))
    logs = []
    for name, index in groups:
        s = steps[index]
        order = np.argsort(s, kind="stable")
        s, f = s[order], losses[index][order]
        if np.any(np.diff(s) == 0):
            dup = float(s[np.flatnonzero(np.diff(s) == 0)[0]])
            raise InputError(label, f"step {dup:g} appears twice in {name}", "one loss a step, or a run column to tell runs apart")
        run_lr = None if lr is None else lr[index][order]
        if run_lr is not None and not np.all(np.isfinite(run_lr) | np.isnan(run_lr)):
            raise InputError(label, "the learning-rate column holds an infinite value")
        if run_lr is not None and np.all(np.isnan(run_lr)):
            run_lr = None
        run_sharp = None if sharp is None else sharp[index][order]
        logs.append(LossLog(name, s, f, run_lr, tuple(notes), None if run_sharp is None or np.all(np.isnan(run_sharp)) else run_sharp))
    return logs


# ---------------------------------------------------------------------------- formats
def _read_table(text: str, label: str, fmt: str, column, step_column, lr_column, run_column) -> list[LossLog]:
    from ..io.delimited import sniff_delimiter

    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise InputError(label, "holds no loss records")
    delimiter = sniff_delimiter("\n".join(lines[:50]), fmt)

    def split(chunk):
        reader = csv.reader(chunk, delimiter=delimiter, skipinitialspace=delimiter == " ")
        try:
            return [[c for c in row if c != ""] if delimiter == " " else row for row in reader]
        except csv.Error as exc:
            raise InputError(label, f"is not a valid {fmt.upper()} table: {exc}") from None

    header = split(lines[:1])[0]
    numeric_header = all(_is_number_text(c) for c in header)
    table = None
    if not numeric_header and len(lines) > 1:
        table = _numeric_table(lines[1:], delimiter, len(header))
    rows = [header] if table is not None else split(lines)
    if numeric_header:
        if len(header) == 1:  # one number a line
            return _runs_from_records(label, np.arange(len(rows)), [_number(r[0] if r else "", label, f"line {i + 1}")
                                                                    for i, r in enumerate(rows)], None, None, ())
        if len(header) == 2 and column is None:  # step, loss without a header
            values = [(_number(r[0], label, f"line {i + 1}"), _number(r[1], label, f"line {i + 1}")) for i, r in enumerate(_check_width(rows, 2, label))]
            pair_steps, pair_losses = zip(*values)
            return _runs_from_records(label, pair_steps, pair_losses, None, None,
                                      ("no header: column 1 is the step, column 2 the loss",))
        raise InputError(label, f"has {len(header)} unnamed columns", "add a header naming the loss column, or use --column")
    names = [c.strip() for c in header]
    body = _check_width(rows[1:], len(names), label) if table is None else table
    loss_key = _pick(names, column, LOSS_NAMES, label, "loss", required=len(names) != 1)
    loss_key = loss_key if loss_key is not None else names[0]
    step_key = _pick(names, step_column, STEP_NAMES, label, "step", required=False)
    lr_key = _pick(names, lr_column, LR_NAMES, label, "learning-rate", required=False)
    run_key = _pick(names, run_column, RUN_NAMES, label, "run", required=False)
    sharp_key = _pick(names, None, SHARPNESS_NAMES, label, "sharpness", required=False)
    columns = table.T if table is not None else list(zip(*body)) if body else [() for _ in names]

    def numbers(key, blank_is_nan=False):
        cells = columns[names.index(key)]
        if table is not None:
            return cells
        if blank_is_nan:
            cells = [c if c.strip() else "nan" for c in cells]
        try:
            return np.array(cells, dtype=float)  # numpy's C conversion; the slow path below names a bad cell
        except ValueError:
            return np.array([_number(c, label, f"line {k + 2}, column {key!r}") for k, c in enumerate(cells)])

    losses = numbers(loss_key)
    steps = np.arange(len(body)) if step_key is None else numbers(step_key)
    lrs = None if lr_key is None else numbers(lr_key)
    runs = None if run_key is None else [c.strip() if isinstance(c, str) else f"{c:g}" for c in columns[names.index(run_key)]]
    sharp = None if sharp_key is None else numbers(sharp_key, blank_is_nan=True)
    notes = [f"loss: column {loss_key!r}"] + ([f"step: column {step_key!r}"] if step_key else ["no step column: records are steps 0, 1, 2, ..."])
    return _runs_from_records(label, steps, losses, lrs, runs, tuple(notes), sharp)


def _numeric_table(lines, delimiter: str, width: int):
    """The body as a float array through numpy's C parser when every cell is a number (NaN and Inf included);
    None otherwise (text cells, ragged rows: the careful reader then names the problem)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = np.loadtxt(lines, delimiter=None if delimiter == " " else delimiter, dtype=float, ndmin=2, comments=None)
    except ValueError:
        return None
    return table if table.shape[1] == width else None


def _check_width(rows, width: int, label: str):
    for k, row in enumerate(rows):
        if len(row) != width:
            raise InputError(label, f"row {k + 2} has {len(row)} fields, expected {width}", "check for ragged rows or stray delimiters")
    return rows


def _is_number_text(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in NAN_TOKENS:
        return True
    try:
        float(lowered)
    except ValueError:
        return False
    return True


def _records_from_objects(objects, label: str, column, step_column, lr_column, run_column, kind: str) -> list[LossLog]:
    """Logs from a list of JSON objects (JSON lines or a trainer_state's log_history): the records that have
    the loss key; the others (evaluation records, epoch summaries) are skipped and counted in the notes."""
    keys: dict[str, None] = {}
    for obj in objects:
        if not isinstance(obj, dict):
            raise InputError(label, f"{kind} holds a {type(obj).__name__} where a record object belongs")
        keys.update(dict.fromkeys(obj))
    names = list(keys)
    if not names:
        raise InputError(label, "holds no loss records")
    loss_key = _pick(names, column, LOSS_NAMES, label, "loss", required=True)
    step_key = _pick(names, step_column, STEP_NAMES, label, "step", required=False)
    lr_key = _pick(names, lr_column, LR_NAMES, label, "learning-rate", required=False)
    run_key = _pick(names, run_column, RUN_NAMES, label, "run", required=False)
    sharp_key = _pick(names, None, SHARPNESS_NAMES, label, "sharpness", required=False)
    steps: list[float] = []
    losses: list[float] = []
    lrs: list[float] = []
    runs: list[str] = []
    sharp: list[float] = []
    skipped = 0
    for k, obj in enumerate(objects):
        if loss_key not in obj:
            skipped += 1
            continue
        losses.append(_number(obj[loss_key], label, f"record {k + 1}, key {loss_key!r}"))
        steps.append(len(steps) if step_key is None or step_key not in obj else _number(obj[step_key], label, f"record {k + 1}, key {step_key!r}"))
        if lr_key is not None:
            lrs.append(_number(obj[lr_key], label, f"record {k + 1}, key {lr_key!r}") if lr_key in obj else math.nan)
        if run_key is not None:
            runs.append(str(obj.get(run_key, "")))
        if sharp_key is not None:
            sharp.append(_number(obj[sharp_key], label, f"record {k + 1}, key {sharp_key!r}") if sharp_key in obj else math.nan)
    notes = [f"loss: key {loss_key!r}"] + ([f"{skipped} records without it skipped (evaluation or summary records)"] if skipped else [])
    return _runs_from_records(label, steps, losses, lrs if lr_key else None, runs if run_key else None, tuple(notes),
                              sharp if sharp_key else None)


def _read_json(text: str, label: str, column, step_column, lr_column, run_column) -> list[LossLog]:
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n{" not in stripped.rstrip():
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise InputError(label, f"is not valid JSON: {exc}") from None
        if isinstance(document, dict) and "log_history" in document:  # Hugging Face trainer_state.json
            history = document["log_history"]
            if not isinstance(history, list):
                raise InputError(label, "its log_history is not a list")
            return _records_from_objects(history, label, column, step_column, lr_column, run_column, "log_history")
        return _records_from_objects([document], label, column, step_column, lr_column, run_column, "the document")
    if stripped.startswith("["):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise InputError(label, f"is not valid JSON: {exc}") from None
        return _records_from_objects(document, label, column, step_column, lr_column, run_column, "the list")
    objects = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            objects.append(json.loads(line))
        except (ValueError, RecursionError) as exc:
            raise InputError(label, f"line {number} is not a JSON object: {exc}") from None
    return _records_from_objects(objects, label, column, step_column, lr_column, run_column, "a line")


def _read_bytes(source: str, stdin) -> tuple[bytes, str]:
    """The whole file (or standard input) as bytes, refusing what cannot be a log or does not fit in memory."""
    from ..io import read_stream
    from ..memory import require_memory

    if source == "-":
        import sys

        stream = stdin if stdin is not None else (sys.stdin.buffer if sys.stdin is not None else None)
        if stream is None:
            raise InputError("<stdin>", "standard input is closed")
        return read_stream(stream, "<stdin>").getvalue(), "<stdin>"
    try:
        info = os.stat(source)
    except OSError as exc:
        raise InputError(source, "no such file" if exc.errno == 2 else f"cannot be opened: {exc.strerror}") from None
    import stat

    if stat.S_ISDIR(info.st_mode):
        raise InputError(source, "is a directory, not a log file")
    if not stat.S_ISREG(info.st_mode):
        with open(source, "rb") as stream:
            return read_stream(stream, source).getvalue(), source
    require_memory(info.st_size * 8, source, "the log's records")
    try:
        with open(source, "rb") as fh:
            return fh.read(), source
    except OSError as exc:
        raise InputError(source, f"cannot be read: {exc.strerror}") from None


def log_format(path: str, data: bytes, fmt: str | None) -> str:
    """The format of a log, from ``fmt``, the name, or the first bytes."""
    if fmt is not None:
        return fmt
    name = os.path.basename(path).lower()
    if "tfevents" in name:
        return "tfevents"
    for ending, kind in ((".tsv", "tsv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"), (".csv", "csv")):
        if name.endswith(ending):
            return kind
    head = data[:64].lstrip()
    if head[:1] in (b"{", b"["):
        return "json"
    return "csv"


def read_logs(source: str, *, column: str | None = None, step_column: str | None = None, lr_column: str | None = None,
              run_column: str | None = None, tag: str | None = None, fmt: str | None = None, stdin=None) -> list[LossLog]:
    """Read one log file (or ``-``, standard input) into one :class:`LossLog` per run it holds.

    Parameters
    ----------
    source : str
        A path, or ``-``.
    column, step_column, lr_column, run_column : str, optional
        Names of the loss, step, learning-rate and run columns (JSON keys); found by name when omitted.
    tag : str, optional
        TensorBoard: the scalar tag of the loss (default: the only tag, or one named like a loss).
    fmt : {'csv', 'tsv', 'jsonl', 'json', 'tfevents', 'txt'}, optional
        The format, when neither the name nor the content tells.
    """
    data, label = _read_bytes(source, stdin)
    kind = log_format(source, data, fmt)
    if b"\x00" in data[:4096] and kind not in ("tfevents",):
        raise InputError(label, "holds NUL bytes: it is not a text log", "TensorBoard event files are read by their name, events.out.tfevents.*")
    if tag is not None and kind != "tfevents":
        raise InputError(label, f"a tag names a TensorBoard scalar, and this is a {kind} log", "name its loss column instead")
    if kind == "tfevents":
        from .tfevents import read_scalars

        steps, values, used = read_scalars(data, label, tag)
        return _runs_from_records(label, steps, values, None, None, (f"loss: TensorBoard tag {used!r}",))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(label, f"is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise InputError(label, "is empty")
    if kind in ("json", "jsonl"):
        logs = _read_json(text, label, column, step_column, lr_column, run_column)
    else:
        logs = _read_table(text, label, "tsv" if kind == "tsv" else "csv", column, step_column, lr_column, run_column)
    if sum(log.n_records for log in logs) > MAX_RECORDS:
        raise InputError(label, f"holds more than {MAX_RECORDS:,} records")
    return logs


def log_from_values(loss, steps=None, lr=None, label: str = "log") -> LossLog:
    """A :class:`LossLog` from arrays in memory (the Python API's entry point)."""
    loss = np.asarray(loss, dtype=float).reshape(-1)
    steps = np.arange(loss.size, dtype=float) if steps is None else np.asarray(steps, dtype=float).reshape(-1)
    if steps.shape != loss.shape:
        raise ValueError(f"steps has {steps.size} entries, loss {loss.size}")
    lrs = None if lr is None else np.broadcast_to(np.asarray(lr, dtype=float), loss.shape)
    logs = _runs_from_records(label, steps, loss, lrs, None, ())
    if len(logs) != 1:
        raise ValueError("steps must increase")
    return logs[0]

