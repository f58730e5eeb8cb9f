"""First-order solvers: gradient descent and its relatives, as PyTorch and textbooks define them.

Every solver here is simulated step by step (in float64, or float32 with ``--dtype float32`` as
PyTorch would), except that gd, momentum, nesterov and precond-gd with fixed parameters are
linear iterations on a quadratic: unless ``--simulate``, their trajectories are computed in
closed form (:mod:`condiag.trajectories`) and marked ``exact``.
"""

from __future__ import annotations

import math

import numpy as np

from ..bounds import quadratic_model
from ..models import Capability, has
from ..spectrum import learned_eigenvalues
from ..trajectories import (
    LinearMethod,
    checkpoints,
    error_at,
    first_step_above,
    first_step_below,
    log_gap,
    spectral_radius,
)
from .base import Context, Monitor, Solver, SolverResult, drive, skipped

LOG_DIVERGENCE = math.log(1e5)


# ---------------------------------------------------------------------------- oracles
def float32_gradient(problem):
    """x -> ∇f(x) computed in float32 as a PyTorch float32 model computes it (data, scale and ridge held in float32)."""
    A = problem.A.astype(np.float32)
    b = problem.b.astype(np.float32)
    scale = np.float32(problem.hessian_scale)
    ridge2 = np.float32(2.0 * problem.ridge)
    quadratic = problem.is_quadratic

    def gradient(x):
        x32 = np.asarray(x, dtype=np.float32)
        g = A @ x32 - b if quadratic else scale * (A.T @ (A @ x32 - b))
        if problem.ridge:
            g = g + ridge2 * x32
        return np.asarray(g, dtype=np.float32)

    return gradient


def float32_value(problem):
    """x -> f(x) computed in float32 as a PyTorch float32 model computes its loss (residual, squares and sum in
    float32): the value a float32 training log records, rounding included."""
    A = problem.A.astype(np.float32)
    b = problem.b.astype(np.float32)
    scale = np.float32(problem.data_scale)
    ridge = np.float32(problem.ridge)

    def value(x):
        x32 = np.asarray(x, dtype=np.float32)
        if problem.is_quadratic:
            f = np.float32(0.5) * (x32 @ (A @ x32)) - b @ x32
        else:
            r = A @ x32 - b
            f = scale * (r @ r)
        if problem.ridge:
            f = f + ridge * (x32 @ x32)
        return float(np.float32(f))

    return value


def make_oracle(problem, dtype):
    """(loss in float64, gradient in ``dtype``) at x; float32 mimics a PyTorch float32 model."""
    if dtype == np.float64:
        return problem.value_and_gradient
    gradient = float32_gradient(problem)

    def oracle(x):
        x32 = np.asarray(x, dtype=np.float32)
        return problem.value(x32.astype(np.float64)), gradient(x32)

    return oracle


def resolve(value, auto):
    """A parameter that may be 'auto'."""
    if isinstance(value, str) and value == "auto":
        return auto
    return float(value)


# ---------------------------------------------------------------------------- the shared loop
class IterativeSolver(Solver):
    """A method defined by one update x_{k+1} = step(x_k, ∇f(x_k), state)."""

    first_order = True
    requires = frozenset()

    def prepare(self, context: Context, params: dict) -> dict:
        """Resolve 'auto' parameters; returns the parameters actually used."""
        return params

    def init_state(self, x: np.ndarray, params: dict, context: Context) -> dict:
        return {}

    def step(self, x, g, state, params, k, oracle):  # pragma: no cover - abstract
        raise NotImplementedError

    def linear_method(self, params: dict) -> LinearMethod | None:
        """The closed-form equivalent, for methods that are linear iterations on a quadratic."""
        return None

    def run(self, context: Context) -> SolverResult:
        params = self.prepare(context, self.parameters(context))
        method = self.linear_method(params)
        settings = context.settings
        if (method is not None and not settings.simulate and settings.dtype == "float64" and context.decomposition is not None
                and context.no_minimum is None):
            return exact_run(self.name, context, params, method)
        return self.simulate(context, params)

    def simulate(self, context: Context, params: dict) -> SolverResult:
        dtype = np.float32 if context.settings.dtype == "float32" else np.float64
        if dtype == np.float32 and not has(context.problem, Capability.LINEAR):
            return skipped(self.name, "--dtype float32 is simulated for least-squares and quadratic problems only; "
                                      "rerun with --dtype float64", self.public(params))
        oracle = make_oracle(context.problem, dtype)
        monitor = Monitor(context, self.name)
        method = self.linear_method(params)
        if method is not None and context.decomposition is not None:
            monitor.growth_rule = not convergent(method, context)
        x = context.x0.astype(dtype)
        state = self.init_state(x, params, context)
        f, g = oracle(x)
        monitor.f_evals += 1
        current = {"x": x, "g": g}

        def step(k):
            x_new = self.step(current["x"], current["g"], state, params, k, oracle)
            f_new, current["g"] = oracle(x_new)
            current["x"] = x_new
            monitor.f_evals += 1 + state.get("extra_evals", 0)
            state["extra_evals"] = 0
            return x_new, f_new

        drive(monitor, self.public(params), x, f, step)
        return monitor.result(self.public(params), dtype=context.settings.dtype, extra=self.facts(state, params, context))

    def public(self, params: dict) -> dict:
        return {k: v for k, v in params.items() if not k.startswith("_")}

    def facts(self, state, params, context) -> dict:
        return {}


def exact_run(name: str, context: Context, params: dict, method: LinearMethod) -> SolverResult:
    """A linear method's run computed in closed form at the logged iterations."""
    problem = context.linear
    model = quadratic_model(problem, context.exact_decomposition, context.reference.x, context.x0, context.floor)
    monitor = Monitor(context, name)
    monitor.growth_rule = not convergent(method, context)
    max_iter = monitor.max_iter
    start_log = log_gap(model, method, 0)
    start_loss = context.floor + (math.exp(start_log) if start_log > -math.inf else 0.0)
    target = context.target_gap(start_loss)
    end, reason = max_iter, None
    k_conv = first_step_below(model, method, math.log(target), max_iter) if target > 0 else 0
    if k_conv is not None:
        end, reason = k_conv, "converged"
    diverge_log = start_log + LOG_DIVERGENCE if start_log > -math.inf else -math.inf
    k_div = first_step_above(model, method, diverge_log, min(end, max_iter)) if monitor.growth_rule else None
    if k_div is not None and k_div < end:
        end, reason = k_div, "diverged"
    marks = [int(k) for k in checkpoints(max_iter) if k < end] + [end]
    x_last = context.x0
    with np.errstate(all="ignore"):
        for k in marks:
            value = log_gap(model, method, k)
            loss = context.floor + math.exp(value) if value < 709 else math.inf
            e = error_at(model, method, k) if (monitor.record_path or k == end) else None
            x = context.reference.x + context.exact_decomposition.V @ e if e is not None else None
            if x is not None:
                x_last = x
            if k == end and reason is None:
                monitor.budget_exhausted(end, loss, x if x is not None else x_last)
                break
            status = monitor.observe(k, loss if math.isfinite(loss) else math.inf, x if x is not None else x_last, force_record=k == end)
            if status is not None:
                break
    if monitor.status is None:
        monitor.budget_exhausted(end, loss, x_last)
    extra = {}
    if method.kind == "gd" and monitor.status in ("max_iter", "stalled"):
        extra["steps_to_tol"] = first_step_below(model, method, math.log(target), 10**300)
    if monitor.status == "diverged":
        x_final = None
    else:
        x_final = x_last
    result = monitor.result(params, x=x_final, iterations=end, f_evals=0, exact=True, extra=extra)
    return result


def convergent(method: LinearMethod, context: Context) -> bool:
    """Whether the linear method's spectral radius on the directions the loss sees is below 1."""
    lam = learned_eigenvalues(context.linear, context.exact_decomposition)
    lam = lam[lam > 0]
    return lam.size == 0 or spectral_radius(method, lam) < 1.0


# ---------------------------------------------------------------------------- the solvers
def _auto_lr(context: Context) -> float:
    """2/(L + mu), but at most 1.99/L.

    For kappa > 199 the cap costs at most 0.5% of the flat direction's rate, and it keeps the
    steepest direction contracting (by 0.99) in floating point: for kappa beyond ~1e16,
    fl(2/(L + mu)) * L rounds to 2 and that direction would never converge.
    """
    bounds = context.bounds
    if bounds.optimal is not None:
        return min(bounds.optimal, 1.99 / bounds.L)
    if bounds.divergence_threshold is not None:
        return 0.5 * bounds.divergence_threshold
    return 1.0


class GradientDescent(IterativeSolver):
    r"""Gradient descent with a fixed step, x_{k+1} = x_k - lr ∇f(x_k).

    ``lr=auto`` is 2/(L + mu), the best fixed step (Polyak 1987, §1.4), capped at 1.99/L
    (see :func:`_auto_lr`).
    """

    name = "gd"
    summary = "gradient descent, fixed lr (auto: 2/(L+mu))"
    defaults = {"lr": "auto"}

    def prepare(self, context, params):
        return {**params, "lr": resolve(params["lr"], _auto_lr(context))}

    def linear_method(self, params):
        return LinearMethod("gd", params["lr"])

    def step(self, x, g, state, params, k, oracle):
        return x - params["lr"] * g


class HeavyBall(IterativeSolver):
    r"""Polyak's heavy ball, x_{k+1} = x_k - lr ∇f(x_k) + beta (x_k - x_{k-1}).

    The same iterates as ``torch.optim.SGD(lr=lr, momentum=beta)`` (dampening 0).
    ``auto``: lr = 4/(sqrt L + sqrt mu)^2, beta = ((sqrt kappa - 1)/(sqrt kappa + 1))^2 (Polyak 1964).
    """

    name = "momentum"
    summary = "heavy-ball momentum (auto: Polyak's optimal lr and beta)"
    defaults = {"lr": "auto", "beta": "auto"}

    def prepare(self, context, params):
        hb = context.bounds.heavy_ball
        lr = resolve(params["lr"], hb.lr if hb else _auto_lr(context))
        beta = resolve(params["beta"], hb.beta if hb else 0.9)
        return {**params, "lr": lr, "beta": beta}

    def linear_method(self, params):
        return LinearMethod("heavy-ball", params["lr"], params["beta"])

    def init_state(self, x, params, context):
        return {"buffer": None}

    def step(self, x, g, state, params, k, oracle):
        # torch.optim.SGD's order of operations (dampening 0): buf = beta·buf + g (buf = g at the first step),
        # x -= lr·buf; the same iteration as x_{k+1} = x_k - lr g_k + beta (x_k - x_{k-1}), rounded as PyTorch rounds it
        buffer = g.copy() if state["buffer"] is None else params["beta"] * state["buffer"] + g
        state["buffer"] = buffer
        return x - params["lr"] * buffer


class Nesterov(HeavyBall):
    r"""Nesterov's accelerated gradient as ``torch.optim.SGD(lr=lr, momentum=beta, nesterov=True)``.

    PyTorch's form, one gradient per step at the parameter p: buf = beta buf + g (buf = g at the first
    step), p -= lr (g + beta buf). It is Nesterov's y_k = x_k + beta (x_k - x_{k-1}),
    x_{k+1} = y_k - lr ∇f(y_k) written in the look-ahead point p = y_k (Sutskever et al. 2013, §2), so the
    loss reported is f(y_k), as PyTorch reports it. ``auto``: lr = 1/L, beta = (sqrt kappa - 1)/(sqrt kappa + 1)
    (Nesterov 2004, §2.2.1).
    """

    name = "nesterov"
    summary = "Nesterov's accelerated gradient, torch's nesterov=True (auto: lr 1/L, beta from kappa)"

    def prepare(self, context, params):
        nv = context.bounds.nesterov
        L = context.bounds.L
        lr = resolve(params["lr"], nv.lr if nv else (1.0 / L if L > 0 else 1.0))
        beta = resolve(params["beta"], nv.beta if nv else 0.9)
        return {**params, "lr": lr, "beta": beta}

    def linear_method(self, params):
        return LinearMethod("nesterov", params["lr"], params["beta"])

    def step(self, x, g, state, params, k, oracle):
        # torch.optim.SGD's order (dampening 0, nesterov=True): buf = beta·buf + g; g = g + beta·buf; x -= lr·g
        buffer = g.copy() if state["buffer"] is None else params["beta"] * state["buffer"] + g
        state["buffer"] = buffer
        return x - params["lr"] * (g + params["beta"] * buffer)


class Adam(IterativeSolver):
    r"""Adam (Kingma & Ba 2015) exactly as ``torch.optim.Adam`` with its defaults:

    m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g², x -= lr (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps).
    Each coordinate moves by about lr per step whatever the gradient's scale.
    """

    name = "adam"
    summary = "Adam (PyTorch defaults lr 1e-3, betas 0.9/0.999, eps 1e-8)"
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}

    def prepare(self, context, params):
        return {k: float(v) for k, v in params.items()}

    def init_state(self, x, params, context):
        return {"m": np.zeros_like(x), "v": np.zeros_like(x)}

    def step(self, x, g, state, params, k, oracle):
        # torch.optim.Adam's order of operations (single-tensor path): m.lerp_(g, 1 - b1); v = b2·v + (1 - b2)·g²;
        # denom = sqrt(v)/sqrt(1 - b2^k) + eps; x -= (lr / (1 - b1^k))·m/denom
        b1, b2 = params["beta1"], params["beta2"]
        state["m"] = state["m"] + (1 - b1) * (g - state["m"])
        state["v"] = b2 * state["v"] + (1 - b2) * (g * g)
        denom = np.sqrt(state["v"]) / math.sqrt(1 - b2**k) + params["eps"]
        return (x - (params["lr"] / (1 - b1**k)) * (state["m"] / denom)).astype(x.dtype)


class RMSprop(IterativeSolver):
    r"""RMSprop (Tieleman & Hinton 2012) as ``torch.optim.RMSprop``: v = a v + (1 - a) g², x -= lr g / (sqrt v + eps)."""

    name = "rmsprop"
    summary = "RMSprop (PyTorch defaults lr 1e-2, alpha 0.99, eps 1e-8)"
    defaults = {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8}

    def prepare(self, context, params):
        return {k: float(v) for k, v in params.items()}

    def init_state(self, x, params, context):
        return {"v": np.zeros_like(x)}

    def step(self, x, g, state, params, k, oracle):
        # torch.optim.RMSprop's order: v = a·v + (1 - a)·g²; x -= lr·(g / (sqrt(v) + eps))
        a = params["alpha"]
        state["v"] = a * state["v"] + (1 - a) * (g * g)
        return (x - params["lr"] * (g / (np.sqrt(state["v"]) + params["eps"]))).astype(x.dtype)


class Adagrad(IterativeSolver):
    r"""Adagrad (Duchi, Hazan & Singer 2011) as ``torch.optim.Adagrad``: G += g², x -= lr g / (sqrt G + eps)."""

    name = "adagrad"
    summary = "Adagrad (PyTorch defaults lr 1e-2, eps 1e-10)"
    defaults = {"lr": 1e-2, "eps": 1e-10}

    def prepare(self, context, params):
        return {k: float(v) for k, v in params.items()}

    def init_state(self, x, params, context):
        return {"G": np.zeros_like(x)}

    def step(self, x, g, state, params, k, oracle):
        # torch.optim.Adagrad's order: G += g²; x -= lr·(g / (sqrt(G) + eps))
        state["G"] = state["G"] + g * g
        return (x - params["lr"] * (g / (np.sqrt(state["G"]) + params["eps"]))).astype(x.dtype)


MAX_BACKTRACKS = 2000
"""Trial steps per line search: with shrink 0.5 that spans 2⁻²⁰⁰⁰, past float64's range, so a
search that has not found a decrease by then never will (the step is taken and the run stalls)."""


class ArmijoGD(IterativeSolver):
    r"""Gradient descent with backtracking (Armijo) line search (Nocedal & Wright 2006, Alg. 3.1).

    From a trial step t (the previous accepted step times ``grow``; ``lr`` at first), halve t until
    f(x - t g) <= f(x) - c t ||g||², then step. No learning rate to tune.
    """

    name = "gd-armijo"
    summary = "gradient descent with backtracking line search"
    defaults = {"lr": 1.0, "c": 1e-4, "shrink": 0.5, "grow": 2.0}
    first_order = False  # its lr is only the first trial step; --lr does not apply

    def prepare(self, context, params):
        return {k: float(v) for k, v in params.items()}

    def init_state(self, x, params, context):
        return {"t": params["lr"] / params["grow"], "problem": context.problem}

    def step(self, x, g, state, params, k, oracle):
        problem = state["problem"]
        f = problem.value(x)
        gg = float(np.dot(g, g))
        t = state["t"] * params["grow"]
        evals = 0
        while True:
            candidate = x - t * g
            evals += 1
            value = problem.value(candidate)
            if value <= f - params["c"] * t * gg or t < 1e-300 or gg == 0 or evals >= MAX_BACKTRACKS:
                break
            t *= params["shrink"]
        state["t"] = t
        state["extra_evals"] = evals
        return candidate.astype(x.dtype)

    def public(self, params):
        return dict(params)


def sgd_auto_lr(problem, batch: int, L: float) -> float:
    r"""Half the largest lr at which every minibatch step is non-expansive, whatever the batch drawn.

    A batch S of B rows, its gradient scaled by n/B, has Hessian H_S = s (n/B) A_Sᵀ A_S + 2 ridge I with
    λmax(A_SᵀA_S) <= min(Σ_{i∈S} ||a_i||², σmax(A)²) <= min(sum of the B largest ||a_i||², σmax(A)²).
    With lr <= 2/λmax(H_S) for every S, ||I - lr H_S|| <= 1 at every step, so E||x_t - x*||² stays bounded
    for any batch size (Needell, Srebro & Ward 2014 use the B = 1 case); the auto lr is half that bound.
    At B = n it is 1/L, half the full-batch threshold (the earlier B/(n s max||a_i||²) was n times too large there).
    """
    A = problem.A
    row_norms = np.asarray(A.multiply(A).sum(axis=1)).ravel() if problem.sparse else np.einsum("ij,ij->i", A, A)
    top = float(np.sum(np.sort(row_norms)[-batch:]))
    sigma_max_sq = max(L - 2.0 * problem.ridge, 0.0) / problem.hessian_scale
    per_batch = problem.hessian_scale * (problem.n_rows / batch) * min(top, sigma_max_sq) + 2.0 * problem.ridge
    return 1.0 / per_batch if per_batch > 0 else 1.0


def best_expected_lr(context: Context, batch: int) -> float | None:
    """The lr whose exact expected loss after the run's budget is smallest, for B distinct rows a step
    (:func:`condiag.minibatch.best_lr`); None where it is not computed (no exact decomposition, sparse or streamed
    data, or more than 20 learned directions)."""
    from ..minibatch import best_lr, minibatch_model

    problem = context.linear
    if context.decomposition is None or problem.is_reduced or problem.sparse:
        return None
    model = minibatch_model(problem, context.decomposition, context.reference.x, context.x0, context.floor, batch, False)
    found = best_lr(model, context.settings.max_iter)
    return None if found is None else found[0]


class MinibatchSGD(IterativeSolver):
    r"""Minibatch stochastic gradient descent over the rows of A.

    Each epoch visits the rows in a fresh random order (seeded), in batches of ``batch_size``
    without replacement. The batch gradient is scaled by n/B so that it estimates the full
    gradient and ``lr`` means what it means for gd. ``lr=auto``: the lr whose exact expected loss after the
    budget (``--max-iter``) is smallest, for B distinct rows a step (:func:`best_expected_lr`, up to 20 learned
    directions and B < n); otherwise half the lr at which every batch step is non-expansive (:func:`sgd_auto_lr`).
    With a fixed lr SGD stops improving at a noise floor unless the problem is realizable.
    """

    requires = frozenset({Capability.LINEAR})
    name = "sgd"
    summary = "minibatch SGD over rows (batch_size 1, seeded, without replacement per epoch)"
    defaults = {"lr": "auto", "batch_size": 1, "seed": 0}

    def supports(self, problem):
        if problem.is_quadratic:
            return False, "SGD samples rows of A; a quadratic objective has no rows to sample"
        if problem.sample_count is not None:
            return False, "the problem was streamed and reduced to its R factor: its rows are not available to sample"
        return True, ""

    def prepare(self, context, params):
        problem = context.linear
        batch = int(params["batch_size"])
        if batch < 1:
            from ..errors import UsageError

            raise UsageError("param sgd.batch_size must be >= 1", option="param")
        batch = min(batch, problem.n_rows)
        auto = sgd_auto_lr(problem, batch, context.bounds.L)
        best = best_expected_lr(context, batch) if params["lr"] == "auto" and batch < problem.n_rows else None
        lr = resolve(params["lr"], best if best is not None else auto)
        return {"lr": lr, "batch_size": batch, "seed": int(params["seed"]), "_lr_limit": auto}

    def init_state(self, x, params, context):
        problem = context.linear
        dtype = x.dtype
        A = problem.A.astype(dtype) if not problem.sparse else problem.A.astype(dtype).tocsr()
        return {
            "rng": np.random.default_rng(params["seed"]),
            "order": np.array([], dtype=np.int64),
            "A": A,
            "b": problem.b.astype(dtype),
            "epochs": 0,
            "problem": problem,
        }

    def step(self, x, g, state, params, k, oracle):
        problem = state["problem"]
        if state["order"].size < params["batch_size"]:
            state["order"] = np.concatenate([state["order"], state["rng"].permutation(problem.n_rows)])
            state["epochs"] += 1
        rows, state["order"] = state["order"][: params["batch_size"]], state["order"][params["batch_size"] :]
        A_batch = state["A"][rows]
        residual = A_batch @ x - state["b"][rows]
        scale = problem.hessian_scale * problem.n_rows / len(rows)
        grad = scale * (A_batch.T @ residual)
        if problem.ridge:
            grad = grad + 2.0 * problem.ridge * x
        return (x - params["lr"] * np.asarray(grad)).astype(x.dtype)

    def facts(self, state, params, context):
        return {"epochs": state.get("epochs", 0), "lr_limit": params["_lr_limit"]}


class PreconditionedGD(IterativeSolver):
    r"""Gradient descent on the column-scaled (Jacobi-preconditioned) problem, mapped back.

    Least squares: z = D x with D = diag(||a_j||), so A x = (A D⁻¹) z; a quadratic: D = diag(sqrt(Q_jj)),
    Q' = D⁻¹ Q D⁻¹. GD runs on z with lr = 2/(L' + mu') of the scaled problem and x = D⁻¹ z. This
    is the change of variables the analyze report recommends; the loss is the same function.
    """

    requires = frozenset({Capability.LINEAR})
    name = "precond-gd"
    summary = "gradient descent after Jacobi/column scaling (change of variables)"
    defaults = {"lr": "auto"}
    first_order = False  # its lr lives in the scaled variables; set it with --param precond-gd.lr


    def run(self, context: Context) -> SolverResult:
        from ..problem import Problem
        from .base import History

        problem = context.linear
        A = problem.A
        if problem.is_quadratic:
            diag = A.diagonal() if problem.sparse else np.diag(A)
            if np.any(diag <= 0):
                from .base import skipped

                return skipped(self.name, "Jacobi scaling needs a positive diagonal of Q")
            d = np.sqrt(np.asarray(diag, dtype=float))
            scaled_matrix = (A.multiply(1 / d[:, None]).multiply(1 / d[None, :])).tocsr() if problem.sparse else A / d[:, None] / d[None, :]
            b = problem.b / d
        else:
            d = np.sqrt(np.asarray(A.multiply(A).sum(axis=0)).ravel()) if problem.sparse else np.linalg.norm(A, axis=0)
            d = np.where(d > 0, d, 1.0)
            scaled_matrix = A.multiply(1 / d[None, :]).tocsr() if problem.sparse else A / d
            b = problem.b
        # ridge λ||x||² = λ||D⁻¹z||² is not a multiple of ||z||²; keep it exact only without ridge
        if problem.ridge:
            from .base import skipped

            return skipped(self.name, "column scaling with --ridge changes the penalty; run without --ridge")
        scaled = Problem.create(scaled_matrix, b, loss=problem.loss, objective=problem.objective, source=problem.source)
        from dataclasses import replace as replace_settings

        from ..comparison import linear_context

        settings = replace_settings(context.settings, lr=None, params={"gd": context.settings.params.get(self.name, {})})
        inner = linear_context(scaled, settings, context.x0 * d, "exact" if context.decomposition is not None else "iterative")
        inner_result = GradientDescent().run(inner)
        x = inner_result.x / d if inner_result.x is not None else None
        path = inner_result.history.path / d if inner_result.history.path is not None else None
        params = {**inner_result.params, "scaling": "jacobi" if problem.is_quadratic else "column norms", "cond_scaled": inner.known_spectrum.condition_number}
        from dataclasses import replace

        return replace(
            inner_result,
            solver=self.name,
            x=x,
            params=params,
            history=History(inner_result.history.iterations, inner_result.history.loss, path),
            final_loss=problem.value(x) if x is not None else None,
        )
