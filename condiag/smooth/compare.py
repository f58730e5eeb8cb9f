"""``condiag compare --function FILE.py:NAME``: the solvers people run, from the same x0, judged against the best
local minimum any of them (or the gradient flow from x0) found — which is local: a smooth non-convex function
has no certificate of a global minimum.

Learning rates: ``--lr`` for every first-order solver; without it gradient descent, heavy ball and Nesterov
take 1/λmax(∇²f(x0)) (half the local limit 2/λmax at the start: the curvature may grow along the way) and
Adam its PyTorch default 1e-3. Newton takes full steps (η = 1); L-BFGS is scipy's, its line search choosing
the steps.

A solver **reached the best minimum** when it ended at a local minimum within tol·(f(x0) − f_best) of f_best;
otherwise it is reported as ending at another local minimum, a saddle, a maximum, in a cycle, diverging, or
not converged within ``--max-iter``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import UsageError
from ..notebook import NotebookView
from ..user_code import load_callable
from .descent import Basin, Ending, Path, gradient_flow, lbfgs, run
from .function import SmoothFunction
from .report import same_point

SOLVERS = ("gd", "momentum", "nesterov", "adam", "newton", "lbfgs")
DEFAULT_SOLVERS = ("gd", "momentum", "adam", "newton", "lbfgs")
REACHED = "reached"
"""The status of a run that ended at the best local minimum found (within tol of its value)."""
ADAM_DEFAULT_LR = 1e-3
"""torch.optim.Adam's default learning rate."""


@dataclass(frozen=True)
class Verdict:
    """How one solver's run compares with the best local minimum found."""

    status: str
    """'reached' (the best minimum found), 'another minimum', or the run's own ending ('saddle', 'cycle', ...)."""
    gap: float | None
    """f(x_T) − f_best (None without a best)."""
    distance: float | None
    """‖x_T − x_best‖."""


@dataclass(frozen=True)
class FunctionComparison(NotebookView):
    function: SmoothFunction
    source: str
    x0: np.ndarray
    x0_source: str
    tol: float
    max_iter: int
    runs: tuple[Path, ...]
    verdicts: tuple[Verdict, ...]
    lr_sources: tuple[str, ...]
    """Where each run's step size came from ('--lr', '1/λmax at x0', 'torch default', ...)."""
    basin: Basin | None
    best: Ending | None
    best_by: str
    best_note: str
    """What the best point is: 'the lowest local minimum the runs found: local, not certified global', or the
    reference's own statement (the exact minimiser of a convex problem)."""
    start_value: float
    seconds: float

    @property
    def paths(self) -> tuple[Path, ...]:
        return self.runs

    _figure = "function_figure"

    def _render_text(self, console) -> None:
        from ..render.function_text import render_function_comparison

        render_function_comparison(self, console)

    def to_dict(self) -> dict:
        from ..render.json_report import function_comparison_json

        return function_comparison_json(self)


def parse_function_solvers(text: str | None) -> tuple[str, ...]:
    if not text:
        return DEFAULT_SOLVERS
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if names == ("all",):
        return SOLVERS
    unknown = [n for n in names if n not in SOLVERS]
    if unknown or not names:
        raise UsageError(f"solvers: with --function, choose from {', '.join(SOLVERS)} (got {', '.join(unknown) or 'none'})", option="solvers")
    return names


def _best(runs, basin) -> tuple[Ending | None, str]:
    candidates = [(p.ending, p.method) for p in runs if p.ending.kind == "local minimum"]
    if basin is not None and basin.ending.kind == "local minimum":
        candidates.append((basin.ending, "the gradient flow from x0"))
    if not candidates:
        return None, ""
    return min(candidates, key=lambda c: c[0].value)


def _verdict(path: Path, best: Ending | None, start_value: float, tol: float) -> Verdict:
    e = path.ending
    if best is None:
        return Verdict(e.kind, None, None)
    gap = float(path.value_final - best.value)
    distance = float(np.linalg.norm(path.x_final - best.x)) if np.all(np.isfinite(path.x_final)) else None
    if e.kind == "local minimum":
        close = gap <= tol * max(start_value - best.value, 0.0) or same_point(path.x_final, best.x)
        return Verdict(REACHED if close else "another minimum", gap, distance)
    return Verdict(e.kind, gap, distance)


def compare_function(spec: str, x0, solvers=DEFAULT_SOLVERS, lrs=(), max_iter: int = 10_000, tol: float = 1e-6,
                     x0_source: str | None = None, progress=None) -> FunctionComparison:
    """Run each solver from x0 (one run per lr in ``lrs`` for the first-order ones) on the user's function and judge
    each against the best local minimum found."""
    x0 = np.asarray(x0, dtype=float).reshape(-1)
    return compare_objective(SmoothFunction(load_callable(spec), x0, spec), spec, x0, solvers, lrs, max_iter, tol, x0_source,
                             progress)


def compare_objective(function, source: str, x0, solvers=DEFAULT_SOLVERS, lrs=(), max_iter: int = 10_000, tol: float = 1e-6,
                      x0_source: str | None = None, progress=None, reference: Ending | None = None,
                      reference_by: str = "", reference_note: str | None = None) -> FunctionComparison:
    """As :func:`compare_function` for any objective with ``value``, ``gradient``, ``hessian`` (→ (H, error)),
    ``n`` and ``derivatives``; with ``reference`` (a known minimiser, e.g. the exact one of a convex problem) the
    runs are judged against it instead of the best minimum found."""
    started = time.perf_counter()
    x0 = np.asarray(x0, dtype=float).reshape(-1)
    start_value = function.value(x0)
    lam_max = float(np.linalg.eigvalsh(function.hessian(x0)[0])[-1])
    runs, sources = [], []
    for name in solvers:
        if name == "newton":
            runs.append(run(function, x0, "newton", 1.0, max_iter, tol, progress))
            sources.append("full steps")
        elif name == "lbfgs":
            runs.append(lbfgs(function, x0, max_iter, tol))
            sources.append("its line search")
        else:
            if lrs:
                chosen = [(float(lr), "--lr") for lr in lrs]
            elif name == "adam":
                chosen = [(ADAM_DEFAULT_LR, "torch default")]
            elif lam_max > 0:
                chosen = [(1.0 / lam_max, "1/λmax at x0")]
            else:
                raise UsageError(f"solvers {name}: f has no positive curvature at x0 to set a learning rate from; give --lr", option="solvers")
            for lr, origin in chosen:
                runs.append(run(function, x0, name, lr, max_iter, tol, progress))
                sources.append(origin)
    basin = gradient_flow(function, x0, tol=min(tol, 1e-10)) if reference is None else None
    best, best_by = (reference, reference_by) if reference is not None else _best(runs, basin)
    if reference_note is not None:
        note = reference_note
    elif best is None:
        note = "no run ended at a local minimum"
    else:
        note = "the lowest local minimum the runs found: local, not certified global"
    verdicts = tuple(_verdict(p, best, start_value, tol) for p in runs)
    return FunctionComparison(function, source, x0, x0_source or ",".join(f"{v:g}" for v in x0), tol, max_iter, tuple(runs),
                              verdicts, tuple(sources), basin, best, best_by, note, start_value, time.perf_counter() - started)

