"""Streaming a tall matrix larger than --memory-limit: exact equivalence and a bounded peak memory."""

from __future__ import annotations

import tracemalloc

import h5py
import numpy as np
import pytest

from condiag.analysis import analyze
from condiag.comparison import compare
from condiag.io import load_problem
from condiag.solvers import Settings
from condiag.streaming import load_streamed

LIMIT = 4 * 2**20


@pytest.fixture(scope="module")
def tall(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tall")
    rng = np.random.default_rng(0)
    A = rng.normal(size=(150_000, 12)) * np.geomspace(1, 1e3, 12)
    b = A @ np.linspace(-1, 1, 12) + rng.normal(size=150_000)
    np.save(folder / "A.npy", A)
    np.save(folder / "b.npy", b)
    with h5py.File(folder / "data.h5", "w") as f:
        f.create_dataset("design", data=A, chunks=(4096, 12))
        f["target"] = b
    assert A.nbytes > 3 * LIMIT
    return folder


def test_peak_memory_stays_under_the_limit(tall):
    tracemalloc.start()
    try:
        problem = load_streamed(str(tall / "A.npy"), str(tall / "b.npy"), LIMIT)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < LIMIT, peak
    assert problem.n_rows == 13 and problem.n_samples == 150_000


@pytest.mark.parametrize("loss", ["sum", "mean"])
def test_streamed_analysis_equals_in_memory(tall, loss):
    streamed = analyze(load_streamed(str(tall / "A.npy"), str(tall / "b.npy"), LIMIT, loss=loss), [1e-9], steps=50)
    full = analyze(load_problem(str(tall / "A.npy"), str(tall / "b.npy"), loss=loss), [1e-9], steps=50)
    np.testing.assert_allclose(streamed.spectrum.singular_values, full.spectrum.singular_values, rtol=1e-10)
    assert streamed.bounds.divergence_threshold == pytest.approx(full.bounds.divergence_threshold, rel=1e-10)
    np.testing.assert_allclose(streamed.reference.x, full.reference.x, rtol=1e-9, atol=1e-12)
    assert streamed.reference.loss == pytest.approx(full.reference.loss, rel=1e-9)
    assert streamed.checks[0].predicted_loss == pytest.approx(full.checks[0].predicted_loss, rel=1e-9)
    assert streamed.start_loss == pytest.approx(full.start_loss, rel=1e-12)


def test_streamed_hdf5_with_intercept(tall):
    streamed = analyze(load_streamed(f"{tall}/data.h5:design", f"{tall}/data.h5:target", LIMIT, intercept=True))
    full = analyze(load_problem(f"{tall}/data.h5:design", f"{tall}/data.h5:target", intercept=True))
    assert streamed.spectrum.condition_number == pytest.approx(full.spectrum.condition_number, rel=1e-10)


def test_streamed_compare_runs_full_batch_solvers(tall):
    problem = load_streamed(str(tall / "A.npy"), str(tall / "b.npy"), LIMIT)
    result = compare(problem, ["cg", "lbfgs", "sgd"], Settings(max_iter=2000))
    statuses = {r.solver: r.status for r in result.results}
    assert statuses["cg"] == "converged" and statuses["sgd"] == "skipped"


def test_cli_memory_limit_streams(run, tall):
    report = run("analyze", tall / "A.npy", "--rhs", tall / "b.npy", "--memory-limit", "4M", "--json").json()
    assert report["problem"]["n_rows"] == 150_000
    assert any("streamed" in note for note in report["problem"]["notes"])
    plain = run("analyze", tall / "A.npy", "--rhs", tall / "b.npy", "--json").json()
    assert report["spectrum"]["condition_number"] == pytest.approx(plain["spectrum"]["condition_number"], rel=1e-10)
    assert not any("streamed" in note for note in plain["problem"]["notes"])
