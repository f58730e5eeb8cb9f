"""Gradient descent and Newton's method on a smooth function, step by step, and where each run ends.

A run ends in one of these (:class:`Ending`):

* a **local minimum** / **saddle** / **local maximum** / **flat critical point**: the gradient is at most ``tol``
  of its start after the steps asked for (or the step fell below rounding, a fixed point, and the run stops
  there), and the Hessian's eigenvalues have those signs (an eigenvalue counts as zero within the Hessian's
  error estimate plus 1e-8·max|λ|); the run always takes every step asked for unless x can no longer change;
* a **cycle** of period p (2 ≤ p ≤ 8): x_k equals x_(k−p) to 1e-10 of its size for 3p steps while its p
  points differ by more than 1e-6 of it — gradient descent at an lr above 2/λ at the minimum hops around it forever;
* **left the domain**: a step landed where f is not defined (it returned NaN or raised a math error);
* **diverged**: f or x left the float64 range (|f| > 1e300, ‖x‖ > 1e150) or stopped being finite;
  **diverging**: not yet, but each of the last 10 steps was longer than the one before and f is above f(x0), or
  the gradient and the distance from x0 both grew 1e8-fold;
* **not converged** after the steps allowed.

Where a run is in a cycle, x_T for any later T is read off the cycle (that is exact when the cycle is; it is
reported as a cycle). The curvature along the way — λmax(∇²f(x_k)) against 2/lr — is sampled at the
checkpoints (every step to 50, then 12 a decade).

Newton's step is −η·H⁻¹g; when H is not positive definite that step does not go downhill in every direction:
towards a maximum along a negative eigenvalue (in one variable: towards a maximum). Each such step is counted
and the first is named, as is a singular H (Nocedal & Wright, *Numerical Optimization*, 2nd ed., §3.4).

The basin of x0 is where the gradient flow dx/dt = −∇f(x) from x0 ends (its minimum is the one gradient
descent with a small enough lr finds), integrated by a stiff ODE solver (scipy's LSODA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..trajectories import checkpoints

DIVERGED_LOSS = 1e300
OUTSIDE = "left the domain"
"""The ending of a run that stepped where f is not defined (NaN, or a math error such as log of a negative)."""
DIVERGED_NORM = 1e150
CYCLE_PERIODS = range(2, 9)
CYCLE_RTOL = 1e-10
CYCLE_DISTINCT = 1e-6
"""A cycle's points must differ by more than this (relative), else the run is converging to one point."""
ZERO_EIGENVALUE = 1e-8
"""An eigenvalue within this fraction of the largest |λ| (or the Hessian's error estimate) counts as zero."""


@dataclass(frozen=True)
class Ending:
    """Where a run ended."""

    kind: str
    """'local minimum', 'saddle', 'local maximum', 'flat critical point', 'cycle', 'left the domain', 'diverged',
    'diverging' or 'not converged'."""
    step: int
    """The step at which it was decided (the last step taken)."""
    x: np.ndarray
    value: float
    gradient_norm: float
    eigenvalues: np.ndarray | None = None
    """The Hessian's eigenvalues at x, ascending (None after divergence)."""
    period: int | None = None
    cycle: tuple = ()
    """The points of the cycle (its values of x), for kind 'cycle'."""


@dataclass(frozen=True)
class Path:
    """One run: its iterates at the recorded steps, and how it ended."""

    method: str
    """'gd', 'momentum', 'nesterov', 'adam', 'newton' or 'lbfgs'."""
    step_size: float
    """lr for the first-order methods, η for Newton (L-BFGS: 1, its line search picks the steps)."""
    steps: np.ndarray
    points: np.ndarray
    """x at each recorded step, one row each."""
    values: np.ndarray
    ending: Ending
    x_final: np.ndarray
    """x after the steps asked for (read off the cycle or the fixed point when the run stopped early)."""
    value_final: float
    steps_asked: int
    curvature_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    curvature_max: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """λmax(∇²f) at ``curvature_steps``."""
    curvature_min: np.ndarray = field(default_factory=lambda: np.zeros(0))
    uphill_steps: int = 0
    """Newton: steps taken where H was not positive definite (towards a maximum or a saddle)."""
    first_uphill: tuple | None = None
    """Newton: (step, x, λmin) of the first such step."""
    singular_at: int | None = None
    """Newton: the step at which H was singular (the run stopped)."""
    converged_step: int | None = None
    """The first step with ‖∇f‖ ≤ tol·‖∇f(x0)‖ (None if none)."""

    @property
    def label(self) -> str:
        """'GD lr = 0.1', 'Newton η = 1', 'L-BFGS', ...: the run named for a legend or a table."""
        if self.method == "lbfgs":
            return "L-BFGS"
        if self.method == "newton":
            return f"Newton η = {self.step_size:g}"
        return f"{METHOD_NAMES[self.method]} lr = {self.step_size:.4g}"


METHOD_NAMES = {"gd": "GD", "momentum": "heavy ball", "nesterov": "Nesterov", "adam": "Adam", "newton": "Newton", "lbfgs": "L-BFGS"}


def classify(function, x: np.ndarray, step: int, gradient_norm: float, value: float) -> Ending:
    """The critical point at x, by the signs of the Hessian's eigenvalues."""
    H, error = function.hessian(x)
    eigenvalues = np.linalg.eigvalsh(H)
    zero = max(ZERO_EIGENVALUE * float(np.max(np.abs(eigenvalues))), 10 * error)
    if np.all(eigenvalues > zero):
        kind = "local minimum"
    elif np.all(eigenvalues < -zero):
        kind = "local maximum"
    elif np.any(eigenvalues > zero) and np.any(eigenvalues < -zero):
        kind = "saddle"
    else:
        kind = "flat critical point"
    return Ending(kind, step, x.copy(), value, gradient_norm, eigenvalues)


def _cycle(history: list, period: int) -> bool:
    """The last 3·period iterates repeat with this period (and not with a divisor of it)."""
    if len(history) < 3 * period + 1:
        return False
    newest, lagged = history[-1], history[-1 - period]
    if float(np.max(np.abs(newest - lagged))) > CYCLE_RTOL * max(float(np.max(np.abs(newest))), float(np.max(np.abs(lagged)))):
        return False  # the newest iterate does not repeat: no need to look further back
    recent = np.array(history[-(3 * period + 1):])
    scale = max(float(np.max(np.abs(recent))), 1e-300)
    if not np.all(np.abs(recent[period:] - recent[:-period]) <= CYCLE_RTOL * scale):
        return False
    # a shorter period that nearly holds is the true one, still converging (its lag may settle later than this one's)
    last = recent[-period:]
    return not any(period % q == 0 and np.all(np.abs(last[q:] - last[:-q]) <= CYCLE_DISTINCT * scale)
                   for q in range(1, period))


def _growing(history: list) -> bool:
    """The last GROWING_STEPS steps each moved x further than the one before (a geometric blow-up under way)."""
    if len(history) < GROWING_STEPS + 2:
        return False
    lengths = np.linalg.norm(np.diff(np.array(history[-(GROWING_STEPS + 2):]), axis=0), axis=1)
    return bool(np.all(lengths[1:] > lengths[:-1]))


GROWING_STEPS = 10
ESCAPED = 1e8
"""A run whose gradient and distance from x0 both grew by this factor has left every scale of its start: diverging."""


FIRST_ORDER = ("gd", "momentum", "nesterov", "adam")
STATELESS = ("gd", "newton")
"""Methods whose next step depends on x alone: only for them is a repeated x a cycle, or a still x a fixed point."""


def first_order_step(method: str, lr: float, params: dict):
    """The move of one step, ``move(g, k)`` (x ← x − move), as torch.optim computes it: SGD (with momentum or
    Nesterov: buf = μ·buf + g, the first buf = g) and Adam (bias-corrected, eps outside the square root)."""
    if method == "gd":
        return lambda g, _k: lr * g
    if method in ("momentum", "nesterov"):
        mu = float(params.get("momentum", 0.9))
        state: dict[str, np.ndarray] = {}

        def heavy_ball(g, _k):
            state["buf"] = g.copy() if "buf" not in state else mu * state["buf"] + g
            return lr * (g + mu * state["buf"] if method == "nesterov" else state["buf"])
        return heavy_ball
    if method == "adam":
        beta1, beta2, eps = float(params.get("beta1", 0.9)), float(params.get("beta2", 0.999)), float(params.get("eps", 1e-8))
        moments: dict[str, Any] = {"m": 0.0, "v": 0.0}

        def adam(g, k):
            t = k + 1
            moments["m"] = beta1 * moments["m"] + (1 - beta1) * g
            moments["v"] = beta2 * moments["v"] + (1 - beta2) * g * g
            return lr * (moments["m"] / (1 - beta1**t)) / (np.sqrt(moments["v"] / (1 - beta2**t)) + eps)
        return adam
    raise ValueError(f"unknown method {method!r}")


def run(function, x0: np.ndarray, method: str, step_size: float, steps: int, tol: float, progress=None, params=None) -> Path:
    """``steps`` steps of ``method`` from x0 — gradient descent, heavy ball, Nesterov or Adam at lr = ``step_size``
    (:func:`first_order_step`), or Newton with η = ``step_size`` — stopping early at divergence, and for the
    stateless methods at a fixed point or a cycle."""
    x = np.asarray(x0, dtype=float).copy()
    stepper = first_order_step(method, step_size, params or {}) if method != "newton" else None
    recorded = {int(k) for k in checkpoints(max(steps, 1))}
    g = function.gradient(x)
    g0 = max(float(np.linalg.norm(g)), 1e-300)
    f = function.value(x)
    rec_steps, rec_points, rec_values = [0], [x.copy()], [f]
    curv_steps, curv_max, curv_min = [], [], []
    history = [x.copy()]
    uphill, first_uphill, singular_at = 0, None, None
    ending = converged_step = None
    k = 0
    while k < steps:
        if method == "newton":
            H, _error = function.hessian(x)
            lam = np.linalg.eigvalsh(H)
            curv_steps.append(k)
            curv_max.append(float(lam[-1]))
            curv_min.append(float(lam[0]))
            zero = ZERO_EIGENVALUE * max(float(np.max(np.abs(lam))), 1e-300)
            if np.any(np.abs(lam) <= zero):
                singular_at = k
                ending = Ending("not converged", k, x.copy(), f, float(np.linalg.norm(g)), lam)
                break
            if lam[0] < 0:
                uphill += 1
                if first_uphill is None:
                    first_uphill = (k, x.copy(), float(lam[0]))
            move = step_size * np.linalg.solve(H, g)
        else:
            if k in recorded and function.n <= 50:
                lam = np.linalg.eigvalsh(function.hessian(x)[0])
                curv_steps.append(k)
                curv_max.append(float(lam[-1]))
                curv_min.append(float(lam[0]))
            assert stepper is not None  # every method but Newton has one
            move = stepper(g, k)
        x_next = x - move
        k += 1
        if progress is not None:
            progress(f"{method} {step_size:g}", k, steps)
        f_next = function.value(x_next)
        if np.all(np.isfinite(x_next)) and math.isnan(f_next):  # f is not defined there
            rec_steps.append(k)
            rec_points.append(x_next.copy())
            rec_values.append(math.nan)
            ending = Ending(OUTSIDE, k, x_next, math.nan, math.nan)
            x, f = x_next, f_next
            break
        if not (np.all(np.isfinite(x_next)) and math.isfinite(f_next)) or abs(f_next) > DIVERGED_LOSS \
                or float(np.linalg.norm(x_next)) > DIVERGED_NORM:
            rec_steps.append(k)
            rec_points.append(np.where(np.isfinite(x_next), x_next, np.nan))
            rec_values.append(f_next if math.isfinite(f_next) else math.inf)
            ending = Ending("diverged", k, x_next, f_next, math.inf)
            x, f = x_next, f_next
            break
        fixed = float(np.linalg.norm(move)) <= EPS_STEP * max(float(np.linalg.norm(x)), 1e-300)
        x, f = x_next, f_next
        g = function.gradient(x)
        history.append(x.copy())
        if len(history) > 40:
            history.pop(0)
        if k in recorded:
            rec_steps.append(k)
            rec_points.append(x.copy())
            rec_values.append(f)
        gnorm = float(np.linalg.norm(g))
        if converged_step is None and gnorm <= tol * g0:
            converged_step = k
        if method not in STATELESS:
            continue
        if fixed or gnorm == 0.0:  # every later iterate is this one
            ending = classify(function, x, k, gnorm, f)
            break
        last_move = float(np.max(np.abs(history[-1] - history[-2]))) if len(history) > 1 else math.inf
        settling = last_move <= CYCLE_DISTINCT * max(float(np.max(np.abs(x))), 1e-300)  # converging to one point
        period = None if settling else next((p for p in CYCLE_PERIODS if _cycle(history, p)), None)
        if period is not None:
            points = tuple(np.array(history[-period:]))
            lam = np.linalg.eigvalsh(function.hessian(x)[0])
            ending = Ending("cycle", k, x.copy(), f, gnorm, lam, period, points)
            break
    if ending is None:
        gnorm = float(np.linalg.norm(g))
        if gnorm <= tol * g0:
            ending = classify(function, x, k, gnorm, f)
        else:
            escaped = gnorm >= ESCAPED * g0 and float(np.linalg.norm(x - x0)) >= ESCAPED * max(1.0, float(np.linalg.norm(x0)))
            kind = "diverging" if (_growing(history) and f > rec_values[0]) or escaped else "not converged"
            ending = Ending(kind, k, x.copy(), f, gnorm, np.linalg.eigvalsh(function.hessian(x)[0]))
    if rec_steps[-1] != k:
        rec_steps.append(k)
        rec_points.append(x.copy())
        rec_values.append(f)
    x_final, f_final = x, f
    if ending.kind == "cycle" and ending.period and k < steps:  # the point at step `steps` (cycle[i]: step k - period + 1 + i)
        x_final = np.array(ending.cycle[(steps - (k - ending.period + 1)) % ending.period])
        f_final = function.value(x_final)
    return Path(method, step_size, np.array(rec_steps, dtype=np.int64), np.array(rec_points), np.array(rec_values), ending,
                x_final, f_final, steps, np.array(curv_steps, dtype=np.int64), np.array(curv_max), np.array(curv_min),
                uphill, first_uphill, singular_at, converged_step)


EPS_STEP = 2 * float(np.finfo(float).eps)
"""A step shorter than this relative to ‖x‖ leaves x where it is in float64: a fixed point of the iteration."""


@dataclass(frozen=True)
class Basin:
    """The end of the gradient flow from x0."""

    ending: Ending
    time: float
    """The flow's time to get there (lr·steps for gradient descent with a small lr)."""


FLOW_EVALUATIONS = 3000
"""The gradient flow's budget of gradient evaluations: a flow that crawls into a degenerate minimum (f ~ |x|⁴)
reaches the gradient tolerance only after a time growing like a power of 1/tol; it is then reported as unsettled."""


class _FlowBudget(Exception):
    pass


def gradient_flow(function, x0: np.ndarray, tol: float, max_time: float = 1e8) -> Basin | None:
    """Integrate dx/dt = −∇f(x) from x0 until ‖∇f‖ ≤ tol·‖∇f(x0)‖ (LSODA), then polish by Newton steps while the
    Hessian is positive definite; None when the flow leaves every bound (f unbounded below along it), the solver
    fails, or it needs more than :data:`FLOW_EVALUATIONS` gradients."""
    from scipy.integrate import solve_ivp

    x0 = np.asarray(x0, dtype=float)
    g0 = max(float(np.linalg.norm(function.gradient(x0))), 1e-300)
    used = [0]

    def velocity(_t, x):
        used[0] += 1
        if used[0] > FLOW_EVALUATIONS:
            raise _FlowBudget
        return -function.gradient(x)

    def arrived(_t, x):
        return float(np.linalg.norm(function.gradient(x))) - tol * g0

    arrived.terminal = True  # type: ignore[attr-defined]  # solve_ivp reads event attributes

    def escaped(_t, x):
        return DIVERGED_NORM ** 0.5 - float(np.linalg.norm(x))

    escaped.terminal = True  # type: ignore[attr-defined]
    try:
        with np.errstate(all="ignore"):
            solution = solve_ivp(velocity, (0.0, max_time), x0, method="LSODA", events=(arrived, escaped), rtol=1e-10,
                                 atol=1e-12 * max(1.0, float(np.max(np.abs(x0)))))
    except _FlowBudget:
        return None
    if solution.status < 0 or (solution.t_events[1].size and not solution.t_events[0].size):
        return None
    x = solution.y[:, -1]
    if not solution.t_events[0].size:  # the time ran out before the gradient fell: no critical point reached
        return None
    # polish: Newton steps from the flow's end stay in its basin (quadratic convergence near a minimum)
    for _ in range(20):
        g = function.gradient(x)
        H, _error = function.hessian(x)
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        if np.linalg.eigvalsh(H)[0] <= 0 or not np.all(np.isfinite(step)):
            break
        x = x - step
        if float(np.linalg.norm(step)) <= EPS_STEP * max(float(np.linalg.norm(x)), 1e-300):
            break
    gnorm = float(np.linalg.norm(function.gradient(x)))
    if not (np.isfinite(gnorm) and gnorm <= 10 * tol * g0):  # the event fired on a NaN (f undefined near the end)
        return None
    return Basin(classify(function, x, 0, gnorm, function.value(x)), float(solution.t[-1]))


def lbfgs(function, x0: np.ndarray, steps: int, tol: float, memory: int = 10) -> Path:
    """scipy's L-BFGS-B (no bounds) from x0 for at most ``steps`` iterations, stopping when the gradient's largest
    entry is at most tol·‖∇f(x0)‖/√n; its iterates recorded through the callback."""
    from scipy.optimize import minimize

    x0 = np.asarray(x0, dtype=float)
    g0 = max(float(np.linalg.norm(function.gradient(x0))), 1e-300)
    points = [x0.copy()]

    def remember(intermediate_result):
        points.append(np.array(intermediate_result.x, dtype=float))

    with np.errstate(all="ignore"):
        result = minimize(function.value, x0, jac=function.gradient, method="L-BFGS-B", callback=remember,
                          options={"maxiter": steps, "maxcor": memory, "gtol": tol * g0 / np.sqrt(function.n), "ftol": 0.0})
    x = np.asarray(result.x, dtype=float)
    f = function.value(x)
    gnorm = float(np.linalg.norm(function.gradient(x)))
    k = len(points) - 1
    if np.all(np.isfinite(x)) and math.isnan(f):
        ending = Ending(OUTSIDE, k, x, f, math.nan)
    elif not (np.all(np.isfinite(x)) and math.isfinite(f)) or abs(f) > DIVERGED_LOSS:
        ending = Ending("diverged", k, x, f, math.inf)
    elif gnorm <= tol * g0:
        ending = classify(function, x, k, gnorm, f)
    else:
        ending = Ending("not converged", k, x, f, gnorm, np.linalg.eigvalsh(function.hessian(x)[0]))
    values = np.array([function.value(p) for p in points])
    converged = next((i for i, p in enumerate(points) if float(np.linalg.norm(function.gradient(p))) <= tol * g0), None)
    return Path("lbfgs", 1.0, np.arange(len(points), dtype=np.int64), np.array(points), values, ending, x, f, steps,
                converged_step=converged)
