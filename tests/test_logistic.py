"""analyze --objective logistic: x* against statsmodels' Logit and scikit-learn's LogisticRegression on a dataset
scikit-learn ships, the loss against PyTorch's BCEWithLogitsLoss, the bounds against gradient descent itself, and
separable data."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import condiag
from condiag.logistic import LogisticModel, analyze_logistic

sklearn_datasets = pytest.importorskip("sklearn.datasets")
sm = pytest.importorskip("statsmodels.api")


@pytest.fixture(scope="module")
def cancer():
    X, y = sklearn_datasets.load_breast_cancer(return_X_y=True)
    return X, y.astype(float)


@pytest.mark.parametrize("columns", [4, 10])
def test_reference_equals_statsmodels_and_sklearn(cancer, columns):
    from sklearn.linear_model import LogisticRegression

    X, y = cancer
    X = X[:, :columns]  # all 30 columns are separable (tested below)
    analysis = analyze_logistic(condiag.as_problem(X, y, intercept=True))
    assert not analysis.separable and analysis.reference.converged
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logit = sm.Logit(y, np.column_stack([X, np.ones(len(y))])).fit(method="newton", tol=1e-15, maxiter=300, disp=0).params
    fitted = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-14, max_iter=1000).fit(X, y)
    x = analysis.reference.x
    for theirs in (logit, np.append(fitted.coef_[0], fitted.intercept_)):
        assert np.linalg.norm(x - theirs) <= 1e-10 * np.linalg.norm(theirs)
    assert analysis.reference.error_bound >= np.linalg.norm(x - logit)  # the stated bound holds


def test_ridge_matches_sklearn_l2(cancer):
    from sklearn.linear_model import LogisticRegression

    X, y = cancer
    X = X[:, :6] / X[:, :6].std(axis=0)
    C = 0.5  # sklearn: C Σ loss + ½||w||²  <=>  condiag: Σ loss + λ||w||² with λ = 1/(2C)
    analysis = analyze_logistic(condiag.as_problem(X, y, ridge=1 / (2 * C)))
    fitted = LogisticRegression(C=C, fit_intercept=False, solver="newton-cholesky", tol=1e-14, max_iter=1000).fit(X, y)
    assert np.linalg.norm(analysis.reference.x - fitted.coef_[0]) <= 1e-9 * np.linalg.norm(fitted.coef_[0])


def test_mean_loss_is_bce_with_logits(cancer):
    torch = pytest.importorskip("torch")
    X, y = cancer
    X = X[:, :5]
    model = LogisticModel.from_problem(condiag.as_problem(X, y, loss="mean"))
    x = np.random.default_rng(0).standard_normal(5) * 1e-2
    w = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(X) @ w, torch.tensor(y))
    loss.backward()
    assert model.value(x) == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(model.gradient(x), w.grad.numpy(), rtol=1e-10)


def test_bounds_hold_for_gradient_descent(cancer):
    X, y = cancer
    X = X[:, :3] / X[:, :3].std(axis=0)
    problem = condiag.as_problem(X, y, intercept=True)
    analysis = analyze_logistic(problem)
    model = LogisticModel.from_problem(problem)

    def run(lr, x, steps):
        values = []
        for _ in range(steps):
            x = x - lr * model.gradient(x)
            values.append(model.value(x))
        return x, np.array(values)

    far = np.full(4, 5.0)
    _, values = run(0.99 * analysis.safe_lr, far, 3000)  # safe from a start far away: the loss never rises
    assert np.all(np.diff(values) <= 1e-12 * np.abs(values[:-1]))
    x_star = analysis.reference.x
    near = x_star + 1e-6 * np.ones(4)
    end, _ = run(0.95 * analysis.local_lr, near, 20000)
    assert np.linalg.norm(end - x_star) < np.linalg.norm(near - x_star)
    end, _ = run(1.05 * analysis.local_lr, near, 2000)
    assert np.linalg.norm(end - x_star) > 10 * np.linalg.norm(near - x_star)


def test_separable_data_has_no_minimiser_and_ridge_restores_it(run, tmp_path, cancer):
    X, y = cancer
    analysis = analyze_logistic(condiag.as_problem(X, y, intercept=True))
    assert analysis.separable and analysis.reference.x is None
    assert analysis.findings[0].code == "CD180"
    rng = np.random.default_rng(0)
    overlap = rng.standard_normal((200, 2))
    labels = (overlap[:, 0] + 0.5 * rng.standard_normal(200) > 0).astype(float)
    assert not analyze_logistic(condiag.as_problem(overlap, labels)).separable
    assert analyze_logistic(condiag.as_problem(X, y, intercept=True, ridge=1.0)).reference.converged
    np.savez(tmp_path / "sep.npz", A=X, b=y)
    report = run("analyze", tmp_path / "sep.npz", "--objective", "logistic", "--intercept", "--json").json()
    assert report["logistic"]["separable"] is True and report["reference"]["x"] is None
    assert run("analyze", tmp_path / "sep.npz", "--objective", "logistic", "--intercept", "--fail-on", "error").code == 1


def test_bad_labels_and_conventions(run, tmp_path):
    np.savez(tmp_path / "bad.npz", A=np.eye(3), b=np.array([0.0, 1.0, 2.0]))
    result = run("analyze", tmp_path / "bad.npz", "--objective", "logistic")
    assert result.code == 3 and "labels" in result.err
    np.savez(tmp_path / "ok.npz", A=np.eye(3), b=np.array([0.0, 1.0, 1.0]))
    assert run("analyze", tmp_path / "ok.npz", "--objective", "logistic", "--loss", "half").code == 2


def test_solve_logistic_json_and_separable_refusal(run, tmp_path, cancer):
    X, y = cancer
    np.savez(tmp_path / "four.npz", A=X[:, :4], b=y)
    report = run("solve", tmp_path / "four.npz", "--objective", "logistic", "--intercept", "--json").json()  # the solve schema
    analysis = analyze_logistic(condiag.as_problem(X[:, :4], y, intercept=True))
    np.testing.assert_allclose(report["x"], analysis.reference.x, rtol=1e-12)
    assert report["accuracy"]["correct_digits"] > 5
    np.savez(tmp_path / "all.npz", A=X, b=y)
    refused = run("solve", tmp_path / "all.npz", "--objective", "logistic", "--intercept")
    assert refused.code == 3 and "separable" in refused.err


def test_python_api_equals_the_cli_json(run, tmp_path, cancer):
    X, y = cancer
    np.savez(tmp_path / "four.npz", A=X[:, :4], b=y)
    cli = run("analyze", tmp_path / "four.npz", "--objective", "logistic", "--intercept", "--lr", "1e-8", "--json").json()
    api = condiag.analyze(str(tmp_path / "four.npz"), objective="logistic", intercept=True, lrs=[1e-8]).to_dict()
    cli.pop("timing"), api.pop("timing")
    api["problem"]["source"] = cli["problem"]["source"]  # the command line names the file it was given
    assert api == cli


def test_compare_logistic_judges_against_the_exact_minimiser(run, tmp_path, cancer):
    """compare --objective logistic: every solver against Newton's x*, which statsmodels confirms; gradient descent at
    the globally safe lr 1/L(x0 = 0) converges; separable data has nothing to reach."""
    X, y = cancer
    X = (X[:, :4] - X[:, :4].mean(axis=0)) / X[:, :4].std(axis=0)
    np.savez(tmp_path / "four.npz", A=X, b=y)
    report = run("compare", tmp_path / "four.npz", "--objective", "logistic", "--intercept", "--loss", "mean",
                 "--solvers", "gd,momentum,newton,lbfgs", "--max-iter", "3000", "--json").json()
    assert report["problem"]["objective"] == "logistic" and "convex" in report["best"]["note"]
    fitted = sm.Logit(y, np.c_[X, np.ones(len(y))]).fit(disp=0, method="newton", tol=1e-14, maxiter=100)
    assert np.allclose(report["best"]["x"], fitted.params, rtol=1e-7, atol=1e-9)
    by = {s["name"]: s for s in report["solvers"]}
    assert by["newton"]["status"] == "reached" and by["lbfgs"]["status"] == "reached"
    for name in ("gd", "momentum"):  # at 1/λmax(H(0)) = 1/L, safe everywhere: never above the start, never below x*
        assert by[name]["status"] in ("reached", "not converged")
        assert 0 <= by[name]["gap_to_best"] and by[name]["value"] < report["settings"]["start_value"]
    L = np.linalg.eigvalsh(np.c_[X, np.ones(len(y))].T @ np.c_[X, np.ones(len(y))] / len(y))[-1] / 4
    assert by["gd"]["step_size"] == pytest.approx(1 / L, rel=1e-9)
    separable = np.c_[X[:, :2], X[:, :2] @ [1, 1]]
    labels = (separable[:, 0] > 0).astype(float)
    np.savez(tmp_path / "sep.npz", A=separable, b=labels)
    sep = run("compare", tmp_path / "sep.npz", "--objective", "logistic", "--solvers", "gd,lbfgs", "--max-iter", "200",
              "--json").json()
    assert sep["best"] is None and "separable" in sep["best_note"]
    assert all(s["status"] != "reached" for s in sep["solvers"])
    assert run("compare", tmp_path / "four.npz", "--objective", "logistic", "--libraries").code == 2
