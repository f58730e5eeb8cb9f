"""The solver contract: a uniform :class:`SolverResult`, the run :class:`Context`, and the
:class:`Monitor` that records histories and decides every solver's status the same way.

Statuses (non-convergence is data, never an exception):

``converged``  loss gap f(x) - f* <= tol * (f(x0) - f*) (or below the loss's own rounding)
``max_iter``   the budget (iterations or ``--time-limit``) ran out while the gap was still falling
``stalled``    over the second half of the run the best gap improved by less than 0.1%
``diverged``   NaN/Inf, or the gap grew 1e5-fold over its start (the iteration is recorded);
               for gd/momentum/nesterov with fixed parameters, whose asymptotic rate is known
               exactly, growth counts only when the spectral radius is >= 1 (otherwise it is a
               transient, reported as such)
``skipped``    the solver does not apply (the reason is given)
``failed``     the solver raised an error (its message is given)
"""

from __future__ import annotations

import enum
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..models import Capability, Model, has, missing
from ..spectrum import EPS64
from ..trajectories import checkpoints

if TYPE_CHECKING:
    from ..problem import Problem
    from ..reference import Reference
    from ..spectrum import Decomposition, Spectrum

class Status(str, enum.Enum):
    """How a solver's run ended (docs/glossary.md gives each one's rule); compares equal to its value, and prints
    and serialises as it."""

    CONVERGED = "converged"
    MAX_ITER = "max_iter"
    STALLED = "stalled"
    DIVERGED = "diverged"
    UNBOUNDED = "unbounded"
    SKIPPED = "skipped"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


STATUSES = tuple(status.value for status in Status)
"""The statuses as strings, in the JSON schema's order."""
DIVERGENCE_GROWTH = 1e5
STALL_IMPROVEMENT = 1e-3


class SolverInterrupted(Exception):
    """Raised inside a run when the user interrupts; carries the partial result."""


@dataclass(frozen=True)
class History:
    """Loss at logged iterations (every step up to 50, then about 12 per decade)."""

    iterations: np.ndarray
    loss: np.ndarray
    path: np.ndarray | None = None
    """Iterates at the logged iterations (two-variable problems only, for plots)."""


@dataclass(frozen=True)
class SolverResult:
    """What one solver did; field names follow scipy.optimize.OptimizeResult where they can."""

    solver: str
    status: Status
    message: str
    params: dict
    x: np.ndarray | None
    iterations: int
    f_evals: int
    seconds: float
    history: History
    exact: bool = False
    """True when the trajectory was computed in closed form, not iterated."""
    dtype: str = "float64"
    final_loss: float | None = None
    diverged_at: int | None = None
    extra: dict = field(default_factory=dict)
    """Solver-specific facts for the verdict (e.g. steps still needed, epochs)."""
    setting: str = ""
    """In a sweep, the swept values of this run ('lr=0.001, beta=0.9'); empty otherwise."""

    @property
    def label(self) -> str:
        """The solver's name, with its swept setting in brackets when it has one."""
        return f"{self.solver} [{self.setting}]" if self.setting else self.solver


@dataclass
class Settings:
    """Run settings shared by every solver of one comparison."""

    max_iter: int = 10_000
    tol: float = 1e-6
    time_limit: float | None = None
    dtype: str = "float64"
    simulate: bool = False
    lr: float | None = None
    """--lr for every first-order solver (None: each solver's default)."""
    params: dict = field(default_factory=dict)
    """Per-solver parameters from --param SOLVER.NAME=VALUE: {solver: {name: value}}."""
    seed: int = 0
    progress: Any = None
    """Callable (solver, iteration, max_iter) -> None, called about every 0.1 s of simulation."""


@dataclass
class Context:
    """Everything a solver may use: the problem, its exact analysis, the reference, the settings."""

    problem: Model
    spectrum: Spectrum | None
    """The exact or estimated spectrum of a linear model (None for a non-linear one)."""
    bounds: Any
    """:class:`condiag.bounds.Bounds` of a linear model, :class:`condiag.comparison.CurvatureBounds` otherwise."""
    decomposition: Decomposition | None
    reference: Reference
    x0: np.ndarray
    settings: Settings
    no_minimum: str | None = None
    """Why f has no minimiser (a quadratic with negative or flat-and-tilted curvature), else None.
    Then no run is ``converged``; one whose loss falls below the stationary point's is ``unbounded``."""

    @property
    def floor(self) -> float:
        return float(self.reference.loss)

    @property
    def linear(self) -> Problem:
        """The model as a :class:`~condiag.problem.Problem`, for the solvers and closed forms that require
        :data:`~condiag.models.Capability.LINEAR` (the registry checks it before they run)."""
        if not has(self.problem, Capability.LINEAR):
            raise TypeError(f"a linear model is needed here, not {self.problem.objective}")
        return cast("Problem", self.problem)

    @property
    def known_spectrum(self) -> Spectrum:
        """The spectrum, which every linear model's context has."""
        if self.spectrum is None:
            raise TypeError(f"{self.problem.objective} has no spectrum here")
        return self.spectrum

    @property
    def exact_decomposition(self) -> Decomposition:
        """The dense decomposition, for the closed forms (absent on the iterative path: callers check first)."""
        if self.decomposition is None:
            raise TypeError("no dense decomposition (the iterative path)")
        return self.decomposition

    def target_gap(self, start_loss: float) -> float:
        """The converged threshold, the one meaning of "steps" everywhere: tol · (f(x0) - f*).

        Never below the rounding of the loss near its floor (4 eps |f*|): a gap under that is
        indistinguishable from zero in float64.
        """
        rounding = 4.0 * EPS64 * abs(self.floor)
        return max(self.settings.tol * (start_loss - self.floor), rounding)


class Monitor:
    """Records a run's history and applies the status rules (one copy of them for all solvers)."""

    def __init__(self, context: Context, name: str, max_iter: int | None = None, record_path: bool | None = None):
        self.context = context
        self.name = name
        self.max_iter = context.settings.max_iter if max_iter is None else max_iter
        self.marks = set(int(k) for k in checkpoints(self.max_iter))
        self.iterations: list[int] = []
        self.losses: list[float] = []
        self.path: list[np.ndarray] = []
        self.record_path = context.problem.n_cols == 2 if record_path is None else record_path
        self.start = time.perf_counter()
        self.last_progress = self.start
        self.start_loss: float = math.nan
        """f(x0), set by the first :meth:`observe`."""
        self.best_gap = math.inf
        self.f_evals = 0
        self.status: Status | None = None
        self.message = ""
        self.diverged_at: int | None = None
        self.x: np.ndarray | None = None
        self.k = 0
        self.growth_rule = True
        """False for linear methods proven convergent (spectral radius < 1): growth is a transient."""

    # ------------------------------------------------------------------ observing
    def observe(self, k: int, loss: float, x: np.ndarray, force_record: bool = False) -> str | None:
        """Record iteration k; return a final status when the run must stop, else None.

        A status the solver itself already decided (e.g. CG meeting negative curvature) stands."""
        self.k = k
        if math.isnan(self.start_loss):
            self.start_loss = loss
        finite = math.isfinite(loss) and bool(np.all(np.isfinite(x)))
        if finite:
            self.x = x
        if k in self.marks or force_record or not finite:
            self._record(k, loss if finite else math.inf, x if finite else None)
        if self.status is not None:
            return self.status
        no_minimum = self.context.no_minimum
        if not finite:
            if no_minimum and loss == -math.inf:
                return self._finish(Status.UNBOUNDED, f"the loss reached -inf at iteration {k:,}: {no_minimum}", k)
            return self._finish(Status.DIVERGED, f"the loss became {'NaN' if math.isnan(loss) else 'infinite'} at iteration {k:,}", k)
        gap = loss - self.context.floor
        self.best_gap = min(self.best_gap, gap)
        start_gap = self.start_loss - self.context.floor
        if no_minimum:
            # below both the start and the stationary point's value: nothing bounds the loss any more
            if loss < min(self.start_loss, self.context.floor) - self.context.target_gap(self.start_loss):
                return self._finish(Status.UNBOUNDED, f"the loss fell below its start and below its value at the stationary point "
                                                 f"by iteration {k:,}: {no_minimum}", k)
        elif gap <= self.context.target_gap(self.start_loss):
            return self._finish(Status.CONVERGED, f"loss gap {gap:.3g} <= tol {self.context.target_gap(self.start_loss):.3g}", k)
        if self.growth_rule and gap > DIVERGENCE_GROWTH * max(start_gap, 1e-300) and k > 0:
            return self._finish(Status.DIVERGED, f"the loss gap grew {DIVERGENCE_GROWTH:g}-fold by iteration {k:,}", k)
        now = time.perf_counter()
        limit = self.context.settings.time_limit
        if limit is not None and now - self.start > limit:
            return self._finish(Status.MAX_ITER, f"time limit of {limit:g} s reached at iteration {k:,}", k)
        if now - self.last_progress > 0.1 and self.context.settings.progress is not None:
            self.last_progress = now
            self.context.settings.progress(self.name, k, self.max_iter)
        return None

    def _record(self, k: int, loss: float, x) -> None:
        if self.iterations and self.iterations[-1] == k:
            return
        self.iterations.append(int(k))
        self.losses.append(float(loss))
        if self.record_path:
            self.path.append(np.array(x, dtype=float) if x is not None else np.full(self.context.problem.n_cols, np.nan))

    def _finish(self, status: Status, message: str, k: int) -> Status:
        self.status = status
        self.message = message
        if status == "diverged":
            self.diverged_at = k
        return status

    def budget_exhausted(self, k: int, loss: float, x: np.ndarray) -> None:
        """Called when the loop ran out of iterations: max_iter if still improving, else stalled."""
        self._record(k, loss, x)
        self.k = k
        half = [gap - self.context.floor for it, gap in zip(self.iterations, self.losses) if it <= k // 2]
        best_first_half = min(half) if half else math.inf
        if self.best_gap > (1.0 - STALL_IMPROVEMENT) * best_first_half and k >= 20:
            self._finish(Status.STALLED, f"no progress over the last half of {k:,} iterations (best gap {self.best_gap:.3g})", k)
        else:
            self._finish(Status.MAX_ITER, f"iteration budget of {k:,} reached while the loss was still falling", k)

    # ------------------------------------------------------------------ result
    def result(self, params: dict, *, x=None, iterations=None, f_evals=None, exact=False, dtype="float64", extra=None,
               status: Status | None = None, message=None) -> SolverResult:
        x = self.x if x is None else x
        k = self.k if iterations is None else iterations
        if self.context.no_minimum and status is None and self.status in (None, "max_iter") and x is not None and np.all(np.isfinite(x)):
            gradient = self.context.problem.gradient(np.asarray(x, dtype=float))
            scale = max(float(np.linalg.norm(getattr(self.context.problem, "b", 0.0))), 1e-300)
            if float(np.linalg.norm(gradient)) <= 1e-8 * scale:
                self.status = Status.STALLED
                self.message = f"stopped at a stationary point of f, which is a saddle or a maximum: {self.context.no_minimum}"
        final_loss = None
        if x is not None and np.all(np.isfinite(x)):
            final_loss = float(self.context.problem.value(np.asarray(x, dtype=float)))
            if self.iterations and self.iterations[-1] != k and math.isfinite(final_loss):
                self._record(k, final_loss, x)
        path = np.array(self.path) if self.record_path and self.path else None
        return SolverResult(
            solver=self.name,
            status=Status(status or self.status or Status.MAX_ITER),
            message=message or self.message,
            params=params,
            x=None if x is None else np.asarray(x, dtype=float),
            iterations=int(k),
            f_evals=int(self.f_evals if f_evals is None else f_evals),
            seconds=time.perf_counter() - self.start,
            history=History(np.array(self.iterations, dtype=np.int64), np.array(self.losses), path),
            exact=exact,
            dtype=dtype,
            final_loss=final_loss if final_loss is None or math.isfinite(final_loss) else None,
            diverged_at=self.diverged_at,
            extra=extra or {},
        )


def drive(monitor: Monitor, params: dict, x, f: float, step) -> None:
    """The loop every iterating solver shares: observe x0, then (x, f) = step(k) for k = 1, 2, ...
    until the monitor decides a status or the budget runs out. Ctrl-C raises
    :class:`SolverInterrupted` carrying the partial result. ``step`` counts its own evaluations."""
    k = 0
    try:
        with np.errstate(all="ignore"):
            if monitor.observe(0, f, x) is not None:
                return
            for k in range(1, monitor.max_iter + 1):
                x, f = step(k)
                if monitor.observe(k, f, x) is not None:
                    return
            monitor.budget_exhausted(monitor.max_iter, f, x)
    except KeyboardInterrupt:
        raise SolverInterrupted(monitor.result(params, status=Status.MAX_ITER, message=f"interrupted at iteration {k:,}")) from None


def skipped(name: str, reason: str, params: dict | None = None) -> SolverResult:
    return SolverResult(name, Status.SKIPPED, reason, params or {}, None, 0, 0, 0.0, History(np.array([], dtype=np.int64), np.array([])))


def failed(name: str, error: BaseException, params: dict | None = None, seconds: float = 0.0) -> SolverResult:
    message = f"{type(error).__name__}: {error}"
    return SolverResult(name, Status.FAILED, message[:300], params or {}, None, 0, 0, seconds, History(np.array([], dtype=np.int64), np.array([])))


@dataclass(frozen=True)
class ParameterRange:
    """The values a solver parameter may take: (low, high) with open or closed ends, perhaps integer."""

    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def describe(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open or self.high == math.inf else "]"
        kind = "an integer" if self.integer else "a number"
        return f"{kind} in {left}{self.low:g}, {self.high:g}{right}"

    def admits(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.integer and value != int(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


PARAMETER_RANGES = {
    "lr": ParameterRange(0.0, low_open=True),
    "beta": ParameterRange(0.0, 1.0, high_open=True),
    "beta1": ParameterRange(0.0, 1.0, high_open=True),
    "beta2": ParameterRange(0.0, 1.0, high_open=True),
    "alpha": ParameterRange(0.0, 1.0, high_open=True),
    "eps": ParameterRange(0.0, low_open=True),
    "c": ParameterRange(0.0, 1.0, low_open=True, high_open=True),
    "shrink": ParameterRange(0.0, 1.0, low_open=True, high_open=True),
    "grow": ParameterRange(1.0, 1e6),
    "batch_size": ParameterRange(1.0, integer=True),
    "seed": ParameterRange(0.0, 2.0**32 - 1, integer=True),
    "maxcor": ParameterRange(1.0, 10_000, integer=True),
    "ftol": ParameterRange(0.0),
    "gtol": ParameterRange(0.0),
    "atol": ParameterRange(0.0),
    "btol": ParameterRange(0.0),
    "conlim": ParameterRange(1.0),
    "mu0": ParameterRange(0.0, low_open=True),
    # torch.optim's names (torch-sgd, torch-adam, torch-adamw, torch-lbfgs); flags are 0 or 1
    "momentum": ParameterRange(0.0),
    "dampening": ParameterRange(0.0, 1.0),
    "weight_decay": ParameterRange(0.0),
    "nesterov": ParameterRange(0.0, 1.0, integer=True),
    "amsgrad": ParameterRange(0.0, 1.0, integer=True),
    "strong_wolfe": ParameterRange(0.0, 1.0, integer=True),
    "max_iter": ParameterRange(1.0, 10**6, integer=True),
    "max_eval": ParameterRange(1.0, 10**7, integer=True),
    "history_size": ParameterRange(1.0, 10**5, integer=True),
    "tolerance_grad": ParameterRange(0.0),
    "tolerance_change": ParameterRange(0.0),
}
"""What each solver parameter means is the same in every solver that has it, so one table holds the rule."""


def check_parameter(solver: Solver | type[Solver], name: str, value) -> None:
    """Raise :class:`UsageError` for a parameter the solver lacks or a value out of its range ('auto' where the default is)."""
    from ..errors import UsageError

    if name not in solver.defaults:
        raise UsageError(f"param: {solver.name} has no parameter {name} (it has {', '.join(sorted(solver.defaults)) or 'none'})", option="param")
    if value == "auto":
        if solver.defaults[name] != "auto":
            raise UsageError(f"param {solver.name}.{name}=auto: only parameters that default to auto accept it", option="param")
        return
    rule = PARAMETER_RANGES.get(name, ParameterRange(-math.inf))
    if not rule.admits(float(value)):
        raise UsageError(f"param {solver.name}.{name}={value:g}: expected {rule.describe()}", option="param")


class Solver:
    """Base class: a name, documented defaults, ``supports`` and ``run``.

    Subclasses set ``name``, ``summary``, ``defaults`` and implement :meth:`run`.
    """

    name: str = ""
    summary: str = ""
    defaults: dict = {}
    first_order: bool = False
    """Whether ``--lr`` applies."""
    requires: frozenset[Capability] = frozenset({Capability.LINEAR})
    """The model capabilities (:class:`condiag.models.Capability`) the solver needs; the empty set: values and
    gradients only, so it runs on any model."""

    def supports(self, problem: Model) -> tuple[bool, str]:
        """(True, "") when the solver applies to this problem, else (False, reason)."""
        return True, ""

    def applies_to(self, problem) -> tuple[bool, str]:
        """The capability check shared by every solver, then the solver's own :meth:`supports`."""
        reason = missing(problem, self.requires)
        return (False, reason) if reason else self.supports(problem)

    def parameters(self, context: Context) -> dict:
        """Defaults, overridden by --lr (first-order solvers) and --param NAME.KEY=VALUE."""
        params = dict(self.defaults)
        if self.first_order and context.settings.lr is not None and "lr" in params:
            params["lr"] = context.settings.lr
        for name, value in context.settings.params.get(self.name, {}).items():
            check_parameter(self, name, value)
            params[name] = value
        return params

    def run(self, context: Context) -> SolverResult:  # pragma: no cover - abstract
        raise NotImplementedError
