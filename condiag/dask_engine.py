"""``--engine dask``: hand the reduction of a huge tall matrix to Dask instead of anything home-made.

The same exact reduction as :mod:`condiag.streaming` — [A (1) b] = Q [[R, z], [0, rho]] — computed as a
tree of Householder QRs scheduled by Dask (TSQR: Demmel, Grigori, Hoemmen & Langou, SIAM J. Sci. Comput. 34
(2012); Benson, Gleich & Demmel, "Direct QR factorizations for tall-and-skinny matrices in MapReduce
architectures", 2013): each worker factors the row chunks it reads itself from an HDF5 dataset or a .npy file
(each task opens the file, so nothing unpicklable crosses the network), and the stacked R factors are
factored again, :data:`TREE_WIDTH` at a time, up to one R. Only R is formed: ``dask.array.linalg.tsqr`` also
formed every chunk's Q, twice the work, when condiag needs R alone.
With ``--scheduler ADDRESS`` condiag connects to an existing cluster (``tcp://host:8786``); without it,
a ``LocalCluster`` with 2 workers is started for the run. Requires the extra ``condiag[dask]``.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError, UsageError

DEFAULT_CHUNK_ROWS = 65_536
TREE_WIDTH = 16
"""R factors stacked and factored together at each level of the reduction tree."""


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


def _chunk_factor(path: str, key: str | None, rhs_path: str | None, rhs_key: str | None, start: int, stop: int,
                  columns: int, intercept: bool) -> tuple[np.ndarray, bool]:
    """(R of rows [start, stop) of [A (1) b], whether they are all finite), on a worker that reads the rows itself.

    The rows go through the same :class:`~condiag.spectrum.RowBlockQR` as local streaming (one block, under the
    zero R it starts from, so a chunk with fewer rows than columns is factored too)."""
    from .spectrum import RowBlockQR

    rows = stop - start
    block = _read_block(path, key, start, stop, columns)
    b_rows = _read_block(rhs_path, rhs_key, start, stop, 1)[:, 0] if rhs_path is not None else np.zeros(rows)
    finite = bool(np.isfinite(block).all() and np.isfinite(b_rows).all())
    qr = RowBlockQR(columns + int(intercept) + 1, rows)
    qr.add(block, b_rows, intercept=intercept)
    return qr.R, finite


def _stacked_factor(*pieces: tuple[np.ndarray, bool]) -> tuple[np.ndarray, bool]:
    """The R of several chunks together (the R of their stacked R factors) and whether all were finite."""
    from .spectrum import householder_r

    stacked = np.asfortranarray(np.vstack([factor for factor, _ in pieces]))
    return householder_r(stacked), all(finite for _, finite in pieces)


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
        import dask
    except ImportError:
        raise UsageError("engine dask needs Dask: pip install 'condiag[dask]'", option="engine") from None
    from .streaming import reduced_problem

    path, key, shape = _describe(spec, allow_external)
    if len(shape) != 2:
        raise InputError(spec, f"A must be 2-D, got shape {shape}")
    n, d = shape
    if n == 0 or d == 0:
        raise InputError(spec, f"A has shape {shape}: nothing to reduce")
    rhs_path, rhs_key = None, None
    if rhs is not None:
        rhs_path, rhs_key, r_shape = _describe(rhs, allow_external)
        if r_shape[0] != n:
            raise InputError(rhs, f"b has {r_shape[0]} entries but A has {n} rows", "b needs one entry per row of A")
    # one task per chunk reads its rows once and returns both its R and whether they are finite
    pieces = [dask.delayed(_chunk_factor)(path, key, rhs_path, rhs_key, start, min(start + chunk_rows, n), d, intercept)
              for start in range(0, n, chunk_rows)]
    while len(pieces) > 1:
        pieces = [dask.delayed(_stacked_factor)(*pieces[i:i + TREE_WIDTH]) for i in range(0, len(pieces), TREE_WIDTH)]
    own_client, cluster = (client, None) if client is not None else client_for(scheduler)
    try:
        R_aug, finite = own_client.compute(pieces[0]).result()
        R_aug = np.asarray(R_aug)
    finally:
        if client is None:
            own_client.close()
            if cluster is not None:
                cluster.close()
    if not finite:
        raise InputError(spec, "has NaN/Inf values", "remove or impute them")
    names = [f"x[{i}]" for i in range(d)] + (["intercept"] if intercept else [])
    note = (f"reduced exactly to its R factor by Dask (a tree of Householder QRs over {-(-n // chunk_rows)} chunks of "
            f"{chunk_rows:,} rows on {'the scheduler at ' + scheduler if scheduler else 'a local cluster of 2 workers'})")
    return reduced_problem(R_aug, n, has_rhs=rhs is not None, loss=loss, ridge=ridge, source=spec, rhs_source=rhs,
                           column_names=names, note=note)
