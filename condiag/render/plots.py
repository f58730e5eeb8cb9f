"""Plots (matplotlib, imported only here, Agg backend): loss gap per iteration, and the
contours of f with each solver's path for two-variable problems, drawn to scale."""

from __future__ import annotations

import os
import re

import numpy as np

from ..errors import UsageError

FORMATS = (".png", ".svg", ".pdf")


def _extension(path: str) -> str:
    """The plot file's extension; a usage error for one matplotlib is not asked to write."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise UsageError(f"plot {path}: use a .png, .svg or .pdf file name", option="plot")
    return ext


def _pyplot():
    """matplotlib.pyplot with the Agg backend (imported here only)."""
    import logging

    # A read-only HOME makes matplotlib log a cache-directory warning on import: not the user's concern.
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _render(fig, fmt: str) -> bytes:
    """The figure as bytes of ``fmt`` (png, svg, pdf); the figure is closed."""
    import io

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, dpi=120, format=fmt)
    finally:
        _pyplot().close(fig)
    return buffer.getvalue()


def _save(fig, path: str) -> None:
    """Render the figure in memory, then write it atomically (a failed render leaves no file)."""
    from ..output import write_atomic

    write_atomic(path, _render(fig, _extension(path)[1:]))


def svg(fig) -> str:
    """The figure as an SVG document (text), for an HTML report; the figure is closed."""
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "condiag"}):  # text stays text; stable ids
        text = _render(fig, "svg").decode("utf-8")
    text = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG is inlined in HTML
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text, count=1, flags=re.DOTALL)  # RDF with the date: not needed



def comparison_figure(comparison):
    """The loss gap of every solver per iteration (log-log), and for two variables the paths on the contours."""
    plt = _pyplot()
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
    return fig


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



def trace_figure(report):
    """Each run's loss against its step (log scale), the fitted curve dashed, the predicted one dotted when a
    problem was given, phases shaded, the first non-finite record marked."""
    plt = _pyplot()
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
    return fig


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
    cloud = np.array(points)
    lo, hi = cloud.min(axis=0), cloud.max(axis=0)
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



def analysis_figure(analysis):
    """What ``analyze`` computed, to look at: the Hessian's eigenvalues against each lr's limit 2/lr (an
    eigenvalue above an lr's line diverges at that lr), and each lr's exact loss gap per step (log-log); None
    when there is neither a full spectrum nor a loss curve to draw (the iterative path without b)."""
    eigenvalues = analysis.spectrum.hessian_eigenvalues
    curves = [c for c in analysis.checks if c.curve_steps is not None]
    if eigenvalues is None and not curves:
        return None
    plt = _pyplot()
    panels = (eigenvalues is not None) + bool(curves)
    fig, axes = plt.subplots(1, panels, figsize=(6.2 * panels, 4.4), squeeze=False)
    colours = [plt.get_cmap("tab10")(i) for i in range(10)]
    k = 0
    if eigenvalues is not None:
        axis = axes[0, k]
        k += 1
        shown = np.where(eigenvalues > 0, eigenvalues, np.nan)
        index = np.arange(1, eigenvalues.size + 1)
        axis.plot(index, shown, "o" if eigenvalues.size <= 60 else "-", color="black", ms=4, lw=1.2, label="Hessian eigenvalues λ")
        for i, check in enumerate(analysis.checks):
            axis.axhline(2.0 / check.lr, color=colours[i % 10], ls="--", lw=1.1,
                         label=f"2/lr, lr = {check.lr:.4g} ({'stable' if check.stable else 'diverges'})")
        axis.set_yscale("log")
        axis.set_xlabel("eigenvalue number (steepest first)")
        axis.set_ylabel("curvature λ")
        axis.set_title("Curvature against each lr's limit (λ above 2/lr diverges)", fontsize=9)
        if eigenvalues.size <= 60:
            axis.set_xticks(index if eigenvalues.size <= 12 else index[:: max(1, eigenvalues.size // 10)])
        axis.grid(True, which="major", alpha=0.3)
        axis.legend(fontsize=7)
    if curves:
        axis = axes[0, k]
        for i, check in enumerate(analysis.checks):
            if check.curve_steps is None:
                continue
            with np.errstate(over="ignore"):
                log10_gap = check.curve_log_gap / np.log(10.0)
            finite = np.isfinite(log10_gap)
            axis.plot(check.curve_steps[finite] + 1.0, log10_gap[finite], color=colours[i % 10], lw=1.5,
                      label=f"lr = {check.lr:.4g}")
            if check.steps_to_tol:
                axis.axvline(check.steps_to_tol + 1.0, color=colours[i % 10], lw=0.7, ls=":")
        start = next((c.curve_log_gap[0] for c in curves if np.isfinite(c.curve_log_gap[0])), None)
        if start is not None:
            start10 = start / np.log(10.0)
            level = start10 + np.log10(analysis.tol)
            axis.axhline(level, color="grey", lw=0.8, ls="--")
            axis.text(1.0, level, f" tol = {analysis.tol:g} of the start", fontsize=7, color="grey", va="bottom")
            if any(not c.stable for c in curves):  # a diverging curve would flatten the others: it leaves the top
                lows = [np.min(c.curve_log_gap[np.isfinite(c.curve_log_gap)]) / np.log(10.0) for c in curves
                        if np.isfinite(c.curve_log_gap).any()]
                axis.set_ylim(min(min(lows), level) - 1.0, start10 + 6.0)
        axis.set_xscale("log")
        axis.set_xlabel("step + 1")
        axis.set_ylabel("log10 (f(x) − f*)")
        axis.set_title("Loss gap per step, exact (closed form; dotted: reaches tol)", fontsize=9)
        axis.grid(True, which="major", alpha=0.3)
        axis.legend(fontsize=7)
    fig.suptitle(f"condiag analyze — {analysis.problem.source}", fontsize=10)
    fig.tight_layout()
    return fig


def function_figure(analysis):
    """``analyze --function`` / ``compare --function``: for one variable f with each run's path on it, for two the contours with the paths,
    else f per step of each run (log scale when f stays positive)."""
    plt = _pyplot()
    f = analysis.function
    runs = analysis.paths
    colours = [plt.get_cmap("tab10")(i) for i in range(10)]
    labels = [f"{p.label}: {p.ending.kind}" for p in runs]
    fig, axis = plt.subplots(figsize=(7.5, 5))
    points = [p.points[np.all(np.isfinite(p.points), axis=1)] for p in runs]
    if f.n <= 2:
        cloud = np.vstack([analysis.x0[None, :], *[q for q in points if q.size]])
        cloud = cloud[np.all(np.abs(cloud) < 1e6, axis=1)]
        low, high = cloud.min(axis=0), cloud.max(axis=0)
        pad = np.maximum(0.15 * (high - low), 1.0)
        low, high = low - pad, high + pad
    if f.n == 1:
        grid = np.linspace(low[0], high[0], 600)
        axis.plot(grid, [f.value(np.array([v])) for v in grid], color="black", lw=1.2, label="f(x)")
        for i, (q, label) in enumerate(zip(points, labels)):
            inside = q[np.abs(q[:, 0]) < 1e6]
            axis.plot(inside[:, 0], [f.value(v) for v in inside], "o-", color=colours[i % 10], ms=3.5, lw=0.8, alpha=0.85, label=label)
        axis.set_xlabel("x")
        axis.set_ylabel("f(x)")
    elif f.n == 2:
        gx, gy = np.meshgrid(np.linspace(low[0], high[0], 160), np.linspace(low[1], high[1], 160))
        values = np.array([[f.value(np.array([a, b])) for a, b in zip(row_x, row_y)] for row_x, row_y in zip(gx, gy)])
        axis.contour(gx, gy, values, levels=25, colors="grey", linewidths=0.6)
        for i, (q, label) in enumerate(zip(points, labels)):
            inside = q[np.all(np.abs(q) < 1e6, axis=1)]
            axis.plot(inside[:, 0], inside[:, 1], "o-", color=colours[i % 10], ms=3, lw=0.9, label=label)
        axis.set_xlabel("x[0]")
        axis.set_ylabel("x[1]")
        axis.set_aspect("equal", adjustable="datalim")
    else:
        for i, (p, label) in enumerate(zip(runs, labels)):
            axis.plot(p.steps + 1.0, p.values, color=colours[i % 10], lw=1.4, label=label)
        axis.set_xscale("log")
        if all(np.all(np.asarray(p.values)[np.isfinite(p.values)] > 0) for p in runs):
            axis.set_yscale("log")
        axis.set_xlabel("step + 1")
        axis.set_ylabel("f(x)")
    if f.n == 1:
        axis.plot(analysis.x0[0], analysis.start_value, "k*", ms=11, label="x0")
    elif f.n == 2:
        axis.plot(analysis.x0[0], analysis.x0[1], "k*", ms=11, label="x0")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=7)
    fig.suptitle(f"condiag analyze — {analysis.source}", fontsize=10)
    fig.tight_layout()
    return fig



def model_figure(analysis):
    """``condiag model``: the Hessian's largest Ritz values (with their residual bounds) against 2/lr for each --lr,
    and λmax of each module's block."""
    plt = _pyplot()
    blocks = [b for b in analysis.blocks if b.ritz is not None]
    fig, axes = plt.subplots(1, 2 if len(blocks) > 1 else 1, figsize=(12 if len(blocks) > 1 else 6.5, 4.4), squeeze=False)
    colours = [plt.get_cmap("tab10")(i) for i in range(10)]
    axis = axes[0, 0]
    values = analysis.spectrum.values[::-1][: analysis.top]
    residuals = analysis.spectrum.residuals[::-1][: analysis.top]
    index = np.arange(1, values.size + 1)
    axis.errorbar(index, values, yerr=residuals, fmt="o", color="black", ms=5, capsize=3, label="Ritz values (± residual)")
    for i, check in enumerate(analysis.checks):
        axis.axhline(2.0 / check.lr, color=colours[i % 10], ls="--", lw=1.1, label=f"2/lr, lr = {check.lr:.4g}")
    if np.all(values > 0) and all(2.0 / c.lr > 0 for c in analysis.checks):
        axis.set_yscale("log")
    axis.set_xticks(index)
    axis.set_xlabel("eigenvalue number (largest first)")
    axis.set_ylabel("curvature λ")
    axis.set_title("Largest Hessian eigenvalues against each lr's limit 2/lr", fontsize=9)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=7)
    if len(blocks) > 1:
        axis = axes[0, 1]
        axis.barh([b.name for b in blocks][::-1], [b.ritz.largest for b in blocks][::-1], color="steelblue")
        axis.set_xlabel("λmax of the module's diagonal block")
        axis.set_title("Where the curvature sits, by module", fontsize=9)
        axis.grid(True, axis="x", alpha=0.3)
    fig.suptitle(f"condiag model — {analysis.source}", fontsize=10)
    fig.tight_layout()
    return fig


def write_plot(builder: str, result, path: str) -> None:
    """``--plot``: the figure of ``builder`` (one of the ``*_figure`` functions here, as the HTML report draws it) written
    to ``path`` (.png, .svg or .pdf by its extension), atomically."""
    _extension(path)
    fig = globals()[builder](result)
    if fig is None:
        raise UsageError(f"plot {path}: nothing to draw (the iterative spectrum has only its extremes, and there is no b)", option="plot")
    _save(fig, path)
