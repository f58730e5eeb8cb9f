"""Long fuzz run over every reader and option: how many inputs were tried, how many misbehaved, peak memory.

    python benchmarks/fuzz.py [--count 12000] [--seconds-per-input 10] [--workers 2]

Inputs come from tests/fuzz_inputs.py (random bytes, truncated and mutated valid files, hostile
.npy headers, CSV token soup, odd HDF5 datasets, npz members that are not arrays, lying sparse
index arrays in npz and MAT files, HDF5 external and soft links, FIFOs, symlink loops and folders,
values across float64's range, random option values). Batches run in child processes that report
each input as they finish it, so a crash (e.g. a segmentation fault in a compiled reader) or a hang
is pinned on the exact input and the run goes on. The contract: a loaded problem or report, or
InputError / a clean exit code with one line — nothing else, within the time limit. Before each
input the child resets its peak resident memory (``/proc/self/clear_refs``, Linux) and reports
the input's own peak (VmHWM) after it; the summary gives the largest.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import os, shutil, sys, tempfile
sys.path.insert(0, {tests!r}); sys.path.insert(0, {root!r})
from fuzz_inputs import check_case, generate

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass

def peak_kib():
    try:
        with open("/proc/self/status") as fh:
            return int(next(l for l in fh if l.startswith("VmHWM")).split()[1])
    except (OSError, StopIteration, ValueError):
        return -1

for seed in range({start}, {stop}):
    name, case = generate(seed)
    print(f"START {{seed}} {{name}}", flush=True)
    folder = tempfile.mkdtemp()
    reset_peak()
    problem = check_case(case, folder)
    peak = peak_kib()
    shutil.rmtree(folder, ignore_errors=True)
    print(f"DONE {{seed}} {{name}} {{peak}} {{problem!r}}", flush=True)
"""


def run_range(start: int, stop: int, seconds: float):
    """Run seeds [start, stop) in children; returns [(seed, generator, peak KiB or -1, problem or None)]."""
    results = []
    seed = start
    while seed < stop:
        code = CHILD.format(tests=str(ROOT / "tests"), root=str(ROOT), start=seed, stop=stop)
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        current = None
        last = time.monotonic()
        import selectors

        selector = selectors.DefaultSelector()
        selector.register(child.stdout, selectors.EVENT_READ)
        while True:
            if not selector.select(timeout=1.0):
                if current is not None and time.monotonic() - last > seconds:
                    child.kill()
                    results.append((current[0], current[1], -1, f"hang (> {seconds:g} s)"))
                    seed = current[0] + 1
                    break
                if child.poll() is not None:
                    pass
                continue
            line = child.stdout.readline()
            if not line:
                child.wait()
                if current is not None:
                    results.append((current[0], current[1], -1, f"crash (exit code {child.returncode})"))
                    seed = current[0] + 1
                else:
                    seed = stop
                break
            kind, number, name, *rest = line.rstrip("\n").split(" ", 4)
            last = time.monotonic()
            if kind == "START":
                current = (int(number), name)
            else:
                peak, problem = (int(rest[0]), rest[1]) if len(rest) == 2 else (-1, "None")
                results.append((int(number), name, peak, None if problem == "None" else problem))
                current = None
                seed = int(number) + 1
        selector.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=12_000)
    parser.add_argument("--seconds-per-input", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--peaks", metavar="CSV", help="Write seed,generator,peak_kib,problem for every input.")
    args = parser.parse_args()
    started = time.perf_counter()
    chunk = max(1, args.count // (args.workers * 4))
    ranges = [(s, min(s + chunk, args.start + args.count)) for s in range(args.start, args.start + args.count, chunk)]
    with ThreadPoolExecutor(args.workers) as pool:
        results = [r for part in pool.map(lambda r: run_range(r[0], r[1], args.seconds_per_input), ranges) for r in part]
    tried = collections.Counter(name for _, name, _, _ in results)
    bad = [r for r in results if r[3]]
    elapsed = time.perf_counter() - started
    print(f"inputs tried: {len(results)} in {elapsed:.0f} s ({', '.join(f'{k} {v}' for k, v in sorted(tried.items()))})")
    peaks = [r for r in results if r[2] > 0]
    if peaks:
        top = max(peaks, key=lambda r: r[2])
        by_generator = collections.defaultdict(int)
        for _, name, peak, _ in peaks:
            by_generator[name] = max(by_generator[name], peak)
        print(f"peak memory per input: median {sorted(p[2] for p in peaks)[len(peaks) // 2] / 1024:.0f} MiB, "
              f"largest {top[2] / 1024:.0f} MiB (seed {top[0]}, {top[1]}); largest per generator: "
              + ", ".join(f"{k} {v / 1024:.0f}" for k, v in sorted(by_generator.items())))
    if args.peaks:
        with open(args.peaks, "w", encoding="utf-8") as fh:
            fh.write("seed,generator,peak_kib,problem\n")
            for seed, name, peak, problem in sorted(results):
                fh.write(f"{seed},{name},{peak},{(problem or '').replace(',', ';')}\n")
    print(f"misbehaved: {len(bad)}")
    for seed, name, _peak, problem in bad[:30]:
        print(f"  seed {seed} ({name}): {problem[:200]}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
