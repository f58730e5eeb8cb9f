"""``condiag model FILE.py:FACTORY``: the curvature of a real PyTorch model's loss, against the learning rate.

Gradient descent at lr is stable near a minimum only while λmax(H) < 2/lr; networks trained at a fixed lr drift
to that edge ("edge of stability": sharpness·lr/2 → 1; Cohen, Kaur, Li, Kolter & Talwalkar, ICLR 2021). Adam's
condition is on the preconditioned sharpness λmax(P⁻¹H), P = diag(√v̂ + ε), against (2 + 2β1)/((1 − β1)·lr)
(38/lr at β1 = 0.9; Cohen et al., "Adaptive gradient methods at the edge of stability", 2022).

The largest Ritz value θ is a certified lower bound of λmax and θ + residual an upper estimate (an eigenvalue
lies within the residual of θ; with full reorthogonalisation the largest is found first), so an lr above 2/θ
is certainly unstable and an advised lr is computed from θ + residual, 10% inside, rounded down.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..findings import Finding, Remedy
from ..lanczos import Ritz, lanczos
from ..notebook import NotebookView
from ..numbers import count, floor_sig, sig
from ..spectrum import EPS64
from .curvature import (
    Block,
    HessianOperator,
    TraceEstimate,
    block_ritz,
    hutchinson,
    preconditioned_ritz,
)
from .load import load_adam_state, load_data, load_model, load_weights, loss_function

EDGE = 0.9
"""sharpness·lr/2 at or above this (and below 1) is 'at the edge of stability'."""
ADVICE_MARGIN = 0.9
"""An advised lr keeps 10% inside 2/(θ + residual)."""


@dataclass(frozen=True)
class LrCheck:
    lr: float
    ratio: float
    """lr·θ/2: above 1, certainly unstable (θ ≤ λmax)."""
    ratio_high: float
    """lr·(θ + residual)/2."""
    preconditioned_ratio: float | None = None
    """Adam: λmax(P⁻¹H) / ((2 + 2β1)/((1 − β1) lr))."""


@dataclass(frozen=True)
class ModelAnalysis(NotebookView):
    source: str
    weights: str | None
    data: str
    n_samples: int
    n_parameters: int
    dtype: str
    loss_name: str
    reduction: str
    loss: float
    gradient_norm: float
    spectrum: Ritz
    top: int
    trace: TraceEstimate | None
    blocks: tuple[Block, ...]
    optimizer: str
    betas: tuple[float, float]
    preconditioned: Ritz | None
    checks: tuple[LrCheck, ...]
    advised_lr: float | None
    findings: tuple[Finding, ...]
    seed: int
    batch_size: int | None
    products: int
    seconds: float

    @property
    def sharpness(self) -> float:
        return self.spectrum.largest

    @property
    def sharpness_high(self) -> float:
        return self.spectrum.largest + float(self.spectrum.residuals[-1])

    _figure = "model_figure"

    def _render_text(self, console) -> None:
        from ..render.model_text import render_model

        render_model(self, console, False)

    def to_dict(self) -> dict:
        from ..render.json_report import model_json

        return model_json(self)


ROUNDING_FACTOR = 10.0
"""The products H v carry rounding of the model's dtype: no residual bound is stated below 10·eps·max|θ|."""


def with_rounding(ritz: Ritz, torch_dtype) -> Ritz:
    """The Ritz values with residual bounds no smaller than the products' own rounding, 10·eps(dtype)·max|θ|
    (Lanczos's |β s| assumes exact products; in float32 they are good to about 1e-7 of ‖H‖)."""
    from dataclasses import replace

    import torch

    floor = ROUNDING_FACTOR * torch.finfo(torch_dtype).eps * float(np.max(np.abs(ritz.values)))
    return replace(ritz, residuals=np.maximum(ritz.residuals, floor))


def adam_threshold(lr: float, beta1: float) -> float:
    """The largest preconditioned sharpness Adam's momentum keeps stable: (2 + 2β1)/((1 − β1)·lr)."""
    return (2 + 2 * beta1) / ((1 - beta1) * lr)


def _findings(a) -> list[Finding]:
    out = []
    theta = a.sharpness
    for c in a.checks:
        data = {"lr": c.lr, "ratio": c.ratio, "ratio_high": c.ratio_high}
        if a.optimizer == "sgd" and c.ratio > 1:
            out.append(Finding("CD200", "error", f"lr = {sig(c.lr, 4)} is past the edge of stability: sharpness·lr/2 = {sig(c.ratio, 3)}",
                               f"The loss's largest curvature is at least λmax ≥ {sig(theta, 4)} (Lanczos, certified lower bound), "
                               f"so gradient descent at lr = {sig(c.lr, 4)} overshoots along its direction by a factor "
                               f"|1 − lr·λ| ≥ {sig(abs(1 - c.lr * theta), 3)} per step: 2/λmax ≤ {sig(2 / theta, 4)}.",
                               (Remedy("Lower the learning rate", f"lr = {a.advised_lr:.4g} keeps 10% inside 2/λmax.",
                                       f"optimizer = torch.optim.SGD(model.parameters(), lr={a.advised_lr:.4g})")
                                if a.advised_lr else Remedy("Lower the learning rate", "Below 2/λmax.", None),), data))
        elif a.optimizer == "sgd" and c.ratio_high >= EDGE:
            out.append(Finding("CD201", "warning", f"lr = {sig(c.lr, 4)} is at the edge of stability: sharpness·lr/2 = "
                               f"{sig(c.ratio, 3)}–{sig(c.ratio_high, 3)}",
                               "Training at a fixed lr drives the sharpness up to 2/lr and then hovers there: the loss "
                               "oscillates and falls non-monotonically (Cohen et al., 2021). Not a bug; lower the lr to leave it.",
                               (), data))
        if c.preconditioned_ratio is not None and c.preconditioned_ratio > 1:
            out.append(Finding("CD203", "error", f"Adam at lr = {sig(c.lr, 4)} is past its edge of stability: preconditioned "
                               f"sharpness / threshold = {sig(c.preconditioned_ratio, 3)}",
                               f"λmax(P⁻¹H) = {sig(a.preconditioned.largest, 4)} with P = √v̂ + ε from the optimizer state, above "
                               f"(2 + 2β1)/((1 − β1)·lr) = {sig(adam_threshold(c.lr, a.betas[0]), 4)}.", (), data))
    if a.spectrum.smallest + float(a.spectrum.residuals[0]) < -max(1e3 * EPS64, 1e-6) * max(abs(theta), 1e-300):
        out.append(Finding("CD202", "info", f"Negative curvature: λmin ≤ {sig(a.spectrum.smallest + float(a.spectrum.residuals[0]), 3)}",
                           "The Hessian has a negative eigenvalue here: these weights are not at a minimum (a saddle or a "
                           "slope), as is usual early in training.", (), {"lambda_min": a.spectrum.smallest}))
    ranked = sorted((b for b in a.blocks if b.ritz is not None), key=lambda b: -b.ritz.largest)
    if len(ranked) > 1:
        top = ranked[0]
        out.append(Finding("CD204", "info", f"The sharpest block is '{top.name}': λmax = {sig(top.ritz.largest, 4)}",
                           f"Of the diagonal blocks of H by module, '{top.name}' ({count(top.stop - top.start)} parameters) "
                           f"curves most ({sig(top.ritz.largest, 4)}; next '{ranked[1].name}' at {sig(ranked[1].ritz.largest, 4)}): "
                           "a per-layer lr or normalisation there relieves the constraint.", (), {"block": top.name}))
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda f: order[f.severity])


def analyze_model(spec: str, data: str, *, weights: str | None = None, loss: str = "mse", reduction: str = "mean", lrs=(),
                  optimizer: str = "sgd", betas=(0.9, 0.999), optimizer_state: str | None = None, batch_size: int | None = None,
                  dtype: str | None = None, top: int = 5, iterations: int = 80, trace_probes: int = 30, seed: int = 0,
                  inputs_key: str | None = None, targets_key: str | None = None, progress=None) -> ModelAnalysis:
    """Load the model, its weights and data; the loss's curvature by Lanczos, its trace, per-block λmax, and each lr
    against the edge of stability (:mod:`condiag.net.report`)."""
    import torch

    started = time.perf_counter()
    torch.manual_seed(seed)
    model = load_model(spec)
    weights_dtype = load_weights(model, weights) if weights else str(next(model.parameters()).dtype).replace("torch.", "")
    chosen = dtype or weights_dtype
    torch_dtype = torch.float64 if chosen == "float64" else torch.float32
    model = model.to(torch_dtype)
    inputs, targets = load_data(data, inputs_key, targets_key)
    if batch_size is not None:
        if batch_size > inputs.shape[0]:
            from ..errors import UsageError

            raise UsageError(f"batch_size {batch_size}: the data has {inputs.shape[0]} samples", option="batch_size")
        rows = np.sort(np.random.default_rng(seed).choice(inputs.shape[0], size=batch_size, replace=False))
        inputs, targets = inputs[rows], targets[rows]
    X = torch.as_tensor(inputs, dtype=torch_dtype)
    criterion = loss_function(loss, reduction)
    if loss == "cross-entropy":
        y = torch.as_tensor(targets).long()
    else:
        y = torch.as_tensor(np.asarray(targets, dtype=float), dtype=torch_dtype)

    def closure():
        out = model(X)
        target = y.reshape(out.shape) if loss != "cross-entropy" and y.numel() == out.numel() else y
        return criterion(out, target)

    try:
        operator = HessianOperator(model, closure)
    except (RuntimeError, ValueError, IndexError) as exc:
        from ..errors import InputError

        raise InputError(data, f"the model cannot compute the {loss} loss on it: {str(exc).splitlines()[0][:200]}") from None
    tol = 1e-10 if torch_dtype == torch.float64 else 1e-5
    spectrum = with_rounding(lanczos(operator, operator.n, iterations=iterations, tol=tol, seed=seed, wanted=top, both_ends=True,
                                     progress=progress), torch_dtype)
    trace = hutchinson(operator, operator.n, trace_probes, seed) if trace_probes > 1 else None
    blocks = tuple(Block(b.name, b.start, b.stop, with_rounding(block_ritz(operator, b, min(iterations, 40), tol, seed), torch_dtype))
                   for b in operator.blocks())
    preconditioned = None
    if optimizer == "adam" and optimizer_state is not None:
        v_hat, eps, saved_betas = load_adam_state(optimizer_state, model, betas)
        betas = (float(saved_betas[0]), float(saved_betas[1]))
        preconditioned = with_rounding(preconditioned_ritz(operator, np.sqrt(np.concatenate(v_hat)) + eps, iterations, tol, seed),
                                       torch_dtype)
    theta = spectrum.largest
    high = theta + float(spectrum.residuals[-1])
    checks = tuple(LrCheck(float(lr), float(lr) * theta / 2, float(lr) * high / 2,
                           None if preconditioned is None else preconditioned.largest / adam_threshold(float(lr), betas[0]))
                   for lr in lrs)
    advised = None
    if high > 0:
        advised = floor_sig(ADVICE_MARGIN * 2 / high, 4)
        if not advised * high / 2 < 1:  # fed back: the printed lr must be inside 2/(θ + residual)
            advised = None
    gradient_norm = float(operator.gradient.detach().double().norm())
    partial = ModelAnalysis(spec, weights, data, int(inputs.shape[0]), operator.n, chosen, loss, reduction,
                            float(operator.loss.detach()), gradient_norm, spectrum, top, trace, blocks, optimizer,
                            (float(betas[0]), float(betas[1])), preconditioned, checks, advised, (), seed, batch_size, 0, 0.0)
    findings = tuple(_findings(partial))
    from dataclasses import replace

    return replace(partial, findings=findings, products=operator.products, seconds=time.perf_counter() - started)

