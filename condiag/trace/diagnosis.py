"""What a loss log says on its own: a verdict per run, with the numbers and the evidence.

The rules (thresholds named below, one home):

* **not finite**: the first NaN/Inf record is reported; the records before it are analysed.
* **diverging**: the loss grows geometrically at the end (the 95% interval of the tail's per-step factor
  lies above 1, and the loss ended at least :data:`DIVERGED_RISE` times above its minimum, or became
  NaN/Inf after growing). Given the lr, gradient descent's growing direction has |1 - lr λ| = √g, so its
  curvature is λ = (1 + √g)/lr and no lr above 2/λ is stable (λ is a lower bound on λmax: steeper
  directions may exist where the run did not go).
* **oscillating**: the differences alternate in sign (period 2) over the last stretch logged every step.
  Gradient descent's loss on a quadratic is a sum of positive monotone terms and never does this: the
  sharpness is at the edge of stability, λmax ≈ 2/lr (Cohen et al., ICLR 2021), or momentum is at work.
* **levelled off**: at the end, the fitted curve is within :data:`LEVEL_SHARE` of its part that does not
  decay (its floor, and terms whose factor is 1 within its 95% interval): a **noisy plateau** when the
  records scatter around it by more than :data:`NOISY_SCATTER` (relative), **stalled** when they do not and
  the curve has not reached ``tol``.
* **converged**: the gap to the floor fell by ``tol`` of its start; **converging** when the fitted curve
  gets there within :data:`CRAWL_FACTOR` times the steps logged so far, **crawling** when it needs more.
  At a known lr, the slowest factor r gives the flattest visited curvature: lr·λ = 1 - √r (or 1 + √r:
  a direction at the edge of stability; the loss alone cannot tell them apart).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from ..findings import Finding, Remedy
from ..numbers import count, sig, sig_below
from .fit import (
    ALTERNATION_SHARE,
    SPIKE_MAX_WIDTH,
    Alternation,
    ExponentialFit,
    PowerFit,
    RateFit,
    Spike,
    alternation,
    exponential_fit,
    find_spikes,
    power_fit,
    rate_fit,
    robust_scatter,
)
from .logs import LossLog

DIVERGED_RISE = 2.0
"""A growing tail counts as divergence once the loss is this many times above its minimum."""
LEVEL_SHARE = 0.01
"""The loss has levelled off when the fitted curve is within this share of its floor at the end."""
NOISY_SCATTER = 1e-3
"""Records scattering by more than this (robust relative standard deviation) are noisy."""
CRAWL_FACTOR = 10.0
"""Converging, but needing more than this many times the steps logged so far, is crawling."""
MIN_SWING = 1e-6
"""A period-2 swing smaller than this share of the loss a step is rounding, not oscillation."""
MIN_RECORDS = 5
"""Fewer finite records than this are too short to fit."""
LR_CHANGE = 1e-6
"""A relative change of the logged lr larger than this starts a new phase."""
DECISIVE_BIC = 10.0
"""A power law replaces the geometric fit when its information criterion is lower by this much (Kass & Raftery,
JASA 90(430), 1995: a difference above 10 is very strong evidence)."""
JUMP_RATIO = 10.0
"""A rise by this factor that does not come back (not a spike) starts a new phase (a restart)."""


class Verdict(str, Enum):
    """What the run is doing at the end of its log."""

    DIVERGING = "diverging"
    OSCILLATING = "oscillating"
    CONVERGED = "converged"
    CONVERGING = "converging"
    CRAWLING = "crawling"
    SUBLINEAR = "sublinear"
    STALLED = "stalled"
    PLATEAU = "plateau"
    NOT_FINITE = "not-finite"
    TOO_SHORT = "too-short"


FAIL_ON_CHOICES = ("diverging", "oscillating", "crawling", "sublinear", "stalled", "plateau", "not-finite", "spikes")
"""What ``--fail-on`` may name: the verdicts a CI job fails on, and ``spikes``."""


@dataclass(frozen=True)
class Phase:
    """A stretch of the run with one behaviour of the schedule."""

    first_step: float
    last_step: float
    kind: str
    """'whole run', 'constant lr', 'warm-up', 'decay', 'schedule' or 'after a jump'."""
    lr_first: float | None
    lr_last: float | None
    rate: RateFit | None
    """The per-step factor of the loss over the phase."""


@dataclass(frozen=True)
class Divergence:
    start_step: float
    """The step of the loss's minimum before it grew."""
    growth: RateFit
    """The per-step growth factor g of the loss after it."""
    curvature: float | None
    """λ = (1 + √g)/lr, given the lr."""
    max_stable_lr: float | None
    """2/λ: no lr above it is stable in the growing direction."""


@dataclass(frozen=True)
class SharpnessTrack:
    """The logged sharpness λmax against the edge of stability 2/lr."""

    last_step: float
    last: float
    max_step: float
    max: float
    edge_ratio_last: float | None
    """λmax·lr/2 at the last logged value: gradient descent is stable near a minimum below 1."""
    edge_ratio_max: float | None
    first_step_beyond_edge: float | None
    """The first step whose sharpness is at least 2/lr."""


def sharpness_track(log: LossLog, lr: float | None) -> SharpnessTrack | None:
    if log.sharpness is None:
        return None
    known = np.flatnonzero(np.isfinite(log.sharpness))
    if not known.size:
        return None
    values, steps = log.sharpness[known], log.steps[known]
    top = int(np.argmax(values))
    beyond = np.flatnonzero(values * lr / 2 >= 1) if lr is not None else np.array([], dtype=int)
    return SharpnessTrack(float(steps[-1]), float(values[-1]), float(steps[top]), float(values[top]),
                          None if lr is None else float(values[-1] * lr / 2), None if lr is None else float(values[top] * lr / 2),
                          float(steps[beyond[0]]) if beyond.size else None)


@dataclass(frozen=True)
class VisitedCurvature:
    """One factor of the fitted curve read as a direction of gradient descent at the lr."""

    factor: float
    factor_se: float
    share: float
    """Its share of the fitted gap at the first fitted step."""
    lr_lambda_flat: float
    """lr·λ = 1 - √r (a direction below the optimal lr)..."""
    lr_lambda_steep: float
    """... or 1 + √r (a direction beyond it, oscillating in x); the loss cannot tell them apart."""
    lr_lambda_se: float
    lambda_flat: float | None
    lambda_steep: float | None
    lambda_se: float | None


@dataclass(frozen=True)
class RunDiagnosis:
    """Everything condiag reads from one run's log."""

    log: LossLog
    verdict: Verdict
    summary: str
    lr: float | None
    lr_source: str | None
    analysed_from: float | None
    analysed_to: float | None
    first_loss: float | None
    last_loss: float | None
    nonfinite_step: float | None
    nonfinite_value: str | None
    fit: ExponentialFit | None
    tail: RateFit | None
    divergence: Divergence | None
    oscillation: Alternation | None
    level: float | None
    """The floor the fitted curve tends to (plateau or stall level)."""
    scatter: float | None
    """Robust relative scatter of the records around the fitted curve over the last quarter."""
    spikes: tuple[Spike, ...]
    phases: tuple[Phase, ...]
    tol: float
    steps_to_tol: float | None
    """Steps after the last record until the gap to the floor is tol of its start (fitted curve); 0 once done."""
    steps_to_tol_range: tuple[float | None, float | None] | None
    """Its range over the 95% interval of the slowest factor."""
    reached_tol_step: float | None
    visited: tuple[VisitedCurvature, ...]
    condition_bound: float | None
    """κ < 2/(1 - √r_slowest) for a stable run whose slowest direction is a flat one."""
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    sharpness: SharpnessTrack | None = None
    power: PowerFit | None = None
    """The power law f ≈ c (t + τ)^-p, when it describes the log decisively better than geometric terms."""
    nonfinite_count: int = 0
    nonfinite_persistent: bool = True
    """The loss stayed NaN/Inf from its first such record on (else those records were isolated and skipped)."""


# ---------------------------------------------------------------------------- phases
def phases_of(steps: np.ndarray, loss: np.ndarray, lr: np.ndarray | None) -> list[tuple[int, int, str]]:
    """(first index, last index, kind) of each phase: where the logged lr changes its course (constant,
    rising, falling) and where the loss jumps up :data:`JUMP_RATIO`-fold for good (a restart)."""
    n = steps.size
    cuts = {0, n}
    kinds = {}
    if lr is not None and n > 1:
        with np.errstate(invalid="ignore", divide="ignore"):
            change = np.diff(lr) / np.maximum(np.abs(lr[:-1]), np.finfo(float).tiny)
        course = np.nan_to_num(np.where(np.abs(change) <= LR_CHANGE, 0, np.sign(change)))
        for start in [0, *(np.flatnonzero(np.diff(course) != 0) + 1).tolist()]:
            cuts.add(start)
            kinds[start] = {0: "constant lr", 1: "warm-up", -1: "decay"}[int(course[start])]
    finite = np.isfinite(loss) & (loss > 0)
    with np.errstate(invalid="ignore"):
        rises = np.flatnonzero(finite[1:-1] & finite[:-2] & (loss[1:-1] >= JUMP_RATIO * loss[:-2])) + 1 if n > 2 else np.array([], int)
    for k in rises:  # a one-step rise by JUMP_RATIO that does not come back within a spike's width
        after = loss[k:k + SPIKE_MAX_WIDTH + 1]
        if np.all(np.isfinite(after)) and np.min(after) >= 0.5 * JUMP_RATIO * loss[k - 1]:
            cuts.add(int(k))
            kinds[int(k)] = "after a jump"
            break
    ordered = sorted(cuts)
    out: list[tuple[int, int, str]] = []
    for a, b in zip(ordered[:-1], ordered[1:]):
        if b - a < 2 and out:  # a lone record joins the phase before it
            first, _, kind = out[-1]
            out[-1] = (first, b - 1, kind)
            continue
        out.append((a, b - 1, kinds.get(a, "whole run" if len(ordered) == 2 else "constant lr" if lr is None else "schedule")))
    return out


# ---------------------------------------------------------------------------- the run
def _implied(fit: ExponentialFit | None, lr: float | None) -> tuple[tuple[VisitedCurvature, ...], float | None]:
    if fit is None:
        return (), None
    total = sum(c.amplitude for c in fit.components) or 1.0
    visited = []
    for c in fit.components:
        if c.factor >= 1:
            continue
        root = math.sqrt(c.factor)
        se = c.factor_se / (2 * root) if root > 0 else math.inf
        visited.append(VisitedCurvature(
            c.factor, c.factor_se, c.amplitude / total, 1 - root, 1 + root, se,
            None if lr is None else (1 - root) / lr, None if lr is None else (1 + root) / lr, None if lr is None else se / lr))
    slowest = visited[0] if visited else None
    bound = 2.0 / slowest.lr_lambda_flat if slowest is not None and lr is not None and slowest.lr_lambda_flat > 0 else None
    return tuple(visited), bound


def _fit_stretch(steps, loss):
    """The exponential fit and the tail's line (last third, at least 5 records) of a finite positive stretch."""
    fit = exponential_fit(steps, loss)
    k = max(MIN_RECORDS, steps.size // 3)
    tail = rate_fit(steps[-k:], loss[-k:])
    return fit, tail


def diagnose_run(log: LossLog, *, lr: float | None = None, tol: float = 1e-6) -> RunDiagnosis:
    """Diagnose one run from its log alone (module docstring for the rules).

    Parameters
    ----------
    log : LossLog
    lr : float, optional
        The learning rate of the run; by default the log's own lr column where it is constant over the
        analysed phase. The implied curvatures need it.
    tol : float
        Converged when the gap to the fitted floor fell to ``tol`` of its start.
    """
    steps, loss = log.steps, log.loss
    notes = list(log.notes)
    bad = np.flatnonzero(~np.isfinite(loss))
    nonfinite_step = float(steps[bad[0]]) if bad.size else None
    nonfinite_value = None if not bad.size else ("NaN" if np.isnan(loss[bad[0]]) else "inf" if loss[bad[0]] > 0 else "-inf")
    persistent = bool(bad.size) and bool(np.all(~np.isfinite(loss[bad[0]:])))
    lrs = log.lr
    if bad.size and not persistent:  # isolated NaN/Inf records: skipped, the run went on
        keep = np.isfinite(loss)
        steps, loss = steps[keep], loss[keep]
        lrs = None if lrs is None else lrs[keep]
        notes.append(f"{bad.size} isolated non-finite record(s) skipped, the first at step {count(nonfinite_step)}")
    end = int(bad[0]) if persistent else steps.size
    phase_list = phases_of(steps[:end], loss[:end], None if lrs is None else lrs[:end]) if end else []
    a, b = (phase_list[-1][0], phase_list[-1][1] + 1) if phase_list else (0, 0)
    s, f = steps[a:b], loss[a:b]
    phase_lr = None if lrs is None else lrs[a:b]
    lr_source = "--lr" if lr is not None else None
    if lr is None and phase_lr is not None and phase_lr.size and np.all(np.isfinite(phase_lr)) and np.ptp(phase_lr) <= LR_CHANGE * abs(phase_lr[0]):
        lr, lr_source = float(phase_lr[0]), "the log's lr column"
    phases = []
    for first, last, kind in phase_list:
        ps, pf = steps[first:last + 1], loss[first:last + 1]
        plr = None if lrs is None else lrs[first:last + 1]
        phases.append(Phase(float(ps[0]), float(ps[-1]), kind, None if plr is None else float(plr[0]),
                            None if plr is None else float(plr[-1]), rate_fit(ps, pf)))
    positive = f > 0
    if s.size and not positive.all():
        notes.append("the loss takes values <= 0 there: the geometric fits need a positive loss and use the positive records only")
    s, f = s[positive], f[positive]
    spikes = find_spikes(s, f) if s.size else ()
    if spikes:  # fit the curve without its spikes
        spike_steps = {sp.step for sp in spikes}
        keep = np.array([step not in spike_steps for step in s])
        s_fit, f_fit = s[keep], f[keep]
    else:
        s_fit, f_fit = s, f
    common: dict[str, Any] = {
        "log": log, "lr": lr, "lr_source": lr_source, "nonfinite_step": nonfinite_step, "nonfinite_value": nonfinite_value,
        "spikes": spikes, "phases": tuple(phases), "tol": tol, "notes": tuple(notes), "sharpness": sharpness_track(log, lr),
        "nonfinite_count": int(bad.size), "nonfinite_persistent": persistent,
    }
    if s_fit.size < MIN_RECORDS:
        verdict = Verdict.NOT_FINITE if nonfinite_step is not None else Verdict.TOO_SHORT
        return _finish(RunDiagnosis(verdict=verdict, summary="", analysed_from=None, analysed_to=None,
                                    first_loss=float(f[0]) if f.size else None, last_loss=float(f[-1]) if f.size else None,
                                    fit=None, tail=None, divergence=None, oscillation=None, level=None, scatter=None,
                                    steps_to_tol=None, steps_to_tol_range=None, reached_tol_step=None, visited=(),
                                    condition_bound=None, **common))
    fit, tail = _fit_stretch(s_fit, f_fit)
    power = None
    swing = alternation(s_fit, f_fit)
    oscillation = swing if swing is not None and swing.share >= ALTERNATION_SHARE and swing.amplitude > MIN_SWING else None
    divergence = _divergence(s_fit, f_fit, lr, tail, nonfinite_step is not None)
    model = fit.value(s_fit) if fit is not None else None
    quarter = max(MIN_RECORDS, s_fit.size // 4)
    scatter = robust_scatter(np.log(f_fit[-quarter:] / model[-quarter:])) if model is not None else (tail.scatter if tail else None)
    visited, bound = _implied(fit, lr)
    level = None
    steps_to_tol = None
    steps_range = None
    reached = None
    first_loss = float(f_fit[0])
    floor = fit.floor if fit is not None else 0.0
    if divergence is not None:
        verdict = Verdict.DIVERGING
    elif oscillation is not None:
        verdict = Verdict.OSCILLATING
    elif nonfinite_step is not None and persistent:
        verdict = Verdict.NOT_FINITE
    else:
        end_model = float(model[-1]) if model is not None else float(f_fit[-1])
        start_gap = first_loss - floor
        target = floor + tol * start_gap
        hits = np.flatnonzero((model if model is not None else f_fit) <= target)
        decaying = fit is not None and fit.components and fit.components[0].factor < 1
        static_end = _static_level(fit, float(s_fit[-1])) if fit is not None else 0.0
        # a level already below tol of the start is convergence (to rounding), not a plateau
        levelled = tol * abs(first_loss) < static_end and end_model - static_end <= LEVEL_SHARE * static_end
        noisy = scatter is not None and scatter > NOISY_SCATTER
        if levelled and (noisy or not hits.size):
            level = end_model
            verdict = Verdict.PLATEAU if noisy else Verdict.STALLED
        elif hits.size:
            verdict = Verdict.CONVERGED
            reached = float(s_fit[hits[0]])
            steps_to_tol = 0.0
        elif decaying and (power := power_fit(s_fit, f_fit)) is not None and _decisive_power_law(fit, power):
            verdict = Verdict.SUBLINEAR
            arrival = power.first_step_below(tol * first_loss)
            steps_to_tol = None if arrival is None else max(arrival - float(s_fit[-1]), 0.0)
        elif decaying:
            arrival = fit.first_step_below(target)
            steps_to_tol = None if arrival is None else max(arrival - float(s_fit[-1]), 0.0)
            steps_range = _steps_range(fit, target, float(s_fit[-1]))
            logged = float(s_fit[-1] - s_fit[0]) or 1.0
            verdict = Verdict.CRAWLING if steps_to_tol is None or steps_to_tol > CRAWL_FACTOR * logged else Verdict.CONVERGING
        else:
            verdict = Verdict.STALLED
            level = float(np.median(f_fit[-quarter:]))
    return _finish(RunDiagnosis(verdict=verdict, summary="", analysed_from=float(s_fit[0]), analysed_to=float(s_fit[-1]),
                                first_loss=first_loss, last_loss=float(f_fit[-1]), fit=fit, tail=tail, divergence=divergence,
                                oscillation=oscillation, level=level, scatter=scatter,
                                steps_to_tol=steps_to_tol, steps_to_tol_range=steps_range, reached_tol_step=reached,
                                visited=visited, condition_bound=bound,
                                power=power if verdict is Verdict.SUBLINEAR else None, **common))


def _decisive_power_law(fit: ExponentialFit, power: PowerFit | None) -> bool:
    """Whether the power law describes the log decisively better than the geometric terms (:data:`DECISIVE_BIC`)."""
    return power is not None and power.bic < fit.bic - DECISIVE_BIC


def _static_level(fit: ExponentialFit, step: float) -> float:
    """The part of the fitted curve at ``step`` that does not decay: the floor and the terms whose factor is 1
    within its 95% interval (a plateau fitted as r = 1.000002 is a floor)."""
    static = fit.floor
    for c in fit.components:
        if c.factor >= 1 or 1 - c.factor <= 1.96 * c.factor_se:
            static += c.amplitude * c.factor ** (step - fit.first_step)
    return static


def _steps_range(fit: ExponentialFit, target: float, last: float):
    """Steps to ``target`` with the slowest factor at the ends of its 95% interval."""
    from dataclasses import replace

    slow = fit.components[0]
    out = []
    for sign in (-1.96, 1.96):
        factor = min(max(slow.factor + sign * slow.factor_se, 0.0), 1.0 - 1e-16)
        changed = replace(fit, components=(replace(slow, factor=factor), *fit.components[1:]))
        arrival = changed.first_step_below(target)
        out.append(None if arrival is None else max(arrival - last, 0.0))
    return (out[0], out[1])


def _divergence(s, f, lr, tail: RateFit | None, went_nonfinite: bool) -> Divergence | None:
    if tail is None or tail.low <= 1.0:
        return None
    low = int(np.argmin(f))
    if f[-1] < DIVERGED_RISE * f[low] and not went_nonfinite:
        return None
    after = s.size - low
    if after < 3:
        return None
    k = max(3, after // 2)
    growth = rate_fit(s[-k:], f[-k:]) or tail
    curvature = (1.0 + math.sqrt(growth.factor)) / lr if lr is not None else None
    return Divergence(float(s[low]), growth, curvature, None if curvature is None else 2.0 / curvature)


# ---------------------------------------------------------------------------- findings
def _finish(diagnosis: RunDiagnosis) -> RunDiagnosis:
    from dataclasses import replace

    findings = run_findings(diagnosis)
    return replace(diagnosis, findings=tuple(findings), summary=findings[0].title if findings else diagnosis.verdict.value)


def run_findings(d: RunDiagnosis) -> list[Finding]:
    """The findings of one run (codes CD160–CD169, CD177 and CD178, listed in the README)."""
    out: list[Finding] = []
    lr = d.lr
    if d.divergence is not None:
        g = d.divergence.growth
        detail = (f"The loss grows by a factor {sig(g.factor, 5)} per step (95% interval {sig(g.low, 5)}–{sig(g.high, 5)}, "
                  f"fitted over steps {count(g.first_step)}–{count(g.last_step)}), after its minimum at step "
                  f"{count(d.divergence.start_step)}.")
        remedies = []
        if d.divergence.curvature is not None and d.divergence.max_stable_lr is not None:
            limit = d.divergence.max_stable_lr
            detail += (f" Under gradient descent at lr = {sig(lr, 4)} the growing direction has |1 - lr·λ| = √g, so its "
                       f"curvature is λ = (1 + √g)/lr = {sig(d.divergence.curvature, 4)}, and no lr above 2/λ = {sig_below(limit, 4)} "
                       "is stable (steeper directions may exist where the run did not go: treat it as an upper limit).")
            remedies.append(Remedy("Lower the learning rate below 2/λ",
                                   f"lr < {sig_below(limit, 4)} keeps the direction that blew up stable; 10% below the limit "
                                   f"is {sig_below(0.9 * limit, 3)}.", f"lr = {sig_below(0.9 * limit, 3)}"))
        else:
            detail += " Give --lr to turn the growth into the curvature that caused it and the largest stable lr."
        remedies.append(Remedy("Clip the gradient or warm the lr up", "torch.nn.utils.clip_grad_norm_ limits a step's size "
                               "while the curvature is above 2/lr.", "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)"))
        out.append(Finding("CD160", "error", f"Diverging: the loss grows {sig(g.factor, 4)}× per step from step "
                           f"{count(d.divergence.start_step)}", detail, tuple(remedies),
                           {"growth_factor": g.factor, "start_step": d.divergence.start_step}))
    if d.nonfinite_step is not None and not d.nonfinite_persistent:
        out.append(Finding("CD167", "warning", f"{d.nonfinite_count} isolated NaN/Inf record(s), the first at step "
                           f"{count(d.nonfinite_step)}", "The loss was not finite at these records and finite again after them "
                           "(a bad batch, or a log of 0 in the loss); they are skipped and the rest is analysed.", (),
                           {"step": d.nonfinite_step, "count": d.nonfinite_count}))
    elif d.nonfinite_step is not None:
        out.append(Finding("CD167", "error", f"The loss became {d.nonfinite_value} at step {count(d.nonfinite_step)}",
                           f"Record at step {count(d.nonfinite_step)} is {d.nonfinite_value}; the records before it are analysed."
                           + ("" if d.divergence is not None else " It was not growing geometrically before: a sudden "
                              "blow-up (a bad batch, a log of 0, an overflow in float16/float32)."),
                           (), {"step": d.nonfinite_step}))
    if d.oscillation is not None:
        o = d.oscillation
        detail = (f"{sig(100 * o.share, 3)}% of consecutive loss differences change sign over steps {count(o.first_step)}–"
                  f"{count(o.last_step)} (swing {sig(100 * o.amplitude, 2)}% a step). Gradient descent's loss on a quadratic "
                  "is a sum of decaying positive terms and never alternates: the sharpness is at the edge of stability, "
                  "λmax ≈ 2/lr, or momentum is at work.")
        if lr is not None:
            detail += f" At lr = {sig(lr, 4)}: λmax ≈ 2/lr = {sig(2 / lr, 4)}."
        out.append(Finding("CD161", "warning", "Oscillating with period 2: the edge of stability", detail,
                           (Remedy("Lower the lr, or let the schedule decay it", "Below 2/λmax the swing dies out."),),
                           {"share": o.share}))
    if d.verdict in (Verdict.CONVERGING, Verdict.CRAWLING, Verdict.CONVERGED):
        out.append(_convergence_finding(d))
    if d.verdict is Verdict.SUBLINEAR and d.power is not None:
        p = d.power
        logged = ((d.analysed_to or 0.0) - (d.analysed_from or 0.0)) or 1.0
        slow = d.steps_to_tol is None or d.steps_to_tol > CRAWL_FACTOR * logged
        more = "more than 10^18" if d.steps_to_tol is None else count(d.steps_to_tol)
        out.append(Finding("CD178", "warning" if slow else "info", f"Sublinear: the loss falls like t^-{sig(p.exponent, 3)}; "
                           f"{more} more steps to reach tol {sig(d.tol, 2)}",
                           f"A power law f ≈ {sig(p.amplitude, 4)}·(t - {count(p.first_step)} + {sig(p.offset, 3)})^-{sig(p.exponent, 4)} "
                           f"(exponent ± {sig(1.96 * p.exponent_se, 2)}, 95%; misfit {sig(100 * p.residual, 2)}%) describes the log "
                           "decisively better than geometric terms (information criterion lower by more than "
                           f"{sig(DECISIVE_BIC, 2)}): no fixed contraction per step, as for gradient descent on a convex loss that is "
                           "not strongly convex (1/t), or SGD with a decaying lr. Each tenfold cut of the loss costs "
                           f"{sig(10 ** (1 / p.exponent), 3)} times the steps so far.",
                           (Remedy("Add curvature or momentum", "Ridge (weight decay) makes the loss strongly convex, so "
                                   "gradient descent converges linearly; Nesterov momentum turns 1/t into 1/t²."),) if slow else (),
                           {"exponent": p.exponent, "steps_to_tol": d.steps_to_tol}))
    if d.verdict in (Verdict.STALLED, Verdict.PLATEAU):
        noisy = d.verdict is Verdict.PLATEAU
        detail = (f"At the end the fitted curve is within {sig(100 * LEVEL_SHARE, 1)}% of its part that does not decay, "
                  f"{sig(d.level, 5)}; "
                  f"the records scatter by {sig(100 * (d.scatter or 0), 2)}% around it.")
        if noisy:
            detail += (" A noisy plateau is what minibatch noise gives: its height above the minimum scales with the lr "
                       "(log several runs at different lrs side by side to check).")
        else:
            detail += (" Either this is the minimum of the loss (a least-squares residual), or the run has stalled (float32 "
                       "cannot resolve smaller steps, or the lr is too small for the flat directions): the log alone cannot "
                       "tell them apart; give --problem to know f*.")
        out.append(Finding("CD165" if noisy else "CD164", "warning" if not noisy else "info",
                           f"{'Noisy plateau' if noisy else 'Levelled off'} at {sig(d.level, 4)}" +
                           (f" ± {sig(100 * d.scatter, 2)}%" if noisy and d.scatter else ""), detail, (),
                           {"level": d.level, "scatter": d.scatter}))
    if d.spikes:
        shown = ", ".join(f"step {count(sp.step)} (×{sig(sp.ratio, 3)})" for sp in d.spikes[:6])
        more = f" and {len(d.spikes) - 6} more" if len(d.spikes) > 6 else ""
        out.append(Finding("CD166", "warning", f"{len(d.spikes)} spike(s): the loss jumped and recovered",
                           f"Isolated jumps above the running median: {shown}{more}. Adam's spikes come from its second-moment "
                           "estimate lagging a sudden large gradient (a small eps and a β2 near 1 make them larger).",
                           (Remedy("With Adam: raise eps or lower β2", "eps 1e-6–1e-4 or betas=(0.9, 0.98) damp them.",
                                   "torch.optim.Adam(params, lr=lr, betas=(0.9, 0.98), eps=1e-6)"),),
                           {"steps": [sp.step for sp in d.spikes]}))
    if d.sharpness is not None:
        t = d.sharpness
        detail = (f"The logged sharpness λmax is {sig(t.last, 4)} at step {count(t.last_step)} (largest {sig(t.max, 4)} at step "
                  f"{count(t.max_step)}).")
        beyond = t.edge_ratio_max is not None and t.edge_ratio_max >= 1
        if t.edge_ratio_last is not None and lr is not None:
            detail += (f" Against the edge of stability 2/lr = {sig(2 / lr, 4)}: λmax·lr/2 = {sig(t.edge_ratio_last, 3)} now, "
                       f"{sig(t.edge_ratio_max, 3)} at most" + (f"; it first reached 2/lr at step {count(t.first_step_beyond_edge)}: "
                       "gradient descent is not stable there, and the loss oscillates or spikes while the curvature "
                       "adapts (progressive sharpening, Cohen et al., ICLR 2021)." if beyond else ": below the edge."))
        out.append(Finding("CD177", "warning" if beyond else "info",
                           f"Sharpness {'reached' if beyond else 'below'} 2/lr" + (f" at step {count(t.first_step_beyond_edge)}" if beyond else ""),
                           detail, (Remedy("Lower the lr below 2/λmax", f"lr < {sig_below(2 / t.max, 4)} keeps the sharpest point "
                                           "logged stable.", f"lr = {sig_below(1.8 / t.max, 3)}"),) if beyond else (),
                           {"edge_ratio_last": t.edge_ratio_last, "edge_ratio_max": t.edge_ratio_max}))
    if len(d.phases) > 1:
        rows = "; ".join(f"{p.kind} {count(p.first_step)}–{count(p.last_step)}" + (f" (×{sig(p.rate.factor, 5)}/step)" if p.rate else "")
                         for p in d.phases)
        out.append(Finding("CD168", "info", f"{len(d.phases)} phases", f"{rows}. The verdict is about the last one.", (), {}))
    if d.verdict is Verdict.TOO_SHORT:
        positive = int(np.sum(np.isfinite(d.log.loss) & (d.log.loss > 0)))
        why = (f"{positive} positive finite record(s): the fits need at least {MIN_RECORDS}"
               + ("; the loss is <= 0 elsewhere (a loss that can be negative, such as a log-likelihood, has no gap to fit "
                  "without its minimum)" if positive < int(np.sum(np.isfinite(d.log.loss))) else "") + ".")
        out.append(Finding("CD169", "info", "Too few records to fit", why, (), {}))
    order = {"error": 0, "warning": 1, "info": 2}
    out.sort(key=lambda f: order[f.severity])
    return out


def _convergence_finding(d: RunDiagnosis) -> Finding:
    fit = d.fit
    slow = fit.components[0] if fit and fit.components else None
    parts = []
    if fit is not None and slow is not None:
        parts.append(f"The slowest factor of the fitted curve is {sig(slow.factor, 7)} per step (± {sig(1.96 * slow.factor_se, 2)}, 95%): "
                     f"the gap to the floor halves every {count(math.log(2) / -math.log(slow.factor))} steps." if slow.factor < 1 else "")
        if len(fit.components) > 1:
            factors = ", ".join(sig(c.factor, 7) for c in fit.components)
            parts.append(f"The curve is a sum of {len(fit.components)} geometric terms (factors {factors}; misfit {sig(100 * fit.residual, 2)}%).")
    if d.verdict is Verdict.CONVERGED:
        floor = f" to {sig(fit.floor, 4)}" if fit is not None and fit.floor > 0 else ""
        title = f"Converged{floor}: the gap fell by {sig(d.tol, 2)} of its start at step {count(d.reached_tol_step)}"
        severity = "info"
        if floor and fit is not None:
            parts.append(f"The curve tends to {sig(fit.floor, 5)} (± {sig(1.96 * fit.floor_se, 2)}): the minimum of this loss, "
                         "or a level the run cannot go below (float32, a too-small lr); give --problem to know f*.")
    else:
        more = "more than 10^18" if d.steps_to_tol is None else count(d.steps_to_tol)
        title = f"{'Crawling' if d.verdict is Verdict.CRAWLING else 'Converging'}: {more} more steps to reach tol {sig(d.tol, 2)}"
        severity = "warning" if d.verdict is Verdict.CRAWLING else "info"
        bounds = d.steps_to_tol_range
        if bounds is not None and bounds[0] is not None and bounds[1] is not None:
            low, high = sorted((bounds[0], bounds[1]))
            parts.append(f"Steps still needed: {count(d.steps_to_tol)} (95%: {count(low)}–{count(high)}).")
    remedies: tuple[Remedy, ...] = ()
    if d.lr is not None and d.visited:
        v = d.visited[0]
        parts.append(f"At lr = {sig(d.lr, 4)} gradient descent's slowest visited direction has lr·λ = 1 - √r = {sig(v.lr_lambda_flat, 4)} "
                     f"(λ = {sig(v.lambda_flat, 4)}), or 1 + √r = {sig(v.lr_lambda_steep, 4)} if it is a steep direction oscillating in x.")
        if d.condition_bound is not None and d.verdict is not Verdict.CONVERGED:
            parts.append(f"The run is stable, so λmax < 2/lr: the condition number it implies is below 2/(1 - √r) = {sig(d.condition_bound, 3)}.")
        if d.verdict is Verdict.CRAWLING:
            remedies = (Remedy("Precondition, or use momentum or L-BFGS", "A fixed lr cannot beat (κ-1)/(κ+1) per step; "
                               "heavy ball needs about √κ times fewer steps (condiag analyze gives the exact parameters when "
                               "you have the problem)."),)
    return Finding({Verdict.CONVERGED: "CD162", Verdict.CONVERGING: "CD162", Verdict.CRAWLING: "CD163"}[d.verdict], severity, title,
                   " ".join(p for p in parts if p) or "The loss decreases.", remedies,
                   {"factor": slow.factor if slow else None, "steps_to_tol": d.steps_to_tol})


# ---------------------------------------------------------------------------- several runs
@dataclass(frozen=True)
class PlateauScaling:
    """How the plateau heights of several runs depend on their lrs: level ≈ f* + a·lr (minibatch noise)."""

    lrs: tuple[float, ...]
    levels: tuple[float, ...]
    exponent: float
    """Slope of log(level) against log(lr)."""
    intercept: float
    """f* of the straight line level = f* + a·lr (least squares)."""
    slope: float


def plateau_scaling(runs) -> PlateauScaling | None:
    """Across runs that ended on a plateau at distinct known lrs (at least 2)."""
    pairs = [(r.lr, r.level) for r in runs if r.verdict is Verdict.PLATEAU and r.lr is not None and r.level]
    if len({lr for lr, _ in pairs}) < 2:
        return None
    lrs, levels = (np.array(v, dtype=float) for v in zip(*sorted(pairs)))
    exponent = float(np.polyfit(np.log(lrs), np.log(levels), 1)[0])
    slope, intercept = (float(v) for v in np.polyfit(lrs, levels, 1))
    return PlateauScaling(tuple(lrs), tuple(levels), exponent, intercept, slope)
