"""condiag analyze: the numbers of the stories, closed form vs simulation, findings, JSON, exit codes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from condiag.analysis import analyze
from condiag.errors import ExitCode
from condiag.io import load_problem
from condiag.problem import LOSS_CONVENTIONS, Problem


def simulate_gd(problem: Problem, lr: float, steps: int, x0=None) -> float:
    x = np.zeros(problem.n_cols) if x0 is None else np.array(x0, dtype=float)
    for _ in range(steps):
        x = x - lr * problem.gradient(x)
    return problem.value(x)


# ---------------------------------------------------------------------------- story 1
def test_story1_valley_numbers(samples):
    p = load_problem(str(samples / "valley_2x2.npz"))
    a = analyze(p, [1.604e-5, 1.603e-5, 1e-5], steps=1000)
    assert a.bounds.divergence_threshold == pytest.approx(1.6031e-5, rel=5e-4)
    assert a.spectrum.condition_number == pytest.approx(1803.3, rel=1e-4)
    assert a.spectrum.hessian_condition_number == pytest.approx(3.25e6, rel=1e-2)
    flat = a.spectrum.flattest.loadings[0]
    assert flat[0] == "x[1]" and flat[2] > 0.999
    unstable, stable, slow = a.checks
    assert not unstable.stable and stable.stable
    # closed form after T = 1000 steps equals a float64 simulation to 1e-9 relative
    for check in (stable, slow):
        assert check.predicted_loss == pytest.approx(simulate_gd(p, check.lr, 1000), rel=1e-9)
    np.testing.assert_allclose(a.reference.x, [1.2000, -72.1824], atol=1e-4)
    codes = {f.code for f in a.findings}
    assert {"CD101", "CD110", "CD111"} <= codes


def test_story1_million_steps_loss(samples):
    """The users' guide: lr 1e-5 after 10^6 steps leaves a loss of 46.4 of the starting 100."""
    p = load_problem(str(samples / "valley_2x2.npz"))
    check = analyze(p, [1e-5], steps=1_000_000).checks[0]
    assert check.start_loss == pytest.approx(100.0)
    assert check.predicted_loss == pytest.approx(46.414, rel=1e-4)
    # steps_to_tol is the first T with gap <= tol * gap0: check both sides by closed form and by the rate
    lam_flat = analyze(p).spectrum.lambda_min
    assert check.steps_to_tol == pytest.approx(math.log(1e-6) / (2 * math.log1p(-1e-5 * lam_flat)), rel=1e-3)


def test_unstable_lr_overflow_step_and_growth(samples):
    p = load_problem(str(samples / "valley_2x2.npz"))
    check = analyze(p, [1.61e-5], steps=100).checks[0]
    L = analyze(p).spectrum.lambda_max
    assert check.growth_factor == pytest.approx(abs(1 - 1.61e-5 * L), rel=1e-12)
    # the loss at the reported overflow step is past 1e300, one step earlier it is not
    k = check.overflow_step
    loss_k = analyze(p, [1.61e-5], steps=k).checks[0].predicted_loss_log10
    loss_before = analyze(p, [1.61e-5], steps=k - 1).checks[0].predicted_loss_log10
    assert loss_k >= 300 > loss_before
    # and a direct simulation diverges the same way for the first steps
    assert analyze(p, [1.61e-5], steps=50).checks[0].predicted_loss == pytest.approx(simulate_gd(p, 1.61e-5, 50), rel=1e-9)


@pytest.mark.parametrize("loss", LOSS_CONVENTIONS)
def test_threshold_per_convention(samples, loss):
    base = analyze(load_problem(str(samples / "valley_2x2.npz")))
    a = analyze(load_problem(str(samples / "valley_2x2.npz"), loss=loss))
    factor = {"sum": 1, "mean": 2, "half": 2, "half-mean": 4}[loss]  # n = 2 rows
    assert a.bounds.divergence_threshold == pytest.approx(factor * base.bounds.divergence_threshold, rel=1e-12)
    table = {c.loss: c.threshold for c in a.bounds.by_convention}
    assert table[loss] == pytest.approx(a.bounds.divergence_threshold, rel=1e-12)


def test_mean_threshold_is_n_times_sum(samples):
    sum_a = analyze(load_problem(str(samples / "well_conditioned.npz")))
    mean_a = analyze(load_problem(str(samples / "well_conditioned.npz"), loss="mean"))
    assert mean_a.bounds.divergence_threshold == pytest.approx(200 * sum_a.bounds.divergence_threshold, rel=1e-12)


# ---------------------------------------------------------------------------- closed form = simulation
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 7),
    d=st.integers(1, 5),
    loss=st.sampled_from(LOSS_CONVENTIONS),
    ridge=st.sampled_from([0.0, 0.05]),
    fraction=st.floats(0.05, 1.9),
    seed=st.integers(0, 10_000),
    steps=st.integers(0, 60),
)
def test_closed_form_matches_simulation_least_squares(n, d, loss, ridge, fraction, seed, steps):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d)) * rng.uniform(0.1, 3, size=d)
    b = rng.normal(size=n)
    p = Problem.create(A, b, loss=loss, ridge=ridge)
    base = analyze(p)
    if base.bounds.divergence_threshold is None:
        return
    lr = fraction * base.bounds.divergence_threshold
    x0 = rng.normal(size=d)
    check = analyze(p, [lr], steps=steps, x0=x0).checks[0]
    simulated = simulate_gd(p, lr, steps, x0)
    assert check.predicted_loss == pytest.approx(simulated, rel=1e-8, abs=1e-10 * max(1.0, abs(simulated)))


@settings(max_examples=25, deadline=None)
@given(d=st.integers(1, 6), fraction=st.floats(0.05, 1.9), seed=st.integers(0, 10_000), steps=st.integers(0, 60))
def test_closed_form_matches_simulation_spd(d, fraction, seed, steps):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(d, d))
    Q = M @ M.T + 0.1 * np.eye(d)
    b = rng.normal(size=d)
    p = Problem.create(Q, b, objective="quadratic")
    lr = fraction * analyze(p).bounds.divergence_threshold
    check = analyze(p, [lr], steps=steps).checks[0]
    simulated = simulate_gd(p, lr, steps)
    scale = abs(analyze(p).reference.loss) + abs(simulated)
    assert check.predicted_loss == pytest.approx(simulated, rel=1e-8, abs=1e-10 * scale)


def test_steps_to_tol_is_first_crossing(samples):
    p = load_problem(str(samples / "well_conditioned.npz"))
    a = analyze(p, [0.5 * analyze(p).bounds.divergence_threshold])
    check = a.checks[0]
    T = check.steps_to_tol
    floor = a.reference.loss
    gap0 = check.start_loss - floor
    gap = lambda t: simulate_gd(p, check.lr, t) - floor  # noqa: E731
    assert gap(T) <= 1e-6 * gap0 * (1 + 1e-6)
    assert gap(T - 1) > 1e-6 * gap0


# ---------------------------------------------------------------------------- causes and edge cases
def test_rank_deficient_sample(samples):
    p = load_problem(str(samples / "rank_deficient.npz"))
    a = analyze(p, [1e-3])
    assert a.spectrum.rank == 4 and a.spectrum.null_dim == 1
    f = {x.code: x for x in a.findings}["CD102"]
    assert "minimum-norm" in f.detail and "null space" in f.detail
    # the null direction mixes x[0] and x[4] (the duplicated column), equally
    loads = dict((name, share) for name, _v, share in a.spectrum.flattest.loadings)
    assert loads["x[0]"] == pytest.approx(0.5, abs=1e-6) and loads["x[4]"] == pytest.approx(0.5, abs=1e-6)
    # x* is the minimum-norm solution, equal to lstsq's; the floor is its loss
    x_lstsq = np.linalg.lstsq(p.A, p.b, rcond=None)[0]
    np.testing.assert_allclose(a.reference.x, x_lstsq, rtol=1e-10, atol=1e-12)
    assert a.reference.loss == pytest.approx(p.value(x_lstsq), rel=1e-12)
    assert a.reference.loss > 0 and "CD106" in {x.code for x in a.findings}
    # GD converges in loss (closed form on the row space) even though H is singular
    assert a.checks[0].steps_to_tol is not None


def test_badly_scaled_sample(samples):
    p = load_problem(str(samples / "badly_scaled.npz"))
    a = analyze(p)
    scaling = a.causes.scaling
    assert a.spectrum.condition_number > 1e5
    assert scaling.cond_equilibrated < 3
    assert scaling.cond_equilibrated == pytest.approx(np.linalg.cond(p.A / np.linalg.norm(p.A, axis=0)), rel=1e-10)
    f = {x.code: x for x in a.findings}["CD103"]
    assert "the cause" in f.title and "CD104" not in {x.code for x in a.findings}


def test_well_conditioned_control(samples):
    a = analyze(load_problem(str(samples / "well_conditioned.npz")))
    codes = {f.code for f in a.findings}
    assert "CD100" in codes and not codes & {"CD101", "CD102", "CD103", "CD104", "CD105"}
    assert a.spectrum.condition_number == pytest.approx(np.linalg.cond(load_problem(str(samples / "well_conditioned.npz")).A), rel=1e-12)


def test_longley_condition_number_matches_statsmodels_definition(samples):
    """statsmodels' OLS condition_number is sqrt(λmax/λmin) of XᵀX; checked in 60-digit arithmetic."""
    mp = pytest.importorskip("mpmath")
    p = load_problem(str(samples / "longley.csv"), target="Employed", intercept=True)
    a = analyze(p)
    mp.mp.dps = 60
    rows = [line.split(",") for line in (samples / "longley.csv").read_text().splitlines()[1:]]
    X = mp.matrix([[mp.mpf(v) for v in r[:6]] + [1] for r in rows])
    eig = mp.eigsy(X.T * X, eigvals_only=True)
    exact = float(mp.sqrt(max(eig) / min(eig)))
    assert a.spectrum.condition_number == pytest.approx(exact, rel=1e-6)
    assert {"CD104"} <= {f.code for f in a.findings}
    assert a.causes.intercept_column == "intercept"
    assert a.causes.scaling.cond_standardised is not None


def test_longley_against_statsmodels_if_installed(samples):
    sm = pytest.importorskip("statsmodels.api")
    p = load_problem(str(samples / "longley.csv"), target="Employed", intercept=True)
    ols = sm.OLS(p.b, p.A).fit()
    assert analyze(p).spectrum.condition_number == pytest.approx(ols.condition_number, rel=1e-6)


def test_quadratic_story4(samples):
    p = load_problem(str(samples / "quadratic_1d.npz"), objective="quadratic")
    a = analyze(p, [0.2, 0.05, 1.1], steps=10, x0=[10.0])
    fast, slow, diverging = a.checks
    # f = x^2: x_k = (1 - 2 lr)^k x0, exactly
    assert fast.predicted_loss == pytest.approx((0.6**10 * 10) ** 2, rel=1e-12)
    assert slow.predicted_loss == pytest.approx((0.9**10 * 10) ** 2, rel=1e-12)
    assert not diverging.stable and diverging.predicted_loss == pytest.approx((1.2**10 * 10) ** 2, rel=1e-12)
    assert a.bounds.divergence_threshold == pytest.approx(1.0)
    q2 = analyze(load_problem(str(samples / "quadratic_2d.npz"), objective="quadratic"))
    assert q2.spectrum.hessian_condition_number == pytest.approx(2.0)


def test_not_convex_quadratic(tmp_path):
    np.save(tmp_path / "Q.npy", np.diag([1.0, -2.0]))
    a = analyze(load_problem(str(tmp_path / "Q.npy"), objective="quadratic"), [0.1])
    assert a.findings[0].code == "CD120" and a.checks[0].predicted_loss is None


def test_wide_matrix_and_tiny_huge_scales():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(3, 6))
    b = rng.normal(size=3)
    for scale in (1e-150, 1.0, 1e150):
        p = Problem.create(A * scale, b)
        a = analyze(p, [0.5 * analyze(p).bounds.divergence_threshold], steps=20)
        assert a.spectrum.rank == 3 and a.spectrum.null_dim == 3
        assert a.bounds.divergence_threshold == pytest.approx(1.0 / (np.linalg.norm(A, 2) * scale) ** 2, rel=1e-12)
        assert a.floor_is_zero
        assert a.checks[0].predicted_loss == pytest.approx(simulate_gd(p, a.checks[0].lr, 20), rel=1e-8)


def test_float32_input_flags_precision(tmp_path, samples):
    d = np.load(samples / "valley_2x2.npz")
    np.savez(tmp_path / "v32.npz", A=d["A"].astype(np.float32), b=d["b"].astype(np.float32))
    a = analyze(load_problem(str(tmp_path / "v32.npz")))
    f = {x.code: x for x in a.findings}["CD105"]
    assert "float32" in f.detail
    assert a.causes.precision.cond_h_float32 == pytest.approx(a.spectrum.hessian_condition_number * 2.0**-24)


def test_zero_matrix():
    a = analyze(Problem.create(np.zeros((3, 2)), np.ones(3)), [0.1])
    assert a.spectrum.rank == 0 and a.bounds.divergence_threshold is None and a.checks[0].stable


# ---------------------------------------------------------------------------- CLI, JSON, exit codes
CONTRACT = {
    "schema_version", "condiag_version", "problem", "spectrum", "learning_rate", "lr_checks", "loss_floor", "findings",
}
SAMPLE_RUNS = [
    ("valley_2x2.npz",),
    ("valley_2x2.csv",),
    ("kernel_600.h5:kernels/train_kernel", "--rhs", "{s}/kernel_600.h5:vectors/train_vector", "--loss", "mean"),
    ("badly_scaled.npz",),
    ("rank_deficient.npz",),
    ("well_conditioned.npz",),
    ("quadratic_2d.npz", "--objective", "quadratic"),
    ("quadratic_1d.npz", "--objective", "quadratic"),
    ("longley.csv", "--target", "Employed", "--intercept"),
]


@pytest.mark.parametrize("args", SAMPLE_RUNS, ids=[a[0] for a in SAMPLE_RUNS])
def test_json_contract_on_every_sample(run, samples, args):
    first, *rest = args
    rest = [r.format(s=samples) for r in rest]
    result = run("analyze", samples / first, *rest, "--lr", "1e-6", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert CONTRACT <= set(report)
    assert {"source", "n_rows", "n_cols", "loss", "objective", "sparse"} <= set(report["problem"])
    assert {"sigma_max", "sigma_min", "condition_number", "hessian_condition_number", "rank", "lambda_max", "lambda_min"} <= set(report["spectrum"])
    assert {"max_stable", "optimal", "optimal_rate", "iterations_to_tol"} <= set(report["learning_rate"])
    assert {"lr", "stable", "steps", "predicted_loss", "steps_to_tol"} <= set(report["lr_checks"][0])
    for finding in report["findings"]:
        assert {"code", "severity", "title", "detail", "remedies"} <= set(finding)
        assert finding["code"].startswith("CD") and finding["severity"] in ("info", "warning", "error")


def _nulls(report, path=""):
    """(path, sibling note or None) for every null in a JSON report."""
    found = []
    if isinstance(report, dict):
        for key, value in report.items():
            if value is None:
                found.append((f"{path}.{key}", report.get(f"{key}_note")))
            found += _nulls(value, f"{path}.{key}")
    elif isinstance(report, list):
        for i, value in enumerate(report):
            found += _nulls(value, f"{path}[{i}]")
    return found


# nulls that mean "does not apply to this problem" (documented in the README), not a non-finite number
NOT_APPLICABLE = ("causes.scaling", "causes.collinearity", "causes.intercept_column", "cond_standardised", "snippet",
                  "ridge_suggestion", "reference.residual_norm", "rhs_source", "minibatch")


def test_json_nulls_carry_a_note(run, samples):
    """Every null is either a documented 'not applicable' key or a non-finite number with its <key>_note."""
    report = run("analyze", samples / "rank_deficient.npz", "--json").json()
    assert report["spectrum"]["condition_number"] > 1e15 and report["spectrum"]["effective_condition_number"] < 10
    singular = run("analyze", samples / "quadratic_1d.npz", "--objective", "quadratic", "--json").json()
    kernel = run("analyze", samples / "kernel_600.h5:kernels/train_kernel", "--json").json()
    assert kernel["problem"]["has_rhs"] is False
    for one in (report, singular, kernel):
        for path, note in _nulls(one):
            assert note or any(path.endswith(key) or f".{key}" in path for key in NOT_APPLICABLE), (path, note)


def test_json_infinity_becomes_null_with_note(tmp_path, run):
    np.save(tmp_path / "A.npy", np.array([[1.0, 0.0], [0.0, 0.0]]))
    report = run("analyze", tmp_path / "A.npy", "--json").json()
    assert report["spectrum"]["condition_number"] is None
    assert report["spectrum"]["condition_number_note"] == "infinite"


def test_text_report_plain_without_color(run, samples):
    result = run("analyze", samples / "valley_2x2.npz", "--lr", "1e-5", env={"NO_COLOR": "1"})
    assert result.code == 0
    assert "\x1b[" not in result.out
    # 2/L = 1.6030884e-5: the safe statement is rounded down, the threshold itself printed to 7 digits
    for words in ("Narrow valley", "any lr below 1.603e-5", "2/L = 1.603089e-5", "x[1] (99.97%)", "Exact answer", "CD101"):
        assert words in result.out


def test_exit_codes(run, samples, tmp_path):
    valley = samples / "valley_2x2.npz"
    assert run("analyze", valley).code == ExitCode.OK
    assert run("analyze", valley, "--fail-on", "error").code == ExitCode.THRESHOLD
    assert run("analyze", samples / "well_conditioned.npz", "--fail-on", "warning").code == ExitCode.OK
    result = run("analyze", valley, "--max-condition", "1000")
    assert result.code == ExitCode.THRESHOLD and "exceeds --max-condition" in result.err
    assert run("analyze", valley, "--max-condition", "1e4").code == ExitCode.OK
    assert run("analyze", valley, "--lr", "1.5e-5", "--min-lr-margin", "1.5").code == ExitCode.THRESHOLD
    assert run("analyze", valley, "--lr", "1e-6", "--min-lr-margin", "1.5").code == ExitCode.OK
    assert run("analyze", valley, "--no-such-option").code == ExitCode.USAGE
    assert run("analyze", tmp_path / "missing.npz").code == ExitCode.BAD_INPUT
    assert run("analyze", valley, "--lr", "-1").code == ExitCode.USAGE  # as in compare: a bad option value


def test_internal_error_exit_70(run, samples, monkeypatch):
    import condiag.analysis

    def boom(*args, **kwargs):
        raise RuntimeError("synthetic bug")

    monkeypatch.setattr(condiag.analysis, "analyze", boom)
    result = run("analyze", samples / "valley_2x2.npz")
    assert result.code == ExitCode.INTERNAL and "internal error" in result.err and "Traceback" not in result.err


def test_interrupt_exit_130(run, samples, monkeypatch):
    import condiag.analysis

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(condiag.analysis, "analyze", interrupt)
    assert run("analyze", samples / "valley_2x2.npz").code == ExitCode.INTERRUPTED


def test_output_file_written_atomically(run, samples, tmp_path):
    out = tmp_path / "report.json"
    result = run("analyze", samples / "valley_2x2.npz", "--output", out)
    assert result.code == 0 and "wrote" in result.err and result.out == ""
    assert json.loads(out.read_text())["spectrum"]["rank"] == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".condiag-")]
    # a failing run leaves an existing file untouched
    result = run("analyze", tmp_path / "missing.npz", "--output", out)
    assert result.code == 3 and json.loads(out.read_text())["spectrum"]["rank"] == 2


def test_x0_option(run, samples):
    report = run("analyze", samples / "quadratic_1d.npz", "--objective", "quadratic", "--x0", "10", "--lr", "0.2", "--steps", "10", "--json").json()
    assert report["lr_checks"][0]["predicted_loss"] == pytest.approx((0.6**10 * 10) ** 2, rel=1e-12)
    bad = run("analyze", samples / "quadratic_1d.npz", "--objective", "quadratic", "--x0", "1,2")
    assert bad.code == 3 and "--x0" in bad.err


def test_deterministic_json_apart_from_timing(run, samples):
    first = run("analyze", samples / "valley_2x2.npz", "--lr", "1e-5", "--json").json()
    second = run("analyze", samples / "valley_2x2.npz", "--lr", "1e-5", "--json").json()
    first.pop("timing"), second.pop("timing")
    assert first == second


def test_version_and_help(run):
    from condiag import __version__

    assert __version__ in run("--version").out
    help_text = run("--help").out
    assert "analyze" in help_text


def test_the_sampled_loss_curve_is_the_closed_form(samples):
    """The curve the HTML/plot draws: the exact gap at its last step equals the reported prediction, and it crosses
    tol·(start gap) at steps_to_tol; a diverging lr's curve ends at its overflow step."""
    import math

    import condiag

    result = condiag.analyze(samples / "valley_2x2.npz", lrs=[1e-5, 3.3e-5], steps=10**8)
    stable, unstable = result.checks
    assert stable.curve_steps[-1] == 10**8
    assert math.exp(stable.curve_log_gap[-1]) == pytest.approx(stable.predicted_gap, rel=1e-9)
    start = math.exp(stable.curve_log_gap[0])
    assert start == pytest.approx(stable.start_loss - stable.loss_floor, rel=1e-12)
    assert np.all(np.diff(stable.curve_steps) > 0)
    after = stable.curve_steps >= stable.steps_to_tol
    assert np.all(np.exp(stable.curve_log_gap[after]) <= result.tol * start * (1 + 1e-12))
    assert unstable.curve_steps[-1] == unstable.overflow_step
    assert unstable.curve_log_gap[-1] >= math.log(1e300)


def test_analyze_plot(run, samples, tmp_path):
    valley = samples / "valley_2x2.npz"
    for name in ("spectrum.svg", "spectrum.png"):
        result = run("analyze", valley, "--lr", "1e-5", "--lr", "3.3e-5", "--plot", tmp_path / name)
        assert result.code == 0 and (tmp_path / name).stat().st_size > 5_000
    assert "<svg" in (tmp_path / "spectrum.svg").read_text()
    assert run("analyze", valley, "--plot", tmp_path / "x.gif").code == 2
    assert run("analyze", valley, "--model", "two-layer", "--plot", tmp_path / "y.svg").code == 2
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "y.svg").exists()
