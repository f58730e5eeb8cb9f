"""condiag's `--function` and `model` paths against what a user would write instead, in one run, as ratios.

    python benchmarks/smooth_and_model.py [--repeat 3]

* ``analyze --function`` (gradient descent, 2,000 steps of x·cos(0.15πx) from 10 at lr 2, and where it ends)
  against a numpy loop with the analytic derivative (the iterate only: no derivative accuracy, no curvature, no
  ending, no basin);
* ``condiag model`` (λmax of a 3 → 64 → 1 MLP's loss on 200 samples to 1e-10, top 5, λmin, per-module λmax,
  float64, no trace) against power iteration on torch Hessian-vector products to a relative change of 1e-10
  (what PyHessian does; λmax only, no error bound).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from run import best_of  # noqa: E402 - the one timing rule of the benchmarks


def function_rows(repeat: int) -> list:
    from condiag.smooth.report import analyze_function

    c = 0.15 * np.pi

    def loop():
        x = 10.0
        for _ in range(2000):
            x -= 2.0 * (np.cos(c * x) - c * x * np.sin(c * x))
        return x

    spec = f"{ROOT / 'sample_problems' / 'textbook.py'}:x_cos"
    ours = best_of(repeat, lambda: analyze_function(spec, [10.0], lrs=[2.0], steps=2000))
    theirs = best_of(repeat, loop)
    return [("analyze --function: GD 2,000 steps on x·cos (in-process)", ours, theirs, "numpy loop, analytic derivative")]


MODEL = """
import torch
def mlp():
    return torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
"""


def model_rows(repeat: int) -> list:
    import torch

    from condiag.net.report import analyze_model

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "m.py").write_text(MODEL)
        data = np.load(ROOT / "sample_problems" / "regression.npz")
        np.savez(folder / "d.npz", inputs=data["inputs"], targets=data["targets"])
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(3, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1)).double()
        torch.save(net.state_dict(), folder / "w.pt")

        def ours():
            return analyze_model(f"{folder / 'm.py'}:mlp", str(folder / "d.npz"), weights=str(folder / "w.pt"), trace_probes=0)

        def power_iteration():
            X = torch.as_tensor(data["inputs"], dtype=torch.float64)
            y = torch.as_tensor(data["targets"], dtype=torch.float64)
            params = list(net.parameters())
            loss = torch.nn.functional.mse_loss(net(X).reshape(-1), y)
            grads = torch.autograd.grad(loss, params, create_graph=True)
            v = [torch.randn_like(p) for p in params]
            value = 0.0
            for _ in range(10_000):
                norm = torch.sqrt(sum((u * u).sum() for u in v))
                v = [u / norm for u in v]
                hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
                new = float(sum((a * b).sum() for a, b in zip(hv, v)))
                if abs(new - value) <= 1e-10 * abs(new):
                    return new
                value, v = new, [h.detach() for h in hv]
            return value

        report = ours()
        reference = power_iteration()
        rows.append((f"model: λmax of a {report.n_parameters}-parameter MLP, top 5, λmin, blocks (in-process)",
                     best_of(repeat, ours), best_of(repeat, power_iteration),
                     f"power iteration on torch HVPs, λmax only (agree to {abs(report.sharpness - reference) / reference:.1e})"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = function_rows(args.repeat) + model_rows(args.repeat)
    print("| what | condiag | baseline | baseline is | ratio |")
    print("|---|---:|---:|---|---:|")
    for what, ours, theirs, desc in rows:
        print(f"| {what} | {ours:.3f} s | {theirs:.3f} s | {desc} | {ours / theirs:.1f}× |")


if __name__ == "__main__":
    main()
