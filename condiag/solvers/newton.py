"""Newton's method: one step with the exact Hessian, x1 = x0 - H⁺ ∇f(x0)."""

from __future__ import annotations

import numpy as np

from ..memory import require_memory
from .base import Context, Monitor, Solver, SolverResult, Status


class Newton(Solver):
    r"""One Newton step, x1 = x0 - H⁻¹ ∇f(x0), exact on a quadratic (Nocedal & Wright 2006, §3.3).

    Newton uses the Hessian as a preconditioner, so the valley's shape does not matter. When H is
    singular the step is the minimum-norm least-squares solution of H p = -∇f (numpy.linalg.lstsq),
    which lands on the minimiser nearest to x0. Sparse problems solve with a sparse LU when H is
    non-singular, else with LSQR.
    """

    name = "newton"
    summary = "one Newton step with the exact Hessian (least-squares solve if singular)"
    defaults: dict = {}

    def run(self, context: Context) -> SolverResult:
        problem = context.linear
        monitor = Monitor(context, self.name)
        x0 = context.x0.astype(float)
        f0, g0 = problem.value_and_gradient(x0)
        monitor.observe(0, f0, x0)
        d = problem.n_cols
        singular = context.known_spectrum.rank < d and problem.ridge == 0
        if problem.sparse:
            import scipy.sparse as sp
            import scipy.sparse.linalg as spla

            if problem.is_quadratic:
                H = problem.A + 2 * problem.ridge * sp.identity(d)
            else:
                H = problem.hessian_scale * (problem.A.T @ problem.A) + 2 * problem.ridge * sp.identity(d)
            step = spla.lsqr(H, -g0, atol=1e-14, btol=1e-14)[0] if singular else spla.spsolve(H.tocsc(), -g0)
            method = "sparse LSQR on H" if singular else "sparse LU"
        else:
            require_memory(8.0 * d * d * 3, problem.source, f"the {d}x{d} Hessian")
            H = problem.A + 2 * problem.ridge * np.eye(d) if problem.is_quadratic else problem.hessian_scale * (problem.A.T @ problem.A) + 2 * problem.ridge * np.eye(d)
            if singular:
                step = np.linalg.lstsq(H, -g0, rcond=None)[0]
                method = "least-squares solve (H singular)"
            else:
                step = np.linalg.solve(H, -g0)
                method = "LU solve"
        x1 = x0 + step
        f1 = problem.value(x1)
        status = monitor.observe(1, f1, x1, force_record=True)
        if status is None and context.no_minimum:
            curvatures = context.decomposition.hessian_eigenvalues if context.decomposition is not None else None
            lowest = float(np.min(curvatures)) if curvatures is not None else None
            kind = "a saddle point" if curvatures is not None and float(np.max(curvatures)) > 0 else "a maximum"
            monitor.status = Status.STALLED
            monitor.message = (f"the Newton step lands on the stationary point, which is {kind} (smallest curvature "
                               f"{lowest:.3g}), not a minimum: {context.no_minimum}")
        elif status is None:
            monitor.status = Status.STALLED
            monitor.message = f"one Newton step reached a gap of {f1 - context.floor:.3g}: rounding limits it (cond(H) = {context.known_spectrum.hessian_condition_number:.3g})"
        monitor.f_evals = 2
        return monitor.result({"solve": method}, x=x1, iterations=1)
