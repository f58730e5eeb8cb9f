"""The iterative path: reference matrices (SuiteSparse/Harwell-Boeing) against their dense-SVD properties."""

from __future__ import annotations

import re

import numpy as np
import pytest

from condiag.analysis import analyze
from condiag.comparison import compare
from condiag.io import load_problem
from condiag.iterative import choose_method, extreme_pair
from condiag.problem import Problem
from condiag.solvers import Settings


def _properties(data_dir):
    table = {}
    for line in (data_dir / "matrices" / "PROPERTIES.md").read_text().splitlines():
        match = re.match(r"\| (\S+\.mtx) \|.*\| ([0-9.e+-]+) \| ([0-9.e+-]+) \| ([0-9.e+-]+) \| (\d+) \|$", line.strip())
        if match:
            table[match.group(1)] = tuple(float(match.group(i)) for i in (2, 3, 4))
    return table


MATRICES = ["illc1033.mtx", "well1033.mtx", "illc1850.mtx", "well1850.mtx", "west0067.mtx", "west0479.mtx",
            "impcol_a.mtx", "494_bus.mtx", "1138_bus.mtx", "bcsstk13.mtx", "lund_a.mtx"]


PRINTED = 1e-6  # PROPERTIES.md gives 7 significant digits: 5e-7 relative rounding, and a little room


@pytest.mark.long
@pytest.mark.parametrize("name", MATRICES)
def test_iterative_extremes_within_stated_accuracy(data_dir, name):
    """sigma_max to 1e-6 (Lanczos), sigma_min and cond within the accuracy the report states (README)."""
    sigma_max, sigma_min, cond = _properties(data_dir)[name]
    problem = load_problem(str(data_dir / "matrices" / name))
    a = analyze(problem, method="iterative")
    pair = extreme_pair(problem)
    stated = max(pair.relative_accuracy, PRINTED)
    assert not a.spectrum.exact
    assert a.spectrum.sigma_max == pytest.approx(sigma_max, rel=PRINTED)
    assert a.spectrum.sigma_min == pytest.approx(sigma_min, rel=stated)
    assert a.spectrum.condition_number == pytest.approx(cond, rel=stated + PRINTED)
    assert 0 < pair.relative_accuracy < 0.01  # and the factorisation delivers a useful answer on every one


def test_iterative_agrees_with_exact_on_a_dense_problem(samples):
    p = load_problem(str(samples / "badly_scaled.npz"))
    exact, iterative = analyze(p, [1e-12]), analyze(p, [1e-12], method="iterative")
    assert iterative.spectrum.condition_number == pytest.approx(exact.spectrum.condition_number, rel=1e-6)
    assert iterative.bounds.divergence_threshold == pytest.approx(exact.bounds.divergence_threshold, rel=1e-8)
    assert iterative.causes.scaling.cond_equilibrated == pytest.approx(exact.causes.scaling.cond_equilibrated, rel=1e-6)
    assert iterative.checks[0].predicted_loss is None and "iterative" in iterative.checks[0].reason
    np.testing.assert_allclose(iterative.reference.x, exact.reference.x, rtol=1e-10)


def test_iterative_quadratic(samples):
    p = load_problem(str(samples / "quadratic_2d.npz"), objective="quadratic")
    a = analyze(p, method="iterative")
    assert a.spectrum.hessian_condition_number == pytest.approx(2.0, rel=1e-8)


def test_auto_method_choice(data_dir, samples):
    assert choose_method(load_problem(str(samples / "valley_2x2.npz")), "auto") == "exact"
    assert choose_method(load_problem(str(data_dir / "matrices" / "bcsstk13.mtx")), "auto") == "iterative"
    assert choose_method(load_problem(str(data_dir / "matrices" / "west0479.mtx")), "auto") == "exact"


def test_compare_on_sparse_uses_sparse_products(data_dir):
    p = load_problem(str(data_dir / "matrices" / "well1033.mtx"), str(data_dir / "matrices" / "well1033_rhs1.mtx"))
    result = compare(p, ["gd", "cg", "lsqr", "lbfgs"], Settings(max_iter=3000), method="iterative")
    statuses = {r.solver: r.status for r in result.results}
    assert statuses["cg"] == "converged" and statuses["lsqr"] == "converged"
    assert all(not r.exact for r in result.results)
    assert p.sparse


def test_cli_method_iterative_json(run, data_dir):
    report = run("analyze", data_dir / "matrices" / "illc1033.mtx", "--rhs", data_dir / "matrices" / "illc1033_rhs1.mtx",
                 "--method", "iterative", "--lr", "0.1", "--json").json()
    assert report["spectrum"]["exact"] is False and "SuperLU" in report["spectrum"]["method"]
    assert report["lr_checks"][0]["predicted_loss"] is None and report["lr_checks"][0]["steps_to_tol"] > 0


def test_rank_deficient_sparse_is_flagged():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 4))
    A = sp.csr_matrix(np.column_stack([base, base[:, 0]]))
    a = analyze(Problem.create(A, rng.normal(size=50)), method="iterative")
    assert a.spectrum.null_dim == 1 and a.spectrum.rank == 4


def test_zero_column_is_rank_deficient_on_the_iterative_path():
    """A sparse A with an all-zero column has sigma_min = 0 exactly (it was once reported as full rank, cond 2.9e10)."""
    import scipy.sparse as sp

    A = sp.random(600, 200, density=0.02, random_state=1, format="lil")
    A[:, 5] = 0
    A = A.tocsr()
    A.eliminate_zeros()
    a = analyze(Problem.create(A, np.random.default_rng(0).normal(size=600)), method="iterative")
    assert a.spectrum.sigma_min == 0.0 and a.spectrum.null_dim == 1 and a.spectrum.rank == 199
    assert abs(a.spectrum.flattest.vector[5]) == pytest.approx(1.0)


@pytest.mark.parametrize("ridge", [0.0, 0.3])
def test_lsqr_reference_is_column_scaled_and_states_its_accuracy(monkeypatch, ridge):
    """Where A is too large for the dense solver the reference is LSQR: on columns scaled over 1e5 it reaches
    x* (numpy's lstsq) within its stated forward-error bound; with no time left it stops at once and the
    bound it states still covers the error it has."""
    import scipy.sparse as sp

    import condiag.iterative as iterative

    rng = np.random.default_rng(11)
    dense = rng.normal(size=(400, 60)) * (rng.random((400, 60)) < 0.2) * np.logspace(0, 5, 60)
    A = sp.csr_matrix(dense)
    b = rng.normal(size=400)
    problem = Problem.create(A, b, ridge=ridge)
    monkeypatch.setattr(iterative, "DENSE_EXACT_MAX_COLUMNS", 0)
    stacked = np.vstack([dense, np.sqrt(ridge) * np.eye(60)]) if ridge else dense
    exact = np.linalg.lstsq(stacked, np.concatenate([b, np.zeros(60)]) if ridge else b, rcond=None)[0]
    analysis = analyze(problem, [], method="iterative")
    reference = analysis.reference
    assert "LSQR on the column-scaled" in reference.method
    error = np.linalg.norm(reference.x - exact) / np.linalg.norm(exact)
    assert error <= max(reference.accuracy["forward_error_bound"], 1e-15)
    assert error < 1e-8  # the scaling makes it converge: cond(A) ~ 1e5, cond(A D⁻¹) ~ 10
    assert reference.accuracy["correct_digits"] >= 6  # and the a-posteriori bound, in extended precision, says so
    monkeypatch.setattr(iterative, "REFERENCE_TIME_BUDGET", 0.0)
    hurried = analyze(problem, [], method="iterative").reference
    assert "time budget" in hurried.method
    error = np.linalg.norm(hurried.x - exact) / np.linalg.norm(exact)
    assert error <= hurried.accuracy["forward_error_bound"] * (1 + 1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_sparse_factors_stay_within_the_checked_envelope(seed):
    """The memory check before a sparse LU is a bound, not a guess: with the RCM column order and no further
    reordering the factors never exceed twice the envelope (square A with partial pivoting, and AᵀA)."""
    import scipy.sparse as sp

    from condiag.iterative import envelope_size, factor_within_memory

    rng = np.random.default_rng(seed)
    A = sp.random(300, 300, density=0.01, random_state=seed, format="csr") + sp.identity(300) * 0.1
    gram = (A.T @ A).tocsr()
    pattern = abs(A.T) @ abs(A)
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    for M, pat in ((sp.csc_matrix(A), pattern), (gram, None)):
        lu, order = factor_within_memory(M, pattern=pat)
        base = sp.csr_matrix(M if pat is None else pat)
        rcm = reverse_cuthill_mckee(base, symmetric_mode=True)
        assert lu.L.nnz + lu.U.nnz <= 2 * envelope_size(base[rcm][:, rcm])
        v = rng.normal(size=300)
        # the permuted factors still solve with M: M⁻¹ v = P (M P)⁻¹ v for columns, P (PᵀMP)⁻¹ Pᵀ v when symmetric
        out = np.empty(300)
        out[order] = lu.solve(v[order] if pat is None else v)
        assert np.linalg.norm(M @ out - v) <= 1e-12 * sp.linalg.norm(M) * np.linalg.norm(out)  # backward stable


def test_sigma_min_falls_back_when_the_factors_may_not_fit(monkeypatch):
    """When the factor bound exceeds the memory allowed, no LU is attempted: LOBPCG gives σmin with its
    achieved accuracy, and the method says why."""
    import scipy.sparse as sp

    import condiag.iterative as iterative

    rng = np.random.default_rng(4)
    A = sp.random(500, 80, density=0.05, random_state=4, format="csr") + sp.vstack([sp.identity(80), sp.csr_matrix((420, 80))])
    expected = np.linalg.svd(A.toarray(), compute_uv=False)[-1]
    monkeypatch.setattr(iterative, "FACTOR_MEMORY_FRACTION", 0.0)
    pair = extreme_pair(Problem.create(A, rng.normal(size=500)))
    assert "not attempted" in pair.method and "LOBPCG" in pair.method
    assert pair.sigma_min == pytest.approx(expected, rel=max(pair.relative_accuracy, 1e-8) * 10)


@pytest.mark.parametrize("shape", [(400, 400), (900, 300), (200, 500)])
def test_scaled_condition_reuses_the_factors(shape):
    """cond(A D⁻¹) from the unscaled pair's factors (D (AᵀA)⁻¹ D) equals a fresh computation on the scaled
    matrix (and the dense SVD) within the stated accuracy; a wide A computes it afresh."""
    import scipy.sparse as sp

    from condiag.iterative import scaled_extremes

    rng = np.random.default_rng(8)
    n, d = shape
    A = (sp.random(n, d, density=0.05, random_state=8, format="csr") + sp.eye(n, d, format="csr")) @ sp.diags(np.logspace(0, 3, d))
    problem = Problem.create(A.tocsr(), rng.normal(size=n))
    pair = extreme_pair(problem)
    norms = np.sqrt(np.asarray(A.multiply(A).sum(axis=0)).ravel())
    reused = scaled_extremes(problem, pair, norms)
    fresh = scaled_extremes(problem, None, norms)
    exact = np.linalg.svd(A.toarray() / norms, compute_uv=False)
    assert (pair.inverse_gram is None) == (n < d)
    for got in (reused, fresh):
        assert got[0] == pytest.approx(exact[0], rel=1e-8)
        assert got[1] == pytest.approx(exact[min(n, d) - 1], rel=1e-6)
