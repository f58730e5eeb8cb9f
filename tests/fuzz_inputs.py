"""Generators of broken and hostile inputs for every reader (used by tests/test_fuzz.py and benchmarks/fuzz.py).

Each generator takes a ``random.Random`` and returns (file name, bytes). The contract under test:
loading either gives a Problem or raises InputError — never another exception, never a hang.
"""

from __future__ import annotations

import io
import random
import zipfile

import numpy as np


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


GENERATORS = {
    "random-bytes": random_bytes,
    "truncated": truncated_valid,
    "mutated": mutated_valid,
    "npy-header": npy_header,
    "csv-tokens": csv_tokens,
    "hdf5-odd": hdf5_odd,
    "npz-members": npz_members,
}


def check_one(path: str):
    """Load a file; return None when the contract held, else a description of the misbehaviour."""
    from condiag.errors import InputError
    from condiag.io import load_problem

    try:
        load_problem(path)
    except InputError as error:
        message = str(error)
        if "\n" in message.strip():
            return f"multi-line message: {message!r}"
        return None
    except Exception as error:  # noqa: BLE001 - this is what we look for
        return f"{type(error).__name__}: {error}"
    return None


def generate(seed: int):
    rng = random.Random(seed)
    name = rng.choice(sorted(GENERATORS))
    filename, data = GENERATORS[name](rng)
    return name, filename, data
