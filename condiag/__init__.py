"""condiag: explains why gradient descent stalls or diverges on least-squares and quadratic problems.

The small public API::

    import condiag
    report = condiag.analyze(A, b, lrs=[1e-5])            # numpy / scipy.sparse / DataFrame (target=) / file spec
    report.findings[0].title, report.bounds.divergence_threshold
    report.to_dict()                                      # the same as `condiag analyze --json`
    condiag.compare("sample_problems/valley_2x2.npz", solvers=["gd", "cg"], max_iter=10_000)
    condiag.trace.diagnose("run.jsonl", lr=1e-3)          # a training run from its loss log
    condiag.analyze_function("f.py:f", x0=[10.0], lrs=[2.0], newton=[1.0], steps=10)   # any smooth function
    condiag.compare_function("f.py:f", x0=[10.0])         # the solvers against the best local minimum found
    condiag.analyze_model("net.py:make", "data.npz", weights="w.safetensors", lrs=[0.1])  # a PyTorch model

Heavy modules load on first use, so ``import condiag`` stays cheap.
"""

from ._version import __version__

__all__ = ["__version__", "load_problem", "analyze", "compare", "solve", "Problem", "as_problem", "trace", "analyze_function",
           "compare_function", "analyze_model"]


def __getattr__(name):  # PEP 562 lazy exports
    if name == "load_problem":
        from .io import load_problem

        return load_problem
    if name == "Problem":
        from .problem import Problem

        return Problem
    if name == "trace":  # the subpackage: condiag.trace.diagnose(...), condiag.trace.Logger(...)
        import importlib

        return importlib.import_module(".trace", __name__)
    if name == "analyze_function":
        from .smooth.report import analyze_function

        return analyze_function
    if name == "compare_function":
        from .smooth.compare import compare_function

        return compare_function
    if name == "analyze_model":
        from .net.report import analyze_model

        return analyze_model
    if name in ("analyze", "compare", "solve", "as_problem"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'condiag' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
