"""One protocol for every model condiag diagnoses, and the capabilities that decide what runs on it.

A model is a smooth objective f(x) of one flat parameter vector x, with

* ``value(x)`` = f(x), ``gradient(x)`` = ∇f(x), ``value_and_gradient(x)`` = both (sharing their work, as
  scipy's ``jac=True``), ``hessian_vector_at(x, v)`` = ∇²f(x) v;
* ``initial_point()``: where a run starts when the user gives no ``--x0``; ``n_cols``: the dimension of x;
* ``objective``: the model's name in reports; ``source``; ``column_names``: a name per parameter (or none);
* ``describe_loss()``: f in words and symbols; ``description()``: the ``problem`` block of the JSON report,
  ``summary_rows()``: the same in (label, text) rows for the text report;
* ``default_solvers``: what ``compare`` runs when no ``--solvers`` is given (None: the registry's default);
* ``capabilities``: what else it offers, as :class:`Capability` members.

Analysis, the solver registry (:attr:`condiag.solvers.base.Solver.requires`), compare, findings and renderers
read a model through this protocol and its capabilities, never through its name: adding a model means one
module implementing the protocol (plus its findings) and one line in :data:`MODEL_KINDS`.

Reference: the protocol is the one scipy.optimize's callables (``fun``, ``jac``, ``hessp``) and
``torch.autograd.functional.hvp`` assume; see Nocedal & Wright, *Numerical Optimization* (2006), §7.1.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np


class Capability(str, enum.Enum):
    """What a model offers beyond value, gradient and Hessian-vector products."""

    LINEAR = "linear"
    """f = c‖Ax − b‖² + λ‖x‖² or ½xᵀQx − bᵀx: a constant Hessian H. Hence an exact spectrum, closed-form
    trajectories x_T − x* = (I − lr H)ᵀ(x0 − x*), a reference answer by QR/SVD, the rows of A for minibatch SGD,
    and the Krylov solvers (CG, LSQR) that need A itself."""
    FACTORED = "factored"
    """x holds the factors of a product, ``split(x)`` → (W1, W2) with the fit W1·W2. The weights are identifiable
    only up to (W1 D, D⁻¹ W2), so compare measures ‖W1 W2 − M*‖ / ‖M*‖ instead of ‖x − x*‖, and the solvers
    that exploit the product (Levenberg–Marquardt, alternating least squares) apply."""
    KNOWN_MINIMUM = "known-minimum"
    """A non-linear model whose global minimum is known in closed form: ``reference_minimum()`` → a
    :class:`~condiag.reference.Reference`, and ``stability_curvature(x0, reference)`` → (λ, recommended lr), the
    curvature that bounds a stable gradient-descent lr from x0 to the minimum (``lr=auto`` for first-order solvers)."""

    OWN_ANALYSIS = "own-analysis"
    """A non-linear model with its own ``analyze(lrs, *, tol)``: a report object with ``to_dict()``,
    ``_render_text(console)`` and ``verdict(fail_on, max_condition)``, which ``condiag analyze`` runs and prints."""

    def describe(self) -> str:
        return CAPABILITY_WORDS[self]


CAPABILITY_WORDS = {
    Capability.LINEAR: "the matrix of a linear least-squares or quadratic model",
    Capability.FACTORED: "a model whose weights are the factors of a product",
    Capability.KNOWN_MINIMUM: "a model whose minimum is known in closed form",
    Capability.OWN_ANALYSIS: "a model with its own analysis",
}
"""How a missing capability is named when a solver cannot run (``compare`` prints it as the skip reason)."""


@runtime_checkable
class Model(Protocol):
    """The protocol (see the module docstring); :class:`condiag.problem.Problem` and
    :class:`condiag.two_layer.TwoLayerProblem` implement it."""

    @property
    def source(self) -> str: ...

    @property
    def objective(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[Capability]: ...

    @property
    def default_solvers(self) -> tuple[str, ...] | None: ...

    @property
    def column_names(self) -> tuple[str, ...]: ...

    @property
    def n_cols(self) -> int: ...

    def value(self, x: np.ndarray) -> float: ...

    def gradient(self, x: np.ndarray) -> np.ndarray: ...

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]: ...

    def hessian_vector_at(self, x: np.ndarray, v: np.ndarray) -> np.ndarray: ...

    def initial_point(self) -> np.ndarray: ...

    def describe_loss(self) -> str: ...

    def description(self) -> dict[str, Any]: ...

    def summary_rows(self) -> list[tuple[str, str | None]]: ...


def has(model: Any, capability: Capability) -> bool:
    """Whether ``model`` offers ``capability`` (False for an object that declares none)."""
    return capability in getattr(model, "capabilities", frozenset())


def missing(model: Any, required: frozenset[Capability]) -> str:
    """Why a solver that needs ``required`` cannot run on ``model`` ("" when it can)."""
    lacking = sorted(required - getattr(model, "capabilities", frozenset()), key=lambda c: c.value)
    return "; ".join(f"needs {c.describe()}" for c in lacking)


@dataclass(frozen=True)
class ModelKind:
    """One ``--model`` choice: its help line and how it is built from the loaded problem."""

    summary: str
    build: Callable[..., Any] | None
    """(problem, hidden=, samples=, init_scale=, seed=) → the model; None: the loaded problem is the model."""


def _two_layer(problem, *, hidden: int | None, samples: int, init_scale: float, seed: int):
    from .two_layer import from_problem

    return from_problem(problem, hidden=hidden, samples=samples, init_scale=init_scale, seed=seed)


LINEAR_KIND = "linear"
"""The default ``--model``: the loaded least-squares or quadratic problem itself."""

MODEL_KINDS: dict[str, ModelKind] = {
    LINEAR_KIND: ModelKind("solve Ax ≈ b (or minimise the quadratic)", None),
    "two-layer": ModelKind("fit W1·W2 to the matrix A (story 3)", _two_layer),
}
"""``--model NAME``: how the model is built from the loaded problem (its matrix A, its loss convention) and
the model options (--hidden, --samples, --init-scale, --model-seed)."""


def build_model(kind: str, problem, **options):
    """The model ``kind`` names (a key of :data:`MODEL_KINDS`) for a loaded problem."""
    builder = MODEL_KINDS[kind].build
    return problem if builder is None else builder(problem, **options)
