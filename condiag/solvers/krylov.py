"""Krylov solvers: CG on the normal equations (CGLS) and scipy's LSQR.

In exact arithmetic both reach x* in at most rank(A) iterations and the error after k
iterations is bounded by 2 ((kappa - 1)/(kappa + 1))^k with kappa = cond(A) — the square root
of GD's cond(H) — (Hestenes & Stiefel 1952; Paige & Saunders 1982; Björck, *Numerical Methods
for Least Squares Problems*, 1996, §7.4).
"""

from __future__ import annotations

import numpy as np

from .base import Context, Monitor, Solver, SolverResult, Status, drive


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
        problem = context.linear
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
                    monitor._finish(Status.UNBOUNDED, f"CG met a direction of {'negative' if curvature < 0 else 'zero'} curvature "
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
    r"""LSQR (Paige & Saunders 1982; :mod:`condiag.lsqr`), run once, every iteration observed.

    Minimises ||A x - b||² + damp² ||x||² with damp = sqrt(ridge / c): scipy's iterates, to rounding.
    It stops at condiag's tolerance; LSQR's own tests stop it earlier only when they fire first
    (reported as ``stalled`` with the test): S1 ||r|| <= btol ||b|| + atol ||A|| ||x||, S2 ||Aᵀr|| <=
    atol ||A|| ||r||, S3 cond(A) >= conlim, with ||A|| and cond(A) LSQR's running estimates.
    """

    name = "lsqr"
    summary = "LSQR (Paige & Saunders; atol = btol = 1e-10, conlim 1e8)"
    defaults = {"atol": 1e-10, "btol": 1e-10, "conlim": 1e8}

    def supports(self, problem):
        if problem.is_quadratic:
            return False, "LSQR solves least-squares problems; use cg for a quadratic"
        return True, ""

    def run(self, context: Context) -> SolverResult:
        from ..lsqr import lsqr_iterations

        problem = context.linear
        params = self.parameters(context)
        damp = float(np.sqrt(problem.ridge / problem.data_scale))
        monitor = Monitor(context, self.name)
        x0 = context.x0.astype(float)
        iterations = lsqr_iterations(problem.A, problem.b, damp, x0)
        state = {"stop": None}
        monitor.f_evals = 1

        def step(k):
            it = next(iterations)
            monitor.f_evals += 1
            f = problem.value(it.x)
            rule = it.stopping_rule(params["atol"], params["btol"], params["conlim"])
            if rule is not None and monitor.status is None:
                state["stop"] = rule
                if monitor.observe(k, f, it.x, force_record=True) is None:
                    monitor._finish(Status.STALLED, f"LSQR's own test {rule} stopped it at iteration {k:,}, "
                                               "before condiag's tolerance", k)
            return it.x, f

        drive(monitor, params, x0, problem.value(x0), step)
        return monitor.result(params, f_evals=2 * monitor.k + 1, extra={"stopping_rule": state["stop"]})
