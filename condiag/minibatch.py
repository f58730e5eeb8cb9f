"""Minibatch SGD on least squares, exactly: the mean-square stability threshold, the noise floor, the expected loss.

Write f(x) = (1/n) Σ_i f_i(x) with f_i = c n (a_iᵀx - b_i)² + λ||x||² (c the loss convention's scale, λ the ridge),
so ∇f_i(x) = h_i (x - x*) + q_i with h_i = 2cn a_i a_iᵀ + 2λI and q_i = ∇f_i(x*) (Σ q_i = 0). A step of SGD with a
batch of B rows (the batch gradient scaled to estimate the full one, as PyTorch's mean reduction does) is

    e_{t+1} = (I - η Ĥ_t) e_t - η q̂_t,   Ĥ_t, q̂_t the batch means of h_i, q_i,   e = x - x*.

Its first moment m_t = E e_t follows gradient descent, m_{t+1} = (I - ηH) m_t. Its second moment M_t = E e_t e_tᵀ
follows a linear recursion (no approximation):

    M_{t+1} = T(M_t) + η² α (C(m_t) + C(m_t)ᵀ + Σ_q),
    T(M) = M - η (HM + MH) + η² (α E[h M h] + (1 - α) H M H),
    C(m) = E[h m qᵀ],  Σ_q = E[q qᵀ],

with α = 1/B for batches drawn with replacement and α = (n - B)/(B (n - 1)) for B distinct rows drawn afresh each
step (the finite-population correction; α = 0 at B = n, full-batch GD). The expected loss is
E f(x_t) = f* + ½ tr(H M_t). Hence:

* **mean-square stability**: M_t stays bounded for every start iff the spectral radius of T is below 1. T is
  self-adjoint and positive, so this holds iff η Q ≺ L with L(M) = HM + MH and Q(M) = α E[hMh] + (1 - α) HMH: the
  threshold is η_ms = 1/λmax(Q, L), a generalised symmetric eigenvalue (never above GD's 2/L, equal at α = 0);
* **the noise floor**: below η_ms, M_t → M_∞ with (L - η Q) M_∞ = η α Σ_q, and E f → f* + ½ tr(H M_∞);
* **the expected loss at any t**: in the eigenbasis of T the recursion is a sum of geometric sequences, so E f(x_t)
  is evaluated in closed form for any t (the steps to the floor, and to a target, by bisection).

References: Bach & Moulines (NeurIPS 2013) for the least-squares SGD recursion; Ma, Bassily & Belkin (ICML 2018)
for its stability threshold as a function of the batch size; Lohr, *Sampling*, §2.3, for the finite-population
correction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

EXACT_DIRECTIONS = 40
"""Up to this many learned directions the operator T is formed (as a matrix of size k(k+1)/2) and everything,
the expected loss at every step included, is computed from its eigendecomposition."""
FLOOR_FACTOR = 2.0
"""'At the floor': the expected gap is within this factor of the stationary gap."""


@dataclass(frozen=True)
class MinibatchModel:
    """The problem as minibatch SGD sees it, in the eigenbasis of H restricted to the learned directions."""

    n: int
    batch_size: int
    replacement: bool
    alpha: float
    eigenvalues: np.ndarray
    """λ_i of H (learned directions)."""
    rows: np.ndarray
    """ã_i = Vᵀ a_i, n x k, scaled by √(2cn) so that h_i = ã_i ã_iᵀ + r I."""
    ridge_curvature: float
    """r = 2λ."""
    q: np.ndarray
    """q_i in the same basis, n x k."""
    e0: np.ndarray
    """V ᵀ(x0 - x*) in the learned directions."""
    floor: float
    """f*."""

    @cached_property
    def operators(self):
        """(S, L, Q) on the symmetric basis (:func:`_operators`), formed once: they do not depend on the lr, and the
        searches over lr (:func:`best_lr`, :func:`lr_for_floor`) evaluate many lrs on one model."""
        return _operators(self)


def sampling_alpha(n: int, batch_size: int, replacement: bool) -> float:
    """α of the module docstring: 1/B with replacement, (n - B)/(B (n - 1)) for B distinct rows."""
    if replacement:
        return 1.0 / batch_size
    return 0.0 if n == 1 else (n - batch_size) / (batch_size * (n - 1))


def minibatch_model(problem, decomposition, x_star, x0, floor, batch_size: int, replacement: bool) -> MinibatchModel:
    """The :class:`MinibatchModel` of a least-squares problem (dense rows; not for the quadratic objective)."""
    from .spectrum import learned_eigenvalues, learned_mask

    n = problem.n_samples
    if problem.is_quadratic or problem.is_reduced:
        raise ValueError("minibatch SGD needs the rows of a least-squares problem")
    if not 1 <= batch_size <= n:
        raise ValueError(f"the batch size must be between 1 and the number of rows ({n})")
    keep = learned_mask(problem, decomposition) | (problem.ridge > 0)
    lam = learned_eigenvalues(problem, decomposition)[keep]
    V = decomposition.V[:, keep]
    A = problem.dense_matrix()
    scale = math.sqrt(2.0 * problem.data_scale * n)
    rows = scale * (A @ V)
    residual = A @ x_star - problem.b
    r = 2.0 * problem.ridge
    q = rows * (scale * residual)[:, None] + r * (V.T @ x_star)[None, :]
    return MinibatchModel(n, batch_size, replacement, sampling_alpha(n, batch_size, replacement), lam, rows, r, q,
                          V.T @ (x0 - x_star), floor)


# ---------------------------------------------------------------------------- operators on symmetric matrices
def _sym_basis(k: int) -> np.ndarray:
    """An orthonormal basis of symmetric k x k matrices, as the columns of a k² x k(k+1)/2 matrix."""
    cols = []
    for i in range(k):
        for j in range(i, k):
            E = np.zeros((k, k))
            if i == j:
                E[i, i] = 1.0
            else:
                E[i, j] = E[j, i] = 1.0 / math.sqrt(2.0)
            cols.append(E.reshape(-1))
    return np.array(cols).T


def _operators(model: MinibatchModel):
    """(L, Q, the forcing pieces) as matrices on the symmetric basis: L(M) = HM + MH, Q(M) = α E[hMh] + (1-α) HMH."""
    k = model.eigenvalues.size
    S = _sym_basis(k)
    lam = model.eigenvalues
    H = np.diag(lam)
    eye = np.eye(k)
    L = np.kron(eye, H) + np.kron(H, eye)
    W = np.einsum("ni,nj->nij", model.rows, model.rows).reshape(model.n, k * k)
    G = model.rows.T @ model.rows / model.n
    r = model.ridge_curvature
    K = W.T @ W / model.n + r * (np.kron(G, eye) + np.kron(eye, G)) + r * r * np.eye(k * k)  # E[kron(h, h)]
    Q = model.alpha * K + (1.0 - model.alpha) * np.kron(H, H)
    return S, S.T @ L @ S, S.T @ Q @ S


def mean_square_threshold(model: MinibatchModel) -> float:
    """η_ms = 1/λmax(Q, L): the largest lr at which E||x_t - x*||² stays bounded (module docstring)."""
    from scipy.linalg import eigh

    _S, L, Q = model.operators
    top = float(eigh(Q, L, eigvals_only=True, subset_by_index=[L.shape[0] - 1, L.shape[0] - 1])[0])
    return 1.0 / top


@dataclass(frozen=True)
class SGDPrediction:
    """What minibatch SGD at one lr does, in expectation."""

    lr: float
    stable: bool
    spectral_radius: float
    """ρ(T): the per-step factor of the second moment's slowest part."""
    floor_gap: float | None
    """E f(x_∞) - f*: the noise floor above f* (None when not stable)."""
    gap_at: dict
    """{t: E f(x_t) - f*} for the steps asked."""
    steps_to_floor: int | None
    """First t with E f(x_t) - f* <= FLOOR_FACTOR · floor_gap (None: never within 10^15 steps)."""
    steps_to_target: int | None
    """First t with E f(x_t) - f* <= the target gap (None: the floor is above it, or never)."""


class ExpectedLoss:
    """E f(x_t) - f* for all t in closed form at one lr: T = U diag(μ) Uᵀ on the symmetric basis, and
    z_t = Uᵀ vec(M_t) obeys z_{t+1} = μ z_t + φ(t) with a forcing that is a sum of geometric sequences
    p_j^t (p_j = 1 - η λ_j, from the mean) and a constant (the noise)."""

    def __init__(self, model: MinibatchModel, lr: float):
        S, L, Q = model.operators
        eta, alpha = lr, model.alpha
        T = np.eye(L.shape[0]) - eta * L + eta * eta * Q
        self.mu, U = np.linalg.eigh(T)
        k = model.eigenvalues.size
        # forcing: η²α (C(m) + C(m)ᵀ + Σ_q) with m_t = Σ_j p_j^t e0_j u_j (u_j the unit vectors of the basis)
        rows, q = model.rows, model.q
        sigma_q = q.T @ q / model.n
        self.noise = U.T @ (S.T @ (eta * eta * alpha * sigma_q).reshape(-1))
        forcing = []
        for j in range(k):
            # C(e_j) = E[h e_j qᵀ] = (1/n) Σ_i (ã_i ã_ij + r e_j) q_iᵀ
            C = (rows.T * rows[:, j]) @ q / model.n + model.ridge_curvature * np.outer(np.eye(k)[j], q.mean(axis=0))
            forcing.append(U.T @ (S.T @ (eta * eta * alpha * model.e0[j] * (C + C.T)).reshape(-1)))
        self.forcing = np.array(forcing)  # k x D
        self.p = 1.0 - eta * model.eigenvalues
        self.z0 = U.T @ (S.T @ np.outer(model.e0, model.e0).reshape(-1))
        self.weights = U.T @ (S.T @ (0.5 * np.diag(model.eigenvalues)).reshape(-1))  # ½ tr(H M) = <½H, M>

    @property
    def spectral_radius(self) -> float:
        return float(np.max(np.abs(self.mu)))

    def floor_gap(self) -> float | None:
        if self.spectral_radius >= 1.0:
            return None
        return float(self.weights @ (self.noise / (1.0 - self.mu)))

    def gap(self, t: float) -> float:
        """E f(x_t) - f* (module docstring), for a whole number t >= 0."""
        mu, p = self.mu, self.p
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            mu_t = np.sign(mu) ** t * np.abs(mu) ** t
            z = mu_t * self.z0
            # Σ_{s<t} μ^{t-1-s} c = c (1 - μ^t)/(1 - μ), or c t where μ = 1
            geometric = np.where(np.abs(1 - mu) > 1e-14, (1 - mu_t) / (1 - mu), t)
            z = z + geometric * self.noise
            for j in range(p.size):
                pj_t = math.copysign(abs(p[j]) ** t, p[j]) if p[j] < 0 and t % 2 else abs(p[j]) ** t
                diff = mu - p[j]
                # Σ_{s<t} μ^{t-1-s} p^s = (μ^t - p^t)/(μ - p), or t μ^{t-1} where μ = p
                ratio = np.where(np.abs(diff) > 1e-12 * np.maximum(np.abs(mu), 1e-300), (mu_t - pj_t) / diff,
                                 np.where(mu != 0, t * mu_t / np.where(mu != 0, mu, 1.0), 0.0))
                z = z + ratio * self.forcing[j]
        return float(self.weights @ z)

    def first_step_below(self, level: float, limit: int = 10**15) -> int | None:
        """The first t with gap(t) <= level (gap is eventually monotone towards the floor), by doubling and bisection."""
        if self.gap(0) <= level:
            return 0
        hi = 1
        while self.gap(hi) > level:
            hi *= 2
            if hi > limit:
                return None
        lo = hi // 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.gap(mid) <= level:
                hi = mid
            else:
                lo = mid
        return hi


def predict(model: MinibatchModel, lr: float, steps=(), target_gap: float | None = None) -> SGDPrediction:
    """Expected behaviour of minibatch SGD at ``lr`` (module docstring)."""
    curve = ExpectedLoss(model, lr)
    rho = curve.spectral_radius
    stable = rho < 1.0
    floor = curve.floor_gap()
    gaps = {int(t): curve.gap(int(t)) for t in steps}
    to_floor = curve.first_step_below(FLOOR_FACTOR * floor) if stable and floor and floor > 0 else None
    to_target = None
    if stable and target_gap is not None and (floor is None or floor < target_gap):
        to_target = curve.first_step_below(target_gap)
    return SGDPrediction(lr, stable, rho, floor, gaps, to_floor, to_target)


def lr_for_floor(model: MinibatchModel, target_gap: float, threshold: float) -> float | None:
    """The largest lr whose noise floor is at most ``target_gap`` (the floor rises with the lr), by bisection
    on a log scale below the threshold; None when even a tiny lr's floor is above it."""
    lo, hi = threshold * 1e-12, threshold * (1 - 1e-9)
    if (ExpectedLoss(model, lo).floor_gap() or 0.0) > target_gap:
        return None
    if (ExpectedLoss(model, hi).floor_gap() or math.inf) <= target_gap:
        return hi
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if (ExpectedLoss(model, mid).floor_gap() or math.inf) <= target_gap:
            lo = mid
        else:
            hi = mid
    return lo


def _scaled_q(model: MinibatchModel):
    """(N -> P∘Q(P∘N), P) on symmetric k x k matrices in the eigenbasis of H, with P = L^{-1/2} elementwise
    (L(M) = HM + MH multiplies entry (i, j) by λ_i + λ_j) and each Q product O(n k²):
    E[ããᵀ M ããᵀ] = Ãᵀ diag(ã_iᵀ M ã_i) Ã / n."""
    lam = model.eigenvalues
    P = 1.0 / np.sqrt(lam[:, None] + lam[None, :])
    rows, r, alpha, n = model.rows, model.ridge_curvature, model.alpha, model.n
    G = rows.T @ rows / n

    def Q(M):
        w = np.einsum("ij,ij->i", rows @ M, rows)
        hmh = (rows.T * w) @ rows / n + r * (G @ M + M @ G) + r * r * M
        return alpha * hmh + (1 - alpha) * (lam[:, None] * M * lam[None, :])

    def scaled(N):
        N = 0.5 * (N + N.T)
        return P * Q(P * N)

    return scaled, P


def mean_square_threshold_matrix_free(model: MinibatchModel, tol: float = 1e-10) -> float:
    """η_ms for many directions without forming T: 1/λmax(P Q P) by Lanczos (ARPACK), :func:`_scaled_q`."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    k = model.eigenvalues.size
    scaled, _P = _scaled_q(model)
    operator = LinearOperator((k * k, k * k), matvec=lambda v: scaled(v.reshape(k, k)).reshape(-1), dtype=float)
    top = float(eigsh(operator, k=1, which="LA", v0=np.eye(k).reshape(-1), tol=tol, return_eigenvectors=False)[0])
    return 1.0 / top


def noise_floor_matrix_free(model: MinibatchModel, lr: float, rtol: float = 1e-10) -> float | None:
    """E f(x_∞) - f* = ½ tr(H M_∞) without forming T: (L - ηQ) M = ηα Σ_q is, with N = L^{1/2}∘M,
    (I - η P Q P) N = ηα P∘Σ_q, symmetric positive definite below η_ms with eigenvalues in (1 - η/η_ms, 1], so
    conjugate gradients converge in about sqrt(1/(1 - η/η_ms)) steps. None when CG does not converge."""
    from scipy.sparse.linalg import LinearOperator, cg

    k = model.eigenvalues.size
    scaled, P = _scaled_q(model)
    sigma_q = model.q.T @ model.q / model.n
    rhs = (lr * model.alpha * P * sigma_q).reshape(-1)
    operator = LinearOperator((k * k, k * k), matvec=lambda v: v - lr * scaled(v.reshape(k, k)).reshape(-1), dtype=float)
    solution, info = cg(operator, rhs, rtol=rtol, atol=0.0, maxiter=5000)
    if info != 0:
        return None
    M = P * solution.reshape(k, k)
    return float(0.5 * np.sum(model.eigenvalues * np.diag(M)))


@dataclass(frozen=True)
class MinibatchAnalysis:
    """The minibatch view of a least-squares problem (``analyze --batch-size``)."""

    batch_size: int
    replacement: bool
    alpha: float
    threshold: float
    """η_ms, the mean-square stability threshold."""
    full_batch_threshold: float | None
    """2/L, gradient descent's."""
    exact: bool
    """Whether T was formed (everything available); else matrix-free: the threshold and each lr's noise floor."""
    predictions: tuple[SGDPrediction, ...]
    """One per --lr (matrix-free: stability and the floor only)."""
    lr_for_tol: float | None
    """The largest lr whose floor is at most tol·(f(x0) - f*), rounded down to 3 digits (only with ``exact``)."""
    lr_for_tol_prediction: SGDPrediction | None
    """That lr fed back through :func:`predict`: its floor and the steps it needs to reach tol."""
    target_gap: float
    directions: int

    @property
    def exact_limit(self) -> int:
        """The most learned directions for which T is formed (:data:`EXACT_DIRECTIONS`)."""
        return EXACT_DIRECTIONS

    @property
    def floor_factor(self) -> float:
        """'At the floor' means within this factor of the stationary gap (:data:`FLOOR_FACTOR`)."""
        return FLOOR_FACTOR


def analyse_minibatch(problem, decomposition, x_star, x0, floor, batch_size: int, replacement: bool, lrs, steps: int,
                      tol: float, full_batch_threshold: float | None) -> MinibatchAnalysis:
    """The minibatch view: η_ms always; with at most :data:`EXACT_DIRECTIONS` learned directions also, for each lr,
    the noise floor, the expected loss after ``steps``, the steps to the floor and to tol, and the lr the floor
    needs to be below tol."""
    model = minibatch_model(problem, decomposition, x_star, x0, floor, batch_size, replacement)
    k = model.eigenvalues.size
    target = tol * float(0.5 * np.sum(model.eigenvalues * model.e0**2))
    if k <= EXACT_DIRECTIONS:
        from .numbers import floor_sig

        threshold = mean_square_threshold(model)
        predictions = tuple(predict(model, float(lr), steps=(steps,), target_gap=target) for lr in lrs)
        advised = lr_for_floor(model, target, threshold) if target > 0 else None
        checked = None
        if advised is not None:
            advised = floor_sig(advised, 3)  # rounded towards safety: a smaller lr has a lower floor
            checked = predict(model, advised, target_gap=target)
            if not checked.stable or checked.floor_gap is None or checked.floor_gap > target:
                advised, checked = None, None  # never printed unless it holds
        return MinibatchAnalysis(batch_size, replacement, model.alpha, threshold, full_batch_threshold, True, predictions,
                                 advised, checked, target, k)
    threshold = mean_square_threshold_matrix_free(model)
    estimated: list[SGDPrediction] = []
    for lr in lrs:
        stable = lr < threshold
        floor_gap = noise_floor_matrix_free(model, float(lr)) if stable else None
        estimated.append(SGDPrediction(float(lr), stable, math.nan, floor_gap, {}, None, None))
    return MinibatchAnalysis(batch_size, replacement, model.alpha, threshold, full_batch_threshold, False, tuple(estimated),
                             None, None, target, k)


BEST_LR_DIRECTIONS = 20
"""Up to this many learned directions :func:`best_lr` searches the lr (each trial eigendecomposes T)."""


def best_lr(model: MinibatchModel, steps: int) -> tuple[float, float] | None:
    """(lr, expected gap): the lr in (0, η_ms) whose exact expected gap E f(x_T) - f* after ``steps`` steps is
    smallest (golden-section search on log lr; the expected gap is unimodal in practice: too small an lr has not
    arrived, too large a one sits on a high noise floor). None above :data:`BEST_LR_DIRECTIONS` directions."""
    if model.eigenvalues.size > BEST_LR_DIRECTIONS:
        return None
    threshold = mean_square_threshold(model)

    def gap(log_lr):
        return ExpectedLoss(model, math.exp(log_lr)).gap(steps)

    lo, hi = math.log(threshold * 1e-8), math.log(threshold * (1 - 1e-6))
    golden = (math.sqrt(5) - 1) / 2
    a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
    fa, fb = gap(a), gap(b)
    for _ in range(60):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - golden * (hi - lo)
            fa = gap(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + golden * (hi - lo)
            fb = gap(b)
        if hi - lo < 1e-4:
            break
    best = a if fa <= fb else b
    return math.exp(best), min(fa, fb)
