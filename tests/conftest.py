"""Shared fixtures: paths to bundled data and a CLI runner that returns (exit code, stdout, stderr)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_problems"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def data_dir() -> Path:
    return DATA


class Result:
    def __init__(self, result):
        self.code = result.exit_code
        self.out = result.stdout
        self.err = result.stderr
        self.exception = result.exception

    def json(self):
        """The report, validated against the JSON Schema of its command (every report a test reads)."""
        report = json.loads(self.out)
        validate_report(report)
        return report


def validate_report(report) -> None:
    """Raise if ``report`` (a condiag --json output) does not follow its command's shipped JSON Schema."""
    if not isinstance(report, dict) or report.get("command") not in ("analyze", "compare", "solve", "trace", "check", "model"):
        return
    import jsonschema

    from condiag.render.json_report import json_schema

    schema = json.loads(json_schema(report["command"]))
    jsonschema.Draft202012Validator(schema).validate(report)
    for checked in report.get("files", []) if report["command"] == "check" else []:
        if checked["report"] is not None:  # each file's own report follows its command's schema
            assert checked["report"]["command"] == checked["command"]
            validate_report(checked["report"])


@pytest.fixture
def run():
    """Invoke the CLI in-process: run("analyze", path, "--json") -> Result."""
    from condiag.cli import cli

    def invoke(*args, input=None, env=None):
        runner = CliRunner()
        result = runner.invoke(cli, [str(a) for a in args], input=input, env=env or {"NO_COLOR": "1"}, catch_exceptions=True)
        return Result(result)

    return invoke


@pytest.fixture
def valley():
    A = np.array([[-249.69, -4.1511], [-4.1511, -0.20755]])
    b = np.array([0.0, 10.0])
    return A, b
