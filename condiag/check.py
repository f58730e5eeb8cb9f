"""``condiag check``: the outcome of every configured file, and the exit code of the whole run.

Each entry of the configuration (:mod:`condiag.config`) runs its command on each file it matches; the
command's own report, threshold checks and exit code are kept per file. The run then exits as a linter
does: 0 when every file passed, 1 when any failed a threshold, and when a file could not be checked at
all (unreadable, malformed; a glob that matches nothing) the highest such error code (3 for bad input).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ExitCode
from .policy import Check


@dataclass(frozen=True)
class FileOutcome:
    """One file checked by one entry."""

    path: str
    command: str
    exit_code: int
    report: dict | None = None
    """The command's JSON report (None when it could not run)."""
    checks: tuple[Check, ...] = ()
    summary: str = ""
    error: str | None = None
    """The one-line message when the file could not be checked."""
    entry: str = ""
    """Where the entry is written in the configuration."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        """'pass', 'fail' (a threshold failed: exit 1) or 'error' (it could not be checked)."""
        if self.error is not None:
            return "error"
        return "fail" if self.exit_code == ExitCode.THRESHOLD else "pass"

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why it failed: the failed thresholds (or the error)."""
        if self.error is not None:
            return (self.error,)
        failed = tuple(c.message for c in self.checks if not c.passed)
        if self.status == "fail" and not failed:
            return (self.summary or "exit code 1",)
        return failed


def overall_exit_code(outcomes) -> ExitCode:
    """The run's exit code: the highest error code of a file that could not be checked, else 1 when any
    failed, else 0."""
    errors = [o.exit_code for o in outcomes if o.status == "error"]
    if errors:
        return ExitCode(max(errors))
    if any(o.status == "fail" for o in outcomes):
        return ExitCode.THRESHOLD
    return ExitCode.OK


def tally(outcomes) -> dict:
    """How many files passed, failed and could not be checked."""
    statuses = [o.status for o in outcomes]
    return {"files": len(statuses), "passed": statuses.count("pass"), "failed": statuses.count("fail"),
            "errors": statuses.count("error")}


def describe(counts: dict) -> str:
    """The tally in words: '3 files: 2 passed, 1 failed' (and 'n could not be checked' when any)."""
    noun = "file" if counts["files"] == 1 else "files"
    words = f"{counts['files']} {noun}: {counts['passed']} passed, {counts['failed']} failed"
    return words + (f", {counts['errors']} could not be checked" if counts["errors"] else "")
