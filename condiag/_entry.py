"""The console script's entry point: as little as possible runs before Ctrl-C is handled.

``condiag.cli`` imports click; a Ctrl-C during that import would otherwise print a Python
traceback. Here the import itself is guarded, so an early interrupt is one line and exit 130.
"""

from __future__ import annotations

import sys

INTERRUPTED = 130  # condiag.errors.ExitCode.INTERRUPTED, not imported: nothing heavy before the guard


def main(argv=None):
    """Run the command line (see :func:`condiag.cli.main`)."""
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        try:
            sys.stderr.write("condiag: interrupted\n")
        except (OSError, AttributeError):
            pass
        sys.exit(INTERRUPTED)
    cli_main(argv)
