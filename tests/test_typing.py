"""mypy on the package, as CI runs it: the typed modules pass, and the list of modules still exempt is exact."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

mypy_api = pytest.importorskip("mypy.api", reason="mypy is in the test extra")


def test_mypy_passes_and_the_exempt_list_holds_only_modules_that_still_fail(tmp_path):
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    exempt = {module for override in settings.get("overrides", []) if override.get("ignore_errors") for module in override["module"]}
    base = {key: value for key, value in settings.items() if key != "overrides"}
    # one run without the exemptions: its failing modules must be exactly the exempt ones
    ini = tmp_path / "mypy.ini"
    ini.write_text("[mypy]\n" + "".join(f"{key} = {str(value).lower() if isinstance(value, bool) else value}\n"
                                        for key, value in base.items()), encoding="utf-8")
    out, err, status = mypy_api.run(["--config-file", str(ini), "--cache-dir", str(tmp_path / "cache"), "--no-error-summary",
                                     str(ROOT / "condiag")])
    assert status in (0, 1), err
    failing = set()
    for line in out.splitlines():
        match = re.match(r"(?:.*[/\\])?(condiag[/\\].*?)\.py:\d+: error:", line)
        if match:
            failing.add(re.sub(r"\.__init__$", "", match.group(1).replace("/", ".").replace("\\", ".")))
    assert not failing - exempt, "typed modules that mypy rejects:\n" + "\n".join(
        line for line in out.splitlines() if any(m.replace(".", "/") in line.replace("\\", "/") for m in failing - exempt))
    assert not exempt - failing, f"these modules pass mypy now; take them off [[tool.mypy.overrides]]: {sorted(exempt - failing)}"
