"""The model protocol (condiag.models): both built-in models implement it, solvers are chosen by capability,
and a model defined outside condiag runs through compare without touching condiag's code."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import ROOT

import condiag
from condiag.models import (
    CAPABILITY_WORDS,
    MODEL_KINDS,
    Capability,
    Model,
    build_model,
    missing,
)
from condiag.problem import Problem
from condiag.reference import Reference
from condiag.solvers import REGISTRY, get_solver
from condiag.two_layer import TwoLayerProblem


def linear_problem():
    rng = np.random.default_rng(3)
    return Problem.create(rng.standard_normal((12, 4)), rng.standard_normal(12), loss="mean", ridge=0.1, intercept=True)


def two_layer_model():
    return TwoLayerProblem.create(np.random.default_rng(4).standard_normal((5, 4)), 2, samples=40)


@dataclass(frozen=True)
class CoshBowl:
    """f(x) = Σ w_i cosh(x_i − c_i): minimum at x = c with f* = Σ w, ∇²f = diag(w cosh(x − c)).

    Defined here, outside condiag, as a user's own model would be."""

    w: np.ndarray
    c: np.ndarray
    source: str = "<test>"
    objective: str = "cosh-bowl"
    capabilities: frozenset = frozenset({Capability.KNOWN_MINIMUM})
    default_solvers: tuple | None = ("gd", "lbfgs")
    column_names: tuple = ()

    @property
    def n_cols(self) -> int:
        return self.w.size

    def value(self, x):
        return float(self.w @ np.cosh(np.asarray(x) - self.c))

    def gradient(self, x):
        return self.w * np.sinh(np.asarray(x) - self.c)

    def value_and_gradient(self, x):
        return self.value(x), self.gradient(x)

    def hessian_vector_at(self, x, v):
        return self.w * np.cosh(np.asarray(x) - self.c) * v

    def initial_point(self):
        return np.zeros(self.n_cols)

    def describe_loss(self):
        return "Σ w·cosh(x − c)"

    def description(self):
        return {"source": self.source, "objective": self.objective, "n_cols": self.n_cols}

    def summary_rows(self):
        return [("objective", self.describe_loss())]

    def reference_minimum(self):
        return Reference(x=self.c.copy(), loss=float(self.w.sum()), residual_norm=None, method="closed form", minimum_norm=False,
                         accuracy={})

    def stability_curvature(self, x0, reference):
        # along the way from x0 to c the curvature w cosh(x - c) only falls: its value at x0 bounds it
        lam = float(np.max(self.w * np.cosh(x0 - self.c)))
        return lam, 1.0 / lam


@pytest.mark.parametrize("model", [linear_problem(), two_layer_model(), CoshBowl(np.array([1.0, 4.0]), np.array([0.5, -1.0]))],
                         ids=["least-squares", "two-layer", "outside"])
def test_every_model_implements_the_protocol_with_consistent_derivatives(model):
    assert isinstance(model, Model)
    rng = np.random.default_rng(5)
    x, v = rng.standard_normal(model.n_cols), rng.standard_normal(model.n_cols)
    h = 1e-6
    assert model.gradient(x) @ v == pytest.approx((model.value(x + h * v) - model.value(x - h * v)) / (2 * h), rel=1e-6)
    numeric = (model.gradient(x + h * v) - model.gradient(x - h * v)) / (2 * h)
    np.testing.assert_allclose(model.hessian_vector_at(x, v), numeric, rtol=1e-5, atol=1e-6 * np.abs(numeric).max())
    assert model.initial_point().shape == (model.n_cols,)
    assert model.description()["objective"] == model.objective
    assert all(isinstance(label, str) for label, _ in model.summary_rows())


def test_solvers_apply_by_capability_and_say_which_one_is_missing():
    linear, factored = linear_problem(), two_layer_model()
    for name, cls in REGISTRY.items():
        solver = get_solver(name)
        for model in (linear, factored):
            ok, reason = solver.applies_to(model)
            if not cls.requires <= model.capabilities:
                assert not ok
                assert all(CAPABILITY_WORDS[c] in reason for c in cls.requires - model.capabilities)
            elif ok:
                assert reason == ""
    assert get_solver("lm").applies_to(linear) == (False, "needs " + CAPABILITY_WORDS[Capability.FACTORED])
    assert not get_solver("cg").applies_to(factored)[0]
    assert get_solver("gd").applies_to(factored) == (True, "")
    assert missing(object(), frozenset({Capability.LINEAR})) == "needs " + CAPABILITY_WORDS[Capability.LINEAR]


def test_a_model_from_outside_runs_through_compare_against_its_own_minimum():
    model = CoshBowl(np.array([1.0, 4.0, 0.25]), np.array([0.5, -1.0, 2.0]))
    comparison = condiag.compare(model, solvers=["gd", "lbfgs", "cg", "lm"], max_iter=20_000, tol=1e-10)
    by_name = {r.solver: (r, m) for r, m in zip(comparison.results, comparison.metrics)}
    assert comparison.bounds.divergence_threshold == pytest.approx(2.0 / (4.0 * np.cosh(1.0)), rel=1e-12)
    for name in ("gd", "lbfgs"):
        result, metrics = by_name[name]
        assert result.status == "converged", (name, result.status)
        assert 0 <= metrics.loss_gap <= 1e-10 * (model.value(np.zeros(3)) - 5.25)
        assert metrics.x_rel_error < 1e-4
    assert by_name["cg"][0].status == "skipped" and "linear" in by_name["cg"][0].message
    assert by_name["lm"][0].status == "skipped" and "product" in by_name["lm"][0].message
    default = condiag.compare(model, max_iter=100)
    assert [r.solver for r in default.results] == ["gd", "lbfgs"]
    with pytest.raises(ValueError, match="no analysis of its own"):
        condiag.analyze(model)
    with pytest.raises(ValueError, match="not with a cosh-bowl model"):
        condiag.compare(model, np.ones(3))


def test_the_two_layer_model_through_the_public_api_is_the_cli_report(run, tmp_path):
    A = np.random.default_rng(6).standard_normal((6, 4))
    np.save(tmp_path / "A.npy", A)
    model = build_model("two-layer", Problem.create(A, None, source=str(tmp_path / "A.npy")), hidden=2, samples=0, init_scale=1.0,
                        seed=0)
    report = condiag.analyze(model, lrs=[0.01])
    cli = run("analyze", str(tmp_path / "A.npy"), "--model", "two-layer", "--hidden", "2", "--samples", "0", "--lr", "0.01",
              "--json")
    assert cli.code == 0, cli.err
    mine, theirs = report.to_dict(), cli.json()
    for d in (mine, theirs):
        d.pop("timing", None)
    assert mine == theirs
    with pytest.raises(ValueError, match="x0: not available for the two-layer model"):
        condiag.analyze(model, x0=np.zeros(model.n_cols))


def test_no_code_branches_on_a_model_name():
    """The name of a model appears only where it is defined and registered; everything else asks for a capability."""
    package = ROOT / "condiag"
    branching = re.compile(r"""getattr\([^)]*["']objective["']|[!=]=\s*["']two-layer["']|["']two-layer["']\s*[!=]=""")
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not branching.search(text), path
        if "two-layer" in text:
            assert path.relative_to(package).as_posix() in {"models.py", "two_layer.py", "two_layer_analysis.py"}, path
    assert set(MODEL_KINDS) == {"linear", "two-layer"}


@pytest.mark.parametrize("samples", [0, 40])
def test_max_stable_means_the_same_for_the_two_layer_model(samples):
    """learning_rate.max_stable of the two-layer report is where gradient descent stops working: just above it no run
    converges, at the recommended lr the run converges."""
    model = TwoLayerProblem.create(np.random.default_rng(7).standard_normal((5, 4)), 2, samples=samples)
    report = condiag.analyze(model)
    bound = report.to_dict()["learning_rate"]["max_stable"]
    # the measured curvature at the minimum is the dense Hessian's largest eigenvalue
    H = np.array([model.hessian_vector_at(report.optimum.theta, e) for e in np.eye(model.n_cols)])
    assert bound == pytest.approx(2 / np.linalg.eigvalsh((H + H.T) / 2)[-1], rel=1e-8)
    above = condiag.compare(model, solvers=["gd"], lr=1.1 * bound, max_iter=20_000, tol=1e-8).results[0]
    assert above.status != "converged"
    # the lr check and CD151 agree with the run: the lr that cannot settle is never called stable (the formula's
    # estimate at the minimum alone would call it stable when the inputs are not white)
    checked = condiag.analyze(model, lrs=[1.1 * bound])
    assert not checked.checks[0].stable_at_minimum
    assert "CD151" in [f.code for f in checked.findings]
    assert checked.threshold_minimum == pytest.approx(bound, rel=1e-12) or checked.threshold_minimum < bound
    below = condiag.compare(model, solvers=["gd"], lr=report.recommended_lr, max_iter=200_000, tol=1e-8).results[0]
    assert below.status == "converged"
