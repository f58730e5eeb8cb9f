"""Versioned, strict JSON for every command (no NaN/Infinity: null plus a ``<key>_note``).

Schema history (``schema_version``):

* 1.0 — first release: analyze, compare and solve reports as documented in the README; written down as JSON
  Schemas in ``condiag/schemas/`` (``condiag schema COMMAND`` prints them).

The keys documented as a contract in the README are never renamed; new keys may be added.
Only the timing fields — the ``timing`` object and, in compare reports, each solver's
``seconds`` — differ between two runs on the same input and options.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np

from .._version import __version__
from ..float32 import FLOAT32_WORK_LIMIT

SCHEMA_VERSION = "1.0"


def _note_for(value: float) -> str:
    if math.isnan(value):
        return "not a number (undefined)"
    return "infinite" if value > 0 else "negative infinite"


def strict(value):
    """Convert numpy scalars/arrays and dataclasses to JSON types; non-finite floats to None.

    In a dict, a non-finite float ``v`` under key ``k`` becomes ``k: null`` plus
    ``k_note: "infinite"`` (or "not a number") so a reader knows why.
    """
    if is_dataclass(value) and not isinstance(value, type):
        return strict({f.name: getattr(value, f.name) for f in fields(value)})
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, (float, np.floating)) and not math.isfinite(float(item)):
                out[key] = None
                out.setdefault(f"{key}_note", _note_for(float(item)))
            else:
                out[key] = strict(item)
        return out
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def json_schema(command: str) -> str:
    """The JSON Schema of a command's report, as shipped in ``condiag/schemas/`` (one home; the tests validate
    every report they produce against it)."""
    from importlib.resources import files

    return (files("condiag") / "schemas" / f"{command}.schema.json").read_text(encoding="utf-8")


def envelope(command: str, body: dict, seconds: float | None = None) -> dict:
    """The common top of every report: schema_version, condiag_version, command; timing last."""
    out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "condiag_version": __version__, "command": command}
    out.update(body)
    out["timing"] = {"seconds": seconds}
    return strict(out)


def dumps(report: dict, ascii_only: bool = False) -> str:
    """Serialise strictly (raises on NaN/Infinity), stable key order, trailing newline.

    ``ascii_only`` escapes every non-ASCII character as \\uXXXX (for a stream that cannot
    encode UTF-8); lone surrogates (undecodable file names) are always escaped that way, so the
    text is valid UTF-8 and valid JSON whatever the names in it hold.
    """
    text = json.dumps(report, indent=2, allow_nan=False, ensure_ascii=ascii_only) + "\n"
    if not ascii_only and any("\ud800" <= ch <= "\udfff" for ch in text):
        text = json.dumps(report, indent=2, allow_nan=False, ensure_ascii=True) + "\n"
    return text


# ---------------------------------------------------------------------------- shared pieces
def problem_json(problem) -> dict:
    """The model's own ``problem`` block (:meth:`condiag.models.Model.description`)."""
    return problem.description()


def _direction(direction) -> dict | None:
    if direction is None:
        return None
    return {
        "eigenvalue": direction.eigenvalue,
        "loadings": [{"column": n, "component": v, "share": s} for n, v, s in direction.loadings],
    }


def spectrum_json(spectrum, max_values: int = 10_000) -> dict:
    values = spectrum.singular_values
    return {
        "sigma_max": spectrum.sigma_max,
        "sigma_min": spectrum.sigma_min,
        "sigma_min_nonzero": spectrum.sigma_min_nonzero,
        "condition_number": spectrum.condition_number,
        "effective_condition_number": spectrum.effective_condition_number,
        "hessian_condition_number": spectrum.hessian_condition_number,
        "effective_hessian_condition_number": spectrum.effective_hessian_condition_number,
        "rank": spectrum.rank,
        "rank_tol": spectrum.rank_tol,
        "null_dim": spectrum.null_dim,
        "lambda_max": spectrum.lambda_max,
        "lambda_min": spectrum.lambda_min,
        "lambda_min_nonzero": spectrum.lambda_min_nonzero,
        "steepest_direction": _direction(spectrum.steepest),
        "flattest_direction": _direction(spectrum.flattest),
        "slowest_learned_direction": _direction(spectrum.slowest_learned),
        "singular_values": values[:max_values],
        "singular_values_truncated": bool(values.size > max_values),
        "method": spectrum.method,
        "exact": spectrum.exact,
    }


def reference_json(reference) -> dict:
    return {
        "x": reference.x,
        "loss": reference.loss,
        "residual_norm": reference.residual_norm,
        "method": reference.method,
        "minimum_norm": reference.minimum_norm,
        "accuracy": reference.accuracy,
    }


def findings_json(findings) -> list:
    return [
        {
            "code": f.code,
            "severity": f.severity,
            "title": f.title,
            "detail": f.detail,
            "remedies": [{"title": r.title, "detail": r.detail, "snippet": r.snippet} for r in f.remedies],
            "data": f.data,
        }
        for f in findings
    ]


def advice_json(advised) -> dict:
    body: dict[str, Any] = {"lr": advised.lr, "momentum": advised.beta, "rate": advised.rate, "rate_gap": advised.rate_gap,
            "rate_float32": advised.rate_float32,
            "steps_to_tol": advised.steps_to_tol, "steps_at_optimum": advised.steps_at_optimum, "from_x0": advised.closed_form,
            "peak_ratio": advised.peak_ratio, "peak_step": advised.peak_step}
    if advised.rate_float32 is None:
        body["rate_float32_note"] = "the lr is outside float32's range"
    if advised.steps_to_tol is None:
        body["steps_to_tol_note"] = "more than 10^15 steps"
    if advised.steps_at_optimum is None:
        body["steps_at_optimum_note"] = "never: in float64 the unrounded optimum sits on the edge of stability itself"
    return body


# ---------------------------------------------------------------------------- analyze
def analysis_json(analysis) -> dict:
    bounds = analysis.bounds
    body: dict[str, Any] = {
        "problem": problem_json(analysis.problem),
        "spectrum": spectrum_json(analysis.spectrum),
        "learning_rate": {
            "max_stable": bounds.divergence_threshold,
            "max_stable_note": "gradient descent diverges for any lr above this (2/L); it converges for every lr below",
            "max_stable_float32": bounds.float32_threshold,
            "optimal": bounds.optimal,
            "optimal_rate": bounds.optimal_rate,
            "iterations_to_tol": bounds.iterations_to_tol,
            "tol": bounds.tol,
            "L": bounds.L,
            "mu": bounds.mu,
            "mu_restricted_to_row_space": bounds.mu_is_restricted,
            "heavy_ball": bounds.heavy_ball,
            "nesterov": bounds.nesterov,
            "by_convention": [
                {"loss": c.loss, "max_stable": c.threshold, "used_by": c.used_by, "current": c.current} for c in bounds.by_convention
            ],
        },
        "advice": {name: advice_json(a) for name, a in (analysis.advice or {}).items()},
        "advice_note": ("parameters to paste: 10% from the edge of stability, lr rounded down to 4 digits, 1 - momentum rounded up; "
                        "checked to converge (spectral radius < 1 in float64 and float32). steps_to_tol: first T with "
                        "f(x_T) - f* <= tol (f(x0) - f*); steps_at_optimum: the same at the unrounded optimum; peak_ratio: the largest "
                        "(f(x_k) - f*) / (f(x0) - f*) on the way, at peak_step (momentum's transient rise; sampled)"),
        "lr_checks": [
            {
                "lr": c.lr,
                "stable": c.stable,
                "steps": c.steps,
                "predicted_loss": c.predicted_loss,
                "predicted_loss_log10": c.predicted_loss_log10,
                "predicted_gap": c.predicted_gap,
                "start_loss": c.start_loss,
                "steps_to_tol": c.steps_to_tol,
                "ratio_to_threshold": c.ratio_to_threshold,
                "contraction_steepest": c.contraction_steepest,
                "contraction_flattest": c.contraction_flattest,
                "oscillating": c.oscillating,
                "growth_factor": c.growth_factor,
                "overflow_step": c.overflow_step,
                "overflow_level": c.overflow_level,
                "dtype": c.dtype,
                "float32_loss": c.float32_loss,
                "float32_reaches_tol": c.float32_reaches_tol,
                "reason": c.reason,
            }
            for c in analysis.checks
        ],
        "loss_floor": analysis.reference.loss if analysis.convex and analysis.bounded else None,
        "start_loss": analysis.start_loss,
        "x0": analysis.x0_source,
        "reference": reference_json(analysis.reference),
        "causes": causes_json(analysis.causes),
        "ridge_suggestion": analysis.ridge_suggestion,
        "findings": findings_json(analysis.findings),
        "minibatch": minibatch_json(analysis.minibatch, analysis.reference.loss, analysis.steps),
        "adam": [{"lr": r.lr, "beta1": r.beta1, "beta2": r.beta2, "eps": r.eps, "step_bound": r.step_bound, "distance": r.distance,
                  "min_steps": r.min_steps, "eps_critical": r.eps_critical, "trapped": r.trapped, "late_lr": r.late_lr,
                  "late_rate": r.late_rate, "late_steps_per_decade": r.late_steps_per_decade,
                  **({"late_rate_note": "the eps regime is unstable (trapped)",
                      "late_steps_per_decade_note": "the eps regime is unstable (trapped)"} if r.late_rate is None else {})}
                 for r in analysis.adam],
    }
    if body["loss_floor"] is None:
        body["loss_floor_note"] = "f is unbounded below"
    if bounds.float32_threshold is None:
        body["learning_rate"]["max_stable_float32_note"] = "only with --dtype float32 (and L > 0)"
    for entry in body["lr_checks"]:
        if entry["float32_loss"] is None:
            entry["float32_loss_note"] = (f"only with --dtype float32, for a stable lr, when steps·n·d is at most "
                                          f"{FLOAT32_WORK_LIMIT:.0e} and the data is not a streamed reduction")
        if entry["float32_reaches_tol"] is None:
            entry["float32_reaches_tol_note"] = "only with --dtype float32 when a float32 run of the advice was affordable"
    return envelope("analyze", body, analysis.seconds)


def _sgd_prediction_json(p, floor: float, steps: int, exact: bool = True, limit: int = 0) -> dict:
    gap = p.gap_at.get(steps)
    body: dict[str, Any] = {"lr": p.lr, "stable": p.stable, "spectral_radius": p.spectral_radius, "floor_gap": p.floor_gap,
            "floor_loss": None if p.floor_gap is None else floor + p.floor_gap, "steps": steps, "expected_gap": gap,
            "expected_loss": None if gap is None else floor + gap, "steps_to_floor": p.steps_to_floor,
            "steps_to_tol": p.steps_to_target}
    matrix_free = f"not computed: more than {limit} directions (matrix-free: stability and the noise floor only)"
    if p.floor_gap is None:
        body["floor_gap_note"] = body["floor_loss_note"] = ("no floor: the lr is above the mean-square threshold" if not p.stable
                                                            else "the matrix-free solve did not converge")
    if not math.isfinite(p.spectral_radius):
        body["spectral_radius_note"] = matrix_free
    if p.steps_to_floor is None:
        body["steps_to_floor_note"] = (matrix_free if not exact else "no floor above f* (or more than 10^15 steps)" if p.stable
                                       else "never: diverges")
    if gap is None:
        body["expected_gap_note"] = body["expected_loss_note"] = matrix_free if not exact else "not computed"
    if p.steps_to_target is None:
        body["steps_to_tol_note"] = (matrix_free if not exact else "never: diverges, or the noise floor is above tol" if p.stable
                                     else "never: diverges")
    return body


def minibatch_json(m, floor: float, steps: int) -> dict | None:
    if m is None:
        return None
    checked = m.lr_for_tol_prediction
    body: dict[str, Any] = {"batch_size": m.batch_size, "sampling": "with-replacement" if m.replacement else "without-replacement",
            "alpha": m.alpha, "mean_square_threshold": m.threshold, "full_batch_threshold": m.full_batch_threshold,
            "exact": m.exact, "directions": m.directions, "target_gap": m.target_gap,
            "lrs": [_sgd_prediction_json(p, floor, steps, m.exact, m.exact_limit) for p in m.predictions],
            "lr_for_tol": m.lr_for_tol, "lr_for_tol_steps": None if checked is None else checked.steps_to_target,
            "lr_for_tol_floor_gap": None if checked is None else checked.floor_gap}
    if checked is None:
        why = (f"only with at most {m.exact_limit} learned directions (the threshold and floors are computed matrix-free above that)"
               if not m.exact
               else "no lr's floor is below tol, or f(x0) = f*")
        body["lr_for_tol_note"] = body["lr_for_tol_floor_gap_note"] = why
    if checked is not None and checked.steps_to_target is None:
        body["lr_for_tol_steps_note"] = "more than 10^15 steps"
    elif checked is None:
        body["lr_for_tol_steps_note"] = why
    return body


def causes_json(causes) -> dict:
    collinearity = None
    if causes.collinearity is not None:
        collinearity = {
            "condition_indices": causes.collinearity.condition_indices,
            "sets": [
                {"condition_index": s.condition_index, "columns": [{"column": n, "proportion": p} for n, p in s.columns]}
                for s in causes.collinearity.sets
            ],
        }
    return {
        "scaling": causes.scaling,
        "collinearity": collinearity,
        "precision": causes.precision,
        "intercept_column": causes.intercept_column,
    }


# ---------------------------------------------------------------------------- compare
def comparison_json(comparison) -> dict:
    settings = comparison.settings
    solvers = []
    for result, metric in zip(comparison.results, comparison.metrics):
        solvers.append(
            {
                "name": result.solver,
                "setting": result.setting or None,
                "status": result.status,
                "message": result.message,
                "iterations": result.iterations,
                "f_evals": result.f_evals,
                "diverged_at": result.diverged_at,
                "final_loss": result.final_loss,
                "loss_gap": metric.loss_gap,
                "x_rel_error": metric.x_rel_error,
                "row_space_rel_error": metric.row_space_rel_error,
                "product_rel_error": metric.product_rel_error,
                "null_space_rel_error": metric.null_space_rel_error,
                "seconds": result.seconds,
                "exact": result.exact,
                "dtype": result.dtype,
                "params": result.params,
                "x": result.x,
                "verdict": metric.verdict,
                "extra": result.extra,
                "history": {"iterations": result.history.iterations, "loss": result.history.loss},
            }
        )
    body: dict[str, Any] = {
        "problem": problem_json(comparison.problem),
        "spectrum": spectrum_json(comparison.spectrum, max_values=1000) if comparison.spectrum is not None else None,
        "reference": reference_json(comparison.reference),
        "settings": {
            "max_iter": settings.max_iter,
            "tol": settings.tol,
            "time_limit": settings.time_limit,
            "dtype": settings.dtype,
            "simulate": settings.simulate,
            "lr": settings.lr,
            "params": settings.params,
            "x0": comparison.x0,
        },
        "solvers": solvers,
        "interrupted": comparison.interrupted,
        "best": dict(comparison.best or {}),
        "held_out": held_out_json(comparison.held_out),
        "libraries": [{"name": e.name, "convention": e.convention, "x": e.x, "rank": e.rank, "train_loss": e.train_loss,
                       "x_rel_error": e.x_rel_error} for e in comparison.libraries],
        "no_minimum": comparison.no_minimum,
    }
    return envelope("compare", body, comparison.seconds)


# ---------------------------------------------------------------------------- solve
def _point_json(p) -> dict | None:
    if p is None:
        return None
    return {"parameter": p.parameter, "gcv": p.gcv, "test_loss": p.test_loss, "test_mae": p.test_mae}


def _score_json(score) -> dict | None:
    if score is None:
        return None
    return {"label": score.label, "test_loss": score.test_loss, "test_mae": score.test_mae, "train_loss": score.train_loss,
            "x_norm": score.x_norm}


def held_out_json(h) -> dict | None:
    if h is None:
        return None
    return {"source": h.source, "n_test": h.n_test, "reference": _score_json(h.reference),
            "solvers": [_score_json(s) for s in h.solvers], "libraries": [_score_json(s) for s in h.libraries],
            "paths": [{"kind": p.kind, "by_gcv": _point_json(p.by_gcv), "by_test": _point_json(p.by_test),
                       "points": [_point_json(q) for q in p.points]} for p in h.paths]}


def solution_json(problem, reference, seconds: float | None = None) -> dict:
    body: dict[str, Any] = {
        "problem": problem_json(problem),
        "x": reference.x,
        "columns": list(problem.column_names),
        "loss": reference.loss,
        "residual_norm": reference.residual_norm,
        "method": reference.method,
        "minimum_norm": reference.minimum_norm,
        "accuracy": reference.accuracy,
    }
    return envelope("solve", body, seconds)


def two_layer_json(analysis) -> dict:
    best = analysis.optimum
    body: dict[str, Any] = {
        "problem": problem_json(analysis.problem),
        "spectrum": {
            "singular_values": analysis.singular_values,
            "sigma_max": analysis.singular_values[0],
            "sigma_min": analysis.singular_values[-1],
            "condition_number": analysis.condition_number,
            "kept_singular_values": best.singular_values,
        },
        "curvature": {
            "lambda_max_init": analysis.lambda_init,
            "lambda_max_init_measured": analysis.lambda_init_measured,
            "lambda_max_init_formula": "2c [sigma_1(R0) + sigma_1(W1)^2 lambda_max(C) + sigma_1(W2 L)^2]",
            "lambda_max_minimum": analysis.lambda_minimum,
            "lambda_max_minimum_measured": analysis.lambda_minimum_measured,
            "lambda_max_minimum_formula": "4c sigma_1(M*) v_1^T C v_1",
            "component_rates": analysis.component_rates,
        },
        "learning_rate": {
            "max_stable": analysis.max_stable,
            "max_stable_note": ("2/λmax of the Hessian at the balanced minimum (measured): above it gradient descent cannot "
                                "settle at any minimum (the balanced one is the flattest); below it a run may still fail from "
                                "its start (max_stable_init)"),
            "max_stable_init": analysis.threshold_init if math.isfinite(analysis.threshold_init) else None,
            "max_stable_minimum": analysis.threshold_minimum if math.isfinite(analysis.threshold_minimum) else None,
            "recommended": analysis.recommended_lr,
            "steps_at_recommended": analysis.steps_at_recommended,
            "steps_simulated": analysis.steps_simulated,
            "adam_lr": analysis.adam_lr,
            "adam_steps": analysis.adam_steps,
            "slowdown_sigma1_over_sigmaK": analysis.slowdown,
            "tol": analysis.tol,
        },
        "lr_checks": [
            {"lr": c.lr, "stable_init": c.stable_at_init, "stable_minimum": c.stable_at_minimum, "stable": c.stable_at_init and c.stable_at_minimum,
             "adam_min_steps": c.adam_min_steps}
            for c in analysis.checks
        ],
        "loss_floor": best.loss,
        "start_loss": analysis.start_loss,
        "adam_distance": analysis.distance,
        "findings": findings_json(analysis.findings),
    }
    return envelope("analyze", body, analysis.seconds)


# ---------------------------------------------------------------------------- trace
def _rate_json(rate) -> dict | None:
    if rate is None:
        return None
    return {"factor": rate.factor, "low": rate.low, "high": rate.high, "first_step": rate.first_step,
            "last_step": rate.last_step, "points": rate.points, "scatter": rate.scatter}


def _fit_json(fit, visited) -> dict | None:
    if fit is None:
        return None
    by_factor = {v.factor: v for v in visited}
    total = sum(c.amplitude for c in fit.components) or 1.0
    components = []
    for c in fit.components:
        v = by_factor.get(c.factor)
        components.append({
            "factor": c.factor, "factor_se": c.factor_se, "amplitude": c.amplitude, "share": c.amplitude / total,
            "lr_lambda_flat": v.lr_lambda_flat if v else None, "lr_lambda_steep": v.lr_lambda_steep if v else None,
            "lr_lambda_se": v.lr_lambda_se if v else None, "lambda_flat": v.lambda_flat if v else None,
            "lambda_steep": v.lambda_steep if v else None, "lambda_se": v.lambda_se if v else None,
        })
    return {"components": components, "floor": fit.floor, "floor_se": fit.floor_se, "first_step": fit.first_step,
            "last_step": fit.last_step, "points": fit.points, "residual": fit.residual}


def _comparison_json(c) -> dict | None:
    if c is None:
        return None
    return {"problem": c.problem_source, "loss": c.loss, "lr": c.lr, "x0": c.x0_source, "floor": c.floor, "floor_is_zero": c.floor_is_zero,
            "start_loss": c.start_loss, "cause": c.cause, "agreement": c.stated.agreement, "departs_at": c.stated.departs_at,
            "best": c.best.name,
            "candidates": [{"name": k.name, "description": k.description, "agreement": k.agreement, "departs_at": k.departs_at}
                           for k in c.candidates]}


def trace_run_json(run, comparison) -> dict:
    """One run of a trace report (hand-written: the keys are the contract, not the dataclass fields)."""
    d = run.divergence
    o = run.oscillation
    low, high = run.steps_to_tol_range if run.steps_to_tol_range is not None else (None, None)
    if low is not None and high is not None:
        low, high = sorted((low, high))
    return {
        "label": run.log.label, "records": run.log.n_records, "verdict": run.verdict.value, "summary": run.summary,
        "lr": run.lr, "lr_source": run.lr_source,
        "analysed": None if run.analysed_from is None else {"from_step": run.analysed_from, "to_step": run.analysed_to},
        "first_loss": run.first_loss, "last_loss": run.last_loss,
        "nonfinite": None if run.nonfinite_step is None else {"step": run.nonfinite_step, "value": run.nonfinite_value,
                                                              "count": run.nonfinite_count, "persistent": run.nonfinite_persistent},
        "power_law": None if run.power is None else {"amplitude": run.power.amplitude, "exponent": run.power.exponent,
                                                     "exponent_se": run.power.exponent_se, "offset": run.power.offset,
                                                     "first_step": run.power.first_step, "residual": run.power.residual},
        "fit": _fit_json(run.fit, run.visited), "tail_rate": _rate_json(run.tail),
        "divergence": None if d is None else {"start_step": d.start_step, "growth_factor": d.growth.factor, "growth_low": d.growth.low,
                                              "growth_high": d.growth.high, "curvature": d.curvature, "max_stable_lr": d.max_stable_lr},
        "oscillation": None if o is None else {"share": o.share, "first_step": o.first_step, "last_step": o.last_step,
                                               "amplitude": o.amplitude},
        "level": run.level, "scatter": run.scatter, "tol": run.tol,
        "steps_to_tol": run.steps_to_tol, "steps_to_tol_low": low, "steps_to_tol_high": high,
        "reached_tol_step": run.reached_tol_step, "condition_bound": run.condition_bound,
        "spikes": [{"step": s.step, "ratio": s.ratio, "recovery_steps": s.recovery_steps} for s in run.spikes],
        "phases": [{"first_step": p.first_step, "last_step": p.last_step, "kind": p.kind, "lr_first": p.lr_first,
                    "lr_last": p.lr_last, "factor": p.rate.factor if p.rate else None} for p in run.phases],
        "sharpness": None if run.sharpness is None else {
            "last_step": run.sharpness.last_step, "last": run.sharpness.last, "max_step": run.sharpness.max_step,
            "max": run.sharpness.max, "edge_ratio_last": run.sharpness.edge_ratio_last,
            "edge_ratio_max": run.sharpness.edge_ratio_max, "first_step_beyond_edge": run.sharpness.first_step_beyond_edge},
        "comparison": _comparison_json(comparison),
        "findings": findings_json(run.findings),
        "notes": list(run.notes),
    }


def trace_json(report) -> dict:
    s = report.scaling
    body: dict[str, Any] = {
        "settings": {"tol": report.tol},
        "runs": [trace_run_json(run, c) for run, c in zip(report.runs, report.comparisons)],
        "plateau_scaling": None if s is None else {"lrs": list(s.lrs), "levels": list(s.levels), "exponent": s.exponent,
                                                   "intercept": s.intercept, "slope": s.slope},
    }
    return envelope("trace", body, report.seconds)


# ---------------------------------------------------------------------------- logistic regression
def _curvature_json(c) -> dict | None:
    if c is None:
        return None
    return {"lambda_max": c.lambda_max, "lambda_min": c.lambda_min, "condition_number": c.condition_number}


def logistic_json(a) -> dict:
    """``analyze --objective logistic``: the model-specific block ``logistic``, the reference, checks and findings."""
    m, r = a.model, a.reference
    body: dict[str, Any] = {
        "problem": {"source": m.source, "n_rows": int(m.A.shape[0]), "n_cols": int(m.A.shape[1]), "objective": "logistic",
                    "loss": "sum" if m.scale == 1.0 else "mean", "ridge": m.ridge, "column_names": list(m.column_names)},
        "learning_rate": {"max_stable": a.safe_lr, "max_stable_note": "2/L with L = c·λmax(AᵀA)/4 + 2λ: safe from any start",
                          "local_max_stable": a.local_lr, "L": a.global_L},
        "logistic": {"separable": a.separable, "separation_margin": a.margin, "at_start": _curvature_json(a.at_start),
                     "at_optimum": _curvature_json(a.at_optimum), "local_rate": a.local_rate, "local_steps_to_tol": a.local_steps,
                     "tol": a.tol},
        "reference": {"x": r.x, "loss": r.loss, "method": "damped Newton", "converged": r.converged, "message": r.message,
                      "newton_steps": r.newton_steps,
                      "accuracy": {"forward_error_bound": r.error_bound, "correct_digits": r.correct_digits}},
        "lr_checks": [{"lr": lr, "verdict": verdict} for lr, verdict in a.lr_checks],
        "causes": None if a.causes is None else causes_json(a.causes),
        "findings": findings_json(a.findings),
    }
    if a.local_lr is None:
        body["learning_rate"]["local_max_stable_note"] = "no finite minimiser" if a.separable else "no x*"
    if r.x is None:
        body["reference"]["x_note"] = body["reference"]["loss_note"] = r.message
    return envelope("analyze", body, a.seconds)


def logistic_solution_json(problem, reference) -> dict:
    """``solve --objective logistic``: the fields of ``solve --json``, the accuracy from damped Newton."""
    body: dict[str, Any] = {
        "problem": {**problem_json(problem), "objective": "logistic"},
        "x": reference.x, "columns": list(problem.column_names), "loss": reference.loss, "residual_norm": None,
        "residual_norm_note": "logistic regression has no residual", "method": "damped Newton (" + reference.message + ")",
        "minimum_norm": False,
        "accuracy": {"backward_error": None, "backward_error_note": "not defined for Newton's method here",
                     "forward_error_bound": reference.error_bound, "correct_digits": reference.correct_digits,
                     "norm": "2-norm of x", "refinement_steps": reference.newton_steps},
    }
    return envelope("solve", body)


# ---------------------------------------------------------------------------- condiag check
def check_checks_json(checks) -> list:
    return [{"threshold": c.threshold, "passed": c.passed, "message": c.message} for c in checks]


def check_json(outcomes, config_path: str | None, seconds: float | None = None) -> dict:
    """``condiag check``: one entry per file (its command's own report inside), and the tally."""
    from ..check import tally

    body: dict[str, Any] = {
        "config": config_path,
        "files": [{"path": o.path, "command": o.command, "entry": o.entry, "status": o.status, "exit_code": int(o.exit_code),
                   "reasons": list(o.reasons), "checks": check_checks_json(o.checks), "error": o.error, "report": o.report}
                  for o in outcomes],
        "summary": tally(outcomes),
    }
    return envelope("check", body, seconds)


# ---------------------------------------------------------------------------- analyze --function
def _ending_json(e, limit) -> dict:
    lam = e.eigenvalues
    out = {"kind": e.kind, "step": e.step, "x": e.x, "value": e.value, "gradient_norm": e.gradient_norm,
           "lambda_min": None if lam is None else float(lam[0]), "lambda_max": None if lam is None else float(lam[-1]),
           "local_max_stable": limit, "period": e.period, "cycle": [list(map(float, p)) for p in e.cycle]}
    if lam is None:
        out["lambda_min_note"] = out["lambda_max_note"] = "the run diverged"
    if limit is None:
        out["local_max_stable_note"] = "no positive curvature at this point"
    return out


def function_json(a) -> dict:
    """``analyze --function``: the function, its derivatives, each run (gradient descent, Newton) and where it ended."""
    from ..smooth.report import local_limit

    basin = a.basin.ending if a.basin is not None else None
    body: dict[str, Any] = {
        "problem": _function_problem_json(a.function, a.source),
        "function": {"x0": a.x0, "x0_source": a.x0_source, "start_value": a.start_value, "steps": a.steps, "tol": a.tol,
                     "start_lambda_min": float(a.start_curvature[0]), "start_lambda_max": float(a.start_curvature[-1]),
                     "basin": None if basin is None else {"x": basin.x, "value": basin.value, "kind": basin.kind,
                                                          "flow_time": a.basin.time}},
        "runs": [{"method": p.method, "step_size": p.step_size, "steps": p.steps_asked, "x_final": p.x_final,
                  "value_final": p.value_final, "converged_step": p.converged_step,
                  "ending": _ending_json(p.ending, local_limit(p.ending.eigenvalues)),
                  "curvature_max_along_path": float(np.max(p.curvature_max)) if p.curvature_max.size else None,
                  "uphill_steps": p.uphill_steps, "singular_at": p.singular_at,
                  "first_uphill": None if p.first_uphill is None else {"step": p.first_uphill[0], "x": p.first_uphill[1],
                                                                        "lambda_min": p.first_uphill[2]}}
                 for p in a.paths],
        "findings": findings_json(a.findings),
    }
    if basin is None:
        body["function"]["basin_note"] = ("the gradient flow from x0 did not settle at a critical point within its budget "
                                          "(f unbounded below along it, or a degenerate minimum it crawls into)")
    for run in body["runs"]:
        if run["curvature_max_along_path"] is None:
            run["curvature_max_along_path_note"] = "not sampled (more than 50 variables)"
    return envelope("analyze", body, a.seconds)


def _function_problem_json(function, source: str) -> dict:
    d = function.derivatives
    return {"source": source, "objective": function.objective, "n_cols": function.n, "backend": d.backend,
            "gradient_method": d.gradient_method, "hessian_method": d.hessian_method, "derivative_note": d.note,
            "evaluations": function.evaluations}


def function_comparison_json(c) -> dict:
    """``compare --function``: each solver's run from x0 against the best local minimum found."""
    from ..smooth.report import local_limit

    best = c.best
    body: dict[str, Any] = {
        "problem": _function_problem_json(c.function, c.source),
        "settings": {"x0": c.x0, "x0_source": c.x0_source, "tol": c.tol, "max_iter": c.max_iter, "start_value": c.start_value},
        "best": None if best is None else {"x": best.x, "value": best.value, "found_by": c.best_by,
                                           "note": c.best_note},
        "solvers": [{"name": p.method, "label": p.label, "step_size": p.step_size, "step_size_source": source,
                     "status": v.status, "iterations": p.ending.step, "x": p.x_final, "value": p.value_final,
                     "gap_to_best": v.gap, "distance_to_best": v.distance, "converged_step": p.converged_step,
                     "ending": _ending_json(p.ending, local_limit(p.ending.eigenvalues)), "uphill_steps": p.uphill_steps}
                    for p, v, source in zip(c.runs, c.verdicts, c.lr_sources)],
    }
    if best is None:
        body["best_note"] = c.best_note
    for s in body["solvers"]:
        for key in ("gap_to_best", "distance_to_best"):
            if s[key] is None:
                s[f"{key}_note"] = "no local minimum was found" if best is None else "the run diverged"
    return envelope("compare", body, c.seconds)


# ---------------------------------------------------------------------------- condiag model
def _ritz_json(ritz, top: int | None = None) -> dict | None:
    if ritz is None:
        return None
    count_top = ritz.values.size if top is None else min(top, ritz.values.size)
    return {"lambda_max": ritz.largest, "lambda_max_residual": float(ritz.residuals[-1]),
            "lambda_min": ritz.smallest, "lambda_min_residual": float(ritz.residuals[0]),
            "top": [{"value": float(v), "residual": float(r)} for v, r in zip(ritz.values[::-1][:count_top], ritz.residuals[::-1][:count_top])],
            "iterations": ritz.iterations}


def model_json(a) -> dict:
    """``condiag model``: the loss's curvature (Lanczos with residual bounds), trace, blocks, each lr against the edge."""
    body: dict[str, Any] = {
        "model": {"source": a.source, "weights": a.weights, "data": a.data, "n_samples": a.n_samples, "batch_size": a.batch_size,
                  "n_parameters": a.n_parameters, "dtype": a.dtype, "loss": a.loss_name, "reduction": a.reduction,
                  "optimizer": a.optimizer, "seed": a.seed},
        "loss_value": a.loss, "gradient_norm": a.gradient_norm,
        "hessian": _ritz_json(a.spectrum, a.top),
        "trace": None if a.trace is None else {"estimate": a.trace.mean, "standard_error": a.trace.standard_error,
                                               "probes": a.trace.probes},
        "blocks": [{"name": b.name, "parameters": b.stop - b.start, "lambda_max": b.ritz.largest,
                    "lambda_max_residual": float(b.ritz.residuals[-1])} for b in a.blocks],
        "preconditioned": None if a.preconditioned is None else {**(_ritz_json(a.preconditioned, 1) or {}), "beta1": a.betas[0]},
        "lr_checks": [{"lr": c.lr, "sharpness_ratio": c.ratio, "sharpness_ratio_high": c.ratio_high,
                       "preconditioned_ratio": c.preconditioned_ratio} for c in a.checks],
        "advised_lr": a.advised_lr, "hessian_vector_products": a.products,
        "findings": findings_json(a.findings),
    }
    if a.trace is None:
        body["trace_note"] = "--trace-probes 0"
    if a.preconditioned is None:
        body["preconditioned_note"] = "only with --optimizer adam --optimizer-state"
    if a.advised_lr is None:
        body["advised_lr_note"] = "no positive curvature"
    for c in body["lr_checks"]:
        if c["preconditioned_ratio"] is None:
            c["preconditioned_ratio_note"] = "only with --optimizer adam --optimizer-state"
    return envelope("model", body, a.seconds)
