"""The terminal report of ``analyze --function``: the function and its derivatives, each run's end, the basin of
x0, the findings. Formats a :class:`~condiag.smooth.report.FunctionAnalysis`; computes nothing."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..numbers import count, sig
from ..smooth.report import local_limit
from .text import findings_section, heading, key_values, print_parts


def _x(x) -> str:
    shown = ", ".join(sig(float(v), 7) for v in list(x)[:6])
    return shown if len(x) == 1 else f"({shown}{', …' if len(x) > 6 else ''})"


def _ending(p) -> str:
    e = p.ending
    if e.kind == "cycle":
        return f"cycle of period {e.period} from step {count(e.step)}"
    if e.kind in ("diverged", "left the domain"):
        return f"{e.kind} at step {count(e.step)}"
    if e.kind == "not converged":
        return "not converged" + (" (H singular)" if p.singular_at is not None else "")
    reached = f", tol at step {count(p.converged_step)}" if p.converged_step is not None else ""
    return e.kind + reached


def _derivative_rows(f) -> list:
    d = f.derivatives
    rows = [("written with", d.backend), ("gradient", d.gradient_method), ("Hessian", d.hessian_method)]
    return rows + ([("note", d.note)] if d.note else [])


def _title(command: str, source: str, n: int, objective: str = "function") -> Text:
    what = f"logistic regression, {n} weights" if objective == "logistic" else f"a smooth function of {n} variable{'s' if n > 1 else ''}"
    return Text(f"condiag {command} — {source} ({what})", style="bold")


def render_function(a, console: Console, verbose: bool = False) -> None:
    f = a.function
    console.print(_title("analyze", a.source, f.n))
    rows = _derivative_rows(f)
    rows += [("x0", f"{_x(a.x0)}  f(x0) = {sig(a.start_value, 8)}"),
             ("curvature at x0", f"λ from {sig(a.start_curvature[0], 4)} to {sig(a.start_curvature[-1], 4)}"
              + (f": gradient descent is locally stable there below lr = 2/λmax = {sig(2 / a.start_curvature[-1], 4)}"
                 if a.start_curvature[-1] > 0 else ""))]
    if a.basin is not None:
        b = a.basin.ending
        rows.append(("basin of x0", f"the gradient flow from x0 ends at {b.kind} x = {_x(b.x)}, f = {sig(b.value, 8)}"))
    parts = [heading("Function"), key_values(rows), heading(f"Runs from x0 ({count(a.steps)} steps each)")]
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    for name in ("run", "step", "x_T", "f(x_T)", "end", "2/λmax at x_T"):
        table.add_column(name, overflow="fold")
    for p in a.paths:
        limit = local_limit(p.ending.eigenvalues)
        table.add_row("GD" if p.method == "gd" else "Newton", sig(p.step_size, 4), _x(p.x_final), sig(p.value_final, 8),
                      _ending(p), "—" if limit is None else sig(limit, 4))
    parts.append(table)
    parts.append(Text("GD: gradient descent, step = lr; Newton: x ← x − η·H⁻¹∇f, step = η. x_T: x after the steps. "
                      "2/λmax: the largest lr at which gradient descent can stay where the run ended.", style="dim"))
    parts += findings_section(a.findings, verbose)
    print_parts(console, parts)


def render_function_comparison(c, console: Console) -> None:
    """``compare --function``: one row a solver, judged against the best local minimum found."""
    console.print(_title("compare", c.source, c.function.n, c.function.objective))
    rows = _derivative_rows(c.function) + [("x0", f"{_x(c.x0)}  f(x0) = {sig(c.start_value, 8)}")]
    if c.best is not None:
        rows.append(("judged against", f"x = {_x(c.best.x)}, f = {sig(c.best.value, 10)} (by {c.best_by}: {c.best_note})"))
    else:
        rows.append(("judged against", f"nothing: {c.best_note}"))
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    for name in ("solver", "iterations", "x_T", "f(x_T) − f_best", "status"):
        table.add_column(name, overflow="fold")
    for p, v in zip(c.runs, c.verdicts):
        table.add_row(p.label, count(p.ending.step), _x(p.x_final), "—" if v.gap is None else sig(v.gap, 3), v.status)
    sources = "; ".join(dict.fromkeys(f"{p.label.split(' lr')[0]}: {source}" for p, source in zip(c.runs, c.lr_sources)
                                      if p.method not in ("newton", "lbfgs")))
    parts = [heading("Function"), key_values(rows), heading(f"Solvers from x0 (at most {count(c.max_iter)} iterations)"), table,
             Text(("Learning rates — " + sources + ". " if sources else "") + "Newton takes full steps, L-BFGS its line "
                  "search's. Reached: ended at a minimum within tol of the one judged against"
                  + ("." if c.function.objective == "logistic" else "; another minimum is not wrong: the function has several."), style="dim")]
    print_parts(console, parts)
