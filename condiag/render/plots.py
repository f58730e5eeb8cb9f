"""Plots (matplotlib, imported only here, Agg backend): loss gap per iteration, and the
contours of f with each solver's path for two-variable problems, drawn to scale."""

from __future__ import annotations

import os

import numpy as np

from ..errors import UsageError

FORMATS = (".png", ".svg", ".pdf")


def _pyplot(path: str):
    """(matplotlib.pyplot with the Agg backend, the file's extension); a usage error for another extension."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise UsageError(f"--plot {path}: use a .png, .svg or .pdf file name")
    import logging

    # A read-only HOME makes matplotlib log a cache-directory warning on import: not the user's concern.
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt, ext


def _save(plt, fig, path: str, ext: str) -> None:
    """Render the figure in memory, then write it atomically (a failed render leaves no file)."""
    import io

    from ..output import write_atomic

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, dpi=120, format=ext[1:])
    finally:
        plt.close(fig)
    write_atomic(path, buffer.getvalue())


def plot_comparison(comparison, path: str) -> None:
    """Write the comparison figure to ``path`` (.png, .svg or .pdf by extension)."""
    plt, ext = _pyplot(path)
    two_d = comparison.problem.n_cols == 2
    fig, axes = plt.subplots(1, 2 if two_d else 1, figsize=(13 if two_d else 7.5, 5.2), squeeze=False)
    gap_axis = axes[0, 0]
    floor = comparison.reference.loss
    start_gap = max(comparison.problem.value(comparison.x0) - floor, 1e-300)
    bottom = start_gap * 1e-20  # gaps at or below this (zero included) are drawn on the axis floor
    colours = [plt.get_cmap("tab20")(i) for i in range(0, 20, 2)] + [plt.get_cmap("tab20")(i) for i in range(1, 20, 2)]
    styles = _styles(comparison.results, colours)
    for result, metric, (colour, line) in zip(comparison.results, comparison.metrics, styles):
        if result.status == "skipped" or result.history.iterations.size == 0:
            continue
        its = result.history.iterations.astype(float) + 1.0
        gaps = result.history.loss - floor
        gaps = np.where(np.isfinite(gaps), np.maximum(gaps, bottom), np.nan)
        label = f"{result.label} ({result.status}{', exact' if result.exact else ''})"
        gap_axis.plot(its, gaps, label=label, color=colour, ls=line, lw=1.6, marker="." if its.size < 30 else None)
    gap_axis.set_xscale("log")
    gap_axis.set_yscale("log")
    gap_axis.set_xlabel("iteration + 1")
    gap_axis.set_ylabel("loss gap  f(x) − f*")
    gap_axis.set_title("Distance to the floor")
    gap_axis.set_ylim(bottom=bottom / 3)
    gap_axis.axhline(bottom, color="grey", lw=0.6, ls=":")
    gap_axis.text(1.0, bottom, " gap ≤ 1e-20 × start (or 0)", fontsize=7, color="grey", va="bottom")
    gap_axis.grid(True, which="major", alpha=0.3)
    gap_axis.legend(fontsize=8)
    if two_d:
        _contours(axes[0, 1], comparison, colours)
    fig.suptitle(f"condiag compare — {comparison.problem.source}", fontsize=10)
    fig.tight_layout()
    _save(plt, fig, path, ext)


LINE_STYLES = ("-", "--", ":", "-.")


def _styles(results, colours) -> list[tuple]:
    """(colour, line style) per result: a colour per solver, a line style per swept setting of it (grouped)."""
    solvers = list(dict.fromkeys(r.solver for r in results))
    seen: dict = {}
    out = []
    for r in results:
        k = seen.get(r.solver, 0)
        seen[r.solver] = k + 1
        out.append((colours[solvers.index(r.solver) % len(colours)], LINE_STYLES[k % len(LINE_STYLES)]))
    return out


def plot_trace(report, path: str) -> None:
    """Write the trace figure: each run's loss against its step (log scale), the fitted curve dashed, the
    predicted one dotted when a problem was given, phases shaded, the first non-finite record marked."""
    plt, ext = _pyplot(path)
    fig, axis = plt.subplots(figsize=(8, 5))
    colours = [plt.get_cmap("tab10")(i) for i in range(10)]
    for i, (run, comparison) in enumerate(zip(report.runs, report.comparisons)):
        colour = colours[i % len(colours)]
        steps, loss = run.log.steps, run.log.loss
        shown = np.where(np.isfinite(loss) & (loss > 0), loss, np.nan)
        axis.plot(steps, shown, color=colour, lw=1.0, alpha=0.75, label=f"{run.log.label}: {run.verdict.value}")
        if run.fit is not None:
            grid = np.linspace(run.fit.first_step, run.fit.last_step, 400)
            axis.plot(grid, run.fit.value(grid), color="black" if len(report.runs) == 1 else colour, lw=1.6, ls="--", zorder=3,
                      label="fitted: floor + Σ c·r^t")
        if run.spikes:
            axis.scatter([sp.step for sp in run.spikes], [float(np.interp(sp.step, steps, shown)) for sp in run.spikes],
                         marker="x", color="red", zorder=4, label="spikes")
        if comparison is not None:
            axis.plot(comparison.steps, comparison.stated.predicted, color="grey", lw=1.4, ls=":", zorder=3,
                      label=f"predicted: {comparison.stated.description}")
            if comparison.best is not comparison.stated:
                axis.plot(comparison.steps, comparison.best.predicted, color="green", lw=1.2, ls="-.", zorder=3,
                          label=f"follows: {comparison.best.description}")
        if run.nonfinite_step is not None:
            axis.axvline(run.nonfinite_step, color=colour, lw=0.8, ls="-.")
            axis.text(run.nonfinite_step, np.nanmax(shown) if np.isfinite(shown).any() else 1.0, f" {run.nonfinite_value}", color=colour,
                      fontsize=8, va="top")
        if len(run.phases) > 1:
            for k, phase in enumerate(run.phases):
                if k % 2:
                    axis.axvspan(phase.first_step, phase.last_step, color=colour, alpha=0.07)
                axis.text(phase.first_step, 1.0, f" {phase.kind}", transform=axis.get_xaxis_transform(), fontsize=7,
                          color="grey", va="top")
    axis.set_yscale("log")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.grid(True, which="major", alpha=0.3)
    axis.legend(fontsize=8)
    fig.suptitle("condiag trace", fontsize=10)
    fig.tight_layout()
    _save(plt, fig, path, ext)


def _contours(axis, comparison, colours) -> None:
    problem = comparison.problem
    x_star = comparison.reference.x
    points = [x_star, comparison.x0]
    for result in comparison.results:
        path = result.history.path
        if path is not None and path.size:
            finite = path[np.all(np.isfinite(path), axis=1)]
            finite = finite[np.all(np.abs(finite - x_star) < 1e3 * (np.abs(comparison.x0 - x_star).max() + 1), axis=1)]
            points.extend(finite)
    points = np.array(points)
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = max(float((hi - lo).max()), 1e-12)
    centre = (lo + hi) / 2
    half = 0.6 * span
    xs = np.linspace(centre[0] - half, centre[0] + half, 300)
    ys = np.linspace(centre[1] - half, centre[1] + half, 300)
    X, Y = np.meshgrid(xs, ys)
    grid = np.stack([X.ravel(), Y.ravel()], axis=1)
    values = np.array([problem.value(p) for p in grid]).reshape(X.shape) - comparison.reference.loss
    levels = np.unique(np.quantile(np.maximum(values, 1e-300), np.linspace(0.002, 0.98, 18)))
    axis.contour(X, Y, values, levels=levels, cmap="Greys", linewidths=0.7)
    for result, (colour, line) in zip(comparison.results, _styles(comparison.results, colours)):
        path = result.history.path
        if path is None or not path.size:
            continue
        finite = path[np.all(np.isfinite(path), axis=1)]
        axis.plot(finite[:, 0], finite[:, 1], marker="o", ls=line, ms=2.5, lw=1.2, color=colour, label=result.label)
    axis.plot(*x_star, marker="*", ms=14, color="gold", mec="black", label="x*", ls="none")
    axis.plot(*comparison.x0, marker="s", ms=7, color="black", label="x0", ls="none")
    axis.set_xlim(xs[0], xs[-1])
    axis.set_ylim(ys[0], ys[-1])
    axis.set_aspect("equal")
    names = problem.column_names
    axis.set_xlabel(names[0])
    axis.set_ylabel(names[1])
    axis.set_title("Contours of f and each solver's path (to scale)")
    axis.legend(fontsize=8, loc="best")
