"""mypy on the whole package, as CI runs it (the settings are pyproject.toml's [tool.mypy])."""

from __future__ import annotations

import pytest
from conftest import ROOT

mypy_api = pytest.importorskip("mypy.api", reason="mypy is in the test extra")


@pytest.mark.long(25)
def test_mypy_passes_on_the_package():
    out, err, status = mypy_api.run(["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(ROOT / ".mypy_cache"),
                                     str(ROOT / "condiag")])
    assert status == 0, out + err
