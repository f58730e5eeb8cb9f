"""The named thresholds of the findings: one home for each number the README's finding table states.

``tests/test_thresholds.py`` reads the README's table and checks every number it gives against these.

References: the 1e3/1e6 condition bands follow the usual reading of cond as digits lost (Higham, *Accuracy and
Stability of Numerical Algorithms*, 2002, §1.6); the collinearity rule is Belsley, Kuh & Welsch, *Regression
Diagnostics* (1980), §3.2.
"""

from __future__ import annotations

ILL_CONDITIONED = 1e3
"""cond(H) at or above which the valley is worth a warning (CD101, CD181); below it CD100 says well conditioned."""
SEVERELY_ILL_CONDITIONED = 1e6
"""cond(H) at or above which the valley is an error (CD101, CD181)."""

SCALING_IMPROVEMENT = 10.0
"""Column scaling is named the cause (CD103) when it lowers cond by at least this factor ..."""
SCALING_MIN_CONDITION = 100.0
"""... and the unscaled cond is at least this."""

BELSLEY_INDEX = 30.0
"""A condition index at or above this (CD104) marks a near-dependency ..."""
BELSLEY_PROPORTION = 0.5
"""... among the columns with a variance-decomposition proportion at or above this (two or more)."""

FLOAT32_WARNING = 1e-3
"""Relative error of float32 (measured, or the bound cond(H)·2⁻²⁴) at or above which CD105 warns ..."""
FLOAT32_ERROR = 1.0
"""... and at or above which it is an error."""

MIN_CORRECT_DIGITS = 3.0
"""CD140: the exact answer itself has fewer correct digits than this in float64."""


def condition_severity(kappa: float, below: str = "info") -> str:
    """The severity of a condition number: error from :data:`SEVERELY_ILL_CONDITIONED`, warning from
    :data:`ILL_CONDITIONED`, else ``below``."""
    if kappa >= SEVERELY_ILL_CONDITIONED:
        return "error"
    return "warning" if kappa >= ILL_CONDITIONED else below
