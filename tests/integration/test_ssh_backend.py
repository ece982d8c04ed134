"""The ssh backend against real sshd servers: each "host" is a network namespace of a local-backend
cluster running its own ``/usr/sbin/sshd`` with a host key generated here and pinned in a
known_hosts file.

- the Remote contract over ssh (argv quoting, stdin, timeouts, daemons, SFTP both ways, reconnect);
- ``splitbrain test --backend ssh --db raft --nemesis partition,kill`` is valid (etcd runs on a
  remote backend in test_docker_backend.py; over ssh it was left out to keep CI short);
- a host whose key changed is refused with one line, and an unknown host without the opt-in too.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import EnvironmentProblem, InputError

paramiko = pytest.importorskip("paramiko", reason="needs paramiko (pip install paramiko)")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces (the test hosts)"),
    pytest.mark.skipif(not os.path.exists("/usr/sbin/sshd") or shutil.which("ssh-keygen") is None,
                       reason="needs sshd and ssh-keygen (apt install openssh-server openssh-client)"),
]

CLI = [sys.executable, "-m", "harness.cli"]

SSHD_CONFIG = """\
ListenAddress {ip}
Port 22
HostKey {dir}/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile {dir}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 50
MaxStartups 50
Subsystem sftp internal-sftp
"""


def keygen(path: Path) -> str:
    """A new ed25519 key pair at ``path``; returns the public key line."""
    for p in (path, path.with_suffix(".pub")):
        if p.exists():
            p.unlink()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "splitbrain-test",
                    "-f", str(path)], check=True)
    return Path(str(path) + ".pub").read_text().strip()


class SSHHosts:
    """Namespaces with sshd; ``options()`` gives the ssh backend's options for them."""

    def __init__(self, cluster, root: Path):
        self.cluster = cluster
        self.root = root
        self.client_key = root / "id_ed25519"
        client_pub = keygen(self.client_key)
        self.known_hosts = root / "known_hosts"
        lines = []
        for node in cluster.nodes:
            d = root / node.name
            d.mkdir()
            (d / "authorized_keys").write_text(client_pub + "\n")
            host_pub = keygen(d / "ssh_host_ed25519_key")
            lines.append(f"{node.ip} {' '.join(host_pub.split()[:2])}")
            (d / "sshd_config").write_text(SSHD_CONFIG.format(ip=node.ip, dir=d))
            self.start_sshd(node.name)
        self.known_hosts.write_text("\n".join(lines) + "\n")
        for node in cluster.nodes:
            self.wait_port(node.ip)

    def start_sshd(self, name: str) -> None:
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
        self.cluster.remote(name).start_daemon(
            "sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.root / name / "sshd_config")])

    @staticmethod
    def wait_port(ip: str) -> None:
        import socket

        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection((ip, 22), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def options(self, **extra) -> dict:
        return {"hosts": {n.name: n.ip for n in self.cluster.nodes}, "user": "root",
                "key": str(self.client_key), "known_hosts": str(self.known_hosts), **extra}


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    from harness.control.local import LocalBackend

    cluster = LocalBackend().start(["n1", "n2", "n3"], None)
    try:
        yield SSHHosts(cluster, tmp_path_factory.mktemp("sshhosts"))
    finally:
        cluster.stop()


def test_remote_contract_over_ssh(hosts, tmp_path):
    from harness.control.ssh import SSHBackend

    cluster = SSHBackend.from_options(hosts.options()).start(["n1", "n2", "n3"], None)
    try:
        assert [n.ip for n in cluster.nodes] == [n.ip for n in hosts.cluster.nodes]
        r = cluster.remote("n2")
        # argv elements arrive intact, whatever they contain
        weird = ["a b", "it's", "$(touch /tmp/sb-pwned)", "`id`", "x;y", "*", ""]
        res = r.run(["python3", "-c", "import sys, json; print(json.dumps(sys.argv[1:]))", *weird])
        import json

        assert json.loads(res.stdout) == weird
        assert not os.path.exists("/tmp/sb-pwned")
        assert r.run(["cat"], input="hello\n").stdout == "hello\n"
        assert r.run(["ip", "-4", "-o", "addr", "show", "eth0"]).stdout.count(r.node.ip) == 1
        bad = r.run(["sh", "-c", "echo oops >&2; exit 3"], check=False)
        assert (bad.returncode, bad.stderr) == (3, "oops\n")
        from harness.control.remote import RemoteCommandError, RemoteTimeout

        with pytest.raises(RemoteCommandError, match="oops"):
            r.run(["sh", "-c", "echo oops >&2; exit 3"])
        with pytest.raises(RemoteTimeout):
            r.run(["sleep", "30"], timeout=1)
        # daemons: pid file, log, signals, stop
        pid = r.start_daemon("loop", ["sh", "-c", "echo started; exec sleep 300"], env={"A": "1"})
        assert r.daemon_pid("loop") == pid
        with pytest.raises(EnvironmentProblem, match="already running"):
            r.start_daemon("loop", ["sleep", "1"])
        assert r.signal_daemon("loop", signal.SIGSTOP) and r.signal_daemon("loop", signal.SIGCONT)
        r.stop_daemon("loop", timeout=5)
        assert r.daemon_pid("loop") is None and not r.signal_daemon("loop", signal.SIGTERM)
        assert "started" in r.read_log("loop")
        # SFTP both ways, files and directories
        src = tmp_path / "up"
        (src / "sub").mkdir(parents=True)
        (src / "sub" / "f.txt").write_text("payload")
        r.upload(str(src), "data/up")
        assert r.run(["cat", "data/up/sub/f.txt"]).stdout == "payload"
        r.download("data/up", str(tmp_path / "down"))
        assert (tmp_path / "down" / "sub" / "f.txt").read_text() == "payload"
        # parallel sessions on one connection, and a dropped connection is re-opened
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(8) as pool:
            outs = list(pool.map(lambda i: r.run(["echo", str(i)]).stdout, range(16)))
        assert outs == [f"{i}\n" for i in range(16)]
        r.connect().get_transport().close()
        assert r.run(["echo", "again"]).stdout == "again\n"
        node_dir = r.node_dir
    finally:
        cluster.stop()
    assert not os.path.exists(node_dir), "the run's directory on the host is removed at stop"


def test_hostile_values_are_data_over_ssh(hosts, tmp_path):
    """The same check tests/unit/test_shell_safety.py makes on the local and docker backends:
    values with shell metacharacters in argv, a shell snippet's parameters and a daemon's env."""
    from harness.control.ssh import SSHBackend
    from tests.unit.test_shell_safety import _run_with_hostile_values

    cluster = SSHBackend.from_options(hosts.options()).start(["n1"], None)
    try:
        _run_with_hostile_values(cluster.remote("n1"), str(tmp_path / "pwned"))
    finally:
        cluster.stop()
    assert not (tmp_path / "pwned").exists()


def test_changed_host_key_is_refused(hosts, tmp_path):
    from harness.control.ssh import SSHBackend

    # known_hosts says n1 has another key: exactly what a re-created host (or an attacker) looks like.
    other = keygen(tmp_path / "other")
    lines = hosts.known_hosts.read_text().splitlines()
    n1 = hosts.cluster.nodes[0]
    changed = tmp_path / "known_hosts"
    changed.write_text("\n".join(f"{n1.ip} {' '.join(other.split()[:2])}" if line.startswith(n1.ip + " ")
                                 else line for line in lines) + "\n")
    with pytest.raises(EnvironmentProblem) as e:
        SSHBackend.from_options(hosts.options(known_hosts=str(changed))).start(["n1", "n2"], None)
    msg = str(e.value)
    assert "\n" not in msg
    assert re.search(r"n1 \(.*\): host key changed", msg) and "ssh-keygen -R" in msg, msg
    # Even with accept_unknown_hosts: a changed key is never accepted.
    with pytest.raises(EnvironmentProblem, match="host key changed"):
        SSHBackend.from_options(hosts.options(known_hosts=str(changed),
                                              accept_unknown_hosts=True)).start(["n1"], None)
    # An unknown host is refused unless the user opted in.
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(EnvironmentProblem, match="unknown host key.*accept_unknown_hosts"):
        SSHBackend.from_options(hosts.options(known_hosts=str(empty))).start(["n1"], None)
    c = SSHBackend.from_options(hosts.options(known_hosts=str(empty),
                                              accept_unknown_hosts=True)).start(["n1"], None)
    try:
        assert c.remote("n1").run(["true"]).ok
    finally:
        c.stop()
    # And on the command line: exit 3, one line.
    p = subprocess.run([*CLI, "test", "--backend", "ssh", "--nodes", "n1", "--time-limit", "1",
                        "--nemesis", "none", "--store", str(tmp_path / "store"),
                        "--backend-option", f"hosts=[{n1.ip}]", "--ssh-user", "root",
                        "--ssh-key", str(hosts.client_key), "--known-hosts", str(changed)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 3, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("splitbrain: ssh backend: n1") and "host key changed" in last, p.stderr


def test_bad_ssh_options_are_one_line_input_errors(hosts, tmp_path):
    from harness.control.ssh import SSHBackend

    with pytest.raises(InputError, match="backend-options: hosts: the ssh backend needs"):
        SSHBackend.from_options({})
    with pytest.raises(InputError, match="unknown option for the ssh backend"):
        SSHBackend.from_options(hosts.options(pasword="x"))
    with pytest.raises(InputError, match="key: no such private key file"):
        SSHBackend.from_options(hosts.options(key=str(tmp_path / "nope")))
    with pytest.raises(InputError, match="no host for node 'n9'"):
        SSHBackend.from_options(hosts.options()).start(["n1", "n9"], None)


def test_raft_partition_kill_run_is_valid_over_ssh(hosts, tmp_path):
    """The issue's run over ssh: reference Raft (splitbrain's source copied to each host by SFTP),
    partitions (iptables on the hosts) and kills, host keys pinned in known_hosts."""
    import json

    store = tmp_path / "store"
    ips = ",".join(n.ip for n in hosts.cluster.nodes)
    p = subprocess.run(
        [*CLI, "test", "--backend", "ssh", "--db", "raft", "--nemesis", "partition,kill",
         "--nemesis-option", "interval=2", "--seed", "3",
         "--nodes", "n1,n2,n3", "--time-limit", "16", "--store", str(store),
         "--backend-option", f"hosts=[{ips}]", "--ssh-user", "root",
         "--ssh-key", str(hosts.client_key), "--known-hosts", str(hosts.known_hosts)],
        capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert "verdict: valid" in p.stdout
    run = (store / "latest").resolve()
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert sum(op["type"] == "ok" for op in history) > 10
    done = {op["f"]: op for op in history if op["process"] == "nemesis" and op["value"] is not None
            and op["f"] in ("start-partition", "start-kill")}
    assert isinstance(done["start-partition"]["value"], dict), done
    assert done["start-kill"]["value"] and "error" not in done["start-kill"], done
    log = (run / "splitbrain.log").read_text()
    prefix = re.search(r"ssh cluster (sb[0-9a-f]{6})", log).group(1)
    assert (run / "nodes" / "n1").is_dir()
    assert not os.path.exists(f"/var/tmp/splitbrain/{prefix}")
    assert not os.path.exists(f"/run/splitbrain/{prefix}")
