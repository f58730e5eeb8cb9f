"""[tool.condiag] / condiag.toml: defaults, precedence, validation naming the key; `condiag check` as a linter
(exit codes, the changed-files filter, every report format)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from conftest import ROOT
from test_ci_formats import ANNOTATION
from test_hostile import one_line

from condiag.errors import ExitCode

VALLEY_COND_A = 1803.0  # cond(A) of valley_2x2.npz (the README's example)


@pytest.fixture
def project(tmp_path, samples, monkeypatch):
    """A repository with data in data/ and the working directory at its root."""
    (tmp_path / "data").mkdir()
    shutil.copy(samples / "valley_2x2.npz", tmp_path / "data" / "valley.npz")
    shutil.copy(samples / "valley_gd_log.csv", tmp_path / "data" / "run.csv")
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "pyproject.toml"):
        (tmp_path / name).write_text(text, encoding="utf-8")
        return tmp_path / name

    write.root = tmp_path
    return write


def analyze_json(run, *args):
    result = run("analyze", "data/valley.npz", "--json", *args)
    assert result.code in (0, 1), result.err
    return result.json()


def test_defaults_and_precedence(project, run):
    project('[project]\nname = "x"\n\n[tool.condiag]\nloss = "mean"\nlr = [1e-6]\n\n[tool.condiag.compare]\nloss = "half"\n')
    report = analyze_json(run)
    assert report["problem"]["loss"] == "mean"  # the shared key
    assert [c["lr"] for c in report["lr_checks"]] == [1e-6]
    assert analyze_json(run, "--loss", "sum")["problem"]["loss"] == "sum"  # the command line overrides the file
    assert [c["lr"] for c in analyze_json(run, "--lr", "2e-6")["lr_checks"]] == [2e-6]
    compared = run("compare", "data/valley.npz", "--solvers", "cg", "--json").json()
    assert compared["problem"]["loss"] == "half"  # the command's section overrides the shared key
    assert run("--no-config", "analyze", "data/valley.npz", "--json").json()["problem"]["loss"] == "sum"


def test_condiag_toml_is_found_from_a_subdirectory_and_wins_over_pyproject(project, run, monkeypatch):
    project('[tool.condiag]\nloss = "mean"\n')
    project('loss = "half-mean"\n', "condiag.toml")
    (project.root / "sub").mkdir()
    monkeypatch.chdir(project.root / "sub")
    assert run("analyze", "../data/valley.npz", "--json").json()["problem"]["loss"] == "half-mean"
    assert run("--config", "../pyproject.toml", "analyze", "../data/valley.npz", "--json").json()["problem"]["loss"] == "mean"


def test_a_pyproject_without_the_table_is_not_read(project, run):
    project('[project\nname = "broken TOML, but not condiag\'s business"\n')
    assert run("analyze", "data/valley.npz", "--json").json()["problem"]["loss"] == "sum"
    result = run("--config", "pyproject.toml", "analyze", "data/valley.npz")
    assert result.code == ExitCode.USAGE and "not valid TOML" in result.err


@pytest.mark.parametrize("text, key", [
    ("max-conditon = 5", "max-conditon"),
    ('max-condition = "abc"', "max-condition"),
    ("max-condition = 0.5", "max-condition"),
    ('loss = "median"', "loss"),
    ("intercept = 1", "intercept"),
    ("tol = 2", "tol"),
    ("[analyze]\nsolvers = 'cg'", "solvers"),
    ("[trace]\nmax-steps-to-tol = -1", "max-steps-to-tol"),
    ("analyze = 3", "analyze"),
    ("files = 3", "files"),
    ("[[files]]\ncommand = 'analyze'", "path"),
    ("[[files]]\npath = '*.npz'\ncommand = 'train'", "command"),
    ("[[files]]\npath = '*.npz'\nplot = 'x.png'", "plot"),
    ("[[files]]\npath = '*.npz'\nlr = ['fast']", "lr"),
    ("[[files]]\npath = '*.npz'\nlr = {value = 1}", "lr"),
    ("x = [", "TOML"),
])
def test_an_invalid_configuration_is_a_usage_error_naming_the_key(project, run, text, key):
    project(text + "\n", "condiag.toml")
    for args in (["check"], ["analyze", "data/valley.npz"]):
        result = run(*args)
        if args[0] == "analyze" and "[[files]]" in text:
            continue  # an entry is checked when check runs it
        assert result.code == ExitCode.USAGE, (args, result.out, result.err)
        assert key in result.err.strip().splitlines()[-1]


def test_a_configuration_error_is_one_line_from_the_console_script(project):
    project('[tool.condiag]\nmax-condition = "abc"\n')
    result = subprocess.run([sys.executable, "-m", "condiag", "check"], cwd=project.root, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert result.returncode == ExitCode.USAGE
    assert one_line(result.stderr).startswith("condiag: usage error: pyproject.toml [tool.condiag]: max-condition = 'abc'")


def test_config_and_no_config_disagree(project, run):
    result = run("--config", "x.toml", "--no-config", "analyze", "data/valley.npz")
    assert result.code == ExitCode.USAGE
    assert run("--config", "missing.toml", "analyze", "data/valley.npz").code == ExitCode.USAGE


CHECK_CONFIG = """
[tool.condiag]
max-condition = {limit}

[[tool.condiag.files]]
path = "data/*.npz"
lr = [2e-5]

[[tool.condiag.files]]
path = "data/*.npz"
command = "compare"
solvers = ["cg"]
require-converged = "cg"

[[tool.condiag.files]]
path = "data/run.csv"
command = "trace"
max-steps-to-tol = {steps}
"""


@pytest.mark.long
def test_check_passes_fails_and_errors_as_a_linter(project, run):
    project(CHECK_CONFIG.format(limit=10 * VALLEY_COND_A, steps="1e12"))
    result = run("check")
    assert result.code == 0, result.out + result.err
    assert result.out.count("pass ") == 3 and "3 files checked" in result.out
    project(CHECK_CONFIG.format(limit=VALLEY_COND_A / 10, steps="1e12"))
    result = run("check")
    assert result.code == ExitCode.THRESHOLD
    assert "FAIL" in result.out and "exceeds --max-condition" in result.out and result.err == ""
    report = run("check", "--json").json()
    assert report["summary"] == {"files": 3, "passed": 2, "failed": 1, "errors": 0}
    failed = [f for f in report["files"] if f["status"] == "fail"]
    assert [f["command"] for f in failed] == ["analyze"]
    cond = failed[0]["report"]["spectrum"]["condition_number"]
    assert cond == pytest.approx(VALLEY_COND_A, rel=1e-3)
    # the changed-files filter (pre-commit passes them): only the trace entry matches the log
    only = run("check", "data/run.csv", "--json").json()
    assert [f["command"] for f in only["files"]] == ["trace"] and only["summary"]["passed"] == 1
    assert run("check", "README.md").code == 0  # a file no entry names is not checked
    # a file that cannot be read, and a glob that matches nothing, exit 3 with the others still reported
    (project.root / "data" / "broken.npz").write_bytes(b"not a zip")
    project(CHECK_CONFIG.format(limit=10 * VALLEY_COND_A, steps="1e12") + '\n[[tool.condiag.files]]\npath = "missing/*.npy"\n')
    report = run("check", "--json")
    assert report.code == ExitCode.BAD_INPUT
    files = report.json()["files"]
    assert {f["status"] for f in files} == {"pass", "error"}
    assert sum(f["status"] == "error" for f in files) == 3  # broken.npz twice, and the empty glob
    assert any("no file matches missing/*.npy" in (f["error"] or "") for f in files)


def test_check_entry_settings_and_relative_paths(project, run, monkeypatch):
    """An entry's keys override the shared ones; its globs and rhs are read relative to the configuration's directory."""
    data = np.load(project.root / "data" / "valley.npz")
    np.save(project.root / "data" / "A.npy", data["A"])
    np.save(project.root / "data" / "b.npy", 2 * data["b"])
    project('loss = "mean"\n[[files]]\npath = "data/A.npy"\nrhs = "data/b.npy"\nloss = "half"\n', "condiag.toml")
    x_valley = np.asarray(run("solve", "data/valley.npz", "--json").json()["x"])
    (project.root / "sub").mkdir()
    monkeypatch.chdir(project.root / "sub")
    report = run("--config", "../condiag.toml", "check", "--json").json()
    checked = report["files"][0]
    assert checked["path"] == "../data/A.npy" and checked["status"] == "pass"
    inner = checked["report"]
    assert inner["problem"]["loss"] == "half" and inner["problem"]["has_rhs"]
    assert np.allclose(inner["reference"]["x"], 2 * x_valley, rtol=1e-12)  # b doubled: x* doubled


def test_check_without_configuration_or_entries(project, run):
    result = run("check")
    assert result.code == ExitCode.USAGE and "no configuration found" in result.err
    project("[tool.condiag]\nloss = 'mean'\n")
    result = run("check")
    assert result.code == ExitCode.USAGE and "no [[files]] entries" in result.err


@pytest.mark.long
def test_check_in_every_format(project, run, tmp_path):
    project(CHECK_CONFIG.format(limit=VALLEY_COND_A / 10, steps="10"))
    report = run("check", "--json").json()
    statuses = {(f["path"], f["command"]): f["status"] for f in report["files"]}
    assert statuses == {("data/valley.npz", "analyze"): "fail", ("data/valley.npz", "compare"): "pass",
                        ("data/run.csv", "trace"): "fail"}
    junit = ET.fromstring(run("check", "--report-format", "junit").out.encode())
    suites = junit.findall("testsuite")
    assert [s.get("name") for s in suites] == ["data/valley.npz (analyze)", "data/valley.npz (compare)", "data/run.csv (trace)"]
    assert int(junit.get("tests")) == sum(len(s.findall("testcase")) for s in suites)
    for suite, checked in zip(suites, report["files"]):
        failed_checks = [c for c in checked["checks"] if not c["passed"]]
        threshold_failures = [c for c in suite.findall("testcase") if (f := c.find("failure")) is not None and f.get("type") == "threshold"]
        assert len(threshold_failures) == len(failed_checks)
    lines = run("check", "--report-format", "github").out.splitlines()
    assert lines and all(ANNOTATION.match(line) for line in lines)
    assert {re.match(r"::\w+ file=([^,]+)", line).group(1) for line in lines} == {"data/valley.npz", "data/run.csv"}
    assert sum("title=condiag threshold" in line for line in lines) == 2
    markdown = run("check", "--report-format", "markdown").out
    assert markdown.startswith("## condiag check") and markdown.count("❌ fail") == 2 and "### condiag trace" in markdown
    out = tmp_path / "report.xml"
    result = run("check", "--output", out)
    assert result.code == ExitCode.THRESHOLD and ET.parse(out).getroot().tag == "testsuites"


def test_check_schema_is_printed(run):
    schema = json.loads(run("schema", "check").out)
    assert schema["properties"]["command"] == {"const": "check"}


def test_a_byte_order_mark_is_accepted(project, run):
    (project.root / "condiag.toml").write_bytes(b"\xef\xbb\xbfloss = 'mean'\n")
    assert run("analyze", "data/valley.npz", "--json").json()["problem"]["loss"] == "mean"
