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
    load_streamed(str(tall / "A.npy"), str(tall / "b.npy"), LIMIT)  # first: the modules it imports are not data
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


def test_resident_memory_stays_near_the_limit(tmp_path):
    """The limit holds in resident memory as the operating system counts it (ru_maxrss of the process), not
    only in what tracemalloc sees: a memory-mapped file counted its touched pages (937 MiB resident for a
    763 MiB matrix under --memory-limit 200M). Here a 183 MiB matrix streams under 24 MiB."""
    import os
    import subprocess
    import sys

    if not os.path.exists("/proc/self/status"):
        pytest.skip("VmHWM is read from /proc (Linux)")
    rng = np.random.default_rng(1)
    A = rng.normal(size=(1_500_000, 16))
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "b.npy", A @ np.ones(16) + rng.normal(size=1_500_000))
    del A
    # VmHWM, the peak resident set of this program's own address space (ru_maxrss would include the memory
    # of the forking test process, which a child inherits until exec)
    code = (
        "from condiag.analysis import analyze\n"
        "from condiag.streaming import load_streamed\n"
        "def peak():\n"
        "    return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024\n"
        "before = peak()\n"
        f"problem = load_streamed({str(tmp_path / 'A.npy')!r}, {str(tmp_path / 'b.npy')!r}, 24 * 2**20)\n"
        "analyze(problem, [1e-7])\n"
        "print(peak() - before)\n"
    )
    grown = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1])
    assert grown < 3 * 24, f"resident memory grew by {grown:.0f} MiB while streaming a 183 MiB file under 24 MiB"
