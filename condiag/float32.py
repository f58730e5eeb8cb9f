"""What a float32 model does on the problem: its data, its limit and its runs, measured in float32.

A user who trains in float32 (PyTorch's default) holds three things differently from float64:

1. the data: A and b are rounded to float32, so the curvature L is that of fl32(A). With
   δ >= ||A - fl32(A)||_F >= ||A - fl32(A)||_2 (see :func:`rounding_distance`), Weyl's inequality gives σmax(fl32 A) <= σmax(A) + δ,
   hence L32 <= L + s (2 σmax δ + δ²) for least squares (H = s AᵀA + 2 ridge I) and
   λmax(fl32 Q) <= λmax(Q) + δ for a quadratic (Horn & Johnson, *Matrix Analysis*, 2nd ed., Cor. 7.3.5
   and Thm. 4.3.1). The float32 limit 2/L32 printed is the lower end: a guarantee, never an estimate;
2. the learning rate: the decimal lr is held as np.float32(lr), up to 2⁻²⁴ relative larger;
3. every step: the iteration rounds as PyTorch rounds (see :func:`condiag.solvers.first_order.float32_gradient`),
   so the loss stalls where float32 can no longer resolve the gradient. That floor is measured here
   by running the method itself in float32, never inferred from the bound cond(H)·2⁻²⁴.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .causes import FLOAT32_UNIT_ROUNDOFF
from .numbers import max_abs

FLOAT32_WORK_LIMIT = 5e8
"""Largest steps·n·d of a float32 run made to measure what float32 reaches (about a second of matvecs)."""


FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT32_HALF_SUBNORMAL = 2.0**-150
"""Half the smallest float32 subnormal: the absolute rounding error of entries in the subnormal range."""


def rounding_distance(problem) -> float:
    """An upper bound on δ = ||M - fl32(M)||_F for the problem's matrix M (A, or Q for a quadratic).

    Rounding to nearest moves each entry by at most u|m| (normal range) or 2⁻¹⁵⁰ (subnormal), so
    δ <= u ||M||_F + 2⁻¹⁵⁰ sqrt(nnz). The bound also holds for a streamed problem, whose R has the
    Frobenius norm of A (R = QᵀA with Q orthonormal). 0 when the data is stored in float32; inf when
    an entry is beyond float32's range (a float32 model cannot hold the data).
    """
    if problem.input_dtype == "float32":
        return 0.0
    data = problem.A.data if problem.sparse else np.asarray(problem.A)
    if max_abs(data) > FLOAT32_MAX:
        return float("inf")
    return FLOAT32_UNIT_ROUNDOFF * float(np.linalg.norm(np.ravel(data))) + FLOAT32_HALF_SUBNORMAL * np.sqrt(data.size)


def float32_curvature_bound(problem, spectrum) -> float:
    """An upper bound on L = λmax of the Hessian of the float32-rounded problem (module docstring, point 1)."""
    delta = rounding_distance(problem)
    ridge_rounding = 2.0 * problem.ridge * FLOAT32_UNIT_ROUNDOFF
    if problem.is_quadratic:
        return spectrum.lambda_max + delta + ridge_rounding
    return spectrum.lambda_max + problem.hessian_scale * (2.0 * spectrum.sigma_max * delta + delta * delta) + ridge_rounding


def float32_threshold(problem, spectrum) -> float | None:
    """The largest lr a float32 model holds below 2/L32 for every rounding of the data: 2/L32 shrunk by
    one float32 rounding of the lr itself (np.float32(lr) may be up to u larger than lr). None when L = 0."""
    bound = float32_curvature_bound(problem, spectrum)
    if not bound > 0 or not np.isfinite(bound):
        return None if bound == 0 else 0.0
    return 2.0 / bound * (1.0 - FLOAT32_UNIT_ROUNDOFF)


@dataclass(frozen=True)
class Float32Run:
    """Gradient descent run step by step in float32 at one lr."""

    lr: float
    steps: int
    """Steps run (fewer than asked when the iterate overflowed)."""
    loss: float
    """f of the float32 iterate after ``steps``, evaluated exactly (inf once it overflowed)."""


FINITE_CHECK_EVERY = 64
"""A float32 run checks for overflow every this many steps (its step count is then known to within them)."""


def float32_run(problem, solver, params: dict, steps: int, x0: np.ndarray) -> tuple[np.ndarray, int]:
    """(the float32 iterate after ``steps`` steps of ``solver`` (a first-order solver object, its own ``step``,
    so PyTorch's order of operations), the steps done): stops early, within :data:`FINITE_CHECK_EVERY` steps,
    once the iterate overflows."""
    from .solvers.first_order import float32_gradient

    with np.errstate(all="ignore"):  # data or x0 beyond float32's range become inf, as in a float32 model
        gradient = float32_gradient(problem)
        x = np.asarray(x0, dtype=np.float32)
        state = solver.init_state(x, params, None)
        g = gradient(x)
        for k in range(1, steps + 1):
            x = solver.step(x, g, state, params, k, None)
            if k % FINITE_CHECK_EVERY == 0 and not np.all(np.isfinite(x)):
                return x, k  # inf and NaN persist once reached, so a periodic check loses nothing but the exact step
            g = gradient(x)
    return x, steps


def affordable(problem, steps: int) -> bool:
    """A float32 run is made only within :data:`FLOAT32_WORK_LIMIT` and on the user's own data (a problem
    reduced by streaming would not round as the user's run rounds)."""
    return not problem.is_reduced and steps * problem.n_rows * problem.n_cols <= FLOAT32_WORK_LIMIT


def float32_gd_run(problem, lr: float, steps: int, x0: np.ndarray) -> Float32Run | None:
    """GD at ``lr`` for ``steps`` steps in float32 (:func:`float32_run`); None when not :func:`affordable`."""
    from .solvers.first_order import GradientDescent

    if not affordable(problem, steps):
        return None
    x, done = float32_run(problem, GradientDescent(), {"lr": lr}, steps, x0)
    loss = problem.value(x.astype(np.float64)) if np.all(np.isfinite(x)) else float("inf")
    return Float32Run(lr, done, loss)


@dataclass(frozen=True)
class Float32Measurement:
    """What a float32 run of the advised method actually reaches (the bound cond(H)·2⁻²⁴ is a worst case)."""

    method: str
    steps: int
    relative_error: float
    """||x - x*|| / ||x*|| at the end of the run (x* from the float64 reference)."""
    gap_fraction: float
    """(f(x) - f*) / (f(x0) - f*) at the end of the run."""


def measure_float32(problem, advice: dict, reference_x: np.ndarray, x0: np.ndarray) -> Float32Measurement | None:
    """Run the advised heavy ball (else gd) in float32, as PyTorch would, for twice its float64 step count.

    None when there is no advice, x* = 0, the problem is a reduced stand-in for the user's data, or the
    run would exceed :data:`FLOAT32_WORK_LIMIT`.
    """
    from .solvers.first_order import GradientDescent, HeavyBall

    name = "heavy_ball" if "heavy_ball" in advice else "gd"
    advised = advice.get(name)
    norm = float(np.linalg.norm(reference_x))
    if advised is None or advised.steps_to_tol is None or norm == 0.0:
        return None
    steps = 2 * advised.steps_to_tol + 10
    if not affordable(problem, steps):
        return None
    solver = HeavyBall() if name == "heavy_ball" else GradientDescent()
    params = {"lr": advised.lr} | ({"beta": advised.beta} if name == "heavy_ball" else {})
    x, done = float32_run(problem, solver, params, steps, x0)
    if not np.all(np.isfinite(x)):
        return None
    x = x.astype(np.float64)
    start_gap = problem.value(x0) - problem.value(reference_x)
    gap = problem.value(x) - problem.value(reference_x)
    return Float32Measurement(solver.name, done, float(np.linalg.norm(x - reference_x)) / norm,
                              float(gap / start_gap) if start_gap > 0 else 0.0)
