"""The local netns backend against the real kernel (root only)."""

import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from harness.errors import EnvironmentProblem
from tests.integration.netns_echo import ECHO, NETNS_MARKS, PORT, PROBE

pytestmark = NETNS_MARKS

from harness.control.local import LocalBackend, proc_start_time  # noqa: E402
from harness.control.remote import Cluster, Remote, RemoteCommandError, RemoteTimeout  # noqa: E402


def host_out(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True).stdout


def leftovers(prefix):
    """Everything on the host that still carries the prefix."""
    found = []
    found += [l for l in host_out("ip", "netns", "list").split() if l.startswith(prefix)]
    found += [l["ifname"] for l in json.loads(host_out("ip", "-j", "link") or "[]")
              if l["ifname"].startswith(prefix)]
    found += [l for l in host_out("iptables", "-w", "-S", "FORWARD").splitlines() if prefix in l]
    if os.path.exists(f"/run/splitbrain/{prefix}"):
        found.append(f"/run/splitbrain/{prefix}")
    return found


def wait_listening(remote, name, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "listening" in remote.read_log(name):
            return
        time.sleep(0.02)
    raise AssertionError(f"daemon {name} did not start: {remote.read_log(name)!r}")


def probe(remote, ip, timeout=1.0):
    return remote.run([sys.executable, "-c", PROBE, ip, str(PORT), str(timeout)],
                      check=False, timeout=timeout + 5).returncode == 0


def probe_from_controller(ip, timeout=1.0):
    try:
        with socket.create_connection((ip, PORT), timeout=timeout) as s:
            s.sendall(b"ping")
            return s.recv(4) == b"ping"
    except OSError:
        return False


@pytest.fixture
def cluster(tmp_path):
    c = LocalBackend().start(["n1", "n2", "n3"], str(tmp_path))
    try:
        yield c
    finally:
        c.stop()
        assert leftovers(c.prefix) == []


def test_layout(cluster):
    c = cluster
    assert isinstance(c, Cluster) and isinstance(c.remote("n1"), Remote)
    assert len(c.prefix) == 8 and c.prefix.startswith("sb")
    net = ipaddress.IPv4Network(c.info["subnet"])
    assert net.prefixlen == 24 and str(net).startswith("10.")
    assert c.controller_ip == str(net.network_address + 254)
    assert [n.ip for n in c.nodes] == [str(net.network_address + i) for i in (1, 2, 3)]
    # host side
    assert sorted(l for l in host_out("ip", "netns", "list").split() if l.startswith(c.prefix)) == \
        [f"{c.prefix}-n1", f"{c.prefix}-n2", f"{c.prefix}-n3"]
    links = {l["ifname"]: l for l in json.loads(host_out("ip", "-j", "link"))}
    assert c.prefix in links
    for i in (1, 2, 3):
        veth = f"{c.prefix}v{i}"
        assert len(veth) <= 15 and links[veth].get("master") == c.prefix
    assert f"{c.controller_ip}/24" in host_out("ip", "-4", "addr", "show", "dev", c.prefix)
    rules = [l for l in host_out("iptables", "-w", "-S", "FORWARD").splitlines() if c.prefix in l]
    assert rules == [f"-A FORWARD -i {c.prefix} -o {c.prefix} -m comment --comment {c.prefix} -j ACCEPT"]
    # inside a node
    for node in c.nodes:
        out = c.remote(node.name).run(["ip", "-j", "addr"]).stdout
        ifaces = {i["ifname"]: i for i in json.loads(out)}
        assert set(ifaces) == {"lo", "eth0"}
        assert "UP" in ifaces["lo"]["flags"] and "UP" in ifaces["eth0"]["flags"]
        assert [a["local"] for a in ifaces["eth0"]["addr_info"]] == [node.ip]
        assert "default" not in c.remote(node.name).run(["ip", "route"]).stdout
    # run root
    info = json.load(open(os.path.join(c.run_root, "controller.json")))
    assert info["controller"]["pid"] == os.getpid()
    assert info["controller"]["start_time"] == proc_start_time(os.getpid())
    assert info["bridge"]["name"] == c.prefix and info["subnet"] == str(net)
    for n in c.nodes:
        d = c.remote(n.name).node_dir
        assert d == os.path.join("/run/splitbrain", c.prefix, n.name)
        assert all(os.path.isdir(os.path.join(d, s)) for s in ("logs", "pids", "data"))


def test_run_commands(cluster):
    r = cluster.remote("n2")
    res = r.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n")
    assert r.run(["cat"], input="hello").stdout == "hello"
    with pytest.raises(RemoteCommandError) as e:
        r.run(["ls", "/definitely/not/here"])
    msg = str(e.value)
    assert msg.startswith("n2: command failed (exit 2): ls /definitely/not/here:") and "No such file" in msg
    assert isinstance(e.value, EnvironmentProblem)
    t = time.monotonic()
    with pytest.raises(RemoteTimeout):
        r.run(["sleep", "30"], timeout=0.3)
    assert time.monotonic() - t < 3
    with pytest.raises(TypeError):
        r.run("echo hi")


def test_daemon_reachable_from_nodes_and_controller(cluster):
    r1 = cluster.remote("n1")
    ip1 = cluster.node("n1").ip
    pid = r1.start_daemon("echo", [sys.executable, "-c", ECHO, ip1, str(PORT)])
    wait_listening(r1, "echo")
    assert r1.daemon_pid("echo") == pid
    assert open(os.path.join(r1.node_dir, "pids", "echo.pid")).read().strip() == str(pid)
    with pytest.raises(EnvironmentProblem):
        r1.start_daemon("echo", ["sleep", "1"])
    assert probe(cluster.remote("n2"), ip1)
    assert probe(cluster.remote("n3"), ip1)
    assert probe_from_controller(ip1)
    # pause / resume the whole process group
    assert r1.signal_daemon("echo", signal.SIGSTOP)
    assert not probe_from_controller(ip1, timeout=0.5)
    assert r1.signal_daemon("echo", signal.SIGCONT)
    assert probe_from_controller(ip1)
    r1.stop_daemon("echo")
    assert r1.daemon_pid("echo") is None
    assert proc_start_time(pid) is None
    assert not os.path.exists(os.path.join(r1.node_dir, "pids", "echo.pid"))
    assert not r1.signal_daemon("echo", signal.SIGTERM)
    r1.stop_daemon("echo")  # idempotent


def test_stop_daemon_escalates_to_sigkill(cluster):
    r = cluster.remote("n3")
    script = "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('listening', flush=True); time.sleep(60)"
    pid = r.start_daemon("stubborn", [sys.executable, "-c", script], env={"X_SPLITBRAIN": "1"})
    wait_listening(r, "stubborn")
    assert "X_SPLITBRAIN=1" in open(f"/proc/{pid}/environ").read().replace("\0", "\n")
    t = time.monotonic()
    r.stop_daemon("stubborn", timeout=0.5)
    assert 0.4 < time.monotonic() - t < 5
    assert proc_start_time(pid) is None


def test_daemon_pid_ignores_reused_pid(cluster):
    r = cluster.remote("n1")
    pidfile = os.path.join(r.node_dir, "pids", "fake.pid")
    # A pid file pointing at a live process that is not ours (wrong start time): never signalled.
    with open(pidfile, "w") as f:
        f.write(f"{os.getpid()}\n")
    with open(pidfile[:-4] + ".start", "w") as f:
        f.write("1\n")
    assert r.daemon_pid("fake") is None
    assert not r.signal_daemon("fake", signal.SIGTERM)
    r.stop_daemon("fake")
    assert not os.path.exists(pidfile)


def test_files_and_logs(cluster, tmp_path):
    r = cluster.remote("n2")
    src = tmp_path / "a.txt"
    src.write_text("data")
    r.upload(str(src), "data/sub/a.txt")
    assert r.run(["cat", os.path.join(r.node_dir, "data/sub/a.txt")]).stdout == "data"
    r.download("data/sub/a.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "data"
    r.start_daemon("talker", ["sh", "-c", "echo hello from $(hostname) ; echo oops >&2"])
    deadline = time.monotonic() + 5
    while "oops" not in r.read_log("talker") and time.monotonic() < deadline:
        time.sleep(0.02)
    cluster.download_logs(str(tmp_path / "logs"))
    text = (tmp_path / "logs" / "n2" / "talker.log").read_text()
    assert "hello from" in text and "oops" in text
    assert (tmp_path / "logs" / "n1").is_dir()


def test_stop_removes_everything(tmp_path):
    c = LocalBackend().start(["n1", "n2"], str(tmp_path))
    try:
        pid = c.remote("n1").start_daemon("sleeper", ["sleep", "300"])
        # a stray process not in any pid file, started with run() in the background
        c.remote("n2").run(["sh", "-c", "setsid sleep 301 >/dev/null 2>&1 &"])
        stray = [int(p) for p in subprocess.run(["ip", "netns", "pids", f"{c.prefix}-n2"],
                                                 capture_output=True, text=True).stdout.split()]
        assert len(stray) == 1 and proc_start_time(stray[0]) is not None
        assert leftovers(c.prefix)
    finally:
        c.stop()
    assert leftovers(c.prefix) == []
    assert proc_start_time(pid) is None
    assert proc_start_time(stray[0]) is None
    assert not os.path.exists(c.run_root)
    c.stop()  # idempotent
    assert c.stopped


def test_two_clusters_get_distinct_prefixes_and_subnets(tmp_path):
    a = LocalBackend().start(["n1"], None)
    try:
        b = LocalBackend().start(["n1"], None)
        try:
            assert a.prefix != b.prefix
            assert not a.subnet.overlaps(b.subnet)
        finally:
            b.stop()
    finally:
        a.stop()
    assert leftovers(a.prefix) == [] and leftovers(b.prefix) == []


def test_bad_node_names_rejected_before_creating_anything():
    from harness.errors import InputError

    for bad in (["n1", "n1"], ["bad name"], []):
        with pytest.raises(InputError):
            LocalBackend().start(bad, None)


def test_not_root(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(EnvironmentProblem, match="needs root"):
        LocalBackend().start(["n1"], None)
