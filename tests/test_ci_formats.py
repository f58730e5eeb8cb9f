"""--report-format markdown|github|junit on every command: the same findings and thresholds, in the syntax each
consumer parses (GitHub's workflow commands, the JUnit XML that dashboards read)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

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


@pytest.mark.parametrize("command", COMMANDS)
def test_every_format_carries_the_findings_and_thresholds(run, samples, command):
    args = args_for(samples, command)
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
    assert run("analyze", valley, "--report-format", "html").code == 2
