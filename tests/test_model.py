"""condiag model: the curvature of a real PyTorch model's loss against its exact Hessian (formed densely with
torch.autograd.functional.hessian on small models), against condiag analyze for a linear model, and the safety
of what it reads (never a pickle)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

MODELS = '''
import torch

def mlp():
    return torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1))

def linear():
    return torch.nn.Linear(3, 1)

def classifier():
    return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4))

def not_a_module():
    return 3
'''


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(40)
    np.savez(tmp_path / "data.npz", inputs=X, targets=y)
    np.savez(tmp_path / "classes.npz", x=X, y=rng.integers(0, 4, size=40).astype(float))
    (tmp_path / "models.py").write_text(MODELS)
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)).double()
    from safetensors.torch import save_file

    save_file(model.state_dict(), str(tmp_path / "w.safetensors"))
    torch.save(model.state_dict(), tmp_path / "w.pt")
    torch.save(model, tmp_path / "pickled.pt")  # a full pickle: must be refused
    return tmp_path, model, X, y


def exact_hessian(model, inputs, loss_fn):
    """The dense Hessian of loss_fn(model(inputs)) in the parameters' order (a reference only small models afford)."""
    from torch.func import functional_call

    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def f(theta):
        params, start = {}, 0
        for name, shape in zip(names, shapes):
            size = int(np.prod(shape))
            params[name] = theta[start:start + size].reshape(shape)
            start += size
        return loss_fn(functional_call(model, params, (inputs,)))

    return torch.autograd.functional.hessian(f, flat).detach().numpy()


def model_json(run, *args):
    result = run("model", *map(str, args), "--json")
    assert result.code in (0, 1), result.err
    return result.json()


def test_spectrum_trace_and_blocks_equal_the_exact_hessian(run, files):
    tmp, model, X, y = files
    report = model_json(run, f"{tmp}/models.py:mlp", "--data", tmp / "data.npz", "--weights", tmp / "w.safetensors",
                        "--lr", "0.1", "--lr", "1", "--trace-probes", "200")
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    H = exact_hessian(model, Xt, lambda out: torch.nn.functional.mse_loss(out.reshape(-1), yt))
    eig = np.linalg.eigvalsh(H)
    h = report["hessian"]
    assert report["model"]["n_parameters"] == H.shape[0] == 31 and report["model"]["dtype"] == "float64"
    assert h["lambda_max"] == pytest.approx(eig[-1], rel=1e-9) and h["lambda_min"] == pytest.approx(eig[0], rel=1e-9, abs=1e-12)
    assert h["lambda_max"] <= eig[-1] * (1 + 1e-12)  # a Ritz value never exceeds λmax
    for entry in h["top"]:  # every reported value has an exact eigenvalue within its residual
        assert np.min(np.abs(eig - entry["value"])) <= entry["residual"] + 1e-9 * abs(eig[-1])
    assert [e["value"] for e in h["top"]] == pytest.approx(eig[::-1][:5], rel=1e-8)
    t = report["trace"]
    assert abs(t["estimate"] - np.trace(H)) <= 4 * t["standard_error"]
    for block, (start, stop) in zip(report["blocks"], [(0, 24), (24, 31)]):
        assert block["lambda_max"] == pytest.approx(np.linalg.eigvalsh(H[start:stop, start:stop])[-1], rel=1e-8)
    ratios = {c["lr"]: c["sharpness_ratio"] for c in report["lr_checks"]}
    assert ratios[1.0] == pytest.approx(eig[-1] / 2, rel=1e-9)
    assert report["advised_lr"] * eig[-1] / 2 < 1  # the advice is stable on the exact Hessian
    codes = [f["code"] for f in report["findings"]]
    assert ("CD200" in codes) == (eig[-1] > 2.0) and ("CD202" in codes) == (eig[0] < 0)


def test_a_linear_model_has_the_sharpness_analyze_computes(run, files):
    """nn.Linear with MSELoss(mean): H = (2/n)[X 1]ᵀ[X 1], which analyze --intercept --loss mean computes exactly."""
    tmp, _, X, y = files
    report = model_json(run, f"{tmp}/models.py:linear", "--data", tmp / "data.npz", "--dtype", "float64", "--trace-probes", "0")
    np.save(tmp / "A.npy", X)
    np.save(tmp / "b.npy", y)
    analysis = run("analyze", tmp / "A.npy", "--rhs", tmp / "b.npy", "--intercept", "--loss", "mean", "--json").json()
    assert report["hessian"]["lambda_max"] == pytest.approx(analysis["learning_rate"]["L"], rel=1e-10)
    assert report["hessian"]["lambda_min"] == pytest.approx(analysis["spectrum"]["lambda_min"], rel=1e-8)
    assert report["trace"] is None and report["trace_note"]


def test_adam_preconditioned_sharpness(run, files):
    tmp, model, X, y = files
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    trained = torch.nn.Sequential(torch.nn.Linear(3, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1)).double()
    trained.load_state_dict(model.state_dict())
    optimizer = torch.optim.Adam(trained.parameters(), lr=0.01)
    for _ in range(5):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(trained(Xt).reshape(-1), yt).backward()
        optimizer.step()
    torch.save(trained.state_dict(), tmp / "trained.pt")
    torch.save(optimizer.state_dict(), tmp / "adam.pt")
    report = model_json(run, f"{tmp}/models.py:mlp", "--data", tmp / "data.npz", "--weights", tmp / "trained.pt",
                        "--optimizer", "adam", "--optimizer-state", tmp / "adam.pt", "--lr", "0.01", "--trace-probes", "0")
    H = exact_hessian(trained, Xt, lambda out: torch.nn.functional.mse_loss(out.reshape(-1), yt))
    state = optimizer.state_dict()["state"]
    v_hat = np.concatenate([state[i]["exp_avg_sq"].numpy().reshape(-1) / (1 - 0.999 ** float(state[i]["step"])) for i in range(4)])
    root = 1 / np.sqrt(np.sqrt(v_hat) + 1e-8)
    exact = np.linalg.eigvalsh(root[:, None] * H * root[None, :])[-1]
    assert report["preconditioned"]["lambda_max"] == pytest.approx(exact, rel=1e-8)
    threshold = (2 + 2 * 0.9) / ((1 - 0.9) * 0.01)
    assert report["lr_checks"][0]["preconditioned_ratio"] == pytest.approx(exact / threshold, rel=1e-8)


def test_classification_losses_run_and_are_deterministic(run, files):
    tmp, *_ = files
    args = [f"{tmp}/models.py:classifier", "--data", tmp / "classes.npz", "--loss", "cross-entropy", "--seed", "3", "--lr", "0.5"]
    first, second = model_json(run, *args), model_json(run, *args)
    for key in ("hessian", "trace", "blocks", "loss_value"):
        assert first[key] == second[key]
    assert first["model"]["dtype"] == "float32" and first["hessian"]["lambda_max"] > 0
    assert first["model"]["n_parameters"] == 3 * 5 + 5 + 5 * 4 + 4
    batch = model_json(run, *args, "--batch-size", "10")
    assert batch["model"]["batch_size"] == 10 and batch["model"]["n_samples"] == 10


def test_thresholds_text_and_formats(run, files):
    tmp, *_ = files
    args = [f"{tmp}/models.py:mlp", "--data", tmp / "data.npz", "--weights", tmp / "w.pt", "--lr", "1"]
    assert run("model", *map(str, args), "--max-sharpness-ratio", "100").code == 0
    failed = run("model", *map(str, args), "--max-sharpness-ratio", "0.01")
    assert failed.code == 1 and "max-sharpness-ratio" in failed.err
    text = run("model", *map(str, args))
    assert text.code == 0 and "sharpness λmax" in text.out and "Lanczos" in text.out
    assert json.loads(run("schema", "model").out)["properties"]["command"] == {"const": "model"}
    page = run("model", *map(str, args), "--report-format", "html").out
    assert page.startswith("<!DOCTYPE html>") and page.count("<figure>") == 1
    plot = tmp / "model.png"
    assert run("model", *map(str, args), "--plot", plot).code == 0 and plot.stat().st_size > 5000


@pytest.mark.parametrize("extra, message", [
    (["--weights", "pickled.pt"], "weights_only"),
    (["--weights", "missing.pt"], "no such file"),
    (["--weights", "data.npz"], "weights_only"),
    (["--data", "nope.npz"], "no such file"),
])
def test_unsafe_or_wrong_inputs_are_one_line_exit_3(run, files, extra, message):
    tmp, *_ = files
    args = ["model", f"{tmp}/models.py:mlp", "--data", str(tmp / "data.npz")]
    for i in range(0, len(extra), 2):
        if extra[i] in args:
            args[args.index(extra[i]) + 1] = str(tmp / extra[i + 1])
        else:
            args += [extra[i], str(tmp / extra[i + 1])]
    result = run(*args)
    assert result.code == 3 and message in result.err, result.err


def test_mismatched_weights_and_factories(run, files):
    tmp, *_ = files
    other = torch.nn.Linear(3, 1)
    torch.save(other.state_dict(), tmp / "other.pt")
    result = run("model", f"{tmp}/models.py:mlp", "--data", tmp / "data.npz", "--weights", tmp / "other.pt")
    assert result.code == 3 and "does not match" in result.err
    result = run("model", f"{tmp}/models.py:not_a_module", "--data", tmp / "data.npz")
    assert result.code == 3 and "not a torch.nn.Module" in result.err
    assert run("model", f"{tmp}/models.py:mlp", "--data", tmp / "data.npz", "--optimizer-state", tmp / "w.pt").code == 2


def test_a_zip_bomb_weights_file_is_refused_unread(run, files, monkeypatch):
    """A .pt is a zip archive: members declaring more than the machine holds are refused from its directory, before
    torch reads it (here the machine is made to hold 8 MiB, the archive inflates to 64 MiB from 64 KiB)."""
    import zipfile

    import condiag.memory

    tmp, *_ = files
    bomb = tmp / "bomb.pt"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data/0", bytes(64 << 20))
    assert bomb.stat().st_size < 1 << 20
    monkeypatch.setattr(condiag.memory, "available_memory_bytes", lambda: 8 << 20)
    result = run("model", f"{tmp}/models.py:mlp", "--data", tmp / "data.npz", "--weights", bomb)
    assert result.code == 3 and "memory" in result.err, result.err
