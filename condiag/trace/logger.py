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
    sharpness_every : int, optional
        With ``model`` and ``loss_fn`` (PyTorch): every this many written records, also the sharpness λmax of
        the Hessian of ``loss_fn()`` by Lanczos on Hessian-vector products (:func:`condiag.trace.sharpness`),
        with its residual; ``condiag trace`` then reports it against 2/lr.
    model, loss_fn :
        The ``torch.nn.Module`` and a function of no arguments returning its loss on a fixed probe batch.
    """

    def __init__(self, path, *, every: int = 1, append: bool = False, sharpness_every: int | None = None, model=None,
                 loss_fn=None):
        if every < 1:
            raise ValueError("every must be a positive integer")
        if sharpness_every is not None and (sharpness_every < 1 or model is None or loss_fn is None):
            raise ValueError("sharpness_every needs a positive count, the model and loss_fn")
        self.every = int(every)
        self.sharpness_every = sharpness_every
        self.model, self.loss_fn = model, loss_fn
        self.calls = 0
        self.written = 0
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
        if self.sharpness_every is not None and self.written % self.sharpness_every == 0:
            from .sharpness import sharpness

            found = sharpness(self.model, self.loss_fn)
            record["sharpness"], record["sharpness_residual"] = found.value, found.residual
        self.written += 1
        self._file.write(json.dumps(record, allow_nan=True) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "Logger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

