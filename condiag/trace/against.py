"""A log against the problem it came from: the curve condiag predicts, and where the log departs from it.

Gradient descent at lr from x0 on a least-squares problem has the loss, exactly (in closed form, see
:mod:`condiag.trajectories`),

    f(x_t) = f* + Σ_i ½ λ_i e_i(0)² (1 - lr λ_i)^{2t}.

A log that does not follow it was made by a different computation. Each likely difference is itself a
curve condiag can predict, so the cause is found by which prediction the log follows (every candidate
within :data:`AGREE` at every record wins; the stated setting is preferred on a tie):

* another loss convention (``sum`` where ``mean`` was assumed: the logged value is n times larger *and* the
  rate is that of lr·n, since the gradient is n times larger),
* target broadcasting: ``MSELoss(pred of shape (N, 1), target of shape (N,))`` averages the N×N matrix of
  (a_iᵀx - b_j)², which is (1/N) Σ_i (a_iᵀx - b̄)² + var(b): a different quadratic, with b replaced by its mean,
* float32: the same steps run in float32 (condiag's float32 gradient descent, as PyTorch rounds), which
  follows the float64 curve until float32 can no longer resolve the gradient, then stalls.

Two departures have no curve of their own and are told by their shape: a log that decays at gradient
descent's rates but starts elsewhere (a different x0), and one that alternates, rises where gradient descent
must fall, or whose fitted factors are not those (1 - lr λ_i)² gradient descent has at this lr (momentum or an
adaptive method). A departure is "unexplained" only when the log has no fitted curve to judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..problem import LOSS_CONVENTIONS, Problem

AGREE = 0.01
"""A record agrees with a prediction when they differ by at most this share of the prediction."""
STALL_MARGIN = 10.0
"""A float32 log may differ from condiag's float32 run by this many times the level that run stalls at."""
RISE = 1e-4
"""A rise of the loss by more than this share counts (float32 rounds a loss to about 6e-8 of itself)."""
RATE_MATCH = 0.01
"""A fitted factor r is one of gradient descent's when |log r - log r_i| <= this share of |log r_i|."""


@dataclass(frozen=True)
class Candidate:
    """One computation the log might come from, with its predicted curve at the log's steps."""

    name: str
    """'stated', 'loss=sum' (another convention), 'broadcast' or 'float32'."""
    description: str
    predicted: np.ndarray
    agreement: float
    """Share of the finite records within :data:`AGREE` of the prediction."""
    departs_at: float | None
    """The first step whose record is not within :data:`AGREE` (None: none departs)."""


@dataclass(frozen=True)
class Comparison:
    """The log against the problem."""

    problem_source: str
    loss: str
    lr: float
    x0_source: str
    floor: float
    """f* of the problem."""
    floor_is_zero: bool
    """f* is zero up to rounding (:func:`condiag.reference.floor_is_zero`)."""
    start_loss: float
    """f(x0) predicted."""
    steps: np.ndarray
    stated: Candidate
    best: Candidate
    candidates: tuple[Candidate, ...]
    gd_factors: np.ndarray
    """(1 - lr λ_i)² of the directions x0 excites, slowest first."""
    cause: str
    """'agrees', 'loss convention', 'broadcast', 'float32', 'starting point', 'not gradient descent' or 'unexplained'."""


def predicted_gd_curve(problem: Problem, lr: float, x0: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """(f(x_t) at ``steps`` for GD at ``lr`` from ``x0`` in closed form, f*, the factors (1 - lr λ_i)² excited)."""
    from ..bounds import quadratic_model
    from ..reference import reference_from
    from ..spectrum import decompose
    from ..trajectories import LinearMethod, log_gaps

    decomposition = decompose(problem)
    reference = reference_from(problem, decomposition)
    model = quadratic_model(problem, decomposition, reference.x, x0, reference.loss)
    method = LinearMethod("gd", lr)
    with np.errstate(over="ignore"):
        gaps = np.exp(log_gaps(model, method, np.asarray(steps, dtype=float)))
    lam, weights = model.weights()
    factors = np.sort(((1.0 - lr * lam) ** 2)[weights > 0])[::-1]
    return reference.loss + gaps, float(reference.loss), factors


def _agreement(observed: np.ndarray, predicted: np.ndarray, steps: np.ndarray) -> tuple[float, float | None]:
    finite = np.isfinite(observed)
    with np.errstate(invalid="ignore", divide="ignore"):
        close = np.abs(observed - predicted) <= AGREE * np.abs(predicted)
    close &= finite & np.isfinite(predicted)
    share = float(np.mean(close[finite])) if finite.any() else 0.0
    bad = np.flatnonzero(~close)
    return share, (float(steps[bad[0]]) if bad.size else None)


def _candidate(name: str, description: str, predicted, observed, steps) -> Candidate:
    share, departs = _agreement(observed, predicted, steps)
    return Candidate(name, description, predicted, share, departs)


def broadcast_problem(problem: Problem) -> tuple[Problem, float, float]:
    """(the problem a broadcast target makes, its value scale, its constant): for the mean convention
    f_bc(x) = (1/N²) Σ_ij (a_iᵀx - b_j)² = f_mean(x; b̄·1) + var(b); for the sum, Σ_ij = N f_sum(x; b̄·1) + N² var(b)."""
    n = problem.n_rows
    mean_b = float(np.mean(problem.b))
    variance = float(np.mean((problem.b - mean_b) ** 2))
    flat = problem.with_options(b=np.full(n, mean_b))
    if problem.loss in ("mean", "half-mean"):
        return flat, 1.0, variance * (0.5 if problem.loss == "half-mean" else 1.0)
    return flat, float(n), n * n * variance * (0.5 if problem.loss == "half" else 1.0)


def _float32_curve(problem: Problem, lr: float, x0: np.ndarray, steps: np.ndarray) -> np.ndarray | None:
    """f of the float32 GD iterate at each of ``steps`` (condiag's float32 run, continued from record to record)."""
    from ..float32 import affordable, float32_run
    from ..solvers.first_order import GradientDescent, float32_value

    last = int(steps[-1])
    if not affordable(problem, last) or np.any(steps != np.round(steps)) or steps[0] < 0:
        return None
    x = np.asarray(x0, dtype=np.float32)
    done = 0
    out = np.empty(steps.size)
    solver = GradientDescent()
    value = float32_value(problem)
    with np.errstate(all="ignore"):
        for k, step in enumerate(steps.astype(int)):
            if step > done:
                x, _ = float32_run(problem, solver, {"lr": lr}, step - done, x)
                done = step
            out[k] = value(x) if np.all(np.isfinite(x)) else math.inf
    return out


def _stall_agreement(observed, float32, float64, steps, floor: float) -> tuple[float, float | None]:
    """How well a log follows a float32 run: within :data:`AGREE` of it, plus, once the float32 run has stalled
    (its gap ends more than :data:`STALL_MARGIN` times above float64's), :data:`STALL_MARGIN` times the gap it
    stalls at (a stalled float32 loss is rounding, which two float32 codes share in size only)."""
    from ..causes import FLOAT32_UNIT_ROUNDOFF

    end32, end64 = float32[-1] - floor, float64[-1] - floor
    stalled = np.isfinite(end32) and end32 > STALL_MARGIN * max(end64, 0.0)
    rounding = max(abs(end32), FLOAT32_UNIT_ROUNDOFF * abs(floor)) if stalled else 0.0
    finite = np.isfinite(observed)
    with np.errstate(invalid="ignore"):
        close = np.abs(observed - float32) <= AGREE * np.abs(float32) + STALL_MARGIN * rounding
    close &= finite
    bad = np.flatnonzero(~close)
    return (float(np.mean(close[finite])) if finite.any() else 0.0), (float(steps[bad[0]]) if bad.size else None)


def compare_with_problem(log, problem: Problem, lr: float, x0: np.ndarray, x0_source: str = "zeros", fit=None) -> Comparison:
    """The log of one run against GD on ``problem`` at ``lr`` from ``x0`` (module docstring)."""
    steps = np.asarray(log.steps, dtype=float)
    observed = np.asarray(log.loss, dtype=float)
    curve, floor, factors = predicted_gd_curve(problem, lr, x0, steps)
    stated = _candidate("stated", f"gradient descent on the {problem.loss} loss", curve, observed, steps)
    candidates = [stated]
    for loss in LOSS_CONVENTIONS:
        if loss != problem.loss and not problem.is_quadratic:
            other = problem.with_options(loss=loss)
            predicted, _, _ = predicted_gd_curve(other, lr, x0, steps)
            candidates.append(_candidate(f"loss={loss}", f"the {loss} loss instead of the {problem.loss}",
                                         predicted, observed, steps))
    if not problem.is_quadratic and problem.n_rows > 1:
        flat, scale, constant = broadcast_problem(problem)
        predicted, _, _ = predicted_gd_curve(flat, lr * scale, x0, steps)  # its gradient is scale times flat's
        candidates.append(_candidate("broadcast", "targets (N,) broadcast against predictions (N, 1)",
                                     scale * predicted + constant, observed, steps))
    float32 = _float32_curve(problem, lr, x0, steps)
    if float32 is not None:
        share, departs = _stall_agreement(observed, float32, curve, steps, floor)
        candidates.append(Candidate("float32", "the same steps run in float32", float32, share, departs))
    best = max(candidates, key=lambda c: (c.agreement, c is stated))
    start_loss = float(problem.value(x0))
    cause = _cause(stated, best, observed, curve, factors, fit)
    from ..reference import floor_is_zero

    return Comparison(problem.source, problem.loss, lr, x0_source, floor, floor_is_zero(problem, floor, start_loss), start_loss,
                      steps, stated, best, tuple(candidates), factors, cause)


def _cause(stated: Candidate, best: Candidate, observed, predicted, factors, fit) -> str:
    if stated.agreement == 1.0:
        return "agrees"
    if best is not stated and best.agreement >= 0.99:
        return {"broadcast": "broadcast", "float32": "float32"}.get(best.name, "loss convention")
    finite = observed[np.isfinite(observed)]
    rises = np.diff(finite) > RISE * np.abs(finite[:-1])
    predicted_rises = np.diff(predicted[np.isfinite(observed)]) > 0
    if np.any(rises & ~predicted_rises) and rises.mean() > 0.05:
        return "not gradient descent"
    if fit is not None and fit.components and factors.size:
        # GD's own rates from another start, or rates GD cannot have at this lr
        return "starting point" if all(_is_gd_factor(c.factor, factors) for c in fit.components) else "not gradient descent"
    return "unexplained"


def _is_gd_factor(r: float, factors: np.ndarray) -> bool:
    if r <= 0 or r >= 1:
        return False
    logs = np.log(np.maximum(factors, np.finfo(float).tiny))
    return bool(np.any(np.abs(math.log(r) - logs) <= RATE_MATCH * np.abs(logs) + 1e-12))


def comparison_findings(c: Comparison, n_rows: int) -> list:
    """Findings CD170–CD176 (README) from a :class:`Comparison`."""
    from ..findings import Finding, Remedy
    from ..numbers import count, sig

    where = f"from step {count(c.stated.departs_at)}" if c.stated.departs_at is not None else ""
    data = {"cause": c.cause, "agreement": c.stated.agreement, "departs_at": c.stated.departs_at}
    if c.cause == "agrees":
        return [Finding("CD170", "info", "The log follows condiag's prediction at every record",
                        f"Every record is within {sig(100 * AGREE, 2)}% of {c.stated.description} at lr {sig(c.lr, 4)} from "
                        f"x0 = {c.x0_source} (closed form; f* = {'0' if c.floor_is_zero else sig(c.floor, 5)}).", (), data)]
    share = f"{sig(100 * c.stated.agreement, 3)}% of the records agree with the stated setting; "
    if c.cause == "loss convention":
        actual = c.best.name.split("=", 1)[1]
        ratio = n_rows if {actual, c.loss} in ({"sum", "mean"}, {"half", "half-mean"}) else None
        rate = (f" The gradient of the {actual} loss is {'n' if actual in ('sum', 'half') else '1/n'} times that of the {c.loss}, so the "
                f"run moves as if lr were {sig(c.lr * ratio if actual in ('sum', 'half') else c.lr / ratio, 4)}.") if ratio else ""
        return [Finding("CD171", "error", f"Your loss is the {actual}, not the {c.loss}",
                        share + f"the log follows {c.best.description} at every record.{rate}",
                        (Remedy("Say the convention your code uses", f"Run condiag with --loss {actual}, or change the "
                                "reduction in your code; the lr bounds differ by the same factor."),), data)]
    if c.cause == "broadcast":
        return [Finding("CD174", "error", "Target broadcasting: predictions (N, 1) against targets (N,)",
                        share + "the log follows the loss of every prediction against every target, "
                        "(1/N) Σ_i (a_iᵀx - mean(b))² + var(b): the model learns the mean of b, not b.",
                        (Remedy("Make the shapes agree", "Flatten the prediction (or unsqueeze the target) before the loss.",
                                "loss = torch.nn.functional.mse_loss(model(X).squeeze(-1), y)"),), data)]
    if c.cause == "float32":
        last = c.best.predicted[-1]
        return [Finding("CD175", "warning", f"float32 stalls the run {where}".strip(),
                        share + f"the log follows the same steps run in float32, which levels off at {sig(last, 4)} where "
                        f"float64 reaches {sig(c.stated.predicted[-1], 4)}.",
                        (Remedy("Train in float64, or rescale the problem", "float32 resolves about 2⁻²⁴ of the gradient."),), data)]
    if c.cause == "starting point":
        return [Finding("CD172", "warning", "A different starting point",
                        share + f"the log decays at gradient descent's own rates at this lr, but its first record "
                        f"differs from f(x0) = {sig(c.start_loss, 5)} for x0 = {c.x0_source}.",
                        (Remedy("Give the starting point", "--x0 with your initial weights (or --x0 torch for nn.Linear's init)."),), data)]
    if c.cause == "not gradient descent":
        return [Finding("CD173", "warning", "Not plain gradient descent: momentum or an adaptive method",
                        share + "the log rises where gradient descent must fall, or falls faster than any gradient descent "
                        "at this lr can (its slowest factor is below (1 - lr λmin)²). Momentum, Adam or a line search "
                        "was at work; condiag compare runs those with your parameters.", (), data)]
    return [Finding("CD176", "warning", f"The log departs from the prediction {where}".strip(),
                    share + "no loss convention, target shape, float32 or starting point explains it.", (), data)]
