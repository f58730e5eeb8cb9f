"""Exit-code policy: turns a report and the user's thresholds into an exit code with reasons."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ExitCode
from .findings import severity_rank
from .numbers import sig


@dataclass(frozen=True)
class Check:
    """One threshold the user set, and whether the report passes it (a JUnit test case, a CI annotation)."""

    threshold: str
    """The option as given, e.g. '--max-condition 1e8'."""
    passed: bool
    message: str


@dataclass(frozen=True)
class Verdict:
    exit_code: ExitCode
    reasons: tuple[str, ...]
    checks: tuple[Check, ...] = ()


def verdict_of(checks) -> Verdict:
    """The exit code and reasons of a list of checks: 1 when any failed."""
    checks = tuple(checks)
    reasons = tuple(c.message for c in checks if not c.passed)
    return Verdict(ExitCode.THRESHOLD if reasons else ExitCode.OK, reasons, checks)


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


def findings_check(findings, fail_on: str) -> list[Check]:
    if fail_on == "never":
        return []
    reasons = _findings_reason(findings, fail_on)
    return [Check(f"--fail-on {fail_on}", not reasons, reasons[0] if reasons else f"no finding at or above '{fail_on}'")]


def _condition_check(cond: float, max_condition: float | None, name: str = "cond") -> list[Check]:
    if max_condition is None:
        return []
    reasons = _condition_reason(cond, max_condition, name)
    return [Check(f"--max-condition {sig(max_condition, 5)}", not reasons,
                  reasons[0] if reasons else f"{name} = {sig(cond, 5)} is within --max-condition {sig(max_condition, 5)}")]


def analysis_verdict(analysis, fail_on: str = "never", max_condition: float | None = None, min_lr_margin: float | None = None) -> Verdict:
    """Exit 1 when a finding reaches ``fail_on``, cond(A) exceeds ``max_condition``, or an
    ``--lr`` is closer to the divergence threshold than ``min_lr_margin`` (threshold / lr)."""
    checks = findings_check(analysis.findings, fail_on) + _condition_check(analysis.spectrum.condition_number, max_condition)
    if min_lr_margin is not None:
        threshold = analysis.bounds.divergence_threshold
        for check in analysis.checks:
            if threshold is None:
                continue
            margin = threshold / check.lr
            passed = margin >= min_lr_margin
            checks.append(Check(f"--min-lr-margin {sig(min_lr_margin, 4)} (lr {sig(check.lr, 5)})", passed,
                                f"lr {sig(check.lr, 5)} has margin {sig(margin, 4)} to the divergence threshold "
                                f"{sig(threshold, 5)}, {'at least' if passed else 'below'} --min-lr-margin {sig(min_lr_margin, 4)}"))
    return verdict_of(checks)


def comparison_verdict(comparison, require_converged=()) -> Verdict:
    """Exit 1 when a solver named in ``require_converged`` did not converge, or a solver failed."""
    checks = []
    by_name: dict = {}
    for r in comparison.results:
        by_name.setdefault(r.solver, []).append(r)
    for name in require_converged:
        runs = by_name.get(name)
        if not runs:
            checks.append(Check(f"--require-converged {name}", False, f"--require-converged {name}: that solver was not run"))
        else:  # in a sweep: some setting must converge
            passed = any(r.status == "converged" for r in runs)
            statuses = ", ".join(dict.fromkeys(r.status for r in runs))
            checks.append(Check(f"--require-converged {name}", passed,
                                f"{name} converged" if passed else f"{name} did not converge (status {statuses})"))
    failed = [r.solver for r in comparison.results if r.status == "failed"]
    if failed:
        checks.append(Check("solvers run without error", False, f"solver(s) failed with an error: {', '.join(failed)}"))
    return verdict_of(checks)


def model_verdict(analysis, fail_on: str = "never", max_condition: float | None = None) -> Verdict:
    """As :func:`analysis_verdict`, for a non-linear model's own analysis (``condition_number``: cond of its data
    matrix, for --max-condition)."""
    return verdict_of(findings_check(analysis.findings, fail_on) + _condition_check(analysis.condition_number, max_condition, "cond(A)"))


def findings_verdict(findings, fail_on: str = "never") -> Verdict:
    """The --fail-on rule alone (logistic regression)."""
    return verdict_of(findings_check(findings, fail_on))


def trace_verdict(report, fail_on=(), max_steps_to_tol: float | None = None) -> Verdict:
    """Exit 1 when a run's verdict (or its spikes) is named in ``fail_on``, or a run needs more than
    ``max_steps_to_tol`` further steps to reach tol (a run that never gets there fails it too)."""
    checks = []
    for run in report.runs:
        if fail_on:
            hits = [name for name in fail_on if name == run.verdict.value or (name == "spikes" and run.spikes)
                    or (name == "not-finite" and run.nonfinite_step is not None)]
            checks.append(Check(f"--fail-on {','.join(fail_on)} ({run.log.label})", not hits,
                                f"{run.log.label}: {', '.join(dict.fromkeys(hits))} (--fail-on)" if hits
                                else f"{run.log.label}: {run.verdict.value}"))
        if max_steps_to_tol is not None:
            needed = 0.0 if run.verdict.value == "converged" else run.steps_to_tol
            passed = needed is not None and needed <= max_steps_to_tol
            shown = "never reaches tol" if needed is None else f"needs {needed:,.0f} more steps"
            checks.append(Check(f"--max-steps-to-tol {max_steps_to_tol:,.0f} ({run.log.label})", passed,
                                f"{run.log.label}: {shown}, {'within' if passed else 'above'} --max-steps-to-tol {max_steps_to_tol:,.0f}"))
    return verdict_of(checks)
