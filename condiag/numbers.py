"""Number formatting shared by the findings' texts and the renderers, and two array helpers without side costs
(:func:`max_abs` without a full-size temporary, :func:`sorted_unique` without numpy.ma's import)."""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal


def sig(value, digits: int = 4) -> str:
    """A number with ``digits`` significant digits, exponent without padding: 1.6031e-5, 1803, 0.0384."""
    if value is None:
        return "n/a"
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    if -4 <= exponent < digits + 2:
        text = f"{value:.{max(digits - 1 - exponent, 0)}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if exponent >= 4:
            whole, _, frac = text.partition(".")
            text = f"{int(whole):,}" + (f".{frac}" if frac else "")
        return text
    mantissa = f"{value / 10**exponent:.{digits - 1}f}".rstrip("0").rstrip(".")
    if mantissa in ("10", "-10"):
        mantissa, exponent = mantissa[:-1], exponent + 1
    return f"{mantissa}e{exponent}"


def round_sig(value: float, digits: int, rounding) -> float:
    """``value`` (> 0) rounded to ``digits`` significant decimal digits in the direction ``rounding``.

    Decimal arithmetic on the exact binary value, so the result's shortest repr is the printed
    decimal and it lies on the requested side of ``value`` (``ROUND_FLOOR``: never above it).
    """
    exact = Decimal(value)
    quantum = Decimal(1).scaleb(exact.adjusted() - digits + 1)
    rounded = float(exact.quantize(quantum, rounding=rounding))
    if rounding == ROUND_FLOOR and rounded > value:  # the float nearest the decimal can lie just above it
        rounded = math.nextafter(rounded, 0.0)
    if rounding == ROUND_CEILING and rounded < value:
        rounded = math.nextafter(rounded, math.inf)
    return rounded


def floor_sig(value: float, digits: int) -> float:
    """The largest number with ``digits`` significant digits that is at most ``value``."""
    return round_sig(value, digits, ROUND_FLOOR)


def sig_below(value, digits: int = 5) -> str:
    """``value`` printed with ``digits`` significant digits, rounded down: for a limit the printed
    number must not exceed (an lr that is safe at the printed value)."""
    if value is None or not math.isfinite(float(value)) or float(value) <= 0:
        return sig(value, digits)
    return sig(floor_sig(float(value), digits), digits)


def count(n) -> str:
    """An iteration count: exact with thousands separators up to 10^9, else 3.6e12."""
    if n is None:
        return "n/a"
    n = int(n)
    if abs(n) < 10**9:
        return f"{n:,}"
    return sig(n, 3)


def percent(share: float) -> str:
    """A share in [0, 1] as a percentage with sensible digits: 99.97%."""
    p = 100.0 * share
    if p >= 99.995:
        return "100%"
    if p >= 99:
        return f"{p:.2f}%"
    return f"{p:.1f}%" if p >= 1 else f"{p:.2g}%"


def loadings_text(loadings) -> str:
    """'x[1] (99.97%)' or 'Area (61%), Price (38%)'; a direction with no dominant column says so."""
    if loadings and loadings[0][2] < 0.05:
        name, _value, share = loadings[0]
        return f"a mix of many columns (largest {name}, {percent(share)})"
    return ", ".join(f"{name} ({percent(share)})" for name, _value, share in loadings)


def factor(value: float, gap: float | None = None) -> str:
    """A per-step factor near 1 shown by its distance from 1: 1 - 6.1e-7, 1 + 2.3e-3, 0.5.

    ``gap`` = 1 - value when known without cancellation (rates within 1e-16 of 1).
    """
    if value is None:
        return "n/a"
    if gap is not None and 0 < gap < 1e-3:
        return f"1 - {sig(gap, 3)}"
    if 0.999 < value < 1.0:
        return f"1 - {sig(1.0 - value, 3)}"
    if 1.0 < value < 1.001:
        return f"1 + {sig(value - 1.0, 3)}"
    return sig(value, 4)


def max_abs(values) -> float:
    """max |v| over an array without allocating |values| (a full-size temporary on a large matrix); 0 when empty."""
    import numpy as np

    values = np.asarray(values)
    if values.size == 0:
        return 0.0
    return float(max(values.max(), -values.min()))


def sorted_unique(values):
    """The distinct values of a 1-D array, ascending: ``numpy.unique`` without its import of ``numpy.ma`` (18 ms,
    a tenth of a small problem's analysis, which numpy 2.4's ``unique`` pays on first use)."""
    import numpy as np

    ordered = np.sort(np.ravel(values))
    if ordered.size == 0:
        return ordered
    keep = np.empty(ordered.size, dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
