"""Two-layer linear networks (story 3): derivatives, optimum, curvature formulas, LM/ALS, story reproduction."""

from __future__ import annotations

import numpy as np
import pytest

from condiag.comparison import compare
from condiag.solvers import Settings
from condiag.two_layer import (
    TwoLayerProblem,
    component_rates,
    curvature_at_init,
    optimum,
    power_iteration_top,
)
from condiag.two_layer_analysis import analyze_two_layer


def story3(samples=1000):
    rng = np.random.default_rng(0)
    A = np.linspace(1.0, 1e5, 10)[:, None] * rng.random((10, 6))
    return TwoLayerProblem.create(A, 6, samples=samples)


def random_problem(seed, K=2, samples=50, loss="sum", scale=1.0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(5, 4)) * scale
    return TwoLayerProblem.create(A, K, samples=samples, loss=loss, seed=seed)


@pytest.mark.parametrize("loss", ["sum", "mean", "half", "half-mean"])
def test_derivatives_match_finite_differences(loss):
    p = random_problem(1, loss=loss)
    rng = np.random.default_rng(2)
    theta, v = rng.normal(size=p.n_cols), rng.normal(size=p.n_cols)
    h = 1e-6
    assert p.gradient(theta) @ v == pytest.approx((p.value(theta + h * v) - p.value(theta - h * v)) / (2 * h), rel=1e-6)
    numeric = (p.gradient(theta + h * v) - p.gradient(theta - h * v)) / (2 * h)
    np.testing.assert_allclose(p.hessian_vector_at(theta, v), numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())
    r, J = p.residual_vector(theta), p.jacobian(theta)
    assert float(r @ r) == pytest.approx(p.value(theta), rel=1e-12)
    np.testing.assert_allclose(2 * J.T @ r, p.gradient(theta), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_eckart_young_optimum(seed):
    p = random_problem(seed, K=2, samples=0)
    best = optimum(p)
    s = np.linalg.svd(p.A, compute_uv=False)
    assert best.loss == pytest.approx(float(np.sum(s[2:] ** 2)), rel=1e-10)
    W1, W2 = p.split(best.theta)
    np.testing.assert_allclose(W1.T @ W1, W2 @ W2.T, atol=1e-10)  # balanced
    assert np.linalg.norm(p.gradient(best.theta)) <= 1e-9 * max(1.0, np.linalg.norm(p.A) ** 2)


def test_power_iteration_equals_dense_hessian():
    p = random_problem(3)
    theta = p.initial_point()
    H = np.array([p.hessian_vector_at(theta, e) for e in np.eye(p.n_cols)])
    assert power_iteration_top(p, theta) == pytest.approx(np.linalg.eigvalsh((H + H.T) / 2)[-1], rel=1e-6)


def assert_curvature_formulas_within_ten_percent(p):
    """Both lambda_max estimates against a Hessian-vector-product power iteration, within 10%."""
    theta0 = p.initial_point()
    best = optimum(p)
    assert curvature_at_init(p, theta0) == pytest.approx(power_iteration_top(p, theta0), rel=0.10)
    assert float(component_rates(p, best).max()) == pytest.approx(power_iteration_top(p, best.theta), rel=0.10)


@pytest.mark.parametrize("samples", [1000, 0])
def test_curvature_formulas_within_ten_percent_story3(samples):
    assert_curvature_formulas_within_ten_percent(story3(samples))


@pytest.mark.parametrize("seed", range(5))
def test_curvature_formulas_within_ten_percent_scaled(seed):
    """Large-scale targets (the regime of story 3), random shapes and sample counts."""
    assert_curvature_formulas_within_ten_percent(random_problem(seed, K=3, samples=200, scale=1e4))


@pytest.mark.parametrize("seed", range(4))
def test_step_prediction_matches_simulated_gd_near_minimum(seed):
    """From a small perturbation of the balanced minimum, GD at the recommended lr needs the predicted steps."""
    p = random_problem(seed, K=4, samples=0, scale=3.0)  # K = rank: f* = 0
    analysis = analyze_two_layer(p, tol=1e-8)
    best = optimum(p)
    W1, W2 = p.split(best.theta)
    U, _s, Vt = np.linalg.svd(best.M)
    # perturb the product along its slowest component only, keeping balance to first order
    theta = best.theta + 1e-3 * p.join(np.outer(U[:, 3], np.eye(4)[3]), np.outer(np.eye(4)[3], Vt[3]))
    lr = analysis.recommended_lr
    gap0 = p.value(theta) - best.loss
    steps = 0
    while p.value(theta) - best.loss > 1e-8 * gap0 and steps < 100_000:
        theta = theta - lr * p.gradient(theta)
        steps += 1
    assert steps == pytest.approx(analysis.steps_at_recommended, rel=0.25)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("solver", ["lm", "als"])
def test_lm_and_als_reach_the_truncated_svd_optimum(seed, solver):
    p = random_problem(seed, K=2, samples=30)  # K < rank: non-zero floor
    result_set = compare(p, [solver], Settings(max_iter=500, tol=1e-12))
    result, metric = result_set.results[0], result_set.metrics[0]
    start_gap = p.value(p.initial_point()) - result_set.reference.loss
    assert result.status == "converged", result.message
    assert metric.loss_gap <= 1e-12 * start_gap * (1 + 1e-6)
    assert result_set.reference.loss > 0
    assert metric.product_rel_error < 1e-4


def test_story3_reproduction():
    p = story3()
    f0 = p.value(p.initial_point())
    for lr in (1e-6, 1e-5, 1e-4, 1e-3):
        r = compare(p, ["gd"], Settings(max_iter=3000, lr=lr)).results[0]
        assert r.status == "diverged" and r.diverged_at <= 10
    for lr in (1e-5, 1e-4, 1e-3, 1e-2):
        r = compare(p, ["adam"], Settings(max_iter=3000, lr=lr)).results[0]
        assert r.status != "converged" and r.final_loss > 0.3 * f0
    converged = compare(p, ["gd", "lm", "als"], Settings(max_iter=3000, tol=1e-8))
    for result, metric in zip(converged.results, converged.metrics):
        assert result.status == "converged", result.solver
        assert metric.loss_gap / (f0 - converged.reference.loss) < 1e-8
    lm = converged.results[1]
    assert lm.iterations < 20
    assert converged.results[0].params["lr"] == pytest.approx(analyze_two_layer(p).recommended_lr, rel=1e-12)


def test_analyze_names_scale_not_conditioning(run, samples):
    result = run("analyze", samples / "two_layer_story3.npz", "--model", "two-layer", "--hidden", "6", "--lr", "1e-3", "--lr", "1e-2", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["spectrum"]["condition_number"] == pytest.approx(12.1, rel=0.01)
    codes = [f["code"] for f in report["findings"]]
    assert {"CD150", "CD151", "CD152", "CD154"} <= set(codes)
    assert report["learning_rate"]["recommended"] < 2e-9
    assert not any(c["stable"] for c in report["lr_checks"])
    assert report["lr_checks"][1]["adam_min_steps"] > 3000
    text = run("analyze", samples / "two_layer_story3.npz", "--model", "two-layer", "--lr", "1e-3").out
    assert "Scale, not conditioning" in text and "recommended lr" in text


def test_compare_cli_two_layer(run, samples):
    report = run("compare", samples / "two_layer_story3.npz", "--model", "two-layer", "--max-iter", "3000", "--tol", "1e-8", "--json").json()
    names = {s["name"]: s for s in report["solvers"]}
    assert {"gd", "momentum", "adam", "lbfgs", "lm", "als"} == set(names)
    assert names["lm"]["status"] == "converged" and names["als"]["status"] == "converged"
    skipped = run("compare", samples / "two_layer_story3.npz", "--model", "two-layer", "--solvers", "cg,newton", "--json").json()
    assert all(s["status"] == "skipped" for s in skipped["solvers"])
