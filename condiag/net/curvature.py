"""The curvature of a PyTorch model's loss, matrix-free: Hessian-vector products by double backward
(Pearlmutter, Neural Computation 6(1), 1994), then Lanczos (:mod:`condiag.lanczos`) for the extreme eigenvalues
with residual bounds, Hutchinson's estimator for the trace, the same Lanczos on each parameter block's
diagonal block of H, and on Adam's preconditioned Hessian P^(-1/2) H P^(-1/2), P = diag(√v̂ + ε).

Hutchinson: tr(H) = E[zᵀHz] for z with independent ±1 entries; m probes give the mean and its standard error
s/√m (Hutchinson, Comm. Statist. Simul. Comput. 19(2), 1990).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..lanczos import Ritz, lanczos


@dataclass(frozen=True)
class Block:
    """A parameter block: a module's parameters (e.g. '0' for '0.weight' and '0.bias')."""

    name: str
    start: int
    stop: int
    ritz: Ritz | None = None


class HessianOperator:
    """H v for the loss at the model's current parameters (a fixed batch), as float64 numpy vectors."""

    def __init__(self, model, loss_closure):
        import torch

        self.params = [p for p in model.parameters() if p.requires_grad]
        self.names = [name for name, p in model.named_parameters() if p.requires_grad]
        self.loss = loss_closure()
        grads = torch.autograd.grad(self.loss, self.params, create_graph=True)
        self.gradient = torch.cat([g.reshape(-1) for g in grads])
        self.n = int(self.gradient.numel())
        self.dtype = self.gradient.dtype
        self.products = 0

    def __call__(self, vector: np.ndarray) -> np.ndarray:
        import torch

        v = torch.as_tensor(np.asarray(vector), dtype=self.dtype)
        product = torch.autograd.grad(self.gradient @ v, self.params, retain_graph=True, allow_unused=True)
        self.products += 1
        return torch.cat([(p if p is not None else torch.zeros_like(q)).reshape(-1)
                          for p, q in zip(product, self.params)]).detach().double().numpy()

    def blocks(self) -> list[Block]:
        """The parameters grouped by their module (the name up to the last dot), in order."""
        out: list[Block] = []
        start = 0
        for name, p in zip(self.names, self.params):
            module = name.rsplit(".", 1)[0] if "." in name else name
            size = int(p.numel())
            if out and out[-1].name == module:
                out[-1] = Block(module, out[-1].start, start + size)
            else:
                out.append(Block(module, start, start + size))
            start += size
        return out


@dataclass(frozen=True)
class TraceEstimate:
    mean: float
    standard_error: float
    probes: int


def hutchinson(operator, n: int, probes: int = 30, seed: int = 0) -> TraceEstimate:
    """tr(H) ≈ mean of zᵀHz over ``probes`` Rademacher vectors, with its standard error."""
    rng = np.random.default_rng(seed + 1)
    samples = np.array([float(z @ operator(z)) for z in (rng.choice((-1.0, 1.0), size=n) for _ in range(probes))])
    se = float(np.std(samples, ddof=1) / np.sqrt(probes)) if probes > 1 else float("inf")
    return TraceEstimate(float(np.mean(samples)), se, probes)


def block_ritz(operator: HessianOperator, block: Block, iterations: int, tol: float, seed: int) -> Ritz:
    """Lanczos on the diagonal block H[block, block]."""
    def product(v):
        full = np.zeros(operator.n)
        full[block.start:block.stop] = v
        return operator(full)[block.start:block.stop]

    return lanczos(product, block.stop - block.start, iterations=iterations, tol=tol, seed=seed)


def preconditioned_ritz(operator: HessianOperator, scale: np.ndarray, iterations: int, tol: float, seed: int) -> Ritz:
    """Lanczos on P^(-1/2) H P^(-1/2) with P = diag(``scale``) (Adam: √v̂ + ε): its λmax is λmax(P⁻¹H)."""
    inv_root = 1.0 / np.sqrt(scale)
    return lanczos(lambda v: inv_root * operator(inv_root * v), operator.n, iterations=iterations, tol=tol, seed=seed)
