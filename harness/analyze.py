"""``splitbrain analyze RUN_DIR``: re-check a stored run, also one whose controller crashed.

A crashed run may end mid-line and with invokes that never completed: the truncated last line is
dropped (it was never a complete op) and open invokes count as ``info`` (they may or may not have
happened), which is exactly what an observer who lost the controller can claim.
"""

from __future__ import annotations

import sys

from harness import exit_codes
from harness.config import load_spec
from harness.store import find_run


def analyze_run(run_dir: str, timeout_s: float | None = None) -> int:
    """Check the run in ``run_dir`` again, rewrite its results.json, return the exit code."""
    from checkers.compose import run_checkers
    from harness.history.jsonl import read_jsonl
    from workloads import make_workload

    run = find_run(run_dir)
    spec = load_spec(str(run.spec))
    workload = make_workload(spec.workload, dict(spec.workload_options, seed=spec.seed))
    history = read_jsonl(run.history, allow_truncated_tail=True)
    checker = workload.checker(dict(checker_timeout_s=timeout_s or spec.check_timeout))
    test = {"name": spec.resolved_name(), "spec": spec, "nodes": list(spec.nodes)}
    results = run_checkers({"workload": checker}, test, history,
                           {"open_as_info": True, "report_dir": str(run.path)})
    results["analyzed_ops"] = sum(1 for op in history if op.get("type") == "invoke")
    if not any(op.get("type") == "ok" and op.get("process") != "nemesis" for op in history):
        # As in a live run: nothing the system did was observed, "valid" would be vacuous.
        results["valid"] = "unknown"
        results["cause"] = "no client operation completed ok"
    run.write_results(results)
    from harness.report import write_run_reports  # plots and timeline, also for old/crashed runs

    write_run_reports(run.path, history, title=spec.resolved_name())
    word = exit_codes.verdict_word(results.get("valid"))
    print(f"{run.path}\t{word}\t{results['analyzed_ops']} ops")
    sys.stdout.flush()
    return exit_codes.for_verdict(results.get("valid"))
