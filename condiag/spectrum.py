"""Eigenstructure of the problem: singular values of A, eigenpairs of the Hessian, rank.

Everything condiag reports about curvature comes from one exact decomposition,
computed here once:

* least squares: the SVD A = U diag(sigma) Vᵀ. For a tall A (n > 1.5 d) the QR
  factorisation of the augmented matrix [A | b] = Q [R, Qᵀb; 0, rho] comes first and the
  SVD is taken of the d x d factor R (same singular values and right vectors, Golub &
  Van Loan, *Matrix Computations*, 4th ed., §5.4.5), so no n x n or n x d U is formed;
* quadratic: the symmetric eigendecomposition Q = V diag(lambda) Vᵀ.

The Hessian of f is H = s AᵀA + 2 ridge I (s = 2c from the loss convention) with
eigenvalues lambda_i = s sigma_i^2 + 2 ridge along the right singular vectors v_i.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .errors import InputError
from .memory import require_memory
from .numbers import max_abs
from .problem import Problem

EPS64 = float(np.finfo(np.float64).eps)
TALL_RATIO = 1.5


@dataclass(frozen=True)
class Decomposition:
    """The exact decomposition behind every spectral number (internal, not reported)."""

    singular_values: np.ndarray
    """sigma_i of A, descending (quadratic: eigenvalues of Q, descending, may be negative)."""
    hessian_eigenvalues: np.ndarray
    """lambda_i of H for all d directions, aligned with the columns of ``V``, descending."""
    V: np.ndarray
    """d x d orthogonal matrix; column i is the eigenvector of H for ``hessian_eigenvalues[i]``."""
    b_coefficients: np.ndarray
    """uᵢᵀb for each singular value (least squares) or vᵢᵀb (quadratic)."""
    b_outside_norm: float
    """||b - U Uᵀ b||: the part of b no combination of A's columns reaches (least squares)."""
    rank: int
    rank_tol: float
    """Singular values at or below this count as zero: sigma_max * max(n, d) * eps (numpy's matrix_rank)."""
    reduced_by_qr: bool
    reduced_matrix: np.ndarray
    """R of A = QR when ``reduced_by_qr`` (same column norms and singular values as A), else A (or Q)."""

    def _equilibrated(self) -> np.ndarray | None:
        """A (or its R) with every column scaled to unit norm; None with a zero column."""
        R = self.reduced_matrix
        norms = np.sqrt(np.sum(R * R, axis=0))
        return None if np.any(norms == 0) else R / norms

    @cached_property
    def equilibrated_svd(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(μ, Vᵀ): the SVD of A with every column scaled to unit norm (computed once, on first use, and shared
        by the collinearity and scaling diagnoses and the reference's stated accuracy). None with a zero column."""
        scaled = self._equilibrated()
        if scaled is None:
            return None
        _, mu, Vt = np.linalg.svd(scaled, full_matrices=False)
        return mu, Vt

    @cached_property
    def equilibrated_singular_values(self) -> np.ndarray | None:
        """μ of :attr:`equilibrated_svd`, without the vectors unless they were already computed."""
        if "equilibrated_svd" in self.__dict__:
            full = self.equilibrated_svd
            return None if full is None else full[0]
        scaled = self._equilibrated()
        return None if scaled is None else np.linalg.svd(scaled, compute_uv=False)


@dataclass(frozen=True)
class Direction:
    """An eigen-direction of the Hessian and the coordinates that dominate it."""

    eigenvalue: float
    vector: np.ndarray
    loadings: tuple[tuple[str, float, float], ...]
    """(column name, component, share of the squared norm) for the largest components."""


@dataclass(frozen=True)
class Spectrum:
    """Curvature summary of a problem, as reported."""

    singular_values: np.ndarray
    """Singular values of A, descending (quadratic: eigenvalues of Q)."""
    sigma_max: float
    sigma_min: float
    """Smallest of the min(n, d) singular values (numpy.linalg.cond's convention)."""
    sigma_min_nonzero: float | None
    """Smallest singular value above the rank tolerance."""
    condition_number: float
    """cond(A) = sigma_max / sigma_min (inf when sigma_min = 0); quadratic: cond(Q)."""
    effective_condition_number: float | None
    """sigma_max / sigma_min_nonzero: the conditioning within A's row space."""
    rank: int
    rank_tol: float
    null_dim: int
    """d - rank: directions in which x does not change A x."""
    lambda_max: float
    """L, the largest Hessian eigenvalue."""
    lambda_min: float
    """mu, the smallest Hessian eigenvalue (zero, up to rounding, when singular)."""
    lambda_min_nonzero: float | None
    """Smallest Hessian eigenvalue along a direction the data determines (rank-revealing)."""
    hessian_condition_number: float
    """L / mu (inf when mu <= 0)."""
    effective_hessian_condition_number: float | None
    """L / lambda_min_nonzero: what governs GD's rate on the part of x the loss sees."""
    steepest: Direction
    flattest: Direction
    """The flattest direction of all (possibly a null direction)."""
    slowest_learned: Direction | None
    """The flattest direction the loss still sees (differs from ``flattest`` when singular)."""
    method: str
    exact: bool
    hessian_eigenvalues: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Every Hessian eigenvalue, descending (the exact path; None from the iterative one, which has the extremes)."""


TALL_BLOCK_BYTES = 32 * 2**20
"""Size of the working buffer of the in-memory tall path's blocked QR (rows per block: this / (8 (d + 1)))."""


IN_PLACE_QR_ENTRIES = 15_000_000
"""Above this many entries of a tall in-memory [A b], the row-block QR overwrites its buffer with scipy's LAPACK
(dgeqrf, in place) rather than calling numpy's QR, which factors a copy of the buffer (twice the memory) and costs
about 14 ns more per entry on skinny blocks (2e6 x 51: 4.0 s against 2.1 s; 10,000 x 501: 0.29 s against 0.32 s):
from about here that outweighs scipy's import (0.2-0.3 s)."""


class RowBlockQR:
    """R of [A | (1) | b] fed one block of rows at a time (a sequential TSQR; Demmel, Grigori, Hoemmen &
    Langou, SIAM J. Sci. Comput. 34 (2012)).

    Each block is stacked under the R of the blocks before it in one reused Fortran-ordered buffer, and
    LAPACK's Householder QR (dgeqrf) of the buffer gives the R of [R_prev; block], the R of all rows so far.
    ``in_place``: scipy's dgeqrf overwrites the buffer (the working memory is the buffer alone, whatever the
    number of rows; streaming always works so); otherwise ``numpy.linalg.qr(mode='r')`` factors a copy, which
    keeps a small tall problem free of scipy's import.
    """

    def __init__(self, width: int, block_rows: int, in_place: bool = True):
        self.width = width
        self.block_rows = max(int(block_rows), 1)
        self.buffer = np.zeros((width + self.block_rows, width), order="F")
        self.in_place = in_place
        if in_place:
            from scipy.linalg import lapack

            self.lwork = max(int(lapack.dgeqrf_lwork(width + self.block_rows, width)[0]), width)
        self.R: np.ndarray = np.zeros((width, width))

    def add(self, rows: np.ndarray, b_rows: np.ndarray, intercept: bool = False) -> None:
        """Append up to ``block_rows`` rows: the columns of A, then a column of ones if ``intercept``, then b."""
        m, d = rows.shape
        top = self.width
        data = self.buffer[top : top + m]
        self.buffer[:top] = self.R
        data[:, :d] = rows
        if intercept:
            data[:, d] = 1.0
        data[:, -1] = b_rows
        if not self.in_place:
            self.R = np.asarray(np.linalg.qr(self.buffer[: top + m], mode="r"))
            return
        self.buffer[top + m :] = 0.0  # zero rows leave R unchanged
        self.R = householder_r(self.buffer, self.lwork)


def householder_r(matrix: np.ndarray, lwork: int | None = None) -> np.ndarray:
    """The w x w upper-triangular R of ``matrix`` (m x w, m >= w) by LAPACK's Householder QR (dgeqrf), without
    forming Q. A Fortran-ordered float64 ``matrix`` is overwritten in place; anything else is copied first."""
    from scipy.linalg import lapack

    width = matrix.shape[1]
    factored, _tau, _work, info = lapack.dgeqrf(matrix, lwork=lwork or max(int(lapack.dgeqrf_lwork(*matrix.shape)[0]), width),
                                                overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"dgeqrf failed (info {info})")
    return np.triu(factored[:width])


def _reduced_tall(A: np.ndarray, b: np.ndarray):
    """QR of [A | b] by blocks of rows (:class:`RowBlockQR`): returns R (d x d), Qᵀb and |rho| = residual of b
    outside range(Q). No copy of A is made (numpy's ``qr`` made two, one of them transposed)."""
    n, d = A.shape
    width = d + 1
    qr = RowBlockQR(width, max(width, min(n, TALL_BLOCK_BYTES // (8 * width))),
                    in_place=n * width > IN_PLACE_QR_ENTRIES or "scipy.linalg" in sys.modules)
    for start in range(0, n, qr.block_rows):
        stop = min(start + qr.block_rows, n)
        qr.add(A[start:stop], b[start:stop])
    R = qr.R
    return R[:d, :d].copy(), R[:d, d].copy(), float(abs(R[d, d]))


def check_curvature_range(problem: Problem, sigma_max: float, lambda_max: float, lambda_min_learned: float | None) -> None:
    """Refuse a least-squares problem whose Hessian eigenvalues c·σ² leave float64's normal range.

    Entries near 1e160 make λmax = 2cσmax² overflow, entries near 1e-160 make the curvature of
    a direction the data determine underflow to a subnormal or zero: every learning-rate bound
    (2/λ) and closed-form prediction would then be inf, zero or silently imprecise. The answer
    x* itself is unaffected (``condiag solve`` scales A by powers of two and works on A, not AᵀA).
    """
    tiny, huge = float(np.finfo(np.float64).tiny), float(np.finfo(np.float64).max)
    if problem.is_quadratic:
        return
    too_big = not np.isfinite(lambda_max) or lambda_max > huge / 4
    # sigma_max == 0 is an all-zero A: no curvature at all, which the analysis reports as such
    too_small = sigma_max > 0 and (lambda_max < tiny * 1e3 or (lambda_min_learned is not None and lambda_min_learned < tiny * 1e3))
    if too_big or too_small:
        scale = "overflow" if too_big else "underflow"
        raise InputError(
            problem.source,
            f"the Hessian's eigenvalues (c·σ², with σmax = {sigma_max:.3g}) "
            f"{scale} float64, so no learning rate or step count can be computed in double precision",
            "rescale A and b (say, divide them by their largest entry); `condiag solve` gives x* as it is",
        )


def _range_shift(A: np.ndarray) -> int:
    """0 for entries within 1e±100 of 1, else the power of two that brings the largest entry to [0.5, 1)."""
    from .refined_lstsq import power_of_two_scale

    top = max_abs(A)
    return power_of_two_scale(A) if top and not 1e-100 < top < 1e100 else 0


def _symmetric_svd(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U, s, Vᵀ) of a symmetric A from its eigendecomposition A = W Λ Wᵀ: s = |λ| in descending order, V = W and
    U = W·sign(λ) column by column (Golub & Van Loan, *Matrix Computations*, 4th ed., §8.6.1).

    A kernel or Gram matrix is symmetric; LAPACK's symmetric eigensolver (dsyevd) gives the same backward-stable
    factorisation as the SVD (eigenvalues within eps·||A|| of the exact ones, as σ are) in a third of the time
    (600 x 600: 0.031 s against 0.086 s).
    """
    eigenvalues, W = np.linalg.eigh(A)
    order = np.argsort(np.abs(eigenvalues), kind="stable")[::-1]
    eigenvalues, V = eigenvalues[order], W[:, order]
    U = V * np.where(eigenvalues < 0, -1.0, 1.0)
    return U, np.abs(eigenvalues), V.T


def decompose(problem: Problem) -> Decomposition:
    """Exact decomposition of a dense (or densifiable) problem, float64.

    Costs one QR of [A b] plus one SVD of a d x d matrix for tall A, else one SVD of A (one symmetric
    eigendecomposition when A is square and exactly symmetric, :func:`_symmetric_svd`).
    """
    n, d = problem.n_samples, problem.n_cols  # n: the original rows (rank tolerance), also for a streamed problem
    rows = problem.n_rows
    require_memory(8.0 * (rows * d * (2 if problem.sparse else 1) + d * d * 2), problem.source, f"a dense {rows}x{d} decomposition")
    A = problem.dense_matrix()
    b = problem.b
    if problem.is_quadratic:
        eigenvalues, V = np.linalg.eigh(A)
        order = np.argsort(eigenvalues)[::-1]
        eigenvalues, V = eigenvalues[order], V[:, order]
        top = float(np.max(np.abs(eigenvalues)))
        rank_tol = top * d * EPS64
        rank = int(np.count_nonzero(np.abs(eigenvalues) > rank_tol))
        return Decomposition(
            singular_values=eigenvalues,
            hessian_eigenvalues=eigenvalues + 2.0 * problem.ridge,
            V=V,
            b_coefficients=V.T @ b,
            b_outside_norm=0.0,
            rank=rank,
            rank_tol=rank_tol,
            reduced_by_qr=False,
            reduced_matrix=A,
        )
    reduced = problem.n_rows > TALL_RATIO * d
    unscaled = A
    shift = _range_shift(A)
    if shift:  # entries beyond 1e±100: factorise 2^shift·A (exact) so LAPACK neither overflows nor underflows
        A = np.ldexp(A, shift)
    if reduced:
        R, qtb, rho = _reduced_tall(A, b)
        U, s, Vt = np.linalg.svd(R, full_matrices=False)
        coefficients = U.T @ qtb
        outside = rho
    else:
        U, s, Vt = _symmetric_svd(A) if rows == d and np.array_equal(A, A.T) else np.linalg.svd(A, full_matrices=d > rows)
        coefficients = U.T @ b
        # ||b - U Uᵀb|| from the difference itself: sqrt(bᵀb - ||Uᵀb||²) cancels to sqrt(eps)·||b|| (U square: 0)
        outside = 0.0 if U.shape[0] == U.shape[1] else float(np.linalg.norm(b - U @ coefficients))
    if shift:
        with np.errstate(over="ignore", under="ignore"):
            s = np.ldexp(s, -shift)
            if reduced:
                R = np.ldexp(R, -shift)
        A = unscaled
    V = Vt.T
    rank_tol = float(s[0]) * max(n, d) * EPS64 if s.size else 0.0
    rank = int(np.count_nonzero(s > rank_tol))
    sigma_all = np.zeros(d)
    sigma_all[: s.size] = s
    with np.errstate(over="ignore", under="ignore"):
        eigenvalues = problem.hessian_scale * sigma_all**2 + 2.0 * problem.ridge
        kept = s[s > rank_tol]
        smallest_learned = float(problem.hessian_scale * kept[-1] ** 2) if kept.size else None
    check_curvature_range(problem, float(s[0]) if s.size else 0.0, float(eigenvalues[0]) if eigenvalues.size else 0.0,
                          smallest_learned)
    return Decomposition(
        singular_values=s,
        hessian_eigenvalues=eigenvalues,
        V=V,
        b_coefficients=coefficients,
        b_outside_norm=outside,
        rank=rank,
        rank_tol=rank_tol,
        reduced_by_qr=reduced,
        reduced_matrix=R if reduced else A,
    )


def learned_mask(problem: Problem, decomposition: Decomposition) -> np.ndarray:
    """True for the Hessian directions the data determines (singular value above the rank tolerance)."""
    d = problem.n_cols
    s = decomposition.singular_values
    if problem.is_quadratic:
        return np.abs(s) > decomposition.rank_tol
    mask = np.zeros(d, dtype=bool)
    mask[: s.size] = s > decomposition.rank_tol
    return mask


def learned_eigenvalues(problem: Problem, decomposition: Decomposition) -> np.ndarray:
    """Hessian eigenvalues with the undetermined directions set to exactly 2 ridge."""
    lam = decomposition.hessian_eigenvalues.copy()
    lam[~learned_mask(problem, decomposition)] = 2.0 * problem.ridge
    return lam


def loadings(vector: np.ndarray, names, top: int = 3, min_share: float = 0.01):
    """Largest components of a unit vector with their share of its squared norm."""
    share = vector**2
    order = np.argsort(share)[::-1][:top]
    picked = [(names[i], float(vector[i]), float(share[i])) for i in order if share[i] >= min_share or i == order[0]]
    return tuple(picked)


def direction(vector: np.ndarray, eigenvalue: float, names) -> Direction:
    """A Direction with a deterministic sign (largest component positive) and its loadings."""
    v = -vector if vector[np.argmax(np.abs(vector))] < 0 else vector
    return Direction(float(eigenvalue), v.copy(), loadings(v, names))


def _direction(decomposition: Decomposition, index: int, names) -> Direction:
    return direction(decomposition.V[:, index], decomposition.hessian_eigenvalues[index], names)


def _ratio(top: float, bottom: float | None) -> float:
    if bottom is None or bottom <= 0:
        return float("inf")
    return top / bottom


def spectrum_from(problem: Problem, decomposition: Decomposition) -> Spectrum:
    """Summarise a decomposition as a :class:`Spectrum`."""
    names = problem.column_names
    s = decomposition.singular_values
    lam = decomposition.hessian_eigenvalues
    d = problem.n_cols
    learned = learned_mask(problem, decomposition)
    if problem.is_quadratic:
        magnitudes = np.sort(np.abs(s))[::-1]
        sigma_max, sigma_min = float(magnitudes[0]), float(magnitudes[-1])
        nonzero = magnitudes[magnitudes > decomposition.rank_tol]
    else:
        sigma_max = float(s[0])
        sigma_min = float(s[-1]) if s.size == min(problem.n_rows, d) else 0.0
        nonzero = s[s > decomposition.rank_tol]
    if problem.ridge > 0:
        learned[:] = True  # the penalty gives every direction curvature 2*ridge
    sigma_min_nonzero = float(nonzero[-1]) if nonzero.size else None
    lambda_max, lambda_min = float(lam[0]), float(lam[-1])
    learned_idx = np.flatnonzero(learned)
    if learned_idx.size:
        slowest_index = int(learned_idx[np.argmin(lam[learned_idx])])
        lambda_min_nonzero = float(lam[slowest_index])
    else:
        slowest_index, lambda_min_nonzero = None, None
    flattest_index = int(np.argmin(lam))
    flattest = _direction(decomposition, flattest_index, names)
    slowest = None
    if slowest_index is not None:
        slowest = flattest if slowest_index == flattest_index else _direction(decomposition, slowest_index, names)
    return Spectrum(
        singular_values=s,
        sigma_max=sigma_max,
        sigma_min=sigma_min,
        sigma_min_nonzero=sigma_min_nonzero,
        condition_number=_ratio(sigma_max, sigma_min),
        effective_condition_number=None if sigma_min_nonzero is None else sigma_max / sigma_min_nonzero,
        rank=decomposition.rank,
        rank_tol=decomposition.rank_tol,
        null_dim=d - decomposition.rank,
        lambda_max=lambda_max,
        lambda_min=lambda_min,
        lambda_min_nonzero=lambda_min_nonzero,
        hessian_condition_number=_ratio(lambda_max, lambda_min),
        effective_hessian_condition_number=(
            None if lambda_min_nonzero is None or lambda_min_nonzero <= 0 else lambda_max / lambda_min_nonzero
        ),
        steepest=_direction(decomposition, int(np.argmax(lam)), names),
        flattest=flattest,
        slowest_learned=slowest,
        method="eigh (LAPACK)" if problem.is_quadratic else ("QR + SVD (LAPACK)" if decomposition.reduced_by_qr else "SVD (LAPACK)"),
        exact=True,
        hessian_eigenvalues=np.sort(lam)[::-1],
    )
