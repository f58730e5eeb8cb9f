"""Fits to a loss curve: the pieces :mod:`condiag.trace.diagnosis` turns into verdicts.

On a quadratic, gradient descent's loss is a sum of a few geometric sequences,

    f(x_t) - f* = Σ_i c_i r_i^t,   r_i = (1 - lr λ_i)²,   c_i = ½ λ_i e_i(0)² >= 0,

so a clean log is described exactly by a handful of (c_i, r_i) and a floor f*. :func:`exponential_fit`
recovers them: the matrix-pencil method (Hua & Sarkar, IEEE Trans. ASSP 38(5), 1990) gives starting
values, and a least-squares fit of log f in the log domain (every record weighted by its relative error,
so a curve spanning twenty decades is fitted at every decade) refines them, with the order chosen by the
Bayesian information criterion and standard errors from the Jacobian (inflated for correlated residuals).

Two facts about such a curve are used as tests: it is a sum of positive terms, each monotone in t, so it
never oscillates (a loss whose differences alternate in sign is not GD on a quadratic: momentum, or a
curvature at the edge of stability, lr·λ ≈ 2); and a growing term has r > 1, which at a known lr means
|1 - lr λ| = √r, so λ = (1 + √r)/lr (or (1 - √r)/lr < 0: negative curvature).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..numbers import sorted_unique

RELATIVE_NOISE_FLOOR = 1e-9
"""The smallest relative residual a fit is credited with: float64 rounding accumulated over a run stays far
below it, any physical noise is above it. Without it, the information criterion would add components that
only fit rounding."""
MAX_ORDER = 4
"""The most geometric terms fitted (plus the floor): a GD log shows the few directions it excites."""
PENCIL_POINTS = 400
"""Points given to the matrix pencil (a uniform subsample): its SVD costs O(N³)."""
FIT_POINTS = 2000
FIT_EVALUATIONS = 400
"""Evaluations (per parameter) a log-domain fit may spend in all."""
FLOOR_PROBE_EVALUATIONS = 40
"""Evaluations (per parameter) of the first, short run of a fit with a floor, and of each run after it (see
:func:`_refine`)."""
STAGNANT_CRITERION = 0.1
"""A fit with a floor stops once a run of :data:`FLOOR_PROBE_EVALUATIONS` per parameter lowered its information
criterion N log(RSS/N) by less than this: a hundredth of the price of one parameter (log N >= 10 from 2.2e4
records, 7.6 at the usual 2000), so the at most nine runs left could not move it by one parameter's price at that
pace. On a GD log the floor-fitting terms otherwise crawl through the whole budget (0.4 and 0.9 s on the sample's
2000 records) without changing which fit wins."""
FLOOR_DRIFT = 30.0
"""A fitted floor below e^-30 times every record is no floor."""
"""Points given to the log-domain refinement (an even subsample of a longer log)."""
CONFIDENCE = 0.95


@dataclass(frozen=True)
class RateFit:
    """A straight line through log f over steps: f ≈ f_a · factor^(s - s_a).

    Attributes
    ----------
    factor : float
        exp(slope), the loss's per-step factor.
    low, high : float
        Its 95% confidence interval (t-distribution, standard error inflated for lag-1 correlated residuals).
    first_step, last_step : float
        The steps the line was fitted over.
    points : int
    scatter : float
        Robust standard deviation of the residuals of log f (1.4826 · MAD): the relative noise.
    """

    factor: float
    low: float
    high: float
    first_step: float
    last_step: float
    points: int
    scatter: float


def _ar1_inflation(residuals: np.ndarray) -> float:
    """Variance inflation (1 + ρ)/(1 - ρ) for lag-1 correlated residuals (ρ clipped to [0, 0.98])."""
    if residuals.size < 4 or not np.any(residuals):
        return 1.0
    r = residuals - residuals.mean()
    denom = float(r @ r)
    rho = float(r[1:] @ r[:-1]) / denom if denom > 0 else 0.0
    rho = min(max(rho, 0.0), 0.98)
    return (1.0 + rho) / (1.0 - rho)


def _t_quantile(dof: int) -> float:
    from scipy.special import stdtrit

    return float(stdtrit(max(dof, 1), 0.5 + CONFIDENCE / 2))


def robust_scatter(values: np.ndarray) -> float:
    """1.4826 · median |v - median v|: the standard deviation of normal noise, unmoved by outliers."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def positive_records(steps, values) -> tuple[np.ndarray, np.ndarray]:
    """The records whose value is finite and positive (the fits work on log f), as float arrays."""
    steps = np.asarray(steps, dtype=float)
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values) & (values > 0)
    return steps[keep], values[keep]


def rate_fit(steps: np.ndarray, values: np.ndarray) -> RateFit | None:
    """Least-squares line through log(values) against steps; None with fewer than 3 positive finite points."""
    s, y = positive_records(steps, values)
    y = np.log(y)
    if s.size < 3 or s[-1] == s[0]:
        return None
    s0 = s - s.mean()
    slope = float(s0 @ (y - y.mean()) / (s0 @ s0))
    residuals = y - y.mean() - slope * s0
    dof = s.size - 2
    variance = float(residuals @ residuals) / dof * _ar1_inflation(residuals)
    se = math.sqrt(max(variance, 0.0) / float(s0 @ s0))
    half = _t_quantile(dof) * se
    return RateFit(math.exp(slope), math.exp(slope - half), math.exp(slope + half), float(s[0]), float(s[-1]), int(s.size),
                   robust_scatter(residuals))


# ---------------------------------------------------------------------------- sums of exponentials
@dataclass(frozen=True)
class Component:
    """One geometric term c · r^(s - s_0) of the loss."""

    factor: float
    """r, per optimizer step."""
    factor_se: float
    """Standard error of r."""
    amplitude: float
    """c, its size at the first fitted step."""


@dataclass(frozen=True)
class ExponentialFit:
    """f(s) ≈ floor + Σ c_i r_i^(s - first_step), fitted in the log domain.

    Attributes
    ----------
    components : tuple of Component
        Slowest (largest r) first.
    floor, floor_se : float
        The constant term (the level the loss tends to) and its standard error; 0 when the information
        criterion found no floor.
    first_step, last_step : float
    points : int
    residual : float
        Root-mean-square of log f - log model: the relative misfit.
    """

    components: tuple[Component, ...]
    floor: float
    floor_se: float
    first_step: float
    last_step: float
    points: int
    residual: float
    bic: float = 0.0
    """Its Bayesian information criterion (:func:`information_criterion`)."""

    def value(self, steps) -> np.ndarray:
        """The fitted curve at ``steps`` (log-domain sum, no overflow)."""
        s = np.asarray(steps, dtype=float) - self.first_step
        terms = [np.log(c.amplitude) + s * np.log(c.factor) for c in self.components]
        if self.floor > 0:
            terms.append(np.full_like(s, math.log(self.floor)))
        if not terms:
            return np.zeros_like(s)
        stacked = np.vstack(terms)
        peak = stacked.max(axis=0)
        return np.exp(peak) * np.exp(stacked - peak).sum(axis=0)

    def first_step_below(self, level: float, limit: float = 1e18) -> float | None:
        """The first step (at or after the fit's first step) at which floor + Σ c r^s <= level; None if never
        before ``limit`` (the sum is monotone once every component decays)."""
        if level <= self.floor or any(c.factor >= 1 for c in self.components):
            return None
        lo, hi = 0.0, 1.0
        while self.value([self.first_step + hi])[0] > level:
            lo, hi = hi, hi * 2
            if hi > limit:
                return None
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if self.value([self.first_step + mid])[0] > level:
                lo = mid
            else:
                hi = mid
            if hi - lo <= 0.5:
                break
        return self.first_step + math.ceil(hi)


def _subsample(n: int, size: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return sorted_unique(np.round(np.linspace(0, n - 1, size)).astype(int))


def pencil_factors(values: np.ndarray, order: int) -> np.ndarray:
    """The ``order`` poles z_i of y_k = Σ c_i z_i^k from uniformly spaced samples (matrix pencil, total least
    squares: the eigenvalues of V₁⁺V₂ for the leading right singular vectors V of the Hankel matrix)."""
    y = np.asarray(values, dtype=float)
    n = y.size
    pencil = n // 2
    if order < 1 or n < 2 * order + 1 or pencil <= order:
        return np.array([])
    from numpy.lib.stride_tricks import sliding_window_view

    hankel = sliding_window_view(y, pencil + 1)  # (n - pencil) x (pencil + 1)
    scale = np.max(np.abs(y))
    _u, _s, vh = np.linalg.svd(hankel / scale, full_matrices=False)
    v = vh[:order].T
    return np.linalg.eigvals(np.linalg.pinv(v[:-1]) @ v[1:])


def _model_logs(params: np.ndarray, s: np.ndarray, order: int, with_floor: bool):
    a, b = params[:order], params[order:2 * order]
    logs = a[:, None] + b[:, None] * s[None, :]
    if with_floor:
        logs = np.vstack([logs, np.full((1, s.size), params[2 * order])])
    peak = logs.max(axis=0)
    weights = np.exp(logs - peak)
    total = weights.sum(axis=0)
    return peak + np.log(total), weights / total


def _refine(s: np.ndarray, logy: np.ndarray, start: np.ndarray, order: int, with_floor: bool):
    """Least squares on log f - log(floor + Σ exp(a_i + b_i s)); returns (params, residuals, jacobian) or None."""
    from scipy.optimize import least_squares

    last: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def model(p):
        # MINPACK's LM asks for the Jacobian at the point whose residual it has just accepted: one evaluation
        # serves both (the values are the same bits either way)
        key = p.tobytes()
        if key not in last:
            last.clear()
            last[key] = _model_logs(p, s, order, with_floor)
        return last[key]

    def residual(p):
        return model(p)[0] - logy

    def jacobian(p):
        # d log f / d a_i = w_i, d log f / d b_i = w_i s, d log f / d log(floor) = w_floor
        w = model(p)[1]
        jac = np.empty((s.size, w.shape[0] + order))
        jac[:, :order] = w[:order].T
        jac[:, order:2 * order] = (w[:order] * s).T
        if with_floor:
            jac[:, 2 * order] = w[order]
        return jac

    def solve(p0, budget):
        return least_squares(residual, p0, jac=jacobian, method="lm", x_scale="jac", max_nfev=budget * start.size,
                             xtol=1e-15, ftol=1e-15, gtol=1e-15)

    try:
        if with_floor:
            # On a log with no floor the floor term drifts towards 0 (its log to -inf) and LM never stops: a short
            # first run; when its floor sits below e^-FLOOR_DRIFT of every record it is no floor (the fit is the
            # floor-free one, which the BIC then prefers), else LM continues, in runs of the same length, while
            # each still moves the fit's information criterion (:data:`STAGNANT_CRITERION`), up to the full budget.
            solution = solve(start, FLOOR_PROBE_EVALUATIONS)
            if solution.status == 0 and solution.x[-1] > float(np.min(logy)) - FLOOR_DRIFT:
                spent = FLOOR_PROBE_EVALUATIONS
                while solution.status == 0 and spent < FIT_EVALUATIONS:
                    before = information_criterion(solution.fun, 0)
                    solution = solve(solution.x, min(FLOOR_PROBE_EVALUATIONS, FIT_EVALUATIONS - spent))
                    spent += FLOOR_PROBE_EVALUATIONS
                    if before - information_criterion(solution.fun, 0) < STAGNANT_CRITERION:
                        break
        else:
            solution = solve(start, FIT_EVALUATIONS)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError):
        return None
    if not np.all(np.isfinite(solution.x)):
        return None
    return solution.x, solution.fun, jacobian(solution.x)


def _prune(params, residuals, jac, s, order: int, with_floor: bool):
    """Drop the terms whose largest share of the curve over the fitted steps is below
    :data:`RELATIVE_NOISE_FLOOR` (they fit nothing); returns (params, residuals, jacobian, terms kept)."""
    weights = _model_logs(params, s, order, with_floor)[1]
    alive = weights[:order].max(axis=1) >= RELATIVE_NOISE_FLOOR
    if alive.all() or not alive.any():
        return params, residuals, jac, order
    keep = np.concatenate([np.flatnonzero(alive), order + np.flatnonzero(alive)] + ([[2 * order]] if with_floor else []))
    kept = int(alive.sum())
    return params[keep], residuals, jac[:, keep], kept


def _starts(s_uniform: np.ndarray, y_uniform: np.ndarray, order: int):
    """Starting (a_i, b_i) for ``order`` terms from the matrix pencil on the uniform resample (its real positive
    poles; None when it has fewer)."""
    step = s_uniform[1] - s_uniform[0]
    poles = pencil_factors(y_uniform, order)
    real = np.sort(poles.real[(np.abs(poles.imag) <= 1e-6 * np.abs(poles)) & (poles.real > 0)])[::-1]
    if real.size < order:
        return None
    b = np.log(real) / step
    vander = np.exp(np.outer(s_uniform, b))
    weights = 1.0 / np.maximum(np.abs(y_uniform), np.finfo(float).tiny)
    try:
        c = np.linalg.lstsq(vander * weights[:, None], y_uniform * weights, rcond=None)[0]
    except np.linalg.LinAlgError:
        return None
    c = np.where(c > 0, c, np.max(np.abs(y_uniform)) * 1e-3)
    return np.concatenate([np.log(c), b])


def exponential_fit(steps, values, max_order: int = MAX_ORDER) -> ExponentialFit | None:
    """Fit floor + Σ c_i r_i^s to a loss curve (:func:`_exponential_fit`); overflow in a trial fit is no error."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        return _exponential_fit(steps, values, max_order)


def _exponential_fit(steps, values, max_order: int = MAX_ORDER) -> ExponentialFit | None:
    """Fit floor + Σ c_i r_i^s to a loss curve (module docstring); None when nothing fits.

    Parameters
    ----------
    steps, values : array_like
        The records (finite, positive values only are used), steps increasing.
    max_order : int
        The most geometric terms tried.

    Returns
    -------
    ExponentialFit or None
        The fit whose Bayesian information criterion, N log(RSS/N) + k log N with RSS floored at
        N·:data:`RELATIVE_NOISE_FLOOR`², is smallest over orders 1..max_order with and without a floor.
    """
    steps, values = positive_records(steps, values)
    if steps.size < 4:
        return None
    first = steps[0]
    picked = _subsample(steps.size, FIT_POINTS)
    s, logy = steps[picked] - first, np.log(values[picked])
    span = s[-1]
    grid = np.linspace(0.0, span, min(PENCIL_POINTS, steps.size))
    y_uniform = np.exp(np.interp(grid, s, logy))
    n = s.size
    best = None
    previous = None  # the best terms of the order below, grown by one term as a second start
    for order in range(1, max_order + 1):
        if 2 * order + 1 >= n:
            break
        start = _starts(grid, y_uniform, order)
        starts = [] if start is None else [start]
        if previous is not None:
            a, b = previous[: order - 1], previous[order - 1: 2 * order - 2]
            starts.append(np.concatenate([a, [np.min(a) - 2.0], b, [2.0 * np.min(b) - 1.0 / max(span, 1.0)]]))
        if order == 1 and not starts:
            line = rate_fit(steps, values)
            starts.append(np.array([logy[0], math.log(line.factor) if line is not None else 0.0]))
        best_here = None
        for p_start in starts:
            for with_floor in (False, True):
                p0 = p_start if not with_floor else np.append(p_start, logy[-1] - 0.5)
                refined = _refine(s, logy, p0, order, with_floor)
                if refined is None:
                    continue
                params, residuals, jac = refined
                params, residuals, jac, kept = _prune(params, residuals, jac, s, order, with_floor)
                bic = information_criterion(residuals, 2 * kept + with_floor)
                candidate = (bic, kept, with_floor, params, residuals, jac)
                if best is None or bic < best[0] - 1e-9:
                    best = candidate
                if kept == order and not with_floor and (best_here is None or bic < best_here[0]):
                    best_here = candidate
        previous = best_here[3] if best_here is not None else None
        if best is not None and best[1] < order - 1:
            break  # two orders without a better fit: more terms only fit noise
    if best is None:
        return None
    bic, order, with_floor, params, residuals, jac = best
    n_params = 2 * order + with_floor
    variance = max(float(residuals @ residuals) / max(n - n_params, 1), RELATIVE_NOISE_FLOOR**2) * _ar1_inflation(residuals)
    try:
        covariance = variance * np.linalg.pinv(jac.T @ jac)
    except np.linalg.LinAlgError:
        covariance = np.full((n_params, n_params), np.inf)
    se = np.sqrt(np.maximum(np.diag(covariance), 0.0))
    components = []
    for i in range(order):
        factor = math.exp(params[order + i])
        components.append(Component(factor, factor * float(se[order + i]), math.exp(params[i])))
    components.sort(key=lambda c: -c.factor)
    floor = math.exp(params[2 * order]) if with_floor else 0.0
    floor_se = floor * float(se[2 * order]) if with_floor else 0.0
    return ExponentialFit(tuple(components), floor, floor_se, float(first), float(steps[-1]), int(n),
                          float(np.sqrt(np.mean(residuals**2))), bic)


# ---------------------------------------------------------------------------- shapes
SPIKE_RATIO = 2.0
"""A spike rises at least this factor above the local level..."""
SPIKE_SIGMAS = 6.0
"""... and this many robust standard deviations of the log's own scatter."""
SPIKE_WINDOW = 11
"""Records in the running median that defines the local level."""
SPIKE_MAX_WIDTH = 5
"""A rise lasting more records than this is not a spike (a phase change, or divergence)."""


@dataclass(frozen=True)
class Spike:
    step: float
    """The step of the highest record of the spike."""
    ratio: float
    """Its loss over the local level."""
    recovery_steps: float | None
    """Steps from the spike's top until the loss is back within the spike threshold; None if it never is."""


def running_median(values: np.ndarray, window: int) -> np.ndarray:
    """Median over a centred window (shrunk at the ends)."""
    values = np.asarray(values, dtype=float)
    n = values.size
    half = window // 2
    if n == 0:
        return values
    padded = np.concatenate([np.full(half, values[0]), values, np.full(half, values[-1])])
    from numpy.lib.stride_tricks import sliding_window_view

    return np.median(sliding_window_view(padded, window), axis=1)[:n]


def find_spikes(steps: np.ndarray, loss: np.ndarray) -> tuple[Spike, ...]:
    """Isolated jumps in a finite, positive loss: records at least :data:`SPIKE_RATIO` times and
    :data:`SPIKE_SIGMAS` robust deviations above the running median, lasting at most :data:`SPIKE_MAX_WIDTH`
    records before the loss is back."""
    logs = np.log(loss)
    if logs.size < SPIKE_WINDOW:
        return ()
    level = running_median(logs, SPIKE_WINDOW)
    residual = logs - level
    threshold = max(math.log(SPIKE_RATIO), SPIKE_SIGMAS * robust_scatter(np.diff(logs)) / math.sqrt(2))
    above = residual > threshold
    spikes = []
    k = 0
    n = logs.size
    while k < n:
        if not above[k]:
            k += 1
            continue
        end = k
        while end + 1 < n and above[end + 1]:
            end += 1
        if end - k + 1 <= SPIKE_MAX_WIDTH and k > 0:
            top = k + int(np.argmax(residual[k:end + 1]))
            recovered = end + 1 if end + 1 < n else None
            spikes.append(Spike(float(steps[top]), float(math.exp(residual[top])),
                                None if recovered is None else float(steps[recovered] - steps[top])))
        k = end + 1
    return tuple(spikes)


ALTERNATION_SHARE = 0.9
"""A window oscillates with period 2 when at least this share of consecutive differences change sign..."""
ALTERNATION_MIN_DIFFS = 8
"""... over at least this many differences."""


@dataclass(frozen=True)
class Alternation:
    share: float
    """Share of consecutive loss differences that change sign (noise gives about 2/3, period 2 gives 1)."""
    first_step: float
    last_step: float
    amplitude: float
    """Median |f(t+1) - f(t)| / f(t) in the window: the relative size of the swing."""


def alternation(steps: np.ndarray, loss: np.ndarray) -> Alternation | None:
    """The period-2 test on the last stretch of records logged one step apart; None when the log is not logged
    every step there, or has too few records."""
    steps = np.asarray(steps, dtype=float)
    loss = np.asarray(loss, dtype=float)
    unit = np.flatnonzero(np.diff(steps) != 1)
    begin = int(unit[-1]) + 1 if unit.size else 0
    s, f = steps[begin:], loss[begin:]
    if f.size < ALTERNATION_MIN_DIFFS + 2:
        return None
    d = np.diff(f)
    flips = np.sign(d[1:]) * np.sign(d[:-1]) < 0
    # the longest run of flips at the end of the stretch
    tail = flips[::-1]
    stop = int(np.argmin(tail)) if not tail.all() else tail.size
    window = max(stop, min(flips.size, 4 * ALTERNATION_MIN_DIFFS))
    share = float(np.mean(flips[-window:]))
    lo = s.size - window - 2
    return Alternation(share, float(s[lo]), float(s[-1]), float(np.median(np.abs(d[-window:]) / np.abs(f[-window - 1:-1]))))


# ---------------------------------------------------------------------------- power laws
@dataclass(frozen=True)
class PowerFit:
    """f(s) ≈ c (s - first_step + offset)^(-exponent): sublinear convergence (gradient descent on a convex
    function that is not strongly convex decays like 1/t, SGD with a decaying lr like a power of t)."""

    amplitude: float
    exponent: float
    exponent_se: float
    offset: float
    first_step: float
    residual: float
    """Root-mean-square of log f - log model."""
    bic: float

    def value(self, steps) -> np.ndarray:
        s = np.asarray(steps, dtype=float) - self.first_step + self.offset
        return self.amplitude * s ** -self.exponent

    def first_step_below(self, level: float) -> float | None:
        if level <= 0 or self.exponent <= 0:
            return None
        return self.first_step - self.offset + (self.amplitude / level) ** (1.0 / self.exponent)


def information_criterion(residuals: np.ndarray, parameters: int) -> float:
    """N log(RSS/N) + k log N with RSS floored at N·:data:`RELATIVE_NOISE_FLOOR`² (the one rule both fits use)."""
    n = residuals.size
    rss = max(float(residuals @ residuals), n * RELATIVE_NOISE_FLOOR**2)
    return n * math.log(rss / n) + parameters * math.log(n)


def power_fit(steps, values) -> PowerFit | None:
    """Least squares of log f on log(s - s₀ + τ) with c, p and τ > 0 free; None with fewer than 5 points."""
    from scipy.optimize import least_squares

    steps, values = positive_records(steps, values)
    if steps.size < 5:
        return None
    picked = _subsample(steps.size, FIT_POINTS)
    s, logy = steps[picked] - steps[0], np.log(values[picked])
    spacing = float(np.median(np.diff(s))) if s.size > 1 else 1.0

    def residual(p):
        return p[0] - p[1] * np.log(s + np.exp(p[2])) - logy

    def jacobian(p):
        tau = np.exp(p[2])
        return np.column_stack([np.ones_like(s), -np.log(s + tau), -p[1] * tau / (s + tau)])

    tau0 = max(spacing, 1.0)
    x = np.log(s + tau0)
    slope = float(np.polyfit(x, logy, 1)[0]) if np.ptp(x) > 0 else 0.0
    start = np.array([float(np.mean(logy - slope * x)), -slope, math.log(tau0)])
    with np.errstate(all="ignore"):
        try:
            solution = least_squares(residual, start, jac=jacobian, method="lm", x_scale="jac", max_nfev=2000)
        except (ValueError, np.linalg.LinAlgError):
            return None
    span = float(s[-1]) or 1.0
    if not np.all(np.isfinite(solution.x)) or solution.x[2] > math.log(1e6 * span) or abs(solution.x[0]) > 700:
        return None  # an offset far beyond the log is an exponential in disguise, not a power law
    res = solution.fun
    jac = jacobian(solution.x)
    variance = max(float(res @ res) / max(res.size - 3, 1), RELATIVE_NOISE_FLOOR**2) * _ar1_inflation(res)
    covariance = variance * np.linalg.pinv(jac.T @ jac)
    return PowerFit(math.exp(solution.x[0]), float(solution.x[1]), float(math.sqrt(max(covariance[1, 1], 0.0))),
                    math.exp(solution.x[2]), float(steps[0]), float(np.sqrt(np.mean(res**2))), information_criterion(res, 3))
