"""Least squares as accurately as double precision allows, with a stated accuracy.

Method (Björck, *Numerical Methods for Least Squares Problems*, SIAM 1996, §2.9 and §4.5;
Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §20.5):

1. **Column equilibration** A_s = A D⁻¹, D = diag(||a_j||): removes the part of the
   conditioning that is only the columns' units (van der Sluis 1969).
2. **Householder QR with column pivoting** A_s P = Q R (LAPACK geqp3), never the normal
   equations. The rank decision |R_kk| <= max(n, d) eps |R_11| is made on the equilibrated
   matrix, so a direction the data determine is not thrown away because of its units
   (NIST's Filip: cond(A) = 1.8e15 raw, 5e9 equilibrated, full rank).
3. **Iterative refinement of the augmented system** [I A; Aᵀ 0][r; x] = [b; 0] (Björck
   1967): the residuals f = b - r - A x and g = -Aᵀ r are accumulated in extended precision
   (numpy.longdouble where it has a 64-bit mantissa, else double-double arithmetic), and the
   correction is solved with the same QR factors. Refinement stops when the correction no
   longer shrinks the solution's change by half, or after ``max_steps``.

Rank-deficient problems get the minimum-norm solution from the SVD instead (pivoted QR
gives a basic solution, not the minimum-norm one), without refinement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .numbers import max_abs
from .spectrum import EPS64

EXTENDED = np.longdouble if np.finfo(np.longdouble).eps < 1e-18 else None


@dataclass(frozen=True)
class RefinedSolution:
    x: np.ndarray
    residual: np.ndarray
    """r = b - A x, accumulated in extended precision and rounded to float64."""
    rank: int
    refinement_steps: int
    method: str
    scaled_condition: float
    """cond(A D⁻¹), the conditioning the solver actually faces."""
    backward_error: float
    forward_error_bound: float | None
    """Bound on ||D(x̂ - x)|| / ||D x||, the error in the column-scaled norm."""
    precision: str
    rank_unscaled: int | None = None
    """Rank-deficient path: singular values of A kept by the pseudo-inverse (> max(n, d)·eps·σmax)."""


# ---------------------------------------------------------------------------- extended-precision kernels
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a):
    c = 134217729.0 * a  # 2^27 + 1 (Veltkamp)
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a, b):
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def matvec_extended(A: np.ndarray, x_hi: np.ndarray, x_lo: np.ndarray | None = None,
                    transpose: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A @ (x_hi + x_lo) (``transpose``: Aᵀ @ (x_hi + x_lo)) with about 30 significant digits, as a (hi, lo) pair
    of float64 arrays.

    Uses numpy.longdouble when it is wider than float64 and the double-double algorithms of
    Dekker (1971) / Ogita, Rump & Oishi (2005) otherwise. ``A`` may already be held in longdouble
    (:func:`extended_copy`), which saves the conversion on every product. The longdouble products go through
    ``numpy.dot`` with A's rows contiguous (xᵀA for the transpose), which on a 1000 x 300 matrix takes 1.0-1.2 ms
    where ``A.T @ x`` takes 5.3 ms (numpy's generic matmul loop strides through A's columns).
    """
    if x_lo is None:
        x_lo = np.zeros_like(x_hi)
    if EXTENDED is not None:
        extended = np.asarray(A, dtype=EXTENDED)
        vector = x_hi.astype(EXTENDED) + x_lo.astype(EXTENDED)
        total = np.dot(vector, extended) if transpose else np.dot(extended, vector)
        hi = total.astype(np.float64)
        return hi, (total - hi.astype(EXTENDED)).astype(np.float64)
    if transpose:
        A = A.T
    s = np.zeros(A.shape[0])
    c = np.zeros(A.shape[0])
    for j in range(A.shape[1]):
        p, e = _two_prod(A[:, j], np.full(A.shape[0], x_hi[j]))
        s, t = _two_sum(s, p)
        c = c + t + e + A[:, j] * x_lo[j]
    hi = s + c
    return hi, c - (hi - s)


def extended_copy(A: np.ndarray) -> np.ndarray:
    """A in longdouble, converted once for many :func:`matvec_extended` products (A itself when there is no
    wider type and the double-double products read the float64 entries)."""
    return A.astype(EXTENDED) if EXTENDED is not None else A


def _residual_f(A, b, r, x_hi, x_lo):
    """f = b - r - A x in extended precision, rounded to float64."""
    ax_hi, ax_lo = matvec_extended(A, x_hi, x_lo)
    if EXTENDED is not None:
        f = b.astype(EXTENDED) - r.astype(EXTENDED) - ax_hi.astype(EXTENDED) - ax_lo.astype(EXTENDED)
        return f.astype(np.float64)
    s, e = _two_sum(b, -r)
    s, e2 = _two_sum(s, -ax_hi)
    return s + (e + e2 - ax_lo)


def _gradient_g(A, r):
    """g = -Aᵀ r in extended precision."""
    hi, lo = matvec_extended(A, r, transpose=True)
    return -(hi + lo)


# ---------------------------------------------------------------------------- factorisation kernels
SMALL_COLUMNS = 64
"""Up to this many columns the numpy kernels below are used, so small problems never import
scipy.linalg (whose import alone costs more than the whole analysis of a 2x2 problem)."""


def householder_qr_pivoted(A: np.ndarray):
    """Thin QR with column pivoting, A[:, P] = Q R (Businger & Golub 1965; Golub & Van Loan, Alg. 5.4.1).

    numpy-only; meant for few columns (each of the d steps is one vectorised rank-1 update).
    Returns (Q, R, P) like ``scipy.linalg.qr(A, mode='economic', pivoting=True)``.
    """
    R = np.array(A, dtype=np.float64)
    n, d = R.shape
    k = min(n, d)
    P = np.arange(d)
    norms = np.sum(R * R, axis=0)
    reflectors = []
    for j in range(k):
        p = j + int(np.argmax(norms[j:]))
        if p != j:
            R[:, [j, p]] = R[:, [p, j]]
            P[[j, p]] = P[[p, j]]
            norms[[j, p]] = norms[[p, j]]
        x = R[j:, j]
        alpha = -math.copysign(float(np.linalg.norm(x)), x[0] if x[0] != 0 else 1.0)
        v = x.copy()
        v[0] -= alpha
        vv = float(v @ v)
        if vv > 0:
            v /= math.sqrt(vv)
            R[j:, j:] -= 2.0 * np.outer(v, v @ R[j:, j:])
        reflectors.append(v)
        R[j + 1 :, j] = 0.0
        norms[j + 1 :] = np.sum(R[j + 1 :, j + 1 :] ** 2, axis=0) if j + 1 < n else 0.0
    Q = np.eye(n, k)
    for j in range(k - 1, -1, -1):
        v = reflectors[j]
        Q[j:, :] -= 2.0 * np.outer(v, v @ Q[j:, :])
    return Q, np.triu(R[:k, :]), P


def solve_upper(R: np.ndarray, y: np.ndarray, transpose: bool = False) -> np.ndarray:
    """Solve R x = y (or Rᵀ x = y) for upper-triangular R by substitution."""
    d = R.shape[0]
    x = np.zeros(d)
    if transpose:
        for i in range(d):
            x[i] = (y[i] - R[:i, i] @ x[:i]) / R[i, i]
    else:
        for i in range(d - 1, -1, -1):
            x[i] = (y[i] - R[i, i + 1 :] @ x[i + 1 :]) / R[i, i]
    return x


def _kernels(d: int):
    """(pivoted QR, triangular solve) — numpy for few columns, LAPACK through scipy otherwise."""
    if d <= SMALL_COLUMNS:
        return householder_qr_pivoted, solve_upper
    import scipy.linalg as sl

    def qr(A):
        return sl.qr(A, mode="economic", pivoting=True)

    def solve(R, y, transpose=False):
        return sl.solve_triangular(R, y, trans="T" if transpose else "N")

    return qr, solve


# ---------------------------------------------------------------------------- the solver
def power_of_two_scale(values: np.ndarray) -> int:
    """The exponent e such that 2**e · max|values| lies in [0.5, 1) (0 for an all-zero array).

    Scaling by a power of two is exact (no rounding) unless it reaches the subnormal range,
    so it moves data of any magnitude (1e-300 or 1e300) to where squares, norms and
    products neither underflow nor overflow (Higham 2002, §27.8 on scaling).
    """
    top = max_abs(values)
    if top == 0.0 or not math.isfinite(top):
        return 0
    return -math.frexp(top)[1]


def refined_lstsq(A: np.ndarray, b: np.ndarray, max_steps: int = 6, kernels=None,
                  scaled_singular_values: np.ndarray | None = None, minimum_norm=None,
                  gram_factor: GramFactor | None = None) -> RefinedSolution:
    """Solve min ||A x - b||₂ for dense A (n >= 1, d >= 1) as accurately as float64 allows.

    A and b are first scaled by powers of two to a maximum entry near 1, so matrices of
    any magnitude (entries 1e-300 or 1e300) are solved as accurately as unit-sized ones:
    with A = 2^-a A', b = 2^-c b', the solution is x = 2^(a-c) x' and the residual 2^-c r'
    (exact rescalings). ``kernels`` = (pivoted_qr, solve_upper) overrides the automatic
    choice (tests use it). ``scaled_singular_values``: the singular values of A with unit-norm columns,
    when the caller already has them (they are computed here otherwise, once). ``minimum_norm`` = (x, rank):
    the SVD minimum-norm solution of the unscaled problem and its rank, when the caller's SVD of A already gives
    it; used if A is rank-deficient after equilibration (else that SVD is computed here). ``gram_factor``: a
    factorisation of AᵀA the caller already has (:class:`GramFactor`); when the semi-normal equations it gives
    contract fast enough (:data:`SEMI_NORMAL_CONTRACTION`) they replace the pivoted QR.
    """
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a_exp, b_exp = power_of_two_scale(A), power_of_two_scale(b)
    if a_exp == 0 and b_exp == 0:
        return _refined_lstsq_unit(A, b, max_steps, kernels, scaled_singular_values, minimum_norm, gram_factor)
    As = np.ldexp(A, a_exp)
    if minimum_norm is not None:  # x of 2^a A, 2^c b is 2^(c-a) x
        minimum_norm = (np.ldexp(minimum_norm[0], b_exp - a_exp), minimum_norm[1])
    scaled = _refined_lstsq_unit(As, np.ldexp(b, b_exp), max_steps, kernels, scaled_singular_values, minimum_norm,
                                 None if gram_factor is None else gram_factor.times_power_of_two(a_exp))
    with np.errstate(over="ignore", under="ignore"):
        x = np.ldexp(scaled.x, a_exp - b_exp)
        residual = np.ldexp(scaled.residual, -b_exp)
        # Scaling back is exact unless x leaves the normal range: a subnormal component keeps only a few
        # bits, and that loss is added to the stated error (in the same column-scaled norm).
        back = np.ldexp(x, b_exp - a_exp)
    bound = scaled.forward_error_bound
    if not np.all(np.isfinite(x)):
        bound = None
    elif bound is not None and not np.array_equal(back, scaled.x):
        D = np.sqrt(np.sum(As * As, axis=0))
        lost = float(np.linalg.norm(D * (back - scaled.x))) / max(float(np.linalg.norm(D * scaled.x)), 1e-300)
        bound = bound + lost
    return replace(scaled, x=x, residual=residual, forward_error_bound=bound)


def _refined_lstsq_unit(A: np.ndarray, b: np.ndarray, max_steps: int, kernels, scaled_singular_values=None,
                        minimum_norm=None, gram_factor: GramFactor | None = None) -> RefinedSolution:
    """:func:`refined_lstsq` on data already scaled to a maximum entry near 1."""
    n, d = A.shape
    norms = np.sqrt(np.sum(A * A, axis=0))
    D = np.where(norms > 0, norms, 1.0)
    As = A / D
    if scaled_singular_values is not None:
        # the caller's σ(As) (column scaling by powers of two leaves As unchanged) give the rank exactly, and a
        # rank-deficient problem never needs the QR factorisation
        s = np.asarray(scaled_singular_values)
        rank = int(np.count_nonzero(s > max(n, d) * EPS64 * s[0])) if s.size else 0
        factors = None
    else:
        qr, _ = kernels or _kernels(d)
        factors = qr(As)
        diag = np.abs(np.diag(factors[1]))
        tol = max(n, d) * EPS64 * (diag[0] if diag.size else 0.0)
        rank = int(np.count_nonzero(diag > tol))
        s = np.linalg.svd(factors[1], compute_uv=False)  # σ(As) = σ(R), As P = Q R
    scaled_cond = float(s[0] / s[-1]) if s[-1] > 0 else math.inf
    precision = "longdouble (64-bit mantissa)" if EXTENDED is not None else "double-double"
    if rank < d or n < d:
        if minimum_norm is not None:
            x, kept = minimum_norm
        else:
            U, sv, Vt = np.linalg.svd(A, full_matrices=False)
            keep = sv > max(n, d) * EPS64 * sv[0]
            x, kept = Vt[keep].T @ ((U[:, keep].T @ b) / sv[keep]), int(np.count_nonzero(keep))
        r_hi, r_lo = matvec_extended(A, x)
        r = (b - r_hi) - r_lo
        solution = _finish(A, D, x, r, rank, 0, "SVD minimum-norm (rank-deficient after equilibration)", scaled_cond, precision,
                           float(s[0]))
        return replace(solution, rank_unscaled=kept)
    A_extended = extended_copy(A)
    refined = None
    if factors is None and gram_factor is not None and gram_factor.contraction(d, scaled_cond) <= SEMI_NORMAL_CONTRACTION:
        refined = _refine(A_extended, D, b, gram_factor.semi_normal_correction(As, D), max_steps)
        method = f"corrected semi-normal equations ({gram_factor.source}, equilibrated) + iterative refinement"
    if refined is None:
        qr, solve_triangular = kernels or _kernels(d)
        if factors is None:
            factors = qr(As)
        refined = _refine(A_extended, D, b, _qr_correction(factors, solve_triangular), max_steps, accept_any=True)
        method = "equilibrated Householder QR (pivoted) + iterative refinement"
    assert refined is not None  # the QR path accepts whatever it reaches
    x, r, steps = refined
    return _finish(A_extended, D, x, r, d, steps, method, scaled_cond, precision, float(s[0]))


SEMI_NORMAL_CONTRACTION = 1e-3
"""The semi-normal equations AsᵀAs dz = Asᵀf - g with the caller's factor of AᵀA replace the pivoted QR in the
refinement when d·κ²·eps, the factor by which each step shrinks the error to first order (Björck, *Numer. Math.* 50
(1987), "Stability analysis of the method of seminormal equations"; κ the condition number the factor's rounding
errors see), is at most this: then about three steps reach full accuracy."""

CONVERGED_CORRECTION = 4.0 * EPS64
"""The semi-normal refinement is kept when its last relative correction ||dz|| / ||z|| is at most this (its limit
is then the extended-precision solution); otherwise the pivoted QR solves the problem afresh."""


@dataclass(frozen=True)
class GramFactor:
    """A factorisation of AᵀA the caller already has, as the semi-normal equations use it.

    Either the triangular factor ``R`` of A = QR (AᵀA = RᵀR; Householder QR is backward stable column by
    column, so R D⁻¹ is as good a factor of As = A D⁻¹ and its rounding errors see κ(A D⁻¹)), or the SVD
    A = U diag(``sigma``) ``V``ᵀ (AᵀA = V diag(σ²) Vᵀ, whose rounding errors see κ(A) itself).
    """

    source: str
    """What the factor came from, in the method's name ("the analysis's QR factor R" or "the analysis's SVD")."""
    R: np.ndarray | None = None
    sigma: np.ndarray | None = None
    V: np.ndarray | None = None

    def times_power_of_two(self, exponent: int) -> GramFactor:
        """The same factorisation of (2^e A)ᵀ(2^e A): R and σ scale by 2^e, exactly."""
        if self.R is not None:
            return replace(self, R=np.ldexp(self.R, exponent))
        sigma, _ = self._svd()
        return replace(self, sigma=np.ldexp(sigma, exponent))

    def _svd(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.sigma is not None and self.V is not None, "a GramFactor holds R or the SVD's sigma and V"
        return self.sigma, self.V

    def contraction(self, d: int, scaled_condition: float) -> float:
        """d·κ²·eps (see :data:`SEMI_NORMAL_CONTRACTION`); inf when the factor is singular."""
        if self.R is not None:
            kappa = scaled_condition
        else:
            sigma, _ = self._svd()
            kappa = float(sigma[0] / sigma[-1]) if sigma.size and sigma[-1] > 0 else math.inf
        return d * kappa**2 * EPS64 if math.isfinite(kappa) else math.inf

    def semi_normal_correction(self, As: np.ndarray, D: np.ndarray):
        """The correction of the augmented system [I As; Asᵀ 0][dr; dz] = [f; g] through the semi-normal
        equations: dz = (AsᵀAs)⁻¹ (Asᵀ f - g), dr = f - As dz, with (AsᵀAs)⁻¹ = D (AᵀA)⁻¹ D."""
        if self.R is not None:
            Rs = self.R / D

            def gram_solve(y):
                return solve_upper(Rs, solve_upper(Rs, y, transpose=True))
        else:
            sigma, V = self._svd()
            scale, inverse_squares = D, 1.0 / sigma**2

            def gram_solve(y):
                return scale * (V @ (inverse_squares * (V.T @ (scale * y))))

        def correction(f, g):
            dz = gram_solve(As.T @ f - g)
            return f - As @ dz, dz

        return correction


def _qr_correction(factors, solve_triangular):
    """The correction of the augmented system [I As; Asᵀ 0][dr; dz] = [f; g] with the pivoted QR As P = Q R."""
    Q, R, P = factors
    d = R.shape[1]

    def correction(f, g_scaled):
        # in pivoted order: g_p = g[P]
        u = solve_triangular(R, g_scaled[P], transpose=True)
        qf = Q.T @ f
        dz_p = solve_triangular(R, qf - u)
        dz = np.empty(d)
        dz[P] = dz_p
        dr = Q @ u + (f - Q @ qf)
        return dr, dz

    return correction


def _refine(A_extended: np.ndarray, D: np.ndarray, b: np.ndarray, correction, max_steps: int, accept_any: bool = False):
    """x = D⁻¹ z by iterative refinement of the augmented system in extended precision (Björck 1967): the residuals
    f = b - r - A x and g = -Asᵀ r are accumulated in extended precision, ``correction(f, g)`` gives (dr, dz).
    Stops when a correction no longer halves, or after ``max_steps``. Returns (x, r, steps), or None when the last
    correction exceeds :data:`CONVERGED_CORRECTION` (or anything is not finite) unless ``accept_any``."""
    d = D.size
    r, z = correction(b.copy(), np.zeros(d))
    z_lo = np.zeros(d)
    steps = 0
    last = size = math.inf
    for steps in range(1, max_steps + 1):
        x_hi, x_lo = z / D, z_lo / D
        f = _residual_f(A_extended, b, r, x_hi, x_lo)
        g = _gradient_g(A_extended, r) / D  # Asᵀ r = D⁻¹ Aᵀ r
        dr, dz = correction(f, g)
        r = r + dr
        z, z_lo = _two_sum(z, dz + z_lo)
        size = float(np.linalg.norm(dz)) / max(float(np.linalg.norm(z)), 1e-300)
        if size <= EPS64 * 0.5 or size > 0.5 * last:
            break
        last = size
    if not accept_any and not (size <= CONVERGED_CORRECTION and np.all(np.isfinite(z)) and np.all(np.isfinite(r))):
        return None
    x = z / D + z_lo / D
    r_hi, r_lo = matvec_extended(A_extended, z / D, z_lo / D)
    return x, (b - r_hi) - r_lo, steps


def _finish(A, D, x, r, rank, steps, method, scaled_cond, precision, norm_as: float) -> RefinedSolution:
    """Backward error from extended-precision quantities and a first-order forward bound.

    eta = ||Asᵀ r|| / (||As|| ||r|| + ||As||² ||z||) estimates the normwise backward error of
    z = D x for the scaled problem (Higham 2002, §20.7); the forward bound in the scaled norm is
    2 eta (kappa + kappa² ||r|| / (||As|| ||z||)) + 2 eps (Wedin 1973; the 2 eps is x's own rounding).
    ``norm_as`` = ||As||₂ = σmax(As); ``A`` may be held in extended precision (:func:`extended_copy`), and
    Asᵀ r = D⁻¹ Aᵀ r.
    """
    z = x * D
    g_hi, g_lo = matvec_extended(A, r, transpose=True)
    gradient = float(np.linalg.norm((g_hi + g_lo) / D))
    rn, zn = float(np.linalg.norm(r)), float(np.linalg.norm(z))
    denominator = norm_as * rn + norm_as**2 * zn
    eta = gradient / denominator if denominator > 0 else 0.0
    if math.isfinite(scaled_cond):
        rho = rn / max(norm_as * zn, 1e-300)
        bound = 2.0 * eta * (scaled_cond + scaled_cond**2 * rho) + 2.0 * EPS64
    else:
        bound = None
    return RefinedSolution(x, r, rank, steps, method, scaled_cond, eta, bound, precision)
