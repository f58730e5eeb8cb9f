"""A smooth function f: Rⁿ → R written by the user (``--function FILE.py:NAME``), with its derivatives and
their accuracy.

The file is run as Python runs a script (it is the user's own code); NAME must take a 1-D array of n floats
and return a number. Written with numpy, its gradient is taken by the complex step,
∂f/∂xᵢ = Im f(x + i·h·eᵢ) / h (h = 1e-30; no subtraction, so accurate to rounding: Squire & Trapp, SIAM
Review 40 (1998)), checked once against central differences — a non-analytic operation (``abs``, ``max``,
comparisons) makes the two disagree, and Richardson-extrapolated central differences are then used throughout;
the Hessian is the
Jacobian of the complex-step gradient by central differences at two steps with one Richardson
extrapolation (with their error estimate), or, when the gradient is itself a difference, by
``scipy.differentiate.jacobian`` (adaptive steps, with an error estimate). Written with torch (it returns a tensor, or refuses an ndarray),
both come from autograd in float64, exact to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, UsageError

COMPLEX_STEP = 1e-30
"""The complex step h: any h far below √eps·|x| gives the derivative to rounding; the truncation error is h²·|f'''|/6."""
AGREEMENT = 1e-5
"""The complex-step gradient must agree with central differences to this relative size at x0 (differences
are good to about 1e-8 there), else the function is not complex-analytic and differences are used."""
MAX_VARIABLES = 200
"""Dense Hessians of larger functions cost n² evaluations of f and more: refused above this (a PyTorch model: condiag model)."""
EPS = float(np.finfo(float).eps)
DIFFERENCE_TRUST = 1e-3
"""Central differences at h and h/2 must agree to this relative size, else the derivative there is unknown (NaN)."""


def _is_tensor(value) -> bool:
    return type(value).__module__.startswith("torch")


@dataclass(frozen=True)
class Derivatives:
    """How the derivatives are taken, and how accurate they are."""

    backend: str
    """'numpy' or 'torch'."""
    gradient_method: str
    hessian_method: str
    note: str = ""


class SmoothFunction:
    """f with its gradient and Hessian (see the module's docstring for how each is computed)."""

    objective = "function"

    def __init__(self, function, x0, label: str):
        self.function = function
        self.label = label
        x0 = np.asarray(x0, dtype=float).reshape(-1)
        self.n = x0.size
        if self.n == 0 or self.n > MAX_VARIABLES:
            raise UsageError(f"function: {self.n} variables; --x0 must give between 1 and {MAX_VARIABLES}", option="function")
        self.evaluations = 0
        self.backend = self._backend(x0)
        note = ""
        if self.backend == "torch":
            self.complex_step = False
            self.derivatives = Derivatives("torch", "autograd (float64)", "autograd (float64)")
        else:
            self.complex_step = self._complex_step_works(x0)
            if not self.complex_step:
                note = ("the complex step does not apply (the function refuses complex input, or uses a non-analytic "
                        "operation such as abs); central differences used")
            self.derivatives = Derivatives(
                "numpy", "complex step (accurate to rounding)" if self.complex_step else "central differences (Richardson-extrapolated)",
                "central differences of the gradient, Richardson-extrapolated (with an error estimate)" if self.complex_step
                else "central differences of the gradient (scipy.differentiate, with an error estimate)", note)

    # ------------------------------------------------------------------ evaluation
    def _call(self, x):
        self.evaluations += 1
        return self.function(x)

    def _scalar(self, value, where: str) -> float:
        if _is_tensor(value):
            if value.numel() != 1:
                raise InputError(self.label, f"returned a tensor of shape {tuple(value.shape)} {where}; it must return a number")
            return float(value.detach().reshape(()).item())
        array = np.asarray(value)
        if array.size != 1 or array.dtype.kind not in "biufc":
            raise InputError(self.label, f"returned {type(value).__name__} {where}; it must return a number")
        return float(np.real(array.reshape(())))

    def _backend(self, x0) -> str:
        try:
            value = self._call(x0.copy())
        except Exception as exc:  # noqa: BLE001 - a torch function refuses an ndarray: try a tensor
            try:
                import torch
            except ImportError:
                raise InputError(self.label, f"raised {type(exc).__name__} at x0: {exc}") from None
            try:
                value = self._call(torch.tensor(x0, dtype=torch.float64))
            except Exception as again:  # noqa: BLE001
                raise InputError(self.label, f"raised {type(exc).__name__} at x0: {exc}") from again
            if not _is_tensor(value):
                raise InputError(self.label, "returned no tensor for a tensor input") from None
            self._scalar(value, "at x0")
            return "torch"
        if _is_tensor(value):
            return "torch"
        self._scalar(value, "at x0")
        return "numpy"

    def value(self, x: np.ndarray) -> float:
        """f(x): inf where it overflows, NaN where it is not defined (it returns NaN, or raises a math error: the
        point is outside f's domain)."""
        try:
            with np.errstate(all="ignore"):
                if self.backend == "torch":
                    import torch

                    result = self._call(torch.tensor(x, dtype=torch.float64))
                else:
                    result = self._call(np.array(x, dtype=float))
            return self._scalar(result, "")
        except OverflowError:
            return math.inf
        except (ValueError, ZeroDivisionError, FloatingPointError):
            return math.nan
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's code
            raise self._failed(exc, x, "value") from None

    # ------------------------------------------------------------------ derivatives
    def _complex_step_gradient(self, x: np.ndarray) -> np.ndarray:
        g = np.empty(self.n)
        with np.errstate(all="ignore"):
            for i in range(self.n):
                z = x.astype(complex)
                z[i] += 1j * COMPLEX_STEP
                g[i] = float(np.imag(np.asarray(self._call(z)).reshape(()))) / COMPLEX_STEP
        return g

    def _vectorised(self, fun, width: int):
        """``fun`` (one point -> array of ``width``) as scipy.differentiate wants it: points stacked on trailing axes."""
        def wrapped(xs):
            flat = np.asarray(xs).reshape(self.n, -1)
            out = np.array([fun(flat[:, j]) for j in range(flat.shape[1])]).reshape(flat.shape[1], width).T
            return out.reshape(width, *np.shape(xs)[1:]) if width > 1 else out.reshape(np.shape(xs)[1:])
        return wrapped

    def _difference_gradient(self, x: np.ndarray):
        """(central differences with one Richardson step, their error estimate): D(h) = (f(x+h) − f(x−h))/2h at
        h = eps^(1/3)·max(1, |xᵢ|) and h/2, the estimate (4·D(h/2) − D(h))/3 (error O(h⁴)), its error taken as
        |estimate − D(h/2)|; NaN where D(h) and D(h/2) disagree by more than :data:`DIFFERENCE_TRUST`. 4n
        evaluations: this runs every step of a path."""
        g, error = np.empty(self.n), np.empty(self.n)
        for i in range(self.n):
            h = EPS ** (1 / 3) * max(1.0, abs(float(x[i])))
            estimates = []
            for step in (h, h / 2):
                up, down = x.copy(), x.copy()
                up[i] += step
                down[i] -= step
                estimates.append((self.value(up) - self.value(down)) / (2 * step))
            g[i] = (4 * estimates[1] - estimates[0]) / 3
            error[i] = abs(g[i] - estimates[1])
            if not error[i] <= DIFFERENCE_TRUST * max(abs(estimates[0]), abs(estimates[1]), EPS):
                g[i] = math.nan  # the two step sizes disagree: f is not smooth at this scale (a kink, a pole, a domain edge)
        return g, error

    def _complex_step_works(self, x0: np.ndarray) -> bool:
        try:
            with np.errstate(all="ignore"):
                probe = np.asarray(self._call(x0.astype(complex) + 1j * COMPLEX_STEP))
        except Exception:  # noqa: BLE001 - the function refuses complex input
            return False
        if probe.dtype.kind != "c":
            return False
        try:
            cs = self._complex_step_gradient(x0)
        except Exception:  # noqa: BLE001
            return False
        fd, err = self._difference_gradient(x0)
        scale = max(float(np.max(np.abs(fd))), float(np.max(np.abs(cs))), 1e-300)
        return bool(np.all(np.isfinite(cs)) and np.max(np.abs(cs - fd)) <= AGREEMENT * scale + 10 * float(np.max(err)))

    def _failed(self, exc: Exception, x: np.ndarray, what: str) -> InputError:
        shown = ", ".join(f"{v:.6g}" for v in np.asarray(x).reshape(-1)[:4])
        return InputError(self.label, f"raised {type(exc).__name__} computing its {what} at x = ({shown}"
                                      f"{', …' if np.size(x) > 4 else ''}): {str(exc)[:160]}")

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """∇f(x) (non-finite entries where f cannot be differentiated there); the user's code failing is one line."""
        try:
            return self._gradient(x)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's code
            raise self._failed(exc, x, "gradient") from None

    def hessian(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """(∇²f(x) symmetrised, an estimate of its largest entry error: 0 for autograd)."""
        try:
            return self._hessian(x)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's code
            raise self._failed(exc, x, "Hessian") from None

    def _gradient(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if self.backend == "torch":
            import torch

            t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            value = self._call(t)
            (g,) = torch.autograd.grad(value, t, allow_unused=True)
            return np.zeros(self.n) if g is None else g.detach().numpy().astype(float)
        if self.complex_step:
            return self._complex_step_gradient(x)
        return self._difference_gradient(x)[0]

    def _hessian(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        x = np.asarray(x, dtype=float)
        if self.backend == "torch":
            import torch

            H = torch.autograd.functional.hessian(self.function, torch.tensor(x, dtype=torch.float64))
            self.evaluations += 1
            H = H.detach().numpy().astype(float).reshape(self.n, self.n)
            return 0.5 * (H + H.T), 0.0
        if self.complex_step:
            H, error = self._richardson_jacobian(x)
        else:  # the gradient is itself a difference: scipy's adaptive steps keep the error estimate honest
            from scipy.differentiate import jacobian

            with np.errstate(all="ignore"):
                result = jacobian(self._vectorised(self.gradient, self.n), x)
            H = np.asarray(result.df, dtype=float).reshape(self.n, self.n)
            error = float(np.max(np.abs(result.error))) if np.size(result.error) else 0.0
        asymmetry = float(np.max(np.abs(H - H.T))) / 2
        return 0.5 * (H + H.T), max(error, asymmetry)

    def _richardson_jacobian(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """The Jacobian of the complex-step gradient (accurate to rounding) by central differences at h and h/2 with
        one Richardson step, (4·D(h/2) − D(h))/3, h = eps^(1/3)·max(1, |xⱼ|); its largest error estimate
        |estimate − D(h/2)|. 4n gradients, no solver overhead: the paths sample it at every checkpoint."""
        H = np.empty((self.n, self.n))
        error = 0.0
        for j in range(self.n):
            h = EPS ** (1 / 3) * max(1.0, abs(float(x[j])))
            columns = []
            for step in (h, h / 2):
                up, down = x.copy(), x.copy()
                up[j] += step
                down[j] -= step
                columns.append((self.gradient(up) - self.gradient(down)) / (2 * step))
            H[:, j] = (4 * columns[1] - columns[0]) / 3
            error = max(error, float(np.max(np.abs(H[:, j] - columns[1]))))
        return H, error
