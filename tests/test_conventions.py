"""compare --libraries: condiag's account of what scikit-learn and statsmodels compute equals what they compute."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import condiag
from condiag.conventions import library_estimates

sklearn = pytest.importorskip("sklearn")
sm = pytest.importorskip("statsmodels.api")


def estimates(problem, alpha=None):
    return {e.name.split("(")[0]: e for e in library_estimates(problem, condiag.solve(problem).x, alpha)}


@pytest.mark.parametrize("intercept", [True, False])
def test_each_estimator_equals_the_library(intercept):
    from sklearn.linear_model import LinearRegression, Ridge

    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 4)) * [1, 10, 0.1, 3]
    y = X @ [1, 2, 3, 4] + rng.standard_normal(50)
    problem = condiag.as_problem(X, y, intercept=intercept)
    ours = estimates(problem, alpha=0.7)
    design = np.column_stack([X, np.ones(50)]) if intercept else X

    def theirs(model):
        return np.append(model.coef_, model.intercept_) if intercept else model.coef_

    np.testing.assert_allclose(ours["sklearn LinearRegression"].x, theirs(LinearRegression(fit_intercept=intercept).fit(X, y)), rtol=1e-10)
    np.testing.assert_allclose(ours["sklearn Ridge"].x, theirs(Ridge(alpha=0.7, fit_intercept=intercept).fit(X, y)), rtol=1e-10)
    np.testing.assert_allclose(ours["statsmodels OLS"].x, sm.OLS(y, design).fit().params, rtol=1e-10)
    np.testing.assert_allclose(ours["statsmodels fit_regularized"].x, sm.OLS(y, design).fit_regularized(alpha=0.7, L1_wt=0).params,
                               rtol=1e-10)
    # the conventions as stated: Ridge(alpha) is condiag's sum loss with ridge alpha when nothing else is penalised
    if not intercept:
        np.testing.assert_allclose(ours["sklearn Ridge"].x, condiag.solve(X, y, ridge=0.7).x, rtol=1e-9)
        np.testing.assert_allclose(ours["statsmodels fit_regularized"].x, condiag.solve(X, y, ridge=0.35, loss="half-mean").x, rtol=1e-9)


def test_on_the_singular_kernel_the_cutoffs_decide(samples):
    from sklearn.linear_model import LinearRegression

    kernel = samples / "kernel_600.h5"
    problem = condiag.load_problem(f"{kernel}:kernels/train_kernel", f"{kernel}:vectors/train_vector")
    ours = estimates(problem)
    fitted = LinearRegression(fit_intercept=False).fit(problem.A, problem.b)
    sk = ours["sklearn LinearRegression"]
    assert sk.rank == fitted.rank_ < problem.n_cols  # the 1e-6 cut-off drops most directions
    np.testing.assert_allclose(sk.x, fitted.coef_, rtol=1e-8, atol=1e-8 * np.abs(fitted.coef_).max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ols = sm.OLS(problem.b, problem.A).fit().params
    st = ours["statsmodels OLS"]
    assert np.linalg.norm(st.x - ols) <= 1e-8 * np.linalg.norm(ols)
    assert sk.x_rel_error > 0.5 and st.x_rel_error > 1  # both far from the minimum-norm x*, for different reasons


def test_cli_libraries_and_alpha(run, samples):
    report = run("compare", samples / "well_conditioned.npz", "--solvers", "cg", "--libraries", "--alpha", "0.1", "--json").json()
    assert [e["name"].split("(")[0] for e in report["libraries"]] == ["sklearn LinearRegression", "statsmodels OLS", "sklearn Ridge",
                                                                      "statsmodels fit_regularized"]
    assert run("compare", samples / "well_conditioned.npz", "--solvers", "cg", "--alpha", "0.1").code == 2
