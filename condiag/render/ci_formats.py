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
from collections.abc import Callable

from ..numbers import count, sig

EXTENSIONS = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".xml": "junit", ".html": "html", ".htm": "html"}
"""The report format an --output file's extension implies (when --report-format is not given)."""
LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def report_source(report: dict) -> str:
    """What a report is about: its problem's (or model's) source, or its runs' labels."""
    about = report.get("problem") or report.get("model") or {}
    if about.get("source"):
        return str(about["source"])
    runs = report.get("runs") or []
    return ", ".join(str(r.get("label", "")) for r in runs if r.get("label")) or "condiag"


def report_findings(report: dict) -> list[dict]:
    """A report's findings; a trace report's are its runs', each marked with its run ('_run')."""
    if "findings" in report:
        return list(report["findings"])
    return [f | {"_run": run.get("label")} for run in report.get("runs") or [] for f in run.get("findings", [])]


def format_number(value, digits: int = 4) -> str:
    """A JSON number as the reports print it: '—' for null, counts with separators, else ``digits`` significant."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return count(value) if isinstance(value, int) else sig(value, digits)


def analyze_key_numbers(report: dict) -> list[tuple[str, object]]:
    """The numbers of an analyze report worth reading first (raw JSON values; absent ones left out)."""
    spectrum = report.get("spectrum") or {}
    rate = report.get("learning_rate") or {}
    rows = [("cond(A)", spectrum.get("condition_number")), ("cond(H)", spectrum.get("hessian_condition_number")),
            ("L = λmax(H)", rate.get("L")), ("largest stable lr (2/L)", rate.get("max_stable")), ("best fixed lr", rate.get("optimal"))]
    return [(k, v) for k, v in rows if v is not None]


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


def _checked_files(report: dict):
    """``condiag check``'s files as (path, command, report or None, checks, error)."""
    from ..policy import Check

    for f in report.get("files", []):
        yield f["path"], f["command"], f.get("report"), tuple(Check(**c) for c in f.get("checks", [])), f.get("error")


def markdown(report: dict, checks=(), level: int = 2) -> str:
    """A compact Markdown report: key numbers, the command's table, findings, thresholds."""
    command = report.get("command", "")
    if command == "check":
        return _check_markdown(report)
    lines = [f"{'#' * level} condiag {command} — `{report_source(report)}`", ""]
    if command == "analyze":
        rows: list[tuple[str, ...]] = [(k, format_number(v)) for k, v in analyze_key_numbers(report)]
        if rows:
            lines += _table(("quantity", "value"), rows) + [""]
        checks_rows = [(format_number(c.get("lr")), "yes" if c.get("stable") else "no", format_number(c.get("steps_to_tol")))
                       for c in report.get("lr_checks") or []]
        if checks_rows:
            lines += _table(("lr", "stable", "steps to tol"), checks_rows) + [""]
    elif command == "compare":
        rows = [(s["name"] + (f" [{s['setting']}]" if s.get("setting") else ""), s["status"], count(s["iterations"]),
                 format_number(s.get("loss_gap"), 3), format_number(s.get("x_rel_error"), 2)) for s in report.get("solvers", [])]
        lines += _table(("solver", "status", "iterations", "loss gap", "x error"), rows) + [""]
    elif command == "solve":
        accuracy = report.get("accuracy") or {}
        x = report.get("x") or []
        shown = ", ".join(f"{name} = {format_number(v, 6)}" for name, v in list(zip(report.get("columns") or [], x))[:8])
        lines += _table(("quantity", "value"), [("x*", shown + (" …" if len(x) > 8 else "")),
                                                ("correct digits", format_number(accuracy.get("correct_digits"), 3))]) + [""]
    elif command == "trace":
        rows = [(r["label"], r["verdict"], format_number(r.get("lr")), format_number(r.get("last_loss")),
                 format_number((r.get("tail_rate") or {}).get("factor"), 7)) for r in report.get("runs", [])]
        lines += _table(("run", "verdict", "lr", "last loss", "factor/step"), rows) + [""]
    findings = report_findings(report)
    sub = "#" * (level + 1)
    if findings:
        lines.append(f"{sub} Findings")
        lines += [f"- **{f['severity'].upper()} {f['code']}** {f['title']}" + (f" ({f['_run']})" if f.get("_run") else "")
                  for f in findings]
        lines.append("")
    if checks:
        lines.append(f"{sub} Thresholds")
        lines += [f"- {'✅' if c.passed else '❌'} `{c.threshold}`: {c.message}" for c in checks]
        lines.append("")
    return "\n".join(lines) + "\n"


STATUS_MARKS = {"pass": "✅ pass", "fail": "❌ fail", "error": "⚠️ error"}


def _check_markdown(report: dict) -> str:
    from ..check import describe

    summary = report["summary"]
    lines = [f"## condiag check — `{report.get('config')}`", "", describe(summary), ""]
    rows = [(f"`{f['path']}`", f["command"], STATUS_MARKS[f["status"]], "; ".join(f.get("reasons") or []) or "—")
            for f in report.get("files", [])]
    lines += _table(("file", "command", "status", "why"), rows) + [""]
    text = "\n".join(lines) + "\n"
    for _path, _command, inner, checks, _error in _checked_files(report):
        if inner is not None:
            text += "\n" + markdown(inner, checks, level=3)
    return text


# ---------------------------------------------------------------------------- GitHub annotations
def _escape_data(text: str) -> str:
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(report: dict, checks=(), file: str | None = None) -> str:
    """Workflow commands, one a line: every finding, and every failed threshold (``file``: the file to name,
    by default the report's input)."""
    if report.get("command") == "check":
        text = ""
        for path, _command, inner, file_checks, error in _checked_files(report):
            if inner is not None:
                text += github(inner, file_checks, file=path)
            else:
                text += f"::error file={_escape_property(path)},title=condiag check::{_escape_data(error)}\n"
        return text
    source = _escape_property(file or _file(report_source(report)))
    lines = []
    for f in report_findings(report):
        title = _escape_property(f"{f['code']} {f['title']}")
        lines.append(f"::{LEVELS[f['severity']]} file={source},title={title}::{_escape_data(f['detail'])}")
    for c in checks:
        if not c.passed:
            lines.append(f"::error file={source},title={_escape_property('condiag threshold ' + c.threshold)}::{_escape_data(c.message)}")
    return "\n".join(lines) + ("\n" if lines else "")


# ---------------------------------------------------------------------------- JUnit XML
def junit(report: dict, checks=()) -> str:
    """One test suite for the input (for ``condiag check``, one per file): a test case per threshold and per
    error-level finding."""
    import xml.etree.ElementTree as ET

    suites = ET.Element("testsuites", name=f"condiag {report.get('command', '')}")
    if report.get("command") == "check":
        for path, command, inner, file_checks, error in _checked_files(report):
            if inner is not None:
                _junit_suite(suites, inner, file_checks, suite_name=f"{path} ({command})")
            else:
                suite = ET.SubElement(suites, "testsuite", name=f"{path} ({command})", tests="1", failures="0", errors="1", skipped="0", time="0")
                case = ET.SubElement(suite, "testcase", classname=f"condiag.{command}", name="check", time="0")
                ET.SubElement(case, "error", message=error[:300], type="input").text = error
    else:
        _junit_suite(suites, report, checks)
    for total in ("tests", "failures", "errors"):
        suites.set(total, str(sum(int(s.get(total, "0")) for s in suites)))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _junit_suite(suites, report: dict, checks=(), suite_name: str | None = None) -> None:
    """Append the test suite of one report: a test case per threshold and per error-level finding."""
    import xml.etree.ElementTree as ET

    command = report.get("command", "")
    cases = []
    for c in checks:
        cases.append((c.threshold, None if c.passed else c.message, c.message))
    for f in report_findings(report):
        if f["severity"] == "error":
            name = f"{f['code']} {f['title']}" + (f" ({f['_run']})" if f.get("_run") else "")
            cases.append((name, f["detail"], f["detail"]))
    if not cases:
        cases.append(("report", None, "no threshold set and no error-level finding"))
    seconds = (report.get("timing") or {}).get("seconds") or 0.0
    failures = sum(1 for _, failure, _ in cases if failure is not None)
    suite = ET.SubElement(suites, "testsuite", name=suite_name or report_source(report), tests=str(len(cases)), failures=str(failures),
                          errors="0", skipped="0", time=f"{seconds:.3f}")
    for name, failure, message in cases:
        case = ET.SubElement(suite, "testcase", classname=f"condiag.{command}", name=name, time="0")
        if failure is not None:
            element = ET.SubElement(case, "failure", message=message[:300], type="threshold" if name.startswith("--") else "finding")
            element.text = failure
        else:
            ET.SubElement(case, "system-out").text = message


RENDERERS: dict[str, Callable[..., str]] = {"markdown": markdown, "github": github, "junit": junit}
