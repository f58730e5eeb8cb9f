"""Loss, gradient and Hessian-vector product against finite differences and each other."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from condiag.problem import LOSS_CONVENTIONS, Problem, loss_scale

RNG = np.random.default_rng(11)
A = RNG.normal(size=(12, 4))
B = RNG.normal(size=12)


def _problems():
    for sparse in (False, True):
        matrix = sp.csr_matrix(A) if sparse else A
        for loss in LOSS_CONVENTIONS:
            for ridge in (0.0, 0.3):
                yield Problem.create(matrix, B, loss=loss, ridge=ridge), f"{'sparse' if sparse else 'dense'}-{loss}-{ridge}"
    Q = A.T @ A + np.eye(4)
    yield Problem.create(Q, B[:4], objective="quadratic"), "quadratic"
    yield Problem.create(sp.csr_matrix(Q), B[:4], objective="quadratic", ridge=0.2), "quadratic-sparse-ridge"


PROBLEMS = list(_problems())


@pytest.mark.parametrize("problem", [p for p, _ in PROBLEMS], ids=[i for _, i in PROBLEMS])
def test_gradient_matches_central_differences(problem):
    x = RNG.normal(size=problem.n_cols)
    h = 1e-6
    numeric = np.array([(problem.value(x + h * e) - problem.value(x - h * e)) / (2 * h) for e in np.eye(problem.n_cols)])
    np.testing.assert_allclose(problem.gradient(x), numeric, rtol=1e-6, atol=1e-6)
    f, g = problem.value_and_gradient(x)
    assert f == pytest.approx(problem.value(x), rel=1e-14)
    np.testing.assert_allclose(g, problem.gradient(x), rtol=1e-14)


@pytest.mark.parametrize("problem", [p for p, _ in PROBLEMS], ids=[i for _, i in PROBLEMS])
def test_hessian_vector_matches_gradient_differences(problem):
    x = RNG.normal(size=problem.n_cols)
    v = RNG.normal(size=problem.n_cols)
    h = 1e-5
    numeric = (problem.gradient(x + h * v) - problem.gradient(x - h * v)) / (2 * h)
    np.testing.assert_allclose(problem.hessian_vector(v), numeric, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("loss", LOSS_CONVENTIONS)
def test_loss_conventions_values(loss):
    p = Problem.create(A, B, loss=loss)
    r = A @ np.ones(4) - B
    expected = {"sum": r @ r, "mean": r @ r / 12, "half": 0.5 * r @ r, "half-mean": r @ r / 24}[loss]
    assert p.value(np.ones(4)) == pytest.approx(expected, rel=1e-14)
    assert p.hessian_scale == pytest.approx(2 * loss_scale(loss, 12))


def test_dense_and_sparse_agree():
    dense = Problem.create(A, B, loss="mean", ridge=0.1)
    sparse = Problem.create(sp.csr_matrix(A), B, loss="mean", ridge=0.1)
    x = RNG.normal(size=4)
    assert dense.value(x) == pytest.approx(sparse.value(x), rel=1e-13)
    np.testing.assert_allclose(dense.gradient(x), sparse.gradient(x), rtol=1e-12)
    np.testing.assert_allclose(dense.hessian_vector(x), sparse.hessian_vector(x), rtol=1e-12)


@pytest.mark.parametrize("kind", ["indefinite", "singular", "kernel"])
def test_a_symmetric_matrix_is_decomposed_by_its_eigendecomposition_as_exactly_as_by_the_svd(kind):
    """Square, exactly symmetric A takes the symmetric eigensolver: the same singular values as numpy's SVD (to
    eps·σmax), a factorisation U S Vᵀ that reproduces A, and the same x* coefficients and residual outside range(A)."""
    from condiag.spectrum import decompose

    rng = np.random.default_rng(7)
    d = 60
    if kind == "kernel":
        points = rng.standard_normal((d, 3))
        A = np.exp(-0.5 * np.sum((points[:, None] - points[None]) ** 2, axis=-1))
    else:
        W = np.linalg.qr(rng.standard_normal((d, d)))[0]
        spectrum = rng.uniform(-3, 3, d)
        if kind == "singular":
            spectrum[:10] = 0.0
        A = W @ np.diag(spectrum) @ W.T
        A = (A + A.T) / 2  # exactly symmetric
    assert np.array_equal(A, A.T)
    b = rng.standard_normal(d)
    dec = decompose(Problem.create(A, b))
    s = np.linalg.svd(A, compute_uv=False)
    eps = np.finfo(float).eps
    assert np.max(np.abs(dec.singular_values - s)) <= 50 * d * eps * s[0]
    # A V = U S with V orthogonal: the columns of A V have the singular values as norms
    assert np.linalg.norm(dec.V.T @ dec.V - np.eye(d)) <= 1e-12
    assert np.max(np.abs(np.linalg.norm(A @ dec.V, axis=0) - dec.singular_values)) <= 1e-12 * s[0]
    # x*'s coefficients: U.T b, checked through the least-squares solution they give
    kept = dec.singular_values > dec.rank_tol
    x = dec.V[:, kept] @ (dec.b_coefficients[kept] / dec.singular_values[kept])
    x_ref = np.linalg.lstsq(A, b, rcond=dec.rank_tol / s[0])[0]
    assert np.linalg.norm(x - x_ref) <= 1e-9 * np.linalg.norm(x_ref)
    assert dec.rank == int(np.count_nonzero(s > dec.rank_tol))
    # U is square and orthogonal: b lies wholly in its span, as with the SVD's full U
    assert dec.b_outside_norm <= 1e-12 * np.linalg.norm(b)
    assert np.linalg.norm(dec.b_coefficients) == pytest.approx(np.linalg.norm(b), rel=1e-13)


def test_row_block_qr_in_place_and_through_numpy_agree():
    """The row-block QR's two factorisations (scipy's dgeqrf in place, numpy's QR of a copy) give the R of the
    whole [A 1 b] (RᵀR = [A 1 b]ᵀ[A 1 b]) over several blocks, a short last block included."""
    from condiag.spectrum import RowBlockQR

    rng = np.random.default_rng(5)
    A, b = rng.standard_normal((1_003, 6)), rng.standard_normal(1_003)
    full = np.column_stack([A, np.ones(len(b)), b])
    factors = []
    for in_place in (True, False):
        qr = RowBlockQR(8, 100, in_place=in_place)
        for start in range(0, len(b), 100):
            qr.add(A[start:start + 100], b[start:start + 100], intercept=True)
        assert np.allclose(qr.R.T @ qr.R, full.T @ full, rtol=0, atol=1e-10 * np.abs(full.T @ full).max())
        assert np.array_equal(qr.R, np.triu(qr.R))
        factors.append(np.abs(qr.R))
    assert np.allclose(factors[0], factors[1], rtol=1e-12, atol=1e-12)


def test_the_part_of_b_outside_the_range_is_accurate_when_it_is_tiny():
    """n = 50 rows, d = 40 columns (the plain SVD path): b = A x + w with w ⊥ range(A), ||w|| = 1e-10 ||A x||.
    ||b - U Uᵀb|| is formed from the difference (sqrt(bᵀb - ||Uᵀb||²) would be off by sqrt(eps)·||b|| ≈ 1e-8)."""
    from condiag.spectrum import decompose

    rng = np.random.default_rng(4)
    A = rng.standard_normal((50, 40))
    Q, _ = np.linalg.qr(np.column_stack([A, rng.standard_normal(50)]))
    inside = A @ rng.standard_normal(40)
    w = Q[:, -1] * 1e-10 * np.linalg.norm(inside)
    dec = decompose(Problem.create(A, inside + w))
    assert not dec.reduced_by_qr
    assert dec.b_outside_norm == pytest.approx(np.linalg.norm(w), rel=1e-4)
