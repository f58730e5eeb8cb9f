"""Learning rates a user can paste: a margin from the edge of stability, rounded down, verified.

The optimal parameters of :mod:`condiag.bounds` sit on or near the edge of stability: the best
fixed lr 2/(L+mu) is within mu/L of the divergence threshold 2/L, and Polyak's heavy-ball lr
4/(sqrt L + sqrt mu)^2 is within about 1/kappa of its own limit 2(1+beta)/L, so rounding either
up by one printed digit can make it diverge (it did: lr=3.203e-5 on the 2x2 valley has spectral
radius 1.02). Advice here is therefore

1. computed for a steeper curvature L / :data:`SAFETY_MARGIN` (a 10% margin on the steepest
   direction: GD's lr·L stays at or below 1.8 where 2 diverges, heavy ball's lr·L 10% below its
   limit, Nesterov's lr = 0.9/L);
2. rounded *down* to :data:`ADVICE_DIGITS` significant digits (lr), and beta rounded towards less
   momentum (1 - beta rounded up), so the printed decimal is exactly the value checked;
3. verified: the spectral radius of the iteration with the printed values, in float64 and with
   both values rounded to float32 as a float32 model would hold them, must be below 1 over every
   eigenvalue the loss sees, else the advice is dropped;
4. counted in one meaning of "steps": the first T with f(x_T) - f* <= tol (f(x0) - f*), in closed
   form from the actual starting point when the problem has one, else the worst case over starting
   points from the spectral radius; the same count at the margin-free optimum says what the margin costs.

References: Polyak, "Some methods of speeding up the convergence of iteration methods" (1964);
Nesterov, *Introductory Lectures on Convex Optimization* (2004), §2.2; Goh, "Why Momentum Really
Works", Distill (2017), for the two-term recurrences and their spectral radii.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING

import numpy as np

from .bounds import MAX_STEPS_SEARCH as GD_STEPS_SEARCH
from .bounds import loss_steps
from .numbers import floor_sig, round_sig
from .trajectories import (
    LinearMethod,
    QuadraticModel,
    first_step_below,
    log_gap,
    peak_gap,
    spectral_radius,
)

SAFETY_MARGIN = 0.9
"""Advice is computed for the curvature L / SAFETY_MARGIN: every advised lr keeps 10% from its edge."""
ADVICE_DIGITS = 4
"""Significant digits of an advised learning rate (and of 1 - beta)."""
MAX_STEPS_SEARCH = {"gd": GD_STEPS_SEARCH, "heavy-ball": 10**15, "nesterov": 10**15}
"""Step counts searched: gradient descent's log gap is convex in T (bisection over any range); momentum
oscillates, so its checkpoints are scanned, up to 10^15 steps."""


def beta_towards_less_momentum(beta: float, digits: int = ADVICE_DIGITS) -> float:
    """beta with 1 - beta rounded *up* to ``digits`` significant digits (0.99778432… -> 0.9977)."""
    if beta <= 0.0:
        return 0.0
    return 1.0 - round_sig(1.0 - beta, digits, ROUND_CEILING)


@dataclass(frozen=True)
class Advised:
    """Parameters to paste, with what they were checked to do."""

    method: str
    """'gd', 'heavy-ball' (= torch.optim.SGD(momentum=beta)) or 'nesterov' (SGD(momentum=beta, nesterov=True))."""
    lr: float
    beta: float
    rate: float
    """Spectral radius of the iteration with exactly these values: the error's worst-case factor per step."""
    rate_gap: float
    """1 - rate without cancellation (gradient descent): 1e-26 where rate prints as 1.0."""
    rate_float32: float | None
    """The same with lr and beta rounded to float32 (None when lr is outside float32's range)."""
    steps_to_tol: int | None
    """First T with f(x_T) - f* <= tol (f(x0) - f*) (closed form from x0 when known, else worst case)."""
    steps_at_optimum: int | None
    """The same count at the unrounded optimum without the margin: what the margin costs."""
    closed_form: bool
    """True when the counts come from the actual starting point (closed form), False for the worst case."""
    peak_ratio: float = 1.0
    """Largest (f(x_k) - f*) / (f(x0) - f*) on the way (sampled, see :func:`~condiag.trajectories.peak_gap`):
    momentum's loss can first rise; 1 when it never does (and for gradient descent, whose gap only falls)."""
    peak_step: int = 0
    """The step of that peak."""


def contraction_gap(method: LinearMethod, eigenvalues: np.ndarray) -> float:
    """1 - spectral radius: > 0 exactly when the iteration converges on every eigenvalue given.

    For gradient descent min over λ of min(lr λ, 2 - lr λ), without cancellation, so that a rate of
    1 - 1e-26 (cond(H) = 1e26) still counts as converging; for momentum 1 - radius.
    """
    if method.kind == "gd":
        step = method.lr * np.asarray(eigenvalues, dtype=float)
        return float(np.min(np.minimum(step, 2.0 - step)))
    return 1.0 - spectral_radius(method, eigenvalues)


def _steps(method: LinearMethod, eigenvalues: np.ndarray, model: QuadraticModel | None, tol: float) -> int | None:
    if model is not None:
        start = log_gap(model, method, 0)
        if start == -np.inf:
            return 0
        return first_step_below(model, method, start + math.log(tol), MAX_STEPS_SEARCH[method.kind])
    return loss_steps(contraction_gap(method, eigenvalues), tol)


def _advise_one(name: str, lr: float, beta: float, optimum: LinearMethod, eigenvalues, model, tol) -> Advised | None:
    lr_printed = floor_sig(lr, ADVICE_DIGITS)
    beta_printed = beta_towards_less_momentum(beta) if name != "gd" else 0.0
    method = LinearMethod(name, lr_printed, beta_printed)
    gap = contraction_gap(method, eigenvalues)
    with np.errstate(over="ignore", under="ignore"):
        lr32, beta32 = float(np.float32(lr_printed)), float(np.float32(beta_printed))
    # an lr outside float32's range cannot be held by a float32 model at all: no float32 check then
    gap32 = contraction_gap(LinearMethod(name, lr32, beta32), eigenvalues) if 0 < lr32 < np.inf else None
    if not (gap > 0 and (gap32 is None or gap32 > 0)):
        return None  # never print advice that does not converge on this problem
    rate, rate32 = 1.0 - gap, (None if gap32 is None else 1.0 - gap32)
    steps = _steps(method, eigenvalues, model, tol)
    peak_step, peak_ratio = 0, 1.0
    if model is not None and steps:
        peak_step, log_peak = peak_gap(model, method, steps)
        peak_ratio = math.exp(min(log_peak - log_gap(model, method, 0), 700.0))
    return Advised(name, lr_printed, beta_printed, rate, gap, rate32, steps, _steps(optimum, eigenvalues, model, tol),
                   model is not None, peak_ratio, peak_step)


def advise(L: float, mu: float | None, eigenvalues: np.ndarray, model: QuadraticModel | None, tol: float) -> dict[str, Advised]:
    """Advised, verified parameters for gd, heavy-ball momentum and Nesterov (see the module docstring).

    Parameters
    ----------
    L, mu : float
        Largest and smallest learned Hessian eigenvalues (mu > 0 required for momentum advice).
    eigenvalues : ndarray
        The Hessian eigenvalues the loss sees (at least L and mu), for the spectral radius.
    model : QuadraticModel or None
        The problem from x0, for closed-form step counts; None gives worst-case counts.
    tol : float
        The loss-gap reduction that counts as done.
    """
    if not L > 0 or mu is None or not mu > 0:
        return {}
    eigenvalues = np.asarray(eigenvalues, dtype=float)
    eigenvalues = eigenvalues[eigenvalues > 0]
    steep = L / SAFETY_MARGIN
    advice = {}
    gd = _advise_one("gd", 2.0 / (steep + mu), 0.0, LinearMethod("gd", 2.0 / (L + mu)), eigenvalues, model, tol)
    root, root_steep = math.sqrt(L / mu), math.sqrt(steep / mu)
    q = (root_steep - 1.0) / (root_steep + 1.0)
    hb_optimum = LinearMethod("heavy-ball", 4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2, ((root - 1.0) / (root + 1.0)) ** 2)
    hb = _advise_one("heavy-ball", 4.0 / (math.sqrt(steep) + math.sqrt(mu)) ** 2, q * q, hb_optimum, eigenvalues, model, tol)
    nv_optimum = LinearMethod("nesterov", 1.0 / L, (root - 1.0) / (root + 1.0))
    nv = _advise_one("nesterov", 1.0 / steep, q, nv_optimum, eigenvalues, model, tol)
    for name, item in (("gd", gd), ("heavy_ball", hb), ("nesterov", nv)):
        if item is not None:
            advice[name] = item
    return advice
