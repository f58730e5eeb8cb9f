"""The README's finding table states the thresholds the code applies (condiag/thresholds.py), number for number."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from condiag import thresholds as t


def _row(code: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^\| {code} \|(.*)$", readme, re.MULTILINE)
    assert match, f"{code} is not in the README's finding table"
    return match.group(1)


def _numbers(text: str) -> set[float]:
    return {float(m.replace("×", "")) for m in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?:e-?\d+)?(?=×|\b)", text)}


@pytest.mark.parametrize(("code", "values"), [
    ("CD101", [t.ILL_CONDITIONED, t.SEVERELY_ILL_CONDITIONED]),
    ("CD181", [t.ILL_CONDITIONED, t.SEVERELY_ILL_CONDITIONED]),
    ("CD103", [t.SCALING_IMPROVEMENT]),
    ("CD104", [t.BELSLEY_INDEX, t.BELSLEY_PROPORTION]),
    ("CD105", [t.FLOAT32_WARNING, t.FLOAT32_ERROR]),
    ("CD140", [t.MIN_CORRECT_DIGITS]),
])
def test_the_readme_states_the_thresholds_the_code_applies(code, values):
    stated = _numbers(_row(code))
    for value in values:
        assert value in stated, f"{code}: the README does not state {value:g} (it states {sorted(stated)})"


def test_condition_severity_bands():
    assert t.condition_severity(t.ILL_CONDITIONED * 0.999) == "info"
    assert t.condition_severity(t.ILL_CONDITIONED) == "warning"
    assert t.condition_severity(t.SEVERELY_ILL_CONDITIONED) == "error"
    assert t.condition_severity(float("inf")) == "error"
    assert t.condition_severity(1.0, below="none") == "none"
