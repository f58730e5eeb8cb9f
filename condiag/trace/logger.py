"""A loss logger for a training loop, writing the JSON lines ``condiag trace`` reads."""

from __future__ import annotations

import json


class Logger:
    """Append one JSON object a step: ``{"step": ..., "loss": ..., "lr": ...}`` plus any extra numbers.

    Examples
    --------
    >>> with condiag.trace.Logger("run.jsonl") as log:          # doctest: +SKIP
    ...     for step in range(1000):
    ...         loss = train_step()
    ...         log.log(step, loss, lr=optimizer.param_groups[0]["lr"])

    Then ``condiag trace run.jsonl`` diagnoses the run. Every line is flushed, so the file can be read while
    training goes on; NaN and infinite losses are written as ``NaN`` / ``Infinity``, which the reader takes
    as data.

    Parameters
    ----------
    path : str or path-like
        The file (created, or appended to with ``append=True``).
    every : int
        Write every ``every``-th call only (a cheap way to thin a long run; keep it odd, or 1, to see a
        period-2 oscillation).
    """

    def __init__(self, path, *, every: int = 1, append: bool = False):
        if every < 1:
            raise ValueError("every must be a positive integer")
        self.every = int(every)
        self.calls = 0
        self._file = open(path, "a" if append else "w", encoding="utf-8")

    def log(self, step: int, loss, lr=None, **extra) -> None:
        """Record ``loss`` (a float, or a 0-d tensor: ``float()`` is taken) at optimizer ``step``."""
        self.calls += 1
        if (self.calls - 1) % self.every:
            return
        record = {"step": int(step), "loss": float(loss)}
        if lr is not None:
            record["lr"] = float(lr)
        for key, value in extra.items():
            record[key] = float(value)
        self._file.write(json.dumps(record, allow_nan=True) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "Logger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

