"""What ``condiag model`` reads: the user's model (a factory in their file), its weights, the data, the loss, and
Adam's state.

Weights are read from safetensors, or from a ``.pt`` state dict with ``torch.load(weights_only=True)`` — never a
full pickle (a pickled model runs code when loaded: refused with one line). Data is a ``.npz``/``.h5`` read by
condiag's own readers (with their checks on size and structure), or a ``.pt`` dict of tensors read the same
safe way.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputError, UsageError
from ..user_code import load_callable

LOSSES = ("mse", "cross-entropy", "bce")
REDUCTIONS = ("mean", "sum")
INPUT_KEYS = ("inputs", "x", "X", "features")
TARGET_KEYS = ("targets", "y", "Y", "labels")


def load_model(spec: str):
    """Call the factory FILE.py:NAME; it must return a ``torch.nn.Module``."""
    import torch

    factory = load_callable(spec, "condiag model")
    try:
        model = factory()
    except Exception as exc:  # noqa: BLE001 - the user's code
        raise InputError(spec, f"the factory raised {type(exc).__name__}: {exc}") from None
    if not isinstance(model, torch.nn.Module):
        raise InputError(spec, f"the factory returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _check_size(path: str) -> None:
    """Refuse, before reading, a file whose contents cannot fit: a .pt is a zip archive whose members may be
    compressed, so its central directory's uncompressed sizes are summed (a zip bomb is refused unread)."""
    import zipfile

    from ..memory import require_memory

    size = os.path.getsize(path)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                size = max(size, sum(info.file_size for info in archive.infolist()))
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputError(path, f"is a damaged zip archive: {exc}") from None
    require_memory(size, path, "its tensors")


def _torch_load(path: str):
    import pickle

    import torch

    _check_size(path)

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, "is not a file of tensors torch.load(weights_only=True) can read (condiag never unpickles "
                               f"other objects): {first[:200]}") from None


def load_weights(model, path: str) -> str:
    """Load a state dict into ``model`` (strict: every parameter named, no extra); returns its dtype's name."""
    import torch

    if not os.path.isfile(path):
        raise InputError(path, "no such file")
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise UsageError("weights .safetensors needs the safetensors package (pip install 'condiag[torch]')", option="weights") from None
        _check_size(path)
        try:
            state = load_file(path, device="cpu")
        except Exception as exc:  # noqa: BLE001 - a malformed file
            raise InputError(path, f"is not a valid safetensors file: {str(exc)[:200]}") from None
    else:
        state = _torch_load(path)
        if isinstance(state, dict) and not any(isinstance(v, torch.Tensor) for v in state.values()):
            for key in ("state_dict", "model_state_dict", "model"):
                nested = state.get(key)
                if isinstance(nested, dict):
                    state = nested
                    break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(path, "does not hold a state dict (names to tensors)")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = ([f"missing {', '.join(missing[:4])}{' …' if len(missing) > 4 else ''}"] if missing else []) + \
                ([f"unexpected {', '.join(unexpected[:4])}{' …' if len(unexpected) > 4 else ''}"] if unexpected else [])
        raise InputError(path, f"does not match the model's parameters: {'; '.join(parts)}")
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise InputError(path, f"{name} has shape {tuple(tensor.shape)}; the model's is {tuple(expected[name].shape)}")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise InputError(path, f"{name} holds NaN or infinite values")
    model.load_state_dict(state, strict=True)
    floating = [t.dtype for t in state.values() if t.is_floating_point()]
    return str(floating[0]).replace("torch.", "") if floating else "float32"


def _first_key(keys, available, given):
    if given is not None:
        return given
    return next((k for k in keys if k in available), keys[0])


def load_data(path: str, inputs_key: str | None = None, targets_key: str | None = None):
    """(inputs, targets) as float64 numpy arrays (targets may be integer class labels), from .npz/.h5/.pt."""
    if not os.path.isfile(path):
        raise InputError(path, "no such file")
    if path.endswith((".pt", ".pth")):
        import torch

        data = _torch_load(path)
        if not isinstance(data, dict):
            raise InputError(path, "must hold a dict of tensors (inputs and targets)")
        ik, tk = _first_key(INPUT_KEYS, data, inputs_key), _first_key(TARGET_KEYS, data, targets_key)
        if ik not in data or tk not in data:
            raise InputError(path, f"has no {ik!r} and {tk!r} tensors (keys: {', '.join(map(str, list(data)[:8]))})")
        if not all(isinstance(data[k], torch.Tensor) for k in (ik, tk)):
            raise InputError(path, f"{ik} and {tk} must be tensors")
        inputs, targets = data[ik].detach().double().numpy(), data[tk].detach().numpy()
    else:
        from ..io import ReadOptions, read_matrix

        names = _member_names(path)
        ik, tk = _first_key(INPUT_KEYS, names, inputs_key), _first_key(TARGET_KEYS, names, targets_key)
        raw = read_matrix(path, ReadOptions(a_key=ik, b_key=tk))
        if raw.vector is None:
            raise InputError(path, f"has no targets {tk!r} (give --targets-key)")
        inputs, targets = np.asarray(raw.matrix, dtype=float), np.asarray(raw.vector)
    if inputs.ndim == 1:
        inputs = inputs[:, None]
    if inputs.shape[0] != targets.shape[0]:
        raise InputError(path, f"{inputs.shape[0]} inputs but {targets.shape[0]} targets")
    if inputs.shape[0] == 0:
        raise InputError(path, "holds no samples")
    if not np.all(np.isfinite(inputs)) or (targets.dtype.kind == "f" and not np.all(np.isfinite(targets))):
        raise InputError(path, "holds NaN or infinite values")
    return inputs, targets


def _member_names(path: str) -> list[str]:
    """The arrays a .npz or HDF5 file names (to find inputs/targets by their usual names)."""
    try:
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as archive:
                return list(archive.files)
        if path.endswith((".h5", ".hdf5", ".hdf")):
            import h5py

            with h5py.File(path, "r") as handle:
                return list(handle.keys())
    except Exception:  # noqa: BLE001 - the reader says what is wrong
        return []
    return []


def loss_function(name: str, reduction: str):
    """The torch loss: mse = MSELoss, cross-entropy = CrossEntropyLoss (class indices), bce = BCEWithLogitsLoss."""
    import torch

    if name == "mse":
        return torch.nn.MSELoss(reduction=reduction)
    if name == "cross-entropy":
        return torch.nn.CrossEntropyLoss(reduction=reduction)
    return torch.nn.BCEWithLogitsLoss(reduction=reduction)


def load_adam_state(path: str, model, betas=(0.9, 0.999)) -> tuple[list, float, tuple]:
    """Adam's bias-corrected second moments v̂ per parameter (in ``model.parameters()`` order) from a saved
    ``optimizer.state_dict()``: v̂ = exp_avg_sq / (1 − β2^step)."""
    import torch

    state = _torch_load(path)
    if not isinstance(state, dict) or "state" not in state or "param_groups" not in state:
        raise InputError(path, "is not an optimizer state_dict() (no 'state' and 'param_groups')")
    params = [p for p in model.parameters() if p.requires_grad]
    group = state["param_groups"][0] if state["param_groups"] else {}
    beta2 = float(group.get("betas", betas)[1])
    out = []
    for index, p in enumerate(params):
        entry = state["state"].get(index)
        if not isinstance(entry, dict) or "exp_avg_sq" not in entry:
            raise InputError(path, f"has no Adam state (exp_avg_sq) for parameter {index}")
        v = entry["exp_avg_sq"]
        if not isinstance(v, torch.Tensor) or tuple(v.shape) != tuple(p.shape):
            raise InputError(path, f"exp_avg_sq of parameter {index} does not match its shape {tuple(p.shape)}")
        step = float(entry.get("step", 1))
        out.append(v.detach().double().numpy().reshape(-1) / (1 - beta2**max(step, 1.0)))
    return out, float(group.get("eps", 1e-8)), group.get("betas", betas)
