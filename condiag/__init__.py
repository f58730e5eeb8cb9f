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

_LAZY = {
    "load": (".api", "load"),
    "load_problem": (".io", "load_problem"),
    "Problem": (".problem", "Problem"),
    "TwoLayerProblem": (".two_layer", "TwoLayerProblem"),
    "Model": (".models", "Model"),
    "Capability": (".models", "Capability"),
    "analyze": (".api", "analyze"),
    "compare": (".api", "compare"),
    "solve": (".api", "solve"),
    "as_problem": (".api", "as_problem"),
    "trace": (".trace", None),  # the subpackage: condiag.trace.diagnose(...), condiag.trace.Logger(...)
    "analyze_function": (".smooth.report", "analyze_function"),
    "compare_function": (".smooth.compare", "compare_function"),
    "analyze_model": (".net.report", "analyze_model"),
}
"""Public name → (module, attribute): imported on first use (PEP 562)."""

__all__ = ["__version__", *_LAZY]  # noqa: PLE0604 - the names of the table above


def __getattr__(name):  # PEP 562 lazy exports
    if name not in _LAZY:
        raise AttributeError(f"module 'condiag' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name, __name__)
    return module if attribute is None else getattr(module, attribute)


def __dir__():
    return sorted(set(globals()) | set(__all__))
