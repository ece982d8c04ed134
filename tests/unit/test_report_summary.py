"""The summary table printed at the end of ``splitbrain test``."""

from harness.report.summary import checker_verdicts, format_summary, op_counts
from harness.report.synthetic import synthetic_history


def test_op_counts_by_f_and_outcome():
    h = synthetic_history(400, seed=5)
    counts = op_counts(h)
    assert set(counts) == {"read", "write", "cas"}
    assert sum(sum(r.values()) for r in counts.values()) == 400
    assert counts["read"]["fail"] == 0 and counts["cas"]["fail"] > 0


def test_summary_lists_ops_faults_verdicts_and_the_path():
    h = synthetic_history(400, seed=5)
    results = {"valid": False, "workload": {"valid": False, "explanation": "Process 3's read ..."},
               "perf": {"valid": True}}
    text = format_summary(h, results, "store/x/1")
    lines = text.splitlines()
    assert lines[0].split() == ["ops", "ok", "fail", "info", "total"]
    assert any(line.split()[0] == "all" and line.split()[-1] == "400" for line in lines)
    assert any(line.startswith("faults: partition x") for line in lines)
    assert "  workload  invalid  Process 3's read ..." in lines
    assert "  perf      valid" in lines
    assert lines[-1] == "results: store/x/1"


def test_no_faults_and_unknown_checkers():
    h = [{"index": 0, "time": 0, "type": "invoke", "process": 0, "f": "read", "value": None}]
    text = format_summary(h, {"valid": "unknown", "w": {"valid": "unknown", "cause": "timeout"}})
    assert "faults: none" in text
    assert checker_verdicts({"valid": "unknown", "w": {"valid": "unknown", "cause": "timeout"}}) == [
        ("w", "unknown", "timeout")]
