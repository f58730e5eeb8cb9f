"""The Python API, through the public names only: ``condiag.analyze`` / ``condiag.compare`` on arrays,
sparse matrices, DataFrames and file specs, and ``to_dict()`` equal to the command line's ``--json``."""

from __future__ import annotations

import json

import numpy as np
import pytest

import condiag


def _without_timing(report: dict) -> dict:
    """A report with the fields that differ between two runs removed (the ``timing`` object, each solver's
    ``seconds``), as the JSON schema notes document."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("timing", "seconds")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(json.loads(json.dumps(report)))


@pytest.mark.parametrize("args, api", [
    (("valley_2x2.npz", "--lr", "1e-5", "--lr", "2e-5"), {"lrs": [1e-5, 2e-5]}),
    (("longley.csv", "--target", "Employed", "--intercept"), {"target": "Employed", "intercept": True}),
    (("quadratic_2d.npz", "--objective", "quadratic"), {"objective": "quadratic"}),
    (("rank_deficient.npz", "--loss", "mean", "--ridge", "0.1"), {"loss": "mean", "ridge": 0.1}),
    (("well_conditioned.npz",), {}),
    (("badly_scaled.npz", "--lr", "1e-3"), {"lrs": [1e-3]}),
    (("quadratic_1d.npz", "--objective", "quadratic"), {"objective": "quadratic"}),
    (("valley_2x2.csv",), {}),
    (("two_layer_story3.npz",), {}),
    (("kernel_600.h5:kernels/train_kernel", "--rhs", "{s}/kernel_600.h5:vectors/train_vector", "--loss", "mean"),
     {"b": "{s}/kernel_600.h5:vectors/train_vector", "loss": "mean"}),
])
def test_analyze_to_dict_is_the_cli_json(run, samples, args, api):
    first, *rest = args
    rest = [r.format(s=samples) for r in rest]
    api = {k: v.format(s=samples) if isinstance(v, str) else v for k, v in api.items()}
    cli = run("analyze", samples / first, *rest, "--json").json()
    report = condiag.analyze(str(samples / first), **api)
    assert _without_timing(report.to_dict()) == _without_timing(cli)
    assert json.loads(report.to_json()) == report.to_dict()


def test_compare_to_dict_is_the_cli_json(run, samples):
    cli = run("compare", samples / "valley_2x2.npz", "--solvers", "gd,cg,lsqr", "--max-iter", "5000", "--json").json()
    report = condiag.compare(samples / "valley_2x2.npz", solvers=["gd", "cg", "lsqr"], max_iter=5000)
    assert _without_timing(report.to_dict()) == _without_timing(cli)


def test_arrays_sparse_and_files_give_the_same_numbers(samples):
    import scipy.sparse as sp

    data = np.load(samples / "valley_2x2.npz")
    from_file = condiag.analyze(samples / "valley_2x2.npz", lrs=[1e-5])
    from_array = condiag.analyze(data["A"], data["b"], lrs=[1e-5])
    from_sparse = condiag.analyze(sp.csr_matrix(data["A"]), data["b"], lrs=[1e-5], method="exact")
    for report in (from_array, from_sparse):
        assert report.bounds.divergence_threshold == pytest.approx(from_file.bounds.divergence_threshold, rel=1e-12)
        assert report.checks[0].predicted_loss == pytest.approx(from_file.checks[0].predicted_loss, rel=1e-10)
        np.testing.assert_allclose(report.reference.x, from_file.reference.x, rtol=1e-12)
        assert [f.code for f in report.findings] == [f.code for f in from_file.findings]


def test_dataframe_with_target_carries_its_column_names(samples):
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(samples / "longley.csv")
    report = condiag.analyze(frame, target="Employed", intercept=True)
    from_file = condiag.analyze(samples / "longley.csv", target="Employed", intercept=True)
    assert list(report.problem.column_names) == [c for c in frame.columns if c != "Employed"] + ["intercept"]
    assert list(report.problem.column_names) == list(from_file.problem.column_names)
    np.testing.assert_allclose(report.reference.x, from_file.reference.x, rtol=1e-10)
    with pytest.raises(ValueError, match="not a column"):
        condiag.analyze(frame, target="employed")


def test_public_names_are_listed_and_bad_calls_are_plain_errors():
    for name in ("analyze", "compare", "solve", "load_problem", "Problem", "as_problem", "__version__"):
        assert name in dir(condiag) and getattr(condiag, name) is not None
    with pytest.raises(AttributeError):
        condiag.no_such_name  # noqa: B018
    problem = condiag.Problem.create(np.eye(2), np.ones(2))
    with pytest.raises(ValueError, match="not with a Problem"):
        condiag.analyze(problem, np.ones(2))
    with pytest.raises(ValueError, match="settings or its fields"):
        condiag.compare(problem, settings=object(), max_iter=3)
    from condiag.errors import InputError

    with pytest.raises(InputError):
        condiag.analyze(np.array([[1.0, np.nan]]), np.ones(1))  # validated like a file


def test_readme_python_example_runs(samples, monkeypatch):
    """The README's "From Python" block runs as written (``df`` is the Longley table it refers to)."""
    pandas = pytest.importorskip("pandas")
    from pathlib import Path

    readme = (samples.parent / "README.md").read_text()
    section = readme[readme.index("## From Python"):]
    code = section[section.index("```python") + len("```python"):]
    code = code[: code.index("```")]
    monkeypatch.chdir(samples.parent)
    namespace = {"df": pandas.read_csv(Path("sample_problems") / "longley.csv")}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    assert namespace["report"].to_dict()["command"] == "analyze"


@pytest.mark.parametrize("command", ["analyze", "compare", "solve"])
def test_schema_command_prints_a_valid_schema_that_can_fail(run, samples, command):
    """`condiag schema COMMAND` prints a Draft 2020-12 schema; every report the tests read is validated against
    it (conftest), and a report with a renamed or mistyped key is rejected."""
    jsonschema = pytest.importorskip("jsonschema")
    printed = run("schema", command)
    assert printed.code == 0
    schema = json.loads(printed.out)
    jsonschema.Draft202012Validator.check_schema(schema)
    args = {"analyze": ["--lr", "1e-5"], "compare": ["--solvers", "gd,cg"], "solve": []}[command]
    report = run(command, samples / "valley_2x2.npz", *args, "--json").json()
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(report)
    renamed = dict(report)
    renamed["problems"] = renamed.pop("problem")
    assert not validator.is_valid(renamed)
    mistyped = json.loads(json.dumps(report))
    mistyped["problem"]["n_cols"] = "2"
    assert not validator.is_valid(mistyped)
    assert run("schema", "nonsense").code == 2


@pytest.mark.parametrize("name", ["valley_2x2.npz", "well_conditioned.npz", "badly_scaled.npz", "rank_deficient.npz",
                                  "two_layer_story3.npz"])
def test_compare_and_solve_to_dict_are_the_cli_json_on_every_sample(run, samples, name):
    cli = run("compare", samples / name, "--solvers", "gd,momentum,cg,newton", "--max-iter", "2000", "--json").json()
    report = condiag.compare(samples / name, solvers=["gd", "momentum", "cg", "newton"], max_iter=2000)
    assert _without_timing(report.to_dict()) == _without_timing(cli)
    assert _without_timing(condiag.solve(samples / name).to_dict()) == _without_timing(run("solve", samples / name, "--json").json())


def test_solve_to_dict_is_the_cli_json(run, samples):
    cli = run("solve", samples / "longley.csv", "--target", "Employed", "--intercept", "--json").json()
    solution = condiag.solve(samples / "longley.csv", target="Employed", intercept=True)
    assert _without_timing(solution.to_dict()) == _without_timing(cli)
    np.testing.assert_array_equal(solution.x, cli["x"])
    assert solution.accuracy["correct_digits"] == cli["accuracy"]["correct_digits"]
    from_array = condiag.solve(np.load(samples / "valley_2x2.npz")["A"], np.load(samples / "valley_2x2.npz")["b"])
    np.testing.assert_allclose(from_array.x, condiag.solve(samples / "valley_2x2.npz").x, rtol=1e-15)


def test_every_finding_code_is_in_the_readme_table():
    """Each code a Finding can carry is documented in the README's table (one home for what a code means)."""
    import re
    from pathlib import Path

    root = Path(__file__).parent.parent
    source = "\n".join(p.read_text(encoding="utf-8") for p in (root / "condiag").rglob("*.py"))
    emitted = set(re.findall(r'"(CD\d{3})"', source))  # every code literal (some are chosen by an expression)
    readme = (root / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| (CD\d{3}) \|", readme, re.M))
    assert len(emitted) > 50
    assert emitted <= documented, sorted(emitted - documented)


def test_readme_model_protocol_example_runs():
    """The README's own-model block runs as written, and what its comments claim holds."""
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**One model protocol.**"):]
    code = section[section.index("```python") + len("```python"):]
    code = code[: code.index("```")]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own documentation
    statuses = {r.solver: (r.status, r.message) for r in namespace["mine"].results}
    assert statuses["gd"][0] == statuses["lbfgs"][0] == "converged"
    assert statuses["cg"][0] == "skipped" and statuses["cg"][1].startswith("needs the matrix of a linear")
    assert namespace["net"].to_dict()["problem"]["objective"] == "two-layer"


def test_core_errors_name_the_argument_and_the_command_line_its_flag(run, samples):
    """The core names an argument as Python spells it; the command line prints the flag."""
    from condiag.errors import InputError, UsageError
    from condiag.two_layer import TwoLayerProblem

    A, b = np.array([[2.0, 0.0], [0.0, 1.0]]), np.ones(2)
    with pytest.raises(InputError) as caught:
        condiag.compare(A, b, x0=[1.0, 2.0, 3.0], solvers=["gd"])
    assert str(caught.value).startswith("x0: has 3 entries") and caught.value.command_line().startswith("--x0: has 3 entries")
    with pytest.raises(UsageError, match="^hidden must be at least 1$"):
        TwoLayerProblem.create(A, 0)
    cli = run("compare", samples / "valley_2x2.npz", "--solvers", "gd", "--x0", "1,2,3")
    assert cli.code == 3 and "--x0: has 3 entries but the problem has 2 unknowns" in cli.err
    with pytest.raises(UsageError) as caught:
        condiag.compare(A, b, solvers=["gd"], params={"gd": {"nope": 1.0}})
    assert str(caught.value).startswith("param: gd has no parameter nope") and caught.value.option == "param"
    cli = run("compare", samples / "valley_2x2.npz", "--solvers", "gd", "--param", "gd.nope=1")
    assert cli.code == 2 and "--param: gd has no parameter nope" in cli.err
    cli = run("analyze", samples / "valley_2x2.npz", "--memory-limit", "5Q")
    assert cli.code == 2 and "--memory-limit '5Q': expected a size" in cli.err


def test_solve_of_a_large_problem_uses_the_svd_only_when_it_is_accurate():
    """Above 500,000 entries condiag.solve takes x* from the QR + SVD when that states 10 or more correct digits, and
    from the refined solver otherwise; either way x* is numpy's least-squares answer to the stated accuracy."""
    rng = np.random.default_rng(11)
    A, b = rng.standard_normal((2_000, 300)), rng.standard_normal(2_000)
    well = condiag.solve(A, b)
    expected = np.linalg.lstsq(A, b, rcond=None)[0]
    assert "SVD" in well.reference.method and well.accuracy["correct_digits"] >= 10
    assert np.linalg.norm(well.x - expected) / np.linalg.norm(expected) <= 10 ** -well.accuracy["correct_digits"] * 10
    U, _, Vt = np.linalg.svd(A, full_matrices=False)
    ill = U @ np.diag(np.logspace(0, -12, 300)) @ Vt  # cond 1e12: the SVD alone states about 4 digits
    x_true = rng.standard_normal(300)
    refined = condiag.solve(ill, ill @ x_true)
    assert "SVD" not in refined.reference.method, refined.reference.method
    assert np.linalg.norm(refined.x - x_true) / np.linalg.norm(x_true) <= max(10 ** -refined.accuracy["correct_digits"], 1e-15) * 10


def test_load_routes_like_the_command_line(tmp_path):
    """condiag.load streams a matrix above the memory limit (exactly reduced to R), reads a small one whole, and
    refuses Dask for a quadratic objective naming the argument."""
    from condiag.errors import UsageError

    rng = np.random.default_rng(5)
    A, b = rng.standard_normal((40_000, 6)), rng.standard_normal(40_000)
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "b.npy", b)
    streamed = condiag.load(tmp_path / "A.npy", tmp_path / "b.npy", memory_limit="1M")
    whole = condiag.load(tmp_path / "A.npy", tmp_path / "b.npy")
    assert streamed.is_reduced and streamed.n_samples == 40_000 and not whole.is_reduced
    np.testing.assert_allclose(condiag.solve(streamed).x, np.linalg.lstsq(A, b, rcond=None)[0], rtol=1e-10)
    with pytest.raises(UsageError) as caught:
        condiag.load(tmp_path / "A.npy", objective="quadratic", engine="dask")
    assert str(caught.value).startswith("engine dask") and caught.value.command_line().startswith("--engine dask")
