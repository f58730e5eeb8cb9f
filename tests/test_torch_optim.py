"""torch-sgd, torch-adam, torch-adamw and torch-lbfgs reproduce torch.optim's iterates (issue: the optimizers people
actually run). Each case runs torch itself on the same least-squares loss and compares the weights after the
same number of optimizer.step() calls: to 1e-10 in float64, within float32's rounding in float32."""

from __future__ import annotations

import numpy as np
import pytest

import condiag
from condiag.solvers import Settings

torch = pytest.importorskip("torch")


def problem(seed=0, n=30, d=5):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d)) * np.geomspace(1, 20, d)
    return A, rng.standard_normal(n)


def torch_run(A, b, factory, steps, dtype, closure_steps=False):
    x = torch.zeros(A.shape[1], dtype=dtype, requires_grad=True)
    At, bt = torch.tensor(A, dtype=dtype), torch.tensor(b, dtype=dtype)
    optimizer = factory([x])

    def closure():
        optimizer.zero_grad()
        loss = ((At @ x - bt) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(steps):
        if closure_steps:
            optimizer.step(closure)
        else:
            closure()
            optimizer.step()
    return x.detach().numpy().astype(np.float64)


def condiag_run(A, b, solver, params, steps, dtype="float64"):
    settings = Settings(max_iter=steps, tol=1e-15, dtype=dtype, simulate=True, params={solver: params})
    result = condiag.compare(A, b, solvers=[solver], settings=settings).results[0]
    assert result.status != "failed", result.message
    return result


CASES = [
    ("torch-sgd", {"lr": 1e-3}, lambda p: torch.optim.SGD(p, lr=1e-3)),
    ("torch-sgd", {"lr": 1e-3, "momentum": 0.9}, lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9)),
    ("torch-sgd", {"lr": 1e-3, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1},
     lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("torch-sgd", {"lr": 5e-4, "momentum": 0.8, "nesterov": 1}, lambda p: torch.optim.SGD(p, lr=5e-4, momentum=0.8, nesterov=True)),
    ("torch-adam", {"lr": 0.05}, lambda p: torch.optim.Adam(p, lr=0.05)),
    ("torch-adam", {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.5, "amsgrad": 1},
     lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.5, amsgrad=True)),
    ("torch-adamw", {"lr": 0.05}, lambda p: torch.optim.AdamW(p, lr=0.05)),
    ("torch-adamw", {"lr": 0.05, "weight_decay": 0.3, "amsgrad": 1}, lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.3, amsgrad=True)),
]


@pytest.mark.parametrize("solver, params, factory", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_first_order_optimizers_match_torch_in_float64(solver, params, factory):
    A, b = problem()
    result = condiag_run(A, b, solver, params, 100)
    theirs = torch_run(A, b, factory, result.iterations, torch.float64)
    np.testing.assert_allclose(result.x, theirs, rtol=1e-10, atol=1e-10 * np.abs(theirs).max())


@pytest.mark.parametrize("solver, params, factory", CASES[:1] + CASES[4:5] + CASES[6:7], ids=["sgd", "adam", "adamw"])
def test_first_order_optimizers_match_torch_in_float32(solver, params, factory):
    A, b = problem(1)
    result = condiag_run(A, b, solver, params, 100, dtype="float32")
    theirs = torch_run(A, b, factory, result.iterations, torch.float32)
    # float32 rounding accumulates over the steps: a few hundred units in the last place of the weights
    np.testing.assert_allclose(result.x, theirs, rtol=2e-4, atol=2e-4 * np.abs(theirs).max())


LBFGS_CASES = [
    ({}, {}),
    ({"history_size": 3, "max_iter": 5}, {"history_size": 3, "max_iter": 5}),
    ({"strong_wolfe": 1}, {"line_search_fn": "strong_wolfe"}),
    ({"strong_wolfe": 1, "history_size": 2, "max_iter": 4, "lr": 0.5}, {"line_search_fn": "strong_wolfe", "history_size": 2,
                                                                         "max_iter": 4, "lr": 0.5}),
    ({"lr": 0.01, "max_iter": 3}, {"lr": 0.01, "max_iter": 3}),
]


@pytest.mark.parametrize("ours, theirs", LBFGS_CASES, ids=[str(i) for i in range(len(LBFGS_CASES))])
def test_lbfgs_matches_torch_step_for_step(ours, theirs):
    A, b = problem(2, n=120, d=60)  # 60 unknowns with cond(A) 20: one step of 20 inner iterations does not finish
    x_star = np.linalg.lstsq(A, b, rcond=None)[0]
    for steps in (1, 2, 4):
        result = condiag_run(A, b, "torch-lbfgs", ours, steps)
        reference = torch_run(A, b, lambda p: torch.optim.LBFGS(p, **theirs), result.iterations, torch.float64, closure_steps=True)
        if steps == 1:  # the comparison is not of two answers that both reached x*
            assert np.linalg.norm(reference - x_star) > 1e-6 * np.linalg.norm(x_star)
        # L-BFGS with a fixed step amplifies rounding (about 20x a step here): torch against itself with b moved by
        # one unit in the last place is the yardstick, and condiag must be as close as that, or within 1e-10
        nudged = torch_run(A, b * (1 + 2.0**-52), lambda p: torch.optim.LBFGS(p, **theirs), result.iterations, torch.float64,
                           closure_steps=True)
        spread = np.linalg.norm(nudged - reference) / np.linalg.norm(reference)
        assert np.linalg.norm(result.x - reference) / np.linalg.norm(reference) <= max(1e-10, 10 * spread)


def test_lbfgs_one_step_is_many_inner_iterations_and_evaluations():
    A, b = problem(3)
    result = condiag_run(A, b, "torch-lbfgs", {"max_iter": 20}, 1)
    assert result.iterations == 1
    assert result.extra["inner_iterations"] > 1
    assert result.f_evals >= result.extra["inner_iterations"]


def test_torch_parameters_are_checked(run, samples):
    valley = samples / "valley_2x2.npz"
    for bad in ("torch-sgd.nesterov=2", "torch-sgd.momentum=-1", "torch-lbfgs.history_size=0", "torch-adam.amsgrad=0.5",
                "torch-lbfgs.max_iter=1.5"):
        result = run("compare", valley, "--solvers", "torch-sgd", "--param", bad)
        assert result.code == 2, bad
    nesterov = run("compare", valley, "--solvers", "torch-sgd", "--param", "torch-sgd.nesterov=1")
    assert nesterov.code == 2 and "momentum > 0" in nesterov.err
