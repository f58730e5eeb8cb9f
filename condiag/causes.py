"""Why the problem is ill-conditioned: column scaling, collinearity, precision.

* Scaling: cond(A D⁻¹) with D the column norms (equilibration). Van der Sluis (1969)
  showed this is within a factor sqrt(d) of the best cond over all column scalings, so
  when it is much smaller than cond(A), scaling — not the data — is the cause.
  With an intercept column the design is also standardised (each other column centred and
  divided by its standard deviation).
* Collinearity: Belsley, Kuh & Welsch, *Regression Diagnostics* (1980), ch. 3: condition
  indices eta_k = mu_max / mu_k of the unit-length-column design and variance-decomposition
  proportions pi_jk = (v_jk² / mu_k²) / Σ_l (v_jl² / mu_l²); an index >= 30 with two or more
  proportions >= 0.5 marks a harmful near-dependency among those columns.
* Precision: float32 rounds at u = 2⁻²⁴ ≈ 6e-8, so the relative accuracy reachable in
  float32 is about cond · u (Higham 2002, §7.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .problem import Problem
from .spectrum import EPS64, Decomposition
from .thresholds import BELSLEY_INDEX, BELSLEY_PROPORTION

FLOAT32_UNIT_ROUNDOFF = 2.0**-24
MAX_BELSLEY_COLS = 500
SCALING_MIN_RATIO = 10.0
"""cond(A) <= cond(A D⁻¹) cond(D), so equilibration cannot improve cond(A) by more than the column
norms' ratio: below this ratio the equilibrated SVD is skipped (it could not change a finding)."""


@dataclass(frozen=True)
class Scaling:
    """How much of the conditioning comes from the scale of the columns."""

    column_norm_min: float
    column_norm_max: float
    column_norm_ratio: float
    condition_number: float
    cond_equilibrated: float | None
    """cond(A D⁻¹), columns scaled to unit norm (None when skipped: see ``SCALING_MIN_RATIO``)."""
    cond_standardised: float | None
    """cond of the standardised design (intercept problems only)."""
    improvement: float
    """condition_number / best of the two scaled condition numbers."""
    smallest_column: str
    largest_column: str

    @property
    def best(self) -> tuple[float | None, str]:
        """The smaller scaled condition number and how it was obtained ('equilibrated' or 'standardised')."""
        options = [(c, how) for c, how in ((self.cond_equilibrated, "equilibrated"), (self.cond_standardised, "standardised")) if c is not None]
        return min(options) if options else (None, "")


@dataclass(frozen=True)
class CollinearSet:
    """One near-dependency found by Belsley's diagnostics."""

    condition_index: float
    columns: tuple[tuple[str, float], ...]
    """(column, variance-decomposition proportion) for proportions >= 0.5."""


@dataclass(frozen=True)
class Collinearity:
    condition_indices: np.ndarray
    sets: tuple[CollinearSet, ...]


@dataclass(frozen=True)
class PrecisionRisk:
    """Best relative accuracy reachable in float32 (and float64) for this conditioning."""

    cond_a_float32: float
    """cond(A) · 2⁻²⁴."""
    cond_h_float32: float
    """cond(H) · 2⁻²⁴."""
    cond_a_float64: float
    input_dtype: str


@dataclass(frozen=True)
class Causes:
    scaling: Scaling | None
    collinearity: Collinearity | None
    precision: PrecisionRisk
    intercept_column: str | None


def _cond(matrix: np.ndarray) -> float:
    s = np.linalg.svd(matrix, compute_uv=False)
    return float(s[0] / s[-1]) if s[-1] > 0 else float("inf")


def _constant_column(A: np.ndarray) -> int | None:
    constant = np.all(A == A[0], axis=0) & (A[0] != 0)
    hits = np.flatnonzero(constant)
    return int(hits[0]) if hits.size else None


def scaling(problem: Problem, decomposition: Decomposition, condition_number: float, equilibrated_singular_values=None,
            A: np.ndarray | None = None, intercept_index: int | None = None) -> Scaling | None:
    """Condition numbers after equilibration (and standardisation when column ``intercept_index`` of the
    dense ``A`` is constant)."""
    R = decomposition.reduced_matrix
    norms = np.sqrt(np.sum(R * R, axis=0))
    if np.any(norms == 0):
        return None
    ratio = float(norms.max() / norms.min())
    if equilibrated_singular_values is None and ratio >= SCALING_MIN_RATIO:
        equilibrated_singular_values = decomposition.equilibrated_singular_values
    if equilibrated_singular_values is not None:
        s = equilibrated_singular_values
        cond_eq = float(s[0] / s[-1]) if s[-1] > 0 else float("inf")
    else:
        cond_eq = None
    cond_std = None
    j = intercept_index
    if j is not None and A is not None and A.shape[1] > 1:
        others = [i for i in range(A.shape[1]) if i != j]
        Z = A[:, others] - A[:, others].mean(axis=0)
        sd = np.sqrt(np.sum(Z * Z, axis=0))
        if np.all(sd > 0):
            standardised = np.column_stack([Z / sd, np.full(A.shape[0], 1.0 / np.sqrt(A.shape[0]))])
            cond_std = _cond(standardised)
    candidates = [c for c in (cond_eq, cond_std) if c is not None]
    best = min(candidates) if candidates else None
    names = problem.column_names
    return Scaling(
        column_norm_min=float(norms.min()),
        column_norm_max=float(norms.max()),
        column_norm_ratio=ratio,
        condition_number=condition_number,
        cond_equilibrated=cond_eq,
        cond_standardised=cond_std,
        improvement=(condition_number / best) if best is not None and best > 0 and np.isfinite(best) else float("nan"),
        smallest_column=names[int(np.argmin(norms))],
        largest_column=names[int(np.argmax(norms))],
    )


def _condition_indices(mu: np.ndarray) -> np.ndarray:
    """eta_k = mu_max / mu_k, with each mu_k floored at mu_max·eps (an exactly singular design gives 1/eps)."""
    return mu[0] / np.maximum(mu, mu[0] * EPS64)


def collinearity(problem: Problem, decomposition: Decomposition):
    """Belsley–Kuh–Welsch condition indices and variance-decomposition proportions.

    Returns (Collinearity or None, the equilibrated singular values or None) so that the
    scaling diagnosis reuses the same SVD. The singular vectors (for the proportions) are computed only when an
    index reaches :data:`~condiag.thresholds.BELSLEY_INDEX`: with every index below it there is no set to report,
    and the singular values alone cost about a third of the full SVD.
    """
    if decomposition.reduced_matrix.shape[1] > MAX_BELSLEY_COLS:
        return None, None
    mu = decomposition.equilibrated_singular_values
    if mu is None:
        return None, None
    indices = _condition_indices(mu)
    if indices[-1] < BELSLEY_INDEX:
        return Collinearity(condition_indices=indices, sets=()), mu
    full = decomposition.equilibrated_svd
    assert full is not None  # the same equilibrated matrix as mu's
    mu, Vt = full
    indices = _condition_indices(mu)
    phi = (Vt.T**2) / (mu[0] / indices) ** 2  # phi[j, k] = v_jk² / mu_k² (mu_k floored as in the indices)
    proportions = phi / phi.sum(axis=1, keepdims=True)  # pi[j, k]
    names = problem.column_names
    sets = []
    for k in np.argsort(indices)[::-1]:
        if indices[k] < BELSLEY_INDEX:
            break
        involved = [(names[j], float(proportions[j, k])) for j in np.argsort(proportions[:, k])[::-1] if proportions[j, k] >= BELSLEY_PROPORTION]
        if len(involved) >= 2:
            sets.append(CollinearSet(float(indices[k]), tuple(involved)))
    return Collinearity(condition_indices=indices, sets=tuple(sets)), mu


def diagnose_causes(problem: Problem, decomposition: Decomposition, condition_number: float, hessian_condition: float) -> Causes:
    """Scaling, collinearity and precision diagnostics (least squares; precision only for quadratics)."""
    precision = PrecisionRisk(
        cond_a_float32=condition_number * FLOAT32_UNIT_ROUNDOFF,
        cond_h_float32=hessian_condition * FLOAT32_UNIT_ROUNDOFF,
        cond_a_float64=condition_number * EPS64 / 2,
        input_dtype=problem.input_dtype,
    )
    if problem.is_quadratic or problem.n_cols < 2:
        return Causes(None, None, precision, None)
    A = problem.dense_matrix()
    j = _constant_column(A) if A.shape[0] > 2 else None
    belsley, equilibrated = collinearity(problem, decomposition)
    return Causes(
        scaling=scaling(problem, decomposition, condition_number, equilibrated, A, j),
        collinearity=belsley,
        precision=precision,
        intercept_column=problem.column_names[j] if j is not None else None,
    )


def scaling_iterative(problem: Problem, condition_number: float, pair=None) -> Scaling | None:
    """The scaling diagnosis for the iterative path: column norms, and cond(A D⁻¹) iteratively when they differ >= 10x
    (reusing the factors behind ``pair``, the unscaled extreme pair, when it has them)."""
    if problem.is_quadratic or problem.n_cols < 2:
        return None
    A = problem.A
    norms = np.sqrt(np.asarray(A.multiply(A).sum(axis=0)).ravel()) if problem.sparse else np.linalg.norm(A, axis=0)
    if np.any(norms == 0):
        return None
    ratio = float(norms.max() / norms.min())
    cond_eq = None
    if ratio >= SCALING_MIN_RATIO:
        from .iterative import scaled_extremes

        sigma_max, sigma_min = scaled_extremes(problem, pair, norms)
        cond_eq = sigma_max / sigma_min if sigma_min > 0 else float("inf")
    names = problem.column_names
    return Scaling(float(norms.min()), float(norms.max()), ratio, condition_number, cond_eq, None,
                   condition_number / cond_eq if cond_eq else float("nan"), names[int(np.argmin(norms))], names[int(np.argmax(norms))])
