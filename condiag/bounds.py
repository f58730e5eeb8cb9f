"""Learning-rate bounds, convergence rates and exact predictions for gradient descent.

For f with Hessian H (eigenvalues mu = lambda_min <= ... <= lambda_max = L) gradient
descent x <- x - lr ∇f(x) changes the error along eigenvector i by the factor
(1 - lr lambda_i) per step, so (Nesterov, *Introductory Lectures on Convex
Optimization*, 2004, §2.1.5; Polyak, *Introduction to Optimization*, 1987, §1.4):

* it diverges for lr > 2/L (the *divergence threshold*); at lr = 2/L it oscillates forever;
* the best fixed lr is 2/(L + mu), with contraction (kappa - 1)/(kappa + 1), kappa = L/mu;
* heavy-ball momentum with lr = 4/(sqrt L + sqrt mu)^2 and beta = ((sqrt kappa - 1)/(sqrt kappa + 1))^2
  contracts by (sqrt kappa - 1)/(sqrt kappa + 1) per step (Polyak 1964);
* Nesterov's method with lr = 1/L, beta = (sqrt kappa - 1)/(sqrt kappa + 1) contracts by at
  most 1 - 1/sqrt kappa per step (Nesterov 2004, §2.2).

On a singular H, mu is replaced by the smallest eigenvalue the data determines
(directions with lambda = 0 do not change the loss and are never learned).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .problem import LOSS_CONVENTIONS, Problem, loss_scale
from .spectrum import Spectrum, learned_eigenvalues
from .trajectories import (
    LinearMethod,
    QuadraticModel,
    checkpoints,
    first_step_above,
    first_step_below,
    growth_factor,
    log_gap,
    log_gaps,
)

CONVENTION_USERS = {
    "sum": "a hand-written ((A @ x - b) ** 2).sum() or .pow(2).sum()",
    "mean": "PyTorch nn.MSELoss() (reduction='mean'), Keras 'mse'",
    "half": "½||Ax - b||², classical least-squares texts",
    "half-mean": "1/(2n)||Ax - b||², textbooks and scikit-learn's SGDRegressor",
}
MAX_STEPS_SEARCH = 10**300
CURVE_HORIZON = 10**15
"""The last step of a sampled loss curve (a plot's x-axis; past it the closed form is still exact, just not drawn)."""


def loss_steps(rate_gap: float | None, tol: float) -> int | None:
    """Worst-case steps for the loss gap to shrink by ``tol`` when the error contracts by 1 - rate_gap per step.

    The loss gap is quadratic in the error, so it contracts by (1 - g)² = 1 - g(2 - g) per step: the
    one meaning of "steps" condiag uses everywhere (f(x_T) - f* <= tol (f(x0) - f*)).
    """
    if rate_gap is None or not np.isfinite(rate_gap) or rate_gap <= 0.0:
        return None
    return iterations_for(rate_gap * (2.0 - rate_gap), tol)


def iterations_for(gap: float | None, tol: float) -> int | None:
    """Steps k with (1 - gap)**k <= tol, i.e. ceil(ln tol / ln(1 - gap)).

    The contraction is passed as its distance ``gap`` from 1 so that rates within
    1e-16 of 1 (condition numbers beyond 1e16) still give a count; ln(1 - gap) is
    evaluated with log1p. None when gap <= 0 (no contraction).
    """
    if gap is None or not np.isfinite(gap) or gap <= 0.0:
        return None
    if gap >= 1.0:
        return 1
    return max(1, math.ceil(math.log(tol) / math.log1p(-gap)))


@dataclass(frozen=True)
class MomentumParameters:
    """A (lr, beta) pair with its worst-case per-step contraction."""

    lr: float
    beta: float
    beta_gap: float
    """1 - beta, without cancellation."""
    rate: float
    rate_gap: float
    """1 - rate, computed without cancellation."""
    iterations_to_tol: int | None


@dataclass(frozen=True)
class ConventionThreshold:
    """The divergence threshold 2/L under one loss convention."""

    loss: str
    threshold: float
    used_by: str
    current: bool


@dataclass(frozen=True)
class LearningRateBounds:
    """Step-size limits and rates for the problem's own loss convention."""

    L: float
    mu: float | None
    """The mu the rates use: lambda_min, or the smallest non-zero eigenvalue on a singular H."""
    mu_is_restricted: bool
    """True when H is singular and mu is restricted to the directions the data determines."""
    divergence_threshold: float | None
    """2/L: gradient descent diverges for any larger lr (None when L = 0)."""
    optimal: float | None
    """2/(L + mu), the best fixed lr."""
    optimal_rate: float | None
    """(kappa - 1)/(kappa + 1), the error's contraction per step at the optimal lr."""
    optimal_rate_gap: float | None
    """1 - optimal_rate = 2/(kappa + 1), without cancellation."""
    iterations_to_tol: int | None
    """Steps at the optimal lr for the loss gap to shrink by ``tol`` (worst case over x0; see :func:`loss_steps`)."""
    tol: float
    heavy_ball: MomentumParameters | None
    nesterov: MomentumParameters | None
    by_convention: tuple[ConventionThreshold, ...]
    speedup_momentum: float | None
    """iterations_to_tol(GD at optimal lr) / iterations_to_tol(heavy ball)."""
    float32_threshold: float | None = None
    """With ``dtype='float32'``: every lr below it converges for the data rounded to float32 (a lower bound
    on 2/L32, see :func:`condiag.float32.float32_threshold`); None in float64."""


def learning_rate_bounds(problem: Problem, spectrum: Spectrum, tol: float) -> LearningRateBounds:
    """Compute :class:`LearningRateBounds` from the spectrum (formulas in the module docstring)."""
    L = spectrum.lambda_max
    mu = spectrum.lambda_min_nonzero
    restricted = mu is not None and spectrum.lambda_min < mu
    if L <= 0:
        return LearningRateBounds(L, mu, restricted, None, None, None, None, None, tol, None, None, (), None)
    threshold = 2.0 / L
    if mu is None or mu <= 0:
        optimal = optimal_rate = optimal_gap = iterations = None
        heavy = nesterov = None
        speedup = None
    else:
        kappa = L / mu
        optimal = 2.0 / (L + mu)
        optimal_rate = (kappa - 1.0) / (kappa + 1.0)
        optimal_gap = 2.0 / (kappa + 1.0)
        iterations = loss_steps(optimal_gap, tol)
        root = math.sqrt(kappa)
        q = (root - 1.0) / (root + 1.0)
        q_gap = 2.0 / (root + 1.0)
        heavy = MomentumParameters(
            4.0 / (math.sqrt(L) + math.sqrt(mu)) ** 2, q * q, q_gap * (2.0 - q_gap), q, q_gap, loss_steps(q_gap, tol)
        )
        nesterov = MomentumParameters(1.0 / L, q, q_gap, 1.0 - 1.0 / root, 1.0 / root, loss_steps(1.0 / root, tol))
        speedup = None
        if iterations and heavy.iterations_to_tol:
            speedup = iterations / heavy.iterations_to_tol
    conventions = []
    if not problem.is_quadratic:
        for loss in LOSS_CONVENTIONS:
            L_conv = 2.0 * loss_scale(loss, problem.n_samples) * spectrum.sigma_max**2 + 2.0 * problem.ridge
            conventions.append(
                ConventionThreshold(loss, 2.0 / L_conv if L_conv > 0 else float("inf"), CONVENTION_USERS[loss], loss == problem.loss)
            )
    return LearningRateBounds(
        L=L,
        mu=mu,
        mu_is_restricted=restricted,
        divergence_threshold=threshold,
        optimal=optimal,
        optimal_rate=optimal_rate,
        optimal_rate_gap=optimal_gap,
        iterations_to_tol=iterations,
        tol=tol,
        heavy_ball=heavy,
        nesterov=nesterov,
        by_convention=tuple(conventions),
        speedup_momentum=speedup,
    )


@dataclass(frozen=True)
class LearningRateCheck:
    """What gradient descent does at one learning rate, exactly."""

    lr: float
    stable: bool
    """lr < 2/L: the loss converges to its floor (for every x0)."""
    ratio_to_threshold: float | None
    """lr / (2/L)."""
    contraction_steepest: float
    """|1 - lr L|: per-step factor on the error along the steepest direction."""
    contraction_flattest: float
    """|1 - lr lambda| along the flattest direction the loss sees."""
    flattest_gap: float
    """lr lambda_flat: 1 - contraction_flattest without cancellation (when lr lambda_flat < 1)."""
    oscillating: bool
    """lr L > 1: the steepest component flips sign every step."""
    growth_factor: float
    """Largest per-step factor on the error among directions the loss sees (> 1: divergence)."""
    steps: int
    start_loss: float | None
    predicted_loss: float | None
    """f(x_T) in closed form; None when it exceeds the float64 range (see ``predicted_loss_log10``)."""
    predicted_loss_log10: float | None
    predicted_gap: float | None
    """f(x_T) - f*."""
    steps_to_tol: int | None
    """Smallest T with f(x_T) - f* <= tol (f(x0) - f*); None when never (unstable) or no gap."""
    overflow_step: int | None
    """Unstable lr: the step at which the loss passes ``overflow_level``."""
    loss_floor: float | None
    reason: str | None = None
    """Why a prediction is missing (e.g. no b given)."""
    dtype: str = "float64"
    """The user's precision: the lr is checked as that dtype holds it, and overflow is that dtype's."""
    overflow_level: float = 1e300
    """The loss level called overflow: 1e300 in float64, float32's largest value (3.4e38, then inf) in float32."""
    float32_loss: float | None = None
    """With ``dtype='float32'``: f after ``steps`` steps of GD run in float32 as PyTorch runs it (the exact loss
    of the float32 iterate; inf once it overflowed); None in float64 or when the run is too large."""
    float32_reaches_tol: bool | None = None
    """With ``dtype='float32'``: whether float32 can shrink the gap by ``tol`` at all (measured, see
    :class:`condiag.float32.Float32Measurement`); None when not measured."""
    curve_steps: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Steps at which the closed-form loss gap is sampled for plots: every step to 50, then 12 a decade, up to the
    later of ``steps`` and ``steps_to_tol`` (an unstable lr: up to ``overflow_step``); None without b."""
    curve_log_gap: np.ndarray | None = field(default=None, compare=False, repr=False)
    """ln(f(x_k) - f*) at ``curve_steps``, exact (−inf where the gap is zero)."""


def quadratic_model(problem: Problem, decomposition, x_star: np.ndarray, x0: np.ndarray, floor: float) -> QuadraticModel:
    """The problem around x*, in the Hessian's eigenbasis: e0 = Vᵀ(x0 - x*).

    Directions whose singular value is below the rank tolerance get curvature exactly
    2 ridge (zero without ridge): their computed curvature is rounding noise.
    """
    return QuadraticModel(
        eigenvalues=learned_eigenvalues(problem, decomposition),
        initial_error=decomposition.V.T @ (x0 - x_star),
        floor=floor,
    )


OVERFLOW_LEVEL = {"float64": 1e300, "float32": float(np.finfo(np.float32).max)}
"""Where a diverging loss is reported as overflowing, by the user's dtype."""


def check_learning_rate(
    lr: float,
    spectrum: Spectrum,
    model: QuadraticModel | None,
    steps: int,
    tol: float,
    reason: str | None = None,
    dtype: str = "float64",
) -> LearningRateCheck:
    """Exact behaviour of GD at ``lr`` for ``steps`` steps (see :mod:`condiag.trajectories`).

    With ``dtype="float32"`` the lr is the float32 number a float32 model holds (``np.float32(lr)``, which
    can round up across the threshold) and the overflow step is where the loss passes float32's largest value.
    """
    if dtype == "float32":
        lr = float(np.float32(lr))
    overflow_level = OVERFLOW_LEVEL[dtype]
    L = spectrum.lambda_max
    flat = spectrum.lambda_min_nonzero if spectrum.lambda_min_nonzero is not None else spectrum.lambda_min
    threshold = 2.0 / L if L > 0 else None
    # negative curvature (a non-convex quadratic): the iterate grows by 1 + lr·|λmin| per step at any lr
    negative = spectrum.lambda_min < -spectrum.rank_tol
    stable = (threshold is None or lr < threshold) and not negative
    method = LinearMethod("gd", lr)
    if model is None:
        lam = np.array([L, flat] + ([spectrum.lambda_min] if negative else []))
        growth = float(np.max(np.abs(1.0 - lr * lam)))
        steps_to_tol = None
        if stable:
            worst_gap = min(lr * flat, 2.0 - lr * L)  # 1 - max|1 - lr lambda| over the extremes
            steps_to_tol = loss_steps(worst_gap, tol)
        return LearningRateCheck(
            lr, stable, None if threshold is None else lr / threshold, abs(1 - lr * L), abs(1 - lr * flat), lr * flat,
            lr * L > 1, growth, steps, None, None, None, None, steps_to_tol, None, None, reason, dtype, overflow_level,
        )
    growth = growth_factor(model, method)
    log_start = log_gap(model, method, 0)
    log_T = log_gap(model, method, steps)
    floor = model.floor
    start_loss = floor + math.exp(log_start) if log_start > -np.inf else floor
    predicted_gap: float | None
    predicted_loss: float | None
    if log_T == -np.inf:
        predicted_gap, predicted_loss, loss_log10 = 0.0, floor, (math.log10(floor) if floor > 0 else None)
    elif log_T < 700:
        predicted_gap = math.exp(log_T)
        predicted_loss = floor + predicted_gap
        loss_log10 = math.log10(predicted_loss) if predicted_loss > 0 else None
    else:
        predicted_gap = predicted_loss = None
        loss_log10 = log_T / math.log(10.0)
    steps_to_tol = overflow_step = None
    if log_start == -np.inf:
        steps_to_tol = 0
    elif stable:
        steps_to_tol = first_step_below(model, method, log_start + math.log(tol), MAX_STEPS_SEARCH)
    else:
        overflow_step = first_step_above(model, method, math.log(overflow_level), MAX_STEPS_SEARCH)
    horizon = max(steps, steps_to_tol or 0) if overflow_step is None else overflow_step
    curve_steps = checkpoints(max(int(min(horizon, CURVE_HORIZON)), 1))
    return LearningRateCheck(
        lr=lr,
        stable=stable,
        ratio_to_threshold=None if threshold is None else lr / threshold,
        contraction_steepest=abs(1.0 - lr * L),
        contraction_flattest=abs(1.0 - lr * flat),
        flattest_gap=lr * flat,
        oscillating=lr * L > 1.0,
        growth_factor=growth,
        steps=steps,
        start_loss=start_loss,
        predicted_loss=predicted_loss,
        predicted_loss_log10=loss_log10,
        predicted_gap=predicted_gap,
        steps_to_tol=steps_to_tol,
        overflow_step=overflow_step,
        loss_floor=floor,
        reason=reason,
        dtype=dtype,
        overflow_level=overflow_level,
        curve_steps=curve_steps,
        curve_log_gap=log_gaps(model, method, curve_steps),
    )
