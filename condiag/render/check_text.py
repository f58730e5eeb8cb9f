"""The terminal report of ``condiag check``: one line a file, its failures beneath it, and a summary line
(as a linter prints). Formats :class:`~condiag.check.FileOutcome`; computes nothing."""

from __future__ import annotations

from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from ..check import describe, tally

MARKS = {"pass": ("pass ", "green"), "fail": ("FAIL ", "bold red"), "error": ("ERROR", "bold magenta")}


def render_check(outcomes, config_label: str, console: Console) -> None:
    for o in outcomes:
        mark, style = MARKS[o.status]
        line = Text()
        line.append(mark, style=style)
        line.append(f"  {o.path}  ")
        line.append(o.command, style="bold")
        if o.status == "pass" and o.summary:
            line.append(f": {o.summary}")
        console.print(line)
        for reason in o.reasons:
            console.print(Padding(Text(reason), (0, 0, 0, 7)))
    files, _, rest = describe(tally(outcomes)).partition(": ")
    console.print(Text(f"\n{files} checked ({config_label}): {rest}", style="bold"))
