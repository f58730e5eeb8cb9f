"""Adam's regimes (analyze --adam): predictions checked against Adam itself (condiag's torch-adam, which reproduces
torch.optim.Adam step for step) on a least-squares problem."""

from __future__ import annotations

import math

import numpy as np
import pytest

from condiag.adam_regimes import adam_regime
from condiag.solvers.torch_optim import TorchAdam


@pytest.fixture(scope="module")
def least_squares():
    rng = np.random.default_rng(1)
    U, _ = np.linalg.qr(rng.standard_normal((30, 3)))
    V, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    A = U @ np.diag(np.sqrt(np.array([10.0, 1.0, 0.1]) / 2)) @ V.T  # H = 2AᵀA has eigenvalues 10, 1, 0.1
    b = A @ np.array([1 / 3, -2 / 7, 0.3]) + 0.1 * rng.standard_normal(30)
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]
    return A, b, x_star, np.linalg.eigvalsh(2 * A.T @ A)


def adam_gaps(A, b, lr, eps, steps, beta1=0.9, beta2=0.999, stop_above=None):
    """f(x_k) - f* for k = 0 .. steps-1; with ``stop_above`` = (step, level), ends at the first step past ``step``
    whose gap exceeds ``level``."""
    x = np.zeros(A.shape[1])
    f_star = float(np.sum((A @ np.linalg.lstsq(A, b, rcond=None)[0] - b) ** 2))
    state = {"m": np.zeros_like(x), "v": np.zeros_like(x), "v_max": np.zeros_like(x)}
    params = {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps, "weight_decay": 0.0, "amsgrad": 0.0}
    solver, gaps = TorchAdam(), []
    for k in range(1, steps + 1):
        r = A @ x - b
        gaps.append(r @ r - f_star)
        if stop_above is not None and k > stop_above[0] and gaps[-1] > stop_above[1]:
            break
        x = solver.step(x, 2 * A.T @ r, state, params, k, None)
    return np.array(gaps)


@pytest.mark.parametrize("lr", [1e-2, 1e-3])
@pytest.mark.parametrize("share", [1 / 30, 1 / 3, 3, 30])
def test_eps_below_critical_makes_the_loss_spike_late_and_above_it_settle(least_squares, lr, share):
    A, b, x_star, lam = least_squares
    critical = adam_regime(lr, 0.9, 0.999, 1.0, lam, x_star, np.zeros(3)).eps_critical
    regime = adam_regime(lr, 0.9, 0.999, share * critical, lam, x_star, np.zeros(3))
    assert regime.trapped == (share < 1)
    if regime.trapped:
        # the loss first settles at float64 rounding; the instability then grows from the rounding noise, and when
        # it shows depends on that noise (about 24,000 steps at lr 1e-3 on one machine, under 20,000 on another):
        # the loss must rise far above its floor within 100,000 steps
        start = adam_gaps(A, b, lr, share * critical, 1)[0]
        gaps = adam_gaps(A, b, lr, share * critical, 100_000, stop_above=(10_000, 1e-9 * start))
        assert gaps[10_000:].min() < 1e-14 * start  # it had settled
        assert gaps[-1] > 1e-9 * start  # and then rose
    else:
        gaps = adam_gaps(A, b, lr, share * critical, 20_000)
        assert gaps[10_000:].max() < 1e-14 * gaps[0]


def test_in_the_eps_regime_adam_is_heavy_ball(least_squares):
    """eps far above every gradient: Adam is heavy ball with step lr(1-β1)/eps from the start; its late loss factor
    per step is the square of that heavy ball's spectral radius."""
    A, b, x_star, lam = least_squares
    regime = adam_regime(1e-2, 0.9, 0.999, 10.0, lam, x_star, np.zeros(3))
    gaps = adam_gaps(A, b, 1e-2, 10.0, 40_000)
    t = np.arange(gaps.size)
    late = (t > 20_000) & (gaps > 1e-20)
    measured = math.exp(np.polyfit(t[late], np.log(gaps[late]), 1)[0])
    assert measured == pytest.approx(regime.late_rate**2, rel=1e-6)


def test_travel_bound_holds_for_every_step(least_squares):
    A, b, x_star, lam = least_squares
    for beta1, beta2 in ((0.9, 0.999), (0.5, 0.9)):
        regime = adam_regime(1e-3, beta1, beta2, 1e-8, lam, x_star, np.zeros(3))
        x = np.zeros(3)
        state = {"m": np.zeros(3), "v": np.zeros(3), "v_max": np.zeros(3)}
        params = {"lr": 1e-3, "beta1": beta1, "beta2": beta2, "eps": 1e-8, "weight_decay": 0.0, "amsgrad": 0.0}
        for k in range(1, 3000):
            new = TorchAdam().step(x, 2 * A.T @ (A @ x - b), state, params, k, None)
            assert np.max(np.abs(new - x)) <= regime.step_bound * (1 + 1e-12)
            x = new
        assert np.max(np.abs(x - x_star)) > 0 or regime.min_steps <= 3000


def test_analyze_adam_findings_and_checked_remedy(run, tmp_path, least_squares):
    A, b, _, _ = least_squares
    path = tmp_path / "p.npz"
    np.savez(path, A=A, b=b)
    report = run("analyze", path, "--adam", "--lr", "1e-2", "--lr", "1e-5", "--eps", "1e-8", "--steps", "100", "--json").json()
    regimes = report["adam"]
    assert [r["trapped"] for r in regimes] == [True, True]
    codes = [f["code"] for f in report["findings"]]
    assert codes.count("CD133") == 2 and "CD135" in codes
    snippet = next(f for f in report["findings"] if f["code"] == "CD133")["remedies"][0]["snippet"]
    eps = float(snippet.split("eps=")[1].rstrip(")"))
    assert eps >= regimes[0]["eps_critical"] and not adam_regime(1e-2, 0.9, 0.999, eps, np.linalg.eigvalsh(2 * A.T @ A),
                                                                 np.zeros(3), np.zeros(3)).trapped
    assert run("analyze", path, "--adam", "--lr", "1e-2", "--betas", "0.9,1.5").code == 2
    assert run("analyze", path, "--adam", "--lr", "1e-2", "--betas", "x").code == 2
