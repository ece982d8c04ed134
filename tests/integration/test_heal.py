"""`heal()` removes what a crashed controller left behind, and nothing else (root only)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("iptables") is None,
                       reason="needs iproute2 and iptables"),
]

from harness.control import local as L  # noqa: E402
from harness.heal import heal  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CONTROLLER = textwrap.dedent("""
    import json, sys, time
    from harness.control.local import LocalBackend
    from nemesis.partition import PartitionNemesis
    c = LocalBackend().start(["n1", "n2"], sys.argv[1])
    pid = c.remote("n1").start_daemon("sleeper", [sys.executable, "-c", "import time; time.sleep(300)"])
    c.remote("n1").run(["sh", "-c", "echo daemon-output >> logs/sleeper.log"])
    nem = PartitionNemesis("halves")
    nem.setup(c, None)
    nem.invoke({"type": "info", "f": "start-partition"})
    print(json.dumps({"prefix": c.prefix, "daemon": pid,
                      "start": open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19]}),
          flush=True)
    time.sleep(300)
""")


def host_out(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True).stdout


def leftovers(prefix):
    found = [l for l in host_out("ip", "netns", "list").split() if l.startswith(prefix)]
    found += [l["ifname"] for l in json.loads(host_out("ip", "-j", "link") or "[]")
              if l["ifname"].startswith(prefix)]
    found += [l for l in host_out("iptables", "-w", "-S", "FORWARD").splitlines() if prefix in l]
    if os.path.exists(f"/run/splitbrain/{prefix}"):
        found.append(f"/run/splitbrain/{prefix}")
    return found


@pytest.fixture
def crashed_run(tmp_path):
    """A run whose controller was SIGKILLed while a daemon and a partition were up."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", CONTROLLER, str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    info = None
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        info = json.loads(line)
        proc.kill()  # SIGKILL: no atexit, no finally
        proc.wait(timeout=10)
        yield info
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if info:  # whatever the test did, remove this run's objects (only this prefix)
            L.teardown_run(info["prefix"], None)
        proc.stdout.close()
        proc.stderr.close()


def test_heal_removes_a_crashed_run(crashed_run, tmp_path):
    prefix, daemon = crashed_run["prefix"], crashed_run["daemon"]
    assert L.proc_start_time(daemon) == int(crashed_run["start"])  # the daemon outlived its controller
    before = leftovers(prefix)
    assert f"{prefix}-n1" in before and prefix in before and f"/run/splitbrain/{prefix}" in before

    report = heal()

    assert report.ok, report.errors
    assert prefix in report.healed and prefix not in report.live
    text = "\n".join(report.removed)
    for what in (f"namespace {prefix}-n1", f"namespace {prefix}-n2", f"bridge {prefix}",
                 f"veth {prefix}v1", f"process {daemon}", f"run root /run/splitbrain/{prefix}",
                 "iptables FORWARD rule"):
        assert what in text, (what, report.removed)
    assert leftovers(prefix) == []
    assert L.proc_start_time(daemon) is None
    # the node logs were saved to the run's store directory
    assert any(f"{prefix} n1 -> {tmp_path}/nodes/n1" in x for x in report.saved), report.saved
    saved = tmp_path / "nodes" / "n1" / "sleeper.log"
    assert "daemon-output" in saved.read_text()
    # a second heal finds nothing of that run
    again = heal()
    assert prefix not in again.healed and not any(prefix in r for r in again.removed)


def test_heal_leaves_live_runs_alone(tmp_path):
    c = L.LocalBackend().start(["n1"], None)
    try:
        report = heal()
        assert c.prefix in report.live
        assert not any(c.prefix in r for r in report.removed)
        assert f"{c.prefix}-n1" in host_out("ip", "netns", "list")
        assert c.remote("n1").run(["true"]).ok
    finally:
        c.stop()


def test_heal_treats_reused_controller_pid_as_dead(tmp_path):
    c = L.LocalBackend().start(["n1"], None)
    try:
        pid = c.remote("n1").start_daemon("sleeper", ["sleep", "300"])
        # Same pid as ours, different start time: the recorded controller is gone.
        path = os.path.join(c.run_root, "controller.json")
        info = json.load(open(path))
        info["controller"]["start_time"] += 1
        open(path, "w").write(json.dumps(info))
        report = heal()
        assert c.prefix in report.healed, report
        assert leftovers(c.prefix) == []
        assert L.proc_start_time(pid) is None
    finally:
        c.stop()  # nothing left to remove: no error
    assert leftovers(c.prefix) == []


def test_heal_removes_orphans_without_run_root():
    prefix = "sb" + os.urandom(3).hex()
    try:
        subprocess.run(["ip", "netns", "add", f"{prefix}-n1"], check=True)
        subprocess.run(["ip", "link", "add", "name", prefix, "type", "bridge"], check=True)
        subprocess.run(["iptables", "-w", "-I", "FORWARD", "-i", prefix, "-o", prefix, "-j", "ACCEPT",
                        "-m", "comment", "--comment", prefix], check=True)
        sleeper = subprocess.Popen(["ip", "netns", "exec", f"{prefix}-n1", "sleep", "300"],
                                   start_new_session=True)
        time.sleep(0.1)
        report = heal()
        assert prefix in report.healed
        assert leftovers(prefix) == []
        assert sleeper.wait(timeout=5) == -signal.SIGKILL
    finally:
        L.teardown_run(prefix, None)


def test_heal_needs_root(monkeypatch):
    from harness.errors import EnvironmentProblem

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(EnvironmentProblem):
        heal()
