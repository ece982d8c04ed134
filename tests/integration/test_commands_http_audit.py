"""docs/audits/raft-http.yaml through the CLI: the reference Raft store deployed by the commands
target's shell templates and spoken to by the HTTP/JSON adapter (``client: http``) configured in
YAML only. Under partitions the history is linearizable, and the adapter follows the followers'
409 leader hints (ok writes come from workers bound to every node, not only the leader's). With
the planted ``stale-read`` bug (``vars: bug``) the same audit is not linearizable: a follower
answers reads from its own state, which lags the leader's (docs/auditing.md has the figures:
caught within the first second in 6 of 6 runs, as with ``--db raft --bug stale-read``)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AUDIT = REPO / "docs" / "audits" / "raft-http.yaml"
CLI = [sys.executable, "-m", "harness.cli"]

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]


def _audit_copy(tmp_path: Path, bug: str) -> Path:
    """The audit with ``vars: splitbrain`` set to this interpreter's splitbrain script when it
    has one (the PATH of a test run may not hold a ``splitbrain`` command), and ``vars: bug``."""
    script = Path(sys.executable).parent / "splitbrain"
    text = AUDIT.read_text()
    old = '    bug: ""  '
    assert text.count(old) == 1
    text = text.replace(old, f"    bug: {bug!r}  ")
    if script.exists():
        old = "    splitbrain: splitbrain "
        assert text.count(old) == 1
        text = text.replace(old, f"    splitbrain: {script} ")
    out = tmp_path / "raft-http.yaml"
    out.write_text(text)
    return out


#: bug -> (extra CLI args, expected exit code and verdict)
CASES = {
    "": (["--nemesis", "partition"], (0, True)),
    "stale-read": (["--nemesis", "partition", "--nemesis-option", "partition=primaries"], (1, False)),
}


@pytest.mark.parametrize("bug", sorted(CASES), ids=lambda b: b or "no-bug")
def test_the_raft_http_audit_gives_the_reference_stores_verdict(tmp_path, bug):
    extra, (code, valid) = CASES[bug]
    store = tmp_path / "store"
    res = subprocess.run(CLI + ["test", str(_audit_copy(tmp_path, bug)), *extra,
                                "--time-limit", "10", "--seed", "1", "--store", str(store)],
                         capture_output=True, text=True, timeout=300)
    run = next(store.glob("*/latest")).resolve()
    assert (run / "results.json").exists(), (res.returncode, res.stdout, res.stderr[-3000:])
    results = json.loads((run / "results.json").read_text())
    assert res.returncode == code, res.stdout[-3000:]
    assert results["valid"] is valid and results["workload"]["valid"] is valid
    for n in ("n1", "n2", "n3"):  # the daemon's output is collected as <name>.log
        log = (run / "nodes" / n / "raft.log").read_text()
        assert f"{n}: peers on " in log and f"bug={bug or None}" in log
    if bug:
        assert "no order of the operations consistent with real time" in \
            str(results["workload"]["explanation"])
        return

    ops = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    ok = [o for o in ops if o.get("type") == "ok" and o.get("process") != "nemesis"]
    assert {o["f"] for o in ok} == {"read", "write", "cas"}
    # Only the leader accepts writes: ok writes through every node's workers mean the 409
    # hints were followed.
    assert {o["node"] for o in ok if o["f"] == "write"} == {"n1", "n2", "n3"}
