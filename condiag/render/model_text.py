"""The terminal report of ``condiag model``. Formats a :class:`~condiag.net.report.ModelAnalysis`; computes nothing."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..numbers import count, sig
from .text import findings_section, heading, key_values, print_parts


def render_model(a, console: Console, verbose: bool = False) -> None:
    console.print(Text(f"condiag model — {a.source}", style="bold"))
    s = a.spectrum
    rows = [("weights", a.weights or "the factory's own initialisation (seeded)"),
            ("data", f"{a.data}: {count(a.n_samples)} samples" + (f" (a batch of {count(a.batch_size)}, seed {a.seed})"
                                                                     if a.batch_size else "")),
            ("loss", f"{a.loss_name} (reduction='{a.reduction}') = {sig(a.loss, 6)}, ‖∇‖ = {sig(a.gradient_norm, 3)}"),
            ("parameters", f"{count(a.n_parameters)} ({a.dtype})")]
    parts = [heading("Model"), key_values(rows), heading("Curvature of the loss (Hessian, Lanczos)")]
    curvature = [("sharpness λmax", f"{sig(s.largest, 6)} (certified lower bound; an eigenvalue within "
                                    f"{sig(float(s.residuals[-1]), 2)})"),
                 ("λmin", f"{sig(s.smallest, 4)} (within {sig(float(s.residuals[0]), 2)})"),
                 ("largest Ritz values", ", ".join(sig(float(v), 4) for v in s.values[::-1][: a.top])),
                 ("steps", f"{s.iterations} Lanczos steps, {count(a.products)} Hessian-vector products in all")]
    if a.trace is not None:
        curvature.append(("trace (Hutchinson)", f"{sig(a.trace.mean, 4)} ± {sig(a.trace.standard_error, 2)} "
                                                f"(standard error, {a.trace.probes} probes)"))
    if a.preconditioned is not None:
        curvature.append(("Adam: λmax(P⁻¹H)", f"{sig(a.preconditioned.largest, 4)} (P = √v̂ + ε from the optimizer state)"))
    if a.advised_lr is not None:
        curvature.append(("largest safe lr", f"2/λmax ≤ {sig(2 / s.largest, 4)}; advised lr = {a.advised_lr:.4g} (10% inside "
                                             "2/(λmax + residual), rounded down, checked)"))
    parts.append(key_values(curvature))
    if len(a.blocks) > 1:
        parts.append(heading("By block (the diagonal block of H for each module)"))
        table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
        for name in ("block", "parameters", "λmax"):
            table.add_column(name)
        for b in a.blocks:
            table.add_row(b.name, count(b.stop - b.start), sig(b.ritz.largest, 4))
        parts.append(table)
    if a.checks:
        parts.append(heading("Your learning rates"))
        table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), header_style="bold")
        for name in ("lr", "sharpness·lr/2", "Adam: λmax(P⁻¹H)/threshold"):
            table.add_column(name)
        for c in a.checks:
            table.add_row(sig(c.lr, 4), f"{sig(c.ratio, 3)}–{sig(c.ratio_high, 3)}",
                          "—" if c.preconditioned_ratio is None else sig(c.preconditioned_ratio, 3))
        parts.append(table)
        parts.append(Text("Above 1: unstable (gradient descent overshoots along the sharpest direction). Adam's threshold: "
                          "(2 + 2β1)/((1 − β1)·lr).", style="dim"))
    parts += findings_section(a.findings, verbose)
    print_parts(console, parts)
