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


@pytest.mark.parametrize("chunk_rows", [97, 7_999])  # 413 chunks (three levels of the tree); a last chunk of 5 rows
def test_the_reduction_tree_gives_the_r_of_all_rows(cluster_client, chunked, chunk_rows):
    """R from the tree of chunk QRs satisfies RᵀR = XᵀX for X = [A 1 b] (intercept) and for [A 0] (no b), at every
    depth of the tree and with a chunk shorter than the row of X."""
    from condiag.dask_engine import TREE_WIDTH, load_with_dask

    A, b = np.load(chunked / "A.npy"), np.load(chunked / "b.npy")
    assert -(-len(b) // chunk_rows) > TREE_WIDTH**2 or len(b) % chunk_rows < A.shape[1] + 2
    for rhs, X in ((str(chunked / "b.npy"), np.column_stack([A, np.ones(len(b)), b])), (None, np.column_stack([A, np.ones(len(b))]))):
        reduced = load_with_dask(str(chunked / "A.npy"), rhs, chunk_rows=chunk_rows, client=cluster_client, intercept=True)
        local = load_problem(str(chunked / "A.npy"), rhs, intercept=True)
        np.testing.assert_allclose(analyze(reduced).spectrum.singular_values, np.linalg.svd(X[:, : A.shape[1] + 1], compute_uv=False),
                                   rtol=1e-10)
        if rhs is not None:
            np.testing.assert_allclose(analyze(reduced).reference.x, analyze(local).reference.x, rtol=1e-8)


def test_a_non_finite_entry_in_any_chunk_is_refused(cluster_client, tmp_path):
    from condiag.dask_engine import load_with_dask
    from condiag.errors import InputError

    A = np.random.default_rng(2).normal(size=(3_000, 4))
    A[2_500, 3] = np.nan  # in the 26th of 30 chunks
    np.save(tmp_path / "A.npy", A)
    with pytest.raises(InputError, match="NaN/Inf"):
        load_with_dask(str(tmp_path / "A.npy"), None, chunk_rows=100, client=cluster_client)
