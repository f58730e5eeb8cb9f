"""What the libraries people compare against compute, each with its own conventions, in condiag's terms.

"My weights differ from scikit-learn's" has a precise answer: each estimator solves a slightly different problem.

* ``sklearn.linear_model.LinearRegression(fit_intercept=True)`` centres X and y, then calls
  ``scipy.linalg.lstsq(X_c, y_c, cond=tol)`` with ``tol=1e-6``: the minimum-norm solution with every singular
  value below 1e-6·σmax of the centred X dropped (scikit-learn 1.9 and later, its ``tol`` documentation; before
  1.9 the cut-off was machine precision), the intercept ȳ - x̄ᵀw unpenalised. On an ill-conditioned matrix that is
  truncated SVD, not x*.
* ``sklearn.linear_model.Ridge(alpha)``: min ||y - Xw - w₀||² + alpha ||w||² on the centred data (sum convention,
  intercept not penalised): condiag's ``--loss sum --ridge alpha`` with the intercept left out of the penalty.
* ``statsmodels.api.OLS(y, X).fit()``: the pseudo-inverse of X itself (``method='pinv'``, singular values below
  1e-15·σmax dropped); an intercept only if X has a constant column.
* ``OLS(y, X).fit_regularized(alpha=a, L1_wt=0)``: min ½ RSS/n + (a/2) ||w||², every column penalised (a constant
  one too): condiag's ``--loss half-mean --ridge a/2``; the normal equations (XᵀX + n a I) w = Xᵀy.

Each is computed here from the same data (an appended ``--intercept`` column is the library's intercept) and
reported beside x*: its coefficients, the training loss under the user's convention, the distance from x*, and,
with test data, its held-out error. The tests compare every one with the library itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SKLEARN_LSTSQ_COND = 1e-6
"""scikit-learn 1.9 LinearRegression's default ``tol``, passed to scipy.linalg.lstsq as ``cond``."""
STATSMODELS_PINV_RCOND = 1e-15
"""statsmodels' pinv cut-off, relative to σmax."""


@dataclass(frozen=True)
class LibraryEstimate:
    name: str
    """'sklearn LinearRegression', 'sklearn Ridge', 'statsmodels OLS', 'statsmodels fit_regularized'."""
    convention: str
    """What it solves, in condiag's words."""
    x: np.ndarray
    """Its coefficients in condiag's column order (an intercept last, as --intercept appends it)."""
    rank: int | None
    """Singular values it kept (the least-squares ones)."""
    train_loss: float
    """f(x) under the user's convention."""
    x_rel_error: float
    """||x - x*|| / ||x*||."""


def _min_norm(X, y, cutoff: float):
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    keep = s >= cutoff * s[0] if s.size and s[0] > 0 else np.zeros(s.size, dtype=bool)
    return Vt[keep].T @ ((U[:, keep].T @ y) / s[keep]), int(keep.sum())


def library_estimates(problem, x_star, alpha: float | None = None) -> tuple[LibraryEstimate, ...]:
    """The estimators of the module docstring on ``problem``'s data (dense least squares)."""
    A = problem.dense_matrix()
    y = problem.b
    intercept = problem.intercept
    X = A[:, :-1] if intercept else A
    n = A.shape[0]
    out = []

    def add(name, convention, x, rank):
        x = np.asarray(x, dtype=float)
        norm = float(np.linalg.norm(x_star))
        out.append(LibraryEstimate(name, convention, x, rank, float(problem.value(x)),
                                   float(np.linalg.norm(x - x_star) / norm) if norm > 0 else float(np.linalg.norm(x))))

    if intercept:
        x_mean, y_mean = X.mean(axis=0), y.mean()
        Xc, yc = X - x_mean, y - y_mean
    else:
        Xc, yc = X, y
    w, rank = _min_norm(Xc, yc, SKLEARN_LSTSQ_COND)
    add("sklearn LinearRegression", f"minimum norm on {'centred ' if intercept else ''}data, singular values below "
        f"{SKLEARN_LSTSQ_COND:g}·σmax dropped", np.append(w, y_mean - x_mean @ w) if intercept else w, rank)
    w, rank = _min_norm(A, y, STATSMODELS_PINV_RCOND)
    add("statsmodels OLS", f"pinv of X (singular values below {STATSMODELS_PINV_RCOND:g}·σmax dropped)", w, rank)
    if alpha is not None:
        d = Xc.shape[1]
        w = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(d), Xc.T @ yc)
        add(f"sklearn Ridge(alpha={alpha:g})", f"--loss sum --ridge {alpha:g}, intercept not penalised",
            np.append(w, y_mean - x_mean @ w) if intercept else w, None)
        w = np.linalg.solve(A.T @ A + n * alpha * np.eye(A.shape[1]), A.T @ y)
        add(f"statsmodels fit_regularized(alpha={alpha:g}, L1_wt=0)", f"--loss half-mean --ridge {alpha / 2:g}, every column "
            "penalised", w, None)
    return tuple(out)
