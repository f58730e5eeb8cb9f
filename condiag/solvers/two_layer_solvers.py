"""Solvers for factored models (:data:`condiag.models.Capability.FACTORED`, W1·W2 ≈ A): Levenberg–Marquardt and
alternating least squares."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np

from ..models import Capability
from .base import Context, Monitor, Solver, SolverResult, drive

if TYPE_CHECKING:
    from ..two_layer import TwoLayerProblem


class LevenbergMarquardt(Solver):
    r"""Levenberg–Marquardt on the residual r(theta) = sqrt(c) vec((W1 W2 - A) L) (Moré 1978).

    Each step solves (JᵀJ + mu I) delta = -Jᵀ r, the damped linearised least-squares problem for
    (dW1, dW2). The damping adapts by Nielsen's rule (1999): with gain ratio rho = actual / predicted
    decrease, accept and set mu *= max(1/3, 1 - (2 rho - 1)^3) when rho > 0, else mu *= nu, nu *= 2.
    ``mu0`` is relative to max diag(JᵀJ).
    """

    name = "lm"
    requires = frozenset({Capability.FACTORED})
    summary = "Levenberg–Marquardt with adaptive damping (factored models: W1·W2)"
    defaults = {"mu0": 1e-3}

    def run(self, context: Context) -> SolverResult:
        problem = cast("TwoLayerProblem", context.problem)  # requires FACTORED
        params = self.parameters(context)
        monitor = Monitor(context, self.name, record_path=False)
        theta = context.x0.astype(float).copy()
        r = problem.residual_vector(theta)
        state = {"theta": theta, "r": r, "f": float(r @ r), "mu": None, "nu": 2.0}

        def step(k):
            theta, r, f = state["theta"], state["r"], state["f"]
            J = problem.jacobian(theta)
            JtJ = J.T @ J
            g = J.T @ r
            if state["mu"] is None:
                state["mu"] = float(params["mu0"]) * float(np.max(np.diag(JtJ)) or 1.0)
            mu = state["mu"]
            delta = np.linalg.solve(JtJ + mu * np.eye(JtJ.shape[0]), -g)
            candidate = theta + delta
            r_new = problem.residual_vector(candidate)
            f_new = float(r_new @ r_new)
            predicted = float(delta @ (mu * delta - g))
            monitor.f_evals += 1
            rho = (f - f_new) / predicted if predicted > 0 else -1.0
            if rho > 0:
                state.update(theta=candidate, r=r_new, f=f_new, mu=mu * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), nu=2.0)
            else:
                state.update(mu=mu * state["nu"], nu=2.0 * state["nu"])
            return state["theta"], state["f"]

        drive(monitor, params, theta, state["f"], step)
        return monitor.result(params)


class AlternatingLeastSquares(Solver):
    r"""Alternating least squares: each factor solved exactly with the other fixed.

    W1 ← A C W2ᵀ (W2 C W2ᵀ)⁺, then W2 ← W1⁺ A (the minimiser over W2 of ||(W1 W2 - A) L|| for
    invertible L). One iteration is both half-steps; the loss never increases.
    """

    name = "als"
    requires = frozenset({Capability.FACTORED})
    summary = "alternating least squares (factored models: W1·W2)"
    defaults = {}

    def run(self, context: Context) -> SolverResult:
        problem = cast("TwoLayerProblem", context.problem)  # requires FACTORED
        monitor = Monitor(context, self.name, record_path=False)
        W1, W2 = problem.split(context.x0.astype(float))
        A, C = problem.A, problem.C
        factors = {"W2": W2}

        def step(k):
            W1 = A @ C @ factors["W2"].T @ np.linalg.pinv(factors["W2"] @ C @ factors["W2"].T)
            factors["W2"] = np.linalg.pinv(W1) @ A
            theta = problem.join(W1, factors["W2"])
            monitor.f_evals += 1
            return theta, problem.value(theta)

        theta0 = problem.join(W1, W2)
        drive(monitor, {}, theta0, problem.value(theta0), step)
        return monitor.result({})
