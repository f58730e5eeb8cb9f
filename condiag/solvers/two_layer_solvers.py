"""Solvers for the two-layer model (``--model two-layer``): Levenberg–Marquardt and alternating least squares."""

from __future__ import annotations

import numpy as np

from .base import Context, Monitor, Solver, SolverInterrupted, SolverResult

TWO_LAYER_ONLY = "applies to --model two-layer only"


def is_two_layer(problem) -> bool:
    return getattr(problem, "objective", "") == "two-layer"


class LevenbergMarquardt(Solver):
    r"""Levenberg–Marquardt on the residual r(theta) = sqrt(c) vec((W1 W2 - A) L) (Moré 1978).

    Each step solves (JᵀJ + mu I) delta = -Jᵀ r, the damped linearised least-squares problem for
    (dW1, dW2). The damping adapts by Nielsen's rule (1999): with gain ratio rho = actual / predicted
    decrease, accept and set mu *= max(1/3, 1 - (2 rho - 1)^3) when rho > 0, else mu *= nu, nu *= 2.
    ``mu0`` is relative to max diag(JᵀJ).
    """

    name = "lm"
    any_smooth_objective = True
    summary = "Levenberg–Marquardt with adaptive damping (two-layer model)"
    defaults = {"mu0": 1e-3}

    def supports(self, problem):
        return (True, "") if is_two_layer(problem) else (False, TWO_LAYER_ONLY)

    def run(self, context: Context) -> SolverResult:
        problem = context.problem
        params = self.parameters(context)
        monitor = Monitor(context, self.name, record_path=False)
        theta = context.x0.astype(float).copy()
        r = problem.residual_vector(theta)
        f = float(r @ r)
        mu, nu = None, 2.0
        k = 0
        try:
            with np.errstate(all="ignore"):
                if monitor.observe(0, f, theta) is None:
                    for k in range(1, monitor.max_iter + 1):
                        J = problem.jacobian(theta)
                        JtJ = J.T @ J
                        g = J.T @ r
                        if mu is None:
                            mu = float(params["mu0"]) * float(np.max(np.diag(JtJ)) or 1.0)
                        delta = np.linalg.solve(JtJ + mu * np.eye(JtJ.shape[0]), -g)
                        candidate = theta + delta
                        r_new = problem.residual_vector(candidate)
                        f_new = float(r_new @ r_new)
                        predicted = float(delta @ (mu * delta - g))
                        monitor.f_evals += 1
                        rho = (f - f_new) / predicted if predicted > 0 else -1.0
                        if rho > 0:
                            theta, r, f = candidate, r_new, f_new
                            mu *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                            nu = 2.0
                        else:
                            mu *= nu
                            nu *= 2.0
                        if monitor.observe(k, f, theta) is not None:
                            break
                    else:
                        monitor.budget_exhausted(monitor.max_iter, f, theta)
        except KeyboardInterrupt:
            raise SolverInterrupted(monitor.result(params, status="max_iter", message=f"interrupted at iteration {k:,}")) from None
        return monitor.result(params)


class AlternatingLeastSquares(Solver):
    r"""Alternating least squares: each factor solved exactly with the other fixed.

    W1 ← A C W2ᵀ (W2 C W2ᵀ)⁺, then W2 ← W1⁺ A (the minimiser over W2 of ||(W1 W2 - A) L|| for
    invertible L). One iteration is both half-steps; the loss never increases.
    """

    name = "als"
    any_smooth_objective = True
    summary = "alternating least squares (two-layer model)"
    defaults = {}

    def supports(self, problem):
        return (True, "") if is_two_layer(problem) else (False, TWO_LAYER_ONLY)

    def run(self, context: Context) -> SolverResult:
        problem = context.problem
        monitor = Monitor(context, self.name, record_path=False)
        W1, W2 = problem.split(context.x0.astype(float))
        A, C = problem.A, problem.C
        k = 0
        try:
            with np.errstate(all="ignore"):
                theta = problem.join(W1, W2)
                if monitor.observe(0, problem.value(theta), theta) is None:
                    for k in range(1, monitor.max_iter + 1):
                        W1 = A @ C @ W2.T @ np.linalg.pinv(W2 @ C @ W2.T)
                        W2 = np.linalg.pinv(W1) @ A
                        theta = problem.join(W1, W2)
                        monitor.f_evals += 1
                        if monitor.observe(k, problem.value(theta), theta) is not None:
                            break
                    else:
                        monitor.budget_exhausted(monitor.max_iter, problem.value(theta), theta)
        except KeyboardInterrupt:
            raise SolverInterrupted(monitor.result({}, status="max_iter", message=f"interrupted at iteration {k:,}")) from None
        return monitor.result({})
