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
        return json.loads(self.out)


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
