"""Minibatch SGD on least squares: the mean-square threshold, the noise floor and the expected loss at every step,
against independent formulas and Monte-Carlo runs (the mean over seeds within 4 of its standard errors)."""

from __future__ import annotations

import numpy as np
import pytest

import condiag
from condiag.minibatch import (
    ExpectedLoss,
    mean_square_threshold,
    mean_square_threshold_matrix_free,
    minibatch_model,
    predict,
)
from condiag.reference import reference_from
from condiag.spectrum import decompose


def setup(n=20, d=3, seed=0, noise=0.3, ridge=0.0, loss="mean"):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d)) * np.geomspace(1, 4, d)
    b = A @ rng.standard_normal(d) + noise * rng.standard_normal(n)
    problem = condiag.as_problem(A, b, loss=loss, ridge=ridge)
    decomposition = decompose(problem)
    reference = reference_from(problem, decomposition)
    return problem, decomposition, reference


def model_of(problem, decomposition, reference, batch, replacement):
    return minibatch_model(problem, decomposition, reference.x, np.zeros(problem.n_cols), reference.loss, batch, replacement)


def test_one_unknown_threshold_has_its_closed_form():
    """d = 1: E[m'] = m (1 - 2ηλ + η² E[ĥ²]) with E[ĥ²] = α E[h²] + (1 - α) λ², so η_ms = 2λ / (α E[h²] + (1 - α) λ²)."""
    problem, decomposition, reference = setup(d=1)
    a = problem.A[:, 0]
    n = a.size
    h = 2 * n * a * a / n  # per-row curvature of the mean loss: 2 a_i²
    lam = h.mean()
    for batch, replacement in ((1, True), (3, True), (3, False), (20, False)):
        alpha = 1 / batch if replacement else (n - batch) / (batch * (n - 1))
        expected = 2 * lam / (alpha * np.mean(h * h) + (1 - alpha) * lam * lam)
        got = mean_square_threshold(model_of(problem, decomposition, reference, batch, replacement))
        assert got == pytest.approx(expected, rel=1e-12)


def test_full_batch_is_gradient_descent():
    problem, decomposition, reference = setup()
    model = model_of(problem, decomposition, reference, 20, False)
    assert mean_square_threshold(model) == pytest.approx(2 / decomposition.hessian_eigenvalues.max(), rel=1e-12)
    assert predict(model, 0.05).floor_gap == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("ridge", [0.0, 0.05])
def test_matrix_free_threshold_and_floor_equal_the_dense_ones(ridge):
    from condiag.minibatch import noise_floor_matrix_free

    problem, decomposition, reference = setup(n=60, d=12, ridge=ridge)
    for batch, replacement in ((1, True), (7, False)):
        model = model_of(problem, decomposition, reference, batch, replacement)
        threshold = mean_square_threshold(model)
        assert mean_square_threshold_matrix_free(model) == pytest.approx(threshold, rel=1e-9)
        for share in (0.1, 0.6, 0.95):
            assert noise_floor_matrix_free(model, share * threshold) == pytest.approx(
                ExpectedLoss(model, share * threshold).floor_gap(), rel=1e-8)


def simulate(problem, lr, batch, replacement, steps, seeds, checkpoints, rng):
    """SGD on the mean loss, seeds side by side; (mean, standard error) of f - f* at each checkpoint."""
    A, b, n = problem.A, problem.b, problem.n_rows
    X = np.zeros((seeds, A.shape[1]))
    out = {}
    f_star = None
    for t in range(steps + 1):
        if t in checkpoints:
            f = np.mean((X @ A.T - b) ** 2, axis=1) + problem.ridge * np.sum(X * X, axis=1)
            out[t] = f
        if replacement:
            index = rng.integers(0, n, (seeds, batch))
        else:
            index = np.argsort(rng.random((seeds, n)), axis=1)[:, :batch]
        Ab, bb = A[index], b[index]
        r = np.einsum("sbd,sd->sb", Ab, X) - bb
        g = 2 * np.einsum("sbd,sb->sd", Ab, r) / batch + 2 * problem.ridge * X
        X = X - lr * g
    return out, f_star


@pytest.mark.parametrize("batch, replacement, share, ridge", [(1, True, 0.5, 0.0), (2, True, 0.6, 0.0), (5, False, 0.7, 0.0),
                                                               (3, False, 0.5, 0.1)])
def test_expected_loss_matches_monte_carlo(batch, replacement, share, ridge):
    problem, decomposition, reference = setup(ridge=ridge)
    model = model_of(problem, decomposition, reference, batch, replacement)
    lr = share * mean_square_threshold(model)
    checkpoints = (1, 3, 10, 30, 100, 300)
    curve = ExpectedLoss(model, lr)
    runs, _ = simulate(problem, lr, batch, replacement, 300, 8000, checkpoints, np.random.default_rng(batch))
    for t in checkpoints:
        gaps = runs[t] - reference.loss
        mean, error = gaps.mean(), gaps.std(ddof=1) / np.sqrt(gaps.size)
        assert abs(curve.gap(t) - mean) <= 4 * error + 1e-12, (t, curve.gap(t), mean, error)
    assert curve.floor_gap() == pytest.approx(curve.gap(10**9), rel=1e-9)


@pytest.mark.parametrize("batch, replacement", [(1, True), (2, False)])
def test_expected_loss_equals_the_average_over_every_batch_sequence(batch, replacement):
    """Near the threshold a Monte-Carlo mean is dominated by rare paths; on 4 rows every sequence of batches can be
    enumerated (4^8 or 6^7 paths), which gives E f(x_t) exactly, to compare with the recursion's closed form."""
    import itertools

    problem, decomposition, reference = setup(n=4, d=2, seed=5, noise=0.5)
    model = model_of(problem, decomposition, reference, batch, replacement)
    lr = 0.95 * mean_square_threshold(model)
    curve = ExpectedLoss(model, lr)
    A, b = problem.A, problem.b
    batches = ([(i,) for i in range(4)] if replacement else list(itertools.combinations(range(4), batch)))
    steps = 8 if replacement else 7
    X = np.zeros((1, 2))
    for t in range(1, steps + 1):
        rows = np.array(batches)  # every path is extended by every batch: len(batches)^t paths
        Ab, bb = A[rows], b[rows]  # (batches, B, d)
        r = np.einsum("kbd,pd->pkb", Ab, X) - bb[None]
        g = 2 * np.einsum("kbd,pkb->pkd", Ab, r) / batch
        X = (X[:, None, :] - lr * g).reshape(-1, 2)
        exact = np.mean(np.mean((X @ A.T - b) ** 2, axis=1)) - reference.loss
        assert curve.gap(t) == pytest.approx(exact, rel=1e-9)


def test_above_the_threshold_the_second_moment_grows():
    problem, decomposition, reference = setup()
    model = model_of(problem, decomposition, reference, 1, True)
    threshold = mean_square_threshold(model)
    below, above = ExpectedLoss(model, 0.999 * threshold), ExpectedLoss(model, 1.001 * threshold)
    assert below.spectral_radius < 1 < above.spectral_radius
    assert above.gap(10**6) > 1e3 * above.gap(0)
    assert threshold < 2 / decomposition.hessian_eigenvalues.max()


def test_analyze_batch_size_reports_and_checks_its_advice(run, tmp_path):
    problem, _, _ = setup(n=200, d=3, seed=3)
    path = tmp_path / "p.npz"
    np.savez(path, A=problem.A, b=problem.b)
    result = run("analyze", path, "--loss", "mean", "--batch-size", "8", "--lr", "0.05", "--lr", "5", "--json")
    assert result.code == 0, result.err
    report = result.json()
    block = report["minibatch"]
    assert block["mean_square_threshold"] < block["full_batch_threshold"]
    stable, unstable = block["lrs"]
    assert stable["stable"] and not unstable["stable"]
    codes = {f["code"] for f in report["findings"]}
    assert {"CD130", "CD131", "CD132"} <= codes
    # the advised lr is fed back: its floor is below the target and it is not above the unrounded bound
    model = minibatch_model(*(lambda p, d, r: (p, d, r.x, np.zeros(3), r.loss))(*setup(n=200, d=3, seed=3)), 8, False)
    check = predict(model, block["lr_for_tol"], target_gap=block["target_gap"])
    assert check.floor_gap <= block["target_gap"] and check.steps_to_target == block["lr_for_tol_steps"]
    for bad in (["--batch-size", "0"], ["--batch-size", "201"], ["--batch-size", "2", "--objective", "quadratic"]):
        assert run("analyze", path, *bad).code in (2, 3)


def _null_paths(value, path=""):
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            if item is None and f"{key}_note" not in value:
                out.append(f"{path}.{key}")
            out += _null_paths(item, f"{path}.{key}")
        return out
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _null_paths(item, f"{path}[{i}]")]
    return []


def test_minibatch_json_nulls_carry_notes_and_large_problems_get_the_threshold(run, tmp_path):
    problem, decomposition, reference = setup(n=120, d=50, seed=4)
    path = tmp_path / "wide.npz"
    np.savez(path, A=problem.A, b=problem.b)
    report = run("analyze", path, "--loss", "mean", "--batch-size", "4", "--lr", "1e-3", "--json").json()
    block = report["minibatch"]
    assert not block["exact"] and block["directions"] == 50
    model = model_of(problem, decomposition, reference, 4, False)
    assert block["mean_square_threshold"] == pytest.approx(mean_square_threshold(model), rel=1e-8)  # dense check, 1275 x 1275
    assert block["lrs"][0]["floor_gap"] == pytest.approx(ExpectedLoss(model, 1e-3).floor_gap(), rel=1e-8)  # matrix-free floor
    small = run("analyze", tmp_path / "wide.npz", "--loss", "mean", "--batch-size", "120", "--lr", "10", "--json").json()
    for one in (block, small["minibatch"]):
        assert _null_paths(one) == []


def test_compare_sgd_auto_lr_minimises_the_exact_expected_loss_at_the_budget():
    from condiag.minibatch import best_lr

    problem, decomposition, reference = setup(n=200, d=3, seed=3)
    model = model_of(problem, decomposition, reference, 4, False)
    for budget in (100, 3000):
        lr, gap = best_lr(model, budget)
        for factor in (0.7, 1.4):
            assert ExpectedLoss(model, lr * factor).gap(budget) > gap
        result = condiag.compare(problem, solvers=["sgd"], max_iter=budget, params={"sgd": {"batch_size": 4.0}}).results[0]
        assert result.params["lr"] == pytest.approx(lr, rel=1e-12)
        assert result.status != "diverged" and result.final_loss < problem.value(np.zeros(3))
    assert best_lr(model, 3000)[0] < best_lr(model, 100)[0]  # a longer budget affords a lower noise floor
