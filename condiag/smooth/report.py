"""``condiag analyze --function FILE.py:NAME``: gradient descent at each lr and Newton at each step size from
x0 on any smooth function, where each run ends and why, against the curvature 2/lr must respect.

For gradient descent the local rule is the quadratic one applied where the run is: near a minimum x* with
Hessian eigenvalues λᵢ the error contracts by |1 − lr·λᵢ| per step, so the minimum holds the run only if
lr < 2/λmax(∇²f(x*)); above that the run cannot settle there and hops to a cycle, another basin or away
(Nesterov, *Lectures on Convex Optimization*, 2018, §1.2.3). The basin of x0 is where the gradient flow from
x0 ends (:func:`condiag.smooth.descent.gradient_flow`); a run that ends elsewhere jumped basins.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ..findings import Finding, Remedy
from ..notebook import NotebookView
from ..numbers import count, sig
from ..user_code import load_callable
from .descent import OUTSIDE, Basin, Path, gradient_flow, run
from .function import SmoothFunction

SAME_POINT = 1e-6
"""Two critical points are the same when they are this close (relative to their size, at least 1)."""


@dataclass(frozen=True)
class FunctionAnalysis(NotebookView):
    function: SmoothFunction
    source: str
    x0: np.ndarray
    x0_source: str
    steps: int
    tol: float
    gd: tuple[Path, ...]
    newton: tuple[Path, ...]
    basin: Basin | None
    start_value: float
    start_curvature: np.ndarray
    """The Hessian's eigenvalues at x0, ascending."""
    findings: tuple[Finding, ...]
    seconds: float

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every run: gradient descent at each lr, then Newton at each step size."""
        return (*self.gd, *self.newton)

    _figure = "function_figure"

    def _render_text(self, console) -> None:
        from ..render.function_text import render_function

        render_function(self, console, False)

    def to_dict(self) -> dict:
        from ..render.json_report import function_json

        return function_json(self)


def same_point(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.linalg.norm(a - b) <= SAME_POINT * max(1.0, float(np.linalg.norm(a)), float(np.linalg.norm(b))))


def local_limit(eigenvalues) -> float | None:
    """2/λmax at a point (None when no eigenvalue is positive: no step size is limited by curvature there)."""
    if eigenvalues is None or not np.size(eigenvalues) or eigenvalues[-1] <= 0:
        return None
    return 2.0 / float(eigenvalues[-1])


def _curvature(eigenvalues) -> str:
    if eigenvalues.size == 1:
        return f"the curvature there is {sig(eigenvalues[0], 3)}"
    return f"the curvature there spans {sig(eigenvalues[0], 3)} to {sig(eigenvalues[-1], 3)}"


def _point(x: np.ndarray) -> str:
    shown = ", ".join(sig(v, 6) for v in x[:6])
    return f"x = {shown}" if x.size == 1 else f"x = ({shown}{', …' if x.size > 6 else ''})"


ADVICE_MARGIN = 0.9
"""An advised lr is 10% inside the curvature limit 2/λ it answers, rounded down to 3 digits, then run to check it."""
SETTLED = ("local minimum",)
"""The ending an advised lr must reach when it is run: a local minimum (not a cycle, a saddle, divergence, or a
run still wandering after the steps)."""


def checked_lr(function, x0, steps: int, tol: float, curvature: float | None):
    """(lr, the run at it) for lr = 0.9·2/``curvature`` rounded down, when gradient descent at that lr from x0, for the
    same steps, ends at a local minimum; None otherwise: advice is only printed once it has been run."""
    from ..numbers import floor_sig

    if curvature is None or not curvature > 0:
        return None
    lr = floor_sig(ADVICE_MARGIN * 2.0 / curvature, 3)
    trial = run(function, x0, "gd", lr, steps, tol)
    return (lr, trial) if trial.ending.kind in SETTLED else None


def _lower_lr(advice, fallback: str) -> Remedy:
    if advice is None:
        return Remedy("Lower the learning rate", fallback, None)
    lr, trial = advice
    return Remedy(f"Lower the learning rate to {lr:.3g}", f"10% inside 2/λmax, rounded down; run here from x0 for "
                  f"{count(trial.steps_asked)} steps it ends as '{trial.ending.kind}' at {_point(trial.x_final)}, "
                  f"f = {sig(trial.value_final, 8)}.", None)


def _gd_finding(path: Path, basin: Basin | None, tol: float, advise=None) -> Finding:
    """The finding of one gradient-descent run; ``advise(curvature)`` gives a checked lower lr (:func:`checked_lr`)."""
    e, lr = path.ending, path.step_size
    limit = local_limit(e.eigenvalues)
    top = float(e.eigenvalues[-1]) if e.eigenvalues is not None and e.eigenvalues.size else None  # λmax at the end
    data = {"lr": lr, "ending": e.kind, "step": e.step}
    advise = advise or (lambda _curvature: None)
    if e.kind == OUTSIDE:
        return Finding("CD197", "error", f"Gradient descent at lr = {sig(lr, 4)} leaves f's domain at step {count(e.step)}",
                       f"Step {count(e.step)} lands at {_point(e.x)}, where f is not defined (NaN or a math error): the step "
                       f"lr·∇f overshot the region where f exists.",
                       (Remedy("Lower the learning rate, or reparametrise", "A smaller lr, or a variable that keeps x in the "
                               "domain (e.g. x = exp(u) for x > 0).", None),), data)
    if e.kind in ("diverged", "diverging"):
        peak = float(np.max(path.curvature_max)) if path.curvature_max.size else None
        why = (f" The curvature along the way reached λmax = {sig(peak, 4)}: above 2/lr = {sig(2 / lr, 4)}, each step "
               "overshoots further." if peak is not None and peak > 2 / lr else "")
        what = (f"f left the float64 range after {count(e.step)} steps." if e.kind == "diverged" else
                f"After {count(e.step)} steps f = {sig(e.value, 4)} (from {sig(path.values[0], 4)}), at {_point(e.x)}: the "
                "iterates are running away (each of the last 10 steps longer than the one before, or the gradient and the "
                "distance from x0 grown 1e8-fold).")
        return Finding("CD190", "error", f"Gradient descent at lr = {sig(lr, 4)} diverges" +
                       (f" (step {count(e.step)})" if e.kind == "diverged" else ""), what + why,
                       (_lower_lr(advise(peak), "A smaller lr keeps each step inside the region where f curves as its "
                                  "Hessian says."),), data)
    if e.kind == "cycle":
        near = (f"; the curvature there reaches λmax = {sig(top, 4)}, which needs lr < {sig(limit, 4)} to settle"
                if limit else "")
        return Finding("CD192", "warning", f"Gradient descent at lr = {sig(lr, 4)} hops in a cycle of period {e.period}",
                       f"From step {count(e.step)} the iterates repeat every {e.period} steps "
                       f"({'; '.join(_point(p) for p in e.cycle[:4])}){near}: the lr is too large for the run to settle.",
                       (_lower_lr(advise(top if limit else None), "A smaller lr."),),
                       data | {"period": e.period})
    if e.kind == "not converged":
        return Finding("CD195", "warning", f"Gradient descent at lr = {sig(lr, 4)} has not converged after {count(e.step)} steps",
                       f"The gradient is still {sig(e.gradient_norm, 3)} at {_point(e.x)} (f = {sig(e.value, 6)}); "
                       f"{_curvature(e.eigenvalues)}.", (), data)
    jumped = basin is not None and basin.ending.kind == "local minimum" and not same_point(basin.ending.x, e.x)
    where = f"{_point(e.x)}, f = {sig(e.value, 8)}"
    if e.kind == "local minimum":
        detail = (f"It reaches a local minimum at {where} (gradient within {tol:g} of its start at step "
                  f"{count(path.converged_step)}). It is local: condiag knows no other minima than those its runs find.")
        if jumped and basin is not None:
            detail += (f" The gradient flow from x0 ends at another minimum, {_point(basin.ending.x)} with f = "
                       f"{sig(basin.ending.value, 8)}: at this lr the run jumped out of x0's basin.")
        if limit is not None and lr >= limit:
            detail += f" The lr is above 2/λmax = {sig(limit, 4)} there: it cannot stay."
        return Finding("CD191", "warning" if jumped else "info",
                       f"Gradient descent at lr = {sig(lr, 4)} ends in a local minimum at {_point(e.x)}"
                       + (" (another basin than x0's)" if jumped else ""), detail, (), data | {"jumped_basin": jumped})
    return Finding("CD194", "warning", f"Gradient descent at lr = {sig(lr, 4)} stops at a {e.kind}",
                   f"The gradient vanishes at {where}, but {_curvature(e.eigenvalues)}: it is not a minimum. A small perturbation, or a start off this path, moves on.",
                   (Remedy("Perturb the start", "Start from a slightly different x0, or add noise (SGD) to leave the saddle.", None),), data)


def _newton_finding(path: Path, n: int) -> Finding | None:
    e, eta = path.ending, path.step_size
    data = {"step_size": eta, "ending": e.kind, "uphill_steps": path.uphill_steps}
    if path.singular_at is not None:
        return Finding("CD196", "error", f"Newton (step {sig(eta, 3)}) stops: the Hessian is singular at step {count(path.singular_at)}",
                       f"At {_point(e.x)} an eigenvalue of the Hessian is zero: H⁻¹g does not exist.",
                       (Remedy("Damp the step", "Levenberg–Marquardt: solve (H + μI) d = g with μ > 0.", None),), data)
    if e.kind in ("local maximum", "saddle") or path.uphill_steps:
        lowest = float(e.eigenvalues[0]) if e.eigenvalues is not None and e.eigenvalues.size else math.nan
        k, x, lam = path.first_uphill if path.first_uphill else (e.step, e.x, lowest)
        towards = "a maximum" if e.kind == "local maximum" or n == 1 else "a saddle or maximum"
        return Finding("CD193", "error" if e.kind in ("local maximum", "saddle") else "warning",
                       f"Newton (step {sig(eta, 3)}) heads towards {towards}: it ends at a {e.kind}" if e.kind != "not converged"
                       else f"Newton (step {sig(eta, 3)}) stepped towards {towards} {path.uphill_steps} time(s)",
                       f"At step {count(k)} ({_point(x)}) the curvature is negative (λmin = {sig(lam, 4)}): Newton's step −H⁻¹g then "
                       f"climbs along that direction. It ends at {_point(e.x)}, f = {sig(e.value, 8)} ({e.kind}).",
                       (Remedy("Damp or safeguard the step", "A smaller step (0.5), a line search that requires f to fall, or a "
                               "trust region / H + μI with μ > −λmin, keeps Newton going downhill.", None),), data)
    return None


def analyze_function(spec: str, x0, lrs=(), newton=(), steps: int = 1000, tol: float = 1e-6, x0_source: str | None = None,
                     progress=None) -> FunctionAnalysis:
    """Run gradient descent at each lr and Newton at each step size in ``newton`` from x0, for ``steps`` steps each."""
    started = time.perf_counter()
    x0 = np.asarray(x0, dtype=float).reshape(-1)
    function = SmoothFunction(load_callable(spec), x0, spec)
    start_value = function.value(x0)
    start_curvature = np.linalg.eigvalsh(function.hessian(x0)[0])
    gd = tuple(run(function, x0, "gd", float(lr), steps, tol, progress) for lr in lrs)
    newton_paths = tuple(run(function, x0, "newton", float(eta), steps, tol, progress) for eta in newton)
    basin = gradient_flow(function, x0, tol=min(tol, 1e-10))
    findings = [_gd_finding(p, basin, tol, lambda curvature: checked_lr(function, x0, steps, tol, curvature)) for p in gd] + [f for p in newton_paths if (f := _newton_finding(p, function.n)) is not None]
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: order[f.severity])
    return FunctionAnalysis(function, spec, x0, x0_source or ",".join(f"{v:g}" for v in x0), steps, tol, gd, newton_paths, basin,
                            start_value, start_curvature, tuple(findings), time.perf_counter() - started)

