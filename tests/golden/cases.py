"""The golden reports: each sample problem through each command, as ``--json`` writes it.

``python tests/golden/cases.py`` rewrites the files after an intended change (say why in the commit);
``tests/test_golden.py`` checks today's reports against them (see there for what "the same" means).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

CASES = {
    "analyze-valley": ["analyze", "sample_problems/valley_2x2.npz", "--lr", "1e-5", "--lr", "2e-5", "--steps", "10000"],
    "analyze-well-conditioned": ["analyze", "sample_problems/well_conditioned.npz"],
    "analyze-rank-deficient": ["analyze", "sample_problems/rank_deficient.npz", "--loss", "mean"],
    "analyze-badly-scaled": ["analyze", "sample_problems/badly_scaled.npz", "--lr", "1e-3"],
    "analyze-quadratic": ["analyze", "sample_problems/quadratic_2d.npz", "--objective", "quadratic", "--lr", "0.1"],
    "analyze-longley": ["analyze", "sample_problems/longley.csv", "--target", "Employed", "--intercept"],
    "analyze-two-layer": ["analyze", "sample_problems/two_layer_story3.npz", "--model", "two-layer", "--lr", "1e-5"],
    "compare-valley": ["compare", "sample_problems/valley_2x2.npz", "--solvers", "gd,momentum,cg,lsqr,newton", "--max-iter", "5000"],
    "compare-two-layer": ["compare", "sample_problems/two_layer_story3.npz", "--model", "two-layer", "--solvers", "gd,lm,als",
                          "--max-iter", "300"],
    "solve-longley": ["solve", "sample_problems/longley.csv", "--target", "Employed", "--intercept"],
    "solve-rank-deficient": ["solve", "sample_problems/rank_deficient.npz"],
    "analyze-function": ["analyze", "--function", "sample_problems/textbook.py:x_cos", "--x0", "10", "--lr", "2", "--newton", "1",
                         "--newton", "0.5", "--steps", "10"],
    "compare-function": ["compare", "--function", "sample_problems/textbook.py:bowl", "--x0", "-5,-2", "--solvers", "gd,newton,lbfgs"],
    "model-mlp": ["model", "sample_problems/mlp.py:mlp", "--data", "sample_problems/regression.npz", "--lr", "0.1", "--lr", "1"],
    "trace-valley": ["trace", "sample_problems/valley_gd_log.csv", "--problem", "sample_problems/valley_2x2.npz", "--loss", "mean",
                     "--x0", "0,0"],
}
"""Name → condiag's arguments (paths relative to the repository; ``--json`` is added)."""


def report(args: list[str]) -> dict:
    """The command's JSON report, run in-process from the repository's root."""
    import os

    from click.testing import CliRunner

    from condiag.cli import cli

    here = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(cli, [*args, "--json"], env={"NO_COLOR": "1"}, catch_exceptions=False)
    finally:
        os.chdir(here)
    if result.exit_code not in (0, 1):
        raise RuntimeError(f"condiag {' '.join(args)} exited {result.exit_code}: {result.stderr}")
    return json.loads(result.stdout)


if __name__ == "__main__":
    names = sys.argv[1:] or list(CASES)
    for name in names:
        (HERE / f"{name}.json").write_text(json.dumps(report(CASES[name]), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print("wrote", name)
