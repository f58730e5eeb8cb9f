"""``condiag trace``: the report over one or more runs, and its Python entry point :func:`diagnose`."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from ..notebook import NotebookView
from ..problem import starting_point
from .against import Comparison, compare_with_problem, comparison_findings
from .diagnosis import PlateauScaling, RunDiagnosis, diagnose_run, plateau_scaling
from .logs import LossLog, log_from_values, read_logs


@dataclass(frozen=True)
class TraceReport(NotebookView):
    """What condiag reads from the logs: one :class:`RunDiagnosis` per run, each with its comparison
    against the problem when one was given, and how plateau heights scale across runs."""

    runs: tuple[RunDiagnosis, ...]
    comparisons: tuple[Comparison | None, ...]
    scaling: PlateauScaling | None
    tol: float
    seconds: float

    @property
    def findings(self):
        """Every finding of every run, in run order."""
        return tuple(f for run in self.runs for f in run.findings)

    _figure = "trace_figure"

    def _render_text(self, console) -> None:
        from ..render.trace_text import render_trace

        render_trace(self, console, False)

    def to_dict(self) -> dict:
        """The report as ``condiag trace --json`` prints it."""
        from ..render.json_report import trace_json

        return trace_json(self)


def _as_logs(source, column, step_column, lr_column, run_column) -> list[LossLog]:
    if isinstance(source, LossLog):
        return [source]
    if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
        import os

        return read_logs(os.fspath(source), column=column, step_column=step_column, lr_column=lr_column, run_column=run_column)
    return [log_from_values(np.asarray(source, dtype=float))]


def diagnose(sources, *, lr: float | None = None, tol: float = 1e-6, problem=None, x0=None, x0_source: str | None = None,
             column: str | None = None, step_column: str | None = None, lr_column: str | None = None,
             run_column: str | None = None, progress=None) -> TraceReport:
    """Diagnose training runs from their loss logs (``condiag trace`` from Python).

    Parameters
    ----------
    sources : path, LossLog, array of losses, or a list of them
        Log files (any format :func:`condiag.trace.read_logs` reads), logs, or loss values one a step.
    lr : float, optional
        The learning rate (default: the log's own lr column where constant).
    tol : float
        Converged when the gap to the floor fell to ``tol`` of its start.
    problem : Problem, optional
        The problem the runs trained on: each log is then checked against gradient descent's closed-form
        curve at ``lr`` from ``x0`` (:mod:`condiag.trace.against`).
    x0 : array, optional
        The starting point (zeros by default).
    progress : callable, optional
        ``progress(label, runs_done, runs)`` after each run (the command line's progress bar).
    """
    started = time.perf_counter()
    if isinstance(sources, (list, tuple)) and not (sources and np.isscalar(sources[0])):
        items = list(sources)
    else:
        items = [sources]
    logs = [log for item in items for log in _as_logs(item, column, step_column, lr_column, run_column)]
    runs, comparisons = [], []
    for done, log in enumerate(logs):
        if progress is not None:
            progress("trace", done, len(logs))
        run = diagnose_run(log, lr=lr, tol=tol)
        comparison = None
        if problem is not None:
            if run.lr is None:
                raise ValueError("checking a log against a problem needs the lr (--lr, or an lr column in the log)")
            start = starting_point(x0, problem.n_cols)
            comparison = compare_with_problem(log, problem, run.lr, start, x0_source or ("zeros" if x0 is None else "given"), run.fit)
            run = replace(run, findings=tuple(comparison_findings(comparison, problem.n_samples)) + run.findings)
        runs.append(run)
        comparisons.append(comparison)
    return TraceReport(tuple(runs), tuple(comparisons), plateau_scaling(runs), tol, time.perf_counter() - started)
