"""condiag: explains why gradient descent stalls or diverges on least-squares and quadratic problems.

The small public API::

    from condiag import load_problem, analyze, compare
    problem = load_problem("sample_problems/valley_2x2.npz")
    report = analyze(problem, lrs=[1e-5])

Heavy modules load on first use, so ``import condiag`` stays cheap.
"""

from ._version import __version__

__all__ = ["__version__", "load_problem", "analyze", "compare", "solve", "Problem"]


def __getattr__(name):  # PEP 562 lazy exports
    if name == "load_problem":
        from .io import load_problem

        return load_problem
    if name == "Problem":
        from .problem import Problem

        return Problem
    if name == "analyze":
        from .analysis import analyze

        return analyze
    if name == "compare":
        from .comparison import compare

        return compare
    if name == "solve":
        from .reference import solve

        return solve
    raise AttributeError(f"module 'condiag' has no attribute {name!r}")
