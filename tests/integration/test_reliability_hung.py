"""Hung targets do not stall a run (issue 11).

Two test-only targets, loaded through ``--db module:Class`` exactly as user code would be:

- ``HungNodeTarget``: every node runs a server that accepts TCP connections and never answers;
  the client sends a request and waits for a reply with no socket timeout.
- ``BlockingLibraryTarget``: a client library whose ``invoke`` blocks forever (an Event nobody
  sets), as a driver stuck on a lock would.

In both runs every client op must end as ``info`` with error ``timeout`` (the interpreter gives up
after ``op-timeout`` and continues with a new process), the workload must end at its time limit,
and the controller must exit (its stuck worker threads are daemons) with a clean teardown.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from harness.history.jsonl import read_jsonl

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces")

HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "harness.cli"]
PORT = 7070

# Accepts every connection and keeps it open, reading nothing and answering nothing.
SILENT_SERVER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(128)
held = []
while True:
    c, _ = s.accept(); held.append(c)
"""


class HungNodeDB:
    """Starts the silent server on every node."""

    def setup(self, cluster):
        for node in cluster.nodes:
            cluster.remote(node.name).start_daemon(
                "silent", [sys.executable, "-c", SILENT_SERVER, node.ip, str(PORT)])
        for node in cluster.nodes:  # wait until it listens, so the clients really hang on a reply
            for _ in range(100):
                try:
                    socket.create_connection((node.ip, PORT), timeout=1).close()
                    break
                except OSError:
                    threading.Event().wait(0.05)

    def teardown(self, cluster):
        for node in cluster.nodes:
            cluster.remote(node.name).stop_daemon("silent", timeout=2)


class _SilentClient:
    def __init__(self, node):
        self.sock = socket.create_connection((node.ip, PORT))
        self.sock.settimeout(None)  # the point: a library with no timeout of its own

    def setup(self):
        pass

    def invoke(self, op):
        self.sock.sendall(json.dumps(op).encode() + b"\n")
        reply = self.sock.recv(1)  # never comes (until the node is gone)
        return {"type": "info", "error": f"connection closed ({reply!r})"}

    def teardown(self):
        pass

    def close(self):
        self.sock.close()


class _SilentClients:
    def open(self, node):
        return _SilentClient(node)


class HungNodeTarget:
    def __init__(self, options):
        self.db = HungNodeDB()
        self.client_factory = _SilentClients()


class _NoopDB:
    def setup(self, cluster):
        pass

    def teardown(self, cluster):
        pass


class _BlockingClient:
    def setup(self):
        pass

    def invoke(self, op):
        threading.Event().wait()  # blocks forever
        raise AssertionError("unreachable")

    def teardown(self):
        pass

    def close(self):
        pass


class _BlockingClients:
    def open(self, node):
        return _BlockingClient()


class BlockingLibraryTarget:
    def __init__(self, options):
        self.db = _NoopDB()
        self.client_factory = _BlockingClients()


TIME_LIMIT, OP_TIMEOUT = 4, 1


@pytest.mark.parametrize("target", ["HungNodeTarget", "BlockingLibraryTarget"])
def test_hung_target_ops_time_out_as_info_and_run_ends_on_time(tmp_path, target):
    store = tmp_path / "store"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        CLI + ["test", "--db", f"test_reliability_hung:{target}", "--nemesis", "none",
               "--nodes", "2", "--concurrency", "3", "--rate", "20",
               "--time-limit", str(TIME_LIMIT), "--op-timeout", str(OP_TIMEOUT),
               "--store", str(store)],
        capture_output=True, text=True, timeout=120, env=env,  # a hang fails here
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 2, proc.stderr[-3000:]  # unknown: nothing completed ok
    run = (store / "latest").resolve()
    history = read_jsonl(run / "history.jsonl")
    invokes = [op for op in history if op["type"] == "invoke"]
    completions = [op for op in history if op["type"] != "invoke"]
    # Each stuck op was given up on and the worker went on as a new process: more ops than threads.
    assert len(invokes) > 3 * 2
    assert len(completions) == len(invokes)
    assert all(op["type"] == "info" and op.get("error") == "timeout" for op in completions)
    # No op outlives the workload by more than its timeout (plus scheduling slack).
    last_ns = max(op["time"] for op in history)
    assert last_ns <= (TIME_LIMIT + OP_TIMEOUT + 2) * 1e9, last_ns / 1e9
    results = json.loads((run / "results.json").read_text())
    assert results["valid"] == "unknown" and results["interrupted"] is False
    log = (run / "splitbrain.log").read_text()
    assert "teardown done" in log
    assert "teardown: " not in log, "every teardown step succeeded"


class _HangingSetupClient(_BlockingClient):
    def setup(self):
        threading.Event().wait()  # the library hangs while preparing the node


class _HangingSetupClients:
    def open(self, node):
        return _HangingSetupClient()


class HangingSetupTarget:
    def __init__(self, options):
        self.db = _NoopDB()
        self.client_factory = _HangingSetupClients()


def test_hung_client_setup_ends_the_run_with_one_line_and_exit_3(tmp_path):
    # setup() never returns: the run gives up after the client setup timeout (the longer of
    # 10 s and 4 op timeouts), tears down and says which node's setup hung.
    store = tmp_path / "store"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        CLI + ["test", "--db", "test_reliability_hung:HangingSetupTarget", "--nemesis", "none",
               "--nodes", "2", "--time-limit", "5", "--op-timeout", "1", "--store", str(store)],
        capture_output=True, text=True, timeout=120, env=env,  # a hang fails here
    )
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "splitbrain: client setup on n1 gave no answer in 10s (the node or its client library hangs)")
    run = (store / "latest").resolve()
    assert read_jsonl(run / "history.jsonl") == []  # no op was issued
    results = json.loads((run / "results.json").read_text())
    assert results["valid"] == "unknown" and "client setup on n1" in results["error"]
    assert "teardown done" in (run / "splitbrain.log").read_text()
