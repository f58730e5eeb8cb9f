"""The terminal report (rich). Formats numbers; computes nothing about the problem.

Works without colour or terminal: rich honours NO_COLOR and plain pipes, and every table
uses plain-ASCII-safe box characters when the output is not a terminal.
"""

from __future__ import annotations

import math

import numpy as np
from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..numbers import count, factor, loadings_text, sig, sig_below

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}
BARS = "▁▂▃▄▅▆▇█"


class ReportConsole(Console):
    """rich's Console, but a closed pipe raises BrokenPipeError for the CLI's one handler
    (rich itself would exit with status 1 from deep inside a print)."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


MIN_WIDTH = 80
"""Reports are laid out for at least 80 columns: a narrower terminal wraps whole lines rather
than having rich fold numbers and snippets inside their cells."""


def make_console(file=None, width: int | None = None, no_color: bool = False) -> Console:
    """A console for the report, at least :data:`MIN_WIDTH` wide.

    ``no_color`` (or a non-empty NO_COLOR environment variable) gives plain text with no escape
    sequences at all, bold included (rich's own NO_COLOR handling keeps bold and underline).
    """
    import os

    plain = no_color or bool(os.environ.get("NO_COLOR"))
    console = ReportConsole(file=file, width=width, no_color=plain or None, color_system=None if plain else "auto",
                            highlight=False, soft_wrap=False, markup=False, emoji=False)
    if console.width < MIN_WIDTH:
        console.width = MIN_WIDTH
    return console


def recorded_html(render) -> str:
    """The text report as HTML: ``render(console)`` on a 100-column recording console, exported with inline
    styles (the colours kept whatever NO_COLOR says: it is about terminals), for :mod:`condiag.render.html_report`."""
    import io

    console = ReportConsole(file=io.StringIO(), width=100, record=True, color_system="truecolor", force_terminal=True,
                            highlight=False, soft_wrap=False, markup=False, emoji=False)
    render(console)
    return console.export_html(inline_styles=True, code_format="{code}")


def heading(title: str) -> Text:
    return Text(f"\n{title}", style="bold underline")


def key_values(rows) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        if value is not None:
            table.add_row(key, value if isinstance(value, Text) else str(value))
    return table


def sparkline(values: np.ndarray, width: int = 60) -> str:
    """Unicode chart of log10 of positive values, binned to ``width`` columns (zeros shown as ' ')."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return ""
    if values.size > width:
        edges = np.linspace(0, values.size, width + 1).astype(int)
        values = np.array([values[a:b].min() for a, b in zip(edges[:-1], edges[1:])])
    positive = values > 0
    if not positive.any():
        return " " * values.size
    logs = np.where(positive, np.log10(np.where(positive, values, 1.0)), np.nan)
    lo, hi = np.nanmin(logs), np.nanmax(logs)
    span = hi - lo if hi > lo else 1.0
    chars = []
    for v in logs:
        if np.isnan(v):
            chars.append(" ")
        else:
            chars.append(BARS[min(len(BARS) - 1, int((v - lo) / span * (len(BARS) - 1) + 0.5))])
    return "".join(chars)


def problem_section(problem) -> list:
    """The model in rows (:meth:`condiag.models.Model.summary_rows`)."""
    return [heading("Problem"), key_values(problem.summary_rows())]


def spectrum_section(spectrum, problem) -> list:
    matrix = "Q" if problem.is_quadratic else "A"
    hessian = "Q" if problem.is_quadratic else f"{sig(problem.hessian_scale, 4)}·AᵀA"
    if problem.ridge:
        hessian += f" + {sig(2 * problem.ridge, 4)}·I"
    rank = f"{spectrum.rank} of {problem.n_cols}  (tolerance {sig(spectrum.rank_tol, 3)} = σmax·max(n,d)·eps)"
    if spectrum.null_dim:
        rank += f", null space of dimension {spectrum.null_dim}"
    rows = [
        (f"cond({matrix})", f"{sig(spectrum.condition_number, 5)}  (σmax = {sig(spectrum.sigma_max, 5)}, σmin = {sig(spectrum.sigma_min, 5)})"),
    ]
    if spectrum.null_dim and spectrum.effective_condition_number is not None:
        rows.append(("cond on the row space", sig(spectrum.effective_condition_number, 5)))
    rows += [("rank", rank)]
    if spectrum.lambda_min_nonzero is not None and spectrum.lambda_min_nonzero != spectrum.lambda_min:
        rows.append(("smallest non-zero λ", sig(spectrum.lambda_min_nonzero, 5)))
    rows.append(("cond(H)", f"{sig(spectrum.hessian_condition_number, 5)}  (H = {hessian}, L = {sig(spectrum.lambda_max, 5)}, "
                            f"μ = {sig(spectrum.lambda_min, 5)})"))
    if spectrum.null_dim and spectrum.effective_hessian_condition_number is not None:
        rows.append(("cond(H) on the row space", sig(spectrum.effective_hessian_condition_number, 5)))
    rows.append(("steepest direction", f"{loadings_text(spectrum.steepest.loadings)}  (λ = {sig(spectrum.steepest.eigenvalue)})"))
    rows.append(("flattest direction", f"{loadings_text(spectrum.flattest.loadings)}  (λ = {sig(spectrum.flattest.eigenvalue)})"))
    slow = spectrum.slowest_learned
    if slow is not None and slow is not spectrum.flattest:
        rows.append(("slowest learned", f"{loadings_text(slow.loadings)}  (λ = {sig(slow.eigenvalue)})"))
    if not spectrum.exact:
        rows.append(("method", spectrum.method))
    values = np.abs(spectrum.singular_values)
    chart = sparkline(values)
    if spectrum.exact and chart.strip() and values.size >= 4:  # fewer values are all in the rows above
        positive = values[values > 0]
        label = "eigenvalues" if problem.is_quadratic else "singular values"
        rows.append(
            (
                f"log {label}",
                f"{chart}  ({sig(positive.max(), 3)} … {sig(positive.min(), 3)}"
                + (f", {int(np.sum(values == 0))} zero" if np.any(values == 0) else "")
                + ")",
            )
        )
    return [heading("Spectrum" + ("" if spectrum.exact else " (estimated)")), key_values(rows)]


ADVICE_LABELS = {"gd": "gradient descent", "heavy_ball": "heavy-ball momentum", "nesterov": "Nesterov"}


def bounds_section(bounds, problem, advice=None, verbose: bool = True) -> list:
    """The limits (printed rounded down, so every printed lr is on the safe side) and the checked advice."""
    if bounds.divergence_threshold is None:
        return [heading("Learning-rate bounds"), Text("The Hessian is zero: every learning rate is stable.")]
    rows = [
        ("divergence threshold", f"2/L = {sig(bounds.divergence_threshold, 7)}: any lr below {sig_below(bounds.divergence_threshold, 5)} "
                                 "converges, any above 2/L diverges"),
    ]
    if bounds.float32_threshold is not None:
        rows.append(("in float32", f"any lr below {sig_below(bounds.float32_threshold, 5)} converges with your data "
                                   "rounded to float32 (a guaranteed bound)" if bounds.float32_threshold > 0 else
                                   "your data exceeds float32's range: a float32 model cannot hold it"))
    if bounds.optimal is not None:
        restricted = " (μ on the row space)" if bounds.mu_is_restricted else ""
        rows += [
            ("best fixed lr", f"2/(L+μ) = {sig_below(bounds.optimal, 6)}{restricted}"),
            ("  contraction", f"(κ-1)/(κ+1) = {factor(bounds.optimal_rate, bounds.optimal_rate_gap)} per step"),
        ]
    for name, item in (advice or {}).items():
        if name == "nesterov" and not verbose:
            continue
        beta = f", momentum = {item.beta!r}" if item.beta else ""
        how = "from x0" if item.closed_form else "worst case"
        rows.append((f"advised: {ADVICE_LABELS[name]}", f"lr = {item.lr!r}{beta}: {count(item.steps_to_tol)} steps ({how}; "
                                                          f"{count(item.steps_at_optimum)} at the edge-hugging optimum)"))
    parts: list[RenderableType] = [heading("Learning-rate bounds"), key_values(rows)]
    if advice:
        parts.append(Text(f"Steps: first T with f(x_T) - f* ≤ {sig(bounds.tol, 2)}·(f(x0) - f*). Advised: 10% from the edge, "
                          "rounded down, checked in float64 and float32.", style="dim"))
    if bounds.by_convention and verbose:
        table = Table(box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
        table.add_column("loss convention")
        table.add_column("stable below", justify="right")
        table.add_column("who uses it", overflow="fold")
        for c in bounds.by_convention:
            marker = " ◀ yours" if c.current else ""
            table.add_row(f"--loss {c.loss}{marker}", sig_below(c.threshold, 5), c.used_by)
        parts.append(Padding(table, (1, 0, 0, 0)))
    elif bounds.by_convention:
        others = ", ".join(f"{c.loss} {sig_below(c.threshold, 4)}" for c in bounds.by_convention if not c.current)
        parts.append(Text(f"Stable below, under the other loss conventions: {others} (--verbose: who uses which)."))
    return parts


class FittedTable(Table):
    """A rich Table that knows which of its candidate columns it kept (:func:`fitted_table`)."""

    kept: set[str]


def fitted_table(columns, rows, width: int, optional) -> FittedTable:
    """A table of whole cells (numbers are never cut or folded) that fits ``width``: while it is wider,
    the next column named in ``optional`` is dropped. ``columns``: (name, justify); ``rows``: cell lists.
    The names of the columns kept are in ``table.kept`` (so a caption explains only what is shown)."""
    from rich.cells import cell_len

    dropped: list[str] = []
    while True:
        keep = [i for i, (name, _j) in enumerate(columns) if name not in dropped]
        table = FittedTable(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), show_edge=False)
        for i in keep:
            table.add_column(columns[i][0], justify=columns[i][1], no_wrap=True, overflow="ignore")
        for row in rows:
            table.add_row(*(row[i] for i in keep))
        with MEASURING_CONSOLE.capture() as captured:
            MEASURING_CONSOLE.print(table)
        needed = max((cell_len(line.rstrip()) for line in captured.get().splitlines()), default=0)
        if needed <= width or len(dropped) == len(optional):
            table.kept = {columns[i][0] for i in keep}
            return table
        dropped.append(optional[len(dropped)])


MEASURING_CONSOLE = Console(width=10_000, file=None, color_system=None)
"""Measures a table's natural width, whatever the output console's own width."""


def checks_section(checks, tol: float, width: int = MIN_WIDTH, floor_is_zero: bool = False) -> list:
    if not checks:
        return []
    in_float32 = any(c.float32_loss is not None for c in checks)
    columns = (("lr", "right"), ("verdict", "left"), ("lr·L/2", "right"), ("steep ×", "right"), ("flat ×", "right"),
               ("loss at T", "right")) + ((("f32 loss at T", "right"),) if in_float32 else ()) + (("steps to tol", "right"),)
    rows = []
    steps = checks[0].steps
    for c in checks:
        if c.stable:
            verdict = Text("stable" + (" (osc.)" if c.oscillating else ""), style="green")
        else:
            verdict = Text("DIVERGES", style="bold red")
        if c.predicted_loss is not None:
            loss = sig(c.predicted_loss, 5)
        elif c.predicted_loss_log10 is not None:
            loss = f"1e{c.predicted_loss_log10:.0f}" if c.predicted_loss_log10 > 300 else sig(10**c.predicted_loss_log10, 4)
        else:
            loss = "n/a"
        if c.stable and c.float32_reaches_tol is False:
            to_tol = f"{count(c.steps_to_tol)}; never in f32"
        elif c.stable:
            to_tol = count(c.steps_to_tol)
        elif c.overflow_step is not None:
            to_tol = f"never; {'1e300' if c.dtype == 'float64' else 'inf'} at {count(c.overflow_step)}"
        else:
            to_tol = "never"
        float32 = [] if not in_float32 else ["n/a" if c.float32_loss is None else sig(c.float32_loss, 5)]
        rows.append([
            sig(c.lr, 5),
            verdict,
            sig(c.ratio_to_threshold, 4),
            factor(c.contraction_steepest),
            factor(c.contraction_flattest, c.flattest_gap),
            loss,
            *float32,
            to_tol,
        ])
    table = fitted_table(columns, rows, width, optional=["steep ×", "lr·L/2", "flat ×"])
    start = checks[0].start_loss
    caption = f"T = {count(steps)} steps from a loss of {sig(start, 5)}" if start is not None else f"T = {count(steps)} steps"
    floor = checks[0].loss_floor
    if floor is not None and start is not None and not floor_is_zero:
        caption += f"; floor {sig(floor, 5)}"
    shown = [name for name in ("steep ×", "flat ×") if name in table.kept]
    if shown:
        caption += f"; ×: error factor per step ({', '.join({'steep ×': 'steepest', 'flat ×': 'flattest'}[n] for n in shown)} direction)"
    caption += f"; steps to tol: the gap to {sig(tol, 2)} of its start"
    if in_float32:
        caption += ("; f32 loss at T: gradient descent run in float32 as PyTorch runs it (the loss of its iterate, "
                    "evaluated exactly)")
    if any(c.float32_reaches_tol is False for c in checks):
        caption += "; never in f32: float32 stalls above that gap (measured)"
    parts: list[RenderableType] = [heading("Your learning rates (exact, closed form)"), table, Text(caption, style="dim")]
    reasons = {c.reason for c in checks if c.reason}
    parts += [Text(f"Loss not predicted: {r}", style="dim") for r in reasons]
    return parts


def first_sentence(text: str) -> str:
    """The first sentence of a finding's detail (the short report; --verbose prints it all)."""
    import re

    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.strip(), maxsplit=1)
    return parts[0] + (" …" if len(parts) > 1 else "")


class Snippet(str):
    """A line of code to paste: printed whole on its own line, never wrapped or cut (see :func:`print_parts`)."""


SNIPPET_INDENT = 7


def print_parts(console: Console, parts) -> None:
    """Print a report's parts in order; a :class:`Snippet` is written as one unwrapped line whatever
    the width (wrapping ``# change of variables`` onto a new line makes pasted code a syntax error)."""
    for part in parts:
        if isinstance(part, Snippet):
            console.print(Text(" " * SNIPPET_INDENT + part, style="cyan"), soft_wrap=True)
        else:
            console.print(part)


SHORT_REMEDIES = {"error": 2, "warning": 1, "info": 0}
"""Remedies shown per finding without --verbose, by severity (the JSON always has all); info-level
findings show their title only."""


def findings_section(findings, verbose: bool = False) -> list:
    """Findings, most severe first. Each remedy is printed once: a later finding that offers it again
    refers to it by its label. Snippets are printed whole, one line each, never wrapped (so they paste)."""
    parts: list[RenderableType] = [heading("Findings")]
    if not findings:
        parts.append(Text("Nothing to report."))
    labels: dict[tuple, str] = {}
    for f in findings:
        title = Text()
        title.append(f"[{f.severity.upper()}] ", style=SEVERITY_STYLE[f.severity])
        title.append(f"{f.code} ", style="bold")
        title.append(f.title, style="bold")
        parts.append(Padding(title, (1, 0, 0, 0)))
        if f.severity == "info" and not verbose:
            continue
        detail = f.detail if verbose or f.severity == "error" else first_sentence(f.detail)
        parts.append(Padding(Text(detail), (0, 0, 0, 2)))
        shown = f.remedies if verbose else f.remedies[: SHORT_REMEDIES[f.severity]]
        for remedy in shown:
            key = remedy.snippet or (remedy.title, remedy.detail)  # the same code to paste is the same remedy, however worded
            line = Text()
            if key in labels:
                line.append(f"{labels[key]} ", style="bold")
                line.append(f"{remedy.title}: " + ("the code above" if remedy.snippet else "as above"))
                parts.append(Padding(line, (0, 0, 0, 4)))
                continue
            labels[key] = f"R{len(labels) + 1}."
            line.append(f"{labels[key]} {remedy.title}: ", style="bold")
            line.append(remedy.detail)
            parts.append(Padding(line, (0, 0, 0, 4)))
            parts += [Snippet(line) for line in (remedy.snippet or "").splitlines()]
        if len(f.remedies) > len(shown):
            more = len(f.remedies) - len(shown)
            parts.append(Padding(Text(f"(+{more} more {'remedy' if more == 1 else 'remedies'}: --verbose)", style="dim"), (0, 0, 0, 4)))
    return parts


def vector_preview(x: np.ndarray, names, limit: int = 8) -> str:
    shown = [f"{names[i]} = {sig(x[i], 6)}" for i in range(min(limit, x.size))]
    if x.size > limit:
        shown.append(f"… ({x.size - limit} more; --json has all)")
    return ", ".join(shown)


def reference_section(reference, problem, floor_is_zero: bool = False) -> list:
    acc = reference.accuracy
    digits = acc.get("correct_digits")
    rows = [
        ("x*", vector_preview(reference.x, problem.column_names)),
        ("f(x*)", f"{sig(reference.loss, 6)}  (the loss floor{'; zero up to rounding' if floor_is_zero else ''})"),
        ("method", reference.method),
        (
            "accuracy",
            f"backward error {sig(acc.get('backward_error'), 2)}, forward error ≤ {sig(acc.get('forward_error_bound'), 2)}"
            + (f" (≈ {digits:.0f} correct digits)" if digits is not None else ""),
        ),
    ]
    return [heading("Exact answer"), key_values(rows)]


def minibatch_section(m, steps: int, width: int = MIN_WIDTH) -> list:
    """``analyze --batch-size``: the mean-square threshold, and per lr the noise floor and the expected gap."""
    sampling = "with replacement" if m.replacement else "distinct rows each step"
    parts: list[RenderableType] = [heading(f"Minibatch SGD: batch {count(m.batch_size)}, {sampling}")]
    rows = [("mean-square threshold", f"lr < {sig_below(m.threshold, 5)} keeps E||x - x*||² bounded "
                                      f"(GD: 2/L = {sig_below(m.full_batch_threshold, 5)})")]
    if m.lr_for_tol is not None and m.lr_for_tol_prediction is not None:
        reach = m.lr_for_tol_prediction.steps_to_target
        rows.append(("lr for tol", f"lr <= {sig(m.lr_for_tol, 3)}: floor below tol, reached in "
                                   f"{'more than 10^15' if reach is None else count(reach)} steps"))
    if not m.exact:
        rows.append(("note", f"{count(m.directions)} directions: the threshold and noise floors matrix-free; the expected "
                             f"loss at each step needs at most {m.exact_limit} directions"))
    parts.append(key_values(rows))
    if m.predictions:
        columns = ["lr", "E|e|² ×/step", "floor gap", f"gap at {count(steps)}", f"to {m.floor_factor:g}× floor", "to tol"]
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, header_style="bold")
        for name in columns:
            table.add_column(name, justify="right", no_wrap=True)
        for p in m.predictions:
            never = "—" if not p.stable or not m.exact else "never"
            table.add_row(sig(p.lr, 4), sig(p.spectral_radius, 6) if math.isfinite(p.spectral_radius) else "—",
                          ("diverges" if not p.stable else "—") if p.floor_gap is None else sig(p.floor_gap, 3),
                          sig(p.gap_at.get(steps), 3) if p.gap_at.get(steps) is not None else "—",
                          never if p.steps_to_floor is None else count(p.steps_to_floor),
                          never if p.steps_to_target is None else count(p.steps_to_target))
        parts.append(table)
        parts.append(Text("Exact expectations over the batches (the second-moment recursion): gap = E f(x) - f*; "
                          "E|e|² ×/step = the second moment's slowest factor; 'to' = steps.", style="dim"))
    return parts


def render_analysis(analysis, console: Console, verbose: bool = False) -> None:
    """``condiag analyze``. The default report is short (the loss-convention table, remedies past the
    first three per finding and info-level details need ``verbose``); the JSON always has everything."""
    problem = analysis.problem
    parts: list[RenderableType] = [Text(f"condiag analyze — {problem.source}", style="bold")]
    parts += problem_section(problem)
    parts += spectrum_section(analysis.spectrum, problem)
    if analysis.convex:
        parts += bounds_section(analysis.bounds, problem, analysis.advice, verbose)
    parts += checks_section(analysis.checks, analysis.tol, console.width, analysis.floor_is_zero)
    if analysis.convex and analysis.bounded and (problem.has_rhs or problem.is_quadratic):
        parts += reference_section(analysis.reference, problem, analysis.floor_is_zero)
    if analysis.minibatch is not None:
        parts += minibatch_section(analysis.minibatch, analysis.steps, console.width)
    parts += findings_section(analysis.findings, verbose)
    print_parts(console, parts)
    console.print()


def fmt_seconds(seconds: float) -> str:
    if seconds is None or math.isnan(seconds):
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def render_solution(problem, reference, console: Console) -> None:
    """``condiag solve``: every coefficient, the loss, the method and the stated accuracy."""
    acc = reference.accuracy
    digits = acc.get("correct_digits")
    # only the digits the stated accuracy vouches for (at least one, at most float64's 15)
    shown = 15 if digits is None else min(15, max(1, int(math.floor(digits))))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("column")
    if shown == 15:
        header = "x*"
    elif digits < 1:
        header = "x* (no digit is certain; 1 shown)"
    else:
        header = f"x* ({shown} correct digit{'s' if shown > 1 else ''} shown)"
    table.add_column(header, justify="right")
    for name, value in zip(problem.column_names, reference.x):
        table.add_row(name, f"{value:.{shown}g}")
    rows = [
        ("loss f(x*)", sig(reference.loss, 15)),
        ("residual ‖Ax* - b‖", sig(reference.residual_norm, 15) if reference.residual_norm is not None else None),
        ("method", reference.method + (f", {acc['refinement_steps']} refinement step(s)" if acc.get("refinement_steps") else "")),
        ("residuals in", acc.get("residual_precision")),
        ("backward error", sig(acc.get("backward_error"), 2)),
        ("forward error ≤", f"{sig(acc.get('forward_error_bound'), 2)}  ({acc.get('norm', 'relative')})"),
        ("correct digits", f"about {digits:.1f}" if digits is not None else "unknown (singular)"),
    ]
    if acc.get("scaled_condition_number") is not None:
        rows.insert(4, ("cond(A D⁻¹)", sig(acc["scaled_condition_number"], 4)))
    if acc.get("rank") is not None:
        rank = f"{acc['rank']} of {problem.n_cols} after column equilibration (|R_kk| > max(n,d)·eps·|R_11| of the pivoted QR)"
        if acc.get("rank_unscaled") is not None:
            rank += f"; {acc['rank_unscaled']} for A as given (σ > σmax·max(n,d)·eps, as analyze counts)"
        rows.insert(3, ("rank", rank))
    console.print(Group(Text(f"condiag solve — {problem.source}", style="bold"), heading("Solution"), table, key_values(rows)))
    if digits is not None and digits < 3:
        console.print(Text("Fewer than 3 correct digits: the problem itself cannot be answered accurately in float64.", style="bold yellow"))
    console.print()


def render_two_layer(analysis, console: Console) -> None:
    """``condiag analyze`` of W1·W2 ≈ A (:class:`condiag.two_layer_analysis.TwoLayerAnalysis`)."""
    p = analysis.problem
    best = analysis.optimum
    parts: list[RenderableType] = [Text(f"condiag analyze --model {p.objective} — {p.source}", style="bold")]
    parts += problem_section(p)
    chart = sparkline(analysis.singular_values)
    parts += [
        heading("Target and optimum"),
        key_values([
            ("σ(A)", f"{chart}  ({sig(analysis.singular_values[0], 3)} … {sig(analysis.singular_values[-1], 3)})"),
            ("cond(A)", sig(analysis.condition_number, 4)),
            ("loss at the start", sig(analysis.start_loss, 4)),
            ("loss floor f*", f"{sig(best.loss, 4)}  (rank-{p.K} truncated SVD of A·L, Eckart–Young)"),
            ("σ(M*) kept", ", ".join(sig(v, 3) for v in best.singular_values[:8]) + (" …" if best.singular_values.size > 8 else "")),
        ]),
        heading("Curvature and learning rate"),
        key_values([
            ("λmax at the start", f"{sig(analysis.lambda_init, 4)}  (measured {sig(analysis.lambda_init_measured, 4)})  → GD needs lr < {sig_below(analysis.threshold_init, 3)}"),
            ("λmax at the minimum", f"{sig(analysis.lambda_minimum, 4)}  (measured {sig(analysis.lambda_minimum_measured, 4)})  → GD needs lr < {sig_below(analysis.threshold_minimum, 3)}"),
            ("recommended lr", sig_below(analysis.recommended_lr, 3)),
            ("steps at that lr", (f"{count(analysis.steps_simulated)} from the start (simulated)" if analysis.steps_simulated is not None
                                  else "more than the simulated 200,000 from the start")
             + f"; near the minimum {count(analysis.steps_at_recommended)} for the slowest component (σ₁/σ_K = {sig(analysis.slowdown, 3)})"),
            ("weights must travel", f"{sig(analysis.distance, 3)} (balanced minimum vs the init scale)"),
        ]),
    ]
    if analysis.checks:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for name in ("lr", "GD at the start", "GD near the minimum", "Adam: steps at least"):
            table.add_column(name, justify="right" if name != "lr" else "right")
        for c in analysis.checks:
            table.add_row(sig(c.lr, 3), Text("stable" if c.stable_at_init else "DIVERGES", style="green" if c.stable_at_init else "bold red"),
                          Text("stable" if c.stable_at_minimum else "DIVERGES", style="green" if c.stable_at_minimum else "bold red"),
                          count(c.adam_min_steps))
        parts += [heading("Your learning rates"), table]
    parts += findings_section(analysis.findings)
    print_parts(console, parts)
    console.print()


def render_logistic(a, console: Console, verbose: bool = False) -> None:
    """``condiag analyze --objective logistic``: curvature at the start and at x*, the lr bounds, x*, findings."""
    m, r = a.model, a.reference
    parts: list[RenderableType] = [Text(f"condiag analyze — {m.source} (logistic regression)", style="bold")]
    parts.append(heading("Problem"))
    parts.append(key_values([
        ("data", f"{count(m.A.shape[0])} rows × {count(m.A.shape[1])} columns, labels ±1"),
        ("loss", ("Σ log(1 + exp(-s·aᵀx))" if m.scale == 1.0 else "mean log(1 + exp(-s·aᵀx)) (BCEWithLogitsLoss)")
         + (f" + {sig(m.ridge, 4)}·||x||²" if m.ridge else "")),
    ]))
    parts.append(heading("Curvature and learning rates"))
    rows = [("global bound", f"L = c·λmax(AᵀA)/4 + 2λ = {sig(a.global_L, 5)}: any lr < 2/L = {sig_below(a.safe_lr, 5)} converges "
                             "from any start"),
            ("at the start", f"λmax = {sig(a.at_start.lambda_max, 4)}, λmin = {sig(a.at_start.lambda_min, 4)}, "
                             f"cond = {sig(a.at_start.condition_number, 3)}")]
    if a.at_optimum is not None:
        rows.append(("at x*", f"λmax = {sig(a.at_optimum.lambda_max, 4)}, λmin = {sig(a.at_optimum.lambda_min, 4)}, "
                              f"cond = {sig(a.at_optimum.condition_number, 3)}"))
        rows.append(("near x*", f"stable for lr < 2/λmax(H*) = {sig_below(a.local_lr, 5)}; best contraction "
                                f"{factor(a.local_rate)} per step"))
    for lr, verdict in a.lr_checks:
        rows.append((f"lr = {sig(lr, 4)}", verdict))
    parts.append(key_values(rows))
    parts.append(heading("Reference answer"))
    if r.x is None:
        parts.append(Text(r.message))
    else:
        parts.append(key_values([("x*", vector_preview(r.x, m.column_names)), ("f(x*)", sig(r.loss, 8)),
                                 ("method", f"{r.message}; error bound {sig(r.error_bound, 2)} "
                                            f"(about {r.correct_digits:.0f} correct digits)")]))
    parts += findings_section(a.findings, verbose)
    print_parts(console, parts)
    console.print()
