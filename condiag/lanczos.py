"""Lanczos with full reorthogonalisation on a symmetric operator given by its products, with residual bounds.

After k steps from a unit q₁ the Krylov space K_k has the orthonormal basis Q_k and T_k = Q_kᵀ H Q_k is
tridiagonal. Each Ritz pair (θᵢ, yᵢ = Q_k sᵢ) of T_k has the residual ‖H yᵢ − θᵢ yᵢ‖ = |β_k·s_{k,i}|, and
some eigenvalue of H lies within that residual of θᵢ (Parlett, *The Symmetric Eigenvalue Problem*, 1998,
Thm 4.5.1 and §13.2). The largest Ritz value never exceeds λmax and the smallest never falls below λmin
(Cauchy interlacing), so θ_max is a certified lower bound of λmax and θ_min an upper bound of λmin; the residual
says how close. Full reorthogonalisation keeps the basis orthogonal to rounding (no ghost eigenvalues), at
O(k·n) memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ritz:
    """The Ritz values of the Krylov space, ascending, each with its residual bound."""

    values: np.ndarray
    residuals: np.ndarray
    """|β_k s_{k,i}|: an eigenvalue of H lies within residuals[i] of values[i]."""
    iterations: int
    vectors: np.ndarray | None = None
    """The Ritz vectors (n × k) when asked for."""

    @property
    def largest(self) -> float:
        return float(self.values[-1])

    @property
    def smallest(self) -> float:
        return float(self.values[0])


def lanczos(product, n: int, *, iterations: int = 60, tol: float = 1e-6, seed: int = 0, vectors: bool = False,
            wanted: int = 1, both_ends: bool = False, progress=None) -> Ritz:
    """Lanczos on the symmetric operator ``product(v) = H v`` of size ``n``.

    Stops after ``iterations`` steps (at most n), when the Krylov space is invariant, or once the ``wanted``
    largest Ritz values (and with ``both_ends`` the smallest) have residuals within ``tol`` of their size.
    The start is a Gaussian vector from ``seed``: deterministic for a seed.
    """
    rng = np.random.default_rng(seed)
    k_max = max(1, min(int(iterations), n))
    basis = np.zeros((k_max + 1, n))
    alpha: list[float] = []
    beta: list[float] = []
    q = rng.standard_normal(n)
    basis[0] = q / np.linalg.norm(q)
    for k in range(k_max):
        w = np.asarray(product(basis[k]), dtype=float)
        a = float(basis[k] @ w)
        w = w - a * basis[k] - (beta[-1] * basis[k - 1] if k else 0.0)
        w -= basis[: k + 1].T @ (basis[: k + 1] @ w)  # full reorthogonalisation, twice is enough (Kahan)
        w -= basis[: k + 1].T @ (basis[: k + 1] @ w)
        b = float(np.linalg.norm(w))
        alpha.append(a)
        T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
        values, s = np.linalg.eigh(T)
        residuals = np.abs(b * s[-1, :])
        if progress is not None:
            progress("Lanczos", k + 1, k_max)
        m = min(wanted, values.size)
        ends = np.r_[np.arange(values.size - m, values.size), np.arange(m) if both_ends else []].astype(int)
        scale = np.maximum(np.abs(values[ends]), 1e-300)
        done = b <= 1e-14 * max(float(np.max(np.abs(values))), 1e-300) or np.all(residuals[ends] <= tol * scale)
        if done or k + 1 == k_max:
            ritz_vectors = basis[: k + 1].T @ s if vectors else None
            return Ritz(values, residuals, k + 1, ritz_vectors)
        beta.append(b)
        basis[k + 1] = w / b
    raise AssertionError("unreachable")
