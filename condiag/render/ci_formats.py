"""Formats CI systems read: Markdown (a job summary or PR comment), GitHub workflow annotations, JUnit XML.

Each renders a command's JSON report (the versioned dict, so one renderer serves every command and computes
nothing) and the threshold checks of its exit-code policy (:class:`condiag.policy.Check`).

* ``markdown``: the key numbers, the command's table, the findings and the thresholds (✅/❌).
* ``github``: one workflow command a line, ``::error file=F,title=CD101 ...::detail`` for every finding (error,
  warning; info findings are ``notice``) and every failed threshold, with GitHub's escaping (``%``, CR and LF in the
  message; also ``:`` and ``,`` in properties), so they appear on the pull request.
* ``junit``: one ``testsuite`` per input, one ``testcase`` per threshold and per error-level finding, a ``failure``
  carrying the numbers; the attribute set of the JUnit XML schema CI dashboards read.
"""

from __future__ import annotations

import re

from ..numbers import count, sig

FORMATS = ("text", "json", "markdown", "github", "junit")
EXTENSIONS = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".xml": "junit"}
LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def _source(report: dict) -> str:
    problem = report.get("problem") or {}
    if problem.get("source"):
        return str(problem["source"])
    runs = report.get("runs") or []
    return ", ".join(str(r.get("label", "")) for r in runs) or "condiag"


def _findings(report: dict) -> list[dict]:
    if "findings" in report:
        return list(report["findings"])
    return [f | {"_run": run.get("label")} for run in report.get("runs") or [] for f in run.get("findings", [])]


def _number(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return count(value) if isinstance(value, int) else sig(value, digits)


SPEC = re.compile(r"^(.*\.(?:npz|npy|h5|hdf5|hdf|mat|csv|tsv|txt|mtx|mm|json|jsonl|ndjson))(?::[^/]*)?$", re.IGNORECASE)


def _file(source: str) -> str:
    """The file of a ``PATH:KEY`` spec (an annotation names a file of the repository)."""
    match = SPEC.match(source)
    return match.group(1) if match else source


# ---------------------------------------------------------------------------- markdown
def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header, rows) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def markdown(report: dict, checks=()) -> str:
    """A compact Markdown report: key numbers, the command's table, findings, thresholds."""
    command = report.get("command", "")
    lines = [f"## condiag {command} — `{_source(report)}`", ""]
    if command == "analyze":
        spectrum = report.get("spectrum") or {}
        rate = report.get("learning_rate") or {}
        rows = [("cond(A)", _number(spectrum.get("condition_number"))), ("cond(H)", _number(spectrum.get("hessian_condition_number"))),
                ("L = λmax(H)", _number(rate.get("L"))), ("largest stable lr (2/L)", _number(rate.get("max_stable"))),
                ("best fixed lr", _number(rate.get("optimal")))]
        lines += _table(("quantity", "value"), [r for r in rows if r[1] != "—"]) + [""]
        checks_rows = [(_number(c.get("lr")), "yes" if c.get("stable") else "no", _number(c.get("steps_to_tol")))
                       for c in report.get("lr_checks") or []]
        if checks_rows:
            lines += _table(("lr", "stable", "steps to tol"), checks_rows) + [""]
    elif command == "compare":
        rows = [(s["name"] + (f" [{s['setting']}]" if s.get("setting") else ""), s["status"], count(s["iterations"]),
                 _number(s.get("loss_gap"), 3), _number(s.get("x_rel_error"), 2)) for s in report.get("solvers", [])]
        lines += _table(("solver", "status", "iterations", "loss gap", "x error"), rows) + [""]
    elif command == "solve":
        accuracy = report.get("accuracy") or {}
        x = report.get("x") or []
        shown = ", ".join(f"{name} = {_number(v, 6)}" for name, v in list(zip(report.get("columns") or [], x))[:8])
        lines += _table(("quantity", "value"), [("x*", shown + (" …" if len(x) > 8 else "")),
                                                ("correct digits", _number(accuracy.get("correct_digits"), 3))]) + [""]
    elif command == "trace":
        rows = [(r["label"], r["verdict"], _number(r.get("lr")), _number(r.get("last_loss")),
                 _number((r.get("tail_rate") or {}).get("factor"), 7)) for r in report.get("runs", [])]
        lines += _table(("run", "verdict", "lr", "last loss", "factor/step"), rows) + [""]
    findings = _findings(report)
    if findings:
        lines.append("### Findings")
        lines += [f"- **{f['severity'].upper()} {f['code']}** {f['title']}" + (f" ({f['_run']})" if f.get("_run") else "")
                  for f in findings]
        lines.append("")
    if checks:
        lines.append("### Thresholds")
        lines += [f"- {'✅' if c.passed else '❌'} `{c.threshold}`: {c.message}" for c in checks]
        lines.append("")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- GitHub annotations
def _escape_data(text: str) -> str:
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(report: dict, checks=()) -> str:
    """Workflow commands, one a line: every finding, and every failed threshold."""
    source = _escape_property(_file(_source(report)))
    lines = []
    for f in _findings(report):
        title = _escape_property(f"{f['code']} {f['title']}")
        lines.append(f"::{LEVELS[f['severity']]} file={source},title={title}::{_escape_data(f['detail'])}")
    for c in checks:
        if not c.passed:
            lines.append(f"::error file={source},title={_escape_property('condiag threshold ' + c.threshold)}::{_escape_data(c.message)}")
    return "\n".join(lines) + ("\n" if lines else "")


# ---------------------------------------------------------------------------- JUnit XML
def junit(report: dict, checks=()) -> str:
    """One test suite for the input: a test case per threshold and per error-level finding."""
    import xml.etree.ElementTree as ET

    command = report.get("command", "")
    cases = []
    for c in checks:
        cases.append((c.threshold, None if c.passed else c.message, c.message))
    for f in _findings(report):
        if f["severity"] == "error":
            name = f"{f['code']} {f['title']}" + (f" ({f['_run']})" if f.get("_run") else "")
            cases.append((name, f["detail"], f["detail"]))
    if not cases:
        cases.append(("report", None, "no threshold set and no error-level finding"))
    seconds = (report.get("timing") or {}).get("seconds") or 0.0
    suites = ET.Element("testsuites", name=f"condiag {command}")
    failures = sum(1 for _, failure, _ in cases if failure is not None)
    suite = ET.SubElement(suites, "testsuite", name=_source(report), tests=str(len(cases)), failures=str(failures), errors="0",
                          skipped="0", time=f"{seconds:.3f}")
    for name, failure, message in cases:
        case = ET.SubElement(suite, "testcase", classname=f"condiag.{command}", name=name, time="0")
        if failure is not None:
            element = ET.SubElement(case, "failure", message=message[:300], type="threshold" if name.startswith("--") else "finding")
            element.text = failure
        else:
            ET.SubElement(case, "system-out").text = message
    suites.set("tests", str(len(cases)))
    suites.set("failures", str(failures))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


RENDERERS = {"markdown": markdown, "github": github, "junit": junit}
