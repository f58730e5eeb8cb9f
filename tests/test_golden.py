"""Golden reports: each sample problem's JSON, today, against the one stored in tests/golden/.

What must match: every key of the stored report is still there (new keys may be added: the schema-1.x promise);
lists keep their length; booleans, nulls and the machine-readable strings (command, codes, severities, statuses,
names, verdicts) are equal; numbers agree to 1e-6 relative (1e-9 absolute). Numbers that are rounding noise by
nature (backward errors, the digits derived from them, timings) are compared only as present and finite.
``python tests/golden/cases.py`` rewrites the files after an intended change.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from cases import CASES, HERE, report

STABLE_STRINGS = {"command", "schema_version", "code", "severity", "status", "solver", "name", "objective", "loss",
                  "verdict", "kind", "ending", "sampling", "method_kind", "dtype", "input_dtype"}
"""Strings a machine reads: compared exactly. Every other string is prose, free to improve."""
NOISE = {"timing", "seconds", "condiag_version", "backward_error", "forward_error_bound", "correct_digits", "refinement_steps"}
"""Keys whose values are rounding noise or the machine's: compared as present only."""
SINGULAR = 1e13
"""A condition number above this is 1/eps times rounding: the problem is numerically singular, and then every
number derived from a condition number (cond·2⁻²⁴, cond·eps, ...) is compared only as present, null or not."""
WITHIN_A_FACTOR = {"float32_relative_error": 2.0}
"""Measured in float32, whose rounding differs between BLAS kernels: compared to within this factor."""


def _condition_numbers(report) -> list[float]:
    if isinstance(report, dict):
        return [v for k, v in report.items() if "cond" in k and isinstance(v, (int, float)) and not isinstance(v, bool)] + [
            c for v in report.values() for c in _condition_numbers(v)]
    return [c for v in report for c in _condition_numbers(v)] if isinstance(report, list) else []


def _differences(stored, today, path: str = "", singular: bool | None = None) -> list[str]:
    if singular is None:
        singular = any(c > SINGULAR for c in _condition_numbers(stored))
    if isinstance(stored, dict):
        if not isinstance(today, dict):
            return [f"{path}: was an object, now {type(today).__name__}"]
        out = []
        for key, value in stored.items():
            if key not in today:
                out.append(f"{path}.{key}: missing (keys are never renamed or removed)")
            elif key in NOISE or (isinstance(value, str) and (key not in STABLE_STRINGS or " " in value)):
                continue  # noise, or prose (a string with spaces is never an enumeration)
            elif "cond" in key and singular and isinstance(value, (int, float)):
                if not isinstance(today[key], (int, float)) or (value > SINGULAR) != (today[key] > SINGULAR):
                    out.append(f"{path}.{key}: {value!r} (numerically singular) → {today[key]!r}")
            elif key in WITHIN_A_FACTOR and isinstance(value, float) and isinstance(today[key], float) and value > 0 < today[key]:
                if abs(math.log(today[key] / value)) > math.log(WITHIN_A_FACTOR[key]):
                    out.append(f"{path}.{key}: {value!r} → {today[key]!r} (more than {WITHIN_A_FACTOR[key]:g}× apart)")
            else:
                out += _differences(value, today[key], f"{path}.{key}", singular)
        return out
    if isinstance(stored, list):
        if not isinstance(today, list) or len(today) != len(stored):
            return [f"{path}: length {len(stored)} → {len(today) if isinstance(today, list) else type(today).__name__}"]
        return [d for i, (a, b) in enumerate(zip(stored, today)) for d in _differences(a, b, f"{path}[{i}]", singular)]
    if isinstance(stored, bool) or stored is None or isinstance(stored, str):
        return [] if stored == today else [f"{path}: {stored!r} → {today!r}"]
    if isinstance(stored, (int, float)):
        if isinstance(today, bool) or not isinstance(today, (int, float)):
            return [f"{path}: {stored!r} → {today!r}"]
        return [] if math.isclose(stored, today, rel_tol=1e-6, abs_tol=1e-9) else [f"{path}: {stored!r} → {today!r}"]
    return [f"{path}: unexpected {type(stored).__name__}"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_report_matches_its_golden_file(name):
    stored = json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))
    differences = _differences(stored, report(CASES[name]))
    assert not differences, f"{name} differs from tests/golden/{name}.json:\n" + "\n".join(differences[:30])


def test_the_comparison_catches_what_it_promises_to():
    stored = {"command": "analyze", "a": 1.0, "b": [1, 2], "title": "prose", "timing": {"seconds": 1}, "f": [{"code": "CD101"}]}
    assert _differences(stored, {**stored, "new": 3, "title": "better prose", "timing": None}) == []
    assert _differences(stored, {**stored, "a": 1.0 + 1e-9}) == []
    assert _differences(stored, {**stored, "a": 1.001}) == [".a: 1.0 → 1.001"]
    assert _differences(stored, {k: v for k, v in stored.items() if k != "b"}) == [".b: missing (keys are never renamed or removed)"]
    assert _differences(stored, {**stored, "b": [1]}) == [".b: length 2 → 1"]
    assert _differences(stored, {**stored, "f": [{"code": "CD102"}]}) == [".f[0].code: 'CD101' → 'CD102'"]
    assert _differences(stored, {**stored, "a": None}) == [".a: 1.0 → None"]
    singular = {"cond": 4e16, "float32_relative_error": 4e-8}
    assert _differences(singular, {"cond": 1e16, "float32_relative_error": 5e-8}) == []
    assert _differences(singular, {"cond": 1e12, "float32_relative_error": 5e-8}) == [".cond: 4e+16 (numerically singular) → 1000000000000.0"]
    assert _differences({**singular, "cond_a_float32": 6e8}, {**singular, "cond_a_float32": 3e9}) == []
    assert _differences({"cond": 1e3, "x": {"cond_a": 6e8}}, {"cond": 1e3, "x": {"cond_a": 3e9}}) == [".x.cond_a: 600000000.0 → 3000000000.0"]
    assert len(_differences(singular, {"cond": 1e16, "float32_relative_error": 1e-7})) == 1
