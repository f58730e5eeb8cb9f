"""The problem condiag analyses: least squares or a quadratic, with a loss convention.

Two objectives are supported.

``least-squares`` (the default)
    f(x) = c * ||A x - b||^2 + ridge * ||x||^2, where the loss convention fixes c:
    ``sum`` c = 1 (a hand-written ``((A @ x - b) ** 2).sum()``), ``mean`` c = 1/n
    (PyTorch ``MSELoss``), ``half`` c = 1/2, ``half-mean`` c = 1/(2n) (textbooks,
    scikit-learn's ``SGDRegressor``). Gradient 2c Aᵀ(Ax - b) + 2 ridge x,
    Hessian H = 2c AᵀA + 2 ridge I.

``quadratic``
    f(x) = 1/2 xᵀ Q x - bᵀ x + ridge * ||x||^2 with Q symmetric (the matrix read from
    the file), gradient Q x - b + 2 ridge x, Hessian H = Q + 2 ridge I.

Every other module asks the :class:`Problem` for values, gradients and Hessian-vector
products instead of re-deriving them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from .errors import InputError
from .models import Capability

LOSS_CONVENTIONS = ("sum", "mean", "half", "half-mean")
OBJECTIVES = ("least-squares", "quadratic")

LOSS_DESCRIPTIONS = {
    "sum": "||Ax - b||²  (a hand-written ((A @ x - b) ** 2).sum())",
    "mean": "(1/n)·||Ax - b||²  (PyTorch MSELoss, reduction='mean'; scikit-learn's reported MSE)",
    "half": "½·||Ax - b||²  (classical least-squares texts)",
    "half-mean": "(1/2n)·||Ax - b||²  (textbooks, scikit-learn SGDRegressor)",
}

Loss = Literal["sum", "mean", "half", "half-mean"]
Objective = Literal["least-squares", "quadratic"]


def loss_scale(loss: str, n_rows: int) -> float:
    """The factor c in f(x) = c ||Ax - b||^2 for a loss convention.

    Parameters
    ----------
    loss : {'sum', 'mean', 'half', 'half-mean'}
    n_rows : int
        Number of rows n of A (the number of samples).
    """
    if loss == "sum":
        return 1.0
    if loss == "mean":
        return 1.0 / n_rows
    if loss == "half":
        return 0.5
    if loss == "half-mean":
        return 0.5 / n_rows
    raise ValueError(f"unknown loss convention {loss!r}; expected one of {LOSS_CONVENTIONS}")


def starting_point(x0, n_unknowns: int, default=None) -> np.ndarray:
    """Validate a starting point: one finite entry per unknown (``default``, else zeros, when None)."""
    if x0 is None:
        return np.zeros(n_unknowns) if default is None else np.asarray(default, dtype=float).reshape(-1)
    x0 = np.asarray(x0, dtype=float).reshape(-1)
    if x0.shape[0] != n_unknowns:
        raise InputError("x0", f"has {x0.shape[0]} entries but the problem has {n_unknowns} unknowns", option="x0")
    if not np.all(np.isfinite(x0)):
        raise InputError("x0", "has NaN or Inf entries", option="x0")
    return x0


def torch_linear_init(n_unknowns: int, intercept: bool, seed: int) -> np.ndarray:
    """A starting point drawn like PyTorch's default ``nn.Linear(d, 1)`` initialisation.

    ``nn.Linear`` draws its weight with ``kaiming_uniform_(a=sqrt(5))`` and its bias from the same
    bound, both U(-1/sqrt(d), 1/sqrt(d)) with d = fan_in (the number of features, the intercept
    column excluded). Order: the d feature weights, then the bias when ``intercept`` (the column of
    ones that ``--intercept`` appends last). numpy's generator seeded by ``seed``: the same
    distribution as torch's, not the same numbers as ``torch.manual_seed(seed)``.
    """
    features = n_unknowns - (1 if intercept else 0)
    bound = 1.0 / np.sqrt(max(features, 1))
    return np.random.default_rng(seed).uniform(-bound, bound, size=n_unknowns)


def is_sparse(matrix) -> bool:
    """True for a scipy.sparse matrix or array (without importing scipy.sparse when absent)."""
    return hasattr(matrix, "tocsr") and hasattr(matrix, "nnz")


@dataclass(frozen=True)
class Problem:
    """A validated least-squares or quadratic problem.

    Construct through :func:`condiag.load_problem` or :meth:`Problem.create`, which
    validate shapes, finiteness and symmetry.
    """

    A: Any
    """The matrix: A of ``||Ax - b||^2`` or Q of the quadratic; float64 ndarray or scipy.sparse CSR."""
    b: np.ndarray
    """Right-hand side (float64, length n_rows); zeros when the input had none (see ``has_rhs``)."""
    has_rhs: bool = True
    """Whether b came from the input (False: b = 0 was assumed)."""
    loss: str = "sum"
    """Loss convention, one of :data:`LOSS_CONVENTIONS` (ignored by the quadratic objective)."""
    objective: str = "least-squares"
    """``least-squares`` or ``quadratic``."""
    ridge: float = 0.0
    """Ridge penalty lambda: the objective gains lambda ||x||^2."""
    source: str = "<memory>"
    """Where A came from (a path, ``PATH:KEY`` or ``-``)."""
    rhs_source: str | None = None
    """Where b came from, when different from ``source``."""
    column_names: tuple[str, ...] = ()
    """A name for each column (CSV header names, ``intercept``), else ``x[i]``."""
    input_dtype: str = "float64"
    """The dtype the matrix was stored with (computations are float64)."""
    intercept: bool = False
    """Whether a column of ones was appended (``--intercept``)."""
    notes: tuple[str, ...] = field(default=())
    """Remarks made while loading (e.g. which keys were picked)."""
    sample_count: int | None = None
    """Rows of the original A when the problem was reduced exactly to its R factor (streaming)."""

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        A,
        b=None,
        *,
        loss: str = "sum",
        objective: str = "least-squares",
        ridge: float = 0.0,
        intercept: bool = False,
        source: str = "<memory>",
        rhs_source: str | None = None,
        column_names=None,
        notes=(),
        sample_count: int | None = None,
    ) -> "Problem":
        """Validate and build a problem; raise :class:`InputError` on bad data.

        Checks: A is a 2-D real numeric matrix with no empty dimension and only finite
        values; b (if given) is a real finite vector with one entry per row of A; for the
        quadratic objective Q is square and symmetric (to 1e-10 relative), and is then
        symmetrised exactly.
        """
        from .io.validate import as_matrix, as_vector

        if loss not in LOSS_CONVENTIONS:
            raise ValueError(f"unknown loss convention {loss!r}")
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}")
        if not np.isfinite(ridge) or ridge < 0:
            raise InputError(source, f"ridge must be a finite number >= 0, got {ridge!r}")
        input_dtype = str(getattr(A, "dtype", "float64"))
        A = as_matrix(A, source)
        n_rows, n_cols = A.shape
        names = list(column_names) if column_names is not None else [f"x[{i}]" for i in range(n_cols)]
        if len(names) != n_cols:
            names = [f"x[{i}]" for i in range(n_cols)]

        if objective == "quadratic":
            if intercept:
                raise InputError(source, "--intercept does not apply to --objective quadratic")
            A = _symmetric_or_raise(A, source)
        elif intercept:
            A = _append_ones(A)
            names.append("intercept")
        n_rows, n_cols = A.shape

        has_rhs = b is not None
        if b is None:
            b = np.zeros(n_rows)
        else:
            b = as_vector(b, rhs_source or source, n_rows)
        return cls(
            A=A,
            b=b,
            has_rhs=has_rhs,
            loss=loss,
            objective=objective,
            ridge=float(ridge),
            source=source,
            rhs_source=rhs_source,
            column_names=tuple(str(n) for n in names),
            input_dtype=input_dtype,
            intercept=intercept,
            notes=tuple(notes),
            sample_count=sample_count,
        )

    def with_options(self, **changes) -> "Problem":
        """A copy with some of ``loss``, ``ridge``, ``b``/``has_rhs`` changed (no re-validation of A)."""
        from dataclasses import replace

        return replace(self, **changes)

    # ------------------------------------------------------------------ shape
    @property
    def n_rows(self) -> int:
        return int(self.A.shape[0])

    @property
    def n_cols(self) -> int:
        return int(self.A.shape[1])

    @property
    def n_samples(self) -> int:
        """Rows of the original data (differs from n_rows for a problem reduced by streaming)."""
        return self.sample_count if self.sample_count is not None else self.n_rows

    @property
    def is_reduced(self) -> bool:
        """True when A is not the user's data but an equivalent smaller matrix (streaming's TSQR factor R):
        the loss is the same, but a run on A does not round as a run on the user's data would."""
        return self.sample_count is not None

    @property
    def sparse(self) -> bool:
        return is_sparse(self.A)

    @property
    def nnz(self) -> int:
        """Stored non-zeros (all entries for a dense matrix)."""
        return int(self.A.nnz) if self.sparse else int(np.count_nonzero(self.A))

    @property
    def is_quadratic(self) -> bool:
        return self.objective == "quadratic"

    # ------------------------------------------------------------------ the objective
    @property
    def data_scale(self) -> float:
        """c in f = c ||Ax - b||^2 (1 for the quadratic objective, whose scale is in Q)."""
        return 1.0 if self.is_quadratic else loss_scale(self.loss, self.n_samples)

    @property
    def hessian_scale(self) -> float:
        """s in H = s AᵀA + 2 ridge I: 2c for least squares (the quadratic objective: H = Q + 2 ridge I)."""
        return 2.0 * self.data_scale

    def residual(self, x: np.ndarray) -> np.ndarray:
        """r = A x - b (least squares only)."""
        return self.A @ x - self.b

    def value(self, x: np.ndarray) -> float:
        """f(x) under the problem's objective and loss convention."""
        x = np.asarray(x, dtype=float)
        penalty = self.ridge * float(x @ x) if self.ridge else 0.0
        if self.is_quadratic:
            return float(0.5 * x @ (self.A @ x) - self.b @ x) + penalty
        r = self.residual(x)
        return self.data_scale * float(r @ r) + penalty

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """∇f(x): 2c Aᵀ(Ax - b) + 2 ridge x, or Q x - b + 2 ridge x."""
        x = np.asarray(x, dtype=float)
        if self.is_quadratic:
            g = self.A @ x - self.b
        else:
            g = self.hessian_scale * (self.A.T @ self.residual(x))
        if self.ridge:
            g = g + 2.0 * self.ridge * x
        return np.asarray(g, dtype=float)

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """f(x) and ∇f(x) sharing one product with A."""
        x = np.asarray(x, dtype=float)
        penalty = self.ridge * float(x @ x) if self.ridge else 0.0
        if self.is_quadratic:
            Qx = self.A @ x
            f = float(0.5 * x @ Qx - self.b @ x) + penalty
            g = Qx - self.b
        else:
            r = self.residual(x)
            f = self.data_scale * float(r @ r) + penalty
            g = self.hessian_scale * (self.A.T @ r)
        if self.ridge:
            g = g + 2.0 * self.ridge * x
        return f, np.asarray(g, dtype=float)

    def hessian_vector(self, v: np.ndarray) -> np.ndarray:
        """H v, without forming H: s Aᵀ(A v) + 2 ridge v, or Q v + 2 ridge v."""
        v = np.asarray(v, dtype=float)
        if self.is_quadratic:
            hv = self.A @ v
        else:
            hv = self.hessian_scale * (self.A.T @ (self.A @ v))
        if self.ridge:
            hv = hv + 2.0 * self.ridge * v
        return np.asarray(hv, dtype=float)

    def dense_matrix(self) -> np.ndarray:
        """A as a dense float64 array (call only after a memory check for large sparse A)."""
        return self.A.toarray() if self.sparse else self.A

    def describe_loss(self) -> str:
        """The objective in words and symbols, for reports."""
        if self.is_quadratic:
            text = "½·xᵀQx - bᵀx"
        else:
            text = LOSS_DESCRIPTIONS[self.loss]
        if self.ridge:
            text += f" + {self.ridge:g}·||x||²"
        return text

    # ------------------------------------------------------------------ the model protocol (condiag.models)
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.LINEAR})
    default_solvers: ClassVar[tuple[str, ...] | None] = None
    """compare's default: the registry's (:data:`condiag.solvers.DEFAULT_SOLVERS`)."""

    def hessian_vector_at(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """H(x) v = H v: the Hessian is constant (``x`` is not used)."""
        return self.hessian_vector(v)

    def initial_point(self) -> np.ndarray:
        """Zeros: where analyze and compare start without ``--x0``."""
        return np.zeros(self.n_cols)

    def description(self) -> dict:
        """The ``problem`` block of the JSON reports."""
        return {
            "source": self.source,
            "rhs_source": self.rhs_source,
            "n_rows": self.n_samples,
            "n_cols": self.n_cols,
            "loss": self.loss,
            "objective": self.objective,
            "sparse": self.sparse,
            "nnz": self.nnz,
            "ridge": self.ridge,
            "intercept": self.intercept,
            "input_dtype": self.input_dtype,
            "has_rhs": self.has_rhs,
            "column_names": list(self.column_names),
            "notes": list(self.notes),
        }

    def summary_rows(self) -> list[tuple[str, str | None]]:
        """The problem in (label, text) rows, for the text reports (a None text is left out)."""
        kind = "sparse" if self.sparse else "dense"
        shape = f"{self.n_samples:,} × {self.n_cols} ({kind}, {self.nnz:,} non-zeros, {self.input_dtype})"
        b = self.rhs_source or ("(in the same file)" if self.has_rhs else "none (curvature only)")
        rows: list[tuple[str, str | None]] = [
            ("matrix", shape),  # its source is in the report's title
            ("b", b if self.has_rhs or self.is_quadratic else "none (curvature only)"),
            ("objective", self.describe_loss()),
            ("loss convention", None if self.is_quadratic else f"--loss {self.loss}"),
        ]
        if self.intercept:
            rows.append(("intercept", "a column of ones was appended"))
        rows += [("note", note) for note in self.notes]
        return rows


def _append_ones(A):
    if is_sparse(A):
        import scipy.sparse as sp

        return sp.hstack([A, np.ones((A.shape[0], 1))], format="csr")
    return np.hstack([A, np.ones((A.shape[0], 1))])


def _symmetric_or_raise(Q, source: str):
    n_rows, n_cols = Q.shape
    if n_rows != n_cols:
        raise InputError(
            source,
            f"--objective quadratic needs a square symmetric matrix Q, got shape {n_rows}x{n_cols}",
            "drop --objective quadratic to treat it as A in ||Ax - b||²",
        )
    asym = Q - Q.T
    if is_sparse(Q):
        diff = float(abs(asym).max()) if asym.nnz else 0.0
        scale = float(abs(Q).max()) if Q.nnz else 0.0
    else:
        diff = float(np.max(np.abs(asym)))
        scale = float(np.max(np.abs(Q)))
    if diff > 1e-10 * max(scale, np.finfo(float).tiny):
        if is_sparse(Q):
            i, j = np.unravel_index(int(abs(asym).argmax()), asym.shape)
        else:
            i, j = np.unravel_index(int(np.argmax(np.abs(asym))), asym.shape)
        raise InputError(
            source,
            f"--objective quadratic needs a symmetric Q, but Q[{i},{j}] = {Q[i, j]:g} "
            f"differs from Q[{j},{i}] = {Q[j, i]:g}",
            "pass (Q + Q.T)/2, which has the same quadratic form",
        )
    Qs = (Q + Q.T) * 0.5
    return Qs.tocsr() if is_sparse(Qs) else Qs
