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


def analysis_verdict(analysis, fail_on: str = "never", max_condition: float | None = None, min_lr_margin: float | None = None) -> Verdict:
    """Exit 1 when a finding reaches ``fail_on``, cond(A) exceeds ``max_condition``, or an
    ``--lr`` is closer to the divergence threshold than ``min_lr_margin`` (threshold / lr)."""
    reasons = []
    if fail_on != "never":
        limit = severity_rank(fail_on)
        hits = [f.code for f in analysis.findings if severity_rank(f.severity) >= limit]
        if hits:
            reasons.append(f"findings at or above '{fail_on}': {', '.join(hits)}")
    if max_condition is not None:
        cond = analysis.spectrum.condition_number
        if not cond <= max_condition:
            reasons.append(f"cond = {sig(cond, 5)} exceeds --max-condition {sig(max_condition, 5)}")
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
    by_name = {r.solver: r for r in comparison.results}
    for name in require_converged:
        result = by_name.get(name)
        if result is None:
            reasons.append(f"--require-converged {name}: that solver was not run")
        elif result.status != "converged":
            reasons.append(f"{name} did not converge (status {result.status})")
    failed = [r.solver for r in comparison.results if r.status == "failed"]
    if failed:
        reasons.append(f"solver(s) failed with an error: {', '.join(failed)}")
    return Verdict(ExitCode.THRESHOLD if reasons else ExitCode.OK, tuple(reasons))


def two_layer_verdict(analysis, fail_on: str = "never", max_condition: float | None = None) -> Verdict:
    """As :func:`analysis_verdict`, for ``--model two-layer`` (cond(A) for --max-condition)."""
    reasons = []
    if fail_on != "never":
        hits = [f.code for f in analysis.findings if severity_rank(f.severity) >= severity_rank(fail_on)]
        if hits:
            reasons.append(f"findings at or above '{fail_on}': {', '.join(hits)}")
    if max_condition is not None and not analysis.condition_number <= max_condition:
        reasons.append(f"cond(A) = {sig(analysis.condition_number, 5)} exceeds --max-condition {sig(max_condition, 5)}")
    return Verdict(ExitCode.THRESHOLD if reasons else ExitCode.OK, tuple(reasons))
