"""Time condiag against what a user would run instead, in one run, and print the ratios.

    python benchmarks/run.py [--repeat 5] [--large] [--markdown docs/benchmarks.md]

Every pair runs on the same machine in the same process tree, best of ``--repeat``:
  1. start-up: `condiag analyze valley_2x2.npz` vs a bare numpy script printing cond(A) (both as commands);
  2. dense: `analyze` vs one `numpy.linalg.svd(A, full_matrices=False)`, 1000x300, 10000x500 and 2000x2000
     (in-process, and as commands that load the same .npy);
  3. Longley: `condiag analyze longley.csv` vs a statsmodels OLS summary (if statsmodels is installed);
  4. sparse: `analyze --method iterative` vs `scipy.sparse.linalg.svds` for the largest and smallest
     singular values, on the SuiteSparse matrices;
  5. story 1: `compare --solvers gd --max-iter 1000000` (closed form) vs the 1e6-step GD loop in numpy;
  6. the 600x600 kernel (story 2, rank-deficient after equilibration): `analyze` vs load + one SVD;
  7. `compare --solvers lsqr` vs `compare --solvers cg` on a 2000x300 problem (same tolerance), and vs one
     call of scipy's lsqr with its own stopping rule;
  8. CSV 300,000 x 10: condiag's reader vs `numpy.loadtxt`;
  9. `solve` (what the command runs) 2000x500 and 20000x200 vs `numpy.linalg.lstsq` (in-process);
 10. tall 2e6 x 50 in memory: `analyze` vs `numpy.linalg.svd(A, compute_uv=False)`, with the peak resident
     memory of each in its own process (as the operating system counts it);
 11. trace: `condiag.trace.diagnose` on a 1e6-record CSV loss log vs numpy.loadtxt + one scipy curve_fit of
     a·exp(-bt) + c (what a user fitting the curve by hand would run; it gives no verdict, interval or order);
 12. with --large: the 1e6 x 1e5 sparse problem with 1e7 non-zeros (benchmarks/large_sparse.py).
No timed assertions live in the tests; this script is where the numbers come from.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLES = ROOT / "sample_problems"
MATRICES = ROOT / "tests" / "data" / "matrices"


TARGETS = {  # issue #13's targets, condiag / baseline (the LSQR row's is condiag's own: LSQR runs once)
    "start-up": 1.3, "dense": 1.1, "lsqr": 1.5, "csv": 1.2, "solve": 2.0, "tall": 1.2, "tall memory": 2.0,
}


def best_of(repeat: int, function) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def command(args) -> None:
    # as a user's pip install runs it: from byte-compiled modules (this sandbox sets PYTHONDONTWRITEBYTECODE,
    # which would make every command recompile condiag's sources, about 80 ms)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"} | {"NO_COLOR": "1"}
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)


PEAK_RESIDENT = ("def peak():\n"
                 "    return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024\n")
"""Child-process code: the peak resident set of the process itself (VmHWM, MiB), as the operating system counts it."""


def child_seconds_and_growth(code: str) -> tuple[float, float]:
    """Run ``code`` (which prints seconds and resident MiB grown) in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    return float(out[-2]), float(out[-1])


def large_rows(repeat: int) -> list[tuple]:
    """Rows 12-15: streaming under a memory limit, Dask against local streaming, sparse problems with b."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh, svds

    from condiag.analysis import analyze
    from condiag.problem import Problem

    rows: list[tuple] = []
    rng = np.random.default_rng(12)
    with tempfile.TemporaryDirectory() as folder:
        # 12. a 2e6 x 50 .npy (763 MiB) streamed under --memory-limit 200M: resident growth beyond the imports
        A = rng.standard_normal((2_000_000, 50))
        np.save(Path(folder) / "A.npy", A)
        np.save(Path(folder) / "b.npy", A @ np.ones(50) + rng.standard_normal(2_000_000))
        np.save(Path(folder) / "A_small.npy", A[:20_000])
        np.save(Path(folder) / "b_small.npy", A[:20_000, 0])
        del A
        # the imports are warmed on a small streamed problem first: they are code, not data
        stream = (PEAK_RESIDENT + "import time\nfrom condiag.analysis import analyze\nfrom condiag.streaming import load_streamed\n"
                  f"analyze(load_streamed({folder + '/A_small.npy'!r}, {folder + '/b_small.npy'!r}, 2 * 2**20))\n"
                  "before = peak(); t = time.perf_counter()\n"
                  f"analyze(load_streamed({folder + '/A.npy'!r}, {folder + '/b.npy'!r}, 200 * 2**20))\n"
                  "print(time.perf_counter() - t, peak() - before)\n")
        _seconds, grown = min((child_seconds_and_growth(stream) for _ in range(max(1, repeat // 2))), key=lambda pair: pair[0])
        rows.append(("streaming 2e6x50 .npy, --memory-limit 200M: resident growth", grown, 200.0, "the limit", 1.0, "MiB"))
        # 13. the same reduction with --engine dask (a LocalCluster started and stopped in the run) on 1e6 rows
        half = np.load(Path(folder) / "A.npy", mmap_mode="r")[:1_000_000]
        np.save(Path(folder) / "A1.npy", np.ascontiguousarray(half))
        np.save(Path(folder) / "b1.npy", np.load(Path(folder) / "b.npy")[:1_000_000])
        del half
        try:
            import dask  # noqa: F401
            import distributed  # noqa: F401

            t_dask = best_of(max(1, repeat // 2), lambda: command(condiag_command() + ["analyze", f"{folder}/A1.npy", "--rhs", f"{folder}/b1.npy",
                                                                                     "--engine", "dask"]))
            t_local = best_of(max(1, repeat // 2), lambda: command(condiag_command() + ["analyze", f"{folder}/A1.npy", "--rhs", f"{folder}/b1.npy",
                                                                                      "--memory-limit", "100M"]))
            rows.append(("--engine dask 1e6x50 (command)", t_dask, t_local, "local streaming, --memory-limit 100M", 1.5))
        except ImportError:
            rows.append(("--engine dask: dask[distributed] not installed", float("nan"), float("nan"), "local streaming", None))
    # 14-15. sparse 200k x 20k with 2e6 non-zeros and a right-hand side: banded, and a random pattern
    n, d, nnz = 200_000, 20_000, 2_000_000
    rows_i = rng.integers(0, n, nnz)
    banded = sp.csr_matrix((rng.standard_normal(nnz), (rows_i, np.minimum(rows_i * d // n + rng.integers(0, 10, nnz), d - 1))), shape=(n, d))
    scattered = sp.csr_matrix((rng.standard_normal(nnz), (rows_i, rng.integers(0, d, nnz))), shape=(n, d))
    b = rng.standard_normal(n)
    for name, A in (("banded", banded), ("random pattern", scattered)):
        problem = Problem.create(A, b)
        t_ours = best_of(1, lambda: analyze(problem))
        if name == "banded":
            def peer():
                svds(A, k=1, random_state=0)
                eigsh((A.T @ A).tocsc(), k=1, sigma=0, which="LM")

            t_peer = best_of(1, peer)
            rows.append((f"sparse 200k x 20k, 2e6 nnz, {name}, with b: analyze", t_ours, t_peer,
                         "scipy svds(k=1) + eigsh(AᵀA, sigma=0), no x*", None))
        else:
            rows.append((f"sparse 200k x 20k, 2e6 nnz, {name}, with b: analyze", t_ours, float("nan"),
                         "(svds + shift-invert eigsh fill in; not run)", None))
    return rows


def suite_row() -> tuple:
    """The README's test command, timed whole (issue #13's target: 90 s on 2 cores)."""
    t = best_of(1, lambda: subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=ROOT, check=False,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return ("test suite: pytest (the README's command)", t, 90.0, "90 s", 1.0)


def condiag_command() -> list[str]:
    """The installed console script when there is one, else python -m condiag."""
    script = Path(sys.executable).parent / "condiag"
    return [str(script)] if script.exists() else [sys.executable, "-m", "condiag"]


def main() -> None:
    import compileall

    compileall.compile_dir(str(ROOT / "condiag"), quiet=1)  # what pip does at install time
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--large", action="store_true",
                        help="also streaming, Dask and the 200k x 20k sparse problems (rows 12-15), and the 1e6 x 1e5 sparse problem")
    parser.add_argument("--markdown", help="write the results table into this Markdown file")
    parser.add_argument("--suite", action="store_true", help="also time the README's test command (about 3 minutes)")
    args = parser.parse_args()
    rows = []  # (what, condiag seconds, baseline seconds, baseline description, target)
    condiag = condiag_command()

    # 1. start-up
    bare = [sys.executable, "-c", f"import numpy as np; d=np.load({str(SAMPLES / 'valley_2x2.npz')!r}); print(np.linalg.cond(d['A']))"]
    t_base = best_of(args.repeat, lambda: command(bare))
    t_cd = best_of(args.repeat, lambda: command(condiag + ["analyze", str(SAMPLES / "valley_2x2.npz")]))
    rows.append(("start-up: analyze valley_2x2.npz (command)", t_cd, t_base, "python -c 'np.load; np.linalg.cond'", TARGETS["start-up"]))
    t_import = best_of(args.repeat, lambda: command([sys.executable, "-c", "import numpy"]))
    rows.append(("start-up vs bare `import numpy` (command)", t_cd, t_import, "python -c 'import numpy'", None))

    # 2. dense
    from condiag.analysis import analyze
    from condiag.problem import Problem

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        for n, d in ((1_000, 300), (10_000, 500), (2_000, 2_000)):
            A = rng.standard_normal((n, d))
            b = rng.standard_normal(n)
            problem = Problem.create(A, b)
            repeat = max(1, args.repeat // 2)
            t_svd = best_of(repeat, lambda: np.linalg.svd(A, full_matrices=False))
            t_an = best_of(repeat, lambda: analyze(problem))
            rows.append((f"dense {n}x{d}: analyze (in-process)", t_an, t_svd, "numpy.linalg.svd(A, full_matrices=False)", TARGETS["dense"]))
            path = Path(folder) / f"A{n}x{d}.npz"
            np.savez(path, A=A, b=b)
            svd_script = [sys.executable, "-c", f"import numpy as np; d=np.load({str(path)!r}); np.linalg.svd(d['A'], full_matrices=False)"]
            t_svd_cmd = best_of(repeat, lambda: command(svd_script))
            t_cd_cmd = best_of(repeat, lambda: command(condiag + ["analyze", str(path)]))
            rows.append((f"dense {n}x{d}: analyze (command, with loading)", t_cd_cmd, t_svd_cmd, "python -c 'np.load; svd'", TARGETS["dense"]))

    # 3. Longley with statsmodels
    try:
        import statsmodels.api as sm  # noqa: F401

        script = [sys.executable, "-c",
                  "import numpy as np, statsmodels.api as sm; "
                  f"d=np.loadtxt({str(SAMPLES / 'longley.csv')!r}, delimiter=',', skiprows=1); "
                  "print(sm.OLS(d[:, 6], sm.add_constant(d[:, :6])).fit().summary())"]
        t_sm = best_of(args.repeat, lambda: command(script))
        t_cd = best_of(args.repeat, lambda: command(condiag + ["analyze", str(SAMPLES / "longley.csv"), "--target", "Employed", "--intercept"]))
        rows.append(("Longley: analyze (command)", t_cd, t_sm, "statsmodels OLS(...).fit().summary()", None))
    except ImportError:
        rows.append(("Longley: statsmodels not installed", float("nan"), float("nan"), "statsmodels OLS summary", None))

    # 4. sparse
    from scipy.sparse.linalg import svds

    from condiag.io import load_problem

    for name in ("bcsstk13.mtx", "1138_bus.mtx", "illc1850.mtx"):
        problem = load_problem(str(MATRICES / name))
        A = problem.A

        outcome = {}

        def scipy_svds():
            from scipy.sparse.linalg import ArpackNoConvergence

            svds(A, k=1, which="LM", random_state=0)
            try:
                outcome["smallest"] = svds(A, k=1, which="SM", random_state=0, return_singular_vectors=False)[0]
            except ArpackNoConvergence:
                outcome["smallest"] = None

        t_svds = best_of(1, scipy_svds)
        t_it = best_of(args.repeat, lambda: analyze(problem, method="iterative"))
        note = "scipy svds largest + smallest" + (" (smallest: ARPACK did not converge)" if outcome.get("smallest") is None else "")
        rows.append((f"sparse {name} {A.shape[0]}x{A.shape[1]}: analyze --method iterative", t_it, t_svds, note, None))

    # 5. story 1's million GD steps
    d = np.load(SAMPLES / "valley_2x2.npz")
    A2, b2 = d["A"], d["b"]

    def gd_loop():
        x = np.zeros(2)
        for _ in range(1_000_000):
            x -= 1e-5 * 2 * A2.T @ (A2 @ x - b2)

    t_loop = best_of(1, gd_loop)
    t_cd = best_of(args.repeat, lambda: command(condiag + ["compare", str(SAMPLES / "valley_2x2.npz"), "--solvers", "gd", "--lr", "1e-5",
                                                          "--max-iter", "1000000"]))
    rows.append(("story 1: compare gd, 1e6 steps (command, closed form)", t_cd, t_loop, "numpy loop of 1e6 GD steps", None))

    # 6. the kernel of story 2
    kernel = load_problem(str(SAMPLES / "kernel_600.h5") + ":kernels/train_kernel",
                          rhs=str(SAMPLES / "kernel_600.h5") + ":vectors/train_vector", loss="mean")
    t_svd = best_of(args.repeat, lambda: np.linalg.svd(kernel.A, full_matrices=False))
    t_an = best_of(args.repeat, lambda: analyze(kernel))
    rows.append(("kernel 600x600 (story 2): analyze (in-process)", t_an, t_svd, "numpy.linalg.svd(A, full_matrices=False)", TARGETS["dense"]))

    # 7. LSQR
    from scipy.sparse.linalg import lsqr

    from condiag.comparison import compare
    from condiag.solvers import Settings

    A7 = rng.standard_normal((2_000, 300)) * np.logspace(0, 2, 300)
    b7 = rng.standard_normal(2_000)
    p7 = Problem.create(A7, b7)
    settings = Settings(max_iter=100_000, tol=1e-10)
    t_lsqr = best_of(args.repeat, lambda: compare(p7, ["lsqr"], settings))
    t_cg = best_of(args.repeat, lambda: compare(p7, ["cg"], settings))
    t_scipy = best_of(args.repeat, lambda: lsqr(A7, b7, atol=1e-10, btol=1e-10, iter_lim=100_000))
    rows.append(("compare lsqr vs compare cg, 2000x300 (in-process)", t_lsqr, t_cg, "condiag's cg, same tolerance", TARGETS["lsqr"]))
    rows.append(("compare lsqr vs one scipy lsqr call (in-process)", t_lsqr, t_scipy, "scipy.sparse.linalg.lsqr(atol=btol=1e-10), no reference", None))

    # 8. CSV
    from condiag.io.delimited import read_table

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.csv"
        np.savetxt(path, rng.standard_normal((300_000, 10)), delimiter=",")
        t_read = best_of(args.repeat, lambda: read_table(str(path), "table", "csv", None))
        t_loadtxt = best_of(args.repeat, lambda: np.loadtxt(path, delimiter=","))
        rows.append(("CSV 300,000x10: read", t_read, t_loadtxt, "numpy.loadtxt", TARGETS["csv"]))

    # 9. solve: what `condiag solve` runs (condiag.reference.solve), on a wide-ish and on a tall problem
    from condiag.reference import solve

    for n9, d9 in ((2_000, 500), (20_000, 200)):
        A9, b9 = rng.standard_normal((n9, d9)), rng.standard_normal(n9)
        p9 = Problem.create(A9, b9)
        t_solve = best_of(args.repeat, lambda: solve(p9))
        t_lstsq = best_of(args.repeat, lambda: np.linalg.lstsq(A9, b9, rcond=None))
        rows.append((f"solve {n9}x{d9} (in-process)", t_solve, t_lstsq, "numpy.linalg.lstsq", TARGETS["solve"]))

    # 10. tall, with peak memory in a child process each
    tall_ours = ("import numpy as np, resource, time; from condiag.analysis import analyze; from condiag.problem import Problem; "
                 "r=np.random.default_rng(0); A=r.standard_normal((2_000_000, 50)); b=r.standard_normal(2_000_000); "
                 "m=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; t=time.perf_counter(); analyze(Problem.create(A, b)); "
                 "print(time.perf_counter()-t, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss-m)/1024)")
    tall_base = ("import numpy as np, resource, time; "
                 "r=np.random.default_rng(0); A=r.standard_normal((2_000_000, 50)); b=r.standard_normal(2_000_000); "
                 "m=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; t=time.perf_counter(); np.linalg.svd(A, compute_uv=False); "
                 "print(time.perf_counter()-t, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss-m)/1024)")

    ours = min((child_seconds_and_growth(tall_ours) for _ in range(max(1, args.repeat // 2))), key=lambda pair: pair[0])
    base = min((child_seconds_and_growth(tall_base) for _ in range(max(1, args.repeat // 2))), key=lambda pair: pair[0])
    rows.append(("tall 2e6x50 in memory: analyze (in-process)", ours[0], base[0], "numpy.linalg.svd(A, compute_uv=False)", TARGETS["tall"]))
    rows.append(("tall 2e6x50: peak memory beyond A", ours[1], 763.0, "the matrix itself", TARGETS["tall memory"], "MiB"))

    # 11. trace: a 1e6-record loss log (noisy exponential decay to a floor)
    from scipy.optimize import curve_fit

    from condiag.trace import diagnose

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.csv"
        t = np.arange(1_000_000.0)
        y = (2 * np.exp(-t / 2e5) + 0.1) * np.exp(0.05 * rng.standard_normal(t.size))
        np.savetxt(path, np.column_stack([t, y]), delimiter=",", header="step,loss", comments="", fmt=["%d", "%.6g"])

        def baseline():
            table = np.loadtxt(path, delimiter=",", skiprows=1)
            curve_fit(lambda s, a, b, c: a * np.exp(-b * s) + c, table[:, 0], table[:, 1], p0=(1.0, 1e-5, 0.0))

        t_trace = best_of(args.repeat, lambda: diagnose(str(path)))
        t_fit = best_of(args.repeat, baseline)
        rows.append(("trace: 1e6-record CSV loss log (in-process)", t_trace, t_fit,
                     "numpy.loadtxt + scipy curve_fit(a·exp(-bt)+c)", None))

    if args.large:
        rows.extend(large_rows(args.repeat))
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "large_sparse.py")], capture_output=True, text=True, check=True)
        print(out.stdout)
    if args.suite:
        rows.append(suite_row())

    lines = ["| what | condiag | baseline | baseline is | ratio | target |", "|---|---:|---:|---|---:|---|"]
    for what, ours, theirs, desc, target, *unit in rows:
        ratio = ours / theirs if theirs == theirs and theirs > 0 else float("nan")
        verdict = "" if target is None else (f"≤ {target}× — met" if ratio <= target else f"≤ {target}× — not met")
        shown = (f"{ours:.0f} MiB", f"{theirs:.0f} MiB") if unit == ["MiB"] else (f"{ours:.3f} s", f"{theirs:.3f} s")
        if theirs != theirs:  # no baseline was run
            shown, verdict = (shown[0], "—"), ""
        lines.append(f"| {what} | {shown[0]} | {shown[1]} | {desc} | {'—' if ratio != ratio else f'{ratio:.2f}×'} | {verdict} |")
    machine = (f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, {platform.machine()}, "
               f"{os.cpu_count()} cores, best of {args.repeat}.")
    table = "\n".join(lines)
    print(table)
    print(machine)
    if args.markdown:
        text = Path(args.markdown).read_text() if Path(args.markdown).exists() else ""
        start, end = text.find("<!-- table -->"), text.find("<!-- /table -->")
        block = f"<!-- table -->\n{table}\n\n{machine}\n<!-- /table -->"
        text = text[:start] + block + text[end + len("<!-- /table -->"):] if start >= 0 and end >= 0 else text + "\n" + block + "\n"
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
