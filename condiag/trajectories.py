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

For Nesterov the iterate reported is the look-ahead point y_k, the one ``torch.optim.SGD(nesterov=True)``
stores as its parameter (buf = β buf + g(p), p -= lr (g(p) + β buf) is the same method written in y;
Sutskever et al. 2013, §2). Any fixed combination of e_k and e_{k-1} obeys the same recurrence, so only
the first step differs: y_0 = x_0 and y_1 - x* = ((1 + β)(1 - lr λ) - β) e_0.

so the loss gap after k steps is ½ Σ λ_i e_i(k)^2, evaluated here for any k (10^9 included)
by 2x2 matrix powers computed with repeated squaring, in logarithmic scale so that
neither overflow nor underflow occurs. Nothing is iterated k times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .numbers import sorted_unique

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

    def first_ratio(self, lam: np.ndarray) -> np.ndarray:
        """e_i(1) / e_i(0) of the reported iterate: a + c for the methods that start at rest in x,
        (1 + β)(1 - lr λ) - β for Nesterov's look-ahead point (see the module docstring)."""
        if self.kind == "nesterov":
            return (1.0 + self.beta) * (1.0 - self.lr * lam) - self.beta
        a, c = self.coefficients(lam)
        return a + c

    def discriminant(self, lam: np.ndarray) -> np.ndarray:
        """D = a² + 4c of the characteristic polynomial z² - a z - c, written without the cancellation
        of a² against -4c near a double root: heavy ball (1 - β)² - 2(1 + β) t + t², Nesterov
        s ((1 - β)² - (1 + β)² t), with t = lr λ and s = 1 - t."""
        t = self.lr * np.asarray(lam, dtype=float)
        one_minus = 1.0 - self.beta
        if self.kind == "heavy-ball":
            return one_minus**2 - 2.0 * (1.0 + self.beta) * t + t * t
        if self.kind == "nesterov":
            return (1.0 - t) * (one_minus**2 - (1.0 + self.beta) ** 2 * t)
        return (1.0 - t) ** 2  # gradient descent: c = 0

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


def _logsumexp(logs: np.ndarray, axis=None):
    """log Σ exp(logs) without overflow, over all entries (a float) or along ``axis`` (an array); -inf when empty."""
    if logs.size == 0:
        return -np.inf
    top = np.max(logs, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        total = np.where(np.isfinite(top), safe + np.log(np.sum(np.exp(logs - safe), axis=axis, keepdims=True)), top)
    return float(total.ravel()[0]) if axis is None else np.squeeze(total, axis=axis)


def _log_add(log_x, sign_x, log_y, sign_y):
    """(log|x + y|, sign(x + y)) for x = sign_x·e^log_x, y = sign_y·e^log_y, elementwise, without overflow."""
    top = np.maximum(log_x, log_y)
    finite = np.isfinite(top)
    safe = np.where(finite, top, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        total = sign_x * np.exp(log_x - safe) + sign_y * np.exp(log_y - safe)
    with np.errstate(divide="ignore"):
        return np.where(finite, safe + np.log(np.abs(total)), top), np.sign(total) * finite


def _parity_sign(n) -> np.ndarray:
    """(-1)^n for integer-valued n (arrays of floats up to 2^53 included)."""
    return np.where(np.mod(n, 2) == 1, -1.0, 1.0)


def _log_sinh_ratio(n, x: np.ndarray, sin: bool) -> tuple[np.ndarray, np.ndarray]:
    """(log|f(n x) / f(x)|, sign) for f = sin (``sin``) or sinh, x >= 0; the limit n as x -> 0. ``n`` may be
    an array broadcasting against ``x`` (several step counts at once)."""
    if sin:
        num, den = np.sin(n * x), np.sin(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(x > 0, np.log(np.abs(num)) - np.log(np.abs(den)), np.log(n))
        return value, np.where(x > 0, np.sign(num) * np.sign(den), 1.0)
    nx = n * x
    # log sinh(y) = y + log((1 - e^(-2y)) / 2), accurate for every y > 0 (expm1 for small y)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_num = nx + np.log(-np.expm1(-2.0 * nx) / 2.0)
        log_den = x + np.log(-np.expm1(-2.0 * x) / 2.0)
        value = np.where(x > 0, log_num - log_den, np.log(n))
    return value, np.ones_like(value)


def _on_columns(n: np.ndarray, columns: np.ndarray, width: int) -> np.ndarray:
    """The step counts ``n`` for the coefficients ``columns`` of ``width``: n itself when it is a scalar or a column
    (K, 1) broadcasting against them, its own columns when it runs along the coefficients too."""
    return n[..., columns] if n.ndim and n.shape[-1] == width > 1 else n


def _chebyshev_angle(a: np.ndarray, disc: np.ndarray, rho: np.ndarray, trigonometric: bool) -> np.ndarray:
    """θ with |a| = 2ρ cos θ (D < 0: ``trigonometric``), else ψ with |a| = 2ρ cosh ψ, from the cancellation-free
    discriminant D (see :func:`_lucas`)."""
    root = np.sqrt(np.abs(disc))
    return np.arctan2(root, np.abs(a)) if trigonometric else np.arcsinh(root / (2.0 * rho))


def _lucas(a: np.ndarray, c: np.ndarray, disc: np.ndarray, n) -> tuple[np.ndarray, np.ndarray]:
    """(log|U_n|, sign U_n) of U_0 = 0, U_1 = 1, U_{k+1} = a U_k + c U_{k-1}, elementwise; ``n`` may be an
    array (say of shape (K, 1)) broadcasting against the coefficients (shape (D,)).

    With roots r± = (a ± √D)/2 of z² = a z + c (D = ``disc`` = a² + 4c, passed in a cancellation-free
    form), U_n = (r+^n - r-^n)/(r+ - r-). For c < 0 write ρ = √(-c) and |a| = 2ρ cos θ (D < 0) or
    2ρ cosh ψ (D >= 0): U_n = sgn(a)^(n-1) ρ^(n-1) sin(nθ)/sin θ, resp. sinh(nψ)/sinh ψ (Chebyshev's
    form). It has no cancellation at a double root (→ n ρ^(n-1)) and no growth of rounding errors,
    where powers of the 2x2 companion matrix, non-normal near a double root, amplified them without bound.
    For c > 0 the roots are real, of opposite signs and apart: the difference of powers is used.
    """
    n = np.asarray(n, dtype=float)
    shape = np.broadcast(n, a).shape
    log_u = np.zeros(shape)
    sign_u = np.ones(shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        zero = c == 0  # U_n = a^(n-1)
        if np.any(zero):
            log_u = np.where(zero, np.where(n > 1, (n - 1) * np.log(np.abs(a)), 0.0), log_u)
            sign_u = np.where(zero, np.where(a < 0, _parity_sign(n - 1), 1.0) * ((a != 0) | (n == 1)), sign_u)
        negative = c < 0
        if np.any(negative):
            rho = np.sqrt(np.where(negative, -c, 1.0))
            flip = np.where(a < 0, _parity_sign(n - 1), 1.0)
            log_ratio, sign_ratio = np.zeros(shape), np.ones(shape)
            # each coefficient takes one of the two forms: evaluate each only on its own coefficients (the last
            # axis), which halves the transcendental work of computing both everywhere and choosing
            a_, disc_, rho_ = np.broadcast_to(a, shape[-1:]), np.broadcast_to(disc, shape[-1:]), np.broadcast_to(rho, shape[-1:])
            for trigonometric, columns in ((True, np.flatnonzero(disc_ < 0)), (False, np.flatnonzero(disc_ >= 0))):
                if columns.size:
                    angle = _chebyshev_angle(a_[columns], disc_[columns], rho_[columns], trigonometric)
                    log_ratio[..., columns], sign_ratio[..., columns] = _log_sinh_ratio(_on_columns(n, columns, shape[-1]), angle,
                                                                                        trigonometric)
            log_u = np.where(negative, (n - 1) * np.log(rho) + log_ratio, log_u)
            sign_u = np.where(negative, flip * sign_ratio, sign_u)
        positive = c > 0
        if np.any(positive):
            root = np.sqrt(np.where(positive, disc, 1.0))
            r_plus, r_minus = (a + root) / 2.0, (a - root) / 2.0
            log_p, sign_p = n * np.log(np.abs(r_plus)), np.where(r_plus < 0, _parity_sign(n), 1.0)
            log_m, sign_m = n * np.log(np.abs(r_minus)), -np.where(r_minus < 0, _parity_sign(n), 1.0)
            log_d, sign_d = _log_add(log_p, sign_p, log_m, sign_m)
            log_u = np.where(positive, log_d - np.log(root), log_u)
            sign_u = np.where(positive, sign_d, sign_u)
        empty = n == 0  # U_0 = 0
        if not np.any(empty):
            return log_u, sign_u
        return np.where(empty, -np.inf, log_u), np.where(empty, 0.0, sign_u)


def _error_factors(a: np.ndarray, c: np.ndarray, disc: np.ndarray, k, first: np.ndarray,
                   signs_too: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """(log|r_i(k)|, sign r_i(k)) with e_i(k) = r_i(k) e_i(0) for e_{k+1} = a e_k + c e_{k-1} started
    from e_i(1) = ``first``_i e_i(0): r(k) = first·U_k + c·U_{k-1} (see :func:`_lucas`); ``k`` may be an
    array broadcasting against the coefficients, as in :func:`_lucas`. ``signs_too=False``: the magnitudes alone
    (a loss gap needs r(k)² only), and None for the signs."""
    k = np.asarray(k, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if not np.any(c):
            logs = np.where(k > 1, (k - 1) * np.log(np.abs(a)), 0.0) + np.log(np.abs(first))
            signs = np.sign(first) * np.where(a < 0, _parity_sign(k - 1), 1.0) * ((a != 0) | (k == 1))
        else:
            shape = np.broadcast(k, a).shape
            logs, signs = np.empty(shape), (np.empty(shape) if signs_too else None)
            damped = c < 0
            for columns, factors in ((np.flatnonzero(damped), _damped_error_factors), (np.flatnonzero(~damped), _lucas_error_factors)):
                if columns.size:
                    part_logs, part_signs = factors(a[columns], c[columns], disc[columns], _on_columns(k, columns, shape[-1]),
                                                    first[columns], signs_too)
                    logs[..., columns] = part_logs
                    if signs is not None:
                        signs[..., columns] = part_signs
        start = k == 0
        return np.where(start, 0.0, logs), (None if signs is None else np.where(start, 1.0, signs))


def _lucas_error_factors(a, c, disc, k, first, signs_too=True):
    """r(k) = first·U_k + c·U_{k-1} from two :func:`_lucas` sequences (any c; k >= 1 where it matters)."""
    log_k, sign_k = _lucas(a, c, disc, k)
    log_prev, sign_prev = _lucas(a, c, disc, np.maximum(k - 1, 0))
    return _log_add(log_k + np.log(np.abs(first)), sign_k * np.sign(first), log_prev + np.log(np.abs(c)), sign_prev * np.sign(c))


def _damped_error_factors(a, c, disc, k, first, signs_too=True):
    """r(k) of :func:`_error_factors` for c < 0 (momentum's damped directions) in one expression.

    With ρ = √(-c), σ = sgn(a) and U_n = σ^(n-1) ρ^(n-1) q_n (:func:`_lucas`, q_n = sin(nθ)/sin θ or
    sinh(nψ)/sinh ψ), r(k) = σ^(k-1) ρ^(k-1) (first·q_k - ρ σ q_{k-1}). The trigonometric q_n lie within
    [-n, n], so the bracket is formed as it stands; the hyperbolic ones grow like e^(nψ), so q_k is kept in
    logarithms and the bracket is first - ρ σ q_{k-1}/q_k, whose ratio e^(-ψ) (1 - e^(-2(k-1)ψ)) / (1 - e^(-2kψ))
    lies in [0, 1). One pass instead of two Lucas sequences and a logarithmic sum (k >= 1 where it matters).
    """
    rho = np.sqrt(-c)
    sigma = np.where(a < 0, -1.0, 1.0)
    shape = np.broadcast(k, a).shape
    logs, signs = np.empty(shape), (np.empty(shape) if signs_too else None)
    for trigonometric, columns in ((True, np.flatnonzero(disc < 0)), (False, np.flatnonzero(disc >= 0))):
        if not columns.size:
            continue
        n = _on_columns(k, columns, shape[-1])
        angle = _chebyshev_angle(a[columns], disc[columns], rho[columns], trigonometric)
        pull = rho[columns] * sigma[columns]
        if trigonometric:
            theta = angle
            base = np.sin(theta)
            q_k = np.where(theta > 0, np.sin(n * theta) / base, n)
            q_prev = np.where(theta > 0, np.sin((n - 1) * theta) / base, n - 1)
            bracket = first[columns] * q_k - pull * q_prev
            log_magnitude = np.log(np.abs(bracket))
        else:
            psi = angle
            log_q = _log_sinh_ratio(n, psi, False)[0]
            ratio = np.where(psi > 0, np.exp(-psi) * np.expm1(-2.0 * (n - 1) * psi) / np.expm1(-2.0 * n * psi), (n - 1) / n)
            bracket = first[columns] - pull * ratio
            log_magnitude = log_q + np.log(np.abs(bracket))
        logs[..., columns] = (n - 1) * np.log(rho[columns]) + log_magnitude
        if signs is not None:
            signs[..., columns] = np.where(sigma[columns] < 0, _parity_sign(n - 1), 1.0) * np.sign(bracket)
    return logs, signs


def _method_factors(method: LinearMethod, lam: np.ndarray, k, signs_too: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """(log|e_i(k) / e_i(0)|, sign) of ``method`` along each eigenvalue; an array ``k`` of shape (K, 1) gives
    (K, D) arrays, one row per step count."""
    a, c = method.coefficients(lam)
    return _error_factors(a, c, method.discriminant(lam), k, method.first_ratio(lam), signs_too)


def error_at(model: QuadraticModel, method: LinearMethod, k: int) -> np.ndarray | None:
    """e(k) = Vᵀ(x_k - x*) along the listed directions, or None if it overflows float64."""
    lam = model.eigenvalues
    if method.kind == "gd":
        logs = float(k) * method.log_gd_factor(lam) if k else np.zeros_like(lam)
        step = 1.0 - method.lr * lam
        signs = np.where(step < 0, (-1.0) ** (int(k) % 2), 1.0) if k else np.ones_like(lam)
    else:
        logs, method_signs = _method_factors(method, lam, k)
        assert method_signs is not None  # asked for
        signs = method_signs
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
    logs = np.log(w) + 2.0 * _method_factors(method, lam, k, signs_too=False)[0]
    return _logsumexp(logs)


def log_gaps(model: QuadraticModel, method: LinearMethod, ks) -> np.ndarray:
    """:func:`log_gap` at many step counts at once (vectorised over k, in blocks of about a million entries)."""
    ks = np.asarray(ks, dtype=float).ravel()
    lam, w = model.weights()
    if w.size == 0:
        return np.full(ks.shape, -np.inf)
    out = np.empty(ks.shape)
    block = max(1, 1_000_000 // lam.size)
    log_w = np.log(w)
    gd_factor = method.log_gd_factor(lam) if method.kind == "gd" else None
    for start in range(0, ks.size, block):
        chunk = ks[start:start + block, None]
        if gd_factor is None:
            logs = log_w + 2.0 * _method_factors(method, lam, chunk, signs_too=False)[0]
        else:  # a plain power: 2 k log|1 - lr λ|, and k = 0 exactly log w (0·(-inf) when lr λ = 1 is no number)
            with np.errstate(invalid="ignore"):
                logs = np.where(chunk == 0.0, log_w, log_w + 2.0 * chunk * gd_factor)
        out[start:start + block] = _logsumexp(logs, axis=1)
    return out


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
    where it is below (or above) a level is an interval from one end: doubling k until the condition
    holds and bisecting the last doubling finds the exact first step. Momentum methods can oscillate: the checkpoints of :func:`checkpoints`
    are scanned for the first one that holds and the step is bisected between it and the checkpoint before.
    """
    def at(k):
        return holds(log_gap(model, method, k))

    if at(0):
        return 0
    if method.kind == "gd":
        if not at(limit):
            return None
        found = _monotone_first_step(model, method, holds, limit)
        if found is not None and at(found) and not at(found - 1):  # the one first step of a monotone condition
            return found
        # galloping: double k until it holds, then bisect the last doubling (2 log2 k evaluations, not log2 limit)
        lo, hi = 0, 1
        while hi < limit and not at(hi):
            lo, hi = hi, min(2 * hi, limit)
        return _bisect(at, lo, hi)
    grid = checkpoints(limit)
    hit = None
    start, block = 0, SCAN_BLOCK
    while hit is None and start < grid.size:  # in doubling blocks: a run that converges early is not scanned to the limit
        chunk = grid[start:start + block]
        hit = next((int(k) for k, value in zip(chunk, log_gaps(model, method, chunk)) if k > 0 and holds(value)), None)
        start, block = start + block, 2 * block
    if hit is None:
        return None
    return _bisect(at, int(grid[np.searchsorted(grid, hit) - 1]), hit)


SCAN_BLOCK = 32
"""The first block of checkpoints :func:`_first_step` evaluates at once; each next block is twice as long, so the
scan costs at most twice the checkpoints up to the first that holds, in a logarithmic number of calls."""


SEARCH_FAN_OUT = 16
"""Step counts one vectorised evaluation of :func:`_monotone_first_step` tries at a time: 4 bits of the answer per
call, against 1 per scalar call (each point costs O(d); the call's overhead is shared)."""


def _monotone_first_step(model: QuadraticModel, method: LinearMethod, holds, limit: int) -> int | None:
    """First k in [1, limit] with holds(log gap(k)) for a condition that, once true, stays true (gradient descent,
    see :func:`_first_step`), found with vectorised evaluations: every power of two at once, then the last doubling
    cut into :data:`SEARCH_FAN_OUT` parts per round, so about (log₂ k)/2 calls of :func:`log_gaps` instead of
    2 log₂ k scalar ones. Step counts stay Python integers (``limit`` may pass 2⁶³); each is evaluated at float(k),
    as :func:`log_gap` evaluates it. None when the vectorised values never hold (the caller's scalar search decides
    then)."""

    def first_holding(ks: list[int]) -> int | None:
        values = log_gaps(model, method, np.array([float(k) for k in ks]))
        return next((i for i, value in enumerate(values) if holds(value)), None)

    powers = sorted({min(2**e, limit) for e in range(int(limit).bit_length() + 1)} | {int(limit)})
    first = None
    for start in range(0, len(powers), SEARCH_FAN_OUT):  # the powers of two a block at a time, up to the first that holds
        index = first_holding(powers[start:start + SEARCH_FAN_OUT])
        if index is not None:
            first = start + index
            break
    if first is None:
        return None
    lo, hi = (0 if first == 0 else powers[first - 1]), powers[first]
    while hi - lo > 1:
        step = max(1, (hi - lo) // SEARCH_FAN_OUT)
        grid = sorted({min(lo + step * i, hi) for i in range(1, SEARCH_FAN_OUT + 1)} | {hi})
        index = first_holding(grid)
        if index is None:
            return None
        lo, hi = (lo if index == 0 else grid[index - 1]), grid[index]
    return hi


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
    tail = sorted_unique(np.round(np.logspace(np.log10(50), np.log10(max_iter), per_decade * max(1, int(np.ceil(np.log10(max_iter / 50)))) + 1)).astype(np.int64))
    return sorted_unique(np.concatenate([head, tail, [max_iter]]))


def peak_gap(model: QuadraticModel, method: LinearMethod, limit: int, per_decade: int = 100) -> tuple[int, float]:
    """(k, log gap(k)) of the largest loss gap over the checkpoints up to ``limit``: momentum's transient rise.

    Gradient descent's gap is a sum of decreasing geometric terms (|1 - lr λ| <= 1 when stable), so its
    peak is k = 0; momentum's can first grow. Sampled at :func:`checkpoints` with ``per_decade`` points per
    decade (every step up to 50), so the value is a lower bound on the true peak, close to it when the
    transient is smooth on that grid.
    """
    if method.kind == "gd" or limit < 1:
        return 0, log_gap(model, method, 0)
    grid = checkpoints(int(limit), per_decade)
    values = log_gaps(model, method, grid)
    top = int(np.argmax(values))
    return int(grid[top]), float(values[top])
