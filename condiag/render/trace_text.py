"""The terminal report of ``condiag trace`` (rich). Formats the numbers of a
:class:`~condiag.trace.report.TraceReport`; computes nothing."""

from __future__ import annotations

from typing import Literal

import numpy as np
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from ..numbers import count, sig, sig_below
from .text import findings_section, heading, key_values, print_parts, sparkline


def _steps(value) -> str:
    return "never (more than 10^18)" if value is None else count(value)


def _run_rows(run) -> list:
    rows: list[tuple[str, str | Text]] = [("records", f"{count(run.log.n_records)}, steps {count(run.log.steps[0])}–{count(run.log.steps[-1])}"
             if run.log.n_records else "none")]
    if run.analysed_from is not None:
        rows.append(("analysed", f"steps {count(run.analysed_from)}–{count(run.analysed_to)}, loss {sig(run.first_loss, 4)} → "
                                 f"{sig(run.last_loss, 4)}"))
    rows.append(("verdict", Text(run.verdict.value, style="bold")))
    if run.lr is not None:
        rows.append(("lr", f"{sig(run.lr, 6)} (from {run.lr_source})"))
    if run.nonfinite_step is not None:
        rows.append(("not finite", f"{run.nonfinite_value} at step {count(run.nonfinite_step)}" +
                     ("" if run.nonfinite_persistent else f" ({run.nonfinite_count} isolated record(s), skipped)")))
    if run.tail is not None:
        t = run.tail
        rows.append(("loss factor/step (tail)", f"{sig(t.factor, 7)} (95%: {sig(t.low, 7)}–{sig(t.high, 7)}), steps "
                                               f"{count(t.first_step)}–{count(t.last_step)}"))
    if run.divergence is not None and run.divergence.curvature is not None:
        rows.append(("implied curvature", f"λ = (1 + √g)/lr = {sig(run.divergence.curvature, 4)}; stable lr < "
                                          f"{sig_below(run.divergence.max_stable_lr, 4)}"))
    if run.level is not None:
        rows.append(("level", f"{sig(run.level, 5)}" + (f" ± {sig(100 * run.scatter, 2)}%" if run.scatter else "")))
    if run.power is not None:
        rows.append(("power law", f"loss ≈ {sig(run.power.amplitude, 4)}·(t + {sig(run.power.offset, 3)})^-{sig(run.power.exponent, 4)}"
                                  f" (± {sig(1.96 * run.power.exponent_se, 2)})"))
    if run.verdict.value in ("converging", "crawling", "sublinear"):
        rows.append((f"steps to tol {sig(run.tol, 2)}", _steps(run.steps_to_tol) + " more"))
    if run.reached_tol_step is not None:
        rows.append((f"reached tol {sig(run.tol, 2)}", f"at step {count(run.reached_tol_step)}"))
    if run.sharpness is not None:
        t = run.sharpness
        rows.append(("sharpness λmax", f"{sig(t.last, 4)} at step {count(t.last_step)}" +
                     (f"; λmax·lr/2 = {sig(t.edge_ratio_last, 3)} (max {sig(t.edge_ratio_max, 3)})" if t.edge_ratio_last is not None else "")))
    if run.condition_bound is not None and run.verdict.value in ("converging", "crawling"):
        rows.append(("condition number", f"< {sig(run.condition_bound, 3)} (stable at this lr, slowest direction flat)"))
    return rows


def _factors_table(run) -> Table | None:
    fit = run.fit
    if fit is None or not fit.components:
        return None
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
    table.add_column("factor r/step", justify="right", no_wrap=True)
    table.add_column("± (95%)", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    with_lr = run.lr is not None
    if with_lr:
        table.add_column("λ if flat (1-√r)/lr", justify="right", no_wrap=True)
        table.add_column("λ if steep (1+√r)/lr", justify="right", no_wrap=True)
    visited = {v.factor: v for v in run.visited}
    total = sum(c.amplitude for c in fit.components) or 1.0
    for c in fit.components:
        row = [sig(c.factor, 7), sig(1.96 * c.factor_se, 2), f"{100 * c.amplitude / total:.3g}%"]
        if with_lr:
            v = visited.get(c.factor)
            row += [sig(v.lambda_flat, 5), sig(v.lambda_steep, 5)] if v else ["growing", "—"]
        table.add_row(*row)
    return table


def render_trace(report, console: Console, verbose: bool = False) -> None:
    """``condiag trace``: per run, what the log does and its evidence; then the findings."""
    parts: list[RenderableType] = [Text("condiag trace", style="bold")]
    if len(report.runs) > 1:
        parts.append(heading("Runs"))
        table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
        columns: tuple[tuple[str, Literal["left", "right"]], ...] = (("run", "left"), ("verdict", "left"), ("lr", "right"),
                                                                     ("last loss", "right"), ("factor/step", "right"))
        for name, justify in columns:
            table.add_column(name, justify=justify, overflow="fold" if name == "run" else "ellipsis", no_wrap=name != "run")
        for run in report.runs:
            table.add_row(run.log.label, run.verdict.value, sig(run.lr, 4) if run.lr is not None else "—",
                          sig(run.last_loss, 4) if run.last_loss is not None else "—",
                          sig(run.tail.factor, 6) if run.tail is not None else "—")
        parts.append(table)
        if report.scaling is not None:
            s = report.scaling
            parts.append(Text(f"Plateau height against lr: level ∝ lr^{sig(s.exponent, 3)}; the line level = f* + a·lr gives "
                              f"f* = {sig(s.intercept, 4)}, a = {sig(s.slope, 4)}"
                              + (" (minibatch noise scales like lr)." if 0.5 <= s.exponent <= 1.5 else ".")))
    for run, comparison in zip(report.runs, report.comparisons):
        parts.append(heading(run.log.label))
        parts.append(key_values(_run_rows(run)))
        finite = run.log.loss[np.isfinite(run.log.loss)]
        if finite.size > 1:
            parts.append(Text(f"log10 loss  {sparkline(finite, 60)}", style="dim"))
        factors = _factors_table(run)
        if factors is not None:
            parts.append(Text(f"Fitted curve: floor {sig(run.fit.floor, 4)} + Σ c·r^t (misfit {sig(100 * run.fit.residual, 2)}%)", style="bold"))
            parts.append(factors)
        if comparison is not None:
            floor = "0 (to rounding)" if comparison.floor_is_zero else sig(comparison.floor, 5)
            parts.append(Text(f"Against {comparison.problem_source}", style="bold"))
            parts.append(key_values([("assumed", f"{comparison.loss} loss, lr {sig(comparison.lr, 4)}, x0 {comparison.x0_source}"),
                                     ("predicted", f"f(x0) = {sig(comparison.start_loss, 5)}, f* = {floor}")]))
            rows = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
            rows.add_column("prediction", overflow="fold")
            rows.add_column("records within 1%", justify="right", no_wrap=True)
            rows.add_column("departs at step", justify="right", no_wrap=True)
            for k in comparison.candidates:
                rows.add_row(k.description, f"{100 * k.agreement:.1f}%", "—" if k.departs_at is None else count(k.departs_at))
            parts.append(rows)
        parts += findings_section(run.findings, verbose=True)
        if run.notes and verbose:
            parts.append(Text("Notes: " + "; ".join(run.notes), style="dim"))
    print_parts(console, parts)
    console.print()
