"""The closed-form trajectories of gd, heavy ball and Nesterov against the recurrence itself.

The reference runs e_{k+1} = a e_k + c e_{k-1} step by step in 60-digit arithmetic (mpmath) on the
same float64 coefficients; the closed form must agree to about 1e-6 in log|e_k| (the residue is the
coefficients' own rounding, which the closed form avoids by using lr and beta directly).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from condiag.trajectories import (
    LinearMethod,
    QuadraticModel,
    _method_factors,
    log_gap,
    log_gaps,
    peak_gap,
)


def _recurrence_signed(a: float, c: float, first: float, k: int):
    """e(k)/e(0) of e_{k+1} = a e_k + c e_{k-1} from e(1)/e(0) = first, in 60-digit arithmetic."""
    with mpmath.workdps(60):
        previous, current = mpmath.mpf(1), mpmath.mpf(first)
        for _ in range(k - 1):
            previous, current = current, a * current + c * previous
        return current


def _recurrence_log(method: LinearMethod, lam: float, k: int) -> float | None:
    a, c = (float(v[0]) for v in method.coefficients(np.array([lam])))
    current = _recurrence_signed(a, c, float(method.first_ratio(np.array([lam]))[0]), k)
    return None if current == 0 else float(mpmath.log(abs(current)))


CASES = [
    # (kind, beta, lr·λ): well inside, near the double root (Polyak's optimum hits it), complex, real, lr·λ > 1
    ("heavy-ball", 0.9, 0.3),
    ("heavy-ball", 0.99999588, (1 - math.sqrt(0.99999588)) ** 2 * (1 + 1e-7)),
    ("heavy-ball", 0.99999588, 1e-12),
    ("heavy-ball", 0.5, 3.5),
    ("nesterov", 0.99999794, 1e-12),
    ("nesterov", 0.99999794, 1.3),
    ("nesterov", 0.9, 1.0),  # s = 0: c = 0 for this direction
    ("nesterov", 0.999, 1e-6),
    ("gd", 0.0, 1.7),
]


@pytest.mark.parametrize("kind, beta, t", CASES)
@pytest.mark.parametrize("k", [1, 2, 3, 50, 4321])
def test_closed_form_follows_the_recurrence(kind, beta, t, k):
    method = LinearMethod(kind, 1.0, beta)
    logs, _signs = _method_factors(method, np.array([t]), k)
    reference = _recurrence_log(method, t, k)
    if reference is None:
        assert logs[0] == -np.inf
    else:
        assert logs[0] == pytest.approx(reference, abs=1e-6 * max(1.0, abs(reference)))


@pytest.mark.parametrize("kind, beta", [("nesterov", 0.9), ("heavy-ball", 0.9), ("heavy-ball", 0.3)])
def test_every_direction_in_one_call_has_the_recurrences_value_and_sign(kind, beta):
    """Directions of every kind in one (K, D) evaluation — damped oscillating (c < 0, complex roots), damped real
    (c < 0, real roots), c = 0 and c > 0 (Nesterov with lr λ = 1 and 1.3), a < 0 (lr λ past 1 + β) — each with the
    recurrence's log|r(k)| and sign: the damped ones take the one-pass form, the others the two Lucas sequences."""
    method = LinearMethod(kind, 1.0, beta)
    lam = np.array([1e-6, 0.01, 0.3, 1.0, 1.3, 2.7, 3.9])
    ks = np.array([1, 2, 3, 50, 4321])
    logs, signs = _method_factors(method, lam, ks[:, None].astype(float))
    a, c = method.coefficients(lam)
    first = method.first_ratio(lam)
    assert np.any(c < 0) and (kind != "nesterov" or (np.any(c == 0) and np.any(c > 0)))
    for row, k in enumerate(ks):
        for column in range(lam.size):
            exact = _recurrence_signed(float(a[column]), float(c[column]), float(first[column]), int(k))
            if exact == 0:
                assert logs[row, column] == -np.inf
                continue
            reference = float(mpmath.log(abs(exact)))
            assert logs[row, column] == pytest.approx(reference, abs=1e-6 * max(1.0, abs(reference))), (k, lam[column])
            assert signs[row, column] == (1.0 if exact > 0 else -1.0), (k, lam[column])


def test_near_double_root_stays_bounded_over_many_steps():
    """Regression: powers of the 2x2 companion matrix (non-normal near a double root) amplified rounding
    without bound; on the badly scaled sample Nesterov's gap read e^165 after 1e8 steps though its
    spectral radius is 1 - 1e-6, and heavy ball's advised step count was 7x too large. Here the gap
    must fall as the radius says over 10^10 steps, and agree with the recurrence at 5·10^4."""
    beta = 0.99999794
    lam = np.array([1e-12, 3e-7, 0.5])
    method = LinearMethod("nesterov", 1.0, beta)
    model = QuadraticModel(lam, np.ones(3), 0.0)
    values = [log_gap(model, method, k) for k in (10**6, 10**7, 10**8, 10**10)]
    assert all(later < earlier for earlier, later in zip(values, values[1:]))
    k = 50_000
    reference = [_recurrence_log(method, float(v), k) for v in lam]
    expected = math.log(sum(0.5 * v * math.exp(2 * r) for v, r in zip(lam, reference)))
    assert log_gap(model, method, k) == pytest.approx(expected, abs=1e-5)


def test_peak_is_the_transient_rise_of_momentum():
    """Heavy ball from rest with a large lr·λ first overshoots: the sampled peak matches a step-by-step scan."""
    lam = np.array([1.9, 1e-4])
    method = LinearMethod("heavy-ball", 1.0, 0.98)
    model = QuadraticModel(lam, np.array([0.01, 1.0]), 0.0)
    step, log_peak = peak_gap(model, method, 20_000)
    scan = log_gaps(model, method, np.arange(0, 20_001))
    assert scan[1234] == pytest.approx(log_gap(model, method, 1234), abs=1e-12)  # the vectorised form is the scalar one
    assert log_peak <= max(scan) + 1e-12
    assert log_peak >= max(scan) - math.log(1.2)  # within 20% of the true peak
    assert peak_gap(model, LinearMethod("gd", 1.0), 1000) == (0, log_gap(model, LinearMethod("gd", 1.0), 0))


def test_vectorised_gd_gaps_are_the_scalar_ones_at_every_k():
    """log_gaps for gd (one array operation) equals log_gap step by step, with lr·λ = 1 exactly, lr·λ > 2, a zero
    weight and k = 0 and k = 1e300 among them."""
    lam = np.array([4.0, 1e-9, 2.5, 0.0, 1.0])
    model = QuadraticModel(lam, np.array([1.0, 2.0, 0.5, 3.0, 0.0]), 0.0)
    method = LinearMethod("gd", 1.0)
    ks = np.array([0, 1, 2, 3, 10, 1234, 10**6, 1e300])
    expected = [log_gap(model, method, k) for k in ks]
    np.testing.assert_allclose(log_gaps(model, method, ks), expected, rtol=1e-14, atol=0)
    stable = LinearMethod("gd", 0.3)
    ks = np.arange(0, 5000)
    np.testing.assert_allclose(log_gaps(model, stable, ks), [log_gap(model, stable, k) for k in ks], rtol=1e-13, atol=1e-13)


def test_gradient_descent_step_search_equals_scalar_bisection():
    """The vectorised search for gd's first step (powers of two 16 at a time, then 16-way cuts) gives the step a
    scalar galloping bisection of log_gap gives, for targets below and above, limits up to 10^300."""
    from condiag.bounds import QuadraticModel
    from condiag.trajectories import (
        LinearMethod,
        first_step_above,
        first_step_below,
        log_gap,
    )

    def scalar_first(model, method, holds, limit):
        if holds(log_gap(model, method, 0)):
            return 0
        if not holds(log_gap(model, method, limit)):
            return None
        lo, hi = 0, 1
        while hi < limit and not holds(log_gap(model, method, hi)):
            lo, hi = hi, min(2 * hi, limit)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if holds(log_gap(model, method, mid)) else (mid, hi)
        return hi

    rng = np.random.default_rng(8)
    found = 0
    for trial in range(60):
        d = int(rng.integers(1, 50))
        lam = np.sort(rng.uniform(0, 1, d) * 10 ** rng.uniform(-14, 0, d))[::-1]
        model = QuadraticModel(eigenvalues=lam, initial_error=rng.standard_normal(d), floor=0.0)
        method = LinearMethod("gd", rng.uniform(0.05, 2.3) / lam.max())
        limit = [10**6, 10**18, 10**300][trial % 3]
        below, above = float(rng.uniform(-60, 0)), float(rng.uniform(0, 60))
        ours = (first_step_below(model, method, below, limit), first_step_above(model, method, above, limit))
        assert ours == (scalar_first(model, method, lambda v: v <= below, limit), scalar_first(model, method, lambda v: v >= above, limit))
        found += sum(k is not None and k > 1 for k in ours)
    assert found > 30  # most searches find a step beyond the first


def test_sorted_unique_is_numpy_unique():
    from condiag.numbers import sorted_unique

    rng = np.random.default_rng(0)
    for size in (0, 1, 2, 7, 50):
        values = rng.integers(0, 6, size).astype(float)
        np.testing.assert_array_equal(sorted_unique(values), np.unique(values))
