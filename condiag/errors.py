"""Error hierarchy and process exit codes.

Every failure the user can cause or meet is a :class:`CondiagError` carrying its own
exit code; the CLI prints its one-line message on stderr and exits with that code.
Anything else that escapes is a bug and exits with :attr:`ExitCode.INTERNAL`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in the README."""

    OK = 0
    """The command ran and no threshold the user set was crossed."""
    THRESHOLD = 1
    """A threshold the user set (``--fail-on``, ``--max-condition``, ``--require-converged``) failed."""
    USAGE = 2
    """The command line itself is wrong (unknown option, bad value)."""
    BAD_INPUT = 3
    """An input file is missing, unreadable, malformed, hostile or inconsistent."""
    INTERNAL = 70
    """A bug in condiag (EX_SOFTWARE); please report it with ``--traceback``."""
    ENVIRONMENT = 74
    """The machine could not do it (EX_IOERR): the output cannot be written (missing folder, disk
    full, closed standard output) or memory ran out."""
    INTERRUPTED = 130
    """Interrupted by the user (Ctrl-C)."""


def flag(option: str) -> str:
    """The command-line flag of a Python parameter: ``x0`` → ``--x0``, ``init_scale`` → ``--init-scale``."""
    return "--" + option.replace("_", "-")


class CondiagError(Exception):
    """Base class of every error condiag reports to the user as one line.

    An error about one argument names it neutrally, as the Python API spells it (``option``, e.g. ``x0``, at the
    start of the message); :meth:`command_line` gives the message as the command line prints it, with the flag.
    """

    exit_code: ExitCode = ExitCode.INTERNAL
    option: str | None = None

    def command_line(self) -> str:
        """The message with its leading ``option`` spelled as the flag (``x0: ...`` → ``--x0: ...``)."""
        text = str(self)
        if self.option and text.startswith(self.option):
            return flag(self.option) + text[len(self.option):]
        return text


class InputError(CondiagError):
    """A problem with the input data; the message names the file and what to do."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, source: str, what: str, hint: str | None = None, option: str | None = None):
        self.option = option
        self.source = source
        self.what = what
        self.hint = hint
        message = f"{source}: {what}" if source else what
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class OutputError(CondiagError):
    """The report, plot or standard output cannot be written; or the machine ran out of memory."""

    exit_code = ExitCode.ENVIRONMENT


class UsageError(CondiagError):
    """An option or argument value that cannot be used (``option``: which one, when the message starts with it)."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, option: str | None = None):
        self.option = option
        super().__init__(message)
