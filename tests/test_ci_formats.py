"""--report-format markdown|github|junit on every command: the same findings and thresholds, in the syntax each
consumer parses (GitHub's workflow commands, the JUnit XML that dashboards read)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

ANNOTATION = re.compile(r"^::(error|warning|notice) file=[^,:]+,title=[^:]+::[^\r\n]*$")
COMMANDS = {
    "analyze": ["analyze", "valley_2x2.npz", "--lr", "2e-5", "--max-condition", "1e3", "--fail-on", "error"],
    "compare": ["compare", "valley_2x2.npz", "--solvers", "gd,cg", "--require-converged", "gd,cg", "--max-iter", "100"],
    "solve": ["solve", "valley_2x2.npz"],
    "trace": ["trace", "valley_gd_log.csv", "--fail-on", "crawling", "--max-steps-to-tol", "1e9"],
}


def args_for(samples, command):
    args = list(COMMANDS[command])
    args[1] = samples / args[1]
    return args


@pytest.mark.long
@pytest.mark.parametrize("command", COMMANDS)
def test_every_format_carries_the_findings_and_thresholds(run, samples, command):
    every_format(run, args_for(samples, command), command)


@pytest.mark.parametrize("case", ["function", "model"])
def test_every_format_for_functions_and_models(run, samples, case):
    if case == "model":
        pytest.importorskip("torch")
        args = ["model", f"{samples / 'mlp.py'}:mlp", "--data", samples / "regression.npz", "--lr", "1", "--max-sharpness-ratio", "1",
                "--fail-on", "error"]
    else:
        args = ["analyze", "--function", f"{samples / 'textbook.py'}:x_cos", "--x0", "10", "--lr", "2", "--newton", "1",
                "--steps", "10", "--fail-on", "error"]
    every_format(run, args, args[0])


def every_format(run, args, command):
    """The JSON's findings and the thresholds in Markdown, GitHub annotations and JUnit, with the same exit code."""
    report = run(*args, "--json").json()
    plain = run(*args)
    findings = report.get("findings") or [f for r in report.get("runs", []) for f in r["findings"]]
    errors = [f for f in findings if f["severity"] == "error"]
    markdown = run(*args, "--report-format", "markdown")
    assert markdown.code == plain.code  # the format never changes the exit code
    assert markdown.out.startswith(f"## condiag {command}")
    assert all(f["code"] in markdown.out for f in findings)
    github = run(*args, "--report-format", "github")
    lines = github.out.splitlines()
    assert all(ANNOTATION.match(line) for line in lines), lines
    failed_checks = [line for line in lines if "title=condiag threshold" in line]
    assert len(lines) == len(findings) + len(failed_checks)
    junit = ET.fromstring(run(*args, "--report-format", "junit").out.encode())
    suite = junit.find("testsuite")
    cases = suite.findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("tests")) == len(cases) and int(suite.get("failures")) == len(failures)
    assert len(failures) == len(errors) + len(failed_checks)
    assert (len(failed_checks) > 0) == (plain.code == 1)
    for case in cases:
        assert case.get("classname") == f"condiag.{command}" and case.get("name")


def test_github_escaping_and_file_of_a_key_spec(run, samples):
    lines = run("analyze", f"{samples / 'valley_2x2.npz'}:A", "--lr", "2e-5", "--report-format", "github").out.splitlines()
    assert lines and all(line.split(",", 1)[0].endswith("valley_2x2.npz") for line in lines)
    assert any("%3A" in line.split("::")[1] for line in lines)  # ':' in a title is escaped
    assert all("\n" not in line and "%0A" not in line.split("::", 2)[1] for line in lines)


def test_output_extension_and_conflicts(run, samples, tmp_path):
    valley = samples / "valley_2x2.npz"
    result = run("analyze", valley, "--output", tmp_path / "report.md")
    assert result.code == 0 and (tmp_path / "report.md").read_text().startswith("## condiag analyze")
    run("analyze", valley, "--output", tmp_path / "report.xml")
    ET.parse(tmp_path / "report.xml")
    assert run("analyze", valley, "--json", "--report-format", "markdown").code == 2
    assert run("analyze", valley, "--report-format", "pdf").code == 2
    run("analyze", valley, "--output", tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


# ---------------------------------------------------------------------------- HTML
VOID = {"meta", "br", "img", "input", "hr", "link", "col", "wbr", "source", "area", "base", "embed", "param", "track"}
SVG_EMPTY_OK = True  # SVG elements may self-close (<path ... />), which the parser reports as start-end tags


class StrictHTML(HTMLParser):
    """Balanced tags, no script, no resource fetched from anywhere (the report must open offline)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.text, self.problems = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href") and value and not value.startswith("#"):
                self.problems.append(f"<{tag} {name}={value}> fetches a resource")
        if tag in ("script", "link", "iframe", "img", "object"):
            self.problems.append(f"<{tag}> in a self-contained report")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse_html(text: str) -> StrictHTML:
    assert text.startswith("<!DOCTYPE html>")
    parser = StrictHTML()
    parser.feed(text)
    parser.close()
    assert not parser.problems, parser.problems[:5]
    assert parser.stack == [], parser.stack
    assert not re.search(r"url\((?!#)", text) and "@import" not in text  # no CSS fetch either (url(#id) is in the page)
    return parser


@pytest.mark.parametrize("command", COMMANDS)
def test_html_report_is_self_contained_with_the_findings_thresholds_and_plots(run, samples, command):
    args = args_for(samples, command)
    report = run(*args, "--json").json()
    result = run(*args, "--report-format", "html")
    assert result.code == run(*args).code
    page = parse_html(result.out)
    text = " ".join(page.text)
    findings = report.get("findings") or [f for r in report.get("runs", []) for f in r["findings"]]
    assert all(f["code"] in text for f in findings)
    assert "The full report" in text and "<meta name='viewport'" in result.out  # the text report; phone-sized
    figures = page.tags.count("figure")
    assert figures == (0 if command == "solve" else 1)
    if figures:
        assert page.tags.count("svg") >= 1 and "<metadata>" not in result.out
    if command == "analyze":  # the key numbers are the JSON's, rounded to 4 digits
        cond = report["spectrum"]["hessian_condition_number"]
        shown = re.search(r"cond\(H\)</th><td class='num'>([^<]+)<", result.out).group(1)
        assert float(shown.replace(",", "")) == pytest.approx(cond, rel=5e-4)


def test_html_report_opens_in_a_headless_browser(run, samples, tmp_path):
    """Where Chromium is installed: the page renders (a screenshot is written) and logs no console error."""
    import shutil
    import subprocess

    browser = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if browser is None:
        pytest.skip("no headless browser installed")
    page = tmp_path / "report.html"
    assert run(*args_for(samples, "compare"), "--output", page).code in (0, 1)
    shot = tmp_path / "shot.png"
    done = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                           "--window-size=390,844", f"--screenshot={shot}", page.as_uri()], capture_output=True, text=True,
                          timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000, done.stderr[-2000:]
    assert "Uncaught" not in done.stderr and "CONSOLE(" not in done.stderr, done.stderr[-2000:]


def test_every_report_object_shows_itself_in_a_notebook(samples, tmp_path):
    """_repr_html_: a fragment (no document, styles scoped to .condiag-report) with the findings and, where the
    command has a plot, one inline SVG."""
    import condiag

    valley = samples / "valley_2x2.npz"
    reports = {
        "analyze": (condiag.analyze(valley, lrs=[1e-5]), True),
        "compare": (condiag.compare(valley, solvers=["gd", "cg"], max_iter=100), True),
        "solve": (condiag.solve(valley), False),
        "trace": (condiag.trace.diagnose(str(samples / "valley_gd_log.csv")), True),
        "function": (condiag.analyze_function(f"{samples / 'textbook.py'}:x_cos", x0=[10.0], lrs=[2.0], steps=10), True),
    }
    for name, (report, has_plot) in reports.items():
        fragment = report._repr_html_()
        assert fragment.startswith("<div class='condiag-report'>") and "<html" not in fragment, name
        page = StrictHTML()
        page.feed(fragment)
        page.close()
        assert not page.problems and page.stack == [], (name, page.problems[:3])
        assert page.tags.count("svg") >= (1 if has_plot else 0) and ("svg" in page.tags) == has_plot, name
        findings = report.to_dict().get("findings") or [f for r in report.to_dict().get("runs", []) for f in r["findings"]]
        assert all(f["code"] in fragment for f in findings), name
        styles = re.findall(r"<style>(.*?)</style>", fragment, re.S)[0]
        assert all(rule.strip().startswith(".condiag-report") for rule in re.split(r"[{}]", styles)[::2] if rule.strip())
