"""``condiag trace``: diagnose a training run from its loss log alone, or against the problem it trained on.

    import condiag.trace
    report = condiag.trace.diagnose("run.jsonl", lr=1e-3)      # or a list of files, or loss values
    report.runs[0].verdict, report.runs[0].findings
    report.to_dict()                                          # == condiag trace run.jsonl --lr 1e-3 --json

    with condiag.trace.Logger("run.jsonl") as log:             # in a training loop
        log.log(step, loss, lr=lr)
    condiag.trace.sharpness(model, loss_fn)                   # λmax of a PyTorch model's Hessian (Lanczos)
"""

from .logger import Logger

__all__ = ["Logger", "diagnose", "read_logs", "log_from_values", "TraceReport", "sharpness"]


def __getattr__(name):  # the numerical parts load on first use
    if name in ("diagnose", "TraceReport"):
        from . import report

        return getattr(report, name)
    if name == "sharpness":
        from .sharpness import sharpness

        return sharpness
    if name in ("read_logs", "log_from_values", "LossLog"):
        from . import logs

        return getattr(logs, name)
    raise AttributeError(f"module 'condiag.trace' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
