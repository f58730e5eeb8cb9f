"""Adam's regimes on a quadratic: the distance it must travel, and what eps does near the minimum.

Adam (Kingma & Ba, ICLR 2015; ``torch.optim.Adam``) moves each coordinate by lr·m̂/(√v̂ + eps). Two facts follow:

* **Travel.** Its step is bounded per coordinate: |Δx_i| <= lr (1 - β1)/√(1 - β2) when 1 - β1 > √(1 - β2), else
  <= lr (Kingma & Ba, §2.1). So reaching x* from x0 takes at least max_i |x*_i - x0_i| / that bound steps,
  whatever the curvature: a small lr on a problem whose weights must travel far is slow for that reason alone.
* **The epsilon regime.** Near x* the gradient vanishes, v̂ decays with β2, and once √v̂ << eps the update is
  x -= (lr/eps) m with m = β1 m + (1 - β1) g (late in training the bias corrections are 1): heavy-ball momentum
  with step lr (1 - β1)/eps and momentum β1. Heavy ball is stable iff its step times every curvature is below
  2 (1 + β1) (Polyak 1964), so Adam's eps regime is stable iff eps > eps_crit = lr (1 - β1) λmax / (2 (1 + β1)).
  Below eps_crit the iteration cannot settle: once the gradient and v̂ have decayed, the steep directions grow
  again, and since v̂ follows the gradient only at the pace of β2 the steps overshoot: the loss spikes late in
  training, again and again (tested: a run below eps_crit rises by many orders of magnitude from its minimum,
  one above it stays there). Above eps_crit Adam ends as heavy ball at lr (1 - β1)/eps, whose exact rate
  condiag computes (:mod:`condiag.trajectories`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AdamRegime:
    lr: float
    beta1: float
    beta2: float
    eps: float
    step_bound: float
    """The most a coordinate moves in one step: lr (1 - β1)/√(1 - β2) or lr."""
    distance: float
    """max_i |x*_i - x0_i|."""
    min_steps: float
    """distance / step_bound: no run of Adam reaches x* in fewer steps."""
    eps_critical: float
    """lr (1 - β1) λmax / (2 (1 + β1)): eps below it makes the late (eps) regime unstable."""
    trapped: bool
    """eps < eps_critical: the loss cannot settle; it spikes late in training."""
    late_lr: float
    """lr (1 - β1)/eps: the heavy-ball step Adam becomes in its eps regime."""
    late_rate: float | None
    """The spectral radius of that heavy ball on the problem (None when unstable)."""
    late_steps_per_decade: float | None
    """Steps per tenfold cut of the error in the eps regime."""


def adam_regime(lr: float, beta1: float, beta2: float, eps: float, eigenvalues: np.ndarray, x_star, x0) -> AdamRegime:
    """Adam's two regimes for the given settings on a quadratic with Hessian ``eigenvalues`` (module docstring)."""
    from .trajectories import LinearMethod, spectral_radius

    lam = np.asarray(eigenvalues, dtype=float)
    lam = lam[lam > 0]
    lam_max = float(lam.max()) if lam.size else 0.0
    ratio = (1 - beta1) / math.sqrt(1 - beta2)
    step_bound = lr * ratio if ratio > 1 else lr
    distance = float(np.max(np.abs(np.asarray(x_star) - np.asarray(x0)))) if np.size(x_star) else 0.0
    eps_critical = lr * (1 - beta1) * lam_max / (2 * (1 + beta1))
    late_lr = lr * (1 - beta1) / eps
    rate = spectral_radius(LinearMethod("heavy-ball", late_lr, beta1), lam) if lam.size else None
    stable = rate is not None and rate < 1
    per_decade = math.log(10) / -math.log(rate) if rate is not None and 0 < rate < 1 else None
    return AdamRegime(lr, beta1, beta2, eps, step_bound, distance, distance / step_bound if step_bound > 0 else math.inf,
                      eps_critical, eps < eps_critical, late_lr, rate if stable else None, per_decade)
