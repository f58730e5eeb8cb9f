"""``condiag analyze --model two-layer``: why GD blows up or crawls on W1·W2 ≈ A, and the lr that works."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .findings import Finding, Remedy, severity_rank
from .notebook import NotebookView
from .numbers import count, floor_sig, sig, sig_below
from .thresholds import ILL_CONDITIONED
from .two_layer import (
    Optimum,
    TwoLayerProblem,
    component_rates,
    optimum,
    power_iteration_top,
    stability_curvatures,
)


@dataclass(frozen=True)
class TwoLayerCheck:
    """One user learning rate against both stability bounds, and Adam's travel limit."""

    lr: float
    stable_at_init: bool
    stable_at_minimum: bool
    adam_min_steps: int
    """At least distance / lr steps for an optimiser that moves each weight by about lr per step."""


@dataclass(frozen=True)
class TwoLayerAnalysis(NotebookView):
    problem: TwoLayerProblem
    optimum: Optimum
    singular_values: np.ndarray
    """sigma_i(A)."""
    condition_number: float
    start_loss: float
    lambda_init: float
    """Formula (i): 2c [sigma_1(R0) + sigma_1(W1)^2 lambda_max(C) + sigma_1(W2 L)^2]."""
    lambda_init_measured: float
    lambda_minimum: float
    """Formula (ii): 4c sigma_1(M*) v_1ᵀ C v_1."""
    lambda_minimum_measured: float
    recommended_lr: float
    """1 / max(lambda_init, lambda_minimum): half the tighter of the two stability bounds."""
    component_rates: np.ndarray
    steps_at_recommended: int | None
    """Steps for the slowest kept component's error to shrink by tol at the recommended lr (linearised)."""
    steps_simulated: int | None
    """Steps gradient descent at the recommended lr, as printed, takes from the initial point until the loss gap
    is tol of its start: simulated (None when it did not get there within :data:`SIMULATION_BUDGET`)."""
    adam_lr: float | None
    """An Adam lr that covers the distance to the minimum in about 300 steps, checked by simulation (None: no such lr found)."""
    adam_steps: int | None
    """The steps the simulation of Adam at ``adam_lr`` took."""
    slowdown: float
    """sigma_1(M*) / sigma_K(M*)."""
    distance: float
    """How far the weights must travel: max |theta*| - init_scale (balanced minimum)."""
    checks: tuple[TwoLayerCheck, ...]

    @property
    def threshold_init(self) -> float:
        """2 / λ at the start (:func:`stability_curvature`): GD at the start diverges above it."""
        return _two_over(stability_curvature(self.lambda_init, self.lambda_init_measured))

    @property
    def max_stable(self) -> float | None:
        """2 / λmax(H) at the balanced minimum, measured (power iteration on exact Hessian-vector products): the
        largest lr at which gradient descent can settle at a minimum, the meaning ``learning_rate.max_stable`` has
        for every model. The balanced minimum is the flattest of its family (W1 D, D⁻¹ W2), so above it no minimum
        is stable; below it a run may still fail from its start (``max_stable_init``). None when λ is 0."""
        lam = self.lambda_minimum_measured
        return 2.0 / lam if lam > 0 else None

    @property
    def threshold_minimum(self) -> float:
        """2 / λ at the balanced minimum (:func:`stability_curvature`): GD near the minimum diverges above it."""
        return _two_over(stability_curvature(self.lambda_minimum, self.lambda_minimum_measured))
    tol: float
    findings: tuple[Finding, ...]
    seconds: float

    def _render_text(self, console) -> None:
        from .render.text import render_two_layer

        render_two_layer(self, console)

    def to_dict(self) -> dict:
        """The report as ``condiag analyze --model two-layer --json`` writes it."""
        from .render.json_report import two_layer_json

        return two_layer_json(self)

    def verdict(self, fail_on: str = "never", max_condition: float | None = None):
        """The exit-code checks: --fail-on on the findings, --max-condition on cond(A)."""
        from .policy import model_verdict

        return model_verdict(self, fail_on, max_condition)


SIMULATION_BUDGET = 200_000
"""Steps of gradient descent simulated to check the recommended lr (a 10x6 fit takes well under a second)."""
ADAM_TARGET_STEPS = 300
"""The Adam remedy aims at covering the distance to the minimum in about this many steps."""
LARGE_CURVATURE = 1e3
"""λmax above which CD150 warns that scale, not conditioning, sets the lr (2/λ below 2e-3)."""


def stability_curvature(formula: float, measured: float) -> float:
    """The curvature an lr is checked against: the larger of the formula's estimate and the measured λmax.

    Formula (i) bounds λmax at the start from above, but formula (ii) can fall below the true λmax at the minimum
    when the inputs are not white (C ≠ I: 453 against a measured 570 on a 5×4 target with 40 samples); the larger of
    the two never states a stable lr that is not.
    """
    return max(formula, measured)


def _two_over(curvature: float) -> float:
    return 2.0 / curvature if curvature > 0 else math.inf


def _simulated_steps(problem: TwoLayerProblem, solver: str, lr: float, tol: float, budget: int) -> int | None:
    """Steps ``solver`` at ``lr`` takes from the initial point to a loss gap of tol·max(1, start gap), by simulation.

    The same run ``condiag compare --solvers SOLVER --lr LR`` makes; None when it did not converge within ``budget``.
    """
    from .comparison import compare
    from .solvers import Settings

    result = compare(problem, [solver], Settings(max_iter=budget, tol=tol, lr=lr)).results[0]
    return result.iterations if result.status == "converged" else None


def analyze_two_layer(problem: TwoLayerProblem, lrs=(), *, tol: float = 1e-6) -> TwoLayerAnalysis:
    """Curvature at the start and at the balanced minimum, the lr that works, Adam's travel limit, findings."""
    started = time.perf_counter()
    best = optimum(problem)
    theta0 = problem.initial_point()
    s = np.linalg.svd(problem.A, compute_uv=False)
    cond = float(s[0] / s[-1]) if s[-1] > 0 else math.inf
    lam_init, lam_min, recommended = stability_curvatures(problem, theta0, best)
    rates = component_rates(problem, best)
    measured_init = power_iteration_top(problem, theta0)
    measured_min = power_iteration_top(problem, best.theta)
    slowest = float(rates[rates > 0].min()) if np.any(rates > 0) else None
    steps = None
    if slowest is not None:
        steps = max(1, math.ceil(math.log(tol) / (2.0 * math.log1p(-min(recommended * slowest, 1.0 - 1e-16)))))
    kept = best.singular_values[best.singular_values > 0]
    slowdown = float(kept.max() / kept.min()) if kept.size else 1.0
    distance = max(float(np.max(np.abs(best.theta))) - problem.init_scale, 0.0)
    checks = tuple(
        TwoLayerCheck(float(lr), lr < _two_over(stability_curvature(lam_init, measured_init)),
                      lr < _two_over(stability_curvature(lam_min, measured_min)), math.ceil(distance / lr))
        for lr in lrs
    )
    steps_simulated = _simulated_steps(problem, "gd", floor_sig(recommended, 3), tol, SIMULATION_BUDGET)
    adam_lr = adam_steps = None
    if any(check.adam_min_steps > 1000 for check in checks) and distance > 0:
        candidate = floor_sig(distance / ADAM_TARGET_STEPS, 2)
        adam_steps = _simulated_steps(problem, "adam", candidate, tol, 10 * ADAM_TARGET_STEPS)
        adam_lr = candidate if adam_steps is not None else None
    partial: dict[str, Any] = {
        "problem": problem, "optimum": best, "singular_values": s, "condition_number": cond, "start_loss": problem.value(theta0),
        "lambda_init": lam_init, "lambda_init_measured": measured_init, "lambda_minimum": lam_min,
        "lambda_minimum_measured": measured_min, "recommended_lr": recommended, "component_rates": rates,
        "steps_at_recommended": steps, "steps_simulated": steps_simulated, "adam_lr": adam_lr, "adam_steps": adam_steps,
        "slowdown": slowdown, "distance": distance, "checks": checks, "tol": tol,
    }
    findings = two_layer_findings(**partial)
    return TwoLayerAnalysis(**partial, findings=tuple(findings), seconds=time.perf_counter() - started)


# ---------------------------------------------------------------------------- findings
def _remedies(analysis) -> tuple[Remedy, ...]:
    p = analysis["problem"]
    return (
        Remedy("Use Gauss–Newton / Levenberg–Marquardt",
               "LM solves the linearised least-squares problem for (dW1, dW2) each step, so the scale of A does not matter; "
               "`condiag compare ... --solvers lm` shows it.", None),
        Remedy("Alternating least squares", "Solve for W1 with W2 fixed, then W2 with W1 fixed — each an exact least-squares solve.",
               "W1 = A @ C @ W2.T @ np.linalg.pinv(W2 @ C @ W2.T); W2 = np.linalg.pinv(W1) @ A"),
        Remedy("Use the learning rate that fits the scale",
               f"lr = {sig_below(analysis['recommended_lr'], 3)} (1/λmax over the start and the minimum).",
               f"opt = torch.optim.SGD(model.parameters(), lr={sig_below(analysis['recommended_lr'], 3)})"),
        Remedy("Balanced or spectral initialisation",
               "Start from W1 = U_K Σ_K^½, W2 = Σ_K^½ V_Kᵀ of a cheap estimate of A, or scale the init to √σ₁.", None),
        Remedy("Solve the linear problem directly",
               f"The best rank-{p.K} product is the truncated SVD of A (Eckart–Young); no training is needed.",
               f"U, s, Vt = np.linalg.svd(A); W1 = U[:, :{p.K}] * np.sqrt(s[:{p.K}]); W2 = np.sqrt(s[:{p.K}])[:, None] * Vt[:{p.K}]"),
    )


def two_layer_findings(**a) -> list[Finding]:
    p = a["problem"]
    findings = []
    limit_init = _two_over(stability_curvature(a["lambda_init"], a["lambda_init_measured"]))
    limit_minimum = _two_over(stability_curvature(a["lambda_minimum"], a["lambda_minimum_measured"]))
    cond = a["condition_number"]
    top = max(a["lambda_init"], a["lambda_minimum"])
    s1 = a["singular_values"][0]
    scale_words = "the number of samples, " if p.samples else ""
    findings.append(Finding(
        "CD150",
        "warning" if cond < ILL_CONDITIONED and top > LARGE_CURVATURE else "info",
        f"Scale, not conditioning: cond(A) = {sig(cond, 3)} but the curvature reaches {sig(top, 3)}",
        f"A is {'well' if cond < ILL_CONDITIONED else 'poorly'} conditioned (cond(A) = {sig(cond, 3)}), yet its scale (σ₁ = {sig(s1, 3)}), "
        f"{scale_words}and the loss convention make the Hessian's top eigenvalue {sig(a['lambda_init'], 3)} at the start "
        f"(measured {sig(a['lambda_init_measured'], 3)} by Hessian-vector power iteration; formula 2c[σ₁(R₀) + σ₁(W1)²λmax(C) + σ₁(W2L)²]) "
        f"and {sig(a['lambda_minimum'], 3)} at the balanced minimum (measured {sig(a['lambda_minimum_measured'], 3)}; formula "
        f"4c·σ₁(M*)·v₁ᵀCv₁), which grows as the factors grow towards A's scale. Gradient descent needs lr below "
        f"2/λ: {sig(limit_init, 3)} at the start and {sig(limit_minimum, 3)} near the minimum. "
        f"The lr that works: {sig(a['recommended_lr'], 3)}.",
        _remedies(a),
        {"lambda_init": a["lambda_init"], "lambda_minimum": a["lambda_minimum"], "recommended_lr": a["recommended_lr"]},
    ))
    for check in a["checks"]:
        if not (check.stable_at_init and check.stable_at_minimum):
            where = " and ".join(w for w, ok in (("at the start", check.stable_at_init), ("near the minimum", check.stable_at_minimum)) if not ok)
            findings.append(Finding(
                "CD151", "error", f"lr = {sig(check.lr, 3)} is unstable {where}",
                f"lr = {sig(check.lr, 3)} exceeds 2/λmax {where} ({sig(limit_init, 3)} at the start, "
                f"{sig(limit_minimum, 3)} near the minimum): gradient descent blows up within a few steps. "
                f"Use lr ≤ {sig(a['recommended_lr'], 3)}.",
                (), {"lr": check.lr},
            ))
        if check.adam_min_steps > 1000:
            findings.append(Finding(
                "CD152", "warning", f"Adam at lr = {sig(check.lr, 3)} needs at least {count(check.adam_min_steps)} steps to get there",
                f"Adam moves each weight by about lr per step, whatever the gradient. The balanced minimum has weights of size up to "
                f"{sig(a['distance'] + p.init_scale, 3)} (≈ √σ₁(M*) = {sig(math.sqrt(a['optimum'].singular_values[0]), 3)}) while the "
                f"initialisation has scale {sig(p.init_scale, 3)}, so reaching it takes at least {sig(a['distance'], 3)} / lr = "
                f"{count(check.adam_min_steps)} steps; the loss stays near its start until then.",
                (Remedy("Raise Adam's lr to the weights' scale",
                        f"lr = {a['adam_lr']!r} reaches the minimum in {count(a['adam_steps'])} steps (simulated from this "
                        "initialisation).", f"opt = torch.optim.Adam(model.parameters(), lr={a['adam_lr']!r})"),)
                if a["adam_lr"] is not None else (),
                {"lr": check.lr, "min_steps": check.adam_min_steps},
            ))
    if a["slowdown"] > 1.5 and a["steps_at_recommended"]:
        findings.append(Finding(
            "CD153", "info", f"The last component takes σ₁/σ_K = {sig(a['slowdown'], 3)} times longer",
            f"Near the minimum, component i of W1·W2 is learned at rate ≈ lr·4c·σᵢ(M*)·vᵢᵀCvᵢ; the smallest kept one "
            f"(σ_K = {sig(a['optimum'].singular_values.min(), 3)}) is {sig(a['slowdown'], 3)} times slower than the first, so at the "
            f"recommended lr it needs about {count(a['steps_at_recommended'])} steps to shrink its error by {sig(a['tol'], 2)}.",
            (), {"slowdown": a["slowdown"], "steps": a["steps_at_recommended"]},
        ))
    findings.append(Finding(
        "CD154", "info", "The minima form a continuous family: weights are not unique",
        "(W1·D, D⁻¹·W2) gives the same product for every invertible D, so the Hessian at a minimum is singular along "
        f"{p.K * p.K} directions and different runs end at different weights with the same W1·W2 and the same loss. "
        "Compare runs by the product W1·W2 or the loss, not by the weights.",
        (), {},
    ))
    discarded = a["optimum"].discarded
    if discarded.size and discarded.max() > 0:
        findings.append(Finding(
            "CD155", "info", f"Rank {p.K} cannot fit A exactly: the loss floor is {sig(a['optimum'].loss, 4)}",
            f"By Eckart–Young the best rank-{p.K} product leaves the discarded singular values of A·L: f* = c·Σσᵢ² = {sig(a['optimum'].loss, 4)}.",
            (), {"loss_floor": a["optimum"].loss},
        ))
    return sorted(findings, key=lambda f: -severity_rank(f.severity))
