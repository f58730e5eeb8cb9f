"""Terminal rendering of a comparison: the table, then one verdict per solver."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.text import Text

from ..numbers import count, sig, sig_below
from .text import (
    fitted_table,
    fmt_seconds,
    heading,
    key_values,
    problem_section,
    vector_preview,
)

STATUS_STYLE = {
    "converged": "green",
    "max_iter": "yellow",
    "stalled": "yellow",
    "unbounded": "bold red",
    "diverged": "bold red",
    "skipped": "dim",
    "failed": "bold red",
}


def render_comparison(comparison, console: Console) -> None:
    problem = comparison.problem
    reference = comparison.reference
    settings = comparison.settings
    parts: list[RenderableType] = [Text(f"condiag compare — {problem.source}", style="bold")]
    parts += problem_section(problem)
    parts += [
        heading("Reference (exact)"),
        key_values(
            [
                ("x*", vector_preview(reference.x, problem.column_names)) if comparison.spectrum is not None else
                ("W1·W2", "the balanced rank-K minimum (weights are not unique; 'x error' compares the product W1·W2)"),
                ("f(x*)", f"{sig(reference.loss, 6)}  (the floor: no solver can go below it)"),
                ("method", reference.method),
                ("cond(H)", f"{sig(comparison.spectrum.hessian_condition_number, 4)}; GD converges for any lr below "
                            f"{sig_below(comparison.bounds.divergence_threshold, 5)}")
                if comparison.spectrum is not None else
                ("curvature", f"λmax ≈ {sig(comparison.bounds.L, 3)} (start or minimum); lr=auto uses {sig(comparison.bounds.optimal, 3)}"),
                ("budget", f"{count(settings.max_iter)} iterations"
                 + (f", {settings.time_limit:g} s per solver" if settings.time_limit else "")
                 + f"; converged when f(x) - f* <= {sig(settings.tol, 2)} × (f(x0) - f*)"
                 + (f"; simulated in {settings.dtype}" if settings.dtype != "float64" else "")),
            ]
        ),
    ]
    columns = (("solver", "left"), ("status", "left"), ("iters", "right"), ("loss", "right"), ("gap", "right"),
                ("x error", "right"), ("time", "right"))
    rows = []
    for result, metric in zip(comparison.results, comparison.metrics):
        rows.append([
            result.label,
            Text(result.status, style=STATUS_STYLE.get(result.status, "")),
            (count(result.diverged_at if result.status == "diverged" and result.diverged_at else result.iterations) + ("*" if result.exact else " "))
            if result.status != "skipped" else "-",
            sig(result.final_loss, 3) if result.final_loss is not None else ("overflow" if result.status == "diverged" else "-"),
            sig(metric.loss_gap, 3) if metric.loss_gap is not None else "-",
            sig(metric.x_rel_error, 2) if metric.x_rel_error is not None else (sig(metric.product_rel_error, 2) if metric.product_rel_error is not None else "-"),
            fmt_seconds(result.seconds) if result.status != "skipped" else "-",
        ])
    table = fitted_table(columns, rows, console.width, optional=["time", "loss"])
    parts += [heading("Solvers"), table]
    error_words = "‖W1·W2 - M*‖ / ‖M*‖" if comparison.spectrum is None else "‖x - x*‖ / ‖x*‖"
    ran = [r for r in comparison.results if r.status not in ("skipped", "failed")]
    in_float64 = list(dict.fromkeys(r.solver for r in ran if r.dtype != settings.dtype))
    where = f"iterated in {settings.dtype}" + (f" except {', '.join(in_float64)} (float64: no {settings.dtype} mode)"
                                                if in_float64 else "")
    starred = (f"* computed in closed form (exact), not iterated; the others were {where}. "
               if any(r.exact for r in comparison.results) else f"{where[0].upper()}{where[1:]}. ")
    floor_words = "f(x) - f(stationary point); f has no minimum" if comparison.no_minimum else "f(x) - f*"
    parts.append(Text(f"{starred}loss = final f(x); gap = {floor_words}; x error = {error_words}.", style="dim"))
    if comparison.libraries:
        parts += libraries_section(comparison.libraries, console.width)
    if comparison.held_out is not None:
        parts += held_out_section(comparison.held_out, console.width)
    if comparison.best:
        parts.append(Text("Best setting: " + "; ".join(f"{name} {setting}" for name, setting in comparison.best.items())
                          + " (converged in the fewest iterations, else the smallest final loss).", style="bold"))
    if any(m.null_space_rel_error is not None and m.null_space_rel_error > 1e-3 for m in comparison.metrics):
        parts.append(Text("A is rank deficient: error in its null space changes the weights but not the loss.", style="dim"))
    parts.append(heading("Verdicts"))
    for metric in comparison.metrics:
        parts.append(Padding(Text(metric.verdict), (0, 0, 0, 2)))
    if comparison.interrupted:
        parts.append(Text("\nInterrupted: the solvers after the last one shown did not run.", style="bold yellow"))
    console.print(Group(*parts))
    console.print()


def held_out_section(h, width: int) -> list:
    """Test loss and MAE of x*, each solver's answer and the regularised answers (GCV's pick and the test's own)."""
    rows = [[h.reference.label, sig(h.reference.test_loss, 4), sig(h.reference.test_mae, 4), sig(h.reference.x_norm, 3)]]
    for score in (*h.solvers, *h.libraries):
        if score is not None:
            rows.append([score.label, sig(score.test_loss, 4), sig(score.test_mae, 4), sig(score.x_norm, 3)])
    names = {"ridge": "λ", "truncated SVD": "k"}
    for path in h.paths:
        symbol = names.get(path.kind, "t")
        shown = (lambda v: sig(v, 3)) if symbol == "λ" else count
        if path.by_gcv is not None:
            p = path.by_gcv
            rows.append([f"{path.kind}, GCV: {symbol} = {shown(p.parameter)}", sig(p.test_loss, 4), sig(p.test_mae, 4), ""])
        p = path.by_test
        rows.append([f"{path.kind}, best on test: {symbol} = {shown(p.parameter)}", sig(p.test_loss, 4), sig(p.test_mae, 4), ""])
    columns = (("answer", "left"), ("test loss", "right"), ("test MAE", "right"), ("‖x‖", "right"))
    return [heading(f"Held-out data: {h.source} ({count(h.n_test)} rows)"), fitted_table(columns, rows, width, optional=["‖x‖"]),
            Text("GCV picks from the training data alone; 'best on test' is chosen on the test set itself (an oracle). "
                 "Early stopping: the gd iterate at step t, in closed form.", style="dim")]


def libraries_section(estimates, width: int) -> list:
    """What each library computes on this data, and how far that is from x*."""
    rows = [[e.name, "-" if e.rank is None else count(e.rank), sig(e.train_loss, 4), sig(e.x_rel_error, 2)] for e in estimates]
    columns = (("estimator", "left"), ("kept σ", "right"), ("train loss", "right"), ("‖x - x*‖/‖x*‖", "right"))
    parts: list[RenderableType] = [heading("What the libraries compute on this data"), fitted_table(columns, rows, width, optional=["kept σ"])]
    parts += [Text(f"{e.name}: {e.convention}.", style="dim") for e in estimates]
    return parts
