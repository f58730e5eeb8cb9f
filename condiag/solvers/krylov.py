"""Krylov solvers: CG on the normal equations (CGLS) and scipy's LSQR.

In exact arithmetic both reach x* in at most rank(A) iterations and the error after k
iterations is bounded by 2 ((kappa - 1)/(kappa + 1))^k with kappa = cond(A) — the square root
of GD's cond(H) — (Hestenes & Stiefel 1952; Paige & Saunders 1982; Björck, *Numerical Methods
for Least Squares Problems*, 1996, §7.4).
"""

from __future__ import annotations

import numpy as np

from .base import Context, Monitor, Solver, SolverResult, drive


class CGLS(Solver):
    r"""Conjugate gradients on the normal equations (CGLS), with ridge as damping.

    Minimises ||A x - b||² + delta ||x||², delta = ridge / c, using only products with A and Aᵀ
    (Björck 1996, Alg. 7.4.1); for ``--objective quadratic``, plain CG on (Q + 2 ridge I) x = b
    (requires Q positive semi-definite). Each iteration is logged; it stops at condiag's tolerance.
    """

    name = "cg"
    summary = "conjugate gradients on the normal equations (CGLS); CG for a quadratic"
    defaults = {}


    def run(self, context: Context) -> SolverResult:
        problem = context.problem
        monitor = Monitor(context, self.name, max_iter=context.settings.max_iter)
        x = context.x0.astype(float).copy()
        quadratic = problem.is_quadratic
        delta = 0.0 if quadratic else problem.ridge / problem.data_scale
        if quadratic:
            r = problem.b - problem.hessian_vector(x)
            s = r.copy()
        else:
            r = problem.b - problem.A @ x
            s = problem.A.T @ r - delta * x
        state = {"x": x, "r": r, "p": s.copy(), "gamma": float(s @ s)}
        monitor.f_evals = 1

        def step(k):
            x, r, p, gamma = state["x"], state["r"], state["p"], state["gamma"]
            if gamma == 0.0:  # the gradient is exactly zero: x is optimal
                return x, problem.value(x)
            if quadratic:
                q = problem.hessian_vector(p)
                curvature = float(p @ q)
                if curvature <= 0.0:  # Steihaug's test: f decreases without bound along p (Nocedal & Wright, Alg. 7.2)
                    monitor._finish("unbounded", f"CG met a direction of {'negative' if curvature < 0 else 'zero'} curvature "
                                                 f"(pᵀQp = {curvature:.3g}) at iteration {k:,}: f has no minimum along it", k)
                    return x, problem.value(x)
                alpha = gamma / curvature
                x = x + alpha * p
                r = r - alpha * q
                s = r
            else:
                q = problem.A @ p
                alpha = gamma / (float(q @ q) + delta * float(p @ p))
                x = x + alpha * p
                r = r - alpha * q
                s = problem.A.T @ r - delta * x
            gamma_new = float(s @ s)
            state.update(x=x, r=r, p=s + (gamma_new / gamma) * p, gamma=gamma_new)
            monitor.f_evals += 1
            return x, problem.value(x)

        drive(monitor, {}, x, problem.value(x), step)
        return monitor.result({})


class LSQR(Solver):
    r"""LSQR (Paige & Saunders 1982) through ``scipy.sparse.linalg.lsqr``.

    Minimises ||A x - b||² + damp² ||x||² with damp = sqrt(ridge / c). ``atol``/``btol`` are
    scipy's stopping tolerances; ``iter_lim`` is ``--max-iter``. The history is rebuilt by
    rerunning LSQR with iteration limits at the logged iterations (LSQR is deterministic, so
    the k-th iterate of a longer run equals the result of a run limited to k).
    """

    name = "lsqr"
    summary = "LSQR (scipy.sparse.linalg.lsqr; atol = btol = 1e-10)"
    defaults = {"atol": 1e-10, "btol": 1e-10, "conlim": 1e8}

    def supports(self, problem):
        if problem.is_quadratic:
            return False, "LSQR solves least-squares problems; use cg for a quadratic"
        return True, ""

    def run(self, context: Context) -> SolverResult:
        from scipy.sparse.linalg import lsqr

        from ..trajectories import checkpoints

        problem = context.problem
        params = self.parameters(context)
        damp = float(np.sqrt(problem.ridge / problem.data_scale))
        monitor = Monitor(context, self.name)
        x0 = context.x0.astype(float)

        def solve(limit):
            return lsqr(problem.A, problem.b, damp=damp, atol=params["atol"], btol=params["btol"],
                        conlim=params["conlim"], iter_lim=limit, x0=x0)

        full = solve(monitor.max_iter)
        x_final, istop, itn = full[0], full[1], full[2]
        monitor.observe(0, problem.value(x0), x0)
        marks = [int(k) for k in checkpoints(max(itn, 1)) if 0 < k < itn]
        marks = marks[:: max(1, len(marks) // 40)]
        status = None
        for k in marks:
            xk = solve(k)[0]
            status = monitor.observe(k, problem.value(xk), xk)
            if status is not None:
                break
        if status is None:
            status = monitor.observe(itn, problem.value(x_final), x_final, force_record=True)
        messages = {
            0: "x = 0 is the exact solution",
            1: "Ax - b small enough (btol/atol)",
            2: "least-squares solution found (atol)",
            3: "condition estimate exceeded conlim",
            4: "Ax - b small enough for this machine",
            5: "least-squares solution found for this machine",
            6: "condition estimate too large for this machine",
            7: "iteration limit reached",
        }
        if status is None:
            if itn >= monitor.max_iter:
                monitor.budget_exhausted(itn, problem.value(x_final), x_final)
            else:
                monitor.status = "stalled"
                monitor.message = f"scipy stopped: {messages.get(istop, istop)}, before condiag's tolerance"
        else:
            monitor.message += f" (scipy: {messages.get(istop, istop)})"
        return monitor.result(params, x=x_final if monitor.status != "converged" else None, iterations=itn if monitor.status != "converged" else None,
                              f_evals=2 * itn, extra={"istop": int(istop)})
