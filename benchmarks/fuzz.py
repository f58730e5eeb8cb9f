"""Long fuzz run over every reader: prints how many inputs were tried and how many misbehaved.

    python benchmarks/fuzz.py [--count 12000] [--seconds-per-input 10] [--workers 2]

Inputs come from tests/fuzz_inputs.py (random bytes, truncated and mutated valid files, hostile
.npy headers, CSV token soup, odd HDF5 datasets, npz members that are not arrays). Batches run in
child processes that report each input as they finish it, so a crash (e.g. a segmentation fault
in a compiled reader) or a hang is pinned on the exact input and the run goes on. The contract:
a loaded problem, or InputError (exit code 3 with one line) — nothing else, within the time limit.
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
import os, sys, tempfile
sys.path.insert(0, {tests!r}); sys.path.insert(0, {root!r})
from fuzz_inputs import check_one, generate
folder = tempfile.mkdtemp()
for seed in range({start}, {stop}):
    name, filename, data = generate(seed)
    print(f"START {{seed}} {{name}}", flush=True)
    path = os.path.join(folder, filename)
    with open(path, "wb") as fh:
        fh.write(data)
    problem = check_one(path)
    os.unlink(path)
    print(f"DONE {{seed}} {{name}} {{problem!r}}", flush=True)
"""


def run_range(start: int, stop: int, seconds: float):
    """Run seeds [start, stop) in children; returns [(seed, generator, problem or None)]."""
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
                    results.append((current[0], current[1], f"hang (> {seconds:g} s)"))
                    seed = current[0] + 1
                    break
                if child.poll() is not None:
                    pass
                continue
            line = child.stdout.readline()
            if not line:
                child.wait()
                if current is not None:
                    results.append((current[0], current[1], f"crash (exit code {child.returncode})"))
                    seed = current[0] + 1
                else:
                    seed = stop
                break
            kind, number, name, *rest = line.rstrip("\n").split(" ", 3)
            last = time.monotonic()
            if kind == "START":
                current = (int(number), name)
            else:
                problem = rest[0] if rest else "None"
                results.append((int(number), name, None if problem == "None" else problem))
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
    args = parser.parse_args()
    started = time.perf_counter()
    chunk = max(1, args.count // (args.workers * 4))
    ranges = [(s, min(s + chunk, args.start + args.count)) for s in range(args.start, args.start + args.count, chunk)]
    with ThreadPoolExecutor(args.workers) as pool:
        results = [r for part in pool.map(lambda r: run_range(r[0], r[1], args.seconds_per_input), ranges) for r in part]
    tried = collections.Counter(name for _, name, _ in results)
    bad = [r for r in results if r[2]]
    elapsed = time.perf_counter() - started
    print(f"inputs tried: {len(results)} in {elapsed:.0f} s ({', '.join(f'{k} {v}' for k, v in sorted(tried.items()))})")
    print(f"misbehaved: {len(bad)}")
    for seed, name, problem in bad[:30]:
        print(f"  seed {seed} ({name}): {problem[:200]}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
