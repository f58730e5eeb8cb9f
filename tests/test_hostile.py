"""Regressions for hostile input, faults and option values (issue 11): each case failed before its fix.

Inputs that once crashed the process (segmentation faults in compiled code) are run in a child
process, so a regression fails this test instead of killing the test runner.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import subprocess
import sys
import threading

import numpy as np
import pytest

from condiag.errors import ExitCode, InputError
from condiag.io import load_problem
from condiag.problem import Problem

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALLEY = os.path.join(ROOT, "sample_problems", "valley_2x2.npz")
MLP = os.path.join(ROOT, "sample_problems", "mlp.py:mlp")
REGRESSION = os.path.join(ROOT, "sample_problems", "regression.npz")
TRACE_LOG = os.path.join(ROOT, "sample_problems", "valley_gd_log.csv")


def cli(*args, env=None, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, **kwargs):
    """Run ``python -m condiag`` in a child; returns CompletedProcess with text stdout/stderr."""
    environment = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": ROOT, **(env or {})}
    return subprocess.run([sys.executable, "-m", "condiag", *map(str, args)], cwd=ROOT, env=environment, stdin=stdin,
                          stdout=stdout, stderr=subprocess.PIPE, timeout=600, **kwargs)


def one_line(stderr) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


# ---------------------------------------------------------------------------- 1. sparse index arrays
def _csc_npz(path, indices, indptr, shape=(3, 3)):
    np.savez(path, format=np.array("csc"), shape=np.array(shape), indices=np.array(indices), indptr=np.array(indptr),
             data=np.ones(len(indices)))


def _sparse_mat_v5(path, ir=None, jc=None):
    """A 3x3 identity saved by scipy as a MAT v5 sparse matrix, then its ir/jc patched in place."""
    import scipy.io
    import scipy.sparse as sp

    scipy.io.savemat(path, {"A": sp.csc_matrix(np.eye(3))}, do_compression=False)
    raw = bytearray(open(path, "rb").read())
    ir_at = raw.index(struct.pack("<III", 0, 1, 2), 0xA8)
    if ir is not None:
        struct.pack_into("<3I", raw, ir_at, *ir)
    if jc is not None:
        jc_at = raw.index(struct.pack("<IIII", 0, 1, 2, 3), ir_at + 12)
        struct.pack_into("<4I", raw, jc_at, *jc)
    open(path, "wb").write(raw)


def _sparse_mat_v73(path, ir, jc):
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        group = f.create_group("A")
        group.attrs["MATLAB_sparse"] = np.uint64(3)
        group["data"] = np.ones(len(ir))
        group["ir"] = np.array(ir, dtype=np.uint64)
        group["jc"] = np.array(jc, dtype=np.uint64)
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file".ljust(116, b" ") + b"\0" * 8 + b"\x00\x02IM")


@pytest.mark.parametrize("case", ["npz-index", "npz-pointer", "npz-decreasing", "mat5-index", "mat5-decreasing",
                                  "mat73-index", "mat73-decreasing"])
def test_malformed_sparse_index_arrays_are_refused_not_crashed(tmp_path, case):
    kind, problem = case.split("-")
    path = tmp_path / f"A.{'npz' if kind == 'npz' else 'mat'}"
    if kind == "npz":
        indices, indptr = {"index": ([0, 5_000_000, 2], [0, 1, 2, 3]), "pointer": ([0, 1, 2], [0, 1, 2, 9]),
                           "decreasing": ([0, 1, 2], [0, 2, 1, 3])}[problem]
        _csc_npz(path, indices, indptr)
    elif kind == "mat5":
        _sparse_mat_v5(path, ir=(0, 5_000_000, 2) if problem == "index" else None, jc=(0, 3, 1, 3) if problem == "decreasing" else None)
    else:
        _sparse_mat_v73(path, *([0, 5_000_000, 2], [0, 1, 2, 3]) if problem == "index" else ([0, 1, 2], [0, 3, 1, 3]))
    result = cli("analyze", path)
    assert result.returncode == ExitCode.BAD_INPUT, (result.returncode, result.stderr)
    assert "inconsistent sparse matrix" in one_line(result.stderr)


def test_sparse_checks_accept_what_they_should(tmp_path):
    import scipy.sparse as sp

    A = sp.random(40, 7, density=0.3, random_state=0, format="csc")
    sp.save_npz(tmp_path / "ok.npz", A)
    problem = load_problem(str(tmp_path / "ok.npz"))
    np.testing.assert_array_equal(problem.A.toarray(), A.toarray())
    _sparse_mat_v5(tmp_path / "ok.mat")
    np.testing.assert_array_equal(load_problem(str(tmp_path / "ok.mat")).A.toarray(), np.eye(3))


@pytest.mark.xfail(strict=True, reason="scipy 1.17 crashes on these (scipy issue #19949); when this passes, scipy "
                                        "validates sparse indices itself and condiag's own checks may be revisited")
def test_scipy_itself_still_crashes_on_bad_indices(tmp_path):
    _csc_npz(tmp_path / "bad.npz", [0, 5_000_000, 2], [0, 1, 2, 3])
    code = f"import scipy.sparse as sp; sp.load_npz({str(tmp_path / 'bad.npz')!r}).tocsr(); print('ok')"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert child.returncode >= 0, "scipy crashed with a signal"


# ---------------------------------------------------------------------------- 2. --output
def test_output_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    os.chmod(target, 0o644)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert cli("analyze", VALLEY, "--json", "--output", link).returncode == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert json.loads(target.read_text())["command"] == "analyze"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644


def test_output_keeps_the_mode_of_an_existing_file(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("old")
    os.chmod(target, 0o640)
    assert cli("analyze", VALLEY, "--output", target).returncode == 0
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640 and "Narrow valley" in target.read_text()


def test_output_onto_a_fifo_streams_into_it(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(open(fifo, "rb").read()))
    reader.start()
    result = cli("analyze", VALLEY, "--json", "--output", fifo)
    reader.join(timeout=300)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO, not replaced by a regular file
    assert json.loads(received[0])["command"] == "analyze"


def test_output_onto_a_character_device_is_written_not_replaced():
    devnull = os.devnull
    before = os.stat(devnull)
    assert cli("analyze", VALLEY, "--output", devnull).returncode == 0
    after = os.stat(devnull)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_output_into_a_missing_folder_and_plot_into_a_missing_folder(tmp_path):
    result = cli("analyze", VALLEY, "--output", tmp_path / "no" / "r.json")
    assert result.returncode == ExitCode.ENVIRONMENT and "folder does not exist" in one_line(result.stderr)
    result = cli("compare", VALLEY, "--solvers", "cg", "--plot", tmp_path / "no" / "p.png")
    assert result.returncode == ExitCode.ENVIRONMENT and "folder does not exist" in result.stderr.decode()


def test_output_with_a_non_utf8_file_name(tmp_path):
    name = os.path.join(os.fsencode(tmp_path), b"r\xff.json")
    result = cli("analyze", VALLEY, "--json", "--output", os.fsdecode(name))
    assert result.returncode == 0, result.stderr
    assert json.loads(open(name, "rb").read())["command"] == "analyze"


# ---------------------------------------------------------------------------- 3. HDF5 links
@pytest.fixture
def linked_h5(tmp_path):
    import h5py

    with h5py.File(tmp_path / "t.h5", "w") as f:
        f["secret"] = np.full((3, 3), 12345.0)
        f["g/secret"] = np.full((3, 3), 12345.0)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["A"] = np.eye(3)
        f["b"] = np.ones(3)
        f["g"] = h5py.ExternalLink("t.h5", "/")
        f["s"] = h5py.SoftLink("/g")
        f["e"] = h5py.ExternalLink("t.h5", "/secret")
        f["loop"] = h5py.SoftLink("/loop2")
        f["loop2"] = h5py.SoftLink("/loop")
        f["inside"] = h5py.SoftLink("/A")
    return tmp_path / "x.h5"


@pytest.mark.parametrize("key", ["g/secret", "s/secret", "s/g/secret", "e", "/g/secret"])
@pytest.mark.parametrize("route", ["matrix", "rhs", "stream"])
def test_external_links_refused_at_every_path_component_and_route(linked_h5, key, route):
    if route == "matrix":
        args = [f"{linked_h5}:{key}"]
    elif route == "rhs":
        args = [f"{linked_h5}:A", "--rhs", f"{linked_h5}:{key}"]
    else:
        args = [f"{linked_h5}:{key}", "--memory-limit", "10K"]
    with pytest.raises(InputError, match="external link"):
        if route == "rhs":
            load_problem(args[0], rhs=args[2])
        else:
            load_problem(args[0])
    result = cli("analyze", *args)
    assert result.returncode == ExitCode.BAD_INPUT and "external link" in one_line(result.stderr)


def test_streaming_and_dask_routes_resolve_links_too(linked_h5):
    from condiag.streaming import open_rows

    with pytest.raises(InputError, match="external link"):
        open_rows(f"{linked_h5}:g/secret")
    pytest.importorskip("dask")
    from condiag.dask_engine import _describe

    with pytest.raises(InputError, match="external link"):
        _describe(f"{linked_h5}:s/secret")


def test_links_inside_the_file_still_work_and_loops_are_named(linked_h5):
    np.testing.assert_array_equal(load_problem(f"{linked_h5}:inside").A, np.eye(3))
    with pytest.raises(InputError, match="soft links"):
        load_problem(f"{linked_h5}:loop")
    assert load_problem(f"{linked_h5}:g/secret", allow_external=True).A[0, 0] == 12345.0


# ---------------------------------------------------------------------------- 4. confident wrong answers
@pytest.mark.parametrize("exponent", [-300, -200, -165, 160, 300])
def test_solve_is_scale_invariant(exponent):
    from condiag.reference import solve

    rng = np.random.default_rng(0)
    A, b = rng.standard_normal((20, 4)), rng.standard_normal(20)
    expected = np.linalg.lstsq(A, b, rcond=None)[0]
    reference = solve(Problem.create(A * 10.0**exponent, b))
    np.testing.assert_allclose(reference.x * 10.0**exponent, expected, rtol=1e-12)
    assert reference.accuracy["backward_error"] > 0 and reference.accuracy["correct_digits"] > 13
    assert reference.accuracy["rank"] == 4


@pytest.mark.parametrize("exponent", [-165, 160, 300])
def test_analyze_refuses_curvature_outside_float64(tmp_path, exponent):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "s.npz", A=rng.standard_normal((20, 4)) * 10.0**exponent, b=rng.standard_normal(20))
    result = cli("analyze", tmp_path / "s.npz")
    assert result.returncode == ExitCode.BAD_INPUT and "float64" in one_line(result.stderr)


def test_solve_refuses_a_quadratic_without_minimum(tmp_path):
    np.savez(tmp_path / "q.npz", A=-np.diag([1.0, 2.0, 3.0]), b=np.ones(3))
    result = cli("solve", tmp_path / "q.npz", "--objective", "quadratic")
    assert result.returncode == ExitCode.BAD_INPUT and "no minimiser" in one_line(result.stderr)


def test_sparse_zero_column_is_singular_on_the_iterative_path(tmp_path):
    import scipy.sparse as sp

    A = sp.random(1500, 300, density=0.02, random_state=2, format="lil")
    A[:, 7] = 0
    sp.save_npz(tmp_path / "z.npz", A.tocsr())
    report = json.loads(cli("analyze", tmp_path / "z.npz", "--method", "iterative", "--json").stdout)
    assert report["spectrum"]["rank"] == 299 and report["spectrum"]["null_dim"] == 1
    assert report["spectrum"]["condition_number"] is None and report["spectrum"]["condition_number_note"] == "infinite"


# ---------------------------------------------------------------------------- 5. memory
def _peak_mib_of_load(spec: str) -> tuple[int, str]:
    """(peak resident memory in MiB of a fresh process that loads ``spec``, outcome).

    VmHWM from /proc is this process image's own high-water mark; ``ru_maxrss`` would also count
    the pages of the (large) test process it was forked from, before ``exec``.
    """
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc to read the peak resident memory")
    code = ("from condiag.io import load_problem\nfrom condiag.errors import InputError\n"
            f"try:\n    load_problem({spec!r}); out = 'loaded'\nexcept InputError as e:\n    out = str(e)\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
            "print(int(hwm) // 1024); print(out)")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": ROOT}, timeout=300)
    peak, message = child.stdout.splitlines()[:2]
    return int(peak), message


@pytest.mark.parametrize("case", ["mtx", "npz-coo", "npz-csr"])
def test_tiny_files_declaring_huge_sparse_shapes_are_refused_before_allocating(tmp_path, case):
    if case == "mtx":
        path = tmp_path / "huge.mtx"
        path.write_text("%%MatrixMarket matrix coordinate real general\n100000000 100000000 1\n1 1 1.0\n")
    elif case == "npz-coo":
        path = tmp_path / "huge.npz"
        np.savez(path, format=np.array("coo"), shape=np.array([10**9, 10**9]), row=np.array([0]), col=np.array([0]),
                 data=np.array([1.0]))
    else:
        path = tmp_path / "huge.npz"
        np.savez(path, format=np.array("csr"), shape=np.array([10**9, 10**9]), indices=np.array([0]),
                 indptr=np.array([0, 1]), data=np.array([1.0]))
    peak, message = _peak_mib_of_load(str(path))
    assert "GiB" in message or "inconsistent" in message, message
    assert peak < 400, f"peak RSS {peak} MiB"


def test_mat_compressed_element_is_not_inflated_past_its_dimensions(tmp_path):
    import zlib

    def tag(kind, n):
        return struct.pack("<II", kind, n)

    big = 300_000_000
    inner = tag(6, 8) + struct.pack("<II", 6, 0) + tag(5, 8) + struct.pack("<ii", 10, 10) + tag(1, 1) + b"A" + b"\0" * 7
    compressor = zlib.compressobj(9)
    out = compressor.compress(tag(14, len(inner) + 8 + big) + inner + tag(9, big))
    zeros = b"\0" * (1 << 22)
    for _ in range(big // len(zeros)):
        out += compressor.compress(zeros)
    out += compressor.flush()
    header = b"MATLAB 5.0 MAT-file".ljust(116, b" ") + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    (tmp_path / "bomb.mat").write_bytes(header + tag(15, len(out)) + out)
    peak, message = _peak_mib_of_load(str(tmp_path / "bomb.mat"))
    assert "10x10" in message and peak < 250, (peak, message)


def test_npz_member_peak_is_its_declared_size(tmp_path):
    np.savez_compressed(tmp_path / "z.npz", A=np.zeros((4000, 2500)), b=np.zeros(4000))  # 80 MB declared
    peak, message = _peak_mib_of_load(str(tmp_path / "z.npz"))
    baseline, _ = _peak_mib_of_load(VALLEY)
    assert message == "loaded" and peak - baseline < 80 * 1.3, (peak, baseline)


def test_streams_are_read_with_a_cap_and_sniffed(tmp_path):
    result = cli("analyze", "/dev/zero", "--format", "npy")
    assert result.returncode == ExitCode.BAD_INPUT and "does not begin like a .npy" in one_line(result.stderr)
    with open(VALLEY, "rb") as fh:
        result = cli("analyze", "-", "--format", "npz", stdin=fh)
    assert result.returncode == 0, result.stderr


def test_fifo_and_process_substitution_are_read(tmp_path):
    fifo = tmp_path / "A.npz"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: open(fifo, "wb").write(open(VALLEY, "rb").read()))
    writer.start()
    result = cli("analyze", fifo)
    writer.join(timeout=300)
    assert result.returncode == 0 and "Narrow valley" in result.stdout.decode()


# ---------------------------------------------------------------------------- 6. hangs
def test_huge_iteration_counts_are_usage_errors_or_answered_in_closed_form():
    assert cli("compare", VALLEY, "--max-iter", "10000000000000000000").returncode == ExitCode.USAGE
    report = json.loads(cli("compare", VALLEY, "--solvers", "gd,momentum,nesterov", "--max-iter", "1000000000000", "--json").stdout)
    assert all(s["iterations"] >= 0 and s["status"] == "converged" for s in report["solvers"])


@pytest.mark.parametrize("param", ["gd-armijo.lr=inf", "gd-armijo.lr=nan", "gd-armijo.shrink=1", "gd-armijo.shrink=2",
                                   "gd-armijo.shrink=nan", "gd-armijo.grow=inf", "adam.beta1=1", "sgd.batch_size=0.5",
                                   "sgd.batch_size=0", "momentum.beta=auto2", "lbfgs.maxcor=-1", "gd.lr=-1"])
def test_bad_solver_parameters_are_usage_errors(param):
    result = cli("compare", VALLEY, "--param", param)
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert "--param" in one_line(result.stderr)


# ---------------------------------------------------------------------------- 7-9. exit codes and one line
EXIT_CODES = [
    (["analyze", VALLEY, "--lr", "5e-324"], ExitCode.USAGE),
    (["analyze", VALLEY, "--lr", "nan"], ExitCode.USAGE),
    (["analyze", VALLEY, "--lr", "0"], ExitCode.USAGE),
    (["compare", VALLEY, "--lr", "-1"], ExitCode.USAGE),
    (["analyze", VALLEY, "--tol", "nan"], ExitCode.USAGE),
    (["analyze", VALLEY, "--tol", "1"], ExitCode.USAGE),
    (["analyze", VALLEY, "--steps", "-1"], ExitCode.USAGE),
    (["analyze", VALLEY, "--steps", "10000000000000000"], ExitCode.USAGE),
    (["analyze", VALLEY, "--memory-limit", "inf"], ExitCode.USAGE),
    (["analyze", VALLEY, "--memory-limit", "-5"], ExitCode.USAGE),
    (["analyze", VALLEY, "--memory-limit", "lots"], ExitCode.USAGE),
    (["analyze", VALLEY, "--ridge", "1e308"], ExitCode.USAGE),
    (["analyze", VALLEY, "--ridge", "-1"], ExitCode.USAGE),
    (["analyze", VALLEY, "--max-condition", "-5"], ExitCode.USAGE),
    (["analyze", VALLEY, "--max-condition", "nan"], ExitCode.USAGE),
    (["analyze", "--function", os.path.join(ROOT, "missing.py:f"), "--x0", "1", "--lr", "0.1"], ExitCode.BAD_INPUT),
    (["analyze", "--function", "no-colon.py", "--x0", "1", "--lr", "0.1"], ExitCode.USAGE),
    (["analyze", VALLEY, "--newton", "1"], ExitCode.USAGE),
    (["model", MLP, "--data", os.path.join(ROOT, "missing.npz")], ExitCode.BAD_INPUT),
    (["model", MLP, "--data", REGRESSION, "--inputs-key", "nope"], ExitCode.BAD_INPUT),
    (["model", MLP, "--data", REGRESSION, "--targets-key", "nope"], ExitCode.BAD_INPUT),
    (["model", MLP, "--data", REGRESSION, "--weights", VALLEY], ExitCode.BAD_INPUT),
    (["model", MLP, "--data", REGRESSION, "--reduction", "median"], ExitCode.USAGE),
    (["model", MLP, "--data", REGRESSION, "--optimizer", "rmsprop"], ExitCode.USAGE),
    (["model", MLP, "--data", REGRESSION, "--optimizer-state", VALLEY], ExitCode.USAGE),
    (["model", MLP, "--data", REGRESSION, "--top", "0"], ExitCode.USAGE),
    (["model", MLP, "--data", REGRESSION, "--iterations", "1"], ExitCode.USAGE),
    (["model", MLP, "--data", REGRESSION, "--trace-probes", "-1"], ExitCode.USAGE),
    (["model", MLP, "--data", REGRESSION, "--max-sharpness-ratio", "nan"], ExitCode.USAGE),
    (["analyze", "--function", os.path.join(ROOT, "sample_problems", "textbook.py:x_cos"), "--x0", "10", "--newton", "0"],
     ExitCode.USAGE),
    (["analyze", VALLEY, "--min-lr-margin", "0"], ExitCode.USAGE),
    (["analyze", VALLEY, "--fail-on", "sometimes"], ExitCode.USAGE),
    (["analyze", VALLEY, "--loss", "median"], ExitCode.USAGE),
    (["analyze", VALLEY, "--objective", "cubic"], ExitCode.USAGE),
    (["analyze", VALLEY, "--method", "magic"], ExitCode.USAGE),
    (["analyze", VALLEY, "--engine", "spark"], ExitCode.USAGE),
    (["analyze", VALLEY, "--format", "xls"], ExitCode.USAGE),
    (["analyze", VALLEY, "--x0", "nan,1"], ExitCode.BAD_INPUT),
    (["analyze", VALLEY, "--x0", "1,2,3"], ExitCode.BAD_INPUT),
    (["analyze", VALLEY, "--model", "two-layer", "--model-seed", "-1"], ExitCode.USAGE),
    (["analyze", VALLEY, "--model", "two-layer", "--init-scale", "nan"], ExitCode.USAGE),
    (["analyze", VALLEY, "--model", "two-layer", "--hidden", "0"], ExitCode.USAGE),
    (["analyze", VALLEY, "--model", "two-layer", "--samples", "-1"], ExitCode.USAGE),
    (["compare", VALLEY, "--x0", "nan,1"], ExitCode.BAD_INPUT),
    (["compare", VALLEY, "--x0", "inf,1"], ExitCode.BAD_INPUT),
    (["compare", VALLEY, "--max-iter", "0"], ExitCode.USAGE),
    (["compare", VALLEY, "--time-limit", "nan"], ExitCode.USAGE),
    (["compare", VALLEY, "--time-limit", "0"], ExitCode.USAGE),
    (["compare", VALLEY, "--dtype", "float16"], ExitCode.USAGE),
    (["compare", VALLEY, "--seed", "-1"], ExitCode.USAGE),
    (["compare", VALLEY, "--solvers", "nope"], ExitCode.USAGE),
    (["compare", VALLEY, "--solvers", ","], ExitCode.USAGE),
    (["compare", VALLEY, "--param", "nope.lr=1"], ExitCode.USAGE),
    (["compare", VALLEY, "--param", "adam.nope=1"], ExitCode.USAGE),
    (["compare", VALLEY, "--param", "adam.lr=fast"], ExitCode.USAGE),
    (["compare", VALLEY, "--param", "adam"], ExitCode.USAGE),
    (["compare", VALLEY, "--require-converged", "nope"], ExitCode.USAGE),
    (["compare", VALLEY, "--plot", "out.gif", "--solvers", "cg"], ExitCode.USAGE),
    (["solve", VALLEY, "--method", "iterative"], ExitCode.USAGE),
    (["analyze", VALLEY, "--no-such-option"], ExitCode.USAGE),
    (["frobnicate"], ExitCode.USAGE),
    (["analyze", "missing.npz"], ExitCode.BAD_INPUT),
    (["analyze", "-"], ExitCode.BAD_INPUT),
    (["analyze", VALLEY, "--batch-size", "0"], ExitCode.USAGE),
    (["analyze", VALLEY, "--batch-size", "3"], ExitCode.USAGE),
    (["analyze", VALLEY, "--batch-size", "1", "--sampling", "sometimes"], ExitCode.USAGE),
    (["analyze", VALLEY, "--batch-size", "1", "--sampling", "with-replacement", "--lr", "1e-3", "--output", "/dev/null"], ExitCode.OK),
    (["analyze", VALLEY, "--adam", "--lr", "1e-3", "--betas", "0.9", "--eps", "1e-8"], ExitCode.USAGE),
    (["analyze", VALLEY, "--adam", "--lr", "1e-3", "--eps", "0"], ExitCode.USAGE),
    (["compare", VALLEY, "--solvers", "gd", "--lr", "1e-5", "--lr", "nan"], ExitCode.USAGE),
    (["compare", VALLEY, "--solvers", "cg", "--test", "missing.npz"], ExitCode.BAD_INPUT),
    (["compare", VALLEY, "--solvers", "cg", "--test", VALLEY, "--test-rhs", "missing.npy"], ExitCode.BAD_INPUT),
    (["compare", VALLEY, "--solvers", "cg", "--libraries", "--alpha", "-1"], ExitCode.USAGE),
    (["analyze", VALLEY, "--objective", "logistic"], ExitCode.BAD_INPUT),
    (["solve", VALLEY, "--objective", "logistic", "--loss", "half"], ExitCode.USAGE),
    (["compare", VALLEY, "--objective", "logistic"], ExitCode.BAD_INPUT),  # b = (0, 10) are not labels
    (["analyze", VALLEY, "--objective", "logistic", "--batch-size", "1"], ExitCode.USAGE),
    (["analyze", VALLEY, "--objective", "logistic", "--model", "two-layer"], ExitCode.USAGE),
    (["analyze", VALLEY, "--report-format", "pdf"], ExitCode.USAGE),
    (["solve", VALLEY, "--json", "--report-format", "junit"], ExitCode.USAGE),
    (["trace", TRACE_LOG, "--column", "nope"], ExitCode.BAD_INPUT),
    (["trace", TRACE_LOG, "--step-column", "nope"], ExitCode.BAD_INPUT),
    (["trace", TRACE_LOG, "--lr-column", "nope"], ExitCode.BAD_INPUT),
    (["trace", TRACE_LOG, "--run-column", "nope"], ExitCode.BAD_INPUT),
    (["trace", TRACE_LOG, "--log-format", "xml"], ExitCode.USAGE),
    (["trace", TRACE_LOG, "--tag", "loss"], ExitCode.BAD_INPUT),
    (["trace", TRACE_LOG, "--tol", "2"], ExitCode.USAGE),
    (["trace", TRACE_LOG, "--lr", "-1"], ExitCode.USAGE),
    (["trace", TRACE_LOG, "--fail-on", "crawling"], ExitCode.THRESHOLD),
    (["trace", TRACE_LOG, "--max-steps-to-tol", "1e9", "--output", "/dev/null"], ExitCode.OK),
    (["trace", TRACE_LOG, "--max-steps-to-tol", "nan"], ExitCode.USAGE),
    (["trace", TRACE_LOG, "--problem", "missing.npz"], ExitCode.BAD_INPUT),
    (["trace", TRACE_LOG, "--problem", VALLEY, "--loss", "mean", "--objective", "least-squares", "--ridge", "0",
      "--x0", "0,0", "--seed", "1", "--output", "/dev/null"], ExitCode.OK),
    (["trace", TRACE_LOG, "--problem", VALLEY, "--x0", "1,2,3"], ExitCode.BAD_INPUT),
    (["trace", TRACE_LOG, "--problem", VALLEY, "--ridge", "-1"], ExitCode.USAGE),
    (["trace", TRACE_LOG, "--problem", VALLEY, "--objective", "cubic"], ExitCode.USAGE),
    (["trace", TRACE_LOG, "--problem", VALLEY, "--loss", "median"], ExitCode.USAGE),
]


def console_script(args, capsys, monkeypatch) -> tuple[int, str]:
    """Run the console script's ``main`` in this process (as the installed ``condiag`` runs it, without the
    interpreter start-up a child costs); returns (exit code, stderr)."""
    from condiag.cli import main

    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    return int(exited.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize("args, code", EXIT_CODES, ids=[" ".join(map(str, a[1:] if len(a) > 1 else a)) for a, _ in EXIT_CODES])
def test_exit_code_table(args, code, capsys, monkeypatch):
    returncode, stderr = console_script(args, capsys, monkeypatch)
    assert returncode == code, stderr
    one_line(stderr)


def test_the_table_holds_in_a_child_process_too():
    """A sample of the table through a real `python -m condiag` child: the same codes and one line."""
    for args, code in EXIT_CODES[::12]:
        result = cli(*args)
        assert result.returncode == code, result.stderr
        one_line(result.stderr)


def test_option_table_covers_every_option():
    """Every option of every command appears in the exit-code table or in a test of its own below."""
    from condiag.cli import cli as group

    tested = {arg for args, _ in EXIT_CODES for arg in args if isinstance(arg, str) and arg.startswith("--")}
    elsewhere = {"--verbose", "--rhs", "--intercept", "--a-key", "--b-key", "--target", "--no-header", "--allow-external", "--scheduler",
                 "--json", "--output", "--no-color", "--traceback", "--help", "--simulate", "--hidden", "--samples",
                 "--lr", "--plot", "--model"}
    for command in group.commands.values():
        for param in command.params:
            for name in param.opts:
                if name.startswith("--"):
                    assert name in tested | elsewhere, f"{command.name} {name} has no exit-code test"


def test_writing_to_a_full_or_closed_stdout():
    with open("/dev/full", "wb") as full:
        for extra in ([], ["--json"]):
            result = cli("analyze", VALLEY, *extra, stdout=full)
            assert result.returncode == ExitCode.ENVIRONMENT and "cannot write" in one_line(result.stderr)
        result = cli("--help", stdout=full)
        assert result.returncode == ExitCode.ENVIRONMENT and "cannot write" in one_line(result.stderr)
    closed = subprocess.run(f"{sys.executable} -m condiag analyze {VALLEY} >&-", shell=True, cwd=ROOT, capture_output=True,
                            env={**os.environ, "PYTHONPATH": ROOT}, timeout=300)
    assert closed.returncode == ExitCode.ENVIRONMENT and "closed" in one_line(closed.stderr)


def test_ascii_only_terminal_and_no_color():
    result = cli("analyze", VALLEY, env={"PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0 and b"\\u" in result.stdout
    result = cli("analyze", VALLEY, "--json", env={"PYTHONIOENCODING": "ascii"})
    assert json.loads(result.stdout)["command"] == "analyze"
    tty = subprocess.run(["script", "-qec", f"{sys.executable} -m condiag analyze {VALLEY}", "/dev/null"], capture_output=True,
                         env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": ROOT}, cwd=ROOT, timeout=300) \
        if os.path.exists("/usr/bin/script") else None
    if tty is not None:
        assert tty.returncode == 0 and b"\x1b[" not in tty.stdout


def test_narrow_terminal_keeps_every_value():
    """At COLUMNS=30 every number is still whole on its line (it was folded across lines, or dropped)."""
    text = cli("solve", VALLEY, env={"COLUMNS": "30"}).stdout.decode()
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.split()}
    assert float(rows["x[0]"][1]) == pytest.approx(1.2000337, rel=1e-6)
    assert float(rows["x[1]"][1]) == pytest.approx(-72.18241, rel=1e-6)
    assert float(rows["backward"][2]) < 1e-15


def test_warnings_and_usage_errors_are_one_line(tmp_path):
    np.savez(tmp_path / "big.npz", A=np.array([[1e155, 1.0], [2.0, 3e155]]), b=np.ones(2))
    result = cli("analyze", tmp_path / "big.npz")
    assert result.returncode == ExitCode.BAD_INPUT
    one_line(result.stderr)
    result = cli("analyze", VALLEY, "--lr", "1e308")
    assert result.returncode == 0 and result.stderr == b""
    result = cli("analyze", VALLEY, "--bogus")
    assert result.returncode == ExitCode.USAGE and "usage error" in one_line(result.stderr)


def test_read_only_home_gives_no_matplotlib_warning(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, 0o500)
    result = cli("compare", VALLEY, "--solvers", "cg", "--plot", tmp_path / "p.png",
                 env={"HOME": str(home), "MPLCONFIGDIR": "", "XDG_CONFIG_HOME": "", "XDG_CACHE_HOME": ""})
    assert result.returncode == 0
    assert [line for line in result.stderr.decode().splitlines() if "Matplotlib" in line or "matplotlib" in line] == []


def test_iterative_path_on_degenerate_shapes(tmp_path):
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(10, 40))
    wide[:, 1] = wide[:, 0]
    for name, matrix in {"col": rng.normal(size=(50, 1)), "row": rng.normal(size=(1, 50)), "zero": np.zeros((30, 20)),
                         "wide": wide}.items():
        np.save(tmp_path / f"{name}.npy", matrix)
        result = cli("analyze", tmp_path / f"{name}.npy", "--method", "iterative", "--json")
        assert result.returncode == 0, (name, result.stderr)
        spectrum = json.loads(result.stdout)["spectrum"]
        assert spectrum["sigma_max"] == pytest.approx(np.linalg.norm(matrix, 2), rel=1e-8, abs=1e-300), name


def test_two_layer_edges(tmp_path):
    np.save(tmp_path / "zero.npy", np.zeros((4, 3)))
    result = cli("analyze", tmp_path / "zero.npy", "--model", "two-layer")
    assert result.returncode == ExitCode.BAD_INPUT and "all zeros" in one_line(result.stderr)
    story = os.path.join(ROOT, "sample_problems", "two_layer_story3.npz")
    report = json.loads(cli("compare", story, "--model", "two-layer", "--hidden", "6", "--dtype", "float32", "--max-iter", "5",
                            "--solvers", "gd,lbfgs", "--json").stdout)
    statuses = {s["name"]: s["status"] for s in report["solvers"]}
    assert statuses["gd"] == "skipped" and statuses["lbfgs"] != "failed"


def test_solver_list_all_with_others_and_option_names_in_messages():
    report = json.loads(cli("compare", VALLEY, "--solvers", "all,gd", "--max-iter", "20", "--json").stdout)
    names = [s["name"] for s in report["solvers"]]
    assert len(names) == len(set(names)) and "gd" in names and "newton" in names
    result = cli("compare", VALLEY, "--require-converged", "nope")
    assert "--require-converged" in one_line(result.stderr) and "--solvers" not in result.stderr.decode()


# ---------------------------------------------------------------------------- 9. accepted when it should not be
@pytest.mark.parametrize("text, message", [
    ("%%MatrixMarket matrix coordinate real symmetric\n2 2 3\n1 1 1.0\n2 1 2.0\n1 2 2.0\n", "more than once"),
    ("%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 2\n1 1 1.0\n2 1 2.0\n", "diagonal"),
    ("%%MatrixMarket matrix coordinate integer general\n2 2 2\n1 1 3.7\n2 2 2\n", "integer"),
    ("%%MatrixMarket matrix array integer general\n2 2\n1\n2.5\n3\n4\n", "integer"),
])
def test_matrix_market_files_that_break_the_format(tmp_path, text, message):
    (tmp_path / "A.mtx").write_text(text)
    with pytest.raises(InputError, match=message):
        load_problem(str(tmp_path / "A.mtx"))


def test_matrix_market_symmetric_lower_triangle_is_mirrored_once(tmp_path):
    (tmp_path / "A.mtx").write_text("%%MatrixMarket matrix coordinate real symmetric\n2 2 3\n1 1 1.0\n2 1 2.0\n2 2 5.0\n")
    np.testing.assert_array_equal(load_problem(str(tmp_path / "A.mtx")).A.toarray(), [[1.0, 2.0], [2.0, 5.0]])


def test_npy_header_that_under_declares_its_data(tmp_path):
    np.save(tmp_path / "A.npy", np.eye(3))
    raw = (tmp_path / "A.npy").read_bytes()
    (tmp_path / "A.npy").write_bytes(raw + b"\0" * 64)
    with pytest.raises(InputError, match="inconsistent"):
        load_problem(str(tmp_path / "A.npy"))


def test_symlink_loop_is_named(tmp_path):
    (tmp_path / "a.npy").symlink_to(tmp_path / "b.npy")
    (tmp_path / "b.npy").symlink_to(tmp_path / "a.npy")
    with pytest.raises(InputError, match="loop of symbolic links"):
        load_problem(str(tmp_path / "a.npy"))


def test_interrupted_compare_leaves_output_untouched(tmp_path):
    import signal

    from test_robustness import condiag as popen
    from test_robustness import wait_until_busy

    target = tmp_path / "report.json"
    target.write_text("old")
    child = popen("compare", VALLEY, "--solvers", "lbfgs,gd", "--lr", "1e-7", "--simulate", "--max-iter", "100000000",
                  "--output", target)
    wait_until_busy(child)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=300)
    assert child.returncode == ExitCode.INTERRUPTED and target.read_text() == "old"
    assert b"left as it was" in err



@pytest.mark.parametrize("seed", [23648, 31986, 33132])
def test_fuzz_finds_of_the_extreme_value_generator(tmp_path, seed):
    """Found by the 50,000-input run: a solution whose components are subnormal after unscaling claimed
    15 digits (now the bits lost are added to the stated error), and an SVD of entries near 1e308 did not
    converge in analyze (now the matrix is scaled by a power of two before factorising)."""
    import fuzz_inputs

    name, case = fuzz_inputs.generate(seed)
    assert name == "extreme-values"
    assert fuzz_inputs.check_case(case, str(tmp_path)) is None


def test_subnormal_solution_states_its_lost_digits():
    from condiag.reference import solve

    rng = np.random.default_rng(3)
    A = rng.standard_normal((10, 2)) * 1e300
    b = rng.standard_normal(10) * 1e-20  # x ~ 1e-320: subnormal, a few bits
    reference = solve(Problem.create(A, b))
    assert reference.accuracy["correct_digits"] < 3


@pytest.mark.parametrize("d", [1, 3, 6])
def test_lobpcg_fallback_on_few_columns(d):
    """lobpcg solves small problems densely and returns two values, not three (exit 70 before)."""
    import warnings

    import scipy.sparse as sp

    from condiag.iterative import _lobpcg_min

    A = sp.random(20, d, density=0.8, random_state=0, format="csr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sigma_min = _lobpcg_min(A)[0]
    assert sigma_min == pytest.approx(np.linalg.svd(A.toarray(), compute_uv=False)[-1], rel=1e-6)


def test_dask_route_refuses_a_lying_npy_header(tmp_path):
    np.save(tmp_path / "A.npy", np.ones((100, 3)))
    raw = (tmp_path / "A.npy").read_bytes()
    (tmp_path / "A.npy").write_bytes(raw[: len(raw) // 2])  # the header promises twice the data
    from condiag.streaming import open_rows

    with pytest.raises(InputError, match="truncated"):
        open_rows(str(tmp_path / "A.npy"))


def test_json_stays_valid_utf8_with_a_non_utf8_input_name(tmp_path):
    name = os.path.join(os.fsencode(tmp_path), b"A\xff.npz")
    with open(name, "wb") as fh, open(VALLEY, "rb") as source:
        fh.write(source.read())
    result = cli("analyze", os.fsdecode(name), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.decode("utf-8"))  # strict UTF-8: undecodable bytes arrive escaped
    assert report["problem"]["source"].startswith(str(tmp_path))
