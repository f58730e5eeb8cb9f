"""Command line: parse options, call the core, render, turn the result into an exit code.

Heavy modules (the numerical core, rich, scipy, h5py, matplotlib) are imported inside the
commands, so ``condiag --help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import functools
import os
import signal
import sys

import click

from ._version import __version__
from .errors import CondiagError, ExitCode, InputError

LOSS_CHOICES = ("sum", "mean", "half", "half-mean")
SEVERITY_CHOICES = ("never", "info", "warning", "error")


# ---------------------------------------------------------------------------- error handling
def _stderr(message: str) -> None:
    try:
        sys.stderr.write(message.rstrip("\n") + "\n")
        sys.stderr.flush()
    except (BrokenPipeError, OSError):
        pass


def _quiet_broken_pipe() -> None:
    """After stdout's reader went away (``| head``), stop without a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def handle_errors(command):
    """Run a command turning every failure into one stderr line and an :class:`ExitCode`."""

    @functools.wraps(command)
    def wrapper(*args, traceback: bool = False, **kwargs):
        try:
            code = command(*args, **kwargs)
        except CondiagError as exc:
            if traceback:
                raise
            _stderr(f"condiag: error: {exc}")
            code = exc.exit_code
        except KeyboardInterrupt:
            if traceback:
                raise
            _stderr("condiag: interrupted")
            code = ExitCode.INTERRUPTED
        except BrokenPipeError:
            _quiet_broken_pipe()
            code = ExitCode.OK
        except MemoryError:
            if traceback:
                raise
            _stderr("condiag: error: ran out of memory; try a smaller problem or --method iterative")
            code = ExitCode.BAD_INPUT
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if traceback:
                raise
            _stderr(f"condiag: internal error: {type(exc).__name__}: {exc} (please report it; rerun with --traceback for details)")
            code = ExitCode.INTERNAL
        sys.exit(int(code or 0))

    return click.option("--traceback", is_flag=True, help="Show the full Python traceback on errors.")(wrapper)


# ---------------------------------------------------------------------------- shared options
def problem_options(command):
    """Options every command shares for reading a problem."""
    options = [
        click.argument("problem", metavar="PROBLEM"),
        click.option("--rhs", metavar="PATH[:KEY]", help="File (and key) holding b, when not in PROBLEM's file."),
        click.option("--loss", type=click.Choice(LOSS_CHOICES), default="sum", show_default=True,
                     help="sum=||Ax-b||², mean=(1/n)||Ax-b||² (PyTorch MSELoss), half=½||Ax-b||², half-mean=1/(2n)||Ax-b||²."),
        click.option("--objective", type=click.Choice(("least-squares", "quadratic")), default="least-squares", show_default=True,
                     help="quadratic: the matrix is Q in f(x) = ½xᵀQx - bᵀx."),
        click.option("--intercept", is_flag=True, help="Append a column of ones to A."),
        click.option("--ridge", type=float, default=0.0, show_default=True, metavar="LAMBDA", help="Add LAMBDA·||x||² to the loss."),
        click.option("--a-key", metavar="KEY", help="Name of A in an npz/HDF5/MAT file."),
        click.option("--b-key", metavar="KEY", help="Name of b in an npz/HDF5/MAT file."),
        click.option("--target", metavar="COL", help="CSV/TSV column holding b (name or 0-based index; 'none' for none)."),
        click.option("--no-header", is_flag=True, help="CSV/TSV: the first row is data."),
        click.option("--format", "fmt", type=click.Choice(("npy", "npz", "csv", "tsv", "h5", "mtx", "mat")),
                     help="Input format (required when PROBLEM is '-', standard input)."),
        click.option("--allow-external", is_flag=True, help="HDF5: follow external links and virtual datasets into other files."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def output_options(command):
    options = [
        click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (schema in the README)."),
        click.option("--output", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Write the report to FILE (JSON if --json or FILE ends in .json), atomically, after success."),
        click.option("--no-color", is_flag=True, help="Plain output (also: the NO_COLOR environment variable)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def load(problem, rhs, loss, objective, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external):
    from .io import load_problem

    return load_problem(
        problem,
        rhs,
        loss=loss,
        objective=objective,
        intercept=intercept,
        ridge=ridge,
        a_key=a_key,
        b_key=b_key,
        target=target,
        header=False if no_header else None,
        fmt=fmt,
        allow_external=allow_external,
    )


def emit(render_text, json_report, as_json: bool, output: str | None, no_color: bool, summary: str) -> None:
    """Print or write the report: text or JSON, to stdout or atomically to a file."""
    use_json = as_json or (output is not None and output.lower().endswith(".json"))
    if output is None:
        if use_json:
            from .render.json_report import dumps

            sys.stdout.write(dumps(json_report()))
            sys.stdout.flush()
        else:
            from .render.text import make_console

            render_text(make_console(no_color=no_color))
        return
    if use_json:
        from .render.json_report import dumps

        text = dumps(json_report())
    else:
        import io

        from .render.text import make_console

        buffer = io.StringIO()
        render_text(make_console(file=buffer, width=100, no_color=True))
        text = buffer.getvalue()
    from .output import write_atomic

    write_atomic(output, text)
    _stderr(f"condiag: wrote {output} — {summary}")


def report_verdict(verdict) -> int:
    for reason in verdict.reasons:
        _stderr(f"condiag: threshold failed: {reason}")
    return verdict.exit_code


def parse_x0(spec: str | None):
    """``--x0`` as comma-separated numbers or a file spec; returns (vector or None, label)."""
    if spec is None:
        return None, "zeros"
    import numpy as np

    try:
        values = np.array([float(v) for v in spec.split(",")])
        return values, spec
    except ValueError:
        pass
    from .io import ReadOptions, read_vector

    vector, label, _note = read_vector(spec, ReadOptions())
    return np.asarray(vector, dtype=float).reshape(-1), label


# ---------------------------------------------------------------------------- commands
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="condiag")
def cli():
    """condiag tells you why gradient descent stalls or blows up on your least-squares
    or quadratic problem — with numbers — and what to do instead."""


@cli.command()
@problem_options
@click.option("--lr", "lrs", type=float, multiple=True, metavar="LR", help="A learning rate to check exactly (repeatable).")
@click.option("--steps", type=click.IntRange(min=0), default=1000, show_default=True, metavar="T", help="Steps for the closed-form loss prediction.")
@click.option("--tol", type=click.FloatRange(min=0, min_open=True, max=1, max_open=True), default=1e-6, show_default=True, metavar="EPS",
              help="Relative reduction of the error/gap that counts as converged.")
@click.option("--x0", metavar="SPEC", help="Starting point: comma-separated numbers or a vector file (default zeros).")
@output_options
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default="never", show_default=True, help="Exit 1 when a finding of this severity or worse is present.")
@click.option("--max-condition", type=float, metavar="K", help="Exit 1 when cond(A) (cond(Q)) exceeds K.")
@click.option("--min-lr-margin", type=float, metavar="M", help="Exit 1 when an --lr is within a factor M of the divergence threshold.")
@handle_errors
def analyze(problem, rhs, loss, objective, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external,
            lrs, steps, tol, x0, as_json, output, no_color, fail_on, max_condition, min_lr_margin):
    """Explain why gradient descent stalls or diverges: spectrum, learning-rate bounds,
    exact predictions and remedies."""
    from .analysis import analyze as run_analysis
    from .policy import analysis_verdict

    if any(lr <= 0 for lr in lrs):
        raise InputError("--lr", "learning rates must be positive")
    prob = load(problem, rhs, loss, objective, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external)
    x0_values, x0_label = parse_x0(x0)
    result = run_analysis(prob, lrs, steps=steps, tol=tol, x0=x0_values, x0_source=x0_label)

    def text(console):
        from .render.text import render_analysis

        render_analysis(result, console)

    def json_report():
        from .render.json_report import analysis_json

        return analysis_json(result)

    verdict = analysis_verdict(result, fail_on, max_condition, min_lr_margin)
    worst = result.findings[0].severity if result.findings else "none"
    emit(text, json_report, as_json, output, no_color, f"{len(result.findings)} findings, worst {worst}")
    return report_verdict(verdict)


def main(argv=None):
    """Console-script entry point."""
    if hasattr(signal, "SIGPIPE"):
        pass  # BrokenPipeError is handled per command; SIG_DFL would hide our exit codes
    try:
        cli.main(args=argv, prog_name="condiag", standalone_mode=True)
    except BrokenPipeError:  # pragma: no cover - raised while click prints help to a closed pipe
        _quiet_broken_pipe()
        sys.exit(0)
