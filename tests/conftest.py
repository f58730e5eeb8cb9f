"""Shared fixtures: paths to bundled data and a CLI runner that returns (exit code, stdout, stderr)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER") and "numpy" not in sys.modules:
    # One BLAS/OpenMP thread per test worker: the pytest-xdist workers are the parallelism. Two workers each
    # running busy-waiting thread pools (OpenBLAS, torch's OpenMP) on a 2-core machine slowed the torch and LAPACK
    # tests 2-5-fold. Child processes the tests start inherit it; an explicit setting is kept.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

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


def pytest_collection_modifyitems(items):
    """Longest first: the tests marked ``long(seconds)`` run before the rest, the longest first (the order is kept
    otherwise), so pytest-xdist hands them out while every worker is busy and no worker ends on one alone."""

    def expected_seconds(item) -> float:
        marker = item.get_closest_marker("long")
        return 0.0 if marker is None else float(marker.args[0]) if marker.args else 5.0

    items.sort(key=lambda item: -expected_seconds(item))
