"""Exit-code policy: turns a report and the user's thresholds into an exit code with reasons."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ExitCode
from .findings import severity_rank
from .numbers import sig


@dataclass(frozen=True)
class Verdict:
    exit_code: ExitCode
    reasons: tuple[str, ...]


def _findings_reason(findings, fail_on: str) -> list[str]:
    """The --fail-on rule: codes of findings at or above the chosen severity."""
    if fail_on == "never":
        return []
    hits = [f.code for f in findings if severity_rank(f.severity) >= severity_rank(fail_on)]
    return [f"findings at or above '{fail_on}': {', '.join(hits)}"] if hits else []


def _condition_reason(cond: float, max_condition: float | None, name: str = "cond") -> list[str]:
    """The --max-condition rule (a NaN or infinite cond fails it too)."""
    if max_condition is None or cond <= max_condition:
        return []
    return [f"{name} = {sig(cond, 5)} exceeds --max-condition {sig(max_condition, 5)}"]


def analysis_verdict(analysis, fail_on: str = "never", max_condition: float | None = None, min_lr_margin: float | None = None) -> Verdict:
    """Exit 1 when a finding reaches ``fail_on``, cond(A) exceeds ``max_condition``, or an
    ``--lr`` is closer to the divergence threshold than ``min_lr_margin`` (threshold / lr)."""
    reasons = _findings_reason(analysis.findings, fail_on) + _condition_reason(analysis.spectrum.condition_number, max_condition)
    if min_lr_margin is not None:
        threshold = analysis.bounds.divergence_threshold
        for check in analysis.checks:
            if threshold is not None and threshold / check.lr < min_lr_margin:
                reasons.append(
                    f"lr {sig(check.lr, 5)} has margin {sig(threshold / check.lr, 4)} to the divergence threshold "
                    f"{sig(threshold, 5)}, below --min-lr-margin {sig(min_lr_margin, 4)}"
                )
    return Verdict(ExitCode.THRESHOLD if reasons else ExitCode.OK, tuple(reasons))


def comparison_verdict(comparison, require_converged=()) -> Verdict:
    """Exit 1 when a solver named in ``require_converged`` did not converge, or a solver failed."""
    reasons = []
    by_name: dict = {}
    for r in comparison.results:
        by_name.setdefault(r.solver, []).append(r)
    for name in require_converged:
        runs = by_name.get(name)
        if not runs:
            reasons.append(f"--require-converged {name}: that solver was not run")
        elif not any(r.status == "converged" for r in runs):  # in a sweep: its best setting must converge
            statuses = ", ".join(dict.fromkeys(r.status for r in runs))
            reasons.append(f"{name} did not converge (status {statuses})")
    failed = [r.solver for r in comparison.results if r.status == "failed"]
    if failed:
        reasons.append(f"solver(s) failed with an error: {', '.join(failed)}")
    return Verdict(ExitCode.THRESHOLD if reasons else ExitCode.OK, tuple(reasons))


def two_layer_verdict(analysis, fail_on: str = "never", max_condition: float | None = None) -> Verdict:
    """As :func:`analysis_verdict`, for ``--model two-layer`` (cond(A) for --max-condition)."""
    reasons = _findings_reason(analysis.findings, fail_on) + _condition_reason(analysis.condition_number, max_condition, "cond(A)")
    return Verdict(ExitCode.THRESHOLD if reasons else ExitCode.OK, tuple(reasons))


def trace_verdict(report, fail_on=(), max_steps_to_tol: float | None = None) -> Verdict:
    """Exit 1 when a run's verdict (or its spikes) is named in ``fail_on``, or a run needs more than
    ``max_steps_to_tol`` further steps to reach tol (a run that never gets there fails it too)."""
    reasons = []
    for run in report.runs:
        hits = [name for name in fail_on if name == run.verdict.value or (name == "spikes" and run.spikes)
                or (name == "not-finite" and run.nonfinite_step is not None)]
        if hits:
            reasons.append(f"{run.log.label}: {', '.join(dict.fromkeys(hits))} (--fail-on)")
        if max_steps_to_tol is not None and run.verdict.value != "converged":
            needed = run.steps_to_tol
            if needed is None or needed > max_steps_to_tol:
                shown = "never reaches tol" if needed is None else f"needs {needed:,.0f} more steps"
                reasons.append(f"{run.log.label}: {shown}, above --max-steps-to-tol {max_steps_to_tol:,.0f}")
    return Verdict(ExitCode.THRESHOLD if reasons else ExitCode.OK, tuple(reasons))
