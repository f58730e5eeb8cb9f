"""Command line: parse options, call the core, render, turn the result into an exit code.

Heavy modules (the numerical core, rich, scipy, h5py, matplotlib) are imported inside the
commands, so ``condiag --help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import contextvars
import functools
import math
import os
import sys
from typing import Any

import click

from ._version import __version__
from .errors import CondiagError, ExitCode
from .models import LINEAR_KIND, MODEL_KINDS, Capability, has

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


def _to_stdout(write) -> None:
    """Run ``write()`` and flush standard output; a write error other than a closed pipe (disk
    full, closed descriptor) is an :class:`~condiag.errors.OutputError`."""
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        _quiet_broken_pipe()
        from .errors import OutputError

        raise OutputError(f"cannot write the report to standard output: {exc.strerror or type(exc).__name__}") from None


def handle_errors(command):
    """Run a command turning every failure into one stderr line and an :class:`ExitCode`."""

    @functools.wraps(command)
    def wrapper(*args, traceback: bool = False, **kwargs):
        import warnings

        try:
            with warnings.catch_warnings():
                # numpy/scipy warnings are not messages for the user: the report states what matters
                if not traceback:
                    warnings.simplefilter("ignore")
                code = command(*args, **kwargs)
            _to_stdout(lambda: None)  # a closed pipe (| head) or a full disk shows up here, inside the handler
        except CondiagError as exc:
            if traceback:
                raise
            _stderr(f"condiag: error: {exc.command_line()}")
            code = exc.exit_code
        except KeyboardInterrupt:
            if traceback:
                raise
            _stderr("condiag: interrupted")
            code = ExitCode.INTERRUPTED
        except BrokenPipeError:
            _quiet_broken_pipe()
            code = ExitCode.OK
        except click.exceptions.ClickException:
            raise  # a usage error found inside a command: click's own handling (exit 2, one line from main)
        except MemoryError:
            if traceback:
                raise
            _stderr("condiag: error: ran out of memory; try a smaller problem or --method iterative")
            code = ExitCode.ENVIRONMENT
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if traceback:
                raise
            _stderr(f"condiag: internal error: {type(exc).__name__}: {exc} (please report it; rerun with --traceback for details)")
            code = ExitCode.INTERNAL
        sys.exit(int(code or 0))

    return click.option("--traceback", is_flag=True, help="Show the full Python traceback on errors.")(wrapper)


# ---------------------------------------------------------------------------- option types
SMALLEST_NORMAL = sys.float_info.min
"""float64's smallest normal number: a learning rate below it loses precision in every product."""
MAX_RIDGE = 1e150
"""Largest --ridge: 2·ridge and ridge·||x||² stay inside float64 (as the Hessian range check requires)."""
MAX_ITERATIONS = 10**12
"""Largest --max-iter: iteration counters and closed-form exponents stay exact in float64 and int64."""
MAX_STEPS = 10**15
"""Largest --steps: t is used as a float exponent, exact below 2⁵³."""
MAX_SEED = 2**32 - 1


class FiniteFloat(click.FloatRange):
    """A float option in a range that also refuses NaN, ±inf and, with ``normal``, subnormal numbers.

    click's FloatRange compares with < and >, which NaN always passes.
    """

    def __init__(self, *args, normal: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.normal = normal

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.normal and number != 0 and abs(number) < SMALLEST_NORMAL:
            self.fail(f"{value!r} is below float64's smallest normal number ({SMALLEST_NORMAL:.3g})", param, ctx)
        return number


POSITIVE = FiniteFloat(min=0, min_open=True, normal=True)
LEARNING_RATE = POSITIVE
TOLERANCE = FiniteFloat(min=0, max=1, min_open=True, max_open=True, normal=True)
SEED = click.IntRange(min=0, max=MAX_SEED)


# ---------------------------------------------------------------------------- shared options
def problem_options(command):
    """Options every command shares for reading a problem."""
    options = [
        click.argument("problem", metavar="PROBLEM", required=False),
        click.option("--rhs", metavar="PATH[:KEY]", help="File (and key) holding b, when not in PROBLEM's file."),
        click.option("--loss", type=click.Choice(LOSS_CHOICES), default="sum", show_default=True,
                     help="sum=||Ax-b||², mean=(1/n)||Ax-b||² (PyTorch MSELoss), half=½||Ax-b||², half-mean=1/(2n)||Ax-b||²."),
        click.option("--objective", type=click.Choice(("least-squares", "quadratic", "logistic")), default="least-squares",
                     show_default=True, help="quadratic: the matrix is Q in f(x) = ½xᵀQx - bᵀx; logistic: b holds 0/1 or ±1 "
                     "labels and the loss is Σ log(1 + exp(-s·aᵀx)) (--loss mean: BCEWithLogitsLoss); analyze and solve."),
        click.option("--intercept", is_flag=True, help="Append a column of ones to A."),
        click.option("--ridge", type=FiniteFloat(min=0, max=MAX_RIDGE), default=0.0, show_default=True, metavar="LAMBDA",
                     help="Add LAMBDA·||x||² to the loss."),
        click.option("--a-key", metavar="KEY", help="Name of A in an npz/HDF5/MAT file."),
        click.option("--b-key", metavar="KEY", help="Name of b in an npz/HDF5/MAT file."),
        click.option("--target", metavar="COL", help="CSV/TSV column holding b (name or 0-based index; 'none' for none)."),
        click.option("--no-header", is_flag=True, help="CSV/TSV: the first row is data."),
        click.option("--format", "fmt", type=click.Choice(("npy", "npz", "csv", "tsv", "h5", "mtx", "mat")),
                     help="Input format (required when PROBLEM is '-', standard input)."),
        click.option("--allow-external", is_flag=True, help="HDF5: follow external links and virtual datasets into other files."),
        click.option("--method", type=click.Choice(("auto", "exact", "iterative")), default="auto", show_default=True,
                     help="Spectrum: exact dense decomposition, or iterative extreme singular values (large/sparse)."),
        click.option("--engine", type=click.Choice(("local", "dask")), default="local", show_default=True,
                     help="dask: compute the tall-skinny QR of a huge .npy/HDF5 matrix with Dask (pip install 'condiag[dask]')."),
        click.option("--scheduler", metavar="ADDRESS", help="With --engine dask: an existing Dask scheduler (default: a local cluster of 2 workers)."),
        click.option("--memory-limit", metavar="SIZE",
                     help="Stream a dense .npy/HDF5 matrix larger than this (e.g. 2G) in row blocks (default: half the available memory)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def model_options(command):
    """--model (condiag.models.MODEL_KINDS) and the settings of a factored model (analyze and compare)."""
    options = [
        click.option("--model", type=click.Choice(tuple(MODEL_KINDS)), default=LINEAR_KIND, show_default=True,
                     help="The model: " + "; ".join(f"{name}: {kind.summary}" for name, kind in MODEL_KINDS.items()) + "."),
        click.option("--hidden", type=click.IntRange(min=1), metavar="K", help="Two-layer: width K of the hidden layer (default: min(rows, cols))."),
        click.option("--samples", type=click.IntRange(min=0, max=10**7), default=1000, show_default=True, metavar="N",
                     help="Two-layer: Gaussian inputs X (seeded); 0 = population loss ||W1·W2 - A||²."),
        click.option("--init-scale", type=FiniteFloat(min=0, min_open=True, normal=True), default=1.0, show_default=True,
                     help="Two-layer: std of the normal initialisation."),
        click.option("--model-seed", type=SEED, default=0, show_default=True, help="Two-layer: seed of the inputs X (the init uses seed + 1)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def chosen_model(prob, model, hidden, samples, init_scale, seed):
    """The ``--model`` built from a loaded problem (the problem itself for the linear model)."""
    from .models import build_model

    return build_model(model, prob, hidden=hidden, samples=samples, init_scale=init_scale, seed=seed)


def output_options(command):
    options = [
        click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (schema in the README); = --report-format json."),
        click.option("--report-format", type=click.Choice(REPORT_FORMATS),
                     help="text, json, html (one self-contained file with the plots), markdown (a job summary), github (workflow "
                          "annotations) or junit (XML for test dashboards); by default from --output's extension (.json, .html, "
                          ".md, .xml), else text."),
        click.option("--output", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Write the report to FILE (its format from --report-format, --json or the extension), atomically, after success."),
        click.option("--no-color", is_flag=True, help="Plain output (also: the NO_COLOR environment variable)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def load(problem, rhs, loss, objective, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external, memory_limit=None,
         engine="local", scheduler=None):
    """The command line's options to :func:`condiag.api.load`."""
    from .api import load as load_spec

    return load_spec(problem, rhs, loss=loss, objective=objective, intercept=intercept, ridge=ridge, a_key=a_key, b_key=b_key,
                     target=target, header=False if no_header else None, fmt=fmt, allow_external=allow_external,
                     memory_limit=memory_limit, engine=engine, scheduler=scheduler)


_COLLECTED: contextvars.ContextVar = contextvars.ContextVar("condiag_collected_reports", default=None)
"""While ``condiag check`` runs a command: the list its report, checks and summary go to, instead of the output."""

REPORT_FORMATS = ("text", "json", "html", "markdown", "github", "junit")
"""--report-format choices (listed here so --help needs no import)."""


def report_format_of(as_json: bool, report_format: str | None, output: str | None) -> str:
    """The report's format: --report-format, --json, else from --output's extension (.json, .html, .md, .xml), else text."""
    from .errors import UsageError

    if as_json and report_format not in (None, "json"):
        raise UsageError(f"--json and --report-format {report_format} disagree")
    if report_format is not None:
        return report_format
    if as_json:
        return "json"
    if output is not None:
        from .render.ci_formats import EXTENSIONS

        for ending, kind in EXTENSIONS.items():
            if output.lower().endswith(ending):
                return kind
    return "text"


def with_progress(as_json: bool, compute):
    """``compute(progress)`` with a progress bar on stderr that appears after a second (none under --json or a pipe)."""
    progress = LazyProgress(enabled=sys.stderr.isatty() and not as_json)
    try:
        return compute(progress)
    finally:
        progress.close()


def draw(plot: str | None, builder: str, result) -> None:
    """--plot: write the figure ``condiag.render.plots.<builder>`` draws (before the report, so a bad name fails first)."""
    if plot:
        from .render.plots import write_plot

        write_plot(builder, result, plot)


def figures_of(builder: str, result, caption: str):
    """The HTML report's figures: ``condiag.render.plots.<builder>(result)`` as inline SVG, drawn only when asked."""
    def figures():
        from .render import plots

        fig = getattr(plots, builder)(result)
        return [] if fig is None else [(caption, plots.svg(fig))]

    return figures


def emit(render_text, json_report, as_json: bool, output: str | None, no_color: bool, summary: str, report_format: str | None = None,
         checks=(), figures=None, render_html=None) -> None:
    """Print or write the report — text, JSON, HTML, Markdown, GitHub annotations or JUnit XML — to stdout or
    atomically to a file; the other formats render the JSON report and the threshold checks (HTML also the text
    report and ``figures()``; ``render_html`` replaces the HTML document, for condiag check)."""
    sink = _COLLECTED.get()
    if sink is not None:  # condiag check: keep the report for its own output
        sink.append((json_report(), tuple(checks), summary, render_text, figures))
        return
    kind = report_format_of(as_json, report_format, output)
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    if kind == "text":
        if output is None:
            from .render.text import make_console

            _to_stdout(lambda: render_text(make_console(no_color=no_color)))
            return
        import io

        from .render.text import make_console

        buffer = io.StringIO()
        render_text(make_console(file=buffer, width=100, no_color=True))
        text = buffer.getvalue()
    elif kind == "json":
        from .render.json_report import dumps

        text = dumps(json_report(), ascii_only=output is None and encoding not in ("utf8", "utf8sig"))
    elif kind == "html":
        from .render.html_report import html_report
        from .render.text import recorded_html

        text = render_html() if render_html else html_report(json_report(), checks, recorded_html(render_text),
                                                             figures() if figures else ())
    else:
        from .render.ci_formats import RENDERERS

        text = RENDERERS[kind](json_report(), checks)
    if output is None:
        _to_stdout(lambda: sys.stdout.write(text))
        return
    from .output import write_atomic

    write_atomic(output, text)
    _stderr(f"condiag: wrote {output} — {summary}")


def conclude(verdict, plot: str | None = None) -> int:
    """After the report: say where the plot went, then the thresholds that failed; the exit code."""
    if plot:
        _stderr(f"condiag: wrote plot {plot}")
    return report_verdict(verdict)


def report_verdict(verdict) -> int:
    if _COLLECTED.get() is None:  # condiag check reports the reasons with each file
        for reason in verdict.reasons:
            _stderr(f"condiag: threshold failed: {reason}")
    return verdict.exit_code


def parse_x0(spec: str | None, problem=None, seed: int = 0):
    """``--x0`` as comma-separated numbers, ``torch`` (nn.Linear's default init, seeded) or a file spec;
    returns (vector or None, label)."""
    if spec is None:
        return None, "zeros"
    import numpy as np

    if spec.strip().lower() == "torch" and problem is not None:
        from .problem import torch_linear_init

        return (torch_linear_init(problem.n_cols, problem.intercept, seed),
                f"torch (nn.Linear default init U(±1/√d), seed {seed})")
    try:
        values = np.array([float(v) for v in spec.split(",")])
        return values, spec
    except ValueError:
        pass
    from .io import ReadOptions, read_vector

    vector, label, _note = read_vector(spec, ReadOptions())
    return np.asarray(vector, dtype=float).reshape(-1), label


# ---------------------------------------------------------------------------- configuration
CONFIGURED_COMMANDS = ("analyze", "compare", "solve", "trace", "check")
"""The commands whose defaults a configuration file sets (condiag.config.COMMANDS, and check itself)."""
NOT_CONFIGURABLE = frozenset({"problem", "logs", "paths", "as_json", "report_format", "output", "no_color", "traceback", "plot"})
"""Parameters a configuration cannot set: the inputs (entries name them), where and how the report goes."""


def configurable_options(command) -> dict:
    """The options of ``command`` a configuration may set: key as written ('max-condition') -> click option."""
    return {opt[2:]: param for param in command.params if isinstance(param, click.Option) and param.name not in NOT_CONFIGURABLE
            for opt in param.opts if opt.startswith("--")}


def config_value(ctx, param, key: str, value, where: str):
    """A configuration value checked and converted by the option's own type (a list for a repeatable option, a
    comma-joined list for a LIST option); a bad one is a :class:`~condiag.config.ConfigError` naming the key."""
    from .config import ConfigError

    if param.is_flag and not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} = {value!r}: must be true or false")
    if param.multiple:
        value = value if isinstance(value, list) else [value]
    elif isinstance(value, list):
        value = ",".join(str(v) for v in value)
    try:
        return param.type_cast_value(ctx, value)
    except click.BadParameter as exc:
        raise ConfigError(f"{where}: {key} = {value!r}: {exc.message}") from None


def config_defaults(ctx, config, name: str, entry=None) -> dict:
    """The defaults a configuration gives command ``name`` (click parameter name -> value), lowest first: the
    shared keys (for the commands that read a problem), the command's section, then ``entry``'s settings."""
    from .config import PROBLEM_COMMANDS, ConfigError

    if name == "check":
        return {}
    options = configurable_options(cli.commands[name])
    shared_options = {key for command in PROBLEM_COMMANDS for key in configurable_options(cli.commands[command])}
    unknown = sorted(set(config.shared) - shared_options)
    if unknown:
        raise ConfigError(f"{config.table}: unknown key {unknown[0]!r} (not an option of analyze, compare or solve)")
    layers = [(config.table, {k: v for k, v in config.shared.items() if k in options})] if name in PROBLEM_COMMANDS else []
    layers.append((f"{config.table} {name}", config.sections.get(name, {})))
    if entry is not None:
        layers.append((entry.where, entry.settings))
    defaults = {}
    for where, settings in layers:
        for key, value in settings.items():
            if key not in options:
                raise ConfigError(f"{where}: unknown key {key!r} (not an option of condiag {name})")
            param = options[key]
            defaults[param.name] = config_value(ctx, param, key, config.resolve(key, value), where)
    return defaults


# ---------------------------------------------------------------------------- commands
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="condiag")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="The configuration to use (default: the first condiag.toml, or pyproject.toml with [tool.condiag], "
                   "from the working directory upwards).")
@click.option("--no-config", is_flag=True, help="Ignore every configuration file.")
@click.pass_context
def cli(ctx, config_path, no_config):
    """condiag tells you why gradient descent stalls or blows up on your least-squares
    or quadratic problem — or, from a loss log alone, on your training run — with numbers,
    and what to do instead.

    Defaults and the files `condiag check` runs come from [tool.condiag] in pyproject.toml
    (or condiag.toml); the command line overrides them."""
    if config_path is not None and no_config:
        raise click.UsageError("--config and --no-config disagree")
    if ctx.invoked_subcommand not in CONFIGURED_COMMANDS or (no_config and ctx.invoked_subcommand != "check"):
        return
    from .config import Config, ConfigError, load_config

    try:
        config = Config() if no_config else load_config(config_path)
        ctx.obj = config
        ctx.default_map = {name: config_defaults(ctx, config, name) for name in CONFIGURED_COMMANDS if name in cli.commands}
    except ConfigError as exc:
        raise click.UsageError(str(exc), ctx) from None


@cli.command()
@problem_options
@click.option("--lr", "lrs", type=LEARNING_RATE, multiple=True, metavar="LR", help="A learning rate to check exactly (repeatable).")
@click.option("--steps", type=click.IntRange(min=0, max=MAX_STEPS), default=1000, show_default=True, metavar="T", help="Steps for the closed-form loss prediction.")
@click.option("--tol", type=TOLERANCE, default=1e-6, show_default=True, metavar="EPS",
              help="Relative reduction of the error/gap that counts as converged.")
@click.option("--x0", metavar="SPEC", help="Starting point: comma-separated numbers, 'torch' (nn.Linear's default init, "
              "weights then bias with --intercept) or a vector file (default zeros).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of --x0 torch.")
@click.option("--dtype", type=click.Choice(("float64", "float32")), default="float64", show_default=True,
              help="Your training precision. float32: the limit for your data rounded to float32, each --lr as float32 holds "
                   "it, the loss after T steps run in float32, whether float32 reaches --tol, overflow at 3.4e38.")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="B",
              help="Minibatch SGD with B rows a step: its mean-square stability threshold, and for each --lr the noise "
                   "floor and the expected loss after --steps (least squares).")
@click.option("--sampling", type=click.Choice(("without-replacement", "with-replacement")), default="without-replacement",
              show_default=True, help="With --batch-size: B distinct rows each step, or B rows drawn with replacement.")
@click.option("--adam", is_flag=True, help="Also Adam's regimes at each --lr: its travel limit, and whether eps keeps its late "
              "regime stable (with --betas and --eps).")
@click.option("--betas", default="0.9,0.999", show_default=True, metavar="B1,B2", help="With --adam: Adam's betas.")
@click.option("--eps", "adam_eps", type=POSITIVE, default=1e-8, show_default=True, metavar="EPS", help="With --adam: Adam's eps.")
@model_options
@click.option("--function", "function_spec", metavar="FILE.py:NAME", help="Instead of PROBLEM, any smooth f: Rⁿ → R written "
              "with numpy or torch (NAME takes a 1-D array): gradient descent at each --lr (and Newton at each --newton) "
              "from --x0, where each run ends (minimum, saddle, maximum, cycle, divergence) and why.")
@click.option("--newton", "newton_steps", type=POSITIVE, multiple=True, metavar="ETA",
              help="With --function: also Newton's method x ← x − ETA·H⁻¹∇f from --x0 (repeatable).")
@click.option("--plot", type=click.Path(dir_okay=False), metavar="FILE", help="Write a plot (.png, .svg or .pdf): every Hessian "
              "eigenvalue against 2/lr for each --lr, and each lr's exact loss gap per step (--function: f or its "
              "contours with each run's path).")
@output_options
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default="never", show_default=True, help="Exit 1 when a finding of this severity or worse is present.")
@click.option("--max-condition", type=FiniteFloat(min=1), metavar="K", help="Exit 1 when cond(A) (cond(Q)) exceeds K (K >= 1).")
@click.option("--min-lr-margin", type=POSITIVE, metavar="M", help="Exit 1 when an --lr is within a factor M of the divergence threshold.")
@click.option("--verbose", "-v", is_flag=True, help="The full report: every remedy, the loss-convention table.")
@handle_errors
def analyze(problem, rhs, loss, objective, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external, method, engine, scheduler, memory_limit,
            lrs, steps, tol, x0, seed, dtype, batch_size, sampling, adam, betas, adam_eps, model, hidden, samples, init_scale, model_seed,
            function_spec, newton_steps, plot, as_json, report_format, output, no_color, fail_on, max_condition, min_lr_margin, verbose):
    """Explain why gradient descent stalls or diverges: spectrum, learning-rate bounds,
    exact predictions and remedies."""
    from .analysis import analyze as run_analysis
    from .policy import analysis_verdict

    if function_spec is not None or newton_steps:
        from .errors import UsageError

        if function_spec is None:
            raise UsageError("--newton goes with --function")
        refuse_given(FUNCTION_IGNORES, "not used with --function")
        return analyze_function_command(function_spec, x0, lrs, newton_steps, steps, tol, plot, as_json, report_format, output,
                                        no_color, fail_on, verbose)
    if problem is None:
        raise click.UsageError("Missing argument 'PROBLEM' (or give --function FILE.py:NAME).")

    if objective == "logistic":
        from .errors import UsageError

        ignored = [flag for flag, used in ((f"--model {model}", model != LINEAR_KIND), ("--batch-size", batch_size is not None),
                                           ("--plot", plot is not None),
                                           ("--adam", adam), ("--dtype float32", dtype == "float32"), ("--engine dask", engine == "dask"),
                                           ("--method iterative", method == "iterative"), ("--max-condition", max_condition is not None),
                                           ("--min-lr-margin", min_lr_margin is not None)) if used]
        if ignored:
            raise UsageError(f"{', '.join(ignored)}: not available with --objective logistic")
        return analyze_logistic_command(problem, rhs, loss, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external,
                                        lrs, tol, x0, seed, as_json, report_format, output, no_color, fail_on, verbose)
    prob = load(problem, rhs, loss, objective, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external, memory_limit,
                engine, scheduler)
    if batch_size is not None:
        check_batch_size(prob, batch_size, method, model)
    if model != LINEAR_KIND:
        if plot is not None:
            from .errors import UsageError

            raise UsageError(f"--plot: analyze draws the spectrum of a linear model (compare --plot draws the --model {model} runs)")
        return analyze_own_command(chosen_model(prob, model, hidden, samples, init_scale, model_seed), lrs, tol,
                                   as_json, report_format, output, no_color, fail_on, max_condition)
    x0_values, x0_label = parse_x0(x0, prob, seed)
    result = run_analysis(prob, lrs, steps=steps, tol=tol, x0=x0_values, x0_source=x0_label, method=method, dtype=dtype,
                          batch_size=batch_size, replacement=sampling == "with-replacement",
                          adam=(*parse_betas(betas), adam_eps) if adam else None)

    def text(console):
        from .render.text import render_analysis

        render_analysis(result, console, verbose)

    def json_report():
        from .render.json_report import analysis_json

        return analysis_json(result)

    draw(plot, "analysis_figure", result)
    verdict = analysis_verdict(result, fail_on, max_condition, min_lr_margin)
    worst = result.findings[0].severity if result.findings else "none"
    emit(text, json_report, as_json, output, no_color, f"{len(result.findings)} findings, worst {worst}", report_format, verdict.checks,
         figures_of("analysis_figure", result, "Left: every Hessian eigenvalue against 2/lr for each --lr (gradient descent "
                    "diverges along any eigenvalue above the line). Right: the exact loss gap per step at each --lr."))
    return conclude(verdict, plot)


def refuse_given(names, why: str) -> None:
    """A usage error naming, as typed (``--format``, ``PROBLEM``), the parameters among ``names`` that the user set:
    on the command line, not by default or by the configuration file."""
    from .errors import UsageError

    ctx = click.get_current_context()
    unset = (click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP)
    given = [p.opts[0] if isinstance(p, click.Option) else p.name.upper() for p in ctx.command.params
             if p.name in names and ctx.get_parameter_source(p.name) not in unset]
    if given:
        raise UsageError(f"{', '.join(given)}: {why}")


FUNCTION_IGNORES = frozenset({"problem", "rhs", "loss", "objective", "intercept", "ridge", "a_key", "b_key", "target", "no_header",
                              "fmt", "allow_external", "method", "engine", "scheduler", "memory_limit", "dtype", "batch_size",
                              "sampling", "adam", "betas", "adam_eps", "model", "hidden", "samples", "init_scale", "model_seed",
                              "max_condition", "min_lr_margin"})
"""analyze's parameters that describe a matrix problem: given with --function, they are a usage error."""


def analyze_function_command(spec, x0, lrs, newton_steps, steps, tol, plot, as_json, report_format, output, no_color, fail_on,
                             verbose):
    """``analyze --function``: gradient descent and Newton from x0 on the user's smooth function."""
    from .errors import UsageError
    from .policy import findings_verdict
    from .smooth.report import analyze_function

    if x0 is None:
        raise UsageError("--function needs --x0 (the starting point, e.g. --x0 10 or --x0 -5,-2)")
    if not lrs and not newton_steps:
        raise UsageError("--function needs an --lr (gradient descent) or a --newton step size to run")
    x0_values, x0_label = parse_x0(x0)
    result = with_progress(as_json, lambda progress: analyze_function(spec, x0_values, lrs, newton_steps, steps=steps, tol=tol,
                                                                      x0_source=x0_label, progress=progress))

    def text(console):
        from .render.function_text import render_function

        render_function(result, console, verbose)

    draw(plot, "function_figure", result)
    verdict = findings_verdict(result.findings, fail_on)
    emit(text, result.to_dict, as_json, output, no_color, f"{len(result.findings)} findings", report_format, verdict.checks,
         figures_of("function_figure", result, "Each run's path on f (one variable) or on its contours (two); f per step otherwise."))
    return conclude(verdict, plot)


LOGISTIC_COMPARE_IGNORES = frozenset({"method", "engine", "scheduler", "memory_limit", "dtype", "model", "hidden", "samples",
                                      "init_scale", "model_seed", "time_limit", "simulate", "params", "test_spec", "test_rhs",
                                      "libraries", "alpha"})
"""compare's options that --objective logistic does not take."""
COMPARE_FUNCTION_IGNORES = frozenset({"time_limit", "simulate", "params", "test_spec", "test_rhs", "libraries", "alpha"})
"""compare's parameters that --function does not take (beyond analyze's FUNCTION_IGNORES)."""


def compare_function_command(spec, solvers, lrs, max_iter, tol, x0, plot, as_json, report_format, output, no_color,
                             require_converged):
    """``compare --function``: the solvers from x0 on the user's smooth function."""
    from .errors import UsageError
    from .smooth.compare import compare_function, parse_function_solvers

    if x0 is None:
        raise UsageError("--function needs --x0 (the starting point, e.g. --x0 10 or --x0 -5,-2)")
    names = parse_function_solvers(solvers)
    required = parse_function_solvers(require_converged) if require_converged else ()
    x0_values, x0_label = parse_x0(x0)
    result = with_progress(as_json, lambda progress: compare_function(spec, x0_values, names, lrs, max_iter=max_iter, tol=tol,
                                                                      x0_source=x0_label, progress=progress))
    return report_function_comparison(result, required, plot, as_json, report_format, output, no_color)


def compare_logistic_command(prob, solvers, lrs, max_iter, tol, x0, seed, plot, as_json, report_format, output, no_color,
                             require_converged):
    """``compare --objective logistic``: the solvers from x0 (default zeros) judged against the exact minimiser
    (damped Newton; the loss is convex), or, on separable classes, against nothing: there is no finite minimiser."""
    import numpy as np

    from .logistic import (
        SEPARATION_MARGIN,
        LogisticModel,
        LogisticObjective,
        newton,
        separation_margin,
    )
    from .smooth.compare import compare_objective, parse_function_solvers
    from .smooth.descent import classify

    names = parse_function_solvers(solvers)
    required = parse_function_solvers(require_converged) if require_converged else ()
    model = LogisticModel.from_problem(prob)
    objective = LogisticObjective(model)
    x0_values, x0_label = parse_x0(x0, prob, seed)
    x0_values = np.zeros(objective.n) if x0_values is None else x0_values
    reference, by, note = None, "", None
    if model.ridge == 0 and separation_margin(model) > SEPARATION_MARGIN:
        note = "the classes are separable: no finite minimiser exists (the weights grow without bound, the loss tends to 0; add --ridge)"
    else:
        solution = newton(model)
        if solution.converged:
            g = float(np.linalg.norm(model.gradient(solution.x)))
            reference = classify(objective, solution.x, 0, g, solution.loss)
            by = "damped Newton"
            note = (f"the exact minimiser: the logistic loss is convex, so it is the global one (about "
                    f"{solution.correct_digits:.0f} correct digits)")
    result = with_progress(as_json, lambda progress: compare_objective(
        objective, prob.source, x0_values, names, lrs, max_iter=max_iter, tol=tol, x0_source=x0_label, progress=progress,
        reference=reference, reference_by=by, reference_note=note))
    return report_function_comparison(result, required, plot, as_json, report_format, output, no_color)


def report_function_comparison(result, required, plot, as_json, report_format, output, no_color) -> int:
    """Render a :class:`~condiag.smooth.compare.FunctionComparison` and turn --require-converged into the exit code."""
    from .policy import Check, verdict_of
    from .smooth.compare import REACHED

    def text(console):
        from .render.function_text import render_function_comparison

        render_function_comparison(result, console)

    draw(plot, "function_figure", result)
    checks = []
    for name in required:
        statuses = [v.status for p, v in zip(result.runs, result.verdicts) if p.method == name]
        passed = REACHED in statuses
        checks.append(Check(f"--require-converged {name}", passed, f"{name} reached the best minimum found" if passed
                            else f"{name} did not reach the best minimum found ({', '.join(statuses) or 'not run'})"))
    verdict = verdict_of(checks)
    reached = sum(v.status == REACHED for v in result.verdicts)
    emit(text, result.to_dict, as_json, output, no_color, f"{reached} of {len(result.runs)} runs reached the best minimum found",
         report_format, verdict.checks, figures_of("function_figure", result, "Each solver's path on f (one variable) or on its "
                                                   "contours (two); f per iteration otherwise."))
    return conclude(verdict, plot)


def load_logistic(problem, rhs, loss, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external):
    """The data of a logistic regression (rows and labels), loaded as least squares is, never streamed."""
    from .errors import UsageError

    if loss not in ("sum", "mean"):
        raise UsageError(f"--loss {loss}: logistic regression takes sum or mean (BCEWithLogitsLoss)")
    from .io import load_problem

    return load_problem(problem, rhs, loss=loss, objective="least-squares", intercept=intercept, ridge=ridge, a_key=a_key,
                        b_key=b_key, target=target, header=False if no_header else None, fmt=fmt, allow_external=allow_external)


def analyze_logistic_command(problem, rhs, loss, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external, lrs, tol,
                             x0, seed, as_json, report_format, output, no_color, fail_on, verbose):
    from .logistic import analyze_logistic
    from .policy import findings_verdict

    prob = load_logistic(problem, rhs, loss, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external)
    x0_values, _label = parse_x0(x0, prob, seed)
    result = analyze_logistic(prob, lrs, x0=x0_values, tol=tol)

    def text(console):
        from .render.text import render_logistic

        render_logistic(result, console, verbose)

    verdict = findings_verdict(result.findings, fail_on)
    emit(text, result.to_dict, as_json, output, no_color, f"{len(result.findings)} findings", report_format, verdict.checks)
    return report_verdict(verdict)


def solve_logistic_command(problem, rhs, loss, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external, as_json,
                           report_format, output, no_color):
    """``solve --objective logistic``: x* by damped Newton with its stated accuracy (exit 3 on separable data)."""
    from .errors import InputError
    from .logistic import SEPARATION_MARGIN, LogisticModel, newton, separation_margin

    prob = load_logistic(problem, rhs, loss, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external)
    model = LogisticModel.from_problem(prob)
    if model.ridge == 0 and separation_margin(model) > SEPARATION_MARGIN:
        raise InputError(prob.source, "the classes are separable: no finite minimiser exists", "add --ridge")
    reference = newton(model)

    def json_report():
        from .render.json_report import logistic_solution_json

        return logistic_solution_json(prob, reference)

    def text(console):
        from rich.text import Text

        from .render.text import key_values, vector_preview

        console.print(Text(f"condiag solve — {prob.source} (logistic regression)", style="bold"))
        console.print(key_values([("x*", vector_preview(reference.x, prob.column_names, limit=len(reference.x))),
                                  ("f(x*)", f"{reference.loss:.10g}"), ("method", reference.message),
                                  ("accuracy", f"||x - x*|| <= {reference.error_bound:.2g} (about {reference.correct_digits:.0f} "
                                               "correct digits)" if reference.converged else "not converged")]))

    emit(text, json_report, as_json, output, no_color, reference.message, report_format)
    return 0 if reference.converged else ExitCode.THRESHOLD


def parse_betas(text: str) -> tuple[float, float]:
    """--betas B1,B2, each in [0, 1) (usage error otherwise)."""
    from .errors import UsageError

    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"--betas {text!r}: expected two numbers, e.g. 0.9,0.999") from None
    if len(values) != 2 or not all(0 <= v < 1 for v in values):
        raise UsageError(f"--betas {text!r}: expected two numbers in [0, 1), e.g. 0.9,0.999")
    return values[0], values[1]


def check_batch_size(prob, batch_size: int, method: str, model: str) -> None:
    """--batch-size needs the rows of a least-squares problem analysed exactly (usage errors otherwise)."""
    from .errors import UsageError
    from .iterative import choose_method

    if model != LINEAR_KIND or prob.is_quadratic:
        raise UsageError("--batch-size applies to least squares (minibatches of the rows of A)")
    if prob.is_reduced:
        raise UsageError("--batch-size needs the rows of A; this matrix was streamed (raise --memory-limit)")
    if choose_method(prob, method) == "iterative":
        raise UsageError("--batch-size needs the exact spectrum (--method exact)")
    if batch_size > prob.n_samples:
        raise UsageError(f"--batch-size {batch_size}: A has {prob.n_samples} rows")


def analyze_own_command(model, lrs, tol, as_json, report_format, output, no_color, fail_on, max_condition):
    """analyze for a non-linear model: its own analysis (:data:`condiag.models.Capability.OWN_ANALYSIS`)."""
    result = model.analyze(lrs, tol=tol)
    verdict = result.verdict(fail_on, max_condition)
    emit(result._render_text, result.to_dict, as_json, output, no_color, f"{len(result.findings)} findings", report_format,
         verdict.checks)
    return report_verdict(verdict)


def with_libraries(comparison, alpha):
    """The comparison with what the libraries compute on its data (:mod:`condiag.conventions`)."""
    from dataclasses import replace

    from .conventions import library_estimates
    from .errors import UsageError

    problem = comparison.problem
    if not has(problem, Capability.LINEAR) or problem.is_quadratic or problem.is_reduced or problem.sparse:
        raise UsageError("--libraries applies to dense least squares held in memory")
    return replace(comparison, libraries=library_estimates(problem, comparison.reference.x, alpha))


def with_held_out(comparison, test, spec: str):
    """The comparison with its answers scored on the test problem (the same columns, intercept included)."""
    from dataclasses import replace

    from .errors import InputError, UsageError
    from .heldout import held_out

    problem = comparison.problem
    if not has(problem, Capability.LINEAR) or problem.is_quadratic or problem.is_reduced:
        raise UsageError("--test applies to least squares held in memory")
    if not test.has_rhs:
        raise InputError(spec, "has no targets", "give --test-rhs")
    if test.n_cols != problem.n_cols:
        raise InputError(spec, f"has {test.n_cols} columns; the training matrix has {problem.n_cols}")
    return replace(comparison, held_out=held_out(comparison, test.dense_matrix(), test.b, test.source))


class LazyProgress:
    """A rich progress bar on stderr that appears only once a solver has run for a second."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.progress: Any = None  # a rich Progress once shown (rich is imported only then)
        self.tasks: dict[str, Any] = {}
        self.started: dict[str, float] = {}

    def __call__(self, solver: str, iteration: int, total: int) -> None:
        import time

        if not self.enabled:
            return
        now = time.perf_counter()
        first = self.started.setdefault(solver, now)
        if self.progress is None:
            if now - first < 1.0:
                return
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                     console=Console(stderr=True), transient=True)
            self.progress.start()
        if solver not in self.tasks:
            self.tasks[solver] = self.progress.add_task(solver, total=total)
        self.progress.update(self.tasks[solver], completed=iteration)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@cli.command()
@problem_options
@click.option("--solvers", metavar="LIST", help="Comma-separated solvers, or 'all' (default: gd,momentum,adam,lbfgs,cg,lsqr,newton).")
@click.option("--lr", "lrs", type=LEARNING_RATE, multiple=True, metavar="LR",
              help="Learning rate of the first-order solvers (default: each solver's own; gd/momentum/nesterov: from the "
                   "spectrum); repeat it to sweep: one run per lr and solver, the best named.")
@click.option("--max-iter", type=click.IntRange(min=1, max=MAX_ITERATIONS), default=10_000, show_default=True, metavar="N", help="Iteration budget per solver (closed-form runs answer any N at once).")
@click.option("--tol", type=TOLERANCE, default=1e-6, show_default=True, metavar="EPS",
              help="Converged when f(x) - f* <= EPS * (f(x0) - f*), as every step count condiag prints.")
@click.option("--time-limit", type=POSITIVE, metavar="SECONDS", help="Wall-time limit per solver.")
@click.option("--dtype", type=click.Choice(("float64", "float32")), default="float64", show_default=True, help="Precision of the simulated iterations (float32 as PyTorch).")
@click.option("--simulate", is_flag=True, help="Iterate step by step even where the trajectory is known in closed form.")
@click.option("--param", "params", multiple=True, metavar="SOLVER.NAME=VALUE",
              help="A solver parameter, e.g. adam.lr=0.1 or sgd.batch_size=2 (repeatable); VALUE1,VALUE2,... sweeps it.")
@click.option("--x0", metavar="SPEC", help="Starting point: comma-separated numbers, 'torch' (nn.Linear's default init, "
              "weights then bias with --intercept) or a vector file (default zeros).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed for stochastic solvers and --x0 torch.")
@model_options
@click.option("--plot", type=click.Path(dir_okay=False), metavar="FILE", help="Write a plot (.png, .svg or .pdf): loss gap per iteration, and paths on the contours for 2 variables.")
@output_options
@click.option("--require-converged", metavar="LIST", help="Exit 1 unless these solvers (comma-separated) converge.")
@click.option("--test", "test_spec", metavar="PATH[:KEY]", help="Held-out data: score every answer, x* and the ridge, "
              "truncated-SVD and early-stopping paths on it (test loss and MAE).")
@click.option("--test-rhs", metavar="PATH[:KEY]", help="With --test: the file (and key) holding the test targets.")
@click.option("--libraries", is_flag=True, help="Also what scikit-learn's LinearRegression and statsmodels' OLS compute on "
              "this data, each with its own conventions (and Ridge / fit_regularized with --alpha).")
@click.option("--alpha", type=FiniteFloat(min=0, min_open=True), metavar="A", help="With --libraries: the alpha of "
              "sklearn Ridge and statsmodels fit_regularized(L1_wt=0).")
@click.option("--function", "function_spec", metavar="FILE.py:NAME", help="Instead of PROBLEM, any smooth f: Rⁿ → R (numpy "
              "or torch): the solvers (gd, momentum, nesterov, adam, newton, lbfgs) run from --x0, judged against the best "
              "local minimum found.")
@handle_errors
def compare(problem, rhs, loss, objective, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external, method, engine, scheduler, memory_limit,
            solvers, lrs, max_iter, tol, time_limit, dtype, simulate, params, x0, seed, model, hidden, samples, init_scale, model_seed,
            plot, as_json, report_format, output, no_color, require_converged, test_spec, test_rhs, libraries, alpha, function_spec):
    """Run solvers against the exact least-squares answer: who gets there, how fast, and why not."""
    if function_spec is not None:
        refuse_given(FUNCTION_IGNORES | COMPARE_FUNCTION_IGNORES, "not used with --function")
        return compare_function_command(function_spec, solvers, lrs, max_iter, tol, x0, plot, as_json, report_format, output,
                                        no_color, require_converged)
    from .comparison import compare as run_comparison
    from .comparison import parse_solvers, parse_sweeps
    from .errors import ExitCode
    from .policy import comparison_verdict
    from .solvers import Settings

    if problem is None:
        raise click.UsageError("Missing argument 'PROBLEM'.")
    if objective == "logistic":
        refuse_given(LOGISTIC_COMPARE_IGNORES, "not available with --objective logistic")
        prob = load_logistic(problem, rhs, loss, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external)
        return compare_logistic_command(prob, solvers, lrs, max_iter, tol, x0, seed, plot, as_json, report_format, output,
                                        no_color, require_converged)
    names = parse_solvers(solvers) if solvers or model == LINEAR_KIND else None
    required = parse_solvers(require_converged, "--require-converged") if require_converged else ()
    prob = load(problem, rhs, loss, objective, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external, memory_limit,
                engine, scheduler)
    prob = chosen_model(prob, model, hidden, samples, init_scale, model_seed)
    x0_values, _label = parse_x0(x0, prob, seed)
    progress = LazyProgress(enabled=sys.stderr.isatty() and not as_json)
    fixed, sweeps = parse_sweeps(params, lrs)
    settings = Settings(max_iter=max_iter, tol=tol, time_limit=time_limit, dtype=dtype, simulate=simulate,
                        lr=lrs[0] if len(lrs) == 1 else None, params=fixed, seed=seed, progress=progress)
    try:
        result = run_comparison(prob, names, settings, x0=x0_values, method=method, sweeps=sweeps)
    finally:
        progress.close()
    if alpha is not None and not libraries:
        from .errors import UsageError

        raise UsageError("--alpha goes with --libraries")
    if libraries:
        result = with_libraries(result, alpha)
    if test_spec is not None:
        result = with_held_out(result, load(test_spec, test_rhs, loss, objective, intercept, ridge, a_key, b_key, target, no_header,
                                            fmt, allow_external), test_spec)

    def text(console):
        from .render.comparison_text import render_comparison

        render_comparison(result, console)

    def json_report():
        from .render.json_report import comparison_json

        return comparison_json(result)

    converged = sum(r.status == "converged" for r in result.results)
    if result.interrupted:  # the report is partial: shown, never written over --output
        emit(text, json_report, as_json, None, no_color, "", report_format)
        kept = f"; {output} was left as it was" if output else ""
        _stderr(f"condiag: interrupted; the results above are the solvers that finished{kept}")
        return ExitCode.INTERRUPTED
    draw(plot, "comparison_figure", result)
    verdict = comparison_verdict(result, required)
    emit(text, json_report, as_json, output, no_color, f"{converged} of {len(result.results)} solvers converged", report_format,
         verdict.checks, figures_of("comparison_figure", result, "The loss gap f(x) − f* of each solver per iteration"
                                    + (", and the paths on the contours of f." if result.problem.n_cols == 2 else ".")))
    return conclude(verdict, plot)


@cli.command()
@problem_options
@output_options
@handle_errors
def solve(problem, rhs, loss, objective, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external, method, engine, scheduler,
          memory_limit, as_json, report_format, output, no_color):
    """Print the reference solution x* with its stated accuracy (more accurate than numpy.linalg.lstsq)."""
    from .errors import UsageError
    from .reference import solve_report

    if problem is None:
        raise click.UsageError("Missing argument 'PROBLEM'.")
    if method == "iterative":
        raise UsageError("--method iterative: solve computes x* by a direct, refined factorisation; "
                         "--method applies to the spectrum in analyze and compare")
    if objective == "logistic":
        return solve_logistic_command(problem, rhs, loss, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external,
                                      as_json, report_format, output, no_color)
    prob = load(problem, rhs, loss, objective, intercept, ridge, a_key, b_key, target, no_header, fmt, allow_external, memory_limit,
                engine, scheduler)
    result = solve_report(prob)
    reference = result.reference

    def text(console):
        from .render.text import render_solution

        render_solution(prob, reference, console)

    json_report = result.to_dict

    digits = reference.accuracy.get("correct_digits")
    emit(text, json_report, as_json, output, no_color, f"x* with about {digits:.0f} correct digits" if digits is not None else "x*",
         report_format)
    return 0


@cli.command()
@click.argument("logs", nargs=-1, required=True, metavar="LOG...")
@click.option("--column", metavar="NAME", help="The loss column (JSON key); found by name (loss, train_loss, value, ...) when omitted.")
@click.option("--step-column", metavar="NAME", help="The step column (JSON key); found by name (step, global_step, ...) when omitted.")
@click.option("--lr-column", metavar="NAME", help="The learning-rate column; found by name (lr, learning_rate) when omitted.")
@click.option("--run-column", metavar="NAME", help="A column naming the run of each record (several runs in one file).")
@click.option("--tag", metavar="TAG", help="TensorBoard event files: the scalar tag of the loss (default: the only one, or one named like a loss).")
@click.option("--log-format", type=click.Choice(("csv", "tsv", "jsonl", "json", "txt", "tfevents")),
              help="The log's format, when neither its name nor its content tells (standard input: -).")
@click.option("--lr", type=LEARNING_RATE, metavar="LR", help="The run's learning rate (default: the log's lr column where constant).")
@click.option("--tol", type=TOLERANCE, default=1e-6, show_default=True, metavar="EPS",
              help="Converged when the gap to the fitted floor fell to EPS of its start.")
@click.option("--problem", metavar="PATH[:KEY]", help="The problem the run trained on: the log is checked against GD's closed-form curve.")
@click.option("--rhs", metavar="PATH[:KEY]", help="With --problem: the file (and key) holding b.")
@click.option("--loss", type=click.Choice(LOSS_CHOICES), default="sum", show_default=True, help="With --problem: the loss convention you assume.")
@click.option("--objective", type=click.Choice(("least-squares", "quadratic")), default="least-squares", show_default=True,
              help="With --problem: quadratic means the matrix is Q in f(x) = ½xᵀQx - bᵀx.")
@click.option("--intercept", is_flag=True, help="With --problem: append a column of ones to A.")
@click.option("--ridge", type=FiniteFloat(min=0, max=MAX_RIDGE), default=0.0, show_default=True, metavar="LAMBDA",
              help="With --problem: add LAMBDA·||x||² to the loss.")
@click.option("--a-key", metavar="KEY", help="With --problem: the name of A in an npz/HDF5/MAT file.")
@click.option("--b-key", metavar="KEY", help="With --problem: the name of b in an npz/HDF5/MAT file.")
@click.option("--target", metavar="COL", help="With --problem: the CSV/TSV column holding b.")
@click.option("--x0", metavar="SPEC", help="With --problem: the starting point (numbers, 'torch' or a vector file; default zeros).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of --x0 torch.")
@click.option("--plot", type=click.Path(dir_okay=False), metavar="FILE", help="Write a plot (.png, .svg or .pdf): the log, its fit and the prediction.")
@output_options
@click.option("--fail-on", metavar="LIST", help="Exit 1 when a run's verdict is one of these (comma-separated): "
              "diverging, oscillating, crawling, stalled, plateau, not-finite, spikes.")
@click.option("--max-steps-to-tol", type=FiniteFloat(min=0), metavar="N", help="Exit 1 when a run needs more than N further steps to reach --tol.")
@click.option("--verbose", "-v", is_flag=True, help="Also the reader's notes.")
@handle_errors
def trace(logs, column, step_column, lr_column, run_column, tag, log_format, lr, tol, problem, rhs, loss, objective, intercept, ridge, a_key, b_key,
          target, x0, seed, plot, as_json, report_format, output, no_color, fail_on, max_steps_to_tol, verbose):
    """Diagnose a training run from its loss log: diverging, oscillating, converging (how fast, how long),
    stalled or on a noisy plateau — and, with --problem, where the log departs from what GD must do."""
    from .errors import UsageError
    from .policy import trace_verdict
    from .trace.diagnosis import FAIL_ON_CHOICES
    from .trace.logs import read_logs
    from .trace.report import diagnose

    wanted = tuple(w.strip() for w in (fail_on or "").split(",") if w.strip())
    unknown = [w for w in wanted if w not in FAIL_ON_CHOICES]
    if unknown:
        raise UsageError(f"--fail-on: unknown {', '.join(unknown)} (choose from {', '.join(FAIL_ON_CHOICES)})")
    runs = [log for path in logs for log in read_logs(path, column=column, step_column=step_column, lr_column=lr_column,
                                                      run_column=run_column, tag=tag, fmt=log_format)]
    prob = x0_values = x0_label = None
    if problem is not None:
        prob = load(problem, rhs, loss, objective, intercept, ridge, a_key, b_key, target, False, None, False)
        x0_values, x0_label = parse_x0(x0, prob, seed)
        if lr is None and any(run.lr is None for run in runs):
            raise UsageError("--problem needs the run's learning rate: give --lr (the log has no lr column)")
    report = with_progress(as_json, lambda progress: diagnose(runs, lr=lr, tol=tol, problem=prob, x0=x0_values,
                                                              x0_source=x0_label, progress=progress))

    def text(console):
        from .render.trace_text import render_trace

        render_trace(report, console, verbose)

    draw(plot, "trace_figure", report)
    verdicts = ", ".join(run.verdict.value for run in report.runs)
    verdict = trace_verdict(report, wanted, max_steps_to_tol)
    emit(text, report.to_dict, as_json, output, no_color, f"{len(report.runs)} run(s): {verdicts}", report_format, verdict.checks,
         figures_of("trace_figure", report, "Each run's loss per step, its fit dashed (and the prediction dotted with --problem)."))
    return conclude(verdict, plot)


@cli.command("model")
@click.argument("factory", metavar="FILE.py:FACTORY")
@click.option("--data", required=True, metavar="FILE", help="Inputs and targets: .npz or .h5 (arrays 'inputs'/'targets', or x/y, "
              "X/y, features/labels) or a .pt dict of tensors (read with weights_only=True).")
@click.option("--inputs-key", metavar="KEY", help="The name of the inputs in --data.")
@click.option("--targets-key", metavar="KEY", help="The name of the targets in --data.")
@click.option("--weights", metavar="FILE", help="The model's state dict: .safetensors, or a .pt read with torch.load(weights_only=True) "
              "(never a full pickle). Default: the factory's own initialisation, seeded by --seed.")
@click.option("--loss", "loss_name", type=click.Choice(("mse", "cross-entropy", "bce")), default="mse", show_default=True,
              help="MSELoss, CrossEntropyLoss (targets: class indices) or BCEWithLogitsLoss.")
@click.option("--reduction", type=click.Choice(("mean", "sum")), default="mean", show_default=True, help="The loss's reduction.")
@click.option("--lr", "lrs", type=LEARNING_RATE, multiple=True, metavar="LR", help="A learning rate to check against the edge of "
              "stability (repeatable).")
@click.option("--optimizer", type=click.Choice(("sgd", "adam")), default="sgd", show_default=True,
              help="adam: with --optimizer-state, the preconditioned sharpness λmax(P⁻¹H) against Adam's threshold.")
@click.option("--betas", default="0.9,0.999", show_default=True, metavar="B1,B2", help="Adam's betas (the state's own when given).")
@click.option("--optimizer-state", metavar="FILE", help="torch.optim.Adam's state_dict() saved with torch.save (read with weights_only=True).")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="B", help="The curvature of one batch of B samples (seeded), "
              "not of the whole data.")
@click.option("--dtype", type=click.Choice(("float32", "float64")), help="Precision of the products (default: the weights' dtype).")
@click.option("--top", type=click.IntRange(min=1, max=50), default=5, show_default=True, help="How many of the largest eigenvalues to report.")
@click.option("--iterations", type=click.IntRange(min=2, max=2000), default=80, show_default=True,
              help="The most Lanczos steps (each one Hessian-vector product).")
@click.option("--trace-probes", type=click.IntRange(min=0, max=100_000), default=30, show_default=True,
              help="Hutchinson probes for the trace (0: skip).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seeds the Lanczos start, the probes, the batch and an initialisation.")
@click.option("--plot", type=click.Path(dir_okay=False), metavar="FILE", help="Write a plot (.png, .svg or .pdf): the largest "
              "eigenvalues against 2/lr, and λmax by module.")
@output_options
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default="never", show_default=True,
              help="Exit 1 when a finding of this severity or worse is present.")
@click.option("--max-sharpness-ratio", type=POSITIVE, metavar="R", help="Exit 1 when an --lr has sharpness·lr/2 above R.")
@click.option("--verbose", "-v", is_flag=True, help="Every finding's detail.")
@handle_errors
def model_command(factory, data, inputs_key, targets_key, weights, loss_name, reduction, lrs, optimizer, betas, optimizer_state,
                  batch_size, dtype, top, iterations, trace_probes, seed, plot, as_json, report_format, output, no_color, fail_on,
                  max_sharpness_ratio, verbose):
    """The curvature of a PyTorch model's loss — sharpness λmax and the top eigenvalues with error bounds, λmin, the
    trace, per-layer λmax, Adam's preconditioned sharpness — against your learning rate (the edge of stability)."""
    from .errors import UsageError
    from .net.report import analyze_model
    from .policy import Check, findings_check, verdict_of

    if optimizer_state is not None and optimizer != "adam":
        raise UsageError("--optimizer-state goes with --optimizer adam")
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UsageError("condiag model needs PyTorch: pip install 'condiag[torch]'") from None
    result = with_progress(as_json, lambda progress: analyze_model(
        factory, data, weights=weights, loss=loss_name, reduction=reduction, lrs=lrs, optimizer=optimizer, betas=parse_betas(betas),
        optimizer_state=optimizer_state, batch_size=batch_size, dtype=dtype, top=top, iterations=iterations,
        trace_probes=trace_probes, seed=seed, inputs_key=inputs_key, targets_key=targets_key, progress=progress))

    def text(console):
        from .render.model_text import render_model

        render_model(result, console, verbose)

    draw(plot, "model_figure", result)
    checks = findings_check(result.findings, fail_on)
    if max_sharpness_ratio is not None:
        for c in result.checks:
            passed = c.ratio <= max_sharpness_ratio
            checks.append(Check(f"--max-sharpness-ratio {max_sharpness_ratio:g} (lr {c.lr:g})", passed,
                                f"lr {c.lr:g}: sharpness·lr/2 = {c.ratio:.4g}, {'within' if passed else 'above'} "
                                f"--max-sharpness-ratio {max_sharpness_ratio:g}"))
    verdict = verdict_of(checks)
    emit(text, result.to_dict, as_json, output, no_color, f"sharpness {result.sharpness:.4g}, {len(result.findings)} findings",
         report_format, verdict.checks, figures_of("model_figure", result, "Left: the largest eigenvalues of the loss's Hessian "
                                                   "(± their residual bounds) against 2/lr. Right: λmax of each module's block."))
    return conclude(verdict, plot)


def check_file(ctx, config, entry, path: str):
    """Run one configured entry on one file, as ``condiag ENTRY.COMMAND PATH`` with the entry's settings would;
    returns its :class:`~condiag.check.FileOutcome` (a file that cannot be checked gives its error instead) and the
    (render_text, figures) of its report for the HTML document."""
    from .check import FileOutcome
    from .config import ConfigError

    command = cli.commands[entry.command]
    sink: list = []
    token = _COLLECTED.set(sink)
    try:
        defaults = config_defaults(ctx, config, entry.command, entry)
        with command.make_context(entry.command, [path], parent=ctx, default_map=defaults) as sub:
            params = {k: v for k, v in sub.params.items() if k != "traceback"}
            with sub.scope():
                code = int(command.callback.__wrapped__(**params) or 0)  # type: ignore[union-attr]  # our own commands
    except ConfigError:
        raise
    except click.UsageError as exc:
        return FileOutcome(path, entry.command, ExitCode.USAGE, error=exc.format_message(), entry=entry.where), (None, None)
    except CondiagError as exc:
        return FileOutcome(path, entry.command, exc.exit_code, error=exc.command_line(), entry=entry.where), (None, None)
    finally:
        _COLLECTED.reset(token)
    report, checks, summary, render_text, figures = sink[-1] if sink else (None, (), "", None, None)
    outcome = FileOutcome(path, entry.command, code, report=report, checks=checks, summary=summary, entry=entry.where)
    return outcome, (render_text, figures)


@cli.command()
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@output_options
@handle_errors
def check(paths, as_json, report_format, output, no_color):
    """Run every file entry of the configuration ([[tool.condiag.files]]), as a linter does: one line a file, a
    summary, exit 1 if any fails. With PATHs (pre-commit passes the changed files), only those files."""
    import time

    from .check import FileOutcome, describe, overall_exit_code, tally
    from .config import entry_files
    from .errors import UsageError

    started = time.perf_counter()
    ctx = click.get_current_context()
    config = ctx.find_root().obj
    if config is None or config.path is None:
        raise UsageError("no configuration found: add [tool.condiag] with [[tool.condiag.files]] to pyproject.toml, "
                         "or a condiag.toml (see docs/ci.md), or give --config")
    if not config.entries:
        raise UsageError(f"{config.table}: has no [[files]] entries for condiag check")
    for entry in config.entries:  # every entry's settings are checked before any runs (a bad one is exit 2)
        config_defaults(ctx, config, entry.command, entry)
    outcomes, views = [], []
    for entry in config.entries:
        files = entry_files(config, entry, paths or None)
        if not files and not paths:
            outcomes.append(FileOutcome(", ".join(entry.patterns), entry.command, ExitCode.BAD_INPUT,
                                        error=f"{entry.where}: no file matches {', '.join(entry.patterns)}", entry=entry.where))
            views.append((None, None))
        for path in files:
            outcome, view = check_file(ctx, config, entry, path)
            outcomes.append(outcome)
            views.append(view)
    label = os.path.relpath(config.path)
    seconds = time.perf_counter() - started

    def text(console):
        from .render.check_text import render_check

        render_check(outcomes, label, console)

    def json_report():
        from .render.json_report import check_json

        return check_json(outcomes, label, seconds)

    def html():
        from .render.html_report import check_html
        from .render.text import recorded_html

        return check_html(json_report(), [(o.checks, recorded_html(render) if render else None, figures() if figures else ())
                                          for o, (render, figures) in zip(outcomes, views)])

    emit(text, json_report, as_json, output, no_color, describe(tally(outcomes)), report_format, render_html=html)
    return overall_exit_code(outcomes)


@cli.command()
@click.argument("command", type=click.Choice(("analyze", "compare", "solve", "trace", "check", "model")))
@handle_errors
def schema(command):
    """Print the JSON Schema (draft 2020-12) that COMMAND's --json output follows."""
    from .render.json_report import json_schema

    _to_stdout(lambda: sys.stdout.write(json_schema(command)))
    return 0


def _reconfigure_streams() -> None:
    """Never fail on an encoding: characters stdout/stderr cannot encode (PYTHONIOENCODING=ascii)
    become backslash escapes, which are also valid inside JSON strings."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]  # AttributeError handled
        except (AttributeError, ValueError, OSError):
            pass


def main(argv=None):
    """Console-script entry point: every outcome is an exit code and at most one line on stderr.

    click's usage errors (four lines in its standalone mode) become one line and exit 2; a
    failure to write help or a report to standard output (``> /dev/full``) exits 74 quietly.
    """
    if sys.stdout is None or sys.stderr is None:  # started with a closed standard stream
        if sys.stderr is not None:
            _stderr("condiag: error: standard output is closed")
        sys.exit(int(ExitCode.ENVIRONMENT))
    _reconfigure_streams()
    try:
        code = cli.main(args=argv, prog_name="condiag", standalone_mode=False)
        sys.stdout.flush()
    except click.exceptions.UsageError as exc:
        command = f" {exc.ctx.command_path.split(' ', 1)[1]}" if exc.ctx and " " in exc.ctx.command_path else ""
        _stderr(f"condiag{command}: usage error: {exc.format_message()} (see condiag{command} --help)")
        code = ExitCode.USAGE
    except click.exceptions.Abort:
        _stderr("condiag: interrupted")
        code = ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        _stderr("condiag: interrupted")
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:  # help or version printed to a closed pipe
        _quiet_broken_pipe()
        code = ExitCode.OK
    except OSError as exc:  # help or version printed to a full disk
        _quiet_broken_pipe()
        _stderr(f"condiag: error: cannot write to standard output: {exc.strerror or type(exc).__name__}")
        code = ExitCode.ENVIRONMENT
    except click.exceptions.ClickException as exc:
        _stderr(f"condiag: error: {exc.format_message()}")
        code = exc.exit_code
    sys.exit(int(code or 0))
