"""Two-layer linear networks: fit W1 W2 to a matrix A (story 3).

    f(W1, W2) = c ||(W1 W2 - A) X||_F^2,   W1: m x K,  W2: K x d,  X: d x N Gaussian inputs

(``samples = 0``: the population loss c ||W1 W2 - A||_F^2, i.e. X X^T = I). With C = X Xᵀ = L Lᵀ
the loss is c ||(W1 W2 - A) L||_F^2. The loss convention fixes c: sum 1, mean 1/(m N) (PyTorch
MSELoss over the m x N outputs), half 1/2, half-mean 1/(2 m N).

Facts used (Baldi & Hornik 1989; Saxe, McClelland & Ganguli 2014; Arora et al. 2018):

* **Optimum.** min over rank-K products is the rank-K truncation of A L (Eckart–Young):
  M* = [A L]_K L⁻¹ and f* = c Σ_{i>K} sigma_i(A L)^2 (zero when K >= rank A).
* **Symmetry.** (W1 D, D⁻¹ W2) gives the same product for any invertible D, so the minima form
  a continuous family and the Hessian at a minimum is singular along it; condiag's reference is
  the *balanced* minimum W1 = U Σ^½, W2 = Σ^½ Vᵀ (M* = U Σ Vᵀ), which gradient flow from a
  balanced start reaches.
* **Curvature.** With R = (W1 W2 - A) C the Hessian is the Gauss–Newton part
  2c ||(dW1 W2 + W1 dW2) L||² plus the residual part 4c ⟨R, dW1 dW2⟩, whose eigenvalues are
  ±2c sigma_i(R). Hence the estimates used by ``analyze``
  (i) at the initial point: lambda_max ≈ 2c [sigma_1(R0) + sigma_1(W1)^2 lambda_max(C) + sigma_1(W2 L)^2],
  (ii) at the balanced minimum: lambda_max ≈ 4c sigma_1(M*) v_1ᵀ C v_1 (v_1 the top right singular vector of M*),
  and component i of M* is learned at the local rate lambda_i ≈ 4c sigma_i(M*) v_iᵀ C v_i, so the
  last kept component takes sigma_1/sigma_K times longer than the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .errors import InputError, UsageError
from .models import Capability
from .problem import LOSS_CONVENTIONS


@dataclass(frozen=True)
class TwoLayerProblem:
    """The two-layer model as a function of one flat parameter vector theta = [vec W1, vec W2]."""

    A: np.ndarray
    K: int
    C: np.ndarray
    """X Xᵀ (d x d); the identity for the population loss."""
    L: np.ndarray
    """A factor with L Lᵀ = C."""
    samples: int
    loss: str
    scale: float
    """c."""
    source: str
    init_scale: float
    seed: int
    column_names: tuple[str, ...] = ()

    # the model protocol (condiag.models.Model)
    objective = "two-layer"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.FACTORED, Capability.KNOWN_MINIMUM, Capability.OWN_ANALYSIS})
    default_solvers: ClassVar[tuple[str, ...] | None] = ("gd", "momentum", "adam", "lbfgs", "lm", "als")
    """What ``compare --model two-layer`` runs without ``--solvers``: first-order methods, L-BFGS and the two
    solvers that exploit the product (LM, ALS)."""
    # what the first-order solvers read besides the protocol
    ridge = 0.0
    sparse = False
    has_rhs = True
    is_quadratic = False

    @classmethod
    def create(cls, A, K: int, *, samples: int = 1000, loss: str = "sum", init_scale: float = 1.0, seed: int = 0, source: str = "<memory>"):
        A = np.asarray(A, dtype=float)
        if A.ndim != 2:
            raise InputError(source, f"A must be 2-D for --model two-layer, got shape {A.shape}")
        if not A.any():
            raise InputError(source, "A is all zeros: W1·W2 = 0 fits it exactly, and the curvature scale (σ₁ of A) is 0",
                             "the two-layer analysis needs a non-zero target matrix")
        if K < 1:
            raise UsageError("hidden must be at least 1", option="hidden")
        if samples < 0:
            raise UsageError("samples must be >= 0", option="samples")
        if loss not in LOSS_CONVENTIONS:
            raise UsageError(f"unknown loss {loss!r}")
        m, d = A.shape
        if samples == 0:
            C = np.eye(d)
            count = 1
        else:
            X = np.random.default_rng(seed).standard_normal((d, samples))
            C = X @ X.T
            count = samples
        eigenvalues, vectors = np.linalg.eigh(C)
        L = vectors * np.sqrt(np.maximum(eigenvalues, 0.0))
        outputs = m * count
        scale = {"sum": 1.0, "mean": 1.0 / outputs, "half": 0.5, "half-mean": 0.5 / outputs}[loss]
        return cls(A, int(K), C, L, int(samples), loss, scale, source, float(init_scale), int(seed),
                   tuple(f"W1[{i},{k}]" for i in range(m) for k in range(K)) + tuple(f"W2[{k},{j}]" for k in range(K) for j in range(d)))

    # ------------------------------------------------------------------ shapes
    @property
    def shapes(self):
        m, d = self.A.shape
        return (m, self.K), (self.K, d)

    @property
    def n_cols(self) -> int:
        """Number of parameters (the solver machinery calls it n_cols)."""
        (a, b), (c, d) = self.shapes
        return a * b + c * d

    @property
    def n_rows(self) -> int:
        return self.A.shape[0]

    def split(self, theta: np.ndarray):
        (a, b), (c, d) = self.shapes
        return theta[: a * b].reshape(a, b), theta[a * b :].reshape(c, d)

    @staticmethod
    def join(W1, W2) -> np.ndarray:
        return np.concatenate([np.ravel(W1), np.ravel(W2)])

    def initial_point(self) -> np.ndarray:
        """Seeded normal initialisation with standard deviation ``init_scale`` (independent of the data seed)."""
        rng = np.random.default_rng(self.seed + 1)
        return rng.standard_normal(self.n_cols) * self.init_scale

    # ------------------------------------------------------------------ objective
    def value(self, theta) -> float:
        W1, W2 = self.split(np.asarray(theta, dtype=float))
        E = (W1 @ W2 - self.A) @ self.L
        return self.scale * float(np.sum(E * E))

    def value_and_gradient(self, theta):
        W1, W2 = self.split(np.asarray(theta, dtype=float))
        D = W1 @ W2 - self.A
        R = D @ self.C
        f = self.scale * float(np.sum(D * R))
        return f, 2.0 * self.scale * self.join(R @ W2.T, W1.T @ R)

    def gradient(self, theta):
        return self.value_and_gradient(theta)[1]

    def hessian_vector_at(self, theta, v):
        """Exact H v: d/dt ∇f(theta + t v) at t = 0."""
        W1, W2 = self.split(np.asarray(theta, dtype=float))
        V1, V2 = self.split(np.asarray(v, dtype=float))
        R = (W1 @ W2 - self.A) @ self.C
        dR = (V1 @ W2 + W1 @ V2) @ self.C
        return 2.0 * self.scale * self.join(dR @ W2.T + R @ V2.T, V1.T @ R + W1.T @ dR)

    def residual_vector(self, theta):
        """r with f = ||r||²: sqrt(c) vec((W1 W2 - A) L)."""
        W1, W2 = self.split(theta)
        return np.sqrt(self.scale) * ((W1 @ W2 - self.A) @ self.L).ravel()

    def jacobian(self, theta) -> np.ndarray:
        """d r / d theta, (m d) x (mK + Kd), formed explicitly (small models)."""
        W1, W2 = self.split(theta)
        m = self.A.shape[0]
        B = W2 @ self.L  # K x d
        # r_{ij} = sum_k W1_ik B_kj  -> dr_ij/dW1_ik = B_kj
        J1 = np.kron(np.eye(m), B.T)  # (m d) x (m K)
        # r = W1 W2 L: dr_ij/dW2_kl = W1_ik L_lj
        J2 = np.kron(W1, self.L.T)  # (m d) x (K d)
        return np.sqrt(self.scale) * np.hstack([J1, J2])

    def describe_loss(self) -> str:
        inputs = "||W1·W2 − A||²_F (population)" if self.samples == 0 else f"||(W1·W2 − A)·X||²_F over {self.samples:,} Gaussian inputs"
        factor = {"sum": "", "mean": "mean of ", "half": "½·", "half-mean": "½·mean of "}[self.loss]
        return factor + inputs

    def description(self) -> dict:
        """The ``problem`` block of the JSON reports (schema: the two-layer variant of ``problem``)."""
        return {
            "source": self.source, "n_rows": self.A.shape[0], "n_cols": self.A.shape[1], "loss": self.loss,
            "objective": self.objective, "sparse": False, "hidden": self.K, "samples": self.samples,
            "init_scale": self.init_scale, "seed": self.seed, "n_weights": self.n_cols,
        }

    def summary_rows(self) -> list[tuple[str, str | None]]:
        """The model in (label, text) rows, for the text reports."""
        from .numbers import sig

        m, d = self.A.shape
        return [
            ("target A", f"{self.source}: {m} × {d}"),
            ("model", (f"W1 ({m} × {self.K}) · W2 ({self.K} × {d}), {self.n_cols} weights, normal init with scale "
                       f"{sig(self.init_scale, 3)} (seed {self.seed})")),
            ("objective", self.describe_loss()),
            ("loss convention", f"--loss {self.loss}"),
        ]

    def reference_minimum(self):
        """The balanced Eckart–Young minimum as compare's reference (:data:`Capability.KNOWN_MINIMUM`)."""
        from .reference import Reference

        best = optimum(self)
        return Reference(x=best.theta, loss=best.loss, residual_norm=None, method="truncated SVD of A·L (Eckart–Young), balanced",
                         minimum_norm=False, accuracy={})

    def analyze(self, lrs=(), *, tol: float = 1e-6):
        """The model's own analysis (:data:`Capability.OWN_ANALYSIS`): :func:`condiag.two_layer_analysis.analyze_two_layer`."""
        from .two_layer_analysis import analyze_two_layer

        return analyze_two_layer(self, lrs, tol=tol)

    def stability_curvature(self, x0: np.ndarray, reference) -> tuple[float, float]:
        """(λ, recommended lr): the larger of the curvatures (i) at x0 and (ii) at the minimum, and 1/λ."""
        lam_init, lam_min, recommended = stability_curvatures(self, x0, optimum(self))
        return max(lam_init, lam_min), recommended


def from_problem(problem, *, hidden: int | None, samples: int, init_scale: float, seed: int) -> TwoLayerProblem:
    """``--model two-layer``: W1·W2 fitted to a loaded problem's matrix, under its loss convention
    (K = ``hidden``, or min(m, d) when None)."""
    A = problem.dense_matrix()
    return TwoLayerProblem.create(A, hidden or min(A.shape), samples=samples, loss=problem.loss, init_scale=init_scale,
                                  seed=seed, source=problem.source)


@dataclass(frozen=True)
class Optimum:
    """The balanced rank-K minimum (Eckart–Young)."""

    theta: np.ndarray
    loss: float
    M: np.ndarray
    singular_values: np.ndarray
    """sigma_i(M*) for i < K."""
    right_vectors: np.ndarray
    discarded: np.ndarray
    """sigma_i(A L) for i >= K."""


def optimum(problem: TwoLayerProblem) -> Optimum:
    """M* = [A L]_K L⁻¹, balanced as W1 = U Σ^½, W2 = Σ^½ Vᵀ with M* = U Σ Vᵀ."""
    A, L, K = problem.A, problem.L, problem.K
    U, s, Vt = np.linalg.svd(A @ L, full_matrices=False)
    k = min(K, s.size)
    B = (U[:, :k] * s[:k]) @ Vt[:k]
    M = np.linalg.lstsq(L.T, B.T, rcond=None)[0].T  # B L⁻¹
    Um, sm, Vmt = np.linalg.svd(M, full_matrices=False)
    W1 = np.zeros((A.shape[0], K))
    W2 = np.zeros((K, A.shape[1]))
    W1[:, :k] = Um[:, :k] * np.sqrt(sm[:k])
    W2[:k] = np.sqrt(sm[:k])[:, None] * Vmt[:k]
    theta = problem.join(W1, W2)
    return Optimum(theta, problem.value(theta), M, sm[:k], Vmt[:k].T, s[k:])


def _power(operator, n: int, iterations: int, seed: int) -> tuple[float, float]:
    """(norm-ratio estimate of the spectral radius, Rayleigh quotient) by power iteration."""
    v = np.random.default_rng(seed).standard_normal(n)
    v /= np.linalg.norm(v)
    radius = quotient = 0.0
    for _ in range(iterations):
        w = operator(v)
        norm = float(np.linalg.norm(w))
        if norm == 0.0:
            return 0.0, 0.0
        new_quotient = float(v @ w)
        converged = abs(norm - radius) <= 1e-10 * norm and abs(new_quotient - quotient) <= 1e-10 * norm
        radius, quotient, v = norm, new_quotient, w / norm
        if converged:
            break
    return radius, quotient


def power_iteration_top(problem: TwoLayerProblem, theta: np.ndarray, iterations: int = 2000, seed: int = 0) -> float:
    """Largest (algebraic) Hessian eigenvalue at theta, by power iteration on exact Hessian-vector products.

    Plain power iteration finds the spectral radius rho (the norm ratio converges even for a ±
    pair, which the residual part of this Hessian always has); iterating on H + rho I then gives
    lambda_max + rho.
    """
    n = problem.n_cols
    rho, _ = _power(lambda v: problem.hessian_vector_at(theta, v), n, iterations, seed)
    shifted, _ = _power(lambda v: problem.hessian_vector_at(theta, v) + rho * v, n, iterations, seed + 1)
    return shifted - rho


def curvature_at_init(problem: TwoLayerProblem, theta: np.ndarray) -> float:
    """lambda_max estimate (i) of the module docstring."""
    W1, W2 = problem.split(theta)
    R = (W1 @ W2 - problem.A) @ problem.C
    top_c = float(np.linalg.eigvalsh(problem.C)[-1])
    return 2.0 * problem.scale * (np.linalg.norm(R, 2) + np.linalg.norm(W1, 2) ** 2 * top_c + np.linalg.norm(W2 @ problem.L, 2) ** 2)


def stability_curvatures(problem: TwoLayerProblem, theta0: np.ndarray, best: Optimum) -> tuple[float, float, float]:
    """(lambda at the start (i), lambda at the balanced minimum (ii), recommended lr = 1 / the larger).

    The recommended lr is half the tighter of the two stability bounds 2/lambda.
    """
    lam_init = curvature_at_init(problem, theta0)
    rates = component_rates(problem, best)
    lam_min = float(rates.max()) if rates.size else 0.0
    top = max(lam_init, lam_min)
    return lam_init, lam_min, (1.0 / top if top > 0 else 1.0)


def component_rates(problem: TwoLayerProblem, best: Optimum) -> np.ndarray:
    """lambda_i ≈ 4c sigma_i(M*) v_iᵀ C v_i for the kept components (estimate (ii))."""
    v = best.right_vectors
    weights = np.einsum("ji,jk,ki->i", v, problem.C, v)
    return 4.0 * problem.scale * best.singular_values * weights
