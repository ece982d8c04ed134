"""SIGINT and SIGTERM sent to `splitbrain test` in each phase of a run, and a second Ctrl-C
(issue 11). Real controller subprocesses on the local backend; the reference Raft store where a
store is needed, test-only targets (signal_targets.py, test_reliability_hung.py) to hold a phase
open long enough for the signal to land in it.

Each run must end on its own after the signal (the wait below only guards against a hang), heal
everything (no namespace, link, FORWARD rule, process or run root with the run's prefix) and
leave a readable history whose every invoke is completed. How long each exit took is printed
(``pytest -s``); speed is a bench matter, not asserted here.
"""

from __future__ import annotations

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

from harness.control.leftovers import leftovers, run_prefix
from harness.history.jsonl import read_jsonl
from harness.history.pairing import pair_ops

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("iptables") is None,
                       reason="needs iproute2 and iptables"),
]

HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "harness.cli", "test"]
SIGNALS = [signal.SIGINT, signal.SIGTERM]
HANG_GUARD_S = 180  # only a hang reaches this


class Run:
    """A `splitbrain test` subprocess with its output in files (no pipe can fill up)."""

    def __init__(self, tmp_path: Path, args: list[str]):
        self.store = tmp_path / "store"
        self.out = open(tmp_path / "stdout", "w+")
        self.err = open(tmp_path / "stderr", "w+")
        path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
        env = dict(os.environ, PYTHONPATH=path)
        self.proc = subprocess.Popen(CLI + args + ["--store", str(self.store)], stdout=self.out,
                                     stderr=self.err, env=env, text=True)
        self.signalled_at: float | None = None

    @property
    def run_dir(self) -> Path | None:
        latest = self.store / "latest"
        return latest.resolve() if latest.exists() else None

    def log(self) -> str:
        rd = self.run_dir
        try:
            return (rd / "splitbrain.log").read_text() if rd else ""
        except FileNotFoundError:
            return ""

    def wait_until(self, ready, what: str, timeout: float = 120) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.proc.poll() is None, f"the run ended before {what}: {self.stderr()[-2000:]}"
            if ready(self):
                return
            time.sleep(0.05)
        pytest.fail(f"no {what} within {timeout}s")

    def signal(self, sig) -> None:
        self.signalled_at = self.signalled_at or time.monotonic()
        self.signalled_wall = getattr(self, "signalled_wall", None) or time.time()
        self.proc.send_signal(sig)

    def finish(self, label: str) -> int:
        try:
            rc = self.proc.wait(timeout=HANG_GUARD_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"{label}: the controller did not exit after the signal")
        took = time.monotonic() - self.signalled_at
        print(f"\n[signal timing] {label}: exit {rc} {took:.1f}s after the first signal; "
              f"signal -> 'teardown done' {self.teardown_latency()}; signal -> results.json "
              f"{self.results_latency()}")
        return rc

    def results_latency(self) -> str:
        try:
            return f"{(self.run_dir / 'results.json').stat().st_mtime - self.signalled_wall:.1f}s"
        except (OSError, TypeError):
            return "n/a"

    def teardown_latency(self) -> str:
        """From the controller's first signal line to "teardown done", by its log stamps."""
        def stamp(line):
            h, m, rest = line[:12].split(":")
            return int(h) * 3600 + int(m) * 60 + float(rest)
        lines = self.log().splitlines()
        sig = next((ln for ln in lines if re.match(r"^\S+ WARNING SIG(INT|TERM): ", ln)), None)
        done = next((ln for ln in lines if ln.endswith("INFO  teardown done")), None)
        if not sig or not done:
            return "n/a"
        d = stamp(done) - stamp(sig)
        return f"{d:.1f}s" if d >= 0 else "n/a (signal after teardown)"

    def stdout(self) -> str:
        self.out.seek(0)
        return self.out.read()

    def stderr(self) -> str:
        self.err.seek(0)
        return self.err.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        self.err.close()


@pytest.fixture
def runs():
    started = []

    def start(tmp_path, args):
        r = Run(tmp_path, args)
        started.append(r)
        return r

    yield start
    for r in started:
        r.close()


def assert_clean(run: Run, *, expect_prefix: bool = True) -> dict:
    """Nothing of the run is left on the machine; the history is readable and complete;
    returns results.json."""
    assert "Traceback" not in run.stderr(), run.stderr()[-3000:]
    prefix = run_prefix(run.run_dir)
    if expect_prefix:
        assert prefix, "the cluster came up"
    if prefix:
        assert leftovers(prefix) == []
    history = read_jsonl(run.run_dir / "history.jsonl")  # no truncated tail: closed cleanly
    pair_ops(history)  # raises if an invoke has no completion
    assert "teardown done" in run.log()
    return json.loads((run.run_dir / "results.json").read_text())


def partition_active(run: Run) -> bool:
    rd = run.run_dir
    if not rd or not (rd / "history.jsonl").exists():
        return False
    text = (rd / "history.jsonl").read_text()
    nemesis = [json.loads(line) for line in text.splitlines()
               if '"process":"nemesis"' in line and line.endswith("}")]
    oks = text.count('"type":"ok"')
    # The last nemesis event is a completed start-partition: the network is cut right now.
    return oks >= 5 and len(nemesis) >= 2 and nemesis[-1]["f"] == "start-partition" \
        and nemesis[-2]["f"] == "start-partition"


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_signal_during_client_setup_ends_the_run_at_once(tmp_path, runs, sig):
    # The client library hangs in setup(): the first signal must end the run (it used to be
    # taken for "drain the workload" and ignored until the setup gave up).
    run = runs(tmp_path, ["--db", "test_reliability_hung:HangingSetupTarget", "--nemesis", "none",
                          "--nodes", "2", "--time-limit", "5", "--op-timeout", "30"])
    run.wait_until(lambda r: "is up on" in r.log(), "db setup")
    time.sleep(0.5)  # inside the hung client setup (its timeout is 120 s here)
    run.signal(sig)
    rc = run.finish(f"{sig.name} during client setup")
    assert rc == 2, run.stderr()[-2000:]  # nothing ran: unknown
    results = assert_clean(run)
    assert results["valid"] == "unknown" and results["interrupted"] is True
    log = run.log()
    assert f"{sig.name}: tearing down" in log
    assert "gave no answer" not in log  # ended by the signal, not by the setup timeout


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_signal_during_workload_with_partition_active(tmp_path, runs, sig):
    run = runs(tmp_path, ["--db", "raft", "--nemesis", "partition", "--nodes", "3",
                          "--time-limit", "60", "--nemesis-option", "interval=2",
                          "--op-timeout", "2"])
    run.wait_until(partition_active, "active partition")
    run.signal(sig)
    rc = run.finish(f"{sig.name} during the workload, partition active")
    assert rc in (0, 1, 2), run.stderr()[-2000:]
    assert "verdict:" in run.stdout()
    results = assert_clean(run)
    assert results["interrupted"] is True and results["valid"] in (True, False)
    assert f"{sig.name}: stopping the workload" in run.log()


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_signal_during_teardown_does_not_interrupt_it(tmp_path, runs, sig):
    run = runs(tmp_path, ["--db", "signal_targets:SlowTeardownRaft", "--nemesis", "partition",
                          "--nodes", "3", "--time-limit", "4", "--nemesis-option", "interval=1"])
    run.wait_until(lambda r: "tearing down" in r.log(), "teardown")
    run.signal(sig)
    rc = run.finish(f"{sig.name} during teardown")
    assert rc in (0, 1, 2), run.stderr()[-2000:]
    results = assert_clean(run)
    log = run.log()
    assert f"{sig.name}: already tearing down" in log
    assert "teardown: " not in log, "no teardown step was cut short"
    assert results["valid"] in (True, False)  # the check still ran
    assert (run.run_dir / "nodes" / "n1").is_dir()  # node logs were still downloaded


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_signal_during_checking_abandons_the_check(tmp_path, runs, sig):
    run = runs(tmp_path, ["--db", "signal_targets:HardToCheckTarget", "--nemesis", "none",
                          "--nodes", "2", "--time-limit", "3", "--rate", "200",
                          "--check-timeout", "600"])
    run.wait_until(lambda r: "checking " in r.log(), "checking", timeout=180)
    time.sleep(0.5)
    run.signal(sig)
    rc = run.finish(f"{sig.name} during checking")
    assert rc == 2, run.stderr()[-2000:]
    results = assert_clean(run)
    assert results["valid"] == "unknown" and results["interrupted"] is True
    assert results["cause"].startswith(
        f"checking interrupted by {sig.name}; run 'splitbrain analyze")
    assert run.stdout().strip().endswith("verdict: unknown (interrupted)")


def test_second_ctrl_c_forces_the_exit_and_still_heals(tmp_path, runs):
    run = runs(tmp_path, ["--db", "raft", "--nemesis", "partition", "--nodes", "3",
                          "--time-limit", "60", "--nemesis-option", "interval=2",
                          "--op-timeout", "5"])
    run.wait_until(partition_active, "active partition")
    run.signal(signal.SIGINT)
    time.sleep(0.2)
    run.proc.send_signal(signal.SIGINT)
    rc = run.finish("second SIGINT 0.2 s after the first, partition active")
    assert rc == 2, run.stderr()[-2000:]
    results = assert_clean(run)
    assert results["valid"] == "unknown" and results["interrupted"] is True
    assert "forced exit" in results["cause"] or "checking interrupted" in results["cause"]
    log = run.log()
    assert ("SIGINT again: forcing the exit" in log
            or "SIGINT: forcing the exit once the network is healed" in log)
    assert "teardown: healing faults failed" not in log
    assert "teardown: stopping the cluster failed" not in log
