"""--engine dask: the same reduction computed on a Dask LocalCluster of 2 workers gives the same answers."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from condiag.analysis import analyze
from condiag.io import load_problem

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask")
    rng = np.random.default_rng(1)
    A = rng.normal(size=(40_000, 8)) * np.geomspace(1, 1e4, 8)
    b = A @ np.ones(8) + rng.normal(size=40_000)
    with h5py.File(folder / "data.h5", "w") as f:
        f.create_dataset("A", data=A, chunks=(5000, 8))
        f.create_dataset("b", data=b, chunks=(5000,))
    np.save(folder / "A.npy", A)
    np.save(folder / "b.npy", b)
    return folder


@pytest.mark.parametrize("kind", ["h5", "npy"])
def test_dask_reduction_matches_local(cluster_client, chunked, kind):
    from condiag.dask_engine import load_with_dask

    if kind == "h5":
        spec, rhs = f"{chunked}/data.h5:A", f"{chunked}/data.h5:b"
    else:
        spec, rhs = str(chunked / "A.npy"), str(chunked / "b.npy")
    reduced = load_with_dask(spec, rhs, chunk_rows=7000, client=cluster_client, loss="mean")
    local = load_problem(spec, rhs, loss="mean")
    a, b = analyze(reduced, [1e-3], steps=20), analyze(local, [1e-3], steps=20)
    np.testing.assert_allclose(a.spectrum.singular_values, b.spectrum.singular_values, rtol=1e-10)
    assert a.bounds.divergence_threshold == pytest.approx(b.bounds.divergence_threshold, rel=1e-10)
    np.testing.assert_allclose(a.reference.x, b.reference.x, rtol=1e-8)
    assert a.reference.loss == pytest.approx(b.reference.loss, rel=1e-9)
    assert reduced.n_samples == 40_000 and "Dask" in reduced.notes[0]


def test_cli_engine_dask_with_scheduler(run, cluster_client, chunked):
    address = cluster_client.scheduler.address
    report = run("analyze", f"{chunked}/data.h5:A", "--rhs", f"{chunked}/data.h5:b", "--engine", "dask", "--scheduler", address, "--json").json()
    local = run("analyze", f"{chunked}/data.h5:A", "--rhs", f"{chunked}/data.h5:b", "--json").json()
    assert report["spectrum"]["condition_number"] == pytest.approx(local["spectrum"]["condition_number"], rel=1e-10)
    assert report["problem"]["n_rows"] == 40_000


def test_default_local_cluster_is_started_and_closed(chunked):
    from condiag.dask_engine import load_with_dask

    reduced = load_with_dask(str(chunked / "A.npy"), str(chunked / "b.npy"), chunk_rows=10_000)
    assert "local cluster of 2 workers" in reduced.notes[0]
    assert analyze(reduced).spectrum.rank == 8
