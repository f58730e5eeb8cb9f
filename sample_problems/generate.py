"""Regenerate every file in sample_problems/ (fixed seeds; run from the repository root).

    python sample_problems/generate.py

Each problem reproduces one of the situations in the project's user stories; see
sample_problems/README.md for what each shows and the command to run on it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
NIST_LONGLEY = HERE.parent / "tests" / "data" / "nist" / "Longley.dat"


def valley_2x2():
    """Story 1: minimise ||Ax - b||^2 with plain GD; x* = (1.2, -72.18), loss 0."""
    A = np.array([[-249.69, -4.1511], [-4.1511, -0.20755]])
    b = np.array([0.0, 10.0])
    np.savez(HERE / "valley_2x2.npz", A=A, b=b)
    with open(HERE / "valley_2x2.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["x0", "x1", "b"])
        for row, value in zip(A, b):
            writer.writerow([repr(float(v)) for v in row] + [repr(float(value))])


def kernel_600():
    """Story 2: a 600x600 RBF kernel system (numerically singular) with train/test split, HDF5."""
    import h5py

    rng = np.random.default_rng(2)
    n_train, n_test, dim = 600, 200, 3
    points = rng.uniform(-1.0, 1.0, size=(n_train + n_test, dim))
    target = np.sin(3 * points[:, 0]) + np.cos(2 * points[:, 1]) * points[:, 2] + 0.01 * rng.normal(size=n_train + n_test)
    train, test = points[:n_train], points[n_train:]
    gamma = 1.0

    def rbf(P, Q):
        d2 = np.sum(P**2, 1)[:, None] + np.sum(Q**2, 1)[None, :] - 2 * P @ Q.T
        return np.exp(-gamma * np.maximum(d2, 0.0))

    with h5py.File(HERE / "kernel_600.h5", "w") as f:
        f.create_dataset("kernels/train_kernel", data=rbf(train, train), compression="gzip", compression_opts=9)
        f.create_dataset("kernels/test_kernel", data=rbf(test, train), compression="gzip", compression_opts=9)
        f.create_dataset("vectors/train_vector", data=target[:n_train])
        f.create_dataset("vectors/test_vector", data=target[n_train:])


def kernel_story2():
    """Story 2 with its reported facts: the same RBF construction scaled by 1512 (a kernel with that amplitude), so that
    under MSELoss (mean) gradient descent is stable only below lr = 9.99e-9 ("exploded for any lr above 1e-8"), and
    target noise 0.003, with which scikit-learn's LinearRegression (no intercept) has a test MAE of 0.0038 (reported:
    0.0037)."""
    import h5py

    rng = np.random.default_rng(2)
    n_train, n_test, dim = 600, 200, 3
    points = rng.uniform(-1.0, 1.0, size=(n_train + n_test, dim))
    clean = np.sin(3 * points[:, 0]) + np.cos(2 * points[:, 1]) * points[:, 2]
    target = clean + 0.003 * rng.normal(size=n_train + n_test)
    train, test = points[:n_train], points[n_train:]

    def rbf(P, Q):
        d2 = np.sum(P**2, 1)[:, None] + np.sum(Q**2, 1)[None, :] - 2 * P @ Q.T
        return np.exp(-np.maximum(d2, 0.0))

    base = rbf(train, train)
    amplitude = np.sqrt(n_train / 1e-8) / np.linalg.svd(base, compute_uv=False)[0] * 1.0005  # 2/L just below 1e-8
    with h5py.File(HERE / "kernel_story2.h5", "w") as f:
        f.create_dataset("kernels/train_kernel", data=amplitude * base, compression="gzip", compression_opts=9)
        f.create_dataset("kernels/test_kernel", data=amplitude * rbf(test, train), compression="gzip", compression_opts=9)
        f.create_dataset("vectors/train_vector", data=target[:n_train])
        f.create_dataset("vectors/test_vector", data=target[n_train:])


def badly_scaled():
    """Columns in very different units (scale 1 ... 1e6): scaling, not collinearity, is the cause."""
    rng = np.random.default_rng(3)
    n = 200
    scales = np.array([1.0, 1e2, 1e4, 1e6])
    A = rng.normal(size=(n, 4)) * scales
    x_true = np.array([2.0, -1.0, 0.5, 3.0]) / scales
    b = A @ x_true + 0.01 * rng.normal(size=n)
    np.savez(HERE / "badly_scaled.npz", A=A, b=b)


def rank_deficient():
    """A design whose last column duplicates the first: rank 4 of 5, a null space."""
    rng = np.random.default_rng(4)
    n = 100
    base = rng.normal(size=(n, 4))
    A = np.column_stack([base, base[:, 0]])
    b = base @ np.array([1.0, -2.0, 0.5, 1.5]) + 0.1 * rng.normal(size=n)
    np.savez(HERE / "rank_deficient.npz", A=A, b=b)


def well_conditioned():
    """A control: independent standard-normal columns, cond(A) about 1.5."""
    rng = np.random.default_rng(5)
    A = rng.normal(size=(200, 5))
    b = A @ np.arange(1.0, 6.0) + 0.1 * rng.normal(size=200)
    np.savez(HERE / "well_conditioned.npz", A=A, b=b)


def quadratics():
    """Story 4: f(x1, x2) = x1^2 + 2 x2^2 = ½ xᵀ diag(2, 4) x, and f(x) = x^2 = ½ x·2·x."""
    np.savez(HERE / "quadratic_2d.npz", A=np.diag([2.0, 4.0]), b=np.zeros(2))
    np.savez(HERE / "quadratic_1d.npz", A=np.array([[2.0]]), b=np.zeros(1))


def two_layer_story3():
    """Story 3: A = linspace(1, 1e5, 10)[:, None] * rand(10, 6) (called "kappa = 1e5"; cond(A) is about 12)."""
    rng = np.random.default_rng(0)
    A = np.linspace(1.0, 1e5, 10)[:, None] * rng.random((10, 6))
    np.savez(HERE / "two_layer_story3.npz", A=A)


def longley():
    """The Longley data (NIST StRD, public domain) as CSV with a header."""
    lines = NIST_LONGLEY.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Data:") and "y" in line.split()) + 1
    rows = [line.split() for line in lines[start:] if line.strip()]
    names = ["GNP_deflator", "GNP", "Unemployed", "Armed_Forces", "Population", "Year", "Employed"]
    with open(HERE / "longley.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for row in rows:
            writer.writerow(row[1:] + row[:1])


def valley_gd_log():
    """Story 1 as a loss log: plain GD on the valley (sum loss, x0 = 0) at lr 1e-5, step by step, 2,000 steps
    logged every step with the lr: `condiag trace` finds it crawling and the steps it still needs."""
    data = np.load(HERE / "valley_2x2.npz")
    A, b = data["A"], data["b"]
    x = np.zeros(2)
    lr = 1e-5
    with open(HERE / "valley_gd_log.csv", "w", newline="") as fh:
        fh.write("step,loss,lr\n")
        for step in range(2000):
            r = A @ x - b
            fh.write(f"{step},{float(r @ r)!r},{lr}\n")
            x = x - lr * 2 * (A.T @ r)


def regression_data():
    """200 samples of 3 features, targets from a smooth non-linear function plus noise: for `condiag model`
    with sample_problems/mlp.py."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((200, 3))
    y = np.tanh(X @ np.array([1.0, -2.0, 0.5])) + 0.3 * X[:, 0] * X[:, 1] + 0.05 * rng.standard_normal(200)
    np.savez(HERE / "regression.npz", inputs=X, targets=y)


if __name__ == "__main__":
    valley_2x2()
    kernel_600()
    kernel_story2()
    badly_scaled()
    rank_deficient()
    well_conditioned()
    quadratics()
    two_layer_story3()
    longley()
    valley_gd_log()
    regression_data()
    total = sum(p.stat().st_size for p in HERE.iterdir() if p.is_file())
    print(f"wrote sample problems: {total / 1e6:.2f} MB in all")
