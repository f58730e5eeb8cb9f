"""PyTorch's optimizers, step for step, in numpy: ``torch-sgd``, ``torch-adam``, ``torch-adamw``, ``torch-lbfgs``.

Each reproduces the iterates of the ``torch.optim`` class of the same name (parameter names as PyTorch's, its
defaults, its order of operations, in the dtype of the run), so a user can replay *their* run on their problem
and see how far it gets from x*. One iteration is one ``optimizer.step()``: for ``torch-lbfgs`` that is up to
``max_iter`` inner iterations and their function evaluations, as in a user's loop ``optimizer.step(closure)``.
The tests compare them with torch itself: 100 steps in float64 to 1e-10, in float32 within float32's rounding.

References: PyTorch documentation of torch.optim.SGD, Adam, AdamW and LBFGS (their algorithm boxes);
Loshchilov & Hutter, "Decoupled weight decay regularization", ICLR 2019 (AdamW); Nocedal & Wright, *Numerical
Optimization*, 2nd ed., Alg. 7.4 (the two-loop recursion) and Alg. 3.5–3.6 (the strong Wolfe line search with
cubic interpolation, as minFunc and PyTorch implement it).
"""

from __future__ import annotations

import math

import numpy as np

from .first_order import IterativeSolver


def _with_weight_decay(g, x, weight_decay: float):
    """PyTorch's coupled weight decay: the gradient gains weight_decay·x (an L2 penalty of weight_decay/2·||x||²)."""
    return g + weight_decay * x if weight_decay else g


class TorchSGD(IterativeSolver):
    r"""``torch.optim.SGD(lr, momentum, dampening, weight_decay, nesterov)``, full batch:

    g = ∇f + wd·x; b = g at the first step, else b = momentum·b + (1 - dampening)·g;
    g = g + momentum·b (nesterov) or g = b (momentum > 0); x -= lr·g.
    """

    name = "torch-sgd"
    summary = "torch.optim.SGD step for step (lr 1e-3, momentum, dampening, nesterov, weight_decay)"
    defaults = {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": 0.0}

    def prepare(self, context, params):
        from ..errors import UsageError

        params = {k: float(v) for k, v in params.items()}
        if params["nesterov"] and (params["momentum"] <= 0 or params["dampening"] != 0):
            raise UsageError("param torch-sgd.nesterov=1 requires momentum > 0 and dampening 0 (as torch.optim.SGD)", option="param")
        return params

    def init_state(self, x, params, context):
        return {"buffer": None}

    def step(self, x, g, state, params, k, oracle):
        g = _with_weight_decay(g, x, params["weight_decay"])
        momentum = params["momentum"]
        if momentum:
            if state["buffer"] is None:
                state["buffer"] = g.copy()
            else:
                state["buffer"] = momentum * state["buffer"] + (1 - params["dampening"]) * g
            g = g + momentum * state["buffer"] if params["nesterov"] else state["buffer"]
        return (x - params["lr"] * g).astype(x.dtype)


class TorchAdam(IterativeSolver):
    r"""``torch.optim.Adam(lr, betas, eps, weight_decay, amsgrad)``:

    g = ∇f + wd·x; m = m + (1 - β1)(g - m); v = β2 v + (1 - β2) g²; v̂ = max(v̂, v) (amsgrad);
    x -= (lr / (1 - β1^k)) · m / (sqrt(v or v̂) / sqrt(1 - β2^k) + eps).
    """

    name = "torch-adam"
    summary = "torch.optim.Adam step for step (lr 1e-3, beta1, beta2, eps, weight_decay coupled, amsgrad)"
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "amsgrad": 0.0}
    decoupled = False

    def prepare(self, context, params):
        return {k: float(v) for k, v in params.items()}

    def init_state(self, x, params, context):
        return {"m": np.zeros_like(x), "v": np.zeros_like(x), "v_max": np.zeros_like(x)}

    def step(self, x, g, state, params, k, oracle):
        lr, b1, b2 = params["lr"], params["beta1"], params["beta2"]
        if self.decoupled:
            x = (x * (1 - lr * params["weight_decay"])).astype(x.dtype)
        else:
            g = _with_weight_decay(g, x, params["weight_decay"])
        state["m"] = state["m"] + (1 - b1) * (g - state["m"])
        state["v"] = b2 * state["v"] + (1 - b2) * (g * g)
        second = state["v"]
        if params["amsgrad"]:
            state["v_max"] = np.maximum(state["v_max"], state["v"])
            second = state["v_max"]
        denom = np.sqrt(second) / math.sqrt(1 - b2**k) + params["eps"]
        return (x - (lr / (1 - b1**k)) * (state["m"] / denom)).astype(x.dtype)


class TorchAdamW(TorchAdam):
    r"""``torch.optim.AdamW``: Adam with decoupled weight decay, x *= 1 - lr·wd before the Adam step (default wd 1e-2)."""

    name = "torch-adamw"
    summary = "torch.optim.AdamW step for step (weight_decay 1e-2, decoupled)"
    defaults = {**TorchAdam.defaults, "weight_decay": 1e-2}
    decoupled = True


# ---------------------------------------------------------------------------- L-BFGS
def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """The minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to ``bounds`` (default: the
    interval between them); the midpoint when the cubic has no real critical point (Nocedal & Wright, eq. 3.59)."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        point = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        point = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(point, low), high)


def strong_wolfe(evaluate, t: float, d, f: float, g, gtd: float, max_evals: int, c1: float = 1e-4, c2: float = 0.9,
                 tolerance_change: float = 1e-9):
    """A step t along d satisfying the strong Wolfe conditions, as torch.optim.LBFGS searches for it.

    ``evaluate(t)`` returns (f, g) at x + t d. A bracketing phase (extrapolating by cubic interpolation within
    [t + 0.01 (t - t_prev), 10 t]) is followed by a zoom phase (cubic interpolation, kept 10% away from the
    bracket's ends). Returns (f, g, t, evaluations).
    """
    d_norm = float(np.max(np.abs(d)))
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list[float] = []  # set by the bracketing phase before the zoom reads them
    bracket_f: list[float] = []
    bracket_g: list = []
    bracket_gtd: list[float] = []
    while ls_iter < max_evals:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        previous = t
        t = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = previous, f_new, g_new, gtd_new
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_evals:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
        bracket_gtd = [gtd, gtd_new]
    insufficient = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_evals:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        margin = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < margin:
            if insufficient or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - margin if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + margin
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = (
                    bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low])
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class TorchLBFGS(IterativeSolver):
    r"""``torch.optim.LBFGS(lr, max_iter, max_eval, tolerance_grad, tolerance_change, history_size, line_search_fn)``.

    One iteration is one ``optimizer.step(closure)``: up to ``max_iter`` inner iterations, each a direction by
    the two-loop recursion over the last ``history_size`` pairs (s, y) with y·s > 1e-10, scaled by
    H₀ = y·s / y·y, and a step t: lr (the first inner iteration ever: min(1, 1/||g||₁)·lr), or a strong Wolfe
    line search (``strong_wolfe=1``, PyTorch's ``line_search_fn='strong_wolfe'``). It stops early when
    max|g| <= tolerance_grad, g·d > -tolerance_change, max|t d| <= tolerance_change, the loss changed by less
    than tolerance_change, or ``max_eval`` evaluations (default max_iter·5/4) were spent.
    """

    name = "torch-lbfgs"
    summary = "torch.optim.LBFGS step for step (lr 1, max_iter 20 per step, history_size 100, strong_wolfe 0/1)"
    defaults = {"lr": 1.0, "max_iter": 20.0, "max_eval": "auto", "tolerance_grad": 1e-7, "tolerance_change": 1e-9,
                "history_size": 100.0, "strong_wolfe": 0.0}

    def prepare(self, context, params):
        out = {k: (v if v == "auto" else float(v)) for k, v in params.items()}
        out["max_eval"] = float(int(out["max_iter"] * 5 / 4)) if out["max_eval"] == "auto" else out["max_eval"]
        return out

    def init_state(self, x, params, context):
        return {"n_iter": 0, "dirs": [], "steps": [], "rho": [], "H_diag": 1.0, "d": None, "t": None,
                "prev_g": None, "converged_reason": None}

    def step(self, x, g, state, params, k, oracle):
        lr, tol_grad, tol_change = params["lr"], params["tolerance_grad"], params["tolerance_change"]
        max_iter, max_eval, history = int(params["max_iter"]), int(params["max_eval"]), int(params["history_size"])
        dtype = x.dtype
        # the closure's first call: g is its gradient (the run's evaluation at x, already counted); f recomputed
        f, _ = oracle(x)
        evals = 1
        if np.max(np.abs(g)) <= tol_grad:
            state["converged_reason"] = "max|g| <= tolerance_grad"
            state["extra_evals"] = 0
            return x
        d, t = state["d"], state["t"]
        inner = 0
        while inner < max_iter:
            inner += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                state["dirs"], state["steps"], state["rho"], state["H_diag"] = [], [], [], 1.0
            else:
                y = g - state["prev_g"]
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:
                    if len(state["dirs"]) == history:
                        for name in ("dirs", "steps", "rho"):
                            state[name].pop(0)
                    state["dirs"].append(y)
                    state["steps"].append(s)
                    state["rho"].append(1.0 / ys)
                    state["H_diag"] = ys / float(y @ y)
                q = -g
                alphas = [0.0] * len(state["dirs"])
                for i in range(len(state["dirs"]) - 1, -1, -1):
                    alphas[i] = float(state["steps"][i] @ q) * state["rho"][i]
                    q = q - alphas[i] * state["dirs"][i]
                r = q * state["H_diag"]
                for i in range(len(state["dirs"])):
                    beta = float(state["dirs"][i] @ r) * state["rho"][i]
                    r = r + (alphas[i] - beta) * state["steps"][i]
                d = r.astype(dtype)
            state["prev_g"] = g.copy()
            previous_f = f
            t = min(1.0, 1.0 / float(np.sum(np.abs(g)))) * lr if state["n_iter"] == 1 else lr
            gtd = float(g @ d)
            if gtd > -tol_change:
                state["converged_reason"] = "g·d > -tolerance_change"
                break
            searched = 0
            if params["strong_wolfe"]:
                def evaluate(step, start=x, direction=d):
                    return oracle((start + step * direction).astype(dtype))

                f, g, t, searched = strong_wolfe(evaluate, t, d, f, g, gtd, max_eval - evals)
                x = (x + t * d).astype(dtype)
                done_grad = np.max(np.abs(g)) <= tol_grad
            else:
                x = (x + t * d).astype(dtype)
                done_grad = False
                if inner != max_iter:
                    f, g = oracle(x)
                    searched = 1
                    done_grad = np.max(np.abs(g)) <= tol_grad
            evals += searched
            if inner == max_iter or evals >= max_eval:
                break
            if done_grad:
                state["converged_reason"] = "max|g| <= tolerance_grad"
                break
            if np.max(np.abs(d * t)) <= tol_change:
                state["converged_reason"] = "max|t·d| <= tolerance_change"
                break
            if abs(f - previous_f) < tol_change:
                state["converged_reason"] = "|Δf| < tolerance_change"
                break
        state["d"], state["t"] = d, t
        state["extra_evals"] = evals - 1  # the evaluations inside this step(); the next step's first call is the run's
        return x

    def facts(self, state, params, context) -> dict:
        return {"inner_iterations": state["n_iter"], "stopping_rule": state["converged_reason"]}
