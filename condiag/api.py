"""The Python API: what the command line does, from data a notebook already holds.

``condiag.analyze``, ``condiag.compare`` and ``condiag.solve`` take a :class:`~condiag.problem.Problem`, a numpy array or
scipy.sparse matrix (with ``b``), a pandas DataFrame (with ``target``: its column names are carried into the
report), or a file spec as the command line reads it (``b`` then a spec too). They return the same report
objects the command line renders, whose ``to_dict()`` is the command's ``--json`` output (timing aside).
"""

from __future__ import annotations

import os
from typing import Any

from .models import Capability, Model, has
from .problem import Problem


def as_model(data, b=None, **options):
    """A non-linear :class:`~condiag.models.Model` as given (``b`` and ``target`` are then refused: it holds its
    own data), anything else through :func:`as_problem`."""
    if isinstance(data, Model) and not isinstance(data, Problem):
        if b is not None or options.get("target") is not None:
            raise ValueError(f"pass b or target with data, not with a {data.objective} model (it has its own)")
        return data
    return as_problem(data, b, **options)


def load(spec, rhs=None, *, loss: str = "sum", objective: str = "least-squares", intercept: bool = False, ridge: float = 0.0,
         a_key: str | None = None, b_key: str | None = None, target: str | None = None, header: bool | None = None,
         fmt: str | None = None, allow_external: bool = False, memory_limit: str | None = None, engine: str = "local",
         scheduler: str | None = None) -> Problem:
    """A validated :class:`Problem` from a file spec (``PATH[:KEY]``, ``-`` for standard input), routed as the command
    line routes it: ``engine="dask"`` reads it with Dask (one pass, TSQR); a least-squares matrix larger than
    ``memory_limit`` (default: a quarter of the available memory) is streamed by row blocks and reduced exactly to
    its R factor (:mod:`condiag.streaming`); anything else is read whole (:func:`condiag.io.load_problem`)."""
    from .errors import UsageError
    from .io import load_problem

    spec = os.fspath(spec)
    rhs = None if rhs is None else os.fspath(rhs)
    if engine not in ("local", "dask"):
        raise UsageError(f"engine {engine!r}: expected 'local' or 'dask'", option="engine")
    if engine == "dask":
        if objective != "least-squares":
            raise UsageError("engine dask supports the least-squares objective", option="engine")
        from .dask_engine import load_with_dask

        return load_with_dask(spec, rhs, scheduler=scheduler, loss=loss, ridge=ridge, intercept=intercept,
                              allow_external=allow_external)
    if objective == "least-squares" and fmt is None and a_key is None and b_key is None and target is None:
        from .streaming import maybe_streamed, parse_memory

        streamed = maybe_streamed(spec, rhs, parse_memory(memory_limit), loss=loss, ridge=ridge, intercept=intercept,
                                  allow_external=allow_external)
        if streamed is not None:
            return streamed
    return load_problem(spec, rhs, loss=loss, objective=objective, intercept=intercept, ridge=ridge, a_key=a_key, b_key=b_key,
                        target=target, header=header, fmt=fmt, allow_external=allow_external)


def as_problem(data, b=None, *, loss: str = "sum", objective: str = "least-squares", ridge: float = 0.0,
               intercept: bool = False, target=None) -> Problem:
    """A :class:`Problem` from whatever the caller holds (see the module docstring); always validated."""
    if isinstance(data, Problem):
        if b is not None or target is not None:
            raise ValueError("pass b or target with data, not with a Problem (it has its own)")
        return data
    if isinstance(data, (str, os.PathLike)):
        return load(data, b, loss=loss, objective=objective, intercept=intercept, ridge=ridge, target=target)
    columns = getattr(data, "columns", None)
    if columns is not None and hasattr(data, "to_numpy"):  # a DataFrame (pandas, or polars with to_numpy)
        names = [str(c) for c in columns]
        if target is not None:
            if target not in names:
                raise ValueError(f"target {target!r} is not a column; the columns are {names}")
            if b is not None:
                raise ValueError("pass either b or target, not both")
            b = data[target].to_numpy()
            names = [n for n in names if n != str(target)]
            data = data[names] if hasattr(data, "loc") else data.select(names)
        return Problem.create(data.to_numpy(dtype=float) if hasattr(data, "loc") else data.to_numpy().astype(float), b,
                              loss=loss, objective=objective, ridge=ridge, intercept=intercept, source="<DataFrame>",
                              column_names=names)
    if target is not None:
        raise ValueError("target names a column of a DataFrame or a table file")
    return Problem.create(data, b, loss=loss, objective=objective, ridge=ridge, intercept=intercept, source="<array>")


def analyze(data, b=None, *, lrs=(), steps: int | None = None, tol: float = 1e-6, x0=None, method: str | None = None,
            dtype: str | None = None, loss: str = "sum", objective: str = "least-squares", ridge: float = 0.0,
            intercept: bool = False, target=None, batch_size: int | None = None, replacement: bool = False):
    """``condiag analyze`` from Python: spectrum, learning-rate bounds, exact predictions at each lr in ``lrs``,
    causes, findings and remedies (:class:`condiag.analysis.Analysis`). See :func:`as_problem` for ``data``.

    ``steps``, ``method`` and ``dtype`` left as None take :func:`condiag.analysis.analyze`'s defaults (1000 steps,
    ``auto``, ``float64``); a model with its own analysis refuses them when given."""
    from .analysis import analyze as run

    if objective == "logistic":  # b holds the labels (condiag.logistic.LogisticAnalysis)
        from .logistic import analyze_logistic

        problem = as_problem(data, b, loss=loss, ridge=ridge, intercept=intercept, target=target)
        return analyze_logistic(problem, list(lrs), x0=x0, tol=tol)
    problem = as_model(data, b, loss=loss, objective=objective, ridge=ridge, intercept=intercept, target=target)
    linear_only: dict[str, Any] = {"steps": steps, "method": method, "dtype": dtype}
    if not has(problem, Capability.LINEAR):
        return own_analysis(problem, lrs, tol, **{k: v is not None for k, v in linear_only.items()}, x0=x0 is not None,
                            batch_size=batch_size is not None, replacement=replacement)
    return run(problem, list(lrs), tol=tol, x0=x0, x0_source="zeros" if x0 is None else "given", batch_size=batch_size,
               replacement=replacement, **{k: v for k, v in linear_only.items() if v is not None})


def own_analysis(model, lrs, tol: float, **given: bool):
    """A non-linear model's own analysis (:data:`~condiag.models.Capability.OWN_ANALYSIS`); ``given`` flags the
    linear-model options the caller set, which it refuses."""
    refused = [name for name, used in given.items() if used]
    if refused:
        raise ValueError(f"{', '.join(refused)}: not available for the {model.objective} model")
    if not has(model, Capability.OWN_ANALYSIS):
        raise ValueError(f"the {model.objective} model has no analysis of its own; use condiag.compare")
    return model.analyze(list(lrs), tol=tol)


def compare(data, b=None, *, solvers=None, settings=None, x0=None, method: str = "auto", loss: str = "sum",
            objective: str = "least-squares", ridge: float = 0.0, intercept: bool = False, target=None, **options):
    """``condiag compare`` from Python: each solver against the exact answer (:class:`condiag.comparison.Comparison`).
    ``options`` are :class:`condiag.solvers.Settings` fields (``max_iter=``, ``tol=``, ``lr=``, ``dtype=``...)
    when ``settings`` is not given."""
    from .comparison import compare as run
    from .solvers import Settings

    problem = as_model(data, b, loss=loss, objective=objective, ridge=ridge, intercept=intercept, target=target)
    if settings is not None and options:
        raise ValueError("pass either settings or its fields, not both")
    return run(problem, solvers, settings or Settings(**options), x0=x0, method=method)


def solve(data, b=None, *, loss: str = "sum", objective: str = "least-squares", ridge: float = 0.0,
          intercept: bool = False, target=None):
    """``condiag solve`` from Python: x* with its stated accuracy (:class:`condiag.reference.Solution`; ``.x``,
    ``.accuracy``, ``.to_dict()``). See :func:`as_problem` for ``data``."""
    from .reference import solve_report

    return solve_report(as_problem(data, b, loss=loss, objective=objective, ridge=ridge, intercept=intercept, target=target))
