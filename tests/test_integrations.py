"""The integrations the repository ships: the GitHub Action's script run as GitHub runs it, the pre-commit hooks
(by pre-commit itself where it is installed), shell completion."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from test_ci_formats import ANNOTATION

yaml = pytest.importorskip("yaml")

CONFIG = """[tool.condiag]
max-condition = {limit}

[[tool.condiag.files]]
path = "data/*.npz"
"""


def condiag_on_path() -> dict:
    """An environment where `condiag` is this interpreter's console script (or a shim running this checkout)."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    if not (bin_dir / "condiag").exists():
        shim = Path(os.environ.get("TMPDIR", "/tmp")) / f"condiag-shim-{os.getpid()}"
        shim.mkdir(exist_ok=True)
        (shim / "condiag").write_text(f"#!/bin/sh\nexec {sys.executable} -m condiag \"$@\"\n")
        (shim / "condiag").chmod(0o755)
        bin_dir = shim
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def repo(tmp_path, samples):
    (tmp_path / "data").mkdir()
    shutil.copy(samples / "valley_2x2.npz", tmp_path / "data" / "valley.npz")
    return tmp_path


@pytest.mark.parametrize("limit, code", [(1e9, 0), (10.0, 1)])
def test_the_action_script_as_github_runs_it(repo, tmp_path, limit, code):
    """The composite action's check step, with the inputs and files GitHub provides: annotations on stdout,
    the Markdown report in the job summary, the report file, the exit code as an output."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "check")
    (repo / "pyproject.toml").write_text(CONFIG.format(limit=limit))
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    env = {**condiag_on_path(), "CONDIAG_CONFIG": "", "CONDIAG_FORMAT": "github", "CONDIAG_REPORT": "report.xml",
           "CONDIAG_SUMMARY": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}
    done = subprocess.run(["bash", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == code, done.stderr
    lines = done.stdout.splitlines()
    assert lines and all(ANNOTATION.match(line) for line in lines)
    assert any("title=condiag threshold --max-condition" in line for line in lines) == (code == 1)
    assert summary.read_text().startswith("## condiag check")
    assert outputs.read_text().strip() == f"exit-code={code}"
    import xml.etree.ElementTree as ET

    assert ET.parse(repo / "report.xml").getroot().find("testsuite").get("name") == "data/valley.npz (analyze)"
    assert set(action["inputs"]) >= {"format", "config", "report", "summary"}
    for name in ("CONDIAG_CONFIG", "CONDIAG_FORMAT", "CONDIAG_REPORT", "CONDIAG_SUMMARY"):
        assert name in step["env"]


def test_the_pre_commit_hooks_are_well_formed():
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"condiag-check", "condiag-check-all"}
    for hook in hooks.values():
        assert hook["entry"] == "condiag check" and hook["language"] == "python"
    import re

    pattern = re.compile(hooks["condiag-check"]["files"])
    assert all(pattern.search(f"x.{ext}") for ext in ("npy", "npz", "csv", "h5", "mtx", "mat", "jsonl"))
    assert not pattern.search("x.py") and hooks["condiag-check-all"]["pass_filenames"] is False


@pytest.mark.long(60)
@pytest.mark.skipif(shutil.which("pre-commit") is None or shutil.which("git") is None, reason="pre-commit is not installed")
def test_the_hook_run_by_pre_commit_itself(repo):
    """pre-commit installs this checkout into its own environment and runs the hook on the staged files."""
    env = {**os.environ, "NO_COLOR": "1"}
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    (repo / "pyproject.toml").write_text(CONFIG.format(limit=10.0))
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    done = subprocess.run(["pre-commit", "try-repo", str(ROOT), "condiag-check", "--files", "data/valley.npz", "--verbose"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 1 and "exceeds --max-condition" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    (repo / "pyproject.toml").write_text(CONFIG.format(limit=1e9))
    done = subprocess.run(["pre-commit", "try-repo", str(ROOT), "condiag-check", "--files", "data/valley.npz"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:]


def test_shell_completion_names_the_commands_and_choices():
    env = {**condiag_on_path(), "_CONDIAG_COMPLETE": "bash_complete", "COMP_WORDS": "condiag ch", "COMP_CWORD": "1"}
    done = subprocess.run(["condiag"], env=env, capture_output=True, text=True, timeout=300)
    assert "plain,check" in done.stdout.splitlines()
    env.update(COMP_WORDS="condiag analyze x.npz --report-format ", COMP_CWORD="4")
    done = subprocess.run(["condiag"], env=env, capture_output=True, text=True, timeout=300)
    assert {"plain,html", "plain,junit", "plain,github"} <= set(done.stdout.splitlines())
