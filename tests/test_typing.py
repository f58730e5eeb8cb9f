"""mypy on the whole package, as CI runs it (the settings are pyproject.toml's [tool.mypy])."""

from __future__ import annotations

import pytest
from conftest import ROOT

mypy_api = pytest.importorskip("mypy.api", reason="mypy is in the test extra")


def test_mypy_passes_on_the_package(tmp_path):
    out, err, status = mypy_api.run(["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache"),
                                     str(ROOT / "condiag")])
    assert status == 0, out + err
