"""``condiag compare``: run solvers against the exact answer and say, in words, who gets there."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .bounds import learning_rate_bounds
from .errors import UsageError
from .models import Capability, Model, has
from .notebook import NotebookView
from .numbers import count, sig
from .problem import Problem, starting_point
from .reference import (
    NOT_CONVEX,
    Reference,
    floor_is_zero,
    negligible_floor,
    no_minimum_reason,
    reference_from,
)
from .solvers import (
    DEFAULT_SOLVERS,
    REGISTRY,
    Context,
    Settings,
    SolverResult,
    get_solver,
)
from .solvers.base import SolverInterrupted, check_parameter, failed, skipped
from .spectrum import decompose, learned_mask, spectrum_from


@dataclass(frozen=True)
class SolverMetrics:
    """How far one solver's answer is from x*, in loss and in weights."""

    loss_gap: float | None
    """f(x) - f*."""
    x_rel_error: float | None
    """||x - x*|| / ||x*||."""
    row_space_rel_error: float | None
    """The part of the error the loss can see (in the row space of A), relative to ||x*||."""
    null_space_rel_error: float | None
    """The part the loss cannot see (in the null space of A), relative to ||x*||."""
    verdict: str
    product_rel_error: float | None = None
    """A factored model (:data:`~condiag.models.Capability.FACTORED`): ||W1 W2 - M*|| / ||M*|| (the weights are not unique)."""


@dataclass(frozen=True)
class Comparison(NotebookView):
    problem: Model
    spectrum: object
    bounds: object
    reference: Reference
    x0: np.ndarray
    settings: Settings
    results: tuple[SolverResult, ...]
    metrics: tuple[SolverMetrics, ...]
    interrupted: bool
    seconds: float
    no_minimum: str | None = None
    """Why f has no minimiser (then the reference is only its stationary point), else None."""
    best: dict | None = None
    """In a sweep, the best setting of each swept solver: {solver: setting} (:func:`best_settings`)."""
    held_out: Any = None
    """With test data: every answer scored on it, and the regularisation paths (:class:`condiag.heldout.HeldOut`)."""
    libraries: tuple = ()
    """What scikit-learn's and statsmodels' estimators compute on the same data (:mod:`condiag.conventions`)."""

    _figure = "comparison_figure"

    def _render_text(self, console) -> None:
        from .render.comparison_text import render_comparison

        render_comparison(self, console)

    def to_dict(self) -> dict:
        """The report as ``condiag compare --json`` writes it (strict JSON types, no NaN)."""
        from .render.json_report import comparison_json

        return comparison_json(self)


def parse_solvers(text: str | None, option: str = "--solvers") -> tuple[str, ...]:
    """'gd,lbfgs' -> ('gd', 'lbfgs'); 'all' (alone or in the list) -> every solver, each once;
    None -> the default handful. ``option`` names the flag in error messages."""
    if text is None:
        return DEFAULT_SOLVERS
    names: list[str] = []
    for name in (n.strip() for n in text.split(",") if n.strip()):
        for one in (REGISTRY if name == "all" else (name,)):
            if one not in names:
                names.append(one)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise UsageError(f"{option}: unknown solver {', '.join(unknown)}; available: {', '.join(REGISTRY)}, all")
    if not names:
        raise UsageError(f"{option}: no solver named")
    return tuple(names)


def parse_params(items) -> dict:
    """['adam.lr=0.1', 'sgd.batch_size=2'] -> {'adam': {'lr': 0.1}, 'sgd': {'batch_size': 2.0}}."""
    params: dict = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        solver, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise UsageError(f"param {item!r}: expected SOLVER.NAME=VALUE, e.g. adam.lr=0.1", option="param")
        if solver not in REGISTRY:
            raise UsageError(f"param {item!r}: unknown solver {solver!r}", option="param")
        value = value.strip()
        if value != "auto":
            try:
                value = float(value)
            except ValueError:
                raise UsageError(f"param {item!r}: {value!r} is not a number (or auto)", option="param") from None
        check_parameter(REGISTRY[solver], name, value)
        params.setdefault(solver, {})[name] = value
    return params


def _with_float64_witness(solver, context: Context, result: SolverResult) -> SolverResult:
    """A float32 run that stalled, with the gap the same solver reaches in float64 on the same budget.

    Whether float32 rounding is to blame is then measured, not assumed: the verdict blames it only
    when float64 gets at least ten times closer to the floor.
    """
    from dataclasses import replace

    twin = solver.run(replace(context, settings=replace(context.settings, dtype="float64", progress=None)))
    gap = twin.final_loss - context.floor if twin.final_loss is not None else None
    return replace(result, extra={**result.extra, "float64_gap": gap, "float64_status": twin.status})


def _metrics(context: Context, result: SolverResult, start_loss: float) -> SolverMetrics:
    problem, reference, decomposition = context.problem, context.reference, context.decomposition
    model: Any = problem  # FACTORED: split(x); LINEAR with a decomposition: a Problem
    x = result.x
    gap = x_err = row_err = null_err = product_err = flat_err = None
    if x is not None and np.all(np.isfinite(x)):
        gap = float(problem.value(x) - reference.loss)
        if has(problem, Capability.FACTORED):  # weights identifiable only through their product
            (W1, W2), (B1, B2) = model.split(x), model.split(reference.x)
            target = B1 @ B2
            product_err = float(np.linalg.norm(W1 @ W2 - target) / (np.linalg.norm(target) or 1.0))
        else:
            norm = float(np.linalg.norm(reference.x)) or 1.0
            diff = x - reference.x
            x_err = float(np.linalg.norm(diff)) / norm
            if decomposition is not None:
                mask = learned_mask(model, decomposition)
                if model.ridge > 0:
                    mask[:] = True
                coefficients = decomposition.V.T @ diff
                row_err = float(np.linalg.norm(coefficients[mask])) / norm
                null_err = float(np.linalg.norm(coefficients[~mask])) / norm
                flat_err = _invisible_error(coefficients, decomposition.hessian_eigenvalues, context.target_gap(start_loss)) / norm
    text = verdict(result, gap, x_err, row_err, null_err, start_loss, context, flat_err)
    return SolverMetrics(gap, x_err, row_err, null_err, text, product_err)


TRANSIENT = {"momentum": "a transient overshoot of momentum (its asymptotic rate is below 1)",
             "nesterov": "a transient overshoot of momentum (its asymptotic rate is below 1)",
             "sgd": "minibatch noise (each step sees only its rows)"}
"""What makes a convergent run's loss rise on the way, by solver; others get 'a transient rise'."""


def _invisible_error(coefficients: np.ndarray, eigenvalues: np.ndarray, tolerance: float) -> float:
    """Norm of the weight error along directions the loss cannot tell apart at this tolerance.

    On a quadratic the loss gap is ½ Σ λ_i c_i² (c = Vᵀ(x - x*)). Along a direction with
    ½ λ_i ||c||² <= tolerance, moving the weights by the *whole* error changes the loss by less than
    the tolerance: such error is invisible to the loss, whatever its size (the null space is the case λ_i = 0).
    """
    total = float(coefficients @ coefficients)
    if total == 0.0:
        return 0.0
    lam = np.zeros(coefficients.size)
    lam[: eigenvalues.size] = eigenvalues[: coefficients.size]
    flat = 0.5 * np.abs(lam) * total <= tolerance
    return float(np.linalg.norm(coefficients[flat]))


def verdict(result: SolverResult, gap, x_err, row_err, null_err, start_loss, context, flat_err=None) -> str:
    """One sentence per solver, in words, with the numbers that explain it."""
    name = result.label
    floor = context.floor
    k = result.iterations
    status = result.status
    bounds = context.bounds
    lr = result.params.get("lr") if isinstance(result.params.get("lr"), float) else None
    if status == "skipped":
        return f"{name}: skipped — {result.message}"
    if status == "unbounded":
        return f"{name}: unbounded — {result.message}; there is no minimum to converge to"
    if context.no_minimum and status == "stalled":
        return f"{name}: {result.message}"
    if status == "failed":
        return f"{name}: failed — {result.message}"
    zero_floor = negligible_floor(floor, start_loss) if context.spectrum is None else floor_is_zero(context.problem, floor, start_loss)
    floor_text = "" if zero_floor else f" (floor {sig(floor, 4)})"
    if status == "converged":
        text = f"{name}: reached the floor in {count(k)} iteration{'s' if k != 1 else ''}"
        if result.f_evals:
            text += f" ({count(result.f_evals)} evaluation{'s' if result.f_evals != 1 else ''})"
        if x_err is not None:
            if float(np.linalg.norm(context.reference.x)) > 0:
                text += f"; weights within {sig(x_err, 2)} of x* (relative)"
            else:  # x* = 0: a relative error has no meaning, the distance itself is the number
                text += f"; weights within {sig(x_err, 2)} of x* = 0"
        if start_loss > floor:
            text += f"; relative loss gap {sig(max(gap or 0.0, 0.0) / (start_loss - floor), 2)}"
    elif status == "diverged":
        text = f"{name}: diverged at iteration {count(result.diverged_at or k)}"
        if lr is not None and bounds.divergence_threshold and name in ("gd", "momentum", "nesterov"):
            text += f" — lr {sig(lr, 5)} is {sig(lr / bounds.divergence_threshold, 4)} × gradient descent's threshold 2/L = {sig(bounds.divergence_threshold, 5)}"
        elif name == "sgd" and lr is not None:
            batch = result.params.get("batch_size")
            text += (f" — each step uses {count(batch)} row{'s' if batch != 1 else ''} scaled up to the whole sum, whose curvature "
                     f"allows lr up to about {sig(result.extra.get('lr_limit'), 3)} (lr is {sig(lr, 3)})")
        elif lr is not None and name in ("adam", "rmsprop", "adagrad"):
            text += f" — its steps of about lr = {sig(lr, 3)} per coordinate overshoot the steep direction"
    else:
        final = result.final_loss
        text = f"{name}: after {count(k)} steps the loss is {sig(final, 4)} of a starting {sig(start_loss, 4)}{floor_text}"
        steps_needed = result.extra.get("steps_to_tol")
        if steps_needed is not None:
            text += f"; at this lr it needs about {count(steps_needed)} steps to reach the floor"
        elif status == "stalled":
            text += f"; it stopped improving at a gap of {sig(gap, 3)}"
            witness = result.extra.get("float64_gap")
            if result.dtype == "float32" and witness is not None and gap is not None and witness < 0.1 * gap:
                text += f" — float32 rounding limits it: the same run in float64 reaches a gap of {sig(witness, 3)}"
            elif result.dtype == "float32" and witness is not None:
                text += f" — not float32's doing: in float64 it also stops at a gap of {sig(witness, 3)}"
            elif name == "sgd":
                text += " — with a constant lr, minibatch gradient noise keeps SGD bouncing around x*; a decaying lr or a larger batch lowers that floor"
        else:
            text += "; still falling when the budget ran out"
        if name in ("adam", "rmsprop", "adagrad") and lr is not None and k > 0:
            distance = float(np.max(np.abs(context.reference.x - context.x0)))
            if k * lr < distance:
                text += (f"; its steps move each weight by about lr = {sig(lr, 3)}, so {count(k)} steps cover at most "
                         f"{sig(k * lr, 3)}, but x* is {sig(distance, 3)} away")
        if final is not None and final > start_loss:
            text += "; the loss went up from where it started"
        if result.message.startswith("time limit"):
            text += f" ({result.message})"
    start_gap = start_loss - floor
    losses = result.history.loss[np.isfinite(result.history.loss)]
    if status != "diverged" and losses.size and start_gap > 0 and losses.max() - floor > 10 * start_gap:
        peak = int(result.history.iterations[np.isfinite(result.history.loss)][np.argmax(losses)])
        text += (f". On the way the gap rose {sig((losses.max() - floor) / start_gap, 3)}-fold (peak near iteration {count(peak)}) "
                 f"before falling: {TRANSIENT.get(name, 'a transient rise')}, not divergence")
    if (context.spectrum is not None and status != "converged" and x_err is not None and x_err > 0.5 and gap is not None
            and start_gap > 0 and (null_err is None or null_err <= 0.5 * x_err)):
        orders = f"{sig(math.log10(start_gap / gap), 2)} orders of magnitude" if gap > 0 else "all the way"
        if flat_err is not None and flat_err >= 0.5 * x_err:
            text += (f". Its loss gap fell by {orders}, and its weights are {sig(100 * x_err, 3)}% away from x*, "
                     f"{sig(100 * flat_err / x_err, 3)}% of that along directions of tiny curvature (cond(H) = "
                     f"{sig(context.spectrum.hessian_condition_number, 3)}) where moving the weights by the whole distance changes "
                     "the loss by less than the tolerance: distance in weights is the wrong yardstick here")
        else:
            text += (f". Its loss gap fell by {orders} (to {sig(gap, 3)}), and its weights are still {sig(100 * x_err, 3)}% "
                     "away from x*")
    if null_err is not None and x_err is not None and null_err > 1e-3 and (row_err or 0) < 0.5 * null_err:
        text += (f". Its weights differ from x* by {sig(100 * x_err, 3)}%, almost all in the null space of A "
                 f"({sig(100 * null_err, 3)}%), which the loss cannot see: same loss, different weights")
    return text


@dataclass(frozen=True)
class CurvatureBounds:
    """What the first-order solvers' ``lr=auto`` needs, for a non-linear model: the curvature λ that bounds a
    stable lr (:meth:`stability_curvature` of a :data:`~condiag.models.Capability.KNOWN_MINIMUM` model),
    the lr it recommends and 2/λ. The heavy-ball and Nesterov tunings of a quadratic do not apply."""

    L: float
    optimal: float
    divergence_threshold: float
    heavy_ball: None = None
    nesterov: None = None


def linear_context(problem: Problem, settings: Settings, x0: np.ndarray, method: str = "auto") -> Context:
    """Spectrum, bounds and reference for a linear problem: exact, or iterative for large/sparse ones
    (then no decomposition: trajectories are simulated and row/null-space errors are not split)."""
    from .iterative import (
        choose_method,
        extreme_pair,
        iterative_reference,
        spectrum_from_pair,
    )

    if choose_method(problem, method) == "iterative":
        spectrum = spectrum_from_pair(problem, extreme_pair(problem))
        decomposition = None
        reference = iterative_reference(problem, spectrum)
    else:
        decomposition = decompose(problem)
        spectrum = spectrum_from(problem, decomposition)
        reference = reference_from(problem, decomposition)
    bounds = learning_rate_bounds(problem, spectrum, settings.tol)
    if decomposition is not None:
        no_minimum = no_minimum_reason(problem, decomposition)[2]
    elif spectrum.lambda_min < -spectrum.rank_tol:
        no_minimum = NOT_CONVEX
    else:
        no_minimum = None
    return Context(problem, spectrum, bounds, decomposition, reference, x0, settings, no_minimum)


def known_minimum_context(problem, settings: Settings, x0: np.ndarray, method: str = "auto") -> Context:
    """The reference and lr bounds of a non-linear model whose minimum is known (``method`` does not apply)."""
    if not has(problem, Capability.KNOWN_MINIMUM):
        raise ValueError(f"compare needs a linear model or one whose minimum is known; {problem.objective} has neither")
    reference = problem.reference_minimum()
    lam, recommended = problem.stability_curvature(x0, reference)
    bounds = CurvatureBounds(L=lam, optimal=recommended, divergence_threshold=2.0 / lam if lam > 0 else float("inf"))
    return Context(problem, None, bounds, None, reference, x0, settings)


def parse_sweeps(param_items, lrs) -> tuple[dict, dict]:
    """(fixed parameters, sweeps) from ``--param SOLVER.NAME=V1,V2,...`` and repeated ``--lr``.

    A parameter with one value is fixed, as :func:`parse_params` has it; one with several values is swept. The
    sweeps map each solver to its list of settings, the product of its swept values: [{'lr': .., 'beta': ..}, ...];
    several ``--lr`` sweep the lr of every first-order solver.
    """
    import itertools

    fixed_items: list[str] = []
    swept: dict[str, dict[str, list[Any]]] = {}
    for item in param_items or ():
        key, sep, value = item.partition("=")
        values = [v.strip() for v in value.split(",")] if sep else [value]
        if len(values) > 1:  # each value through the same checks as a single one
            solver, _, name = key.partition(".")
            swept.setdefault(solver, {})[name] = [parse_params([f"{key}={v}"])[solver][name] for v in values]
        else:
            fixed_items.append(item)
    fixed = parse_params(fixed_items)
    lr_values = [float(v) for v in lrs] if lrs is not None and len(lrs) > 1 else None
    sweeps: dict[str, list[dict[str, Any]]] = {}
    for solver in set(swept) | (set(REGISTRY) if lr_values else set()):
        axes: dict[str, list[Any]] = dict(swept.get(solver, {}))
        if lr_values and REGISTRY[solver].first_order and "lr" in REGISTRY[solver].defaults and "lr" not in axes:
            axes = {"lr": lr_values, **axes}
        if axes:
            names = list(axes)
            sweeps[solver] = [dict(zip(names, combo)) for combo in itertools.product(*(axes[n] for n in names))]
    return fixed, sweeps


def best_settings(results) -> dict:
    """The best run of each swept solver: converged in the fewest iterations, else the smallest final loss."""
    groups: dict = {}
    for r in results:
        if r.setting:
            groups.setdefault(r.solver, []).append(r)
    best = {}
    for name, runs in groups.items():
        converged = [r for r in runs if r.status == "converged"]
        if converged:
            best[name] = min(converged, key=lambda r: (r.iterations, r.final_loss if r.final_loss is not None else math.inf)).setting
        else:
            finite = [r for r in runs if r.final_loss is not None and math.isfinite(r.final_loss)]
            if finite:
                best[name] = min(finite, key=lambda r: r.final_loss).setting
    return best


def _runs(names, settings: Settings, sweeps: dict | None):
    """(solver name, settings, setting label) for every run: one per solver, or one per swept setting."""
    from dataclasses import replace

    for name in names:
        for values in (sweeps or {}).get(name, [None]):
            if values is None:
                yield name, settings, ""
                continue
            params = {**settings.params, name: {**settings.params.get(name, {}), **{k: v for k, v in values.items() if k != "lr"}}}
            run_settings = replace(settings, params=params, lr=values.get("lr", settings.lr))
            yield name, run_settings, ", ".join(f"{k}={sig(v, 6) if isinstance(v, float) else v}" for k, v in values.items())


def compare(problem, solvers=None, settings: Settings | None = None, x0=None, method: str = "auto", sweeps: dict | None = None) -> Comparison:
    """Run each solver on the problem against its exact reference answer.

    A solver that raises is reported as ``failed``; Ctrl-C stops the comparison and returns what
    finished (``interrupted`` is then True). ``problem`` is a :class:`Problem` or a
    non-linear :class:`~condiag.models.Model` whose minimum is known (its ``reference_minimum()``).
    """
    started = time.perf_counter()
    settings = settings or Settings()
    if solvers is None:
        names = problem.default_solvers or parse_solvers(None)
    else:
        names = tuple(solvers)
    x0 = starting_point(x0, problem.n_cols, problem.initial_point())
    context = (linear_context if has(problem, Capability.LINEAR) else known_minimum_context)(problem, settings, x0, method)
    start_loss = problem.value(x0)
    results, metrics = [], []
    interrupted = False
    from dataclasses import replace

    for name, run_settings, setting in _runs(names, settings, sweeps):
        solver = get_solver(name)
        ok, reason = solver.applies_to(problem)
        begun = time.perf_counter()
        run_context = replace(context, settings=run_settings) if run_settings is not settings else context
        if not ok:
            result = skipped(name, reason)
        else:
            try:
                with np.errstate(all="ignore"):
                    result = solver.run(run_context)
                    if result.status == "stalled" and result.dtype == "float32":
                        result = _with_float64_witness(solver, run_context, result)
            except SolverInterrupted as stop:
                results.append(stop.args[0])
                metrics.append(_metrics(context, stop.args[0], start_loss))
                interrupted = True
                break
            except KeyboardInterrupt:
                interrupted = True
                break
            except UsageError:
                raise
            except Exception as error:  # noqa: BLE001 - a solver fault is a result, not a crash
                result = failed(name, error, seconds=time.perf_counter() - begun)
        if setting:
            result = replace(result, setting=setting)
        results.append(result)
        metrics.append(_metrics(context, result, start_loss))
    return Comparison(problem, context.spectrum, context.bounds, context.reference, x0, settings, tuple(results), tuple(metrics),
                      interrupted, time.perf_counter() - started, context.no_minimum, best_settings(results))
