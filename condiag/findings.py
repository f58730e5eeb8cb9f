"""Findings: pure rules from computed numbers to plain-words explanations with remedies.

Every finding has a stable code (listed in the README) that CI can grep, a severity
(info < warning < error), a one-line title, a detail paragraph carrying the numbers,
and ranked remedies. Nothing here computes a new number about the problem except the
simple arithmetic that turns a rate into words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_CEILING

import numpy as np

from .numbers import count, factor, loadings_text, round_sig, sig, sig_below
from .thresholds import (
    FLOAT32_ERROR,
    FLOAT32_WARNING,
    ILL_CONDITIONED,
    MIN_CORRECT_DIGITS,
    SCALING_IMPROVEMENT,
    SCALING_MIN_CONDITION,
    condition_severity,
)

SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True)
class Remedy:
    """One thing to do, best first."""

    title: str
    detail: str
    snippet: str | None = None


@dataclass(frozen=True)
class Finding:
    """A diagnosis with a stable code."""

    code: str
    severity: str
    title: str
    detail: str
    remedies: tuple[Remedy, ...] = ()
    data: dict = field(default_factory=dict)


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


# ---------------------------------------------------------------------------- remedies
def _remedy_direct(problem) -> Remedy:
    if problem.is_quadratic:
        return Remedy(
            "Solve directly",
            "A quadratic's minimiser solves Q x = b: one linear solve, no learning rate.",
            "x = np.linalg.solve(Q, b)            # or scipy.linalg.cho_solve for SPD Q",
        )
    return Remedy(
        "Solve it directly (least squares)",
        "A linear least-squares problem needs no learning rate: an SVD/QR solver gives the answer in one call.",
        "x, *_ = np.linalg.lstsq(A, b, rcond=None)     # PyTorch: torch.linalg.lstsq(A, b).solution",
    )


def _remedy_krylov(spectrum, n_cols: int, tol: float) -> Remedy:
    kappa = spectrum.effective_condition_number or spectrum.condition_number
    # CG's error bound 2((κ-1)/(κ+1))^k on the normal equations, κ = cond(A): k ≈ κ·ln(2/ε)/2 (Golub & Van Loan, Thm 11.3.3)
    bound = 0.5 * kappa * math.log(2.0 / math.sqrt(tol)) if math.isfinite(kappa) else math.inf
    if bound <= n_cols:
        words = f"at most about cond(A)·ln(2/√tol)/2 ≈ {count(math.ceil(bound))} iterations (their worst-case bound)"
    else:
        words = (f"at most d = {count(n_cols)} iterations in exact arithmetic; the worst-case bound from cond(A) = "
                 f"{sig(kappa, 3)} is larger, and in floating point the d-step limit erodes as cond(A) grows")
    return Remedy(
        "Use a Krylov solver (CG on the normal equations / LSQR)",
        f"LSQR and CG need {words}; they use only products with A and Aᵀ.",
        "from scipy.sparse.linalg import lsqr\nx = lsqr(A, b, atol=1e-12, btol=1e-12)[0]",
    )


def _remedy_lbfgs() -> Remedy:
    return Remedy(
        "Use L-BFGS",
        "A quasi-Newton method learns the curvature from gradients and follows the valley floor.",
        "opt = torch.optim.LBFGS([x], lr=1, max_iter=500, line_search_fn='strong_wolfe')",
    )


def _sgd_snippet(advised) -> str:
    """The PyTorch line for advised parameters, with exactly the checked values (repr round-trips)."""
    momentum = f", momentum={advised.beta!r}" if advised.beta else ""
    return f"opt = torch.optim.SGD([x], lr={advised.lr!r}{momentum})"


def _steps_phrase(advised, tol: float) -> str:
    where = "from your x0" if advised.closed_form else "worst case over x0"
    return f"{count(advised.steps_to_tol)} steps to a loss gap of {sig(tol, 2)} of its start ({where})"


def _remedy_gd_lr(advice: dict, tol: float, user_lr_steps: int | None) -> Remedy | None:
    """Plain GD at the advised lr, offered when it needs fewer steps than the user's lr."""
    gd = advice.get("gd")
    if gd is None or gd.steps_to_tol is None or (user_lr_steps is not None and gd.steps_to_tol >= user_lr_steps):
        return None
    return Remedy(
        "Use the advised learning rate",
        f"Gradient descent at lr = {gd.lr!r} (10% from the edge of stability, checked) needs {_steps_phrase(gd, tol)}"
        + (f" instead of {count(user_lr_steps)}." if user_lr_steps is not None else "."),
        _sgd_snippet(gd),
    )


TRANSIENT_WORTH_SAYING = 1.5
"""A momentum remedy warns of the loss's transient rise when it peaks at this many times its starting gap."""


def _remedy_momentum(advice: dict, tol: float, user_lr_steps: int | None = None) -> Remedy | None:
    """Heavy-ball momentum with verified parameters, offered only when it beats plain GD here."""
    hb, gd = advice.get("heavy_ball"), advice.get("gd")
    if hb is None or hb.steps_to_tol is None or hb.beta <= 0.0:
        return None  # no momentum to offer (a round problem's optimal beta is 0: that is gradient descent)
    candidates = [s for s in (user_lr_steps, gd.steps_to_tol if gd is not None else None) if s is not None]
    baseline = min(candidates) if candidates else None
    if baseline is not None and hb.steps_to_tol >= baseline:
        return None  # momentum would not beat plain GD (at your lr or at the advised one) on this problem
    than = f" instead of {count(baseline)} for gradient descent" if baseline is not None else ""
    cost = (f" (Polyak's optimum: {count(hb.steps_at_optimum)}, but it hugs the edge of stability)"
            if hb.steps_at_optimum is not None else "")
    rise = ""
    if hb.peak_ratio >= TRANSIENT_WORTH_SAYING:
        rise = (f" Expect the loss to rise first, to about {sig(hb.peak_ratio, 2)}× its starting gap near step "
                f"{count(hb.peak_step)}, before it falls: that is momentum's transient, not divergence.")
    return Remedy(
        "Add momentum (checked parameters)",
        f"Heavy ball, 10% from the edge of stability and checked in float64 and float32: {_steps_phrase(hb, tol)}{than}{cost}.{rise}",
        _sgd_snippet(hb),
    )


def _remedy_scaling(scaling) -> Remedy:
    best, how = scaling.best
    if how == "standardised":
        words = "standardising the columns (mean 0, standard deviation 1)"
        snippet = "mu, sd = X.mean(0), X.std(0); Z = (X - mu) / sd   # fit on Z, then map the weights back"
    else:
        words = "scaling every column to unit norm"
        snippet = "d = np.linalg.norm(A, axis=0); z = train(A / d, b); x = z / d   # change of variables x = z / d"
    return Remedy(
        "Standardise or precondition the columns",
        f"{words[0].upper() + words[1:]} brings cond(A) from {sig(scaling.condition_number, 3)} to {sig(best, 3)}; "
        "this is a change of variables, so the answer maps back exactly.",
        snippet,
    )


def _remedy_ridge(ridge) -> Remedy | None:
    if ridge is None or (ridge.x_relative_change is not None and ridge.x_relative_change > 0.5):
        return None  # a ridge that changes the answer beyond recognition is no remedy
    cost = ""
    if ridge.x_relative_change is not None:
        cost = f"; it moves the answer by {sig(100 * ridge.x_relative_change, 2)}% (bias) and raises the data loss by {sig(ridge.loss_increase, 3)}"
    return Remedy(
        "Regularise (ridge)",
        f"Adding {sig(ridge.ridge, 3)}·||x||² to the loss brings cond(H) down to {sig(ridge.target_condition, 2)}{cost}. "
        "It changes the problem: use it when any of the near-equivalent answers will do.",
        f"opt = torch.optim.SGD([x], lr=..., weight_decay={sig(ridge.weight_decay, 3)})   # = 2·lambda",
    )


def _remedy_float64() -> Remedy:
    return Remedy(
        "Compute in float64",
        "Double precision resolves about 1e-16 instead of 6e-8 relative.",
        "torch.set_default_dtype(torch.float64)   # or model.double(); A = A.double()",
    )


def _remedies(*items) -> tuple[Remedy, ...]:
    return tuple(item for item in items if item is not None)


# ---------------------------------------------------------------------------- rules
def _gd_steps(advice: dict) -> tuple[int | None, int | None, float | None]:
    """(steps at the advised lr, steps at the optimum 2/(L+mu), the advised lr), in the one meaning of steps."""
    gd = advice.get("gd")
    return (gd.steps_to_tol, gd.steps_at_optimum, gd.lr) if gd is not None else (None, None, None)


def _valley(problem, spectrum, bounds, advice, ridge, causes) -> Finding | None:
    kappa = spectrum.effective_hessian_condition_number
    if kappa is None or kappa < ILL_CONDITIONED:
        return None
    severity = condition_severity(kappa)
    slow = spectrum.slowest_learned or spectrum.flattest
    steep = spectrum.steepest
    iterations, at_optimum, safe_lr = _gd_steps(advice)
    lr_opt = bounds.optimal
    per_step_gap = (lr_opt or 0) * slow.eigenvalue
    singular_note = " (among the directions the data determines)" if bounds.mu_is_restricted else ""
    detail = (
        f"The Hessian has condition number {sig(kappa, 3)}{singular_note}: the loss is a long, narrow valley. "
        f"Its steep walls run along {loadings_text(steep.loadings)} with curvature L = {sig(steep.eigenvalue)}, "
        f"its flat floor along {loadings_text(slow.loadings)} with curvature {sig(slow.eigenvalue)}. "
        f"The walls cap the learning rate: above 2/L = {sig(bounds.divergence_threshold, 7)} gradient descent "
        "overshoots across the valley further every step and diverges. "
        f"Even at the best fixed rate 2/(L+mu) = {sig_below(lr_opt, 6)} the error along the floor shrinks only by "
        f"{factor(1.0 - per_step_gap, per_step_gap)} per step, so shrinking the loss gap by {sig(bounds.tol, 2)} takes "
        + (f"{count(at_optimum)} steps" if at_optimum is not None else "forever (in float64 that lr is the edge itself)")
        + (f"; at lr = {safe_lr!r}, 10% from the edge, {count(iterations)}." if safe_lr is not None else ".")
    )
    scaling_remedy = None
    if causes.scaling is not None and causes.scaling.improvement >= 10:
        scaling_remedy = _remedy_scaling(causes.scaling)
    return Finding(
        "CD101",
        severity,
        f"Narrow valley: cond(H) = {sig(kappa, 3)}, gradient descent needs {count(iterations)} steps"
        + (f" at lr = {safe_lr!r}" if safe_lr is not None else ""),
        detail,
        _remedies(
            _remedy_direct(problem),
            None if problem.is_quadratic else _remedy_krylov(spectrum, problem.n_cols, bounds.tol),
            _remedy_lbfgs(),
            _remedy_momentum(advice, bounds.tol),
            scaling_remedy,
            _remedy_ridge(ridge),
        ),
        {"hessian_condition_number": kappa, "iterations_to_tol": iterations},
    )


def _well_conditioned(spectrum, bounds, advice) -> Finding | None:
    kappa = spectrum.effective_hessian_condition_number
    if kappa is None or kappa >= ILL_CONDITIONED:
        return None
    gd = advice.get("gd")
    at = (f"Gradient descent at lr = {gd.lr!r} (10% from the edge, checked) needs {_steps_phrase(gd, bounds.tol)}; "
          if gd is not None and gd.steps_to_tol is not None else "")
    return Finding(
        "CD100",
        "info",
        f"Well conditioned: cond(H) = {sig(kappa, 3)}",
        f"{at}any lr below {sig_below(bounds.divergence_threshold, 5)} converges.",
        (),
        {"hessian_condition_number": kappa},
    )


def _rank_deficient(problem, spectrum, reference) -> Finding | None:
    if spectrum.null_dim == 0:
        return None
    near = spectrum.rank < min(problem.n_rows, problem.n_cols)
    if problem.is_quadratic:
        words = f"Q is singular: {spectrum.null_dim} of its {problem.n_cols} eigenvalues are zero (≤ {sig(spectrum.rank_tol, 2)})."
    else:
        why = "numerically singular" if near else "wider than tall"
        words = (
            f"A is {why}: rank {spectrum.rank} of {problem.n_cols} columns (singular values ≤ {sig(spectrum.rank_tol, 2)} count as zero; "
            f"cond(A) = {sig(spectrum.condition_number, 3)}). "
            f"In {spectrum.null_dim} direction{'s' if spectrum.null_dim > 1 else ''} x can change without changing A x, so infinitely "
            "many weight vectors give the same lowest loss; distances between solutions in x mean little. "
            "Gradient descent from x0 = 0 converges to the minimum-norm solution (the one lstsq and the pseudo-inverse "
            "return); any component of x0 in the null space never moves. Different solvers or starting points therefore "
            "land on different weights with the same loss."
        )
    data = {"rank": spectrum.rank, "null_dim": spectrum.null_dim}
    flat = spectrum.flattest
    if problem.ridge == 0:
        words += f" A null direction: {loadings_text(flat.loadings)}."
    remedies = _remedies(
        Remedy(
            "Add a small ridge penalty to pick one answer",
            "Ridge makes the minimiser unique and stable; compare models by loss on held-out data, not by weights.",
            "x = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ b)",
        ),
        Remedy("Remove redundant columns", "Drop or merge the columns that the null direction mixes.", None),
        _remedy_direct(problem),
    )
    return Finding(
        "CD102",
        "warning",
        f"Rank deficient: rank {spectrum.rank} of {problem.n_cols}, {spectrum.null_dim}-dimensional null space",
        words,
        remedies,
        data,
    )


def _scaling(causes) -> Finding | None:
    s = causes.scaling
    if s is None or not np.isfinite(s.improvement) or s.improvement < SCALING_IMPROVEMENT or s.condition_number < SCALING_MIN_CONDITION:
        return None
    best, _how = s.best
    cause = "the cause" if best < 30 else "a large part of the cause"
    std = f", standardised {sig(s.cond_standardised, 3)}" if s.cond_standardised is not None else ""
    return Finding(
        "CD103",
        "warning",
        f"Column scaling is {cause}: cond(A) {sig(s.condition_number, 3)} → {sig(best, 3)} after scaling",
        f"Column norms range from {sig(s.column_norm_min, 3)} ({s.smallest_column}) to {sig(s.column_norm_max, 3)} "
        f"({s.largest_column}), a factor {sig(s.column_norm_ratio, 3)}. With every column scaled to unit norm "
        f"cond(A) is {sig(s.cond_equilibrated, 3) if s.cond_equilibrated is not None else 'not computed'}{std}; the best is "
        f"{sig(s.improvement, 3)} times smaller: the variables' units, "
        "not their relationships, make the valley narrow.",
        (_remedy_scaling(s),),
        {"cond_equilibrated": s.cond_equilibrated, "cond_standardised": s.cond_standardised, "improvement": s.improvement},
    )


def _collinearity(causes) -> Finding | None:
    c = causes.collinearity
    if c is None or not c.sets:
        return None
    parts = []
    for item in c.sets[:4]:
        cols = ", ".join(f"{name} ({sig(100 * p, 2)}%)" for name, p in item.columns[:6])
        if len(item.columns) > 6:
            cols += f" and {len(item.columns) - 6} more"
        parts.append(f"condition index {sig(item.condition_index, 3)}: {cols}")
    return Finding(
        "CD104",
        "warning",
        f"Collinear columns: {len(c.sets)} near-dependenc{'y' if len(c.sets) == 1 else 'ies'} (Belsley index ≥ 30)",
        "After scaling every column to unit length, these groups of columns are nearly linearly dependent "
        "(the share of each coefficient's variance tied to the small singular value is in brackets): "
        + "; ".join(parts)
        + (f"; and {len(c.sets) - 4} more" if len(c.sets) > 4 else "")
        + ". Their coefficients are poorly determined by the data.",
        (
            Remedy("Drop, combine or centre the collinear columns", "Centring polynomial terms and removing duplicates usually helps.", None),
            Remedy("Regularise (ridge)", "Ridge shrinks the poorly determined combinations.", None),
        ),
        {"sets": [{"condition_index": s.condition_index, "columns": [n for n, _ in s.columns]} for s in c.sets]},
    )


def _precision(causes, spectrum, float32=None) -> Finding | None:
    """CD105: the worst-case float32 bound cond(H)·2⁻²⁴, and, where a float32 run was affordable, what it reached.

    The severity follows the measurement when there is one (the bound is a worst case: on the 2x2 valley it
    promises 0.7 digits while float32 heavy ball reaches 5), else the bound.
    """
    p = causes.precision
    risk = p.cond_h_float32
    if not np.isfinite(risk):
        risk = float("inf")
    if risk < FLOAT32_WARNING:
        return None
    digits = max(0.0, -math.log10(risk)) if np.isfinite(risk) and risk > 0 else 0.0
    stored = f" The input is stored as {p.input_dtype}." if p.input_dtype not in ("float64", "int64") else ""
    bound = (f"The worst-case bound for gradient-based training in float32 is cond(H) × 2⁻²⁴ = {sig(risk, 2)} relative "
             f"({sig(digits, 2)} correct digits); solvers that work with A directly: cond(A) × 2⁻²⁴ = {sig(p.cond_a_float32, 2)}.")
    data = {"cond_h_float32": p.cond_h_float32, "cond_a_float32": p.cond_a_float32}
    if float32 is None:
        severity = "error" if risk >= FLOAT32_ERROR else "warning"
        title = f"float32 cannot resolve this problem well: cond(H) × 2⁻²⁴ = {sig(risk, 2)}"
        detail = f"float32 rounds at about 6e-8 relative. {bound} Rounding also moves the observed divergence threshold slightly."
    else:
        reached = max(0.0, -math.log10(float32.relative_error)) if float32.relative_error > 0 else 16.0
        severity = ("error" if float32.relative_error >= FLOAT32_ERROR
                    else "warning" if float32.relative_error >= FLOAT32_WARNING else "info")
        method = "heavy ball" if float32.method == "momentum" else "gradient descent"
        title = f"float32 reaches about {sig(reached, 2)} correct digits here (measured; the bound says {sig(digits, 2)})"
        detail = (f"A float32 run of {method} at the advised parameters, rounded as PyTorch rounds it, ends "
                  f"{sig(float32.relative_error, 2)} from x* (relative) after {count(float32.steps)} steps, its loss gap at "
                  f"{sig(float32.gap_fraction, 2)} of its start. {bound}")
        data |= {"float32_relative_error": float32.relative_error, "float32_steps": float32.steps}
    return Finding("CD105", severity, title, detail + stored, (_remedy_float64(),), data)


def _floor(problem, reference, start_loss) -> Finding | None:
    from .reference import floor_is_zero

    if problem.is_quadratic or not problem.has_rhs or floor_is_zero(problem, reference.loss, start_loss):
        return None
    return Finding(
        "CD106",
        "info",
        f"The loss cannot go below {sig(reference.loss, 5)} (no x fits b exactly)",
        f"b is not in the range of A: the least-squares residual ||A x* - b|| = {sig(reference.residual_norm, 5)} "
        f"is the floor, a loss of {sig(reference.loss, 5)}. A run 'stuck' near this value has already converged; judge "
        "solvers by the gap f(x) - f*, not by the loss.",
        (),
        {"loss_floor": reference.loss},
    )


def _no_rhs(problem) -> Finding | None:
    if problem.has_rhs or problem.is_quadratic:
        return None
    return Finding(
        "CD107",
        "info",
        "No right-hand side b: curvature only",
        "Only A was given, so the spectrum and the learning-rate bounds are reported, but not the solution, the loss "
        "floor or the loss after T steps.",
        (Remedy("Give b", "Pass --rhs FILE[:KEY], a key b/y in the archive, or --target for a CSV column.", None),),
    )


def _not_convex(spectrum, convex, bounded) -> Finding | None:
    if convex and bounded:
        return None
    if not convex:
        return Finding(
            "CD120",
            "error",
            f"Not convex: Q has a negative eigenvalue ({sig(spectrum.lambda_min)})",
            "f(x) = ½xᵀQx - bᵀx decreases without bound along the eigenvector of the negative eigenvalue "
            f"({loadings_text(spectrum.flattest.loadings)}); gradient descent diverges from almost every start, at any lr.",
            (Remedy("Check the matrix", "A Hessian of a convex loss is positive semi-definite; a negative eigenvalue means a sign or data error.", None),),
        )
    return Finding(
        "CD121",
        "error",
        "Unbounded: b has a component along a flat direction of Q",
        "Q is singular and b is not in its range, so f decreases linearly forever along the null direction.",
        (Remedy("Make b consistent or add a ridge", "Project b onto the range of Q or add --ridge.", None),),
    )


def _lr_check(check, bounds, advice, problem) -> Finding:
    from .reference import floor_is_zero

    lr = check.lr
    threshold = bounds.divergence_threshold
    others = [c for c in bounds.by_convention if not c.current]
    elsewhere = [c.loss for c in others if lr < c.threshold]
    if not check.stable:
        level = "1e300" if check.dtype == "float64" else f"{check.dtype}'s largest value ({sig(check.overflow_level, 2)}: inf next)"
        overflow = f"; the loss passes {level} at step {count(check.overflow_step)}" if check.overflow_step is not None else ""
        hint = ""
        if elsewhere:
            hint = f" It would be stable under the {' / '.join(elsewhere)} convention{'s' if len(elsewhere) > 1 else ''}: check which loss your code minimises."
        gd = advice.get("gd")
        lower = (f"lr = {gd.lr!r} (10% from the edge, checked): {_steps_phrase(gd, bounds.tol)}. "
                 if gd is not None and gd.steps_to_tol is not None else "")
        remedies = _remedies(
            Remedy(
                "Lower the learning rate",
                f"{lower}Any lr below {sig_below(threshold, 5)} converges.",
                _sgd_snippet(gd) if gd is not None else None,
            ),
            _remedy_momentum(advice, bounds.tol),
        )
        return Finding(
            "CD110",
            "error",
            f"lr = {sig(lr, 5)} diverges: it is {sig(check.ratio_to_threshold, 4)} × the threshold 2/L = {sig(threshold, 7)}",
            f"Along the steepest direction each step multiplies the error by 1 - lr·L = {sig(1 - lr * bounds.L, 4)}, "
            f"so it grows by a factor {factor(check.growth_factor)} per step{overflow}.{hint}",
            remedies,
            {"lr": lr, "threshold": threshold},
        )
    osc = " (oscillating across the valley: lr·L > 1)" if check.oscillating else ""
    if check.steps_to_tol is not None and check.steps_to_tol > check.steps:
        predicted = ""
        if check.predicted_loss is not None and check.start_loss is not None:
            predicted = f"After {count(check.steps)} steps the loss is {sig(check.predicted_loss, 4)} of a starting {sig(check.start_loss, 4)}"
            if check.loss_floor and not floor_is_zero(problem, check.loss_floor, check.start_loss):
                predicted += f" (floor {sig(check.loss_floor, 4)})"
            predicted += "; "
        return Finding(
            "CD111",
            "warning",
            f"lr = {sig(lr, 5)} is stable but slow: {count(check.steps_to_tol)} steps to reach the floor",
            f"{predicted}at this lr it needs {count(check.steps_to_tol)} steps to shrink the gap to the floor by "
            f"{sig(bounds.tol, 2)}. Per step the error shrinks by {factor(check.contraction_flattest, check.flattest_gap)} along the flattest direction "
            f"and by {factor(check.contraction_steepest)} along the steepest{osc}.",
            _remedies(_remedy_gd_lr(advice, bounds.tol, check.steps_to_tol), _remedy_momentum(advice, bounds.tol, check.steps_to_tol)),
            {"lr": lr, "steps_to_tol": check.steps_to_tol},
        )
    reached = f"reaches the tolerance in {count(check.steps_to_tol)} steps" if check.steps_to_tol is not None else "is stable"
    return Finding(
        "CD112",
        "info",
        f"lr = {sig(lr, 5)} converges: it {reached}",
        f"Per step the error shrinks by {factor(check.contraction_flattest, check.flattest_gap)} along the flattest direction and by "
        f"{factor(check.contraction_steepest)} along the steepest{osc}.",
        (),
        {"lr": lr, "steps_to_tol": check.steps_to_tol},
    )


def _minibatch(minibatch, problem) -> list[Finding]:
    """CD130–CD132: minibatch SGD's mean-square threshold, an lr stable for GD but not for SGD, a noise floor above tol."""
    from .minibatch import FLOOR_FACTOR

    if minibatch is None:
        return []
    m = minibatch
    sampling = "with replacement" if m.replacement else "distinct rows each step"
    ratio = m.threshold / m.full_batch_threshold if m.full_batch_threshold else None
    out = [Finding("CD130", "info", f"Minibatch SGD (batch {count(m.batch_size)}): stable in mean square below lr = {sig_below(m.threshold, 4)}",
                   f"With batches of {count(m.batch_size)} of the {count(problem.n_samples)} rows ({sampling}), E||x - x*||² stays bounded "
                   f"only below lr = {sig_below(m.threshold, 5)}, the exact threshold of its second-moment recursion"
                   + (f": {sig(ratio, 3)} of full-batch gradient descent's 2/L = {sig_below(m.full_batch_threshold, 5)}." if ratio else "."),
                   (), {"threshold": m.threshold})]
    for p in m.predictions:
        if not p.stable:
            growth = f"grows by {sig(p.spectral_radius, 5)} per step" if math.isfinite(p.spectral_radius) else "grows without bound"
            out.append(Finding("CD131", "error", f"lr = {sig(p.lr, 4)} diverges under minibatch SGD (batch {count(m.batch_size)})",
                               f"E||x - x*||² {growth}: lr is above the mean-square threshold "
                               f"{sig_below(m.threshold, 4)}" + (" although full-batch gradient descent is stable there."
                                                               if m.full_batch_threshold and p.lr < m.full_batch_threshold else "."),
                               (Remedy("Lower the lr below the minibatch threshold", f"lr < {sig_below(m.threshold, 4)}; "
                                       "a larger batch raises the threshold towards 2/L."),), {"lr": p.lr}))
        elif p.floor_gap is not None and p.floor_gap > m.target_gap:
            reach = (f"; it gets within {FLOOR_FACTOR:g}× of the floor after "
                     f"{'more than 10^15' if p.steps_to_floor is None else count(p.steps_to_floor)} steps") if m.exact else ""
            detail = (f"At lr = {sig(p.lr, 4)} the expected loss levels off at f* + {sig(p.floor_gap, 4)} (the noise floor), "
                      f"above the target f* + {sig(m.target_gap, 3)}{reach}.")
            remedies: tuple[Remedy, ...] = ()
            if m.lr_for_tol is not None and m.lr_for_tol_prediction is not None:
                reach = m.lr_for_tol_prediction.steps_to_target
                detail += (f" The floor is below the target for lr <= {sig(m.lr_for_tol, 3)} (floor f* + "
                           f"{sig(m.lr_for_tol_prediction.floor_gap, 3)}), which reaches it in "
                           f"{'more than 10^15' if reach is None else count(reach)} steps: decay the lr towards it.")
                remedies = (Remedy("Decay the learning rate", f"End the schedule at lr <= {sig(m.lr_for_tol, 3)} (or grow the batch).",
                                   f"torch.optim.lr_scheduler.StepLR(optimizer, step_size=..., gamma=0.5)  # down to {sig(m.lr_for_tol, 3)}"),)
            out.append(Finding("CD132", "warning", f"Minibatch noise floor at lr = {sig(p.lr, 4)}: f* + {sig(p.floor_gap, 3)}", detail,
                               remedies, {"lr": p.lr, "floor_gap": p.floor_gap}))
    return out


def _adam(regimes, steps: int) -> list[Finding]:
    """CD133–CD135: Adam's eps regime unstable (the loss spikes late), its late rate, and its travel limit."""
    from .adam_regimes import adam_regime

    out = []
    for r in regimes:
        where = f"Adam at lr = {sig(r.lr, 4)} (betas {sig(r.beta1, 4)}, {sig(r.beta2, 4)}, eps {sig(r.eps, 3)})"
        if r.trapped:
            safe = round_sig(1.1 * r.eps_critical, 2, ROUND_CEILING)  # 10% from the edge, rounded up (a larger eps is safer)
            checked = adam_regime(r.lr, r.beta1, r.beta2, safe, np.array([2 * (1 + r.beta1) * r.eps_critical / (r.lr * (1 - r.beta1))]),
                                  np.zeros(1), np.zeros(1))
            remedies = (Remedy("Raise eps above the critical value", f"eps >= {sig(safe, 2)} keeps the late regime stable "
                               f"(checked: heavy ball at lr·(1-β1)/eps then contracts by {sig(checked.late_rate, 4)} per step in the "
                               "steepest direction); or lower the lr late in training.",
                               f"torch.optim.Adam(params, lr={sig(r.lr, 4)}, eps={sig(safe, 2)})"),) if not checked.trapped else ()
            out.append(Finding("CD133", "warning", f"{where}: the loss will spike late in training (eps below {sig(r.eps_critical, 3)})",
                               f"Near x* the gradient and √v̂ vanish and Adam's step becomes (lr/eps)·m: heavy ball with step "
                               f"lr·(1-β1)/eps = {sig(r.late_lr, 4)} and momentum β1, which is unstable here (it needs eps > "
                               f"lr(1-β1)λmax/(2(1+β1)) = {sig(r.eps_critical, 4)}). The steep directions grow again, v̂ lags by β2, "
                               "and the loss rises by orders of magnitude from its minimum, again and again.", remedies,
                               {"lr": r.lr, "eps_critical": r.eps_critical}))
        elif r.late_rate is not None:
            out.append(Finding("CD134", "info", f"{where} ends as heavy ball: {count(r.late_steps_per_decade)} steps per tenfold",
                               f"Once √v̂ << eps, Adam is heavy ball with step lr·(1-β1)/eps = {sig(r.late_lr, 4)} and momentum "
                               f"{sig(r.beta1, 3)}: its slowest direction contracts by {sig(r.late_rate, 6)} per step.", (),
                               {"lr": r.lr, "late_rate": r.late_rate}))
        if r.min_steps > steps:
            out.append(Finding("CD135", "warning", f"{where} needs at least {count(math.ceil(r.min_steps))} steps to travel to x*",
                               f"The weights must travel {sig(r.distance, 4)} (largest coordinate of x* - x0) and Adam moves a "
                               f"coordinate by at most {sig(r.step_bound, 3)} a step (Kingma & Ba, §2.1), so --steps {count(steps)} "
                               "cannot get there, whatever the curvature.",
                               (Remedy("Raise Adam's lr, or start nearer x*", "Adam's progress per step is about lr, not lr·gradient."),),
                               {"lr": r.lr, "min_steps": r.min_steps}))
    return out


def diagnose(*, problem, spectrum, bounds, advice, checks, reference, causes, ridge, start_loss, convex, bounded, x0,
             float32=None, minibatch=None, adam=(), steps: int = 0) -> list[Finding]:
    """All findings, most severe first (stable order within a severity).

    ``advice`` holds the verified parameters (:func:`condiag.advice.advise`) that remedies quote.
    """
    candidates = [
        _not_convex(spectrum, convex, bounded),
        *(_lr_check(check, bounds, advice, problem) for check in checks if convex and bounded),
        _valley(problem, spectrum, bounds, advice, ridge, causes) if convex else None,
        _well_conditioned(spectrum, bounds, advice) if convex else None,
        _rank_deficient(problem, spectrum, reference),
        _scaling(causes),
        _collinearity(causes),
        _precision(causes, spectrum, float32) if convex else None,
        _floor(problem, reference, start_loss),
        _no_rhs(problem),
        _accuracy(reference),
        *_minibatch(minibatch, problem),
        *_adam(adam, steps),
    ]
    found = [f for f in candidates if f is not None]
    return sorted(found, key=lambda f: -severity_rank(f.severity))


def _accuracy(reference) -> Finding | None:
    digits = reference.accuracy.get("correct_digits")
    if digits is None or digits >= MIN_CORRECT_DIGITS:
        return None
    return Finding(
        "CD140",
        "warning",
        f"Even the exact answer has only about {sig(digits, 2)} correct digits in float64",
        f"The stated forward-error bound of the reference solution is {sig(reference.accuracy.get('forward_error_bound'), 2)} "
        "relative: the problem itself cannot be answered accurately in double precision, whatever the solver.",
        (Remedy("Reformulate", "Rescale, centre or drop near-dependent columns; or add a ridge penalty.", None),),
        {"correct_digits": digits},
    )


def logistic_findings(a) -> list[Finding]:
    """CD180–CD183 for logistic regression (README), and the scaling/collinearity causes of the weighted design."""
    out = []
    if a.separable:
        out.append(Finding("CD180", "error", "The classes are separable: no finite minimiser",
                           f"A linear programme finds weights that classify every row correctly with a margin "
                           f"(smallest margin {sig(a.margin, 3)} with the columns scaled to max 1), so the loss tends to 0 as "
                           "the weights grow without bound: every optimizer 'converges' to ever larger weights, and none "
                           "can be called converged.",
                           (Remedy("Add ridge (weight decay)", "A ridge term makes the minimiser finite and unique; "
                                   "condiag analyze --ridge 1e-3 reports it.", "torch.optim.SGD(params, lr=lr, weight_decay=2e-3)"),),
                           {"margin": a.margin}))
    if a.at_optimum is not None:
        kappa = a.at_optimum.condition_number
        severity = condition_severity(kappa)
        steps = "more than 10^15" if a.local_steps is None else count(a.local_steps)
        out.append(Finding("CD181", severity, f"Near the optimum cond(H*) = {sig(kappa, 3)}: gradient descent needs {steps} steps",
                           f"The Hessian at x* (Aᵀ W* A scaled, W* = p(1-p) at x*) has λmax = {sig(a.at_optimum.lambda_max, 4)} and "
                           f"λmin = {sig(a.at_optimum.lambda_min, 4)}. Near x* gradient descent contracts at best by "
                           f"(κ-1)/(κ+1) = {factor(a.local_rate) if a.local_rate is not None else '-'} per step: {steps} steps to cut "
                           f"the error by {sig(a.tol, 2)}. Far from x* the curvature is at most L = {sig(a.global_L, 4)} "
                           f"(λmax(AᵀA)/4 scaled), so lr < 2/L = {sig_below(a.safe_lr, 4)} is safe from any start.",
                           (Remedy("Use Newton / IRLS or L-BFGS", "statsmodels' Logit (Newton) or scikit-learn's "
                                   "newton-cholesky solver converge in a few dozen steps whatever κ."),) if severity != "info" else (),
                           {"condition_number": kappa, "steps": a.local_steps}))
    for lr, verdict in a.lr_checks:
        if verdict == "safe everywhere":
            out.append(Finding("CD182", "info", f"lr = {sig(lr, 4)} is safe from any start (below 2/L = {sig_below(a.safe_lr, 4)})",
                               "Gradient descent on an L-smooth convex loss converges for every lr below 2/L.", (), {"lr": lr}))
        elif verdict == "stable near x* only":
            out.append(Finding("CD182", "warning", f"lr = {sig(lr, 4)} is stable near x* but not guaranteed far from it",
                               f"It is above the global bound 2/L = {sig_below(a.safe_lr, 4)} and below the local limit 2/λmax(H*) = "
                               f"{sig_below(a.local_lr, 4)}: from a start where the data are not yet fitted the curvature can reach L.",
                               (), {"lr": lr}))
        else:
            limit = f" 2/λmax(H*) = {sig_below(a.local_lr, 4)}" if a.local_lr is not None else f" 2/L = {sig_below(a.safe_lr, 4)}"
            out.append(Finding("CD183", "error", f"lr = {sig(lr, 4)} diverges near the optimum",
                               f"It is above{limit}: gradient descent cannot settle at x*.",
                               (Remedy("Lower the lr", f"lr < {sig_below(a.safe_lr, 4)} is safe from any start."),), {"lr": lr}))
    if a.causes is not None:
        for finding in (_scaling(a.causes), _collinearity(a.causes)):
            if finding is not None:
                out.append(finding)
    return sorted(out, key=lambda f: -severity_rank(f.severity))
