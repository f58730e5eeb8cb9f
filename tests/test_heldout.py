"""compare --test: held-out scores of every answer and of the ridge, truncated-SVD and early-stopping paths,
against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

import condiag
from condiag.solvers import Settings


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    n, m, d = 80, 40, 12
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    scales = np.geomspace(1, 1e-5, d)
    A = rng.standard_normal((n, d)) @ np.diag(scales) @ V.T
    T = rng.standard_normal((m, d)) @ np.diag(scales) @ V.T
    w = rng.standard_normal(d)
    return A, A @ w + 0.01 * rng.standard_normal(n), T, T @ w + 0.01 * rng.standard_normal(m)


def comparison(A, b, T, t, loss="mean"):
    from condiag.heldout import held_out

    result = condiag.compare(A, b, solvers=["gd", "cg"], settings=Settings(max_iter=500), loss=loss)
    return result, held_out(result, T, t, "test")


def test_scores_and_paths_match_direct_computations(data):
    A, b, T, t = data
    result, h = comparison(A, b, T, t)
    n = A.shape[0]
    for r, score in zip(result.results, h.solvers):
        assert score.test_mae == pytest.approx(np.mean(np.abs(T @ r.x - t)), rel=1e-12)
        assert score.test_loss == pytest.approx(np.mean((T @ r.x - t) ** 2), rel=1e-12)
    ridge, tsvd, early = h.paths
    lam = ridge.by_gcv.parameter  # λ of the mean loss: (1/n)||Ax-b||² + λ||x||²
    x = np.linalg.solve(A.T @ A / n + lam * np.eye(A.shape[1]), A.T @ b / n)
    assert ridge.by_gcv.test_mae == pytest.approx(np.mean(np.abs(T @ x - t)), rel=1e-8)
    alpha = lam * n  # the unscaled form ||Ax-b||² + α||x||²
    H = A @ np.linalg.solve(A.T @ A + alpha * np.eye(A.shape[1]), A.T)
    gcv = n * np.sum((b - H @ b) ** 2) / np.trace(np.eye(n) - H) ** 2
    assert ridge.by_gcv.gcv == pytest.approx(gcv, rel=1e-6)
    assert all(p.gcv >= ridge.by_gcv.gcv for p in ridge.points)
    k = int(tsvd.by_test.parameter)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    x_k = Vt[:k].T @ ((U[:, :k].T @ b) / s[:k])
    assert tsvd.by_test.test_mae == pytest.approx(np.mean(np.abs(T @ x_k - t)), rel=1e-9)
    assert tsvd.by_test.test_mae == min(p.test_mae for p in tsvd.points)
    # early stopping: the closed-form iterate equals gradient descent run step by step
    lr = result.results[0].params["lr"]
    step = int(early.points[20].parameter)
    x = np.zeros(A.shape[1])
    for _ in range(step):
        x -= lr * 2 * A.T @ (A @ x - b) / n
    assert early.points[20].test_mae == pytest.approx(np.mean(np.abs(T @ x - t)), rel=1e-9)


def test_story_two_the_minimum_norm_answer_generalises_worst(run, samples):
    """The 600x600 kernel (story 2): x* fits the training data's noise along its flat directions (‖x*‖ ~ 1e9); the
    answers that damp them (CG stopped early, ridge by GCV, truncated SVD by GCV) have a test MAE several times
    smaller."""
    kernel = samples / "kernel_600.h5"
    report = run("compare", f"{kernel}:kernels/train_kernel", "--rhs", f"{kernel}:vectors/train_vector", "--test",
                 f"{kernel}:kernels/test_kernel", "--test-rhs", f"{kernel}:vectors/test_vector", "--loss", "mean",
                 "--solvers", "cg", "--max-iter", "3000", "--json").json()
    block = report["held_out"]
    reference = block["reference"]["test_mae"]
    ridge, tsvd = block["paths"][:2]
    assert block["reference"]["x_norm"] > 1e6
    assert max(block["solvers"][0]["test_mae"], ridge["by_gcv"]["test_mae"], tsvd["by_gcv"]["test_mae"]) < reference / 4


def test_cli_held_out_json_and_errors(run, tmp_path, data):
    A, b, T, t = data
    np.savez(tmp_path / "train.npz", A=A, b=b)
    np.savez(tmp_path / "test.npz", A=T, b=t)
    np.savez(tmp_path / "narrow.npz", A=T[:, :5], b=t)
    report = run("compare", tmp_path / "train.npz", "--test", tmp_path / "test.npz", "--loss", "mean", "--solvers", "gd,cg",
                 "--json").json()
    block = report["held_out"]
    assert block["n_test"] == 40 and [p["kind"] for p in block["paths"]][:2] == ["ridge", "truncated SVD"]
    x = np.array(report["solvers"][1]["x"])
    assert block["solvers"][1]["test_mae"] == pytest.approx(np.mean(np.abs(T @ x - t)), rel=1e-9)
    assert run("compare", tmp_path / "train.npz", "--test", tmp_path / "narrow.npz").code == 3
    np.save(tmp_path / "matrix_only.npy", T)
    assert run("compare", tmp_path / "train.npz", "--test", tmp_path / "matrix_only.npy").code == 3
