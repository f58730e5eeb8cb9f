"""Every input format and option, through the library and the CLI; every bad input of the loading issue."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp

from condiag.errors import ExitCode, InputError
from condiag.io import load_problem, split_spec

A3 = np.array([[1.0, 2.0], [3.0, 4.5], [5.0, -6.0]])
B3 = np.array([1.0, 0.5, -2.0])


# ---------------------------------------------------------------------------- formats
def test_npy_with_rhs(tmp_path):
    np.save(tmp_path / "A.npy", A3)
    np.save(tmp_path / "b.npy", B3)
    p = load_problem(str(tmp_path / "A.npy"), str(tmp_path / "b.npy"))
    np.testing.assert_array_equal(p.A, A3)
    np.testing.assert_array_equal(p.b, B3)
    assert p.has_rhs and p.rhs_source.endswith("b.npy")


def test_npy_float32_kept_as_input_dtype(tmp_path):
    np.save(tmp_path / "A.npy", A3.astype(np.float32))
    p = load_problem(str(tmp_path / "A.npy"))
    assert p.input_dtype == "float32" and p.A.dtype == np.float64 and not p.has_rhs


@pytest.mark.parametrize("names", [("A", "b"), ("X", "y")])
def test_npz_auto_keys(tmp_path, names):
    np.savez(tmp_path / "p.npz", **{names[0]: A3, names[1]: B3})
    p = load_problem(str(tmp_path / "p.npz"))
    np.testing.assert_array_equal(p.b, B3)
    assert p.source.endswith(f":{names[0]}")


def test_npz_explicit_keys_and_spec_key(tmp_path):
    np.savez(tmp_path / "p.npz", design=A3, target=B3, other=A3 * 2)
    p = load_problem(str(tmp_path / "p.npz"), a_key="other", b_key="target")
    np.testing.assert_array_equal(p.A, A3 * 2)
    p2 = load_problem(str(tmp_path / "p.npz") + ":design", b_key="target")
    np.testing.assert_array_equal(p2.A, A3)


def test_npz_missing_key_lists_available(tmp_path):
    np.savez(tmp_path / "p.npz", M=A3, N=A3)
    with pytest.raises(InputError) as err:
        load_problem(str(tmp_path / "p.npz"))
    assert "M 3x2" in str(err.value) and "N 3x2" in str(err.value)
    with pytest.raises(InputError, match="no entry 'Z'"):
        load_problem(str(tmp_path / "p.npz"), a_key="Z")


def test_npz_ambiguous(tmp_path):
    np.savez(tmp_path / "p.npz", A=A3, X=A3)
    with pytest.raises(InputError, match="ambiguous"):
        load_problem(str(tmp_path / "p.npz"))


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_scipy_sparse_npz_stays_sparse(tmp_path, fmt):
    M = sp.random(30, 8, density=0.3, random_state=1, format=fmt)
    sp.save_npz(tmp_path / "s.npz", M)
    np.save(tmp_path / "b.npy", np.ones(30))
    p = load_problem(str(tmp_path / "s.npz"), str(tmp_path / "b.npy"))
    assert p.sparse
    np.testing.assert_allclose(p.A.toarray(), M.toarray())


def test_csv_header_target_by_name_and_index(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("alpha,beta,out\n1,2,3\n4,5,6\n7,8.5,9\n")
    p = load_problem(str(path), target="out")
    assert p.column_names == ("alpha", "beta")
    np.testing.assert_array_equal(p.b, [3, 6, 9])
    p2 = load_problem(str(path), target="-1")
    np.testing.assert_array_equal(p2.b, [3, 6, 9])
    p3 = load_problem(str(path), target="0")
    assert p3.column_names == ("beta", "out")


def test_csv_auto_target_column_b_and_none(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x0,x1,b\n1,2,3\n4,5,6\n")
    p = load_problem(str(path))
    np.testing.assert_array_equal(p.b, [3, 6])
    assert any("column 'b'" in n for n in p.notes)
    p2 = load_problem(str(path), target="none")
    assert p2.n_cols == 3 and not p2.has_rhs


def test_csv_no_header_and_tsv_and_bom_and_comments(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_text("\ufeff# comment\n1\t2\t3\n\n4\t5\t6\n", encoding="utf-8")
    p = load_problem(str(path), target="2", header=False)
    np.testing.assert_array_equal(p.A, [[1, 2], [4, 5]])
    assert p.column_names == ("x[0]", "x[1]")


def test_csv_semicolon_delimiter_and_quotes(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('"a";"b"\n"1.5";2\n3;4\n')
    p = load_problem(str(path), target="none")
    np.testing.assert_array_equal(p.A, [[1.5, 2], [3, 4]])


def test_hdf5_story2_layout(tmp_path):
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f["kernels/train_kernel"] = A3
        f["vectors/train_vector"] = B3
        f["kernels/test_kernel"] = A3
    p = load_problem(f"{path}:kernels/train_kernel", f"{path}:vectors/train_vector")
    np.testing.assert_array_equal(p.A, A3)
    np.testing.assert_array_equal(p.b, B3)


def test_hdf5_single_dataset_without_key(tmp_path):
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f["group/only"] = A3
    p = load_problem(str(path))
    np.testing.assert_array_equal(p.A, A3)


def test_hdf5_group_key_is_an_error(tmp_path):
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f["g/a"] = A3
        f["g/b"] = A3
    with pytest.raises(InputError, match="is a group"):
        load_problem(f"{path}:g")


def test_mtx_stays_sparse_and_rhs(data_dir):
    p = load_problem(str(data_dir / "matrices" / "well1033.mtx"), str(data_dir / "matrices" / "well1033_rhs1.mtx"))
    assert p.sparse and p.A.shape == (1033, 320) and p.b.shape == (1033,)


def test_mat_v5_and_v73(tmp_path):
    scipy.io.savemat(tmp_path / "v5.mat", {"A": A3, "b": B3})
    p = load_problem(str(tmp_path / "v5.mat"))
    np.testing.assert_array_equal(p.A, A3)
    np.testing.assert_array_equal(p.b, B3)
    # v7.3 is HDF5 with a MATLAB header and column-major storage
    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f["A"] = A3.T
        f["b"] = B3[None, :]
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, created by a test".ljust(116, b" "))
    p = load_problem(str(path), b_key="b")
    np.testing.assert_array_equal(p.A, A3)
    np.testing.assert_array_equal(p.b, B3)


def test_mat_sparse_v5(tmp_path):
    M = sp.random(10, 4, density=0.5, random_state=0, format="csc")
    scipy.io.savemat(tmp_path / "s.mat", {"A": M})
    p = load_problem(str(tmp_path / "s.mat"))
    assert p.sparse
    np.testing.assert_allclose(p.A.toarray(), M.toarray())


@pytest.mark.parametrize("fmt", ["npy", "npz", "csv"])
def test_stdin(fmt, tmp_path):
    buffer = io.BytesIO()
    if fmt == "npy":
        np.save(buffer, A3)
    elif fmt == "npz":
        np.savez(buffer, A=A3, b=B3)
    else:
        buffer.write(b"a,b\n1,2\n3,4.5\n5,-6\n")
    buffer.seek(0)
    p = load_problem("-", fmt=fmt, stdin=buffer, target="none" if fmt == "csv" else None)
    np.testing.assert_array_equal(p.A, A3)


def test_intercept_and_ridge_and_quadratic(tmp_path):
    np.save(tmp_path / "A.npy", A3)
    p = load_problem(str(tmp_path / "A.npy"), intercept=True, ridge=0.5)
    assert p.n_cols == 3 and p.column_names[-1] == "intercept" and p.ridge == 0.5
    np.save(tmp_path / "Q.npy", np.array([[2.0, 1.0], [1.0, 3.0]]))
    q = load_problem(str(tmp_path / "Q.npy"), objective="quadratic")
    assert q.is_quadratic and np.all(q.b == 0)


def test_split_spec_prefers_existing_path(tmp_path):
    odd = tmp_path / "we:ird.npy"
    np.save(odd, A3)
    assert split_spec(str(odd)) == (str(odd), None)
    assert split_spec("data.h5:kernels/train") == ("data.h5", "kernels/train")


# ---------------------------------------------------------------------------- bad input (library)
def _bad(tmp_path, name, writer):
    path = tmp_path / name
    writer(path)
    return str(path)


BAD_INPUTS = {
    "missing file": (lambda t: str(t / "nope.npy"), "no such file"),
    "unknown extension": (lambda t: _bad(t, "a.xyz", lambda p: p.write_text("1")), "unknown file extension"),
    "object array": (lambda t: _bad(t, "o.npy", lambda p: np.save(p, np.array([{}, 1], dtype=object), allow_pickle=True)), "Python objects"),
    "nan": (lambda t: _bad(t, "n.npy", lambda p: np.save(p, np.array([[1.0, np.nan], [np.inf, 2.0], [np.nan, 1.0]]))), "3 NaN/Inf values, the first at m[0, 1]"),
    "empty": (lambda t: _bad(t, "e.npy", lambda p: np.save(p, np.zeros((0, 3)))), "empty"),
    "not 2-D": (lambda t: _bad(t, "v.npy", lambda p: np.save(p, np.ones(4))), "2-D"),
    "3-D": (lambda t: _bad(t, "c.npy", lambda p: np.save(p, np.ones((2, 2, 2)))), "2-D"),
    "complex": (lambda t: _bad(t, "z.npy", lambda p: np.save(p, np.ones((2, 2), dtype=complex))), "complex"),
    "strings": (lambda t: _bad(t, "s.npy", lambda p: np.save(p, np.array([["a", "b"]]))), "string"),
    "csv bad cell": (lambda t: _bad(t, "b.csv", lambda p: p.write_text("a,b\n1,2\n3,abc\n")), "'abc' at line 3, column 2"),
    "csv complex cell": (lambda t: _bad(t, "c.csv", lambda p: p.write_text("1,2\n3,1+2j\n")), "complex number"),
    "csv ragged": (lambda t: _bad(t, "r.csv", lambda p: p.write_text("1,2\n3\n")), "line 2 has 1 fields"),
    "csv nan": (lambda t: _bad(t, "n.csv", lambda p: p.write_text("1,2\n3,nan\n")), "line 2, column 2"),
    "csv empty": (lambda t: _bad(t, "e.csv", lambda p: p.write_text("a,b\n")), "no data rows"),
    "truncated npy": (lambda t: _bad(t, "t.npy", lambda p: p.write_bytes(_npy_bytes(np.ones((50, 50)))[:300])), "truncated"),
    "garbage npy": (lambda t: _bad(t, "g.npy", lambda p: p.write_bytes(b"hello world, not numpy")), "not a valid .npy"),
    "garbage npz": (lambda t: _bad(t, "g.npz", lambda p: p.write_bytes(b"PK\x03\x04garbage")), "not a valid .npz"),
    "garbage h5": (lambda t: _bad(t, "g.h5", lambda p: p.write_bytes(b"nothing")), "not a readable HDF5"),
    "garbage mtx": (lambda t: _bad(t, "g.mtx", lambda p: p.write_text("not a matrix market file\n")), "Matrix Market"),
    "garbage mat": (lambda t: _bad(t, "g.mat", lambda p: p.write_bytes(b"\x00" * 200)), "MATLAB"),
    "huge declared shape": (lambda t: _bad(t, "h.npy", lambda p: p.write_bytes(_npy_header((10**7, 10**7)))), "truncated"),
}


def _npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npy_header(shape) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_library(tmp_path, case):
    make, message = BAD_INPUTS[case]
    path = make(tmp_path)
    with pytest.raises(InputError) as err:
        load_problem(path)
    assert message in str(err.value)
    assert os.path.basename(path) in str(err.value)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_cli_one_line_exit_3(tmp_path, run, case):
    make, message = BAD_INPUTS[case]
    path = make(tmp_path)
    result = run("analyze", path)
    assert result.code == ExitCode.BAD_INPUT
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.err
    assert result.out == ""


def test_traceback_flag_shows_it(tmp_path, run):
    result = run("analyze", tmp_path / "nope.npy", "--traceback")
    assert isinstance(result.exception, InputError)


def test_b_length_mismatch(tmp_path, run):
    np.save(tmp_path / "A.npy", A3)
    np.save(tmp_path / "b.npy", np.ones(5))
    result = run("analyze", tmp_path / "A.npy", "--rhs", tmp_path / "b.npy")
    assert result.code == 3 and "b has 5 entries but A has 3 rows" in result.err


def test_quadratic_not_square_or_symmetric(tmp_path, run):
    np.save(tmp_path / "R.npy", A3)
    result = run("analyze", tmp_path / "R.npy", "--objective", "quadratic")
    assert result.code == 3 and "square symmetric" in result.err
    np.save(tmp_path / "N.npy", np.array([[1.0, 2.0], [0.0, 1.0]]))
    result = run("analyze", tmp_path / "N.npy", "--objective", "quadratic")
    assert result.code == 3 and "Q[0,1] = 2 differs from Q[1,0] = 0" in result.err


def test_memory_check_refuses_before_allocating(tmp_path, monkeypatch):
    import condiag.memory as memory

    np.save(tmp_path / "A.npy", np.ones((100, 100)))
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 1000)
    with pytest.raises(InputError, match="more than the .* of memory available"):
        load_problem(str(tmp_path / "A.npy"))


def test_pickle_payload_never_runs(tmp_path):
    """A .npy/.npz whose payload is a pickle that would create a file: refused, file not created."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    array = np.empty(1, dtype=object)
    array[0] = Evil()
    np.save(tmp_path / "evil.npy", array, allow_pickle=True)
    np.savez(tmp_path / "evil.npz", A=array)
    for name in ("evil.npy", "evil.npz"):
        with pytest.raises(InputError, match="Python objects"):
            load_problem(str(tmp_path / name))
    assert not marker.exists()
    # and the raw pickle bytes are really there (the test would be vacuous otherwise)
    assert b"pwned" in (tmp_path / "evil.npy").read_bytes()


def test_zip_bomb_refused_from_declared_sizes(tmp_path, monkeypatch):
    import condiag.memory as memory

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("A.npy", _npy_bytes(np.zeros((2000, 2000))))
    assert path.stat().st_size < 200_000
    monkeypatch.setattr(memory, "available_memory_bytes", lambda: 10_000_000)
    with pytest.raises(InputError, match="uncompressed"):
        load_problem(str(path))


def test_hdf5_external_link_refused(tmp_path):
    target = tmp_path / "other.h5"
    with h5py.File(target, "w") as f:
        f["data"] = A3
    path = tmp_path / "linked.h5"
    with h5py.File(path, "w") as f:
        f["A"] = h5py.ExternalLink(str(target), "/data")
    with pytest.raises(InputError, match="external link to .*other.h5"):
        load_problem(f"{path}:A")
    p = load_problem(f"{path}:A", allow_external=True)
    np.testing.assert_array_equal(p.A, A3)


def test_hdf5_virtual_dataset_refused(tmp_path):
    source = tmp_path / "src.h5"
    with h5py.File(source, "w") as f:
        f["data"] = A3
    layout = h5py.VirtualLayout(shape=A3.shape, dtype="f8")
    layout[:] = h5py.VirtualSource(str(source), "data", shape=A3.shape)
    path = tmp_path / "virtual.h5"
    with h5py.File(path, "w") as f:
        f.create_virtual_dataset("A", layout)
    with pytest.raises(InputError, match="virtual dataset mapping .*src.h5"):
        load_problem(f"{path}:A")


def test_hdf5_string_and_compound_and_scalar(tmp_path):
    path = tmp_path / "odd.h5"
    with h5py.File(path, "w") as f:
        f["s"] = np.array([b"a", b"b"])
        f["c"] = np.zeros(3, dtype=[("a", "f8"), ("b", "i4")])
        f["x"] = 3.0
    for key, message in (("s", "string"), ("c", "compound"), ("x", "2-D")):
        with pytest.raises(InputError, match=message):
            load_problem(f"{path}:{key}")


def test_pickle_module_unused():
    """condiag's readers never import pickle-based loaders with allow_pickle=True."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent / "condiag"
    for source in root.rglob("*.py"):
        assert "allow_pickle=True" not in source.read_text(), source
    assert pickle  # imported above for the Evil payload


def test_stdin_through_the_cli(run, samples):
    data = (samples / "valley_2x2.npz").read_bytes()
    result = run("analyze", "-", "--format", "npz", "--json", input=data)
    assert result.code == 0, result.err
    assert result.json()["spectrum"]["condition_number"] == pytest.approx(1803.3, rel=1e-4)
    missing = run("analyze", "-", input=data)
    assert missing.code == ExitCode.BAD_INPUT and "--format" in missing.err


@pytest.mark.parametrize("text, names", [
    ("a,b\n1,2\n3.5,-4e-3\n", ["a", "b"]),
    ("1,2\n3,4\n", None),
    ("x\ty\n1\t2\n\n3\t4\n", ["x", "y"]),  # a blank line
    ("1 2\n  3   4\n", None),  # whitespace-delimited
    ('"a","b"\n"1","2"\n', ["a", "b"]),  # quoted
    ("a,b\n1,2\n# a comment\n3,4\n", ["a", "b"]),  # the careful reader handles comment lines
    ("a,b\n 1 , 2\n3,4\n", ["a", "b"]),  # spaces around numbers
])
def test_fast_and_careful_csv_readers_agree(tmp_path, text, names):
    """numpy's C parser (the fast path) and the csv-module reader give the same table, bit for bit."""
    from condiag.io import delimited

    path = tmp_path / ("t.tsv" if "\t" in text else "t.csv")
    path.write_text(text)
    fmt = "tsv" if "\t" in text else "csv"
    table, got_names = delimited.read_table(str(path), "t", fmt, None)
    import unittest.mock

    with unittest.mock.patch.object(delimited, "_read_with_loadtxt", lambda *a, **k: None):
        slow, slow_names = delimited.read_table(str(path), "t", fmt, None)
    np.testing.assert_array_equal(table, slow)
    assert got_names == slow_names == names


@pytest.mark.parametrize("text", ["a,b\r1,2\r3,4\r", "\ufeffa,b\r\n1,2\r\n3,4\r\n", "a,b\n1,2\r3,4\n", "\n\na,b\n1,2\n3,4"],
                         ids=["bare-cr", "bom-crlf", "mixed", "blank-lines-no-final-newline"])
def test_every_line_ending_reads_the_same_table(tmp_path, text):
    """The fast reader splits on \\n in chunks; bare \\r endings, a BOM with \\r\\n, mixed endings and leading blank
    lines still give the same table (bare \\r through the careful reader)."""
    from condiag.io.delimited import read_table

    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    values, names = read_table(str(path), "t.csv", "csv", None)
    assert names == ["a", "b"]
    np.testing.assert_array_equal(values, [[1.0, 2.0], [3.0, 4.0]])


def test_the_fast_reader_reads_lines_across_its_chunks(tmp_path, monkeypatch):
    """Chunks of 7 characters cut lines anywhere: the table is whole and exact, from the fast reader itself (the
    careful one is disabled here)."""
    from condiag.io import delimited

    def careful_reader_used(*args):
        raise AssertionError("the fast reader gave up")

    monkeypatch.setattr(delimited, "_BoundedLines", careful_reader_used)

    rng = np.random.default_rng(2)
    table = rng.standard_normal((50, 3))
    path = tmp_path / "t.csv"
    np.savetxt(path, table, delimiter=",", header="p,q,r", comments="")
    monkeypatch.setattr(delimited, "CHUNK_CHARS", 7)
    values, names = delimited.read_table(str(path), "t.csv", "csv", None)
    assert names == ["p", "q", "r"]
    np.testing.assert_array_equal(values, np.loadtxt(path, delimiter=",", skiprows=1))
