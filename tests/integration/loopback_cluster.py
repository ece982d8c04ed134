"""A cluster of real reference nodes (``splitbrain node raft|paxos``: separate processes, real
sockets, real fsync) on loopback ports, for the integration tests of the reference
implementations; plus :func:`http_json` to speak to a node's HTTP API directly."""

import http.client
import json
import signal
import socket
import subprocess
import sys
import time

from harness.targets.raft import RaftClient

CLI = [sys.executable, "-m", "harness.cli"]


def free_ports(n):
    """``n`` distinct loopback ports that were free a moment ago."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def any_leader(status):
    """Leader-readiness test of :meth:`LoopbackCluster.wait_leader`: the node says it leads."""
    return status["role"] == "leader"


class LoopbackCluster:
    """``n`` nodes of ``protocol`` ("raft" or "paxos") named n1..nN, with data and logs in
    ``tmp_path``; ``extra_args`` go to every node's command line; a leader counts for
    :meth:`wait_leader` once ``leader_ready(status)`` holds for some node's status."""

    def __init__(self, tmp_path, protocol, n=3, extra_args=(), leader_ready=any_leader):
        ports = free_ports(2 * n)
        self.protocol = protocol
        self.extra_args = list(extra_args)
        self.leader_ready = leader_ready
        self.ids = [f"n{i + 1}" for i in range(n)]
        self.peer = {i: ports[2 * k] for k, i in enumerate(self.ids)}
        self.http = {i: ports[2 * k + 1] for k, i in enumerate(self.ids)}
        self.dir = tmp_path
        self.procs = {}

    def start(self, node):
        """Start (or restart, on its data) ``node``; its output is appended to ``<node>.log``."""
        peers = ",".join(f"{i}=127.0.0.1:{self.peer[i]}" for i in self.ids)
        argv = CLI + ["node", self.protocol, "--id", node,
                      "--listen", f"127.0.0.1:{self.peer[node]}",
                      "--http", f"127.0.0.1:{self.http[node]}", "--peers", peers,
                      "--data", str(self.dir / node), "--election-timeout", "300",
                      "--heartbeat", "30", *self.extra_args]
        log = open(self.dir / f"{node}.log", "ab")
        self.procs[node] = subprocess.Popen(argv, stdout=log, stderr=log)

    def kill9_all(self):
        """SIGKILL every node at once and reap them."""
        for p in self.procs.values():
            p.send_signal(signal.SIGKILL)
        for p in self.procs.values():
            p.wait(10)

    def stop(self):
        """Terminate every node still running (SIGKILL after 10 s)."""
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

    def client(self, node="n1"):
        """A :class:`RaftClient` (it speaks both protocols' HTTP API) for ``node``."""
        return RaftClient("127.0.0.1", self.http[node], op_timeout_s=3.0, node_name=node)

    def status(self, node):
        """``node``'s /status document."""
        return self.client(node).status()

    def wait_leader(self, timeout=20):
        """The leader every node agrees on, once one is ready; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                sts = [self.status(i) for i in self.ids]
                leaders = {s["leader"] for s in sts}
                if len(leaders) == 1 and None not in leaders and \
                        any(self.leader_ready(s) for s in sts):
                    return leaders.pop()
            except (OSError, ValueError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise AssertionError("no leader")


def raft_leads_with_a_commit(status):
    """A Raft leader counts once it has committed its first entry."""
    return status["role"] == "leader" and status["commit"] >= 1


def raft_cluster(tmp_path, n=3):
    """A (not yet started) :class:`LoopbackCluster` of reference Raft nodes, as the raft tests
    use it: snapshots every 50 entries, a leader counts once it committed."""
    return LoopbackCluster(tmp_path, "raft", n, extra_args=["--snapshot-every", "50"],
                           leader_ready=raft_leads_with_a_commit)


def started_cluster(tmp_path, protocol, **kw):
    """Yield a :class:`LoopbackCluster` with every node started; stop it afterwards (for a
    pytest fixture: ``yield from started_cluster(tmp_path, "raft")``)."""
    c = LoopbackCluster(tmp_path, protocol, **kw)
    for i in c.ids:
        c.start(i)
    yield c
    c.stop()


def http_json(port, method, path, body=None):
    """``method path`` with a JSON ``body`` to the loopback HTTP port; (status, JSON reply)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, path, body=json.dumps(body) if body is not None else None)
    r = conn.getresponse()
    doc = json.loads(r.read())
    conn.close()
    return r.status, doc
