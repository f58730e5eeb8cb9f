"""The solver registry: one place listing every solver condiag can compare.

Each solver is a small class with a ``name``, documented ``defaults``, ``supports(problem)``
returning ``(bool, reason)``, and ``run(context) -> SolverResult``.
"""

from __future__ import annotations

from .base import Context, Settings, Solver, SolverResult
from .first_order import (
    Adagrad,
    Adam,
    ArmijoGD,
    GradientDescent,
    HeavyBall,
    MinibatchSGD,
    Nesterov,
    PreconditionedGD,
    RMSprop,
)
from .krylov import CGLS, LSQR
from .newton import Newton
from .quasi_newton import LBFGS
from .torch_optim import TorchAdam, TorchAdamW, TorchLBFGS, TorchSGD
from .two_layer_solvers import AlternatingLeastSquares, LevenbergMarquardt

_SOLVERS = (
    GradientDescent, ArmijoGD, HeavyBall, Nesterov, Adam, RMSprop, Adagrad, MinibatchSGD,
    LBFGS, CGLS, LSQR, Newton, PreconditionedGD, LevenbergMarquardt, AlternatingLeastSquares,
    TorchSGD, TorchAdam, TorchAdamW, TorchLBFGS,
)
REGISTRY: dict[str, type[Solver]] = {cls.name: cls for cls in _SOLVERS}
DEFAULT_SOLVERS = ("gd", "momentum", "adam", "lbfgs", "cg", "lsqr", "newton")


def solver_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def get_solver(name: str) -> Solver:
    """An instance of the named solver; raises KeyError for an unknown name."""
    return REGISTRY[name]()


__all__ = ["Context", "Settings", "Solver", "SolverResult", "REGISTRY", "DEFAULT_SOLVERS", "get_solver", "solver_names"]
