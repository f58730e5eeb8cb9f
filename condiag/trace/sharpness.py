"""The sharpness of a PyTorch model: λmax of the Hessian of its loss, by Lanczos on Hessian-vector products.

For the loss L(θ) of a model at its parameters θ, H v = ∇(∇L(θ)·v) costs about two gradients (Pearlmutter,
Neural Computation 6(1), 1994). k steps of Lanczos with full reorthogonalisation give the Ritz value θ₁ of the
Krylov space; θ₁ <= λmax always (Cauchy interlacing), and some eigenvalue lies within the residual
||H y - θ₁ y|| = |β_k s_k| of it (Parlett, *The Symmetric Eigenvalue Problem*, Thm 4.5.1, Ch. 13), so the
residual states how far the estimate can be from an eigenvalue. Gradient descent at lr is stable near a
minimum only while λmax < 2/lr (the edge of stability: sharpness·lr/2 = 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sharpness:
    value: float
    """θ₁, the largest Ritz value: a lower bound on λmax of the Hessian."""
    residual: float
    """||H y - θ₁ y||: an eigenvalue of H lies within it of ``value``."""
    iterations: int


def sharpness(model, loss_fn, *, iterations: int = 30, tol: float = 1e-6, seed: int = 0) -> Sharpness:
    """λmax of the Hessian of ``loss_fn()`` with respect to ``model``'s trainable parameters.

    Parameters
    ----------
    model : torch.nn.Module
    loss_fn : callable
        ``loss_fn()`` returns the loss (a scalar tensor) on a fixed batch, computed through ``model``.
    iterations : int
        The most Lanczos steps (each one Hessian-vector product).
    tol : float
        Stop once the residual is below ``tol``·|θ₁|.
    seed : int
        Seed of the starting vector (the result is deterministic for a seed).
    """
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    loss = loss_fn()
    grads = torch.autograd.grad(loss, params, create_graph=True)
    flat_grad = torch.cat([g.reshape(-1) for g in grads])
    n = flat_grad.numel()
    dtype = flat_grad.dtype

    def hvp(vector: np.ndarray) -> np.ndarray:
        v = torch.as_tensor(vector, dtype=dtype, device=flat_grad.device)
        product = torch.autograd.grad(flat_grad @ v, params, retain_graph=True, allow_unused=True)
        return torch.cat([(p if p is not None else torch.zeros_like(q)).reshape(-1)
                          for p, q in zip(product, params)]).detach().cpu().double().numpy()

    from ..lanczos import lanczos

    ritz = lanczos(hvp, n, iterations=iterations, tol=tol, seed=seed)
    return Sharpness(ritz.largest, float(ritz.residuals[-1]), ritz.iterations)
