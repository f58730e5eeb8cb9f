"""Quasi-Newton: L-BFGS through scipy.optimize (L-BFGS-B, no bounds)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Context, Monitor, Solver, SolverInterrupted, SolverResult, Status


class LBFGS(Solver):
    r"""Limited-memory BFGS (Liu & Nocedal 1989) via ``scipy.optimize.minimize(method='L-BFGS-B')``.

    scipy's defaults: ``maxcor=10`` corrections, ``ftol=2.22e-9`` (relative decrease), ``gtol=1e-5``
    (projected gradient), More–Thuente-type line search; ``maxiter`` is ``--max-iter``. It builds a
    curvature model from gradient differences and so follows the valley floor.
    """

    name = "lbfgs"
    requires = frozenset()
    summary = "L-BFGS (scipy L-BFGS-B defaults: maxcor 10, ftol 2.2e-9, gtol 1e-5)"
    defaults = {"maxcor": 10, "ftol": 2.220446049250313e-09, "gtol": 1e-05}

    def run(self, context: Context) -> SolverResult:
        from scipy.optimize import minimize

        problem = context.problem
        params = self.parameters(context)
        monitor = Monitor(context, self.name)
        counter: dict[str, Any] = {"evals": 0, "k": 0, "stop": None}

        def fun(x):
            counter["evals"] += 1
            return problem.value_and_gradient(x)

        def callback(intermediate_result):
            counter["k"] += 1
            status = monitor.observe(counter["k"], float(intermediate_result.fun), np.array(intermediate_result.x))
            if status is not None:
                counter["stop"] = status
                raise StopIteration

        x0 = context.x0.astype(float)
        monitor.observe(0, problem.value(x0), x0)
        try:
            with np.errstate(all="ignore"):
                result = minimize(
                    fun, x0, jac=True, method="L-BFGS-B", callback=callback,
                    options={"maxcor": int(params["maxcor"]), "ftol": float(params["ftol"]), "gtol": float(params["gtol"]),
                             "maxiter": monitor.max_iter, "maxfun": max(15000, 2 * monitor.max_iter)},
                )
        except KeyboardInterrupt:
            raise SolverInterrupted(monitor.result(params, status=Status.MAX_ITER, message=f"interrupted at iteration {counter['k']:,}")) from None
        monitor.f_evals = counter["evals"]
        if counter["stop"] is None:
            k = int(result.nit)
            status = monitor.observe(k, float(result.fun), np.asarray(result.x), force_record=True) if k != monitor.k else None
            if status is None and monitor.status is None:
                if k >= monitor.max_iter:
                    monitor.budget_exhausted(k, float(result.fun), np.asarray(result.x))
                else:
                    monitor.status = Status.STALLED
                    monitor.message = f"scipy stopped before condiag's tolerance: {result.message}"
            return monitor.result(params, x=np.asarray(result.x), iterations=k)
        return monitor.result(params)
