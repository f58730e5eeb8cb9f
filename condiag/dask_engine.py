"""``--engine dask``: hand the reduction of a huge tall matrix to Dask instead of anything home-made.

The same exact reduction as :mod:`condiag.streaming` — [A (1) b] = Q [[R, z], [0, rho]] — computed by
``dask.array.linalg.tsqr`` (Benson, Gleich & Demmel, "Direct QR factorizations for tall-and-skinny
matrices in MapReduce architectures", 2013) over row chunks read by the workers themselves from an
HDF5 dataset or a .npy file (each task opens the file, so nothing unpicklable crosses the network).
With ``--scheduler ADDRESS`` condiag connects to an existing cluster (``tcp://host:8786``); without it,
a ``LocalCluster`` with 2 workers is started for the run. Requires the extra ``condiag[dask]``.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError, UsageError

DEFAULT_CHUNK_ROWS = 65_536


def _read_block(path: str, key: str | None, start: int, stop: int, columns: int) -> np.ndarray:
    """Rows [start, stop) of an HDF5 dataset or .npy file, as float64 (runs on a worker)."""
    if key is not None:
        import h5py

        with h5py.File(path, "r") as handle:
            block = np.asarray(handle[key][start:stop], dtype=np.float64)
    else:
        block = np.asarray(np.load(path, mmap_mode="r", allow_pickle=False)[start:stop], dtype=np.float64)
    return block.reshape(stop - start, columns)


def _describe(spec: str, allow_external: bool = False):
    from .streaming import open_rows

    source = open_rows(spec, allow_external)
    if source is None:
        raise InputError(spec, "--engine dask reads a dense .npy file or an HDF5 dataset (FILE.h5:DATASET)")
    if source.close:
        source.close()
    from .io import split_spec

    path, _key = split_spec(spec)
    key = source.label[len(path) + 1 :] if source.label != path else None
    return path, key, source.shape


def _dask_column(path, key, n, columns, chunk_rows):
    import dask
    import dask.array as da

    blocks = []
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        delayed = dask.delayed(_read_block)(path, key, start, stop, columns)
        blocks.append(da.from_delayed(delayed, shape=(stop - start, columns), dtype=np.float64))
    return da.concatenate(blocks, axis=0)


def client_for(scheduler: str | None):
    """A distributed Client: to ``scheduler`` if given, else a fresh LocalCluster with 2 workers."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("engine dask needs Dask: pip install 'condiag[dask]'", option="engine") from None
    if scheduler:
        try:
            return Client(scheduler, timeout="30s"), None
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise InputError(scheduler, f"cannot reach the Dask scheduler: {str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}",
                             "check the address, or leave out --scheduler to start a local cluster") from None
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    return Client(cluster), cluster


def load_with_dask(spec: str, rhs: str | None, *, scheduler: str | None = None, loss: str = "sum", ridge: float = 0.0,
                   intercept: bool = False, chunk_rows: int = DEFAULT_CHUNK_ROWS, client=None, allow_external: bool = False):
    """The exactly reduced problem of (A, b), with the TSQR computed by Dask."""
    try:
        import dask.array as da
    except ImportError:
        raise UsageError("engine dask needs Dask: pip install 'condiag[dask]'", option="engine") from None
    from .streaming import reduced_problem

    path, key, shape = _describe(spec, allow_external)
    if len(shape) != 2:
        raise InputError(spec, f"A must be 2-D, got shape {shape}")
    n, d = shape
    parts = [_dask_column(path, key, n, d, chunk_rows)]
    if intercept:
        parts.append(da.ones((n, 1), chunks=(chunk_rows, 1)))
    if rhs is not None:
        r_path, r_key, r_shape = _describe(rhs, allow_external)
        if r_shape[0] != n:
            raise InputError(rhs, f"b has {r_shape[0]} entries but A has {n} rows", "b needs one entry per row of A")
        parts.append(_dask_column(r_path, r_key, n, 1, chunk_rows))
    else:
        parts.append(da.zeros((n, 1), chunks=(chunk_rows, 1)))
    X = da.concatenate(parts, axis=1).rechunk({0: chunk_rows, 1: -1})
    own_client, cluster = (client, None) if client is not None else client_for(scheduler)
    try:
        _q, r = da.linalg.tsqr(X)
        # one graph for both: each chunk of X is read once, for the factor and the finiteness check together
        factor, all_finite = own_client.compute([r, da.isfinite(X).all()])
        R_aug, finite = np.asarray(factor.result()), bool(all_finite.result())
    finally:
        if client is None:
            own_client.close()
            if cluster is not None:
                cluster.close()
    if not finite:
        raise InputError(spec, "has NaN/Inf values", "remove or impute them")
    names = [f"x[{i}]" for i in range(d)] + (["intercept"] if intercept else [])
    note = (f"reduced exactly to its R factor by Dask (dask.array.linalg.tsqr over {-(-n // chunk_rows)} chunks of "
            f"{chunk_rows:,} rows on {'the scheduler at ' + scheduler if scheduler else 'a local cluster of 2 workers'})")
    return reduced_problem(R_aug, n, has_rhs=rhs is not None, loss=loss, ridge=ridge, source=spec, rhs_source=rhs,
                           column_names=names, note=note)
