"""Accuracy on the NIST StRD linear least-squares datasets: condiag vs numpy and scipy lstsq.

    python benchmarks/accuracy.py [--markdown docs/accuracy.md]

All three run on the same raw design matrices (1, x, x^2, ... formed in float64), in the same run.
LRE = -log10(|x - c| / |c|) (McCullough), minimum over coefficients, capped at 15.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
import scipy
import scipy.linalg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import nist_strd  # noqa: E402

from condiag import __version__  # noqa: E402
from condiag.problem import Problem  # noqa: E402
from condiag.reference import solve  # noqa: E402


def stats(data, x):
    n, p = data.X.shape
    r = data.y - data.X @ x
    rss = float(r @ r)
    sd = np.sqrt(rss / (n - p))
    centred = data.y - data.y.mean() if data.intercept else data.y
    r2 = 1 - rss / float(centred @ centred)
    return nist_strd.lre(x, data.certified).min(), nist_strd.lre(sd, data.residual_sd)[0], nist_strd.lre(r2, data.r_squared)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--markdown", help="write the table to this Markdown file")
    args = parser.parse_args()
    rows = []
    for name in nist_strd.NAMES:
        data = nist_strd.load(name)
        reference = solve(Problem.create(data.X, data.y))
        c = stats(data, reference.x)
        npl = stats(data, np.linalg.lstsq(data.X, data.y, rcond=None)[0])
        spl = stats(data, scipy.linalg.lstsq(data.X, data.y)[0])
        rows.append((name, np.linalg.cond(data.X), c, npl, spl, reference.accuracy["correct_digits"], reference.accuracy["refinement_steps"]))
    header = ("| dataset | cond(X) | condiag coef | condiag resid SD | condiag R² | stated digits | refinement steps "
              "| numpy.linalg.lstsq coef | numpy resid SD | scipy.linalg.lstsq coef | scipy resid SD |")
    lines = [header, "|" + "---|" * 11]
    for name, cond, c, npl, spl, digits, steps in rows:
        lines.append(f"| {name} | {cond:.2e} | {c[0]:.1f} | {c[1]:.1f} | {c[2]:.1f} | {digits:.1f} | {steps} | {npl[0]:.1f} | {npl[1]:.1f} | {spl[0]:.1f} | {spl[1]:.1f} |")
    worst = min(r[2][0] for r in rows)
    summary = f"condiag's minimum coefficient LRE over all 11 datasets: {worst:.1f} (target >= 7)."
    machine = (f"Measured with condiag {__version__}, Python {platform.python_version()}, numpy {np.__version__}, "
               f"scipy {scipy.__version__}, on {platform.machine()} ({platform.system()}), longdouble eps {np.finfo(np.longdouble).eps:.2e}.")
    table = "\n".join(lines)
    print(table)
    print(summary)
    print(machine)
    if args.markdown:
        text = Path(args.markdown).read_text() if Path(args.markdown).exists() else ""
        start = text.find("<!-- table -->")
        end = text.find("<!-- /table -->")
        block = f"<!-- table -->\n{table}\n\n{summary}\n\n{machine}\n<!-- /table -->"
        text = text[:start] + block + text[end + len("<!-- /table -->"):] if start >= 0 and end >= 0 else text + "\n" + block + "\n"
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
