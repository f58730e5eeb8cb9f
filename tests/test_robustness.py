"""Hostile and broken input, faults while running, interrupts, broken pipes, atomic output."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import fuzz_inputs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from condiag.errors import ExitCode, InputError
from condiag.io import load_problem

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default. A test runner started in the background (``pytest &``,
    nohup) ignores SIGINT, its children inherit that, and Python then installs no KeyboardInterrupt handler:
    the interrupt tests would wait for a child that cannot be interrupted."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def condiag(*args, **kwargs):
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": ROOT}
    return subprocess.Popen([sys.executable, "-m", "condiag", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_sigint, **kwargs)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (Linux /proc), 0 where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def wait_until_busy(child, cpu: float = 1.5, deadline: float = 300.0) -> None:
    """Wait until ``child`` has done ``cpu`` seconds of work (imports done, in its long loop).

    Waiting for work done, not for wall time, keeps the test right on a loaded machine, where a
    fixed sleep can fire before the child has even finished importing.
    """
    if not os.path.exists(f"/proc/{child.pid}/stat"):
        pytest.skip("needs /proc to see the child's CPU time")
    started = time.monotonic()
    while cpu_seconds(child.pid) < cpu:
        assert child.poll() is None, "the child ended before it got busy"
        assert time.monotonic() - started < deadline, "the child never got busy"
        time.sleep(0.05)


# ---------------------------------------------------------------------------- fuzzing every reader
CRASH_PRONE = ("sparse-indices", "mat-sparse")
"""Generators whose regressions are segmentation faults: run in a child process, not in the test runner."""


@pytest.mark.long
@pytest.mark.parametrize("generator", sorted(set(fuzz_inputs.GENERATORS) - set(CRASH_PRONE)))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_fuzzed_inputs_load_or_fail_cleanly(tmp_path_factory, generator, seed):
    case = fuzz_inputs.make_case(generator, random.Random(seed))
    assert fuzz_inputs.check_case(case, str(tmp_path_factory.mktemp("case"))) is None


@pytest.mark.parametrize("generator", CRASH_PRONE)
def test_crash_prone_generators_in_a_child(tmp_path, generator):
    """200 seeded inputs per generator, checked in one child; a crash pins the seed it died on."""
    code = ("import random, sys, tempfile\nsys.path.insert(0, 'tests')\nimport fuzz_inputs\n"
            "for seed in range(200):\n"
            f"    case = fuzz_inputs.make_case({generator!r}, random.Random(seed))\n"
            "    print('START', seed, case.filename, flush=True)\n"
            "    problem = fuzz_inputs.check_case(case, tempfile.mkdtemp())\n"
            "    print('DONE' if problem is None else f'BAD {seed} {problem}', flush=True)\n")
    child = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, capture_output=True,
                           text=True, timeout=600)
    lines = child.stdout.splitlines()
    assert child.returncode == 0, f"crashed (exit {child.returncode}) on {lines[-1] if lines else '?'}"
    assert [line for line in lines if line.startswith("BAD")] == []
    assert sum(line == "DONE" for line in lines) == 200


REGRESSIONS = sorted((Path(__file__).parent / "data" / "fuzz_regressions").glob("seed*"))


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_inputs_that_crashed_compiled_readers(path):
    """These inputs made scipy's compiled readers segfault (truncated .mtx, malformed MAT v5 tags);
    run in a subprocess so that a regression shows as a crash, not as a dead test runner."""
    child = condiag("analyze", path)
    out, err = child.communicate(timeout=60)
    assert child.returncode in (ExitCode.OK, ExitCode.BAD_INPUT), (child.returncode, err)
    if child.returncode == ExitCode.BAD_INPUT:
        assert len(err.decode().strip().splitlines()) == 1


def test_csv_with_a_huge_single_line_is_refused(tmp_path):
    path = tmp_path / "wide.csv"
    with open(path, "w") as fh:
        fh.write("1," * (17 * 1024 * 1024) + "1\n")  # a 34 MB line: over the 32 MiB line limit
    with pytest.raises(InputError, match="line 1 is longer than 32 MiB"):
        load_problem(str(path))


def test_csv_with_millions_of_columns_is_refused(tmp_path):
    path = tmp_path / "columns.csv"
    path.write_text("1," * 1_500_000 + "1\n")
    with pytest.raises(InputError, match="1500001 columns, more than condiag reads"):
        load_problem(str(path))


def test_npy_with_fortran_order_and_big_endian_loads(tmp_path):
    A = np.asfortranarray(np.arange(6.0).reshape(2, 3)).astype(">f8")
    np.save(tmp_path / "f.npy", A)
    np.testing.assert_array_equal(load_problem(str(tmp_path / "f.npy")).A, np.arange(6.0).reshape(2, 3))


# ---------------------------------------------------------------------------- faults while running
def test_solver_fault_is_reported_and_exit_code_says_so(run, samples, monkeypatch):
    from condiag.solvers.krylov import CGLS

    def boom(self, context):
        raise FloatingPointError("injected")

    monkeypatch.setattr(CGLS, "run", boom)
    result = run("compare", samples / "valley_2x2.npz", "--solvers", "cg,lbfgs", "--json")
    assert result.code == ExitCode.THRESHOLD and "failed with an error: cg" in result.err
    report = result.json()
    assert report["solvers"][0]["status"] == "failed" and "injected" in report["solvers"][0]["message"]
    assert report["solvers"][1]["status"] == "converged"


def test_sigint_during_compare_reports_finished_and_exits_130(samples):
    child = condiag("compare", samples / "valley_2x2.npz", "--solvers", "lbfgs,gd", "--lr", "1e-7", "--simulate",
                    "--max-iter", "100000000", "--json")
    wait_until_busy(child)  # lbfgs finishes at once; gd at lr 1e-7 simulates 1e8 steps for minutes
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=300)
    assert child.returncode == ExitCode.INTERRUPTED, err
    assert b"Traceback" not in err
    report = json.loads(out)
    assert report["interrupted"] is True
    assert [s["name"] for s in report["solvers"]] == ["lbfgs", "gd"]
    assert report["solvers"][0]["status"] == "converged" and report["solvers"][1]["iterations"] > 0


def test_broken_pipe_is_quiet(samples):
    reader = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": ROOT}
    child = subprocess.Popen([sys.executable, "-m", "condiag", "analyze", str(samples / "kernel_600.h5:kernels/train_kernel"),
                              "--rhs", f"{samples}/kernel_600.h5:vectors/train_vector", "--lr", "1e-8"],
                             cwd=ROOT, env=env, stdout=reader.stdin, stderr=subprocess.PIPE)
    reader.stdin.close()
    _, err = child.communicate(timeout=120)
    first = reader.stdout.read()
    reader.wait()
    assert first.startswith(b"condiag analyze")
    assert b"Traceback" not in err and b"BrokenPipe" not in err
    assert child.returncode == 0


def test_killed_run_leaves_no_output_file(samples, tmp_path):
    target = tmp_path / "report.json"
    child = condiag("compare", samples / "valley_2x2.npz", "--solvers", "gd", "--lr", "1e-7", "--simulate", "--max-iter", "100000000",
                    "--output", target)
    wait_until_busy(child)
    child.kill()
    child.communicate(timeout=30)
    assert not target.exists()
    assert not list(tmp_path.iterdir())


def test_output_replaces_atomically(run, samples, tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    assert run("compare", samples / "valley_2x2.npz", "--solvers", "cg", "--output", target).code == 0
    assert json.loads(target.read_text())["solvers"][0]["name"] == "cg"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_same_input_same_json_apart_from_timing(run, samples):
    args = ("compare", samples / "valley_2x2.npz", "--solvers", "gd,sgd,adam,lbfgs,cg", "--max-iter", "2000", "--json")
    first, second = run(*args).json(), run(*args).json()
    for report in (first, second):
        report.pop("timing")
        for solver in report["solvers"]:
            solver.pop("seconds")
    assert first == second
