"""LSQR, one iteration at a time (Paige & Saunders 1982, with the damping of §2.6 and the estimates of §5).

Minimises ||A x - b||² + damp² ||x||² using only products with A and Aᵀ: Golub–Kahan bidiagonalisation
(u, v, α, β), Givens rotations (ρ, θ, φ) and x_k = x_{k-1} + (φ/ρ) w_k, computed as
``scipy.sparse.linalg.lsqr`` computes them (its iterates, to rounding; LSQR's iterates are chaotic in
rounding, so two implementations agree only for the first iterations). Written out as a generator so that
callers see every iterate and decide themselves when to stop: condiag's ``lsqr`` solver at its loss
tolerance, the iterative reference at its accuracy target or time budget. scipy's function has no callback.

References: C. C. Paige and M. A. Saunders, "LSQR: An algorithm for sparse linear equations and sparse
least squares", ACM TOMS 8 (1982) 43-71.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class LsqrIterate:
    """The state after iteration k, with LSQR's running estimates."""

    k: int
    x: np.ndarray
    r_norm: float
    """||[A; damp I] x - [b; 0]|| (estimate)."""
    ar_norm: float
    """||Aᵀr - damp² x|| (estimate): zero at the minimiser."""
    a_norm: float
    """Frobenius-norm estimate of [A; damp I] from the bidiagonal so far."""
    cond: float
    """Estimate of cond([A; damp I])."""
    b_norm: float
    finished: bool = False
    """True when the bidiagonalisation ended (β = 0 or α = 0): x is a least-squares solution."""

    def stopping_rule(self, atol: float, btol: float, conlim: float) -> str | None:
        """LSQR's stopping tests S1-S3 (Paige & Saunders §6), or None."""
        x_norm = float(np.linalg.norm(self.x))
        if self.r_norm <= btol * self.b_norm + atol * self.a_norm * x_norm:
            return "S1: ||Ax - b|| small enough (btol, atol)"
        if self.a_norm * self.r_norm > 0 and self.ar_norm <= atol * self.a_norm * self.r_norm:
            return "S2: least-squares solution found (atol)"
        if self.cond >= conlim:
            return "S3: condition estimate exceeded conlim"
        return None


def lsqr_iterations(A, b: np.ndarray, damp: float = 0.0, x0: np.ndarray | None = None, column_scale: np.ndarray | None = None):
    """Yield :class:`LsqrIterate` for k = 1, 2, ... (forever; the caller stops).

    ``column_scale`` = D runs LSQR on A D⁻¹ (right preconditioning by column norms, the cheapest
    remedy for badly scaled columns) and yields x = D⁻¹ z; damping then applies to z.
    """
    d = A.shape[1]
    inverse = None if column_scale is None else 1.0 / column_scale
    x = np.zeros(d) if x0 is None else np.asarray(x0, dtype=float).copy()
    z = x if inverse is None else x * column_scale

    def forward(v):
        return A @ (v if inverse is None else inverse * v)

    def backward(u):
        out = A.T @ u
        return out if inverse is None else inverse * out

    u = b - forward(z)
    beta = float(np.linalg.norm(u))
    b_norm = float(np.linalg.norm(b))
    v = np.zeros(d)
    alpha = 0.0
    if beta > 0:
        u = u / beta
        v = backward(u)
        alpha = float(np.linalg.norm(v))
    if alpha > 0:
        v = v / alpha
    w = v.copy()
    rhobar, phibar = alpha, beta
    a_norm_sq = dd_norm = psi_sq = 0.0
    k = 0
    while True:
        k += 1
        if phibar == 0.0 or alpha == 0.0:
            current = z if inverse is None else inverse * z
            yield LsqrIterate(k, current, math.sqrt(phibar**2 + psi_sq), 0.0, math.sqrt(a_norm_sq),
                              math.sqrt(a_norm_sq * dd_norm), b_norm, finished=True)
            continue
        u = forward(v) - alpha * u
        beta = float(np.linalg.norm(u))
        if beta > 0:
            u = u / beta
        a_norm_sq += alpha * alpha + beta * beta + damp * damp
        v_next = backward(u) - beta * v
        alpha_next = float(np.linalg.norm(v_next))
        if alpha_next > 0:
            v_next = v_next / alpha_next
        if damp > 0:  # eliminate the damping row first (§2.6); psi leaves the residual
            rhobar1 = math.hypot(rhobar, damp)
            psi_sq += ((damp / rhobar1) * phibar) ** 2
            phibar = (rhobar / rhobar1) * phibar
            rhobar = rhobar1
        rho = math.hypot(rhobar, beta)
        cs, sn = rhobar / rho, beta / rho
        theta = sn * alpha_next
        phi = cs * phibar
        dd_norm += float(np.dot(w, w)) / (rho * rho)
        z = z + (phi / rho) * w
        w = v_next - (theta / rho) * w
        v, alpha = v_next, alpha_next
        rhobar, phibar = -cs * alpha_next, sn * phibar
        current = z if inverse is None else inverse * z
        yield LsqrIterate(k, current, math.sqrt(phibar**2 + psi_sq), alpha_next * abs(sn * phi), math.sqrt(a_norm_sq),
                          math.sqrt(a_norm_sq * dd_norm), b_norm)
