"""The functions of the textbook chapter on gradient descent (Zhang, Lipton, Li & Smola, *Dive into Deep Learning*,
§12.3), for ``condiag analyze --function sample_problems/textbook.py:NAME``. Each takes a 1-D array x.

    condiag analyze --function sample_problems/textbook.py:square --x0 10 --lr 0.2 --lr 0.05 --lr 1.1 --steps 10
    condiag analyze --function sample_problems/textbook.py:x_cos --x0 10 --lr 2 --steps 10
    condiag analyze --function sample_problems/textbook.py:bowl --x0 -5,-2 --lr 0.1 --steps 20 --plot bowl.png
    condiag analyze --function sample_problems/textbook.py:cosh --x0 10 --newton 1 --steps 10
    condiag analyze --function sample_problems/textbook.py:x_cos --x0 10 --newton 1 --newton 0.5 --steps 10
"""

import numpy as np

C = 0.15 * np.pi


def square(x):
    """f(x) = x²."""
    return x[0] ** 2


def x_cos(x):
    """f(x) = x·cos(cx), c = 0.15π: infinitely many local minima (and maxima)."""
    return x[0] * np.cos(C * x[0])


def cosh(x):
    """f(x) = cosh(x/2): convex, its minimum at 0."""
    return np.cosh(0.5 * x[0])


def bowl(x):
    """f(x1, x2) = x1² + 2·x2²: the steeper axis makes gradient descent zig-zag."""
    return x[0] ** 2 + 2 * x[1] ** 2
