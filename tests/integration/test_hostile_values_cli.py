"""Shell metacharacters given to `splitbrain test` itself (issue 11): a node name is refused
before anything is created, and a register key is carried as data through a whole real run
(local backend, reference Raft store) without running anything.

The unit-level checks (every backend refuses such node names; hostile argv values are data on
the local, docker and ssh backends) are in tests/unit/test_shell_safety.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from harness.control.leftovers import leftovers, run_prefix
from harness.history.jsonl import read_jsonl

CLI = [sys.executable, "-m", "harness.cli", "test"]


@pytest.mark.parametrize("nodes", ["n1;touch pwned,n2", "n1,$(touch pwned)", "n1,`touch pwned`",
                                   "n1,n2 && touch pwned"])
def test_node_name_with_metacharacters_is_refused_and_nothing_runs(tmp_path, nodes):
    r = subprocess.run(CLI + ["--nodes", nodes, "--store", "store", "--time-limit", "1"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=60,
                       env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert r.returncode == 254, r.stderr
    assert r.stderr.startswith("splitbrain: command line: nodes: node name ")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert sorted(os.listdir(tmp_path)) == [], "no file created, not even the store"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")
@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2")
def test_register_key_with_metacharacters_is_data_in_a_real_run(tmp_path):
    marker = tmp_path / "pwned"
    key = f"k;touch {marker};$(touch {marker})`touch {marker}`|touch {marker}"
    r = subprocess.run(CLI + ["--db", "raft", "--nemesis", "none", "--nodes", "3",
                              "--time-limit", "3", "--db-option", f"key={key}",
                              "--store", str(tmp_path / "store")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not marker.exists()
    run = (tmp_path / "store" / "latest").resolve()
    assert json.loads((run / "results.json").read_text())["valid"] is True
    history = read_jsonl(run / "history.jsonl")
    assert sum(op["type"] == "ok" for op in history) > 5
    assert leftovers(run_prefix(run)) == []
