"""Held-out error: each solver's answer, x*, and the regularised answers, scored on test data.

"My weights differ from the analytical ones and generalise better" is a statement about held-out error, not
about distance in x. On an ill-conditioned problem the minimum-norm x* fits the training data's noise along its
flattest directions; truncating them (truncated SVD) or damping them (ridge) trades training loss for test
error, and so does stopping gradient descent early (its step t damps direction i by 1 - (1 - lr λ_i)^t).

With A = U S Vᵀ (thin SVD of the training matrix, intercept column included) and the user's convention
f(x) = c ||Ax - b||² + λ ||x||² (the paths start from the unregularised data; ``--ridge`` is not added to them):

* ridge: x_λ = V diag(c s_i / (c s_i² + λ)) Uᵀ b;
* truncated SVD: x_k = Σ_{i<=k} (u_iᵀ b / s_i) v_i;
* generalised cross-validation (Golub, Heath & Wahba, Technometrics 21(2), 1979) picks the parameter from the
  training data alone: GCV = n ||b - A x||² / (n - df)², df = Σ s_i²/(s_i² + λ/c) (ridge) or k (TSVD);
* early-stopped gradient descent at lr from x0: x_t = x* + V diag((1 - lr λ_i)^t) Vᵀ (x0 - x*), in closed form.

Scores: the test loss under the same convention (c taken for the test set's size), and the mean absolute error
mean |A_test x - b_test| (the yardstick of story 2). The parameter with the best test score is also shown, marked
as chosen on the test set (an oracle, not a method).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .problem import loss_scale

RIDGE_GRID = 121
"""Ridge parameters tried, log-spaced over σmax²·[1e-16, 1e2] (in the unscaled form)."""


@dataclass(frozen=True)
class Score:
    label: str
    test_loss: float
    test_mae: float
    train_loss: float
    x_norm: float


@dataclass(frozen=True)
class PathPoint:
    parameter: float
    """λ in the user's convention (ridge), k (truncated SVD) or the step t (early-stopped GD)."""
    gcv: float | None
    test_loss: float
    test_mae: float


@dataclass(frozen=True)
class RegularisationPath:
    kind: str
    """'ridge', 'truncated SVD' or 'early-stopped gd'."""
    points: tuple[PathPoint, ...]
    by_gcv: PathPoint | None
    """The point generalised cross-validation picks (from the training data alone)."""
    by_test: PathPoint
    """The point with the smallest test MAE (chosen on the test set itself: an oracle)."""


@dataclass(frozen=True)
class HeldOut:
    source: str
    n_test: int
    reference: Score
    solvers: tuple[Score | None, ...]
    """One per compared solver (None where it has no answer)."""
    paths: tuple[RegularisationPath, ...]
    libraries: tuple[Score, ...] = ()
    """One per library estimate of the comparison (:mod:`condiag.conventions`)."""


def _test_errors(x, test_A, test_b, test_scale) -> tuple[float, float]:
    """(the data loss on the test set under the convention, the mean absolute error); no penalty term."""
    r = test_A @ x - test_b
    return float(test_scale * (r @ r)), float(np.mean(np.abs(r)))


def _score(label, x, train, test_A, test_b, test_scale) -> Score:
    return Score(label, *_test_errors(x, test_A, test_b, test_scale), float(train.value(x)), float(np.linalg.norm(x)))


def _path_point(parameter, gcv, x, test_A, test_b, test_scale) -> PathPoint:
    return PathPoint(float(parameter), gcv, *_test_errors(x, test_A, test_b, test_scale))


def _pick(points, by_gcv: bool):
    if by_gcv:
        scored = [p for p in points if p.gcv is not None and np.isfinite(p.gcv)]
        return min(scored, key=lambda p: p.gcv) if scored else None
    return min(points, key=lambda p: p.test_mae)


def held_out(comparison, test_A, test_b, source: str) -> HeldOut:
    """Score the comparison's answers, x* and the regularisation paths on (test_A, test_b) (module docstring)."""
    problem = comparison.problem
    A = problem.dense_matrix()
    b = problem.b
    n = A.shape[0]
    c = problem.data_scale
    test_scale = loss_scale(problem.loss, test_A.shape[0])
    reference = _score("x*", comparison.reference.x, problem, test_A, test_b, test_scale)
    solvers = tuple(None if r.x is None else _score(r.label, np.asarray(r.x, dtype=float), problem, test_A, test_b, test_scale)
                    for r in comparison.results)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    keep = s > s[0] * max(A.shape) * np.finfo(float).eps if s.size else s > 0
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    beta = U.T @ b
    outside = float(b @ b - beta @ beta)
    paths = []
    # ridge along its path (λ in the user's convention: the unscaled α = λ/c)
    points = []
    for alpha in np.geomspace(s[0] ** 2 * 1e-16, s[0] ** 2 * 1e2, RIDGE_GRID) if s.size else ():
        filt = s * s / (s * s + alpha)
        x = Vt.T @ (filt * beta / s)
        residual = float(np.sum(((1 - filt) * beta) ** 2)) + max(outside, 0.0)
        df = float(np.sum(filt))
        gcv = n * residual / (n - df) ** 2 if n > df else None
        points.append(_path_point(alpha * c, gcv, x, test_A, test_b, test_scale))
    if points:
        paths.append(RegularisationPath("ridge", tuple(points), _pick(points, True), _pick(points, False)))
    # truncated SVD
    points = []
    coefficients = beta / s
    for k in range(1, s.size + 1):
        x = Vt[:k].T @ coefficients[:k]
        residual = float(np.sum(beta[k:] ** 2)) + max(outside, 0.0)
        gcv = n * residual / (n - k) ** 2 if n > k else None
        points.append(_path_point(k, gcv, x, test_A, test_b, test_scale))
    if points:
        paths.append(RegularisationPath("truncated SVD", tuple(points), _pick(points, True), _pick(points, False)))
    # early-stopped gradient descent, from the closed form of each exact gd run
    for result in comparison.results:
        if result.solver != "gd" or not result.exact or result.status == "skipped":
            continue
        path = _early_stopping(comparison, float(result.params["lr"]), test_A, test_b, test_scale, result.iterations)
        if path:
            paths.append(RegularisationPath(f"early-stopped {result.label}", path, None, _pick(path, False)))
    libraries = tuple(_score(e.name, e.x, problem, test_A, test_b, test_scale) for e in getattr(comparison, "libraries", ()))
    return HeldOut(source, int(test_A.shape[0]), reference, solvers, tuple(paths), libraries)


def _early_stopping(comparison, lr, test_A, test_b, test_scale, last: int):
    """Test scores of GD's iterate at checkpoints up to ``last``: x_t = x* + V diag((1 - lr λ)^t) Vᵀ (x0 - x*)."""
    from .spectrum import decompose, learned_eigenvalues
    from .trajectories import checkpoints

    problem = comparison.problem
    decomposition = decompose(problem)
    lam = learned_eigenvalues(problem, decomposition)
    V = decomposition.V
    e0 = V.T @ (comparison.x0 - comparison.reference.x)
    log_factor = np.log(np.abs(1 - lr * lam) + 0.0)
    sign = np.sign(1 - lr * lam)
    points = []
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        for t in [int(k) for k in checkpoints(max(last, 1))] + [max(last, 1)]:
            factor = np.where(lam > 0, sign ** t * np.exp(t * log_factor), 1.0)
            x = comparison.reference.x + V @ (factor * e0)
            if not np.all(np.isfinite(x)):
                break
            points.append(_path_point(t, None, x, test_A, test_b, test_scale))
    return tuple(points)
