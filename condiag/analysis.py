"""``condiag analyze``: everything computed about a problem, in one immutable record."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .advice import advise
from .bounds import (
    LearningRateBounds,
    LearningRateCheck,
    check_learning_rate,
    learning_rate_bounds,
    quadratic_model,
)
from .causes import FLOAT32_UNIT_ROUNDOFF, Causes, diagnose_causes
from .findings import Finding, diagnose
from .float32 import float32_gd_run, float32_threshold, measure_float32
from .iterative import choose_method
from .notebook import NotebookView
from .problem import Problem, starting_point
from .reference import (
    Reference,
    floor_is_zero,
    minimiser_coefficients,
    no_minimum_reason,
    reference_from,
)
from .spectrum import (
    EPS64,
    Decomposition,
    Spectrum,
    decompose,
    learned_eigenvalues,
    spectrum_from,
)


@dataclass(frozen=True)
class RidgeSuggestion:
    """A ridge penalty lambda ||x||^2 that brings cond(H) down to ``target_condition``.

    With H0 eigenvalues L0 >= mu0: (L0 + 2 lambda)/(mu0 + 2 lambda) = target gives
    lambda = (L0 - target mu0) / (2 (target - 1)).
    """

    ridge: float
    target_condition: float
    x_relative_change: float | None
    """||x_ridge - x*|| / ||x*||: how much the answer moves (bias)."""
    loss_increase: float | None
    """Data loss at x_ridge minus the floor."""
    weight_decay: float
    """The equivalent PyTorch ``weight_decay`` (gradient of lambda ||x||^2 is 2 lambda x)."""


@dataclass(frozen=True)
class Analysis(NotebookView):
    """The result of :func:`analyze`."""

    problem: Problem
    spectrum: Spectrum
    bounds: LearningRateBounds
    checks: tuple[LearningRateCheck, ...]
    reference: Reference
    causes: Causes
    ridge_suggestion: RidgeSuggestion | None
    findings: tuple[Finding, ...]
    steps: int
    tol: float
    x0_source: str
    start_loss: float
    convex: bool
    bounded: bool
    floor_is_zero: bool
    """f(x*) is zero up to rounding (at most 1e-12 of the start loss or of c||b||²)."""
    seconds: float
    advice: dict | None = None
    """Verified parameters to paste, by method ('gd', 'heavy_ball', 'nesterov'): :class:`~condiag.advice.Advised`."""
    float32: Any = None
    """What a float32 run of the advised method reaches (:class:`~condiag.float32.Float32Measurement`), when affordable."""
    minibatch: Any = None
    """With ``batch_size``: what minibatch SGD does (:class:`~condiag.minibatch.MinibatchAnalysis`)."""
    adam: tuple = ()
    """With ``adam``: Adam's regimes at each lr (:class:`~condiag.adam_regimes.AdamRegime`)."""

    _figure = "analysis_figure"

    def _render_text(self, console) -> None:
        from .render.text import render_analysis

        render_analysis(self, console, False)

    def to_dict(self) -> dict:
        """The report as ``condiag analyze --json`` writes it (strict JSON types, no NaN)."""
        from .render.json_report import analysis_json

        return analysis_json(self)


RIDGE_TARGET = 1e3


def suggest_ridge(problem: Problem, decomposition: Decomposition, spectrum: Spectrum, reference: Reference) -> RidgeSuggestion | None:
    """The ridge that brings cond(H) to :data:`RIDGE_TARGET`, and what it costs."""
    if problem.is_quadratic or spectrum.hessian_condition_number <= 10 * RIDGE_TARGET:
        return None
    L0 = spectrum.lambda_max - 2 * problem.ridge
    mu0 = max(spectrum.lambda_min - 2 * problem.ridge, 0.0)
    added = (L0 - RIDGE_TARGET * mu0) / (2.0 * (RIDGE_TARGET - 1.0))
    if added <= 0:
        return None
    ridge = problem.ridge + added
    shifted = problem.with_options(ridge=ridge)
    x_ridge = decomposition.V @ minimiser_coefficients(shifted, decomposition)
    norm_star = float(np.linalg.norm(reference.x))
    change = float(np.linalg.norm(x_ridge - reference.x)) / norm_star if norm_star > 0 and problem.has_rhs else None
    data_loss = shifted.with_options(ridge=0.0).value(x_ridge)
    return RidgeSuggestion(
        ridge=ridge,
        target_condition=RIDGE_TARGET,
        x_relative_change=change,
        loss_increase=(data_loss - problem.with_options(ridge=0.0).value(reference.x)) if problem.has_rhs else None,
        weight_decay=2.0 * ridge,
    )


def analyze(
    problem: Problem,
    lrs=(),
    *,
    steps: int = 1000,
    tol: float = 1e-6,
    x0=None,
    x0_source: str = "zeros",
    method: str = "auto",
    dtype: str = "float64",
    batch_size: int | None = None,
    replacement: bool = False,
    adam: tuple[float, float, float] | None = None,
) -> Analysis:
    """Analyse a problem: spectrum, bounds, exact predictions at each lr, causes, findings.

    Parameters
    ----------
    problem : Problem
    lrs : sequence of float
        Learning rates to check (exact GD predictions after ``steps`` steps).
    steps : int
        T for the closed-form prediction of f(x_T).
    tol : float
        Relative target: every step count is the first T with f(x_T) - f* <= tol (f(x0) - f*).
    x0 : array, optional
        Starting point (zeros by default).
    method : {'auto', 'exact', 'iterative'}
        Exact dense decomposition, or iterative extreme singular values (large/sparse problems;
        predictions then come from the extreme pair and are worst-case bounds).
    dtype : {'float64', 'float32'}
        The precision the user trains in: each lr is checked as that dtype holds it, and a diverging
        loss is reported where it overflows in that dtype (float32: 3.4e38, then inf).
    batch_size : int, optional
        Minibatch SGD with this many rows a step (:mod:`condiag.minibatch`): its mean-square stability threshold,
        and for each lr the noise floor and the expected loss after ``steps``.
    replacement : bool
        Whether the rows of a batch are drawn with replacement (else B distinct rows each step).
    adam : (beta1, beta2, eps), optional
        Also Adam's regimes at each lr (:mod:`condiag.adam_regimes`): its travel limit and its eps regime.
    """
    started = time.perf_counter()
    x0 = starting_point(x0, problem.n_cols)
    if choose_method(problem, method) == "iterative":
        return _analyze_iterative(problem, lrs, steps, tol, x0, x0_source, started, dtype)
    decomposition = decompose(problem)
    spectrum = spectrum_from(problem, decomposition)
    convex, bounded, reason = no_minimum_reason(problem, decomposition)
    # the causes first: they compute the equilibrated singular values that the reference's rank and accuracy reuse
    causes = diagnose_causes(problem, decomposition, spectrum.condition_number, spectrum.hessian_condition_number)
    reference = reference_from(problem, decomposition)
    bounds = learning_rate_bounds(problem, spectrum, tol)
    start_loss = problem.value(x0)
    model = None
    if reason is None and not problem.has_rhs and not np.any(x0):
        reason = "no right-hand side b was given and x0 = 0 is already optimal (pass --rhs or --x0)"
    elif reason is None:
        model = quadratic_model(problem, decomposition, reference.x, x0, reference.loss)
    checks = tuple(check_learning_rate(float(lr), spectrum, model, steps, tol, reason, dtype) for lr in lrs)
    ridge = suggest_ridge(problem, decomposition, spectrum, reference) if convex else None
    # without b (model None) the counts are the worst case over starting points
    advice = advise(bounds.L, bounds.mu, learned_eigenvalues(problem, decomposition), model, tol) if convex and bounded else {}
    float32 = None
    if model is not None and (dtype == "float32" or causes.precision.cond_h_float32 >= 1e-3):  # where it is asked or CD105 speaks
        float32 = measure_float32(problem, advice, reference.x, x0)
    if dtype == "float32":
        bounds, checks = _in_float32(problem, spectrum, bounds, checks, float32, x0, tol)
    minibatch = None
    if batch_size is not None:
        from .minibatch import analyse_minibatch

        minibatch = analyse_minibatch(problem, decomposition, reference.x, x0, reference.loss, batch_size, replacement, lrs,
                                      steps, tol, bounds.divergence_threshold)
    regimes: tuple = ()
    if adam is not None and convex and bounded:
        from .adam_regimes import adam_regime

        regimes = tuple(adam_regime(float(lr), *adam, learned_eigenvalues(problem, decomposition), reference.x, x0) for lr in lrs)
    findings = diagnose(
        adam=regimes,
        steps=steps,
        minibatch=minibatch,
        problem=problem,
        spectrum=spectrum,
        bounds=bounds,
        advice=advice,
        float32=float32,
        checks=checks,
        reference=reference,
        causes=causes,
        ridge=ridge,
        start_loss=start_loss,
        convex=convex,
        bounded=bounded,
        x0=x0,
    )
    return Analysis(
        problem=problem,
        spectrum=spectrum,
        bounds=bounds,
        checks=checks,
        reference=reference,
        causes=causes,
        ridge_suggestion=ridge,
        findings=tuple(findings),
        steps=steps,
        tol=tol,
        x0_source=x0_source,
        start_loss=start_loss,
        convex=bool(convex),
        bounded=bool(bounded),
        floor_is_zero=floor_is_zero(problem, reference.loss, start_loss),
        seconds=time.perf_counter() - started,
        advice=advice,
        float32=float32,
        minibatch=minibatch,
        adam=regimes,
    )


def _in_float32(problem: Problem, spectrum: Spectrum, bounds: LearningRateBounds, checks, measurement, x0, tol: float):
    """The float32 view of the bounds and checks: the limit for the float32-rounded data, each stable lr
    run in float32 for its T steps, and whether float32 reaches ``tol`` at all (see :mod:`condiag.float32`)."""
    bounds = replace(bounds, float32_threshold=float32_threshold(problem, spectrum))
    reaches = None if measurement is None else measurement.gap_fraction <= tol
    updated = []
    for c in checks:
        run = float32_gd_run(problem, c.lr, c.steps, x0) if c.stable else None
        updated.append(replace(c, float32_loss=None if run is None else run.loss, float32_reaches_tol=reaches))
    return bounds, tuple(updated)


def _analyze_iterative(problem: Problem, lrs, steps: int, tol: float, x0: np.ndarray, x0_source: str, started: float,
                       dtype: str = "float64") -> Analysis:
    """The iterative path: extreme singular values only; predictions are worst-case bounds."""
    from .causes import Causes, PrecisionRisk, scaling_iterative
    from .iterative import extreme_pair, iterative_reference, spectrum_from_pair

    pair = extreme_pair(problem)
    spectrum = spectrum_from_pair(problem, pair)
    convex = spectrum.lambda_min >= -spectrum.rank_tol
    reference = iterative_reference(problem, spectrum)
    bounds = learning_rate_bounds(problem, spectrum, tol)
    reason = ("iterative spectrum: only the extreme eigenpairs are known, so the loss after T steps is not predicted; "
              "'steps to tol' is the worst case over starting points")
    checks = tuple(check_learning_rate(float(lr), spectrum, None, steps, tol, reason, dtype) for lr in lrs)
    precision = PrecisionRisk(spectrum.condition_number * FLOAT32_UNIT_ROUNDOFF, spectrum.hessian_condition_number * FLOAT32_UNIT_ROUNDOFF,
                              spectrum.condition_number * EPS64 / 2, problem.input_dtype)
    causes = Causes(scaling_iterative(problem, spectrum.condition_number, pair), None, precision, None)
    start_loss = problem.value(x0)
    extremes = np.array([bounds.L, bounds.mu if bounds.mu is not None else 0.0])
    advice = advise(bounds.L, bounds.mu, extremes, None, tol) if convex else {}
    if dtype == "float32":
        bounds, checks = _in_float32(problem, spectrum, bounds, checks, None, x0, tol)
    findings = diagnose(problem=problem, spectrum=spectrum, bounds=bounds, advice=advice, float32=None, checks=checks, reference=reference,
                        causes=causes, ridge=None, start_loss=start_loss, convex=convex, bounded=True, x0=x0)
    return Analysis(problem, spectrum, bounds, checks, reference, causes, None, tuple(findings), steps, tol, x0_source, start_loss,
                    bool(convex), True, floor_is_zero(problem, reference.loss, start_loss), time.perf_counter() - started, advice)
