"""Generators of broken and hostile inputs (used by tests/test_robustness.py and benchmarks/fuzz.py).

File generators take a ``random.Random`` and return (file name, bytes). Case generators return a
:class:`Case`: files, links or special files to lay out, a spec to load, perhaps an analysis or a
command line to run. The contract under test: a Problem (or a report), or InputError / a clean
exit code with one line — never another exception, a crash, a hang or a confident wrong answer.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import struct
import threading
import zipfile
from dataclasses import dataclass, field

import numpy as np

SECRET = 12345.678
"""The value every external target holds: seeing it in a loaded matrix means a link was followed."""


def _npy(array, version=None) -> bytes:
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array)
    else:
        np.lib.format.write_array(buffer, array, version=version)
    return buffer.getvalue()


def _random_array(rng: random.Random):
    shape = (rng.randint(1, 6), rng.randint(1, 6))
    values = np.array([rng.uniform(-1e3, 1e3) for _ in range(shape[0] * shape[1])]).reshape(shape)
    return values.astype(rng.choice([np.float64, np.float32, np.int32, np.int8, np.float16]))


def _mutate(rng: random.Random, data: bytes, count: int = 4) -> bytes:
    data = bytearray(data)
    for _ in range(count):
        action = rng.random()
        if not data:
            break
        position = rng.randrange(len(data))
        if action < 0.4:
            data[position] = rng.randrange(256)
        elif action < 0.7:
            del data[position : position + rng.randint(1, 16)]
        else:
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(data)


def random_bytes(rng):
    ext = rng.choice([".npy", ".npz", ".csv", ".tsv", ".h5", ".mtx", ".mat"])
    return f"random{ext}", bytes(rng.randrange(256) for _ in range(rng.randint(0, 600)))


def truncated_valid(rng):
    kind = rng.choice(["npy", "npz", "csv", "mtx", "mat", "h5"])
    data = valid_file(rng, kind)
    cut = rng.randint(0, max(0, len(data) - 1))
    return f"truncated.{kind}", data[:cut]


def mutated_valid(rng):
    kind = rng.choice(["npy", "npz", "csv", "mtx", "mat", "h5"])
    return f"mutated.{kind}", _mutate(rng, valid_file(rng, kind), rng.randint(1, 8))


def npy_header(rng):
    """A .npy header with a hostile or wrong declaration, followed by a little data."""
    shape = rng.choice([(10**7, 10**7), (2**62, 2), (-1, 3), (3,), (2, 2, 2), (), (0, 5), (3, 3), (10**12,)])
    descr = rng.choice(["<f8", "<f4", "|O", "<c16", "|S5", "<U3", "[('a','<f8')]", "<f16", "|b1", "bogus", "<i8", ">f8"])
    fortran = rng.choice([True, False])
    header = "{'descr': %s, 'fortran_order': %s, 'shape': %r, }" % (descr if descr.startswith("[") else repr(descr), fortran, shape)
    header = header.encode("latin1")
    pad = 64 - ((10 + len(header) + 1) % 64)
    body = header + b" " * pad + b"\n"
    magic = b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little")
    return "header.npy", magic + body + bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))


def csv_tokens(rng):
    tokens = ["1", "-2.5", "1e308", "1e309", "nan", "inf", "", " ", "abc", '"1"', '"a,b"', "1+2j", "0x10", "1_000", "\u00a0", "𝟙", "--1", "."]
    sep = rng.choice([",", ";", "\t", " "])
    rows = []
    width = rng.randint(1, 5)
    for _ in range(rng.randint(0, 6)):
        w = width if rng.random() < 0.8 else rng.randint(0, 7)
        rows.append(sep.join(rng.choice(tokens) for _ in range(w)))
    prefix = "\ufeff" if rng.random() < 0.2 else ""
    text = prefix + rng.choice(["\n", "\r\n", "\n\n"]).join(rows)
    if rng.random() < 0.3:
        text = "a" + sep + "b\n" + text
    return rng.choice(["tokens.csv", "tokens.tsv"]), text.encode("utf-8", "surrogatepass")


def hdf5_odd(rng):
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        kind = rng.choice(["string", "compound", "scalar", "3d", "empty", "bool", "complex", "ok", "group-only", "vlen"])
        if kind == "string":
            f["A"] = np.array([b"x", b"y"])
        elif kind == "compound":
            f["A"] = np.zeros((2, 2), dtype=[("a", "f8"), ("b", "i4")])
        elif kind == "scalar":
            f["A"] = 3.0
        elif kind == "3d":
            f["A"] = np.ones((2, 2, 2))
        elif kind == "empty":
            f.create_dataset("A", data=h5py.Empty("f8"))
        elif kind == "bool":
            f["A"] = np.ones((3, 2), dtype=bool)
        elif kind == "complex":
            f["A"] = np.ones((2, 2), dtype=complex)
        elif kind == "group-only":
            f.create_group("g")
        elif kind == "vlen":
            dt = h5py.vlen_dtype(np.float64)
            ds = f.create_dataset("A", (2,), dtype=dt)
            ds[0] = [1.0]
        else:
            f["A"] = np.arange(6.0).reshape(3, 2)
    return "odd.h5", buffer.getvalue()


def npz_members(rng):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        choice = rng.choice(["text", "nested-zip", "array-and-junk", "empty", "object", "dir", "ok"])
        if choice == "text":
            zf.writestr("A.npy", b"not an array at all")
        elif choice == "nested-zip":
            zf.writestr("A.npy", valid_file(rng, "npz"))
        elif choice == "array-and-junk":
            zf.writestr("A.npy", _npy(_random_array(rng)))
            zf.writestr("b.npy", b"\x93NUMPY junk")
        elif choice == "object":
            zf.writestr("A.npy", _npy_object())
        elif choice == "dir":
            zf.writestr("A/", b"")
        elif choice == "ok":
            zf.writestr("A.npy", _npy(np.eye(3)))
            zf.writestr("b.npy", _npy(np.ones(3)))
    return "members.npz", buffer.getvalue()


def _npy_object() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([1, "x"], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def valid_file(rng, kind: str) -> bytes:
    A = _random_array(rng)
    if kind == "npy":
        return _npy(A, version=rng.choice([None, (1, 0), (2, 0)]))
    if kind == "npz":
        buffer = io.BytesIO()
        np.savez_compressed(buffer, A=A, b=np.ones(A.shape[0])) if rng.random() < 0.5 else np.savez(buffer, A=A)
        return buffer.getvalue()
    if kind == "csv":
        return "\n".join(",".join(repr(float(v)) for v in row) for row in A).encode()
    if kind == "mtx":
        import scipy.io
        import scipy.sparse as sp

        buffer = io.BytesIO()
        scipy.io.mmwrite(buffer, sp.coo_matrix(A.astype(float)) if rng.random() < 0.5 else A.astype(float))
        return buffer.getvalue()
    if kind == "mat":
        import scipy.io

        buffer = io.BytesIO()
        scipy.io.savemat(buffer, {"A": A.astype(float), "b": np.ones(A.shape[0])})
        return buffer.getvalue()
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f["A"] = A
    return buffer.getvalue()


# ---------------------------------------------------------------------------- cases beyond one file
@dataclass
class Case:
    """One fuzz input: what to lay out in a folder and what to run on it."""

    filename: str
    data: bytes = b""
    extra: dict = field(default_factory=dict)
    """Other files to write beside it (name -> bytes), e.g. the target of an external link."""
    special: str | None = None
    """'fifo' (written by a thread), 'symlink-loop', 'dir' or 'dangling-link' instead of a regular file."""
    key: str | None = None
    """Appended to the path as ``PATH:KEY``."""
    rhs_key: str | None = None
    """Load b from the same file under this key (``--rhs PATH:KEY``)."""
    solve: bool = False
    """Also solve the loaded problem and check the answer scales exactly with A (powers of two)."""
    argv: list | None = None
    """A command line to run instead of loading; ``{path}`` is replaced by the laid-out file."""


def sparse_indices(rng):
    """scipy.sparse archives whose index arrays, pointers or shape lie (the segfaults of issue 11)."""
    fmt = rng.choice(["csr", "csc", "coo"])
    rows, cols = rng.randint(1, 6), rng.randint(1, 6)
    nnz = rng.randint(0, rows * cols)
    lie = rng.choice(["index", "negative", "pointer-end", "pointer-order", "pointer-length", "shape", "huge-shape",
                      "dtype", "lengths", "ok"])
    shape = [rows, cols]
    data = np.array([rng.uniform(-5, 5) for _ in range(nnz)])
    major, minor = (rows, cols) if fmt == "csr" else (cols, rows)
    if fmt == "coo":
        parts = {"row": np.array([rng.randrange(rows) for _ in range(nnz)], dtype=np.int32),
                 "col": np.array([rng.randrange(cols) for _ in range(nnz)], dtype=np.int32)}
        target = rng.choice(["row", "col"])
    else:
        counts = np.bincount([rng.randrange(major) for _ in range(nnz)], minlength=major)
        parts = {"indptr": np.concatenate([[0], np.cumsum(counts)]).astype(np.int32),
                 "indices": np.array([rng.randrange(minor) for _ in range(nnz)], dtype=np.int32)}
        target = "indices"
    if lie == "index" and nnz:
        parts[target][rng.randrange(nnz)] = rng.choice([minor if fmt != "coo" else max(rows, cols), 5_000_000, 2**31 - 1])
    elif lie == "negative" and nnz:
        parts[target][rng.randrange(nnz)] = -rng.randint(1, 10)
    elif lie.startswith("pointer") and fmt != "coo":
        if lie == "pointer-end":
            parts["indptr"][-1] += rng.choice([-1, 1, 1000])
        elif lie == "pointer-order" and major > 1:
            parts["indptr"][rng.randint(1, major - 1)] = nnz + 3
        else:
            parts["indptr"] = parts["indptr"][:-1]
    elif lie == "shape":
        shape = [rng.randint(0, 3), rng.randint(0, 3)]
    elif lie == "huge-shape":
        shape = [rng.choice([10**9, 2**40, 10**7]), rng.choice([10**9, 3, 10**7])]
    elif lie == "dtype":
        parts[target] = parts[target].astype(rng.choice([np.float64, np.uint64, np.int8]))
    elif lie == "lengths":
        data = np.append(data, 1.0)
    buffer = io.BytesIO()
    np.savez(buffer, format=np.array(fmt), shape=np.array(shape), data=data, **parts)
    return Case(f"sparse-{lie}.npz", buffer.getvalue())


def mat_sparse(rng):
    """MAT v5 and v7.3 sparse matrices with patched ir/jc arrays."""
    n = rng.randint(2, 5)
    ir = list(range(n))
    jc = list(range(n + 1))
    lie = rng.choice(["ir", "jc-order", "jc-end", "ok"])
    if lie == "ir":
        ir[rng.randrange(n)] = rng.choice([n, 5_000_000, 2**31])
    elif lie == "jc-order":
        jc[rng.randint(1, n - 1)] = n + 1
    elif lie == "jc-end":
        jc[-1] = n + rng.choice([1, 100])
    if rng.random() < 0.5:
        import h5py

        buffer = io.BytesIO()
        with h5py.File(buffer, "w", userblock_size=512) as f:
            group = f.create_group("A")
            group.attrs["MATLAB_sparse"] = np.uint64(n)
            group["data"] = np.ones(n)
            group["ir"] = np.array(ir, dtype=np.uint64)
            group["jc"] = np.array(jc, dtype=np.uint64)
        raw = bytearray(buffer.getvalue())
        raw[:128] = b"MATLAB 7.3 MAT-file".ljust(116, b" ") + b"\0" * 8 + b"\x00\x02IM"
        return Case(f"sparse73-{lie}.mat", bytes(raw))
    import scipy.io
    import scipy.sparse as sp

    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"A": sp.csc_matrix(np.eye(n))}, do_compression=False)
    raw = bytearray(buffer.getvalue())
    ir_at = raw.index(struct.pack("<" + "I" * n, *range(n)), 0xA8)
    jc_at = raw.index(struct.pack("<" + "I" * (n + 1), *range(n + 1)), ir_at + 4 * n)
    struct.pack_into("<" + "I" * (n + 1), raw, jc_at, *[v & 0xFFFFFFFF for v in jc])
    struct.pack_into("<" + "I" * n, raw, ir_at, *[v & 0xFFFFFFFF for v in ir])
    return Case(f"sparse5-{lie}.mat", bytes(raw))


def hdf5_links(rng):
    """External and soft links at every path component; the target file holds :data:`SECRET`."""
    import h5py

    target = io.BytesIO()
    with h5py.File(target, "w") as f:
        f["secret"] = np.full((3, 3), SECRET)
        f["g/secret"] = np.full((3, 3), SECRET)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f["A"] = np.eye(3) + 1.0
        f["b"] = np.ones(3)
        f["ext"] = h5py.ExternalLink("target.h5", "/")
        f["ext_ds"] = h5py.ExternalLink("target.h5", "/secret")
        f["soft_ext"] = h5py.SoftLink("/ext")
        f["soft_soft"] = h5py.SoftLink("/soft_ext")
        f["loop"] = h5py.SoftLink("/loop")
        f["inside"] = h5py.SoftLink("/A")
        f["dangling"] = h5py.SoftLink("/nowhere")
        f.create_group("grp")
        f["grp/up"] = h5py.SoftLink("/ext")
    key = rng.choice(["ext/secret", "ext/g/secret", "ext_ds", "soft_ext/secret", "soft_soft/g/secret", "loop", "inside",
                      "dangling", "grp/up/secret", "/ext/secret", "A", "soft_ext/../secret"])
    where = rng.choice(["matrix", "rhs"])
    return Case("links.h5", buffer.getvalue(), extra={"target.h5": target.getvalue()},
                key=key if where == "matrix" else "A", rhs_key=key if where == "rhs" else None)


def special_files(rng):
    """A FIFO fed by a thread, a symlink loop, a directory or a dangling link in place of the file."""
    kind = rng.choice(["fifo", "symlink-loop", "dir", "dangling-link"])
    ext = rng.choice([".npy", ".npz", ".csv", ".mtx"])
    data = valid_file(rng, ext[1:]) if kind == "fifo" else b""
    return Case(f"special{ext}", data, special=kind)


def extreme_values(rng):
    """Matrices scaled by 10^k for k across float64's range, with zero columns, duplicates and rank loss."""
    rows, cols = rng.randint(1, 12), rng.randint(1, 6)
    A = np.array([[rng.gauss(0, 1) for _ in range(cols)] for _ in range(rows)])
    shape = rng.choice(["plain", "zero-column", "duplicate-column", "zero", "mixed-scales", "tiny-entry"])
    if shape == "zero-column" and cols > 1:
        A[:, rng.randrange(cols)] = 0.0
    elif shape == "duplicate-column" and cols > 1:
        A[:, 1] = A[:, 0]
    elif shape == "zero":
        A[:] = 0.0
    elif shape == "mixed-scales":
        A[:, 0] *= 10.0 ** rng.randint(-150, 150)
    elif shape == "tiny-entry":
        A[rng.randrange(rows), rng.randrange(cols)] = 5e-324
    exponent = rng.choice([0, rng.randint(-320, 308), rng.choice([-300, -200, -165, -160, 150, 154, 160, 300, 307])])
    with np.errstate(all="ignore"):
        A = A * 10.0**exponent
    b = np.array([rng.gauss(0, 1) for _ in range(rows)]) * 10.0 ** rng.choice([0, exponent, -exponent // 2])
    buffer = io.BytesIO()
    np.savez(buffer, A=A, b=b)
    return Case(f"extreme-{shape}.npz", buffer.getvalue(), solve=True)


OPTION_VALUES = {
    "--lr": ["1e-5", "0", "-1", "nan", "inf", "5e-324", "1e308", "1e-300", "abc", ""],
    "--steps": ["0", "1", "-1", "1e3", "1000000000000000", "99999999999999999999", "x"],
    "--tol": ["1e-6", "0", "1", "nan", "-1", "1e-320", "0.5"],
    "--ridge": ["0", "1e-3", "-1", "nan", "inf", "1e308", "1e150", "1e151"],
    "--max-condition": ["1e4", "-5", "0", "nan", "inf", "1"],
    "--min-lr-margin": ["1.5", "0", "-1", "nan", "inf"],
    "--memory-limit": ["1G", "10K", "inf", "-5", "0", "lots", "1e30", "1"],
    "--x0": ["1,2", "nan,1", "1", "1,2,3", "inf,inf", "", ",", "1e308,1e308"],
    "--loss": ["sum", "mean", "median"],
    "--fail-on": ["never", "error", "sometimes"],
    "--method": ["auto", "exact", "iterative", "magic"],
}
COMPARE_VALUES = {
    "--max-iter": ["1", "10", "0", "-1", "1e19", "9300000000000000000", "1000000000000"],
    "--time-limit": ["0.5", "0", "nan", "-1", "inf"],
    "--seed": ["0", "-1", "4294967296", "x"],
    "--dtype": ["float32", "float64", "float16"],
    "--solvers": ["gd", "all,gd", "nope", ",", "gd,gd", "gd-armijo,momentum"],
    "--param": ["gd-armijo.lr=inf", "gd-armijo.shrink=1", "gd-armijo.shrink=nan", "gd-armijo.grow=inf", "adam.lr=0.1",
                "adam.beta1=1", "sgd.batch_size=0.5", "momentum.beta=auto", "gd.lr=auto", "x.y=1", "adam.lr"],
    "--require-converged": ["gd", "nope", "all"],
}


def option_values(rng):
    """A command line with one to three random option values on the valley problem (run in-process)."""
    command = rng.choice(["analyze", "compare", "solve"])
    table = dict(OPTION_VALUES)
    if command == "compare":
        table.update(COMPARE_VALUES)
    elif command == "solve":
        table = {k: table[k] for k in ("--ridge", "--loss", "--method", "--memory-limit")}
    argv = [command, "{path}"]
    for option in rng.sample(sorted(table), rng.randint(1, 3)):
        argv += [option, rng.choice(table[option])]
    if command == "compare" and "--max-iter" not in argv:
        argv += ["--max-iter", "200"]
    A = np.array([[-249.69, -4.1511], [-4.1511, -0.20755]])
    buffer = io.BytesIO()
    np.savez(buffer, A=A, b=np.array([0.0, 10.0]))
    return Case("valley.npz", buffer.getvalue(), argv=argv)


FILE_GENERATORS = {
    "random-bytes": random_bytes,
    "truncated": truncated_valid,
    "mutated": mutated_valid,
    "npy-header": npy_header,
    "csv-tokens": csv_tokens,
    "hdf5-odd": hdf5_odd,
    "npz-members": npz_members,
}
CASE_GENERATORS = {
    "sparse-indices": sparse_indices,
    "mat-sparse": mat_sparse,
    "hdf5-links": hdf5_links,
    "special-files": special_files,
    "extreme-values": extreme_values,
    "option-values": option_values,
}
GENERATORS = {**FILE_GENERATORS, **CASE_GENERATORS}


def make_case(name: str, rng) -> Case:
    made = GENERATORS[name](rng)
    return made if isinstance(made, Case) else Case(*made)


def lay_out(case: Case, folder: str):
    """Write the case's files; returns (spec, rhs spec or None, writer thread or None)."""
    path = os.path.join(folder, case.filename)
    for name, data in case.extra.items():
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(data)
    writer = None
    if case.special == "fifo":
        os.mkfifo(path)

        def feed():
            with contextlib.suppress(OSError), open(path, "wb") as fh:
                fh.write(case.data)

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
    elif case.special == "symlink-loop":
        os.symlink(path + ".other", path)
        os.symlink(path, path + ".other")
    elif case.special == "dir":
        os.mkdir(path)
    elif case.special == "dangling-link":
        os.symlink(os.path.join(folder, "nowhere"), path)
    else:
        with open(path, "wb") as fh:
            fh.write(case.data)
    spec = f"{path}:{case.key}" if case.key else path
    rhs = f"{path}:{case.rhs_key}" if case.rhs_key else None
    return spec, rhs, writer


def check_case(case: Case, folder: str):
    """Run one case; None when the contract held, else a description of the misbehaviour."""
    spec, rhs, writer = lay_out(case, folder)
    try:
        if case.argv is not None:
            return _check_command([a.replace("{path}", spec) for a in case.argv])
        return _check_load(spec, rhs, case.solve)
    finally:
        if writer is not None:
            if writer.is_alive():  # nobody opened the FIFO for reading: release the writer
                with contextlib.suppress(OSError):
                    os.close(os.open(spec, os.O_RDONLY | os.O_NONBLOCK))
            writer.join(timeout=5)


def _check_load(spec: str, rhs, solve: bool):
    from condiag.errors import InputError
    from condiag.io import load_problem

    try:
        problem = load_problem(spec, rhs=rhs)
        if problem.sparse:
            values = problem.A.data
        else:
            values = np.asarray(problem.A).ravel()
        if np.any(values == SECRET) or np.any(problem.b == SECRET):
            return "read data through an external link"
        if solve:
            return _check_solution(problem)
    except InputError as error:
        message = str(error)
        if "\n" in message.strip():
            return f"multi-line message: {message!r}"
        return None
    except Exception as error:  # noqa: BLE001 - this is what we look for
        return f"{type(error).__name__}: {error}"
    return None


def _check_solution(problem):
    """solve and analyze either answer or refuse; an answer claimed to 10+ digits must scale exactly with A."""
    import warnings

    from condiag.analysis import analyze
    from condiag.errors import InputError
    from condiag.problem import Problem
    from condiag.reference import solve

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            analyze(problem, [1e-3])
        except InputError:
            pass
        try:
            reference = solve(problem)
        except InputError:
            return None
        digits = reference.accuracy.get("correct_digits")
        if digits is None or digits < 10 or not np.all(np.isfinite(reference.x)) or problem.sparse:
            return None
        shift = 64 if float(np.max(np.abs(problem.A))) < 1e250 else -64
        scaled = solve(Problem.create(np.ldexp(problem.A, shift), problem.b))
    expected = np.ldexp(reference.x, -shift)
    with np.errstate(all="ignore"):
        error = float(np.max(np.abs(scaled.x - expected)) / max(float(np.max(np.abs(expected))), 1e-300))
    if error > 1e-8:
        return f"solve claims {digits:.1f} digits but scaling A by 2^{shift} moves x by {error:.2g}"
    return None


def _check_command(argv):
    """Run the command line in-process: exit 0-3 with at most one error line; never 70."""
    from condiag.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    if code not in (0, 1, 2, 3):
        return f"exit {code} for {' '.join(argv[2:])}: {err.getvalue()[:300]!r}"
    if code in (2, 3) and len(lines) != 1:
        return f"{len(lines)} stderr lines with exit {code} for {' '.join(argv[2:])}: {err.getvalue()[:300]!r}"
    if "Traceback" in err.getvalue():
        return f"traceback for {' '.join(argv[2:])}"
    return None


def check_one(path: str):
    """Load a file; return None when the contract held, else a description of the misbehaviour."""
    return _check_load(path, None, False)


def generate(seed: int):
    """(generator name, Case) for a seed: every generator, file and case kinds alike."""
    rng = random.Random(seed)
    name = rng.choice(sorted(GENERATORS))
    return name, make_case(name, rng)
