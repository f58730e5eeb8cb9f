"""The exact answer every solver is judged against: x*, its loss (the floor) and its accuracy.

x* minimises f; when several do (a rank-deficient A without ridge) it is the one of
minimum norm, which is also where gradient descent from x0 = 0 converges. From the
decomposition of :mod:`condiag.spectrum` (Golub & Van Loan, §5.5):

    least squares  x* = Σ_i  s σ_i (u_iᵀ b) / (s σ_i² + 2 ridge) · v_i   over σ_i > rank_tol
    quadratic      x* = Σ_i  (v_iᵀ b) / (λ_i + 2 ridge) · v_i           over |λ_i| > rank_tol
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from .notebook import NotebookView
from .problem import Problem
from .spectrum import Decomposition


class Accuracy(TypedDict, total=False):
    """How trustworthy x* is (the JSON's ``reference.accuracy``; which keys are present depends on how x* was found).

    ``forward_error_bound`` bounds ‖x − x*‖/‖x*‖ in the norm ``norm`` names, to first order (Higham 2002, §20.1):
    backward error × (κ + κ² ‖r‖ / (‖A‖ ‖x‖)) for least squares; ``correct_digits`` = −log10 of it.
    """

    backward_error: float
    """Normwise backward error of x (at least eps/2)."""
    forward_error_bound: float | None
    """None when it exceeds 1e300."""
    correct_digits: float | None
    norm: str
    """The norm of the error the bound is about."""
    refinement_steps: int
    """Steps of iterative refinement in extended precision (0: none was needed or done)."""
    residual_precision: str
    """The precision the residuals were accumulated in (longdouble, double-double or float64)."""
    scaled_condition_number: float
    """cond(A D⁻¹) with D the column norms (the refined solver's bound uses it)."""
    rank: int
    rank_unscaled: int | None
    """The rank before column scaling (when it differs, the scaling revealed it)."""
    gradient_bound: float | None
    """An iterative answer's a-posteriori bound ‖∇f(x)‖ / λmin, which holds for any x."""


@dataclass(frozen=True)
class Reference:
    """The exact solution and how trustworthy it is."""

    x: np.ndarray
    loss: float
    """f(x*): no method can go below this (the loss floor)."""
    residual_norm: float | None
    """||A x* - b|| (least squares)."""
    method: str
    minimum_norm: bool
    """True when the minimiser is not unique and x* is the minimum-norm one."""
    accuracy: Accuracy
    """Accuracy estimate: backward error and forward-error bound (see :func:`accuracy_estimate`)."""


def minimiser_coefficients(problem: Problem, decomposition: Decomposition) -> np.ndarray:
    """Coefficients of x* on the columns of V (zero along directions the data does not determine)."""
    tol = decomposition.rank_tol
    s = decomposition.singular_values
    c = decomposition.b_coefficients
    if problem.is_quadratic:
        denominator = s + 2.0 * problem.ridge
        keep = (np.abs(s) > tol) | (problem.ridge > 0)
        out = np.zeros_like(s)
        out[keep] = c[keep] / denominator[keep]
        return out
    scale = problem.hessian_scale
    out = np.zeros(problem.n_cols)
    keep = s > tol if problem.ridge == 0 else s > 0
    k = s.size
    out[:k][keep] = scale * s[keep] * c[keep] / (scale * s[keep] ** 2 + 2.0 * problem.ridge)
    return out


def accuracy_estimate(problem: Problem, x: np.ndarray, norm: float, condition_number: float) -> Accuracy:
    """Backward error of x and a first-order forward-error bound.

    ``norm`` is ||A||_2 (or ||Q||_2) and ``condition_number`` the condition number of the
    part of the problem the data determines. For least squares the normwise backward error
    is estimated by ||Aᵀr + (ridge/c) x|| / (||A|| ||r|| + ||A||² ||x||) (the optimality
    residual relative to its scale; Higham, *Accuracy and Stability of Numerical
    Algorithms*, 2nd ed., §20.7), and the relative forward error is bounded to first order
    by (cond + cond² ||r|| / (||A|| ||x||)) times it (Wedin 1973; Higham Thm 20.1).
    For a quadratic: ||(Q + 2 ridge I)x - b|| / (||Q|| ||x|| + ||b||), times cond(Q).
    The backward error is never reported below the unit roundoff.
    """
    from .spectrum import EPS64

    xn = float(np.linalg.norm(x))
    if problem.is_quadratic:
        optimality = problem.gradient(x)
        denominator = norm * xn + float(np.linalg.norm(problem.b))
        factor = condition_number
    else:
        r = problem.residual(x)
        optimality = problem.gradient(x) / problem.hessian_scale
        rn = float(np.linalg.norm(r))
        denominator = norm * rn + norm**2 * xn
        factor = condition_number + condition_number**2 * rn / max(norm * xn, 1e-300)
    backward = float(np.linalg.norm(optimality)) / denominator if denominator > 0 else 0.0
    backward = max(backward, EPS64 / 2)
    bound = backward * factor
    forward = float(bound) if np.isfinite(bound) and bound < 1e300 else None
    digits = None if forward is None else float(max(0.0, -np.log10(max(forward, 1e-17))))
    return {
        "backward_error": backward,
        "forward_error_bound": forward,
        "correct_digits": digits,
    }


def _norm_and_condition(decomposition: Decomposition) -> tuple[float, float]:
    """(||A||_2, the condition number over the singular values above the rank tolerance)."""
    s = np.abs(decomposition.singular_values)
    kept = s[s > decomposition.rank_tol]
    norm = float(s.max()) if s.size else 0.0
    return norm, (float(kept.max() / kept.min()) if kept.size else 1.0)


def reference_from(problem: Problem, decomposition: Decomposition) -> Reference:
    """x*, f(x*) and its stated accuracy.

    Least squares: :func:`condiag.refined_lstsq.refined_lstsq` (equilibrated pivoted QR with
    extended-precision iterative refinement; SVD minimum norm when rank-deficient after
    equilibration). A ridge penalty lambda ||x||² is the least-squares problem [A; sqrt(lambda/c) I] x ≈ [b; 0].
    Quadratic: the eigendecomposition (minimum-norm on a singular Q).
    """
    if not problem.is_quadratic:
        if problem.n_rows * problem.n_cols > FAST_PATH_SIZE:
            fast = _svd_reference(problem, decomposition)
            digits = fast.accuracy.get("correct_digits")
            if digits is not None and digits >= FAST_PATH_DIGITS:
                return fast
        return refined_reference(problem, decomposition)
    coefficients = minimiser_coefficients(problem, decomposition)
    x = decomposition.V @ coefficients
    loss = problem.value(x)
    minimum_norm = problem.ridge == 0 and decomposition.rank < problem.n_cols
    method = f"eigendecomposition ({'minimum-norm pseudo-inverse' if minimum_norm else 'solve'})"
    norm, effective = _norm_and_condition(decomposition)
    return Reference(
        x=x,
        loss=float(loss),
        residual_norm=None,
        method=method,
        minimum_norm=minimum_norm,
        accuracy={**accuracy_estimate(problem, x, norm, effective), "refinement_steps": 0, "norm": "2-norm"},
    )


FAST_PATH_SIZE = 500_000
"""Above this many entries the SVD already computed for the spectrum gives x* directly ..."""
FAST_PATH_DIGITS = 10.0
"""... when its stated accuracy reaches this many correct digits; otherwise the refined solver runs."""


def _svd_reference(problem: Problem, decomposition: Decomposition) -> Reference:
    """x* from the spectrum's SVD, with a float64 accuracy estimate (large, well-conditioned problems)."""
    coefficients = minimiser_coefficients(problem, decomposition)
    x = decomposition.V @ coefficients
    norm, effective = _norm_and_condition(decomposition)
    minimum_norm = problem.ridge == 0 and decomposition.rank < problem.n_cols
    accuracy = accuracy_estimate(problem, x, norm, effective)
    accuracy.update({"norm": "2-norm, ||x - x*|| / ||x*||", "refinement_steps": 0, "residual_precision": "float64",
                     "rank": decomposition.rank})
    return Reference(
        x=x,
        loss=float(problem.value(x)),
        residual_norm=float(np.linalg.norm(problem.residual(x))),
        method=f"{'QR + ' if decomposition.reduced_by_qr else ''}SVD ({'minimum-norm ' if minimum_norm else ''}pseudo-inverse; refinement not needed)",
        minimum_norm=minimum_norm,
        accuracy=accuracy,
    )


def refined_reference(problem: Problem, decomposition: Decomposition | None = None) -> Reference:
    from .memory import require_memory
    from .refined_lstsq import GramFactor, refined_lstsq

    n, d = problem.n_rows, problem.n_cols
    require_memory(8.0 * (n + d) * d * 3, problem.source, f"the reference solution of a {n}x{d} problem")
    A = problem.dense_matrix()
    b = problem.b
    if problem.ridge > 0:
        A = np.vstack([A, np.sqrt(problem.ridge / problem.data_scale) * np.eye(d)])
        b = np.concatenate([b, np.zeros(d)])
    # the decomposition's equilibrated singular values are A's (not those of the ridge-augmented matrix)
    shared = decomposition if decomposition is not None and problem.ridge == 0 else None
    gram = None  # the same factorisation gives the refinement its semi-normal equations
    if shared is not None:
        gram = (GramFactor("the analysis's QR factor R", R=shared.reduced_matrix) if shared.reduced_by_qr
                else GramFactor("the analysis's SVD", sigma=shared.singular_values, V=shared.V))
    solution = refined_lstsq(
        A, b,
        scaled_singular_values=shared.equilibrated_singular_values if shared is not None else None,
        minimum_norm=(shared.V @ minimiser_coefficients(problem, shared), shared.rank) if shared is not None else None,
        gram_factor=gram,
    )
    x = solution.x
    bound = solution.forward_error_bound
    digits = None if bound is None else float(max(0.0, -np.log10(max(bound, 1e-17))))
    residual = float(np.linalg.norm(solution.residual[:n]))
    return Reference(
        x=x,
        loss=float(problem.value(x)),
        residual_norm=residual,
        method=solution.method,
        minimum_norm=solution.rank < d,
        accuracy={
            "backward_error": solution.backward_error,
            "forward_error_bound": bound,
            "correct_digits": digits,
            "norm": "column-scaled 2-norm, ||D(x - x*)|| / ||D x*||, D = column norms",
            "scaled_condition_number": solution.scaled_condition,
            "refinement_steps": solution.refinement_steps,
            "residual_precision": solution.precision,
            "rank": solution.rank,
            "rank_unscaled": solution.rank_unscaled,
        },
    )


NOT_CONVEX = "the quadratic is not convex (a negative eigenvalue): f is unbounded below"
UNBOUNDED_FLAT = "b has a component along a zero-curvature direction of Q: f is unbounded below"


def no_minimum_reason(problem: Problem, decomposition: Decomposition) -> tuple[bool, bool, str | None]:
    """(convex, bounded below, why f has no minimiser or None) — one rule for analyze and solve.

    Least squares always has a minimiser. A quadratic ½xᵀQx - bᵀx (+ ridge) has none when the
    Hessian has a negative eigenvalue (below -rank_tol), or when it is singular and b has a
    component along a zero-curvature direction (f then decreases linearly along it).
    """
    if not problem.is_quadratic:
        return True, True, None
    convex = float(np.min(decomposition.hessian_eigenvalues)) >= -decomposition.rank_tol
    bounded = True
    if problem.ridge == 0:
        flat = np.abs(decomposition.singular_values) <= decomposition.rank_tol
        outside = np.abs(decomposition.b_coefficients[flat])
        bounded = not np.any(outside > 1e-10 * max(float(np.linalg.norm(problem.b)), 1e-300))
    if not convex:
        return convex, bounded, NOT_CONVEX
    if not bounded:
        return convex, bounded, UNBOUNDED_FLAT
    return convex, bounded, None


def solve(problem: Problem) -> Reference:
    """The reference solution of a problem (``condiag solve``).

    Raises :class:`~condiag.errors.InputError` for a quadratic with no minimiser: its stationary
    point is then a maximum or a saddle, and printing it as x* would be a confident wrong answer.
    """
    from .errors import InputError
    from .spectrum import decompose

    if problem.is_quadratic:
        decomposition = decompose(problem)
        _convex, _bounded, reason = no_minimum_reason(problem, decomposition)
        if reason is not None:
            lowest = float(np.min(decomposition.hessian_eigenvalues))
            raise InputError(problem.source, f"has no minimiser x*: {reason} (smallest eigenvalue {lowest:.4g})",
                             "condiag analyze explains the direction along which f decreases without bound")
        return reference_from(problem, decomposition)
    if not problem.sparse and problem.n_rows * problem.n_cols > FAST_PATH_SIZE:
        # the blocked QR of [A b] and one SVD of its R factor, as analyze computes them: x* from the SVD when its
        # stated accuracy reaches FAST_PATH_DIGITS, else the refined solver (reference_from decides)
        return reference_from(problem, decompose(problem))
    return refined_reference(problem)


@dataclass(frozen=True)
class Solution(NotebookView):
    """The result of ``condiag solve``: x* with its stated accuracy (:class:`Reference`), for ``problem``."""

    problem: Problem
    reference: Reference
    seconds: float

    @property
    def x(self) -> np.ndarray:
        return self.reference.x

    @property
    def loss(self) -> float:
        return self.reference.loss

    @property
    def accuracy(self) -> Accuracy:
        return self.reference.accuracy

    def _render_text(self, console) -> None:
        from .render.text import render_solution

        render_solution(self.problem, self.reference, console)

    def to_dict(self) -> dict:
        """The report as ``condiag solve --json`` writes it (strict JSON types, no NaN)."""
        from .render.json_report import solution_json

        return solution_json(self.problem, self.reference, self.seconds)


def solve_report(problem: Problem) -> Solution:
    """:func:`solve`, timed, as a report object."""
    import time

    started = time.perf_counter()
    reference = solve(problem)
    return Solution(problem, reference, time.perf_counter() - started)


ZERO_FLOOR_RELATIVE = 1e-12
"""A loss floor at most this fraction of the loss's scale is zero up to rounding (reported as such, not printed)."""


def negligible_floor(floor: float, scale: float) -> bool:
    """f(x*) <= :data:`ZERO_FLOOR_RELATIVE` · scale: the one rule for calling a floor zero."""
    return floor <= ZERO_FLOOR_RELATIVE * max(abs(scale), 1e-300)


def floor_is_zero(problem: Problem, floor: float, start_loss: float) -> bool:
    """Whether the loss floor is zero up to rounding: f(x*) <= 1e-12 max(f(x0), c||b||²) (:func:`negligible_floor`)."""
    if problem.is_quadratic:
        return False
    return negligible_floor(floor, max(abs(start_loss), problem.data_scale * float(problem.b @ problem.b)))
