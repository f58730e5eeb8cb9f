"""Exact loss trajectories of linear first-order methods on a quadratic, in closed form.

On f(x) = f* + ½ (x - x*)ᵀ H (x - x*) with H = V diag(lambda) Vᵀ, the error
e = Vᵀ(x - x*) of gradient descent, heavy-ball momentum and Nesterov's method with
fixed parameters evolves independently along each eigenvector by a two-term recurrence

    e_{k+1} = a_i e_k + c_i e_{k-1},   e_{-1} = e_0 (the methods start at rest),

with (Polyak 1964; Nesterov 1983; see also Goh, "Why Momentum Really Works", Distill 2017)

* gradient descent      x_{k+1} = x_k - lr ∇f(x_k):          a = 1 - lr λ,          c = 0
* heavy ball            x_{k+1} = x_k - lr ∇f(x_k) + β (x_k - x_{k-1}):  a = 1 + β - lr λ, c = -β
* Nesterov              y_k = x_k + β (x_k - x_{k-1}), x_{k+1} = y_k - lr ∇f(y_k):
                                                   a = (1 + β)(1 - lr λ), c = -β (1 - lr λ)

so the loss gap after k steps is ½ Σ λ_i e_i(k)^2, evaluated here for any k (10^9 included)
by 2x2 matrix powers computed with repeated squaring, in logarithmic scale so that
neither overflow nor underflow occurs. Nothing is iterated k times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG_1E300 = 300.0 * np.log(10.0)


@dataclass(frozen=True)
class QuadraticModel:
    """A convex quadratic seen from its eigenbasis: f(x) = floor + ½ Σ λ_i e_i²."""

    eigenvalues: np.ndarray
    """λ_i of the Hessian, one per direction."""
    initial_error: np.ndarray
    """e_i(0) = v_iᵀ(x0 - x*)."""
    floor: float
    """f(x*), the smallest value of f."""
    complement_eigenvalue: float = 0.0
    """Eigenvalue shared by directions not listed (a null space), with ..."""
    complement_error_sq: float = 0.0
    """... the squared norm of the initial error in them."""

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(λ_i, ½ λ_i e_i²) for the directions that contribute to the loss gap."""
        lam = np.append(self.eigenvalues, self.complement_eigenvalue)
        e2 = np.append(self.initial_error**2, self.complement_error_sq)
        w = 0.5 * lam * e2
        keep = w > 0
        return lam[keep], w[keep]

    @property
    def initial_gap(self) -> float:
        return float(np.sum(self.weights()[1]))


@dataclass(frozen=True)
class LinearMethod:
    """A fixed-parameter method: lr and momentum beta, with its recurrence kind."""

    kind: str  # "gd", "heavy-ball" or "nesterov"
    lr: float
    beta: float = 0.0

    def log_gd_factor(self, lam: np.ndarray) -> np.ndarray:
        """log|1 - lr λ| without cancellation (log1p when lr λ < 1): exact even for lr λ ~ 1e-25."""
        step = self.lr * lam
        with np.errstate(divide="ignore"):
            return np.where(step < 1.0, np.log1p(-np.minimum(step, 1.0)), np.log(np.abs(step - 1.0)))

    def coefficients(self, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(a_i, c_i) of e_{k+1} = a e_k + c e_{k-1} for each eigenvalue."""
        step = 1.0 - self.lr * lam
        if self.kind == "gd":
            return step, np.zeros_like(lam)
        if self.kind == "heavy-ball":
            return step + self.beta, np.full_like(lam, -self.beta)
        if self.kind == "nesterov":
            return (1.0 + self.beta) * step, -self.beta * step
        raise ValueError(f"unknown linear method {self.kind!r}")


def _log_abs(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.abs(x))


def _logsumexp(logs: np.ndarray) -> float:
    if logs.size == 0:
        return -np.inf
    top = float(np.max(logs))
    if not np.isfinite(top):
        return top
    return top + float(np.log(np.sum(np.exp(logs - top))))


def _error_factors(a: np.ndarray, c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(log|r_i(k)|, sign r_i(k)) with e_i(k) = r_i(k) e_i(0) for the recurrence with e_{-1} = e_0."""
    if k == 0:
        return np.zeros_like(a), np.ones_like(a)
    if not np.any(c):
        with np.errstate(divide="ignore"):
            return k * np.log(np.abs(a)), np.where(a < 0, (-1.0) ** (k % 2), 1.0) * (a != 0)
    # M = [[a, c], [1, 0]] acting on (e_k, e_{k-1}); M^k by repeated squaring with scaling.
    n = a.size
    result = np.zeros((n, 2, 2))
    result[:, 0, 0] = result[:, 1, 1] = 1.0
    result_log = np.zeros(n)
    base = np.zeros((n, 2, 2))
    base[:, 0, 0], base[:, 0, 1], base[:, 1, 0] = a, c, 1.0
    base_log = np.zeros(n)
    power = k
    while power:
        if power & 1:
            result = np.einsum("nij,njk->nik", result, base)
            result_log = result_log + base_log
            scale = np.max(np.abs(result), axis=(1, 2))
            scale[scale == 0] = 1.0
            result /= scale[:, None, None]
            result_log += np.log(scale)
        power >>= 1
        if power:
            base = np.einsum("nij,njk->nik", base, base)
            base_log = 2 * base_log
            scale = np.max(np.abs(base), axis=(1, 2))
            scale[scale == 0] = 1.0
            base /= scale[:, None, None]
            base_log += np.log(scale)
    first = result[:, 0, 0] + result[:, 0, 1]  # e_k for e_0 = e_{-1} = 1
    with np.errstate(divide="ignore"):
        return np.log(np.abs(first)) + result_log, np.sign(first)


def _error_logs(a: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """log|e_i(k) / e_i(0)|."""
    return _error_factors(a, c, k)[0]


def error_at(model: QuadraticModel, method: LinearMethod, k: int) -> np.ndarray | None:
    """e(k) = Vᵀ(x_k - x*) along the listed directions, or None if it overflows float64."""
    lam = model.eigenvalues
    if method.kind == "gd":
        logs = float(k) * method.log_gd_factor(lam) if k else np.zeros_like(lam)
        step = 1.0 - method.lr * lam
        signs = np.where(step < 0, (-1.0) ** (int(k) % 2), 1.0) if k else np.ones_like(lam)
    else:
        a, c = method.coefficients(lam)
        logs, signs = _error_factors(a, c, int(k))
    with np.errstate(over="ignore", invalid="ignore"):
        magnitude = np.exp(logs + np.log(np.abs(model.initial_error) + 0.0, where=model.initial_error != 0, out=np.full_like(logs, -np.inf)))
    if not np.all(np.isfinite(magnitude)):
        return None
    return signs * np.sign(model.initial_error) * magnitude


def log_gap(model: QuadraticModel, method: LinearMethod, k) -> float:
    """log of the loss gap f(x_k) - f* (``-inf`` when it is exactly zero).

    Gradient descent accepts any k (up to 1e300) since its factor is a plain power.
    """
    lam, w = model.weights()
    if w.size == 0:
        return -np.inf
    if float(k) == 0.0:
        return _logsumexp(np.log(w))
    if method.kind == "gd":
        return _logsumexp(np.log(w) + 2.0 * float(k) * method.log_gd_factor(lam))
    a, c = method.coefficients(lam)
    logs = np.log(w) + 2.0 * _error_logs(a, c, int(k))
    return _logsumexp(logs)


def gap(model: QuadraticModel, method: LinearMethod, k: int) -> float:
    """f(x_k) - f*, or ``inf`` when it exceeds the float64 range."""
    value = log_gap(model, method, k)
    return float(np.exp(value)) if value < 709.0 else float("inf")


def growth_factor(model: QuadraticModel, method: LinearMethod) -> float:
    """Asymptotic factor by which |e| changes per step in the worst direction the loss sees.

    The spectral radius max_i rho(M_i) of the per-direction recurrence matrices.
    """
    lam, w = model.weights()
    if lam.size == 0:
        return 0.0
    return spectral_radius(method, lam)


def spectral_radius(method: LinearMethod, lam: np.ndarray) -> float:
    """max_i of the spectral radius of [[a_i, c_i], [1, 0]] (|a_i| for gradient descent)."""
    a, c = method.coefficients(np.asarray(lam, dtype=float))
    if not np.any(c):
        return float(np.max(np.abs(a)))
    disc = (a.astype(complex) ** 2 + 4 * c) ** 0.5
    roots = np.maximum(np.abs((a + disc) / 2), np.abs((a - disc) / 2))
    return float(np.max(roots))


def _bisect(holds, lo: int, hi: int) -> int:
    """Smallest k in (lo, hi] with holds(k), given holds(hi) and not holds(lo) (and one crossing between)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if holds(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _first_step(model: QuadraticModel, method: LinearMethod, holds, limit: int) -> int | None:
    """First k <= limit with holds(log gap(k)).

    Gradient descent: log gap(k) is a log-sum-exp of functions linear in k, hence convex, so the set
    where it is below (or above) a level is an interval from one end and bisection over [0, limit]
    finds the exact first step. Momentum methods can oscillate: the checkpoints of :func:`checkpoints`
    are scanned for the first one that holds and the step is bisected between it and the checkpoint before.
    """
    def at(k):
        return holds(log_gap(model, method, k))

    if at(0):
        return 0
    if method.kind == "gd":
        return _bisect(at, 0, limit) if at(limit) else None
    grid = checkpoints(limit)
    hit = next((int(k) for k in grid if k > 0 and at(int(k))), None)
    if hit is None:
        return None
    return _bisect(at, int(grid[np.searchsorted(grid, hit) - 1]), hit)


def first_step_below(model: QuadraticModel, method: LinearMethod, log_target: float, limit: int) -> int | None:
    """Smallest k <= limit with log gap(k) <= log_target (convergence), or None; see :func:`_first_step`."""
    return _first_step(model, method, lambda value: value <= log_target, limit)


def first_step_above(model: QuadraticModel, method: LinearMethod, log_target: float, limit: int) -> int | None:
    """Smallest k <= limit with log gap(k) >= log_target (divergence, overflow), or None; see :func:`_first_step`."""
    if log_target == -np.inf or limit < 1:
        return None
    return _first_step(model, method, lambda value: value >= log_target, limit)


def checkpoints(max_iter: int, per_decade: int = 12) -> np.ndarray:
    """Iterations 0..max_iter at which to record a history: every step up to 50, then log-spaced."""
    head = np.arange(0, min(max_iter, 50) + 1)
    if max_iter <= 50:
        return head
    tail = np.unique(np.round(np.logspace(np.log10(50), np.log10(max_iter), per_decade * max(1, int(np.ceil(np.log10(max_iter / 50)))) + 1)).astype(np.int64))
    return np.unique(np.concatenate([head, tail, [max_iter]]))
