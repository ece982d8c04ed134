"""Whole runs of ``splitbrain test`` against a real etcd cluster in network namespaces.

- a short run completes, stores everything DESIGN.md lists and reports a verdict;
- Ctrl-C (SIGINT) mid-run tears down cleanly and keeps a readable history;
- SIGKILL of the controller, then ``splitbrain heal``, leaves nothing behind, and
  ``splitbrain analyze`` checks the ops that were recorded.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.history.jsonl import read_jsonl

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and iptables"),
    pytest.mark.skipif(shutil.which("etcd") is None,
                       reason="needs the etcd binary (apt install etcd-server)"),
]

CLI = [sys.executable, "-m", "harness.cli"]


def run_dir_of(store: Path) -> Path:
    return (store / "latest").resolve()


def cluster_prefix(run: Path) -> str:
    m = re.search(r"local cluster (sb[0-9a-f]{6})", (run / "splitbrain.log").read_text())
    assert m, "the controller log names the cluster prefix"
    return m.group(1)


def leftovers(prefix: str) -> list[str]:
    """Everything on the machine that still carries the run's prefix."""
    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"netns {line.split()[0]}" for line in netns.splitlines() if prefix in line]
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout)
    found += [f"link {link['ifname']}" for link in links if prefix in link["ifname"]]
    fwd = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
    found += [f"rule {line}" for line in fwd.splitlines() if prefix in line]
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if f"/{prefix}/" in cmd and "pytest" not in cmd:
            found.append(f"process {pid}: {cmd[:80]}")
    if Path(f"/run/splitbrain/{prefix}").exists():
        found.append(f"run root /run/splitbrain/{prefix}")
    return found


def wait_for_ops(store: Path, proc, n_ops: int, need_partition: bool, deadline_s: float = 120):
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline_s:
        assert proc.poll() is None, "the controller ended before it was interrupted"
        latest = store / "latest"
        if latest.exists() and (latest / "history.jsonl").exists():
            text = (latest / "history.jsonl").read_text()
            done = sum(1 for line in text.splitlines() if '"type":"ok"' in line)
            partitioned = '"f":"start-partition"' in text
            if done >= n_ops and (partitioned or not need_partition):
                return run_dir_of(store)
        time.sleep(0.2)
    pytest.fail("the run recorded no ops in time")


def test_short_run_stores_everything_and_is_valid(tmp_path):
    store = tmp_path / "store"
    proc = subprocess.run(
        CLI + ["test", "--db", "etcd", "--nodes", "3", "--time-limit", "12", "--seed", "1",
               "--nemesis-option", "interval=3", "--store", str(store)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "verdict: valid"
    run = run_dir_of(store)
    for name in ("history.jsonl", "results.json", "test.yaml", "splitbrain.log"):
        assert (run / name).is_file(), name
    for node in ("n1", "n2", "n3"):
        log = run / "nodes" / node / "etcd.log"
        assert log.is_file() and log.stat().st_size > 0, log
    results = json.loads((run / "results.json").read_text())
    assert results["valid"] is True
    history = read_jsonl(run / "history.jsonl")
    fs = {op["f"] for op in history}
    assert {"read", "write", "cas", "start-partition", "stop-partition"} <= fs
    assert sum(op["type"] == "ok" for op in history) > 20
    assert leftovers(cluster_prefix(run)) == []


def test_ctrl_c_tears_down_and_keeps_history(tmp_path):
    store = tmp_path / "store"
    proc = subprocess.Popen(
        CLI + ["test", "--db", "etcd", "--nodes", "3", "--time-limit", "120",
               "--nemesis-option", "interval=2", "--store", str(store)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        run = wait_for_ops(store, proc, n_ops=20, need_partition=True)
        prefix = cluster_prefix(run)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode in (0, 1, 2), err[-3000:]
    assert "Traceback" not in err
    assert "verdict:" in out
    history = read_jsonl(run / "history.jsonl")
    assert sum(op["type"] == "ok" for op in history) >= 20
    results = json.loads((run / "results.json").read_text())
    assert results["interrupted"] is True
    assert leftovers(prefix) == []


def test_sigkill_then_heal_leaves_nothing_and_history_is_analyzable(tmp_path):
    store = tmp_path / "store"
    proc = subprocess.Popen(
        CLI + ["test", "--db", "etcd", "--nodes", "3", "--time-limit", "120",
               "--nemesis-option", "interval=2", "--store", str(store)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        run = wait_for_ops(store, proc, n_ops=20, need_partition=True)
        prefix = cluster_prefix(run)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert leftovers(prefix), "a killed controller leaves its cluster behind until healed"
    heal = subprocess.run(CLI + ["heal"], capture_output=True, text=True, timeout=120)
    assert heal.returncode == 0, heal.stderr
    assert prefix in heal.stdout
    assert leftovers(prefix) == []
    history = read_jsonl(run / "history.jsonl", allow_truncated_tail=True)
    assert sum(op["type"] == "ok" for op in history) >= 20
    analyze = subprocess.run(CLI + ["analyze", str(run)], capture_output=True, text=True,
                             timeout=300)
    assert analyze.returncode in (0, 1, 2), analyze.stderr
    assert "Traceback" not in analyze.stderr
    assert json.loads((run / "results.json").read_text())["valid"] in (True, False, "unknown")
