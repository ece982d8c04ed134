"""JUnit XML: valid XML, one testcase per checker, the explanation on the failure."""

import xml.etree.ElementTree as ET

from harness.report.junit import junit_xml, write_junit

EXPL = "Process 12's read (index 572-573) returned 2, but no order <of> the ops & allows it."


def test_invalid_run_has_one_failing_testcase_with_the_explanation(tmp_path):
    results = {"valid": False, "interrupted": False,
               "workload": {"valid": False, "explanation": EXPL, "time_s": 0.5,
                            "failed_op": {"process": 12, "f": "read", "index": 572}},
               "stats": {"valid": True}}
    path = write_junit(tmp_path / "out" / "junit.xml", "etcd-register", results,
                       run_path="store/x", seed=7, duration_s=12.5)
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1" and suite.get("errors") == "0"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["workload", "stats"]
    failures = [c.find("failure") for c in cases if c.find("failure") is not None]
    assert len(failures) == 1
    assert failures[0].get("message") == EXPL
    assert "failed op" in failures[0].text and "store/x" in failures[0].text
    assert cases[1].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["seed"] == "7"


def test_unknown_is_an_error_and_valid_is_a_pass():
    root = ET.fromstring(junit_xml("t", {"valid": "unknown",
                                         "w": {"valid": "unknown", "cause": "timeout"}}).split("\n", 1)[1])
    case = root.find("testsuite/testcase")
    assert case.find("error").get("message") == "timeout"
    root = ET.fromstring(junit_xml("t", {"valid": True, "w": {"valid": True}}).split("\n", 1)[1])
    assert root.find("testsuite").get("failures") == "0"
    assert list(root.find("testsuite/testcase")) == []


def test_a_run_that_cannot_start_still_leaves_a_junit_error(tmp_path, capsys):
    from harness.cli import main

    out = tmp_path / "junit.xml"
    assert main(["test", "--db", "no-such-db", "--junit", str(out)]) == 254
    case = ET.parse(out).getroot().find("testsuite/testcase")
    assert case.get("name") == "run"
    assert "unknown target 'no-such-db'" in case.find("error").get("message")
