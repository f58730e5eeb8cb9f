"""Advice a user can paste (issue 12, item 1): every advised lr and snippet parameter is fed back into condiag.

The promise under test: the printed decimal is the value that was checked; fed back through
``compare`` it converges, in the number of steps the report states (closed form from x0: exactly;
simulated: within 10%), also in float32; and it stays on the safe side of every limit.
"""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pytest
from test_analyze import SAMPLE_RUNS

from condiag.advice import (
    SAFETY_MARGIN,
    advise,
    beta_towards_less_momentum,
    contraction_gap,
)
from condiag.analysis import analyze
from condiag.comparison import compare
from condiag.io import load_problem
from condiag.numbers import floor_sig
from condiag.solvers import Settings
from condiag.trajectories import LinearMethod, spectral_radius

SOLVER_OF = {"gd": "gd", "heavy_ball": "momentum", "nesterov": "nesterov"}
SIMULATE_UP_TO = 200_000
MAX_ITER = 10**12  # compare's --max-iter limit
"""Advice needing more steps is checked in closed form (exact) instead of simulated step by step."""


def _load(samples, args):
    first, *rest = args
    options = {}
    rest = [r.format(s=samples) for r in rest]
    while rest:
        flag, *rest = rest
        if flag == "--intercept":
            options["intercept"] = True
            continue
        value, *rest = rest
        options[{"--rhs": "rhs", "--loss": "loss", "--objective": "objective", "--target": "target"}[flag]] = value
    return load_problem(str(samples / first), **options)


@pytest.mark.parametrize("value", [1.603088e-5, 3.202624333067333e-5, 0.1 + 0.2, 2.0, 7.0e-300, 1.0e300, 123456789.0])
@pytest.mark.parametrize("digits", [1, 4, 6])
def test_floor_sig_is_never_above_and_prints_as_itself(value, digits):
    rounded = floor_sig(value, digits)
    assert rounded <= value
    assert len(Decimal(repr(rounded)).normalize().as_tuple().digits) <= digits  # its shortest repr has those digits
    assert value - rounded <= 10 ** (np.floor(np.log10(value)) - digits + 1) * (1 + 1e-12)


def test_beta_is_rounded_towards_less_momentum():
    assert beta_towards_less_momentum(0.9977843265956091) == 0.997784
    assert beta_towards_less_momentum(0.5) == 0.5
    assert beta_towards_less_momentum(0.0) == 0.0


def test_the_valley_snippet_that_diverged_and_the_one_printed_now(samples):
    """The old snippet lr=3.203e-5 (Polyak's 3.20266e-5 rounded up), momentum 0.99778… had spectral radius 1.0208."""
    a = analyze(load_problem(str(samples / "valley_2x2.npz")), [1e-5])
    lam = np.array([a.spectrum.lambda_max, a.spectrum.lambda_min_nonzero])
    assert spectral_radius(LinearMethod("heavy-ball", 3.203e-5, 0.9977843265956091), lam) == pytest.approx(1.0208, abs=1e-3)
    hb = a.advice["heavy_ball"]
    assert spectral_radius(LinearMethod("heavy-ball", hb.lr, hb.beta), lam) < 1
    assert hb.lr * a.bounds.L <= SAFETY_MARGIN * 2 * (1 + hb.beta)
    gd = a.advice["gd"]
    assert gd.lr * a.bounds.L <= 2 * SAFETY_MARGIN and gd.lr < a.bounds.divergence_threshold


@pytest.mark.parametrize("args", SAMPLE_RUNS, ids=[a[0] for a in SAMPLE_RUNS])
def test_every_advised_parameter_converges_when_fed_back(samples, args):
    problem = _load(samples, args)
    analysis = analyze(problem, [], tol=1e-6)
    if not analysis.advice:
        assert not (analysis.convex and analysis.bounded and analysis.bounds.mu), "advice missing on a convex problem"
        return
    for name, advised in analysis.advice.items():
        solver = SOLVER_OF[name]
        params = {"lr": advised.lr} | ({"beta": advised.beta} if name != "gd" else {})
        steps = advised.steps_to_tol
        if steps is None:  # beyond the 10^15 steps searched: converging (checked) but not countable
            assert advised.rate < 1
            continue
        simulate = steps <= SIMULATE_UP_TO
        budget = int(steps * 1.1) + 10
        settings = Settings(max_iter=min(budget, MAX_ITER), tol=1e-6, simulate=simulate, params={solver: params})
        result = compare(problem, [solver], settings).results[0]
        if budget > MAX_ITER:  # beyond what compare may run: it must still be converging, never diverging
            assert result.status in ("max_iter", "stalled") and result.diverged_at is None, (name, result.message)
            continue
        assert result.status == "converged", (name, result.status, result.message)
        if advised.closed_form and analysis.start_loss - analysis.reference.loss >= 1.0:
            # compare's tolerance is tol·max(1, f(x0) - f*): the same count when the start gap is at least 1
            assert abs(result.iterations - steps) <= max(1, 0.1 * steps), (name, result.iterations, steps)
        if simulate and steps <= 20_000:
            float32 = compare(problem, [solver], Settings(max_iter=int(steps * 1.5) + 10, tol=1e-6, dtype="float32",
                                                            params={solver: params})).results[0]
            assert float32.status != "diverged", (name, float32.message)


@pytest.mark.parametrize("args", SAMPLE_RUNS, ids=[a[0] for a in SAMPLE_RUNS])
def test_snippets_quote_exactly_the_checked_values(run, samples, args):
    first, *rest = args
    report = run("analyze", samples / first, *[r.format(s=samples) for r in rest], "--lr", "1e-6", "--json").json()
    advice = report["advice"]
    for finding in report["findings"]:
        for remedy in finding["remedies"]:
            snippet = remedy["snippet"] or ""
            match = re.search(r"torch\.optim\.SGD\(\[x\], lr=([0-9.e+-]+), momentum=([0-9.e+-]+)\)", snippet)
            plain = re.search(r"torch\.optim\.SGD\(\[x\], lr=([0-9.e+-]+)\)", snippet)
            if match:
                assert float(match.group(1)) == advice["heavy_ball"]["lr"]
                assert float(match.group(2)) == advice["heavy_ball"]["momentum"]
            if plain:
                assert float(plain.group(1)) == advice["gd"]["lr"]
            assert "lr=..." in snippet or "lr=" not in snippet or match or plain or "LBFGS" in snippet, snippet
    threshold = report["learning_rate"]["max_stable"]
    for name, advised in advice.items():
        assert advised["lr"] < threshold if name == "gd" else advised["lr"] > 0


def test_printed_limits_are_on_the_safe_side(run, samples):
    text = run("analyze", samples / "valley_2x2.npz").out
    threshold = 2.0 / 124759.29  # 2/L of the valley, to 7 digits
    safe = float(re.search(r"any lr below\s+([0-9.e+-]+)\s+converges", text).group(1))
    best = float(re.search(r"2/\(L\+μ\) = ([0-9.e+-]+)", text).group(1))
    assert safe < threshold and best < threshold
    gd = float(re.search(r"advised: gradient descent\s+lr = ([0-9.e+-]+)", text).group(1))
    assert gd < 0.9 * 2 / 124759.29 * 1.0001  # 10% from the edge


def test_momentum_is_not_offered_where_it_does_not_help(samples):
    """On a well-conditioned problem the advice may still list momentum, but a remedy is only offered when it beats GD."""
    a = analyze(load_problem(str(samples / "well_conditioned.npz")), [1e-3])
    for finding in a.findings:
        for remedy in finding.remedies:
            if remedy.title.startswith("Add momentum"):
                assert a.advice["heavy_ball"].steps_to_tol < a.advice["gd"].steps_to_tol


def test_advice_without_a_model_is_the_worst_case_and_still_converges():
    lam = np.array([100.0, 1.0])
    advice = advise(100.0, 1.0, lam, None, 1e-6)
    for advised in advice.values():
        assert not advised.closed_form and advised.rate < 1
    assert contraction_gap(LinearMethod("gd", 2.0 / 100.0), lam) == 0.0  # at the edge: no convergence


# ---------------------------------------------------------------------------- items 5 and 6
@pytest.mark.parametrize("batch", [1, 30, 300])
def test_sgd_auto_lr_is_stable_for_every_batch_size(batch):
    """On a 300x20 problem the automatic lr diverged at batch 30 and 300 (at batch n it was 100x 2/L)."""
    rng = np.random.default_rng(0)
    from condiag.problem import Problem

    problem = Problem.create(rng.normal(size=(300, 20)) * np.logspace(0, 2, 20), rng.normal(size=300))
    result = compare(problem, ["sgd"], Settings(max_iter=3000, params={"sgd": {"batch_size": float(batch)}}))
    sgd = result.results[0]
    assert sgd.status != "diverged" and sgd.diverged_at is None
    assert sgd.final_loss < problem.value(np.zeros(20))
    if batch == 300:
        assert sgd.params["lr"] == pytest.approx(1.0 / result.bounds.L, rel=1e-12)  # half the full-batch threshold
    assert "momentum" not in result.metrics[0].verdict


def test_yardstick_claim_only_when_the_distance_is_invisible_to_the_loss():
    """Weights far from x* along a direction of curvature 1e-14: the loss cannot see them (yardstick claim);
    a run simply far from the floor gets orders of magnitude instead."""
    from condiag.problem import Problem

    A = np.diag([1.0, 1e-7])
    problem = Problem.create(A, np.array([1.0, 1e-7 * 5.0]))  # x* = (1, 5): the second weight sits in a flat direction
    stalled = compare(problem, ["gd"], Settings(max_iter=3, lr=0.01)).metrics[0].verdict
    assert "wrong yardstick" in stalled and "orders of magnitude" in stalled  # 98% of the distance is along λ = 2e-14
    plain = Problem.create(np.diag([1.0, 0.5]), np.array([1.0, 1.0]))
    far = compare(plain, ["gd"], Settings(max_iter=3, lr=0.01)).metrics[0].verdict
    assert "wrong yardstick" not in far and "orders of magnitude" in far


# ---------------------------------------------------------------------------- item 2: no minimum, no "converged"
@pytest.mark.parametrize("Q, b", [([[1.0, 0.0], [0.0, -1.0]], [1.0, 1.0]),      # a saddle
                                  ([[-1.0, 0.0], [0.0, -2.0]], [1.0, 1.0]),     # a maximum
                                  ([[1.0, 0.0], [0.0, 0.0]], [1.0, 1.0])])      # flat and tilted: unbounded
def test_no_solver_converges_on_a_problem_without_minimum(Q, b):
    from condiag.problem import Problem
    from condiag.solvers import REGISTRY

    problem = Problem.create(np.array(Q), np.array(b), objective="quadratic")
    result = compare(problem, list(REGISTRY), Settings(max_iter=500))
    assert result.no_minimum
    for solver in result.results:
        assert solver.status in ("unbounded", "stalled", "max_iter", "skipped", "diverged"), (solver.solver, solver.status, solver.message)
    statuses = {r.solver: r.status for r in result.results}
    assert statuses["gd"] == "unbounded" and statuses["cg"] == "unbounded"
    if np.min(np.linalg.eigvalsh(np.array(Q))) < 0:
        newton = next(r for r in result.results if r.solver == "newton")
        assert newton.status == "stalled" and ("saddle" in newton.message or "maximum" in newton.message)


def test_negative_curvature_lr_check_says_the_iterate_grows(tmp_path, run):
    np.savez(tmp_path / "q.npz", A=np.array([[-1.0]]), b=np.array([0.0]))
    report = run("analyze", tmp_path / "q.npz", "--objective", "quadratic", "--lr", "2", "--x0", "1", "--json").json()
    check = report["lr_checks"][0]
    assert check["stable"] is False and check["growth_factor"] == pytest.approx(3.0)
    assert any(f["code"] == "CD120" for f in report["findings"])


def test_compare_exit_code_with_require_converged_on_a_saddle(tmp_path, run):
    np.savez(tmp_path / "s.npz", A=np.diag([1.0, -1.0]), b=np.ones(2))
    result = run("compare", tmp_path / "s.npz", "--objective", "quadratic", "--solvers", "gd,newton", "--require-converged", "gd",
                 "--json")
    assert result.code == 1
    assert {s["name"]: s["status"] for s in result.json()["solvers"]} == {"gd": "unbounded", "newton": "stalled"}


# ---------------------------------------------------------------------------- item 10: solve shows what is certain
def test_solve_prints_only_certain_digits_and_both_ranks(run, samples):
    kernel = samples / "kernel_600.h5"
    args = (f"{kernel}:kernels/train_kernel", "--rhs", f"{kernel}:vectors/train_vector")
    text = run("solve", *args).out
    report = run("solve", *args, "--json").json()
    digits = report["accuracy"]["correct_digits"]
    assert digits < 1 and "no digit is certain" in text
    first = next(line.split()[1] for line in text.splitlines() if line.split()[:1] == ["x[0]"])
    assert len(Decimal(first).normalize().as_tuple().digits) == 1
    analysis = run("analyze", *args, "--json").json()
    assert report["accuracy"]["rank_unscaled"] == analysis["spectrum"]["rank"]  # the count analyze reports
    assert f"{report['accuracy']['rank_unscaled']} for A as given" in " ".join(text.split())


# ---------------------------------------------------------------------------- item 8: start where PyTorch starts
def test_x0_torch_draws_like_nn_linear(run, samples):
    from condiag.problem import torch_linear_init

    x = torch_linear_init(8, intercept=True, seed=1)  # 7 features + bias
    assert x.shape == (8,) and np.all(np.abs(x) <= 1 / np.sqrt(7))
    assert np.array_equal(x, torch_linear_init(8, True, 1)) and not np.array_equal(x, torch_linear_init(8, True, 2))
    many = np.concatenate([torch_linear_init(100, False, s) for s in range(50)])
    assert np.std(many) == pytest.approx(0.1 / np.sqrt(3), rel=0.05)  # U(-1/√d, 1/√d): sd = 1/√(3d)
    report = run("compare", samples / "longley.csv", "--target", "Employed", "--intercept", "--x0", "torch", "--seed", "3",
                 "--solvers", "cg", "--json").json()
    np.testing.assert_array_equal(report["settings"]["x0"], torch_linear_init(7, True, 3))
    analysis = run("analyze", samples / "longley.csv", "--target", "Employed", "--intercept", "--x0", "torch", "--seed", "3",
                   "--json").json()
    assert analysis["x0"].startswith("torch") and "seed 3" in analysis["x0"]


# ---------------------------------------------------------------------------- item 9: wording
def test_wording_fixes(run, samples, tmp_path):
    from condiag.numbers import loadings_text
    from condiag.problem import Problem

    assert loadings_text((("x[477]", 0.1, 0.0044),)).startswith("a mix of many columns")
    zero = Problem.create(np.eye(2), np.zeros(2))  # x* = 0
    verdict = compare(zero, ["gd"], Settings(max_iter=50, lr=0.1)).metrics[0].verdict
    assert "of x* = 0" in verdict and "(relative)" not in verdict
    valley = run("analyze", samples / "valley_2x2.npz", "--json").json()
    krylov = [r["detail"] for f in valley["findings"] for r in f["remedies"] if r["title"].startswith("Use a Krylov")][0]
    assert "at most d = 2 iterations" in krylov and "1.71e12" not in krylov
    np.savez(tmp_path / "x2.npz", A=np.array([[2.0]]), b=np.array([0.0]))
    report = run("analyze", tmp_path / "x2.npz", "--objective", "quadratic", "--x0", "10", "--lr", "0.2", "--steps", "3",
                 "--json").json()
    titles = [r["title"] for f in report["findings"] for r in f["remedies"]]
    # on a 1-D problem momentum (beta ~ 0) cannot beat GD at the advised lr: only the lr is offered
    assert not any(t.startswith("Add momentum") for t in titles) and "Use the advised learning rate" in titles


# ---------------------------------------------------------------------------- item 7: 80 columns
def test_report_at_80_columns_keeps_snippets_numbers_and_prints_each_remedy_once(run, samples):
    text = run("analyze", samples / "valley_2x2.npz", "--lr", "1e-5", "--lr", "2e-5", "--steps", "100000000",
               env={"NO_COLOR": "1", "COLUMNS": "80"}).out
    lines = text.splitlines()
    snippets = [line.strip() for line in lines if line.startswith("       ") and ("=" in line or "import" in line)]
    for snippet in snippets:  # every snippet is whole: it compiles as Python on its own
        compile(snippet, "<snippet>", "exec")
    assert any("# change of variables x = z / d" in s for s in snippets)
    assert not re.search(r"\S…", text)  # no table cell was cut (rich marks a cut with a trailing …)
    assert all(len(line) <= 80 for line in lines if not line.startswith("       "))
    titles = [line.split(":", 1)[0].strip() for line in lines if line.strip().startswith("R") and ". " in line[:10]]
    full = [t for t in titles if "see above" not in t]
    assert len(full) == len(set(full))  # each remedy in full once
    assert len(lines) <= 125
    verbose = run("analyze", samples / "valley_2x2.npz", "--lr", "1e-5", "--lr", "2e-5", "--verbose").out
    assert "who uses it" in verbose and len(verbose.splitlines()) > len(lines) - 5


@pytest.mark.long(4)
def test_compare_table_fits_80_columns_without_cutting(run, samples):
    # 10,000 iterations print as wide as 99,999 (torch-lbfgs simulates every one: 0.3 ms each)
    text = run("compare", samples / "valley_2x2.npz", "--solvers", "all", "--lr", "1e-5", "--max-iter", "10000",
               env={"NO_COLOR": "1", "COLUMNS": "80"}).out
    assert not re.search(r"\S…", text)
    table = text.split("Solvers", 1)[1].split("Verdicts", 1)[0]
    assert all(len(line) <= 80 for line in table.splitlines())
    assert "10,000*" in table and "DIVE" not in table


def test_readme_example_is_the_real_output(run, samples):
    """The README's first example is regenerated from real output: every line it shows is printed verbatim."""
    readme = (samples.parent / "README.md").read_text()
    block = readme.split("```\n$ condiag analyze sample_problems/valley_2x2.npz --lr 1e-5 --steps 1000000\n", 1)[1].split("```", 1)[0]
    out = [line.rstrip() for line in run("analyze", samples / "valley_2x2.npz", "--lr", "1e-5", "--steps", "1000000",
                                         env={"NO_COLOR": "1", "COLUMNS": "80"}).out.splitlines()]
    shown = [line for line in block.splitlines() if line and line != "..."]
    assert len(shown) > 10
    for line in shown:
        assert line in out, line


# ---------------------------------------------------------------------------- item 4 (part): float32 claims measured
def test_float32_is_blamed_only_when_float64_does_better(run, samples):
    from condiag.problem import Problem

    problem = Problem.create(np.array([[1.0, 0.3], [0.2, 0.7]]), np.array([0.1, 0.3]))  # x* not representable in float32
    result = compare(problem, ["gd"], Settings(max_iter=3000, tol=1e-20, dtype="float32"))
    gd = result.results[0]
    assert gd.status == "stalled" and gd.extra["float64_gap"] < 0.1 * (gd.final_loss - result.reference.loss)
    assert "float32 rounding limits it" in result.metrics[0].verdict
    text = run("compare", samples / "valley_2x2.npz", "--solvers", "gd,lbfgs,cg,newton", "--dtype", "float32",
               "--max-iter", "200", env={"NO_COLOR": "1", "COLUMNS": "120"}).out
    assert "except lbfgs, cg, newton (float64: no float32 mode)" in " ".join(text.split())


# ---------------------------------------------------------------------------- item 3: two-layer counts are measured
def test_two_layer_step_counts_are_what_compare_measures(run, samples):
    story = samples / "two_layer_story3.npz"
    report = run("analyze", story, "--model", "two-layer", "--hidden", "6", "--lr", "1e-3", "--json").json()
    lr_block = report["learning_rate"]
    printed_lr = float(f"{lr_block['recommended']:.2g}")
    gd = run("compare", story, "--model", "two-layer", "--hidden", "6", "--solvers", "gd", "--lr", repr(floor_sig(lr_block["recommended"], 3)),
             "--max-iter", "200000", "--json").json()["solvers"][0]
    assert gd["status"] == "converged" and gd["iterations"] == lr_block["steps_simulated"]
    assert printed_lr <= lr_block["max_stable_minimum"]
    adam_lr, adam_steps = lr_block["adam_lr"], lr_block["adam_steps"]
    adam = run("compare", story, "--model", "two-layer", "--hidden", "6", "--solvers", "adam", "--param", f"adam.lr={adam_lr!r}",
               "--max-iter", "3000", "--json").json()["solvers"][0]
    assert adam["status"] == "converged" and adam["iterations"] == adam_steps
    snippets = [r["snippet"] for f in report["findings"] for r in f["remedies"] if r["snippet"] and "Adam" in r["snippet"]]
    assert snippets and all(f"lr={adam_lr!r}" in s for s in snippets)


# ---------------------------------------------------------------------------- item 4 (part): analyze --dtype float32
def test_float32_overflow_step_matches_a_float32_run(run, samples):
    report = run("analyze", samples / "valley_2x2.npz", "--lr", "2e-5", "--dtype", "float32", "--json").json()
    check = report["lr_checks"][0]
    f64 = run("analyze", samples / "valley_2x2.npz", "--lr", "2e-5", "--json").json()["lr_checks"][0]
    assert check["dtype"] == "float32" and check["lr"] == float(np.float32(2e-5))
    data = np.load(samples / "valley_2x2.npz")
    A, b = data["A"].astype(np.float32), data["b"].astype(np.float32)
    x = np.zeros(2, dtype=np.float32)
    lr = np.float32(2e-5)
    step = None
    with np.errstate(all="ignore"):
        for k in range(1, 10_000):
            x = x - lr * (np.float32(2) * (A.T @ (A @ x - b)))
            loss = np.sum((A @ x - b) ** 2, dtype=np.float32)
            if not np.isfinite(loss):
                step = k
                break
    assert step is not None and abs(step - check["overflow_step"]) <= 2, (step, check["overflow_step"])
    assert 7 < f64["overflow_step"] / check["overflow_step"] < 8  # float32 hits inf ~7.5x earlier than 1e300


@pytest.mark.parametrize("objective", ["least-squares", "quadratic"])
@pytest.mark.parametrize("seed", range(5))
def test_float32_threshold_is_a_lower_bound_for_the_rounded_data(objective, seed):
    """2/L of the data rounded to float32, computed exactly here, is never below the printed float32 limit,
    which is within 1e-6 of it (the bound costs nothing a user would notice). Seed 0 has every entry just
    below a float32 number, so rounding raises L by 1.8u: ignoring the data's rounding fails there."""
    from condiag.float32 import float32_threshold
    from condiag.problem import Problem

    rng = np.random.default_rng(seed)
    A = rng.normal(size=(30, 6)) * np.logspace(0, 3, 6) * (1 + 1e-4 * rng.random((30, 6)))
    if seed == 0:
        grid = np.float32(1.1).astype(np.float64)
        A = np.full((30, 6), grid - 0.9 * 2.0**-24 * grid)  # rounds up to the float32 number 1.1f
    if objective == "quadratic":
        A = A.T @ A
    problem = Problem.create(A, rng.normal(size=A.shape[0]), objective=objective, ridge=0.01 * seed)
    a = analyze(problem, [1e-9], dtype="float32")
    held = A.astype(np.float32).astype(np.float64)
    if objective == "quadratic":
        L32 = np.linalg.eigvalsh(held).max() + 2 * problem.ridge
    else:
        L32 = problem.hessian_scale * np.linalg.svd(held, compute_uv=False)[0] ** 2 + 2 * problem.ridge
    threshold = float32_threshold(problem, a.spectrum)
    assert a.bounds.float32_threshold == threshold
    assert float(np.float32(threshold)) < 2.0 / L32  # the float32 lr a model holds is still below the limit
    assert threshold > (1 - 1e-6) * 2.0 / L32


def test_float32_predictions_are_float32_runs(samples):
    """analyze --dtype float32 reports, per stable lr, the loss after T steps of GD run in float32: the same
    as a float32 loop written here in PyTorch's order, and as torch itself when installed."""
    problem = load_problem(str(samples / "kernel_600.h5:kernels/train_kernel"),
                           rhs=str(samples / "kernel_600.h5:vectors/train_vector"), loss="mean")
    a64 = analyze(problem, [1e-4], steps=300)
    lr = 0.5 * a64.bounds.divergence_threshold
    a = analyze(problem, [lr], steps=300, dtype="float32")
    check = a.checks[0]
    A, b = problem.A.astype(np.float32), problem.b.astype(np.float32)
    x, lr32 = np.zeros(problem.n_cols, dtype=np.float32), np.float32(lr)
    scale = np.float32(problem.hessian_scale)
    for _ in range(300):
        x = x - lr32 * (scale * (A.T @ (A @ x - b)))
    ours = problem.value(x.astype(float))
    assert check.float32_loss == pytest.approx(ours, rel=1e-4)
    assert check.predicted_loss == pytest.approx(analyze(problem, [float(lr32)], steps=300).checks[0].predicted_loss, rel=1e-12)
    torch = pytest.importorskip("torch")
    At, bt = torch.tensor(A), torch.tensor(b)
    xt = torch.zeros(problem.n_cols, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.SGD([xt], lr=lr)
    for _ in range(300):
        opt.zero_grad()
        (((At @ xt - bt) ** 2).mean()).backward()
        opt.step()
    theirs = problem.value(xt.detach().numpy().astype(float))
    assert check.float32_loss == pytest.approx(theirs, rel=1e-3)


def test_float32_view_on_float32_data_and_beyond_its_range(tmp_path, run):
    """Data stored in float32 is held exactly (the limit is 2/L less one float32 rounding of the lr);
    data beyond float32's range cannot be held at all, and the report says so."""
    from condiag.problem import Problem

    A = np.array([[3.0, 1.0], [1.0, 2.0], [0.5, 0.25]], dtype=np.float32)
    problem = Problem.create(A, np.array([1.0, 2.0, 3.0]))
    a = analyze(problem, [], dtype="float32")
    assert a.bounds.float32_threshold == pytest.approx(a.bounds.divergence_threshold * (1 - 2.0**-24), rel=1e-15)
    np.savez(tmp_path / "big.npz", A=np.array([[1e39, 0.0], [0.0, 1.0]]), b=np.array([1.0, 1.0]))
    result = run("analyze", tmp_path / "big.npz", "--dtype", "float32")
    assert "cannot hold" in result.out


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-10), ("float32", 1e-5)])
@pytest.mark.parametrize("solver, params, lr", [("gd", {}, 1e-5), ("momentum", {"beta": 0.9}, 1e-5),
                                                ("nesterov", {"beta": 0.9}, 1e-5), ("adam", {}, 0.1),
                                                ("rmsprop", {}, 0.01), ("adagrad", {}, 0.1)])
def test_simulated_solvers_follow_pytorch_step_for_step(samples, dtype, tolerance, solver, params, lr):
    """condiag's simulation rounds as torch.optim rounds: 100 steps on the valley agree to 1e-10 in float64
    and within float32's rounding in float32."""
    torch = pytest.importorskip("torch")
    problem = load_problem(str(samples / "valley_2x2.npz"))
    ours = compare(problem, [solver], Settings(max_iter=100, tol=1e-12, lr=lr, dtype=dtype, simulate=True,
                                               params={solver: params} if params else {})).results[0]
    tdtype = getattr(torch, dtype)
    A, b = torch.tensor(problem.A, dtype=tdtype), torch.tensor(problem.b, dtype=tdtype)
    x = torch.zeros(2, dtype=tdtype, requires_grad=True)
    optimizers = {"adam": lambda: torch.optim.Adam([x], lr=lr), "rmsprop": lambda: torch.optim.RMSprop([x], lr=lr),
                  "adagrad": lambda: torch.optim.Adagrad([x], lr=lr)}
    opt = optimizers.get(solver, lambda: torch.optim.SGD([x], lr=lr, momentum=params.get("beta", 0.0),
                                                         nesterov=solver == "nesterov"))()
    for _ in range(ours.iterations):
        opt.zero_grad()
        ((A @ x - b) ** 2).sum().backward()
        opt.step()
    theirs = x.detach().numpy().astype(float)
    assert np.max(np.abs(ours.x - theirs)) <= tolerance * np.max(np.abs(theirs))


def test_nesterov_closed_form_is_the_loss_pytorch_reports(samples):
    """The closed-form Nesterov trajectory is f of the point torch's SGD(nesterov=True) stores (the
    look-ahead point), step for step; the classic x_k sequence would differ from step 2 on."""
    torch = pytest.importorskip("torch")
    problem = load_problem(str(samples / "valley_2x2.npz"))
    exact = compare(problem, ["nesterov"], Settings(max_iter=200, tol=1e-300, lr=1e-5, params={"nesterov": {"beta": 0.99}}))
    result = exact.results[0]
    assert result.exact
    A, b = torch.tensor(problem.A), torch.tensor(problem.b)
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([x], lr=1e-5, momentum=0.99, nesterov=True)
    losses = []
    for _ in range(200):
        opt.zero_grad()
        loss = ((A @ x - b) ** 2).sum()
        loss.backward()
        opt.step()
        losses.append(float(((A @ x.detach() - b) ** 2).sum()))
    for k, loss in zip(result.history.iterations, result.history.loss):
        if k > 0:
            assert loss == pytest.approx(losses[k - 1], rel=1e-9), k


def test_cd105_reports_what_a_float32_run_reaches(run, samples):
    """CD105 on the valley: the bound says 0.71 digits; a float32 heavy-ball run (written out here, as PyTorch
    does it) reaches far more, and the finding reports the measured figure."""
    report = run("analyze", samples / "valley_2x2.npz", "--json").json()
    cd105 = next(f for f in report["findings"] if f["code"] == "CD105")
    hb = report["advice"]["heavy_ball"]
    data = np.load(samples / "valley_2x2.npz")
    A, b = data["A"].astype(np.float32), data["b"].astype(np.float32)
    x, buf = np.zeros(2, dtype=np.float32), None
    lr, beta = np.float32(hb["lr"]), np.float32(hb["momentum"])
    for _ in range(cd105["data"]["float32_steps"]):
        g = np.float32(2) * (A.T @ (A @ x - b))
        buf = g if buf is None else beta * buf + g
        x = x - lr * buf
    x_star = np.array(report["reference"]["x"])
    ours = np.linalg.norm(x.astype(float) - x_star) / np.linalg.norm(x_star)
    assert cd105["data"]["float32_relative_error"] == pytest.approx(ours, rel=0.5)
    assert ours < 1e-3 and cd105["severity"] == "info" and "measured" in cd105["title"]


TORCH_STEP_CAP = 4_000
"""PyTorch runs of the advice stop here; longer counts are checked against the closed form at the cap."""
TORCH_RUNS = [a for a in SAMPLE_RUNS if a[0] != "valley_2x2.csv"]  # the .npz holds the same numbers


@pytest.mark.long
@pytest.mark.parametrize("args", TORCH_RUNS, ids=[a[0] for a in TORCH_RUNS])
def test_every_advised_parameter_converges_in_pytorch(samples, args):
    """Every advised (lr, momentum) pasted into torch.optim.SGD, in float64 and float32, on every sample
    problem, with the loss written in torch independently of condiag: float64 reaches the printed step
    count's target (or, for counts past the cap, the closed-form loss at the cap); float32 never diverges."""
    torch = pytest.importorskip("torch")
    from condiag.bounds import quadratic_model
    from condiag.spectrum import decompose
    from condiag.trajectories import log_gap

    problem = _load(samples, args)
    analysis = analyze(problem, [], tol=1e-6)
    start_gap = analysis.start_loss - analysis.reference.loss
    model = quadratic_model(problem, decompose(problem), analysis.reference.x, np.zeros(problem.n_cols),
                            analysis.reference.loss)
    for name, advised in analysis.advice.items():
        kwargs = {"momentum": advised.beta, "nesterov": name == "nesterov"} if name != "gd" else {}
        steps = TORCH_STEP_CAP if advised.steps_to_tol is None else min(int(advised.steps_to_tol * 1.1) + 10, TORCH_STEP_CAP)
        for dtype in (torch.float64, torch.float32):
            A, b = torch.tensor(problem.A, dtype=dtype), torch.tensor(problem.b, dtype=dtype)
            x = torch.zeros(problem.n_cols, dtype=dtype, requires_grad=True)
            opt = torch.optim.SGD([x], lr=advised.lr, **kwargs)

            def loss_of(x):
                if problem.is_quadratic:
                    value = 0.5 * x @ (A @ x) - b @ x
                else:
                    value = problem.data_scale * ((A @ x - b) ** 2).sum()
                return value + problem.ridge * (x @ x) if problem.ridge else value

            for _ in range(steps):
                opt.zero_grad()
                loss_of(x).backward()
                opt.step()
            with torch.no_grad():  # the float32 iterate's loss, evaluated exactly
                final = float(loss_of(x)) if dtype == torch.float64 else problem.value(x.detach().numpy().astype(float))
            gap = final - analysis.reference.loss
            floor_noise = 64 * np.finfo(float).eps * max(abs(analysis.reference.loss), abs(analysis.start_loss))
            # never above the transient peak the advice states (momentum's loss may first rise)
            assert np.isfinite(final) and gap <= 1.01 * advised.peak_ratio * start_gap + floor_noise, (name, dtype, final)
            if dtype == torch.float32:
                continue
            if advised.steps_to_tol is not None and steps > advised.steps_to_tol:
                assert gap <= 1.0e-6 * start_gap + floor_noise, (name, gap, start_gap)
            else:  # the count is past the cap: the loss there is the closed form's, to rounding
                predicted = np.exp(log_gap(model, LinearMethod(advised.method, advised.lr, advised.beta), steps))
                assert gap == pytest.approx(predicted, rel=1e-3, abs=floor_noise), (name, gap, predicted)
