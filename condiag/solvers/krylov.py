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
    r"""LSQR (Paige & Saunders 1982, Algorithm LSQR with the damped extension of §2.6 and the stopping
    rules S1–S3 of §6), run once, every iteration observed.

    Minimises ||A x - b||² + damp² ||x||² with damp = sqrt(ridge / c). Golub–Kahan bidiagonalisation
    (u, v, α, β), Givens rotations (ρ, θ, φ) and x_k += (φ/ρ) w_k, as ``scipy.sparse.linalg.lsqr``
    computes them; written out here so that each iterate is seen as it is made (scipy's function has no
    callback: its history had to be rebuilt by rerunning it to every logged iteration, ~35 runs).
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
        problem = context.problem
        params = self.parameters(context)
        A = problem.A
        damp = float(np.sqrt(problem.ridge / problem.data_scale))
        monitor = Monitor(context, self.name)
        x = context.x0.astype(float).copy()
        u = problem.b - A @ x
        beta = float(np.linalg.norm(u))
        b_norm = float(np.linalg.norm(problem.b))
        v = np.zeros_like(x)
        alpha = 0.0
        if beta > 0:
            u = u / beta
            v = A.T @ u
            alpha = float(np.linalg.norm(v))
        if alpha > 0:
            v = v / alpha
        state = {"u": u, "v": v, "w": v.copy(), "alpha": alpha, "beta": beta, "rhobar": alpha, "phibar": beta,
                 "a_norm_sq": 0.0, "dd_norm": 0.0, "psi_sq": 0.0, "stop": None, "x": x}
        monitor.f_evals = 1

        def step(k):
            st = state
            x, alpha = st["x"], st["alpha"]
            if st["phibar"] == 0.0 or alpha == 0.0:  # b - A x0 = 0, or Aᵀr = 0: x is a least-squares solution
                return x, problem.value(x)
            u = A @ st["v"] - alpha * st["u"]
            beta = float(np.linalg.norm(u))
            if beta > 0:
                u = u / beta
            st["a_norm_sq"] += alpha * alpha + beta * beta + damp * damp
            v = A.T @ u - beta * st["v"]
            alpha_next = float(np.linalg.norm(v))
            if alpha_next > 0:
                v = v / alpha_next
            rhobar, phibar = st["rhobar"], st["phibar"]
            if damp > 0:  # eliminate the damping row first (Paige & Saunders §2.6); psi leaves the residual
                rhobar1 = float(np.hypot(rhobar, damp))
                st["psi_sq"] += ((damp / rhobar1) * phibar) ** 2
                phibar = (rhobar / rhobar1) * phibar
                rhobar = rhobar1
            rho = float(np.hypot(rhobar, beta))
            cs, sn = rhobar / rho, beta / rho
            theta = sn * alpha_next
            phi = cs * phibar
            w = st["w"]
            st["dd_norm"] += float(np.dot(w, w)) / (rho * rho)
            x = x + (phi / rho) * w
            st.update(x=x, u=u, v=v, w=v - (theta / rho) * w, alpha=alpha_next, beta=beta, rhobar=-cs * alpha_next,
                      phibar=sn * phibar)
            monitor.f_evals += 1
            # LSQR's own stopping rules, from its estimates
            a_norm = np.sqrt(st["a_norm_sq"])
            r_norm = float(np.sqrt(st["phibar"] ** 2 + st["psi_sq"]))  # ||[A; damp I] x - [b; 0]||
            ar_norm = alpha_next * abs(sn * phi)
            x_norm = float(np.linalg.norm(x))
            if r_norm <= params["btol"] * b_norm + params["atol"] * a_norm * x_norm:
                st["stop"] = "S1: ||Ax - b|| small enough (btol, atol)"
            elif a_norm * r_norm > 0 and ar_norm <= params["atol"] * a_norm * r_norm:
                st["stop"] = "S2: least-squares solution found (atol)"
            elif a_norm * np.sqrt(st["dd_norm"]) >= params["conlim"]:
                st["stop"] = "S3: condition estimate exceeded conlim"
            return x, problem.value(x)

        def stepping(k):
            x, f = step(k)
            if state["stop"] is not None and monitor.status is None:
                reached = monitor.observe(k, f, x, force_record=True)
                if reached is None:
                    monitor._finish("stalled", f"LSQR's own test {state['stop']} stopped it at iteration {k:,}, "
                                               "before condiag's tolerance", k)
            return x, f

        drive(monitor, params, x, problem.value(x), stepping)
        return monitor.result(params, f_evals=2 * monitor.k + 1, extra={"stopping_rule": state["stop"]})
