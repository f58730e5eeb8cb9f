"""Parser for the NIST StRD linear least-squares files in tests/data/nist (certified values + data).

Used by the tests and by benchmarks/accuracy.py. The design matrix is formed exactly as a
user would: raw columns (1, x, x^2, ... for the polynomial models; the predictors for
Longley), in float64, no centring or scaling.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).parent / "data" / "nist"
NAMES = ("Norris", "Pontius", "NoInt1", "NoInt2", "Filip", "Longley",
         "Wampler1", "Wampler2", "Wampler3", "Wampler4", "Wampler5")


@dataclass(frozen=True)
class Dataset:
    name: str
    X: np.ndarray
    y: np.ndarray
    certified: np.ndarray
    residual_sd: float
    r_squared: float
    intercept: bool


def _number(text: str) -> float:
    return float(text.replace("D", "E"))


def load(name: str) -> Dataset:
    lines = (DATA_DIR / f"{name}.dat").read_text().splitlines()
    params = []
    residual_sd = r_squared = None
    data_start = None
    for i, line in enumerate(lines):
        match = re.match(r"\s*B(\d+)\s+(\S+)\s+(\S+)", line)
        if match and data_start is None:
            params.append((int(match.group(1)), _number(match.group(2))))
        if "Residual" in line and "Standard Deviation" in line:
            residual_sd = _number(line.split()[-1])
        elif re.match(r"\s*Standard Deviation\s+\S+\s*$", line) and residual_sd is None and params:
            residual_sd = _number(line.split()[-1])
        if "R-Squared" in line:
            r_squared = _number(line.split()[-1])
        if line.strip().startswith("Data:") and ("y" in line.split()):
            data_start = i + 1
    rows = np.array([[float(v) for v in l.split()] for l in lines[data_start:] if l.strip()])
    y = rows[:, 0]
    certified = np.array([v for _, v in sorted(params)])
    intercept = min(k for k, _ in params) == 0
    if name == "Longley":
        X = np.column_stack([np.ones(len(y)), rows[:, 1:]])
    else:
        x = rows[:, 1]
        first = 0 if intercept else 1
        X = np.column_stack([x**k for k in range(first, first + len(certified))])
    return Dataset(name, X, y, certified, residual_sd, r_squared, intercept)


def lre(estimate: np.ndarray, certified: np.ndarray, cap: float = 15.0) -> np.ndarray:
    """McCullough's log relative error per entry: -log10(|x - c| / |c|), absolute when c = 0; capped."""
    estimate, certified = np.atleast_1d(estimate).astype(float), np.atleast_1d(certified).astype(float)
    err = np.abs(estimate - certified)
    rel = np.where(certified != 0, err / np.where(certified != 0, np.abs(certified), 1.0), err)
    with np.errstate(divide="ignore"):
        out = -np.log10(rel)
    return np.clip(np.nan_to_num(out, posinf=cap), 0.0, cap)
