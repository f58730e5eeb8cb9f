"""Logistic regression: curvature, learning-rate bounds, the reference answer, and separable data.

With labels s_i = ±1 (0/1 labels are mapped to -1/+1), rows a_i (an intercept column included), a loss scale c
(1 for the sum, 1/n for the mean: PyTorch's ``BCEWithLogitsLoss``) and a ridge λ,

    f(x) = c Σ_i log(1 + exp(-s_i a_iᵀx)) + λ ||x||²,
    ∇f(x) = -c Aᵀ (s ∘ σ(-s ∘ Ax)) + 2λx,
    ∇²f(x) = c Aᵀ W A + 2λI,  W = diag(σ(a_iᵀx) (1 - σ(a_iᵀx))) <= 1/4.

* **The global bound.** W <= I/4 everywhere, so f is L-smooth with L = c λmax(AᵀA)/4 + 2λ, and gradient descent
  converges from any start for every lr < 2/L (Nesterov, *Introductory Lectures*, Thm 2.1.14): the lr that is
  safe everywhere.
* **The local picture.** Near x* gradient descent behaves as on the quadratic with Hessian H* = ∇²f(x*): it is stable
  there for lr < 2/λmax(H*) (larger than 2/L: W* < 1/4) and contracts at best by (κ* - 1)/(κ* + 1) per step.
* **The reference answer** x* is computed by Newton's method with a backtracking line search (damped Newton, Boyd &
  Vandenberghe §9.5) until the step reaches the rounding of x or stops shrinking; its stated error is the last step's norm
  (quadratic convergence: the error after a step is far below the step) plus the rounding κ(H*)·eps·||x*||.
* **Separable data.** If some x has s_i a_iᵀx > 0 for every row, f has no minimiser without ridge: along that x the
  loss tends to 0 and the weights grow without bound. The linear programme max t s.t. s_i a_iᵀx >= t, |x_j| <= 1,
  t <= 1 (scipy's HiGHS) has t* > 0 exactly then (complete separation, Albert & Anderson, Biometrika 71(1), 1984).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InputError
from .notebook import NotebookView
from .spectrum import EPS64

NEWTON_MAX_STEPS = 200
SEPARATION_MARGIN = 1e-9
"""The exact smallest margin at the LP's solution above this (columns scaled to max |a_ij| = 1) is separable."""


def signed_labels(b: np.ndarray, source: str) -> np.ndarray:
    """Labels as ±1 from 0/1 or ±1 (anything else is bad input)."""
    values = set(np.unique(b).tolist())
    if values <= {0.0, 1.0}:
        return np.where(b > 0.5, 1.0, -1.0)
    if values <= {-1.0, 1.0}:
        return b.astype(float)
    shown = ", ".join(f"{v:g}" for v in sorted(values)[:5])
    raise InputError(source, f"logistic labels must be 0/1 or -1/+1; found {shown}{', ...' if len(values) > 5 else ''}")


def _log1pexp(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)) without overflow."""
    return np.where(z > 0, z + np.log1p(np.exp(-np.abs(z))), np.log1p(np.exp(np.minimum(z, 0.0))))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    e = np.exp(z[~positive])
    out[~positive] = e / (1.0 + e)
    return out


@dataclass(frozen=True)
class LogisticModel:
    A: np.ndarray
    labels: np.ndarray
    """s_i = ±1."""
    scale: float
    """c: 1 (sum) or 1/n (mean)."""
    ridge: float
    source: str
    column_names: tuple[str, ...]

    @classmethod
    def from_problem(cls, problem) -> "LogisticModel":
        if problem.loss not in ("sum", "mean"):
            from .errors import UsageError

            raise UsageError(f"loss {problem.loss}: logistic regression takes sum or mean (BCEWithLogitsLoss)", option="loss")
        if not problem.has_rhs:
            raise InputError(problem.source, "logistic regression needs labels", "give b: --rhs, --target, or a b/y key")
        A = problem.dense_matrix()
        return cls(A, signed_labels(problem.b, problem.rhs_source or problem.source), 1.0 if problem.loss == "sum" else 1.0 / A.shape[0],
                   problem.ridge, problem.source, problem.column_names)

    def value(self, x) -> float:
        margins = self.labels * (self.A @ x)
        return float(self.scale * np.sum(_log1pexp(-margins)) + self.ridge * float(x @ x))

    def gradient(self, x) -> np.ndarray:
        margins = self.labels * (self.A @ x)
        return -self.scale * (self.A.T @ (self.labels * _sigmoid(-margins))) + 2.0 * self.ridge * x

    def hessian(self, x) -> np.ndarray:
        p = _sigmoid(self.A @ x)
        w = p * (1.0 - p)
        return self.scale * (self.A.T * w) @ self.A + 2.0 * self.ridge * np.eye(self.A.shape[1])


@dataclass(frozen=True)
class Curvature:
    lambda_max: float
    lambda_min: float
    condition_number: float


def curvature(H: np.ndarray) -> Curvature:
    lam = np.linalg.eigvalsh(0.5 * (H + H.T))
    top, bottom = float(lam[-1]), float(lam[0])
    return Curvature(top, bottom, top / bottom if bottom > 0 else math.inf)


def separation_margin(model: LogisticModel) -> float:
    """min_i s_i âᵢᵀx at the solution x of the separation LP (module docstring), on columns scaled to max |a_ij| = 1:
    evaluated exactly at that x, so a positive value is a certificate that the classes are separable (the LP's own
    optimum is only as exact as its tolerances)."""
    from scipy.optimize import linprog

    n, d = model.A.shape
    scale = np.max(np.abs(model.A), axis=0)
    scale[scale == 0] = 1.0
    M = model.labels[:, None] * (model.A / scale)
    # variables (x, t): maximise t  <=>  minimise -t;  -M x + t <= 0
    result = linprog(np.r_[np.zeros(d), -1.0], A_ub=np.c_[-M, np.ones(n)], b_ub=np.zeros(n),
                     bounds=[(-1.0, 1.0)] * d + [(None, 1.0)], method="highs")
    if result.status != 0:
        return 0.0
    return float(np.min(M @ result.x[:d]))


@dataclass(frozen=True)
class LogisticReference:
    x: np.ndarray | None
    loss: float | None
    newton_steps: int
    error_bound: float | None
    """||x - x*|| bound: the last Newton step plus κ(H*)·eps·||x*||."""
    correct_digits: float | None
    converged: bool
    message: str


def newton(model: LogisticModel) -> LogisticReference:
    """Damped Newton from 0 (module docstring)."""
    d = model.A.shape[1]
    x = np.zeros(d)
    f = model.value(x)
    last_step = math.inf
    for k in range(1, NEWTON_MAX_STEPS + 1):
        g = model.gradient(x)
        H = model.hessian(x)
        try:
            step = -np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            step = -np.linalg.lstsq(H, g, rcond=None)[0]
        decrement = float(-g @ step)
        if not np.isfinite(decrement) or decrement <= 0:
            break
        t = 1.0
        while True:
            candidate = x + t * step
            f_new = model.value(candidate)
            # Armijo; a decrement below f's rounding is the quadratic phase, where the full step is taken
            if f_new <= f - 0.25 * t * decrement or decrement <= 1e3 * EPS64 * abs(f) or t < 1e-12:
                break
            t *= 0.5
        previous, (x, f, last_step) = last_step, (candidate, f_new, float(t * np.linalg.norm(step)))
        # stop when the step is at the rounding of x, or when a full step no longer shrinks (rounding dominates):
        # not on the decrement, which reaches eps·|f| while x still has sqrt(eps·|f|/λmin) to go
        size = max(float(np.linalg.norm(x)), 1e-300)
        if last_step <= 4 * EPS64 * size or (t == 1.0 and last_step > 0.5 * previous and last_step <= 1e-8 * size):
            cond = curvature(model.hessian(x)).condition_number
            bound = last_step + cond * EPS64 * float(np.linalg.norm(x))
            norm = float(np.linalg.norm(x))
            digits = -math.log10(bound / norm) if norm > 0 and bound > 0 else 16.0
            return LogisticReference(x, f, k, bound, min(digits, 16.0), True, f"Newton converged in {k} steps")
    return LogisticReference(x, f, NEWTON_MAX_STEPS, None, None, False,
                             f"Newton did not converge in {NEWTON_MAX_STEPS} steps (last step {last_step:.3g})")


@dataclass(frozen=True)
class LogisticAnalysis(NotebookView):
    model: LogisticModel
    global_L: float
    """c λmax(AᵀA)/4 + 2λ: f is L-smooth everywhere."""
    safe_lr: float
    """2/L: gradient descent converges from any start below it."""
    at_start: Curvature
    at_optimum: Curvature | None
    local_lr: float | None
    """2/λmax(H*): the stability limit near x*."""
    local_rate: float | None
    """(κ* - 1)/(κ* + 1): the best fixed-lr contraction near x*."""
    separable: bool
    margin: float
    reference: LogisticReference
    lr_checks: tuple
    """(lr, verdict) per --lr: 'safe everywhere', 'stable near x* only', 'diverges near x*'."""
    x0: np.ndarray
    tol: float
    local_steps: int | None
    """Steps gradient descent needs near x* at the best fixed lr 2/(λmax + λmin) of H* to cut the error by tol:
    ceil(log tol / log rate) (the asymptotic rate; the way from x0 adds to it)."""
    causes: Any
    """Scaling and collinearity of the weighted design W*^{1/2} A, whose Gram matrix is the Hessian at x*
    (:func:`condiag.causes.diagnose_causes`); None when there is no x*."""
    findings: tuple = ()
    seconds: float = 0.0

    def _render_text(self, console) -> None:
        from .render.text import render_logistic

        render_logistic(self, console, False)

    def to_dict(self) -> dict:
        """The report as ``condiag analyze --objective logistic --json`` prints it."""
        from .render.json_report import logistic_json

        return logistic_json(self)


def weighted_causes(model: LogisticModel, x_star: np.ndarray, cond_h: float):
    """Scaling and collinearity of W*^{1/2} A (the factor of the Hessian at x*), with the least-squares machinery."""
    from .causes import diagnose_causes
    from .problem import Problem
    from .spectrum import decompose, spectrum_from

    p = _sigmoid(model.A @ x_star)
    weighted = np.sqrt(p * (1.0 - p))[:, None] * model.A
    if not np.all(np.isfinite(weighted)) or not np.any(weighted):
        return None
    stand_in = Problem.create(weighted, None, source=model.source, column_names=model.column_names)
    decomposition = decompose(stand_in)
    spectrum = spectrum_from(stand_in, decomposition)
    return diagnose_causes(stand_in, decomposition, spectrum.condition_number, cond_h)


def analyze_logistic(problem, lrs=(), x0=None, tol: float = 1e-6) -> LogisticAnalysis:
    """The logistic view of a problem whose b holds labels (module docstring)."""
    import time

    from .findings import logistic_findings

    started = time.perf_counter()
    model = LogisticModel.from_problem(problem)
    d = model.A.shape[1]
    x0 = np.zeros(d) if x0 is None else np.asarray(x0, dtype=float)
    sigma_max = float(np.linalg.norm(model.A, 2))
    L = model.scale * sigma_max**2 / 4 + 2 * model.ridge
    margin = separation_margin(model) if model.ridge == 0 else 0.0
    separable = margin > SEPARATION_MARGIN
    reference = LogisticReference(None, None, 0, None, None, False, "no finite minimiser: the classes are separable") if separable \
        else newton(model)
    at_optimum = curvature(model.hessian(reference.x)) if reference.converged else None
    local_lr = 2.0 / at_optimum.lambda_max if at_optimum is not None and at_optimum.lambda_max > 0 else None
    local_rate = ((at_optimum.condition_number - 1) / (at_optimum.condition_number + 1)
                  if at_optimum is not None and math.isfinite(at_optimum.condition_number) else None)
    checks = []
    for lr in lrs:
        if lr < 2.0 / L:
            verdict = "safe everywhere"
        elif local_lr is not None and lr < local_lr:
            verdict = "stable near x* only"
        else:
            verdict = "diverges near x*" if local_lr is not None else "above the global bound"
        checks.append((float(lr), verdict))
    local_steps = math.ceil(math.log(tol) / math.log(local_rate)) if local_rate is not None and 0 < local_rate < 1 else None
    causes = (weighted_causes(model, reference.x, at_optimum.condition_number)
              if at_optimum is not None and reference.x is not None else None)
    analysis = LogisticAnalysis(model, L, 2.0 / L, curvature(model.hessian(x0)), at_optimum, local_lr, local_rate, separable,
                                margin, reference, tuple(checks), x0, tol, local_steps, causes)
    from dataclasses import replace

    return replace(analysis, findings=tuple(logistic_findings(analysis)), seconds=time.perf_counter() - started)


class LogisticObjective:
    """A logistic model as the solvers of :mod:`condiag.smooth` see an objective: f, its gradient and Hessian in
    closed form (exact to rounding)."""

    objective = "logistic"

    def __init__(self, model: LogisticModel):
        from .smooth.function import Derivatives

        self.model = model
        self.n = model.A.shape[1]
        self.evaluations = 0
        self.derivatives = Derivatives("numpy", "closed form: −c·Aᵀ(s·σ(−s·Ax)) + 2λx",
                                       "closed form: c·AᵀWA + 2λI, W = σ(1 − σ)")

    def value(self, x) -> float:
        self.evaluations += 1
        return self.model.value(np.asarray(x, dtype=float))

    def gradient(self, x) -> np.ndarray:
        return self.model.gradient(np.asarray(x, dtype=float))

    def hessian(self, x):
        return self.model.hessian(np.asarray(x, dtype=float)), 0.0
