"""A large sparse problem with a known spectrum, for the iterative path.

    python benchmarks/large_sparse.py [--rows 1000000] [--cols 100000] [--block-rows 100] [--block-cols 10]

A is a row- and column-permuted block-diagonal matrix: block k is U_k diag(s_k) V_kᵀ with U_k
(block_rows x block_cols, orthonormal columns) and V_k (block_cols x block_cols, orthogonal) random,
so the singular values of A are exactly the chosen s (log-spaced, cond = 1e4). With the defaults:
1e6 x 1e5 with 1e7 non-zeros. Prints condiag's iterative cond against the true one and the time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(rows: int, cols: int, block_rows: int, block_cols: int, cond: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    blocks = cols // block_cols
    assert blocks * block_rows == rows, "rows must be blocks * block_rows"
    s = np.geomspace(1.0, 1.0 / cond, cols)
    rng.shuffle(s)
    G = rng.standard_normal((blocks, block_rows, block_cols))
    U, _ = np.linalg.qr(G)
    H = rng.standard_normal((blocks, block_cols, block_cols))
    V, _ = np.linalg.qr(H)
    S = s.reshape(blocks, block_cols)
    B = np.einsum("kij,kj,klj->kil", U, S, V)  # U diag(s) Vᵀ per block
    row_index = (np.arange(blocks)[:, None, None] * block_rows + np.arange(block_rows)[None, :, None]).repeat(block_cols, axis=2)
    col_index = (np.arange(blocks)[:, None, None] * block_cols + np.arange(block_cols)[None, None, :]).repeat(block_rows, axis=1)
    row_perm, col_perm = rng.permutation(rows), rng.permutation(cols)
    A = sp.csr_matrix((B.ravel(), (row_perm[row_index.ravel()], col_perm[col_index.ravel()])), shape=(rows, cols))
    return A, s.max() / s.min()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=100_000)
    parser.add_argument("--block-rows", type=int, default=100)
    parser.add_argument("--block-cols", type=int, default=10)
    parser.add_argument("--cond", type=float, default=1e4)
    args = parser.parse_args()
    started = time.perf_counter()
    A, true_cond = build(args.rows, args.cols, args.block_rows, args.block_cols, args.cond)
    built = time.perf_counter() - started
    from condiag.iterative import extreme_pair
    from condiag.problem import Problem

    problem = Problem.create(A, np.ones(args.rows))
    started = time.perf_counter()
    pair = extreme_pair(problem)
    seconds = time.perf_counter() - started
    cond = pair.sigma_max / pair.sigma_min
    print(f"A: {A.shape[0]:,} x {A.shape[1]:,}, {A.nnz:,} non-zeros (built in {built:.1f} s)")
    print(f"true cond {true_cond:.6g}; condiag iterative cond {cond:.6g} (relative error {abs(cond / true_cond - 1):.2e}) in {seconds:.1f} s")
    print(f"method: {pair.method}")


if __name__ == "__main__":
    main()
