"""Extreme singular values of large or sparse matrices, iteratively, with a stated accuracy.

* sigma_max: Lanczos (ARPACK ``eigsh``) on the operator v -> Aᵀ(A v) (largest eigenvalue).
* sigma_min: Lanczos on an inverse operator built from a sparse LU factorisation (SuperLU),
  i.e. shift-invert at zero (Golub & Van Loan §8.2; Saad, *Numerical Methods for Large
  Eigenvalue Problems*, 2011, ch. 4):
    - square A: v -> A⁻¹ A⁻ᵀ v, whose largest eigenvalue is 1/sigma_min² — the factorisation is of
      A itself, so its rounding error grows with cond(A), not cond(A)²;
    - tall A (n > d): v -> (AᵀA)⁻¹ v from an LU of AᵀA (error grows with cond(A)²);
    - wide A: the same with A Aᵀ.
  When the factorisation fails (singular, or too large) sigma_min falls back to LOBPCG on AᵀA
  with the achieved residual reported, or is reported as 0 for an exactly singular factor.
* quadratic Q (symmetric): ``eigsh`` for the largest and, through the LU of Q, the smallest-magnitude
  eigenvalue.

The accuracy estimate combines ARPACK's tolerance with the factorisation's rounding
(about cond · eps, or cond² · eps through the normal equations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .problem import Problem
from .spectrum import EPS64

ARPACK_TOL = 1e-10


@dataclass(frozen=True)
class ExtremePair:
    """The extreme singular values (or eigenvalues of Q) and their right vectors."""

    sigma_max: float
    sigma_min: float
    v_max: np.ndarray
    v_min: np.ndarray | None
    relative_accuracy: float
    """Estimated relative accuracy of sigma_min (sigma_max is accurate to about ARPACK's tolerance)."""
    method: str
    lambda_min_signed: float | None = None
    """Quadratic objective: the smallest eigenvalue of Q with its sign (negative: not convex)."""
    squared: bool = False
    """True when sigma_min came from AᵀA (or AAᵀ): its absolute error is then about
    sqrt(max(n, d)·eps)·sigma_max, not max(n, d)·eps·sigma_max (see :meth:`rank_tolerance`)."""
    inverse_gram: Any = field(default=None, repr=False, compare=False)
    """v -> (AᵀA)⁻¹ v through the factors sigma_min came from (None without them): any column scaling D
    of A reuses them, since ((A D⁻¹)ᵀ(A D⁻¹))⁻¹ = D (AᵀA)⁻¹ D."""

    def rank_tolerance(self, n: int, d: int) -> float:
        """The smallest sigma_min this method tells apart from zero.

        Through A itself the rounding of sigma_min is about max(n, d)·eps·sigma_max (as for
        ``numpy.linalg.matrix_rank``); through AᵀA it is that on sigma², so on sigma its square
        root, sqrt(max(n, d)·eps)·sigma_max (Golub & Van Loan, §5.3.7 on the normal equations).
        """
        unit = max(n, d) * EPS64
        return self.sigma_max * (math.sqrt(unit) if self.squared else unit)


def _operator(shape, matvec):
    from scipy.sparse.linalg import LinearOperator

    return LinearOperator(shape, matvec=matvec, rmatvec=matvec, dtype=np.float64)


DENSE_OPERATOR_MAX = 8
"""An operator this small is applied to the identity and solved densely: ARPACK needs k < n - 1."""


def _largest(operator, n: int, seed: int = 0) -> tuple[float, np.ndarray]:
    from scipy.sparse.linalg import eigsh

    if n <= DENSE_OPERATOR_MAX:
        M = np.column_stack([operator.matvec(e) for e in np.eye(n)])
        values, vectors = np.linalg.eigh((M + M.T) / 2.0)
        return float(values[-1]), vectors[:, -1]
    v0 = np.random.default_rng(seed).standard_normal(n)
    values, vectors = eigsh(operator, k=1, which="LA", tol=ARPACK_TOL, v0=v0, maxiter=20 * n + 1000)
    return float(values[0]), vectors[:, 0]


def _sparse(A):
    import scipy.sparse as sp

    return A if sp.issparse(A) else sp.csr_matrix(A)


FACTOR_MEMORY_FRACTION = 0.25
"""A sparse LU may use at most this fraction of the available memory (checked before factorising)."""
FACTOR_BYTES_PER_ENTRY = 24
"""Bytes per stored factor entry: the value, its index, and SuperLU's supernodal overhead, generously."""


def envelope_size(M) -> int:
    """Entries in the envelope (profile) of a symmetric sparse pattern: Σ_i (i - first column of row i + 1)."""
    import scipy.sparse as sp

    lower = sp.tril(M, format="csr")
    lower.sort_indices()
    rows = np.flatnonzero(np.diff(lower.indptr) > 0)
    first = lower.indices[lower.indptr[rows]]
    return int(np.sum(rows - first + 1)) + int(M.shape[0] - rows.size)


def factor_within_memory(M, pattern=None):
    """(SuperLU factors of M with its columns reordered, the column order p) when the factors provably fit
    in :data:`FACTOR_MEMORY_FRACTION` of the available memory, else None (nothing is factorised).

    The columns are ordered by reverse Cuthill–McKee on the symmetric pattern ``pattern`` (MᵀM's when M is
    not symmetric; M itself by default). Without further column reordering (``permc_spec='NATURAL'``) the
    factors are then contained in the envelope of that pattern: for symmetric M with diagonal pivots
    because fill stays inside the profile (George & Liu, *Computer Solution of Large Sparse Positive
    Definite Systems*, 1981, ch. 4), for square M with partial pivoting because L and U lie in the
    structure of the Cholesky factor of MᵀM (George & Ng, SIAM J. Sci. Stat. Comput. 8 (1987) 877).
    So 2 × envelope entries bound the factors' size before any memory is committed.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import reverse_cuthill_mckee
    from scipy.sparse.linalg import splu

    from .memory import available_memory_bytes

    symmetric = pattern is None
    pattern = sp.csr_matrix(M if symmetric else pattern)
    order = reverse_cuthill_mckee(pattern, symmetric_mode=True)
    needed = 2.0 * envelope_size(pattern[order][:, order]) * FACTOR_BYTES_PER_ENTRY
    if needed > FACTOR_MEMORY_FRACTION * available_memory_bytes():
        return None
    permuted = sp.csc_matrix(M[order][:, order] if symmetric else M[:, order])
    options = {"permc_spec": "NATURAL"}
    if symmetric:
        options["diag_pivot_thresh"] = 0.0
    return splu(permuted, **options), order


def extreme_pair(problem: Problem) -> ExtremePair:
    """Iterative extreme singular values of A (or eigenvalues of Q), see the module docstring."""
    import scipy.sparse as sp

    A = _sparse(problem.A)
    n, d = A.shape
    if problem.is_quadratic:
        top, v_top = _largest(_operator((d, d), lambda v: A @ v), d)
        bottom, v_bottom = _largest(_operator((d, d), lambda v: -(A @ v)), d, seed=1)
        magnitude_max = max(abs(top), abs(bottom))
        try:
            factored = factor_within_memory(sp.csc_matrix(A), pattern=abs(A.T) @ abs(A))
            if factored is None:
                raise MemoryError("the factors of Q may not fit in memory")
            inv, v_min = _largest(_operator((d, d), _inverse_gram_square(*factored)), d, seed=2)
            sigma_min = 1.0 / math.sqrt(inv) if inv > 0 else 0.0
            accuracy = max(ARPACK_TOL, (magnitude_max / max(sigma_min, 1e-300)) * EPS64 * 10)
            method = "Lanczos (ARPACK) on Q; smallest |eigenvalue| by shift-invert (SuperLU of Q)"
        except RuntimeError:
            sigma_min, v_min, accuracy = 0.0, None, 0.0
            method = "Lanczos (ARPACK) on Q; Q is exactly singular (SuperLU)"
        except MemoryError:
            sigma_min, v_min, accuracy, method = _lobpcg_min(A)
            method = ("Lanczos (ARPACK) on Q; smallest |eigenvalue| by LOBPCG on Q² (the sparse LU of Q was not "
                      "attempted: its factors could exceed a quarter of the available memory)")
        return ExtremePair(magnitude_max, sigma_min, v_top if abs(top) >= abs(bottom) else v_bottom, v_min, accuracy, method,
                           lambda_min_signed=-bottom)
    if A.count_nonzero() == 0:  # ARPACK cannot start on a zero operator; every singular value is 0
        e0 = np.eye(d, 1).ravel()
        return ExtremePair(0.0, 0.0, e0, e0, 0.0, "A is all zeros (no iteration needed)")
    top, v_max = _largest(_operator((d, d), lambda v: A.T @ (A @ v)), d)
    sigma_max = math.sqrt(max(top, 0.0))
    empty = np.flatnonzero(np.asarray(abs(A).sum(axis=0)).ravel() == 0)
    if empty.size:  # an all-zero column: sigma_min is exactly 0 along it, no iteration needed
        v_min = np.zeros(d)
        v_min[empty[0]] = 1.0
        return ExtremePair(sigma_max, 0.0, v_max, v_min, 0.0,
                           f"Lanczos (ARPACK) for sigma_max; sigma_min = 0 exactly (column {int(empty[0])} is all zero)")
    squared = False
    inverse_gram = None
    try:
        if n == d:
            factored = factor_within_memory(sp.csc_matrix(A), pattern=abs(A.T) @ abs(A))
            if factored is None:
                raise MemoryError("the factors of A may not fit in memory")
            inverse_gram = _inverse_gram_square(*factored)
            inv, v_min = _largest(_operator((d, d), inverse_gram), d, seed=1)
            how = "shift-invert through the SuperLU factors of A"
        elif n > d:
            v_min, inv, inverse_gram = _inverse_largest(A.T @ A, d)
            squared = True
            how = "shift-invert through the SuperLU factors of AᵀA"
        else:
            u_min, inv, _ = _inverse_largest(A @ A.T, n)
            v_min = A.T @ u_min
            v_min /= np.linalg.norm(v_min) or 1.0
            squared = True
            how = "shift-invert through the SuperLU factors of AAᵀ"
        sigma_min = 1.0 / math.sqrt(inv) if inv > 0 else 0.0
        cond = sigma_max / sigma_min if sigma_min > 0 else math.inf
        accuracy = max(ARPACK_TOL, (cond**2 if squared else cond) * EPS64 * 10)
        method = f"Lanczos (ARPACK) for sigma_max; {how} for sigma_min"
    except (RuntimeError, MemoryError) as error:
        sigma_min, v_min, accuracy, method = _lobpcg_min(A)
        if isinstance(error, MemoryError):
            method += " (the sparse LU was not attempted: its factors could exceed a quarter of the available memory)"
        else:
            method += f" (shift-invert failed: {str(error)[:80]})"
        squared = True
    return ExtremePair(sigma_max, sigma_min, v_max, v_min, accuracy, method, squared=squared, inverse_gram=inverse_gram)


def scaled_extremes(problem: Problem, pair: ExtremePair | None, scale: np.ndarray) -> tuple[float, float]:
    """(σmax, σmin) of A D⁻¹ for the column scaling D = diag(``scale``), reusing the factors behind ``pair``
    (see :attr:`ExtremePair.inverse_gram`); without them (a wide A, or the LOBPCG fallback) the pair of the
    scaled matrix is computed afresh."""
    A = _sparse(problem.A)
    d = A.shape[1]
    inverse = 1.0 / scale
    if pair is None or pair.inverse_gram is None or problem.is_quadratic:
        scaled = A.multiply(inverse[None, :]).tocsr()
        fresh = extreme_pair(problem.with_options(A=scaled, ridge=0.0))
        return fresh.sigma_max, fresh.sigma_min
    top, _ = _largest(_operator((d, d), lambda v: inverse * (A.T @ (A @ (inverse * v)))), d)
    inv, _ = _largest(_operator((d, d), lambda v: scale * pair.inverse_gram(scale * v)), d, seed=1)
    return math.sqrt(max(top, 0.0)), (1.0 / math.sqrt(inv) if inv > 0 else 0.0)


def _inverse_gram_square(lu, order):
    """v -> (AᵀA)⁻¹ v from the factors of A P = L U: A⁻¹ = P (A P)⁻¹, so A⁻¹ A⁻ᵀ v = P (AP)⁻¹ (AP)⁻ᵀ Pᵀ v."""
    def apply(v):
        w = lu.solve(v[order], trans="T")  # (AP)⁻ᵀ Pᵀ v, with Pᵀ v = v[order]
        out = np.empty_like(v)
        out[order] = lu.solve(w)
        return out

    return apply


def _inverse_largest(M, size: int):
    """(eigenvector, largest eigenvalue, the operator v -> M⁻¹ v) of M⁻¹ for symmetric positive semi-definite
    sparse M, through the factors of the RCM-permuted M (memory checked first, see :func:`factor_within_memory`)."""
    factored = factor_within_memory(M)
    if factored is None:
        raise MemoryError("the factors may not fit in memory")
    lu, order = factored

    def apply(v):
        out = np.empty_like(v)
        out[order] = lu.solve(v[order])
        return out

    inv, vector = _largest(_operator((size, size), apply), size, seed=1)
    return vector, inv, apply


def _lobpcg_min(A):
    """Fallback for sigma_min: LOBPCG on AᵀA; the accuracy is the achieved relative residual."""
    from scipy.sparse.linalg import lobpcg

    d = A.shape[1]
    X = np.random.default_rng(3).standard_normal((d, 1))
    operator = _operator((d, d), lambda v: A.T @ (A @ v))
    # no residual history requested: for small d lobpcg solves densely and returns (values, vectors) only;
    # the residual is measured below either way
    values, vectors = lobpcg(operator, X, largest=False, tol=1e-10, maxiter=5000)[:2]
    lam = float(max(values[0], 0.0))
    v = vectors[:, 0]
    residual = float(np.linalg.norm(A.T @ (A @ v) - lam * v))
    accuracy = residual / max(lam, 1e-300)
    return math.sqrt(lam), v, min(accuracy, 1.0), "LOBPCG on AᵀA for sigma_min"


# ---------------------------------------------------------------------------- choosing and summarising
SPARSE_EXACT_MAX_ENTRIES = 1_000_000
"""A sparse problem with at most this many entries (n·d) is densified for the exact path: a dense
SVD of 1000 x 1000 takes about 0.3 s here, while the iterative path's cost depends on the fill-in;
above it the iterative path is used (see docs/benchmarks.md)."""
DENSE_EXACT_MAX_COLUMNS = 5000


def choose_method(problem: Problem, method: str) -> str:
    """'exact' or 'iterative' for ``--method auto|exact|iterative``."""
    if method in ("exact", "iterative"):
        return method
    if problem.sparse:
        return "exact" if problem.n_rows * problem.n_cols <= SPARSE_EXACT_MAX_ENTRIES else "iterative"
    return "exact" if problem.n_cols <= DENSE_EXACT_MAX_COLUMNS else "iterative"


def spectrum_from_pair(problem: Problem, pair: ExtremePair):
    """A :class:`~condiag.spectrum.Spectrum` from the extreme pair (exact=False)."""
    from .spectrum import Spectrum, direction

    d = problem.n_cols
    names = problem.column_names
    scale = 1.0 if problem.is_quadratic else problem.hessian_scale
    ridge2 = 2.0 * problem.ridge
    rank_tol = pair.rank_tolerance(problem.n_rows, d)
    singular = pair.sigma_min <= rank_tol
    wide = not problem.is_quadratic and problem.n_rows < d
    if problem.is_quadratic:
        lam_max = pair.sigma_max + ridge2
        lam_min = (pair.lambda_min_signed if pair.lambda_min_signed is not None else pair.sigma_min) + ridge2
        lam_nonzero = None if singular and not problem.ridge else pair.sigma_min + ridge2
    else:
        from .spectrum import check_curvature_range

        with np.errstate(over="ignore", under="ignore"):
            lam_max = scale * pair.sigma_max**2 + ridge2
            lam_nonzero = None if singular and not problem.ridge else scale * pair.sigma_min**2 + ridge2
            lam_min = ridge2 if (wide or singular) else scale * pair.sigma_min**2 + ridge2
        check_curvature_range(problem, pair.sigma_max, lam_max, lam_nonzero)
    rank = (min(problem.n_rows, d) - (1 if singular else 0))

    steepest = direction(pair.v_max, lam_max, names)
    flattest_value = lam_nonzero if wide and lam_nonzero is not None else lam_min  # wide A: the smallest non-zero one
    flattest = direction(pair.v_min, flattest_value, names) if pair.v_min is not None else steepest
    return Spectrum(
        singular_values=np.array([pair.sigma_max, pair.sigma_min]),
        sigma_max=pair.sigma_max,
        sigma_min=pair.sigma_min,
        sigma_min_nonzero=None if singular else pair.sigma_min,
        condition_number=pair.sigma_max / pair.sigma_min if pair.sigma_min > 0 else float("inf"),
        effective_condition_number=None if singular else pair.sigma_max / pair.sigma_min,
        rank=rank,
        rank_tol=rank_tol,
        null_dim=d - rank,
        lambda_max=lam_max,
        lambda_min=lam_min,
        lambda_min_nonzero=lam_nonzero,
        hessian_condition_number=lam_max / lam_min if lam_min > 0 else float("inf"),
        effective_hessian_condition_number=None if not lam_nonzero else lam_max / lam_nonzero,
        steepest=steepest,
        flattest=flattest,
        slowest_learned=flattest if lam_nonzero else None,
        method=f"{pair.method} (relative accuracy of sigma_min ≈ {pair.relative_accuracy:.1g})",
        exact=False,
    )


REFERENCE_ATOL = 1e-14
"""LSQR's S2 tolerance for the reference: ||Aᵀr|| <= 1e-14 ||A|| ||r||, a backward error near float64's."""
REFERENCE_TIME_BUDGET = 60.0
"""Seconds the iterative reference may spend; where LSQR needs longer, the accuracy it reached is stated."""


def _extended_gradient_norm(problem: Problem, x: np.ndarray) -> tuple[float, float]:
    """(||∇f(x)||, the unit roundoff it was computed in): in numpy.longdouble where that is wider than float64
    (A, b and x are float64 numbers, held exactly), else in float64."""
    from .memory import require_memory
    from .refined_lstsq import EXTENDED

    if EXTENDED is None:
        return float(np.linalg.norm(problem.gradient(x))), EPS64 / 2
    require_memory(16.0 * (problem.nnz + problem.n_rows + 2 * problem.n_cols), problem.source, "an extended-precision gradient")
    A = problem.A.astype(EXTENDED)
    xe = x.astype(EXTENDED)
    if problem.is_quadratic:
        g = A @ xe - problem.b.astype(EXTENDED)
    else:
        g = EXTENDED(problem.hessian_scale) * (A.T @ (A @ xe - problem.b.astype(EXTENDED)))
    if problem.ridge:
        g = g + EXTENDED(2.0 * problem.ridge) * xe
    return float(np.sqrt(np.sum(g * g))), float(np.finfo(EXTENDED).eps) / 2


def gradient_error_bound(problem: Problem, x: np.ndarray, spectrum) -> float | None:
    """A bound on ||x - x*|| / ||x*|| that holds for any x, from the gradient: on a quadratic H (x - x*) = ∇f(x), so
    ||x - x*|| <= (||∇f(x)|| + δ) / μ with μ the smallest Hessian eigenvalue on the directions x lives in (x from
    Krylov or a solve stays in the row space). The gradient is computed in extended precision (unit roundoff u,
    see :func:`_extended_gradient_norm`) and δ = 4 u sqrt(max(n, d)) (||H|| ||x|| + ||∇f(0)||) bounds its
    rounding (probabilistic; Higham & Mary, SIAM J. Sci. Comput. 41 (2019) A2815). Relative: E / (||x|| - E).
    None when μ is zero or unknown; inf when E >= ||x||."""
    mu = spectrum.lambda_min_nonzero if spectrum.lambda_min_nonzero is not None else spectrum.lambda_min
    if mu is None or not mu > 0:
        return None
    x = np.asarray(x, dtype=float)
    x_norm = float(np.linalg.norm(x))
    g_norm, unit = _extended_gradient_norm(problem, x)
    g0_norm = float(np.linalg.norm(problem.gradient(np.zeros_like(x))))
    rounding = 4.0 * unit * math.sqrt(max(problem.n_rows, problem.n_cols)) * (spectrum.lambda_max * x_norm + g0_norm)
    error = (g_norm + rounding) / mu
    return error / (x_norm - error) if error < x_norm else math.inf


def _lsqr_reference(problem: Problem) -> tuple[np.ndarray, str]:
    """x* by LSQR, stopped by its S2 test at :data:`REFERENCE_ATOL`, after max(10 d, 1000) iterations, or at
    :data:`REFERENCE_TIME_BUDGET` seconds. The columns are scaled to unit norm first (right preconditioning,
    the cheap remedy for badly scaled columns); a ridge becomes rows sqrt(ridge/c) I under A, so that the
    scaling applies to it too (LSQR's own damping would act on the scaled variables)."""
    import time

    from .lsqr import lsqr_iterations

    A, b = problem.A, problem.b
    damp = math.sqrt(problem.ridge / problem.data_scale)
    if damp > 0:  # min ||A x - b||² + damp² ||x||² is least squares with [A; damp I], [b; 0], which scales like A
        if problem.sparse:
            import scipy.sparse as sp

            A = sp.vstack([A, damp * sp.identity(problem.n_cols, format="csr")], format="csr")
        else:
            A = np.vstack([A, damp * np.eye(problem.n_cols)])
        b = np.concatenate([b, np.zeros(problem.n_cols)])
    norms = np.sqrt(np.asarray(A.multiply(A).sum(axis=0)).ravel()) if problem.sparse else np.sqrt(np.sum(A * A, axis=0))
    scale = np.where(norms > 0, norms, 1.0)
    limit = max(10 * problem.n_cols, 1000)
    started = time.perf_counter()
    for it in lsqr_iterations(A, b, column_scale=scale):
        rule = it.stopping_rule(REFERENCE_ATOL, REFERENCE_ATOL, 1e16)
        if it.finished or rule is not None:
            reason = "an exact solution" if it.finished else rule
            break
        if it.k >= limit:
            reason = f"the iteration limit {limit:,}"
            break
        if time.perf_counter() - started > REFERENCE_TIME_BUDGET:
            reason = f"the time budget of {REFERENCE_TIME_BUDGET:g} s"
            break
    matrix = "column-scaled [A; sqrt(ridge/c) I]" if damp > 0 else "column-scaled matrix"
    return it.x, f"LSQR on the {matrix} ({it.k:,} iterations, stopped by {reason})"


def iterative_reference(problem: Problem, spectrum):
    """x* for the iterative path: the refined dense solver when A fits comfortably, else LSQR."""
    from .memory import available_memory_bytes
    from .reference import Reference, accuracy_estimate, refined_reference

    n, d = problem.n_rows, problem.n_cols
    if not problem.is_quadratic and n * d * 8 * 4 < 0.25 * available_memory_bytes() and d <= DENSE_EXACT_MAX_COLUMNS:
        return refined_reference(problem)
    from scipy.sparse.linalg import spsolve

    if problem.is_quadratic:
        import scipy.sparse as sp

        x = spsolve(sp.csc_matrix(problem.A + 2 * problem.ridge * sp.identity(d)), problem.b)
        method = "sparse LU solve (SuperLU)"
    else:
        x, method = _lsqr_reference(problem)
    accuracy = accuracy_estimate(problem, x, spectrum.sigma_max, spectrum.effective_condition_number or spectrum.condition_number)
    # an iterative answer is not backward stable by construction: the first-order estimate is joined by the
    # a-posteriori bound that holds for any x, whichever is larger
    gradient_bound = gradient_error_bound(problem, x, spectrum)
    if gradient_bound is not None and (accuracy["forward_error_bound"] is None or gradient_bound > accuracy["forward_error_bound"]):
        accuracy["forward_error_bound"] = gradient_bound
        accuracy["correct_digits"] = float(max(0.0, -np.log10(max(gradient_bound, 1e-17)))) if np.isfinite(gradient_bound) else 0.0
    accuracy.update({"norm": "2-norm", "refinement_steps": 0, "residual_precision": "float64", "gradient_bound": gradient_bound})
    return Reference(x=np.asarray(x, dtype=float), loss=float(problem.value(x)),
                     residual_norm=None if problem.is_quadratic else float(np.linalg.norm(problem.residual(x))),
                     method=method, minimum_norm=False, accuracy=accuracy)
