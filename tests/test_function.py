"""analyze --function: gradient descent and Newton on any smooth function, against the textbook's numbers
(Zhang et al., Dive into Deep Learning, §12.3: printed to 6 digits), closed forms and independent iterations."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLES

TEXTBOOK = SAMPLES / "textbook.py"
C = 0.15 * np.pi


def analyze(run, name, *args, path=TEXTBOOK):
    result = run("analyze", "--function", f"{path}:{name}", *args, "--json")
    assert result.code in (0, 1), result.err
    return result.json()


def runs(report):
    return {(r["method"], r["step_size"]): r for r in report["runs"]}


def codes(report):
    return [f["code"] for f in report["findings"]]


def test_square_at_three_learning_rates(run):
    report = analyze(run, "square", "--x0", "10", "--lr", "0.2", "--lr", "0.05", "--lr", "1.1", "--steps", "10")
    by = runs(report)
    for lr, textbook in ((0.2, 0.060466), (0.05, 3.486784), (1.1, 61.917364)):
        x10 = by[("gd", lr)]["x_final"][0]
        assert x10 == pytest.approx(10 * (1 - 2 * lr) ** 10, rel=1e-12)  # x_k = x0 (1 - 2 lr)^k
        assert x10 == pytest.approx(textbook, abs=5e-7)
        assert by[("gd", lr)]["ending"]["local_max_stable"] == pytest.approx(1.0, rel=1e-9)  # 2/f'' = 1
    longer = runs(analyze(run, "square", "--x0", "10", "--lr", "0.2", "--lr", "1.1", "--lr", "1.0", "--steps", "1001"))
    assert longer[("gd", 0.2)]["ending"]["kind"] == "local minimum"
    assert abs(longer[("gd", 0.2)]["x_final"][0]) < 1e-100
    assert longer[("gd", 1.1)]["ending"]["kind"] == "diverging"  # 10·1.2^1001 ≈ 1e80: still in range, growing
    overflowed = runs(analyze(run, "square", "--x0", "10", "--lr", "1.1", "--steps", "5000"))[("gd", 1.1)]
    assert overflowed["ending"]["kind"] == "diverged"
    assert overflowed["ending"]["step"] == int(np.ceil(np.log(1e150 / 10) / np.log(1.2)))  # the first |x| above 1e150
    cycle = longer[("gd", 1.0)]  # x -> -x: a cycle of period 2, and x_1001 = -10 read off it
    assert cycle["ending"]["kind"] == "cycle" and cycle["ending"]["period"] == 2
    assert cycle["x_final"] == [-10.0]


def test_x_cos_ends_in_another_basin(run):
    report = analyze(run, "x_cos", "--x0", "10", "--lr", "2", "--steps", "10")
    x = 10.0
    for _ in range(10):  # an independent iteration with the analytic derivative
        x -= 2 * (np.cos(C * x) - C * x * np.sin(C * x))
    assert report["runs"][0]["x_final"][0] == pytest.approx(x, rel=1e-12)
    assert x == pytest.approx(-1.528166, abs=5e-7)
    basin = report["function"]["basin"]  # the gradient flow from 10 ends at the nearest minimum
    assert basin["kind"] == "local minimum"
    x_star = basin["x"][0]
    assert abs(np.cos(C * x_star) - C * x_star * np.sin(C * x_star)) < 1e-10 and 7 < x_star < 7.5
    long = analyze(run, "x_cos", "--x0", "10", "--lr", "2", "--lr", "0.1", "--steps", "2000")
    gd2, gd01 = runs(long)[("gd", 2.0)], runs(long)[("gd", 0.1)]
    assert gd2["ending"]["kind"] == "local minimum" and gd2["x_final"][0] < 0
    assert gd01["x_final"][0] == pytest.approx(x_star, abs=1e-6)  # a small lr stays in x0's basin
    jumped = [f for f in long["findings"] if f["code"] == "CD191" and f["data"]["jumped_basin"]]
    assert len(jumped) == 1 and jumped[0]["data"]["lr"] == 2.0
    cycling = runs(analyze(run, "x_cos", "--x0", "10", "--lr", "2.5", "--steps", "2000"))[("gd", 2.5)]
    assert cycling["ending"]["kind"] == "cycle" and cycling["ending"]["period"] == 2
    points = np.array(cycling["ending"]["cycle"]).ravel()
    step = lambda v: v - 2.5 * (np.cos(C * v) - C * v * np.sin(C * v))  # noqa: E731
    assert step(points[0]) == pytest.approx(points[1], rel=1e-9) and step(points[1]) == pytest.approx(points[0], rel=1e-9)


def test_bowl_zig_zag(run):
    report = analyze(run, "bowl", "--x0", "-5,-2", "--lr", "0.1", "--steps", "20")
    x = report["runs"][0]["x_final"]
    assert x[0] == pytest.approx(-5 * 0.8**20, rel=1e-12) and x[1] == pytest.approx(-2 * 0.6**20, rel=1e-12)
    assert x[0] == pytest.approx(-0.057646, abs=5e-7) and x[1] == pytest.approx(-0.000073, abs=5e-7)
    assert report["function"]["start_lambda_min"] == pytest.approx(2, rel=1e-9)
    assert report["function"]["start_lambda_max"] == pytest.approx(4, rel=1e-9)


def test_newton_on_cosh_and_towards_a_maximum_on_x_cos(run):
    cosh = runs(analyze(run, "cosh", "--x0", "10", "--newton", "1", "--steps", "10"))[("newton", 1.0)]
    assert abs(cosh["x_final"][0]) < 1e-12 and cosh["ending"]["kind"] == "local minimum"
    report = analyze(run, "x_cos", "--x0", "10", "--newton", "1", "--newton", "0.5", "--steps", "10")
    by = runs(report)
    undamped, damped = by[("newton", 1.0)], by[("newton", 0.5)]
    assert undamped["x_final"][0] == pytest.approx(26.834133, abs=5e-7)
    assert damped["x_final"][0] == pytest.approx(7.269860, abs=5e-7)
    assert undamped["ending"]["kind"] == "local maximum" and undamped["uphill_steps"] > 0
    assert undamped["first_uphill"]["lambda_min"] < 0
    assert "CD193" in codes(report) and damped["uphill_steps"] == 0
    landed = runs(analyze(run, "x_cos", "--x0", "10", "--newton", "0.5", "--steps", "100"))[("newton", 0.5)]
    assert landed["ending"]["kind"] == "local minimum"
    assert landed["x_final"][0] == pytest.approx(report["function"]["basin"]["x"][0], abs=1e-9)


def test_a_saddle_and_a_non_analytic_function(run, tmp_path):
    source = tmp_path / "f.py"
    source.write_text("import numpy as np\n"
                      "def saddle(x):\n    return x[0] ** 2 - x[1] ** 2\n"
                      "def kinked(x):\n    return (x[0] - 1) ** 2 + np.abs(x[1]) ** 3\n")
    report = analyze(run, "saddle", "--x0", "1,0", "--lr", "0.1", "--steps", "500", path=source)
    assert report["runs"][0]["ending"]["kind"] == "saddle" and "CD194" in codes(report)
    kinked = analyze(run, "kinked", "--x0", "3,2", "--lr", "0.1", "--steps", "5", path=source)
    assert "central differences" in kinked["problem"]["gradient_method"]  # abs() defeats the complex step
    x = np.array([3.0, 2.0])
    for _ in range(5):
        x = x - 0.1 * np.array([2 * (x[0] - 1), 3 * x[1] * abs(x[1])])
    assert np.allclose(kinked["runs"][0]["x_final"], x, rtol=1e-7)


def test_torch_function_gives_the_numpy_numbers(run, tmp_path):
    pytest.importorskip("torch")
    source = tmp_path / "t.py"
    source.write_text("import torch\ndef x_cos(x):\n    return x[0] * torch.cos(0.15 * torch.pi * x[0])\n")
    torch_report = analyze(run, "x_cos", "--x0", "10", "--lr", "2", "--newton", "1", "--steps", "10", path=source)
    numpy_report = analyze(run, "x_cos", "--x0", "10", "--lr", "2", "--newton", "1", "--steps", "10")
    assert torch_report["problem"]["backend"] == "torch"
    for a, b in zip(torch_report["runs"], numpy_report["runs"]):
        assert a["x_final"][0] == pytest.approx(b["x_final"][0], rel=1e-9)


@pytest.mark.parametrize("body, message", [
    ("def f(x):\n    return x\n", "must return a number"),
    ("def f(x)\n    return 1\n", "not valid Python"),
    ("raise RuntimeError('boom')\n", "RuntimeError while loading"),
    ("def g(x):\n    return 1.0\n", "defines no 'f'"),
    ("f = 3\n", "not a function"),
    ("def f(x):\n    raise ValueError('bad x')\n", "ValueError at x0"),
])
def test_bad_functions_are_one_line_exit_3(run, tmp_path, body, message):
    source = tmp_path / "bad.py"
    source.write_text(body)
    result = run("analyze", "--function", f"{source}:f", "--x0", "1,2", "--lr", "0.1")
    assert result.code == 3 and message in result.err, result.err


def test_usage_errors(run):
    spec = f"{TEXTBOOK}:square"
    assert run("analyze", "--function", spec, "--lr", "0.1").code == 2  # no --x0
    assert run("analyze", "--function", spec, "--x0", "1").code == 2  # nothing to run
    assert run("analyze", SAMPLES / "valley_2x2.npz", "--function", spec, "--x0", "1", "--lr", "0.1").code == 2
    assert run("analyze", "--function", spec, "--x0", "1", "--lr", "0.1", "--ridge", "1").code == 2
    assert run("analyze").code == 2


def test_text_html_and_plots(run, tmp_path):
    args = ["analyze", "--function", f"{TEXTBOOK}:x_cos", "--x0", "10", "--lr", "2", "--newton", "1", "--steps", "10"]
    text = run(*args)
    assert text.code == 0 and "local maximum" in text.out and "CD193" in text.out
    assert run(*args, "--fail-on", "error").code == 1
    for name in ("x_cos.png", "x_cos.svg"):
        assert run(*args, "--plot", tmp_path / name).code == 0 and (tmp_path / name).stat().st_size > 5000
    page = run(*args, "--report-format", "html").out
    assert page.count("<figure>") == 1 and "CD193" in page
    bowl = ["analyze", "--function", f"{TEXTBOOK}:bowl", "--x0", "-5,-2", "--lr", "0.1", "--steps", "20", "--plot", tmp_path / "b.png"]
    assert run(*bowl).code == 0 and (tmp_path / "b.png").stat().st_size > 5000


# ---------------------------------------------------------------------------- compare --function
def compare(run, name, *args, path=TEXTBOOK):
    result = run("compare", "--function", f"{path}:{name}", *args, "--json")
    assert result.code in (0, 1), result.err
    return result.json()


def test_compare_judges_against_the_best_local_minimum(run):
    report = compare(run, "x_cos", "--x0", "10", "--max-iter", "500")
    by = {s["name"]: s for s in report["solvers"]}
    best = report["best"]
    x_star = best["x"][0]
    assert abs(np.cos(C * x_star) - C * x_star * np.sin(C * x_star)) < 1e-9  # a critical point, by the analytic f'
    assert "local" in best["note"]
    # the default lr is 1/λmax at x0 = 1/f''(10)
    f2 = -2 * C * np.sin(C * 10) - 10 * C**2 * np.cos(C * 10)
    assert by["gd"]["step_size"] == pytest.approx(1 / f2, rel=1e-8) and by["gd"]["step_size_source"] == "1/λmax at x0"
    assert by["gd"]["status"] == "reached" and by["lbfgs"]["status"] == "reached"
    assert by["newton"]["status"] == "local maximum" and by["newton"]["uphill_steps"] > 0
    assert by["adam"]["step_size"] == 1e-3 and by["adam"]["status"] == "not converged"  # 500 steps of at most 1e-3 each
    assert abs(by["adam"]["x"][0] - 10) <= 500 * 1e-3 * (1 + 1e-9)
    for s in report["solvers"]:
        assert s["gap_to_best"] >= -1e-12  # nobody below the best
        assert s["gap_to_best"] == pytest.approx(s["value"] - best["value"], abs=1e-12)


def test_compare_momentum_and_adam_step_as_torch(run, tmp_path):
    torch = pytest.importorskip("torch")
    report = compare(run, "bowl", "--x0", "-5,-2", "--solvers", "momentum,nesterov,adam", "--lr", "0.05", "--max-iter", "30")
    for name, make in (("momentum", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
                       ("nesterov", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
                       ("adam", lambda p: torch.optim.Adam(p, lr=0.05))):
        x = torch.tensor([-5.0, -2.0], dtype=torch.float64, requires_grad=True)
        optimizer = make([x])
        for _ in range(30):
            optimizer.zero_grad()
            (x[0] ** 2 + 2 * x[1] ** 2).backward()
            optimizer.step()
        ours = next(s for s in report["solvers"] if s["name"] == name)
        assert np.allclose(ours["x"], x.detach().numpy(), rtol=1e-10, atol=1e-13), name


def test_compare_thresholds_and_usage(run, tmp_path):
    spec = f"{TEXTBOOK}:x_cos"
    ok = run("compare", "--function", spec, "--x0", "10", "--solvers", "gd,lbfgs", "--require-converged", "lbfgs")
    assert ok.code == 0
    failed = run("compare", "--function", spec, "--x0", "10", "--solvers", "newton,lbfgs", "--require-converged", "newton")
    assert failed.code == 1 and "newton did not reach" in failed.err
    assert run("compare", "--function", spec, "--x0", "10", "--solvers", "cg").code == 2
    assert run("compare", "--function", spec).code == 2
    assert run("compare", "--function", spec, "--x0", "10", "--libraries").code == 2
    assert run("compare").code == 2
    plot = tmp_path / "paths.png"
    assert run("compare", "--function", f"{TEXTBOOK}:bowl", "--x0", "-5,-2", "--max-iter", "50", "--plot", plot).code == 0
    assert plot.stat().st_size > 5000


def test_python_api_equals_the_cli_json(run):
    import condiag

    args = ["--x0", "10", "--lr", "2", "--newton", "1", "--steps", "10"]
    cli_report = analyze(run, "x_cos", *args)
    api_report = condiag.analyze_function(f"{TEXTBOOK}:x_cos", x0=[10.0], lrs=[2.0], newton=[1.0], steps=10).to_dict()
    for report in (cli_report, api_report):
        report.pop("timing")
        report["problem"].pop("evaluations")
    assert api_report == cli_report
    compared = condiag.compare_function(f"{TEXTBOOK}:bowl", x0=[-5.0, -2.0], max_iter=100).to_dict()
    assert compared["command"] == "compare" and {s["name"] for s in compared["solvers"]} == {"gd", "momentum", "adam", "newton", "lbfgs"}
    assert "analyze_function" in dir(condiag)


def test_leaving_the_domain_and_failing_code(run, tmp_path):
    source = tmp_path / "f.py"
    source.write_text("import math\n"
                      "def f(x):\n    return math.log(x[0]) + x[0] ** 2\n"  # float-only: differences, no complex step
                      "def g(x):\n    if x[0] < 0.5:\n        raise KeyError('no')\n    return x[0] ** 2\n")
    report = analyze(run, "f", "--x0", "1", "--lr", "2", "--steps", "50", path=source)
    run0 = report["runs"][0]
    assert run0["ending"]["kind"] == "left the domain" and run0["ending"]["step"] == 1
    assert run0["x_final"][0] == pytest.approx(1 - 2 * (1 / 1 + 2 * 1), rel=1e-6)  # x1 = x0 − lr·f'(x0) = −5
    assert "CD197" in [f["code"] for f in report["findings"]]
    assert report["function"]["basin"] is None  # the flow runs to x → 0, where f → −∞: no critical point
    result = run("analyze", "--function", f"{source}:g", "--x0", "1", "--lr", "0.4", "--steps", "50")
    assert result.code == 3 and "KeyError" in result.err and "at x = " in result.err


def test_the_new_reports_fit_80_columns_with_whole_numbers(run):
    """analyze/compare --function and model at 80 columns: no line wider, the key numbers printed whole."""
    env = {"NO_COLOR": "1", "COLUMNS": "80"}
    cases = [
        (["analyze", "--function", f"{TEXTBOOK}:x_cos", "--x0", "10", "--lr", "2", "--newton", "1", "--steps", "10"],
         ["-1.528166", "26.83413"]),
        (["compare", "--function", f"{TEXTBOOK}:bowl", "--x0", "-5,-2", "--solvers", "all", "--max-iter", "300"], ["0.25"]),
    ]
    try:
        import torch  # noqa: F401

        model = ["model", f"{SAMPLES / 'mlp.py'}:mlp", "--data", SAMPLES / "regression.npz", "--lr", "1"]
        sharpness = run(*model, "--json").json()["hessian"]["lambda_max"]
        cases.append((model, [f"{sharpness:.6g}"]))
    except ImportError:
        pass
    for args, numbers in cases:
        text = run(*args, env=env).out
        assert max(len(line) for line in text.splitlines()) <= 80, args[0]
        for number in numbers:
            assert number in text, (args[0], number)


def test_an_advised_lr_is_run_before_it_is_printed(run):
    """A diverging run's remedy names an lr only after running it: on x² (f'' = 2) at lr 1.1 the advice is
    0.9·2/2 = 0.9, which ends at the minimum (x_k = 10·(−0.8)^k); where the trial does not settle, no number."""
    report = analyze(run, "square", "--x0", "10", "--lr", "1.1", "--steps", "5000")
    remedy = report["findings"][0]["remedies"][0]
    from condiag.numbers import floor_sig

    peak = report["runs"][0]["curvature_max_along_path"]
    assert peak == pytest.approx(2.0, rel=1e-9)  # f'' = 2, by differences of the complex-step gradient
    advised = floor_sig(0.9 * 2 / peak, 3)  # 0.9 or, with the Hessian's rounding above 2, 0.899: rounded towards safety
    assert report["findings"][0]["code"] == "CD190" and remedy["title"] == f"Lower the learning rate to {advised:.3g}"
    assert advised in (0.9, 0.899) and "local minimum" in remedy["detail"]
    settled = runs(analyze(run, "square", "--x0", "10", "--lr", str(advised), "--steps", "5000"))[("gd", advised)]
    assert settled["ending"]["kind"] == "local minimum"
    cycling = analyze(run, "x_cos", "--x0", "10", "--lr", "2.5", "--steps", "500")
    remedy = next(f for f in cycling["findings"] if f["code"] == "CD192")["remedies"][0]
    assert remedy["title"] == "Lower the learning rate"  # lr 1.67 was tried: it wanders, so it is not offered
