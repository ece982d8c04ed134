"""JUnit XML for CI: one ``<testcase>`` per checker, so a CI system shows which property broke.

A checker that found a violation is a ``<failure>`` whose message is the checker's explanation
(the full text, with the failing op, is the element's body); an ``unknown`` verdict is an
``<error>`` (the check could not decide, which a pipeline should not count as a pass). The
``<testsuite>`` carries the run's name, seed and directory as properties.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from harness import exit_codes

MAX_MESSAGE = 1000


def junit_xml(test_name: str, results: dict, *, run_path=None, seed=None,
              duration_s: float | None = None) -> str:
    """The JUnit XML document (a string) for composed checker results."""
    cases = [(n, r) for n, r in results.items() if isinstance(r, dict) and "valid" in r]
    if not cases:  # results with no named checker: report the merged verdict as one case
        cases = [("verdict", results)]
    failures = sum(1 for _, r in cases if r.get("valid") is False)
    errors = sum(1 for _, r in cases if r.get("valid") not in (True, False))
    suites = ET.Element("testsuites")
    suite = ET.SubElement(suites, "testsuite", {
        "name": test_name, "tests": str(len(cases)), "failures": str(failures),
        "errors": str(errors), "skipped": "0",
        "time": f"{duration_s if duration_s is not None else 0:.3f}"})
    props = ET.SubElement(suite, "properties")
    for k, v in (("seed", seed), ("run", run_path), ("interrupted", results.get("interrupted"))):
        if v is not None:
            ET.SubElement(props, "property", {"name": k, "value": str(v)})
    for name, r in cases:
        tc = ET.SubElement(suite, "testcase", {
            "classname": f"splitbrain.{test_name}", "name": name,
            "time": f"{float(r.get('time_s') or 0):.3f}"})
        verdict = r.get("valid")
        if verdict is True:
            continue
        reason = str(r.get("explanation") or r.get("error") or r.get("cause")
                     or f"{name}: {exit_codes.verdict_word(verdict)}")
        body = reason
        if r.get("failed_op") is not None:
            body += "\nfailed op: " + json.dumps(r["failed_op"], default=str)
        if run_path is not None:
            body += f"\nrun: {run_path}"
        kind = "failure" if verdict is False else "error"
        el = ET.SubElement(tc, kind, {
            "message": reason if len(reason) <= MAX_MESSAGE else reason[:MAX_MESSAGE - 3] + "...",
            "type": "invalid" if verdict is False else "unknown"})
        el.text = body
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(path, test_name: str, results: dict, **kw) -> Path:
    """Write :func:`junit_xml` to ``path`` (parent directories created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(test_name, results, **kw), encoding="utf-8")
    return path
