"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network) for a browser, a phone
or paper.

It holds what the text report holds — the text report itself, with its colours, is the body — with the key
numbers, the findings and the thresholds set out first, and the plots a person would rather look at (the
spectrum against each lr's limit and the exact loss curves; the solvers' loss gaps and paths; the log with its
fit). It formats the JSON report, the rich console's recording and the figures the plot module drew; it
computes nothing.
"""

from __future__ import annotations

import html
import re

from ..numbers import count, sig
from .ci_formats import (
    analyze_key_numbers,
    format_number,
    report_findings,
    report_source,
)

CSS = """
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --error: #b42318; --warning: #9a6700;
        --info: #0969da; --pass: #1a7f37; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); margin: 0 auto;
       max-width: 72rem; padding: 1rem; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); font-size: .9rem; margin: 0 0 1rem; }
table { border-collapse: collapse; margin: .5rem 0; max-width: 100%; display: block; overflow-x: auto; }
th, td { text-align: left; padding: .25rem .75rem .25rem 0; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.n { white-space: nowrap; }
.finding { border-left: .3rem solid var(--line); padding: .25rem .75rem; margin: .5rem 0; }
.finding.error { border-color: var(--error); } .finding.warning { border-color: var(--warning); }
.finding.info { border-color: var(--info); }
.finding .code { font-weight: 600; }
.finding.error .code { color: var(--error); } .finding.warning .code { color: var(--warning); }
.finding.info .code { color: var(--info); }
.finding p { margin: .25rem 0; }
.pass { color: var(--pass); font-weight: 600; } .fail { color: var(--error); font-weight: 600; }
.error-status { color: var(--error); font-weight: 600; }
figure { margin: 1rem 0; } figure svg { width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .9rem; }
pre.report { font: 13px/1.35 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-x: auto;
             background: #f6f8fa; padding: .75rem; border-radius: .4rem; }
details summary { cursor: pointer; font-weight: 600; }
@media print { body { max-width: none; } pre.report { white-space: pre-wrap; background: none; }
               details { display: block; } figure { break-inside: avoid; } }
"""


SCIENTIFIC = re.compile(r"[-−]?\d[\d.,]*e[-+]?\d+")
"""A number in e-notation: kept on one line (a browser would break it after the exponent's minus sign)."""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _prose(text) -> str:
    """Escaped text with every e-notation number unbreakable."""
    return SCIENTIFIC.sub(lambda m: f"<span class='n'>{m.group(0)}</span>", _e(text))


def _key_numbers(report: dict) -> list[tuple[str, object]]:
    """The few numbers worth reading first, by command."""
    command = report.get("command")
    if command == "analyze":
        rows = analyze_key_numbers(report)
        rows += [(f"lr {sig(c['lr'], 4)}", ("stable" if c.get("stable") else "diverges") +
                  (f", {count(c['steps_to_tol'])} steps to tol" if c.get("steps_to_tol") is not None else ""))
                 for c in report.get("lr_checks") or [] if "stable" in c]
        rows += [(f"{r['method']} {sig(r['step_size'], 4)}", f"{r['ending']['kind']} after {count(r['ending']['step'])} steps")
                 for r in report.get("runs") or []]  # --function
        return rows
    if command == "model":
        h = report.get("hessian") or {}
        rows = [("sharpness λmax", h.get("lambda_max")), ("λmin", h.get("lambda_min")),
                ("trace", (report.get("trace") or {}).get("estimate")), ("advised lr", report.get("advised_lr"))]
        rows += [(f"lr {sig(c['lr'], 4)}: sharpness·lr/2", c["sharpness_ratio"]) for c in report.get("lr_checks", [])]
        return [(k, v) for k, v in rows if v is not None]
    if command == "compare":
        return [(s["name"] + (f" [{s['setting']}]" if s.get("setting") else ""),
                 f"{s['status']}, {count(s['iterations'])} iterations") for s in report.get("solvers", [])]
    if command == "solve":
        accuracy = report.get("accuracy") or {}
        return [("x*", ", ".join(sig(v, 6) if v is not None else "—" for v in (report.get("x") or [])[:8])),
                ("correct digits", accuracy.get("correct_digits"))]
    if command == "trace":
        return [(r["label"], r["verdict"]) for r in report.get("runs", [])]
    return []


def _section(report: dict, checks, text_html: str | None, figures, level: int = 2) -> str:
    h = f"h{level}"
    parts = []
    rows = _key_numbers(report)
    if rows:
        parts.append(f"<{h}>Key numbers</{h}><table>" + "".join(f"<tr><th scope='row'>{_e(k)}</th><td class='num'>{format_number(v)}</td></tr>"
                                                                 for k, v in rows) + "</table>")
    if checks:
        parts.append(f"<{h}>Thresholds</{h}><table>" + "".join(
            f"<tr><td class='{'pass' if c.passed else 'fail'}'>{'passed' if c.passed else 'failed'}</td><td><code>{_e(c.threshold)}"
            f"</code></td><td>{_prose(c.message)}</td></tr>" for c in checks) + "</table>")
    findings = report_findings(report)
    if findings:
        parts.append(f"<{h}>Findings</{h}>" + "".join(
            f"<div class='finding {_e(f['severity'])}'><p><span class='code'>{_e(f['severity'].upper())} {_e(f['code'])}</span> "
            f"{_prose(f['title'])}</p><p>{_prose(f['detail'])}</p></div>" for f in findings))
    for caption, picture in figures:
        parts.append(f"<figure>{picture}<figcaption>{_e(caption)}</figcaption></figure>")
    if text_html:
        parts.append(f"<details open><summary>The full report</summary><pre class='report'>{text_html}</pre></details>")
    return "\n".join(parts)


def _document(title: str, meta: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
            f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{_e(title)}</h1>\n"
            f"<p class='meta'>{meta}</p>\n{body}\n</body>\n</html>\n")


def html_report(report: dict, checks=(), text_html: str | None = None, figures=()) -> str:
    """One command's report as a self-contained HTML document."""
    title = f"condiag {report.get('command', '')} — {report_source(report)}"
    meta = f"condiag {_e(report.get('condiag_version', ''))}, report schema {_e(report.get('schema_version', ''))}"
    return _document(title, meta, _section(report, checks, text_html, figures))


STATUS_CLASS = {"pass": "pass", "fail": "fail", "error": "error-status"}


def check_html(report: dict, files) -> str:
    """``condiag check`` as one HTML document: the table of files, then each file's section.

    ``files``: per file of ``report['files']``, (checks, text_html, figures) as for :func:`html_report`.
    """
    from ..check import describe

    rows = "".join(f"<tr><td><code>{_e(f['path'])}</code></td><td>{_e(f['command'])}</td><td class='{STATUS_CLASS[f['status']]}'>"
                   f"{_e(f['status'])}</td><td>{_e('; '.join(f.get('reasons') or []))}</td></tr>" for f in report.get("files", []))
    body = [f"<p>{_e(describe(report['summary']))}</p>",
            f"<table><tr><th>file</th><th>command</th><th>status</th><th>why</th></tr>{rows}</table>"]
    for f, (checks, text_html, figures) in zip(report.get("files", []), files):
        if f.get("report") is not None:
            body.append(f"<h2>{_e(f['command'])} <code>{_e(f['path'])}</code></h2>")
            body.append(_section(f["report"], checks, text_html, figures, level=3))
    meta = f"condiag {_e(report.get('condiag_version', ''))}, configuration {_e(report.get('config') or '')}"
    return _document("condiag check", meta, "\n".join(body))


NOTEBOOK_CSS = """
.condiag-report { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 60rem; }
.condiag-report table { border-collapse: collapse; margin: .4rem 0; }
.condiag-report th, .condiag-report td { text-align: left; padding: .2rem .7rem .2rem 0; border-bottom: 1px solid #d0d7de; }
.condiag-report .finding { border-left: .3rem solid #d0d7de; padding: .2rem .7rem; margin: .4rem 0; }
.condiag-report .finding.error { border-color: #b42318; } .condiag-report .finding.warning { border-color: #9a6700; }
.condiag-report .finding.info { border-color: #0969da; } .condiag-report .code { font-weight: 600; }
.condiag-report .pass { color: #1a7f37; font-weight: 600; } .condiag-report .fail { color: #b42318; font-weight: 600; }
.condiag-report .n { white-space: nowrap; } .condiag-report figure svg { max-width: 100%; height: auto; }
.condiag-report pre.report { font: 12px/1.3 ui-monospace, Menlo, Consolas, monospace; overflow-x: auto; }
"""
"""The notebook fragment's styles, every rule under .condiag-report so the notebook's own page is left alone."""


def notebook_html(report: dict, render_text, figure_builder: str | None, result) -> str:
    """A report as an HTML fragment for Jupyter's ``_repr_html_``: the key numbers, findings and plots (inline
    SVG) of :func:`html_report`, the full text report folded away, styles scoped to the fragment."""
    from .plots import svg
    from .text import recorded_html

    figures = []
    if figure_builder is not None:
        from . import plots

        fig = getattr(plots, figure_builder)(result)
        if fig is not None:
            figures.append(("", svg(fig)))
    title = f"condiag {report.get('command', '')} — {report_source(report)}"
    body = _section(report, (), recorded_html(render_text), figures, level=4).replace("<details open>", "<details>")
    return f"<div class='condiag-report'><style>{NOTEBOOK_CSS}</style><h3>{_e(title)}</h3>\n{body}\n</div>"
