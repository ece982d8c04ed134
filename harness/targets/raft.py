"""raft target: deploy the reference Raft store (``splitbrain node raft``) and talk to it.

``RaftDB(options)`` is the DB half (setup, teardown, kill/start, pause/resume, primaries,
log_files); ``RaftClientFactory(options)`` opens register clients on the HTTP API. Options
(:data:`DEFAULTS`; unknown keys and ill-typed values raise InputError): ports, timeouts, the
planted ``bug`` (see :mod:`reference_impl.bugs`).

Each node runs ``<python> -m harness.cli node raft --id n1 --listen IP:PEER --http IP:CLIENT
--peers n1=IP:PEER,... --data <node_dir>/data/raft`` through ``remote.start_daemon("raft", ...)``
with the controller's own interpreter (``sys.executable``): the local backend's nodes are
namespaces on this host, which see the same Python and the same installed splitbrain.

Register ops on one key (option ``key``, default ``"r"``; an op may carry its own ``"key"``):
``read`` -> ``GET /kv/<key>``, ``write`` -> ``PUT /kv/<key>``, ``cas [a, b]`` ->
``POST /kv/<key>/cas``. A node that is not the leader answers 409 with the leader's client
address; the client then asks the leader once (a 409 is a definite "not done", so retrying is
safe).

How an answer becomes ``ok``/``fail``/``info``:
- ``ok`` only for a 200 answer whose body parsed (a cas with ``"ok": false`` is ``fail``);
- a read that did not succeed is ``fail``: it changed nothing;
- ``fail`` when the request certainly did not take effect: not sent (connect failed), a 4xx, or a
  body saying ``"outcome": "failed"``;
- ``info`` otherwise: a timeout, a dropped connection, a 5xx with ``"outcome": "unknown"``.
"""

from __future__ import annotations

import http.client
import json
import select
import signal
import socket
import sys
import time
from typing import Any
from urllib.parse import quote

from harness.errors import EnvironmentProblem, InputError

__all__ = ["DEFAULTS", "RaftDB", "RaftClient", "RaftClientFactory", "normalize_options"]

DAEMON = "raft"

DEFAULTS: dict[str, Any] = {
    "peer_port": 7070,
    "client_port": 7071,
    "key": "r",
    "op_timeout_s": 4.0,          # whole request (< the interpreter's 5 s op timeout)
    "connect_timeout_s": 1.0,
    "election_timeout_ms": 500,
    "heartbeat_ms": 50,
    "snapshot_every": 10000,
    "start_timeout_s": 30.0,
    "python": None,               # interpreter on the nodes (default: sys.executable)
    "bug": None,
}


def normalize_options(options: dict | None) -> dict:
    """``DEFAULTS`` updated with ``options``, validated (InputError names the bad option)."""
    from reference_impl.bugs import check_bug

    options = dict(options or {})
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise InputError(f"raft: unknown option {unknown[0]!r} (valid: {', '.join(sorted(DEFAULTS))})")
    o = {**DEFAULTS, **options}
    for name in ("peer_port", "client_port", "election_timeout_ms", "heartbeat_ms",
                 "snapshot_every"):
        v = o[name]
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise InputError(f"raft: option {name}: expected a positive integer, got {v!r}")
    for name in ("peer_port", "client_port"):
        if o[name] > 65535:
            raise InputError(f"raft: option {name}: out of range ({o[name]})")
    if o["peer_port"] == o["client_port"]:
        raise InputError("raft: options peer_port and client_port must differ")
    for name in ("op_timeout_s", "connect_timeout_s", "start_timeout_s"):
        v = o[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise InputError(f"raft: option {name}: expected a number > 0, got {v!r}")
    if o["heartbeat_ms"] * 2 >= o["election_timeout_ms"]:
        raise InputError("raft: option heartbeat_ms must be less than half of election_timeout_ms")
    if not isinstance(o["key"], str) or not o["key"]:
        raise InputError(f"raft: option key: expected a non-empty string, got {o['key']!r}")
    try:
        o["bug"] = check_bug(o["bug"])
    except ValueError as e:
        raise InputError(f"raft: option bug: {e}") from None
    return o


def _name(node) -> str:
    return node if isinstance(node, str) else node.name


def _node(cluster, node):
    if not isinstance(node, str):
        return node
    for n in cluster.nodes:
        if n.name == node:
            return n
    raise InputError(f"raft: unknown node {node!r}")


class RaftDB:
    """Deploys one reference Raft node per cluster node. Capabilities: kill/start,
    pause/resume, primaries, log_files."""

    def __init__(self, options: dict | None = None):
        self.options = normalize_options(options)

    def data_dir(self, remote) -> str:
        return f"{str(remote.node_dir).rstrip('/')}/data/raft"

    def argv(self, cluster, node) -> list[str]:
        o = self.options
        remote = cluster.remote(node.name)
        peers = ",".join(f"{n.name}={n.ip}:{o['peer_port']}" for n in cluster.nodes)
        argv = [o["python"] or sys.executable, "-m", "harness.cli", "node", "raft",
                "--id", node.name, "--listen", f"{node.ip}:{o['peer_port']}",
                "--http", f"{node.ip}:{o['client_port']}", "--peers", peers,
                "--data", self.data_dir(remote),
                "--election-timeout", str(o["election_timeout_ms"]),
                "--heartbeat", str(o["heartbeat_ms"]),
                "--snapshot-every", str(o["snapshot_every"])]
        if o["bug"]:
            argv += ["--bug", o["bug"]]
        return argv

    # -- lifecycle ------------------------------------------------------------------------
    def setup(self, cluster) -> None:
        """Wipe each node's data dir, start every node, wait for a leader all nodes know."""
        for node in cluster.nodes:
            remote = cluster.remote(node.name)
            if remote.daemon_pid(DAEMON) is not None:
                remote.stop_daemon(DAEMON)
            d = self.data_dir(remote)
            remote.run(["rm", "-rf", d])
            remote.run(["mkdir", "-p", d])
        for node in cluster.nodes:
            cluster.remote(node.name).start_daemon(DAEMON, self.argv(cluster, node))
        self.wait_ready(cluster)

    def wait_ready(self, cluster, timeout_s: float | None = None) -> None:
        """Until one leader has committed in its term and every node names it."""
        deadline = time.monotonic() + (timeout_s or self.options["start_timeout_s"])
        last = {}
        while True:
            statuses = {}
            for node in cluster.nodes:
                remote = cluster.remote(node.name)
                if remote.daemon_pid(DAEMON) is None:
                    raise EnvironmentProblem(f"raft on {node.name} exited during startup; "
                                             f"log tail: {self._log_tail(remote)}")
                try:
                    statuses[node.name] = self.client_for(node).status()
                except (OSError, ValueError, http.client.HTTPException) as e:
                    last[node.name] = f"{type(e).__name__}: {e}"
            leaders = {s.get("leader") for s in statuses.values()}
            if len(statuses) == len(cluster.nodes) and len(leaders) == 1 and None not in leaders:
                lead = statuses.get(next(iter(leaders)), {})
                if lead.get("role") == "leader" and lead.get("commit", 0) >= 1:
                    return
            if time.monotonic() > deadline:
                raise EnvironmentProblem(f"raft: no leader known to every node after "
                                         f"{timeout_s or self.options['start_timeout_s']:g} s "
                                         f"(statuses {statuses}, errors {last})")
            time.sleep(0.1)

    def teardown(self, cluster) -> None:
        """Stop every node (a paused one is resumed first so it can exit). Keeps data."""
        errors = []
        for node in cluster.nodes:
            try:
                remote = cluster.remote(node.name)
                if remote.daemon_pid(DAEMON) is not None:
                    remote.signal_daemon(DAEMON, signal.SIGCONT)
                    remote.stop_daemon(DAEMON)
            except Exception as exc:  # noqa: BLE001 - stop the others, then report
                errors.append(f"{node.name}: {exc}")
        if errors:
            raise EnvironmentProblem("raft teardown: " + "; ".join(errors))

    def kill(self, cluster, node) -> None:
        """SIGKILL the node's process and wait until it is gone (no-op if not running)."""
        remote = cluster.remote(_name(node))
        if remote.daemon_pid(DAEMON) is None:
            return
        remote.signal_daemon(DAEMON, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while remote.daemon_pid(DAEMON) is not None:
            if time.monotonic() > deadline:
                raise EnvironmentProblem(f"raft on {_name(node)} still running 10 s after SIGKILL")
            time.sleep(0.02)

    def start(self, cluster, node) -> None:
        """Restart a killed node on its kept data (no-op when running; does not wait)."""
        n = _node(cluster, node)
        remote = cluster.remote(n.name)
        if remote.daemon_pid(DAEMON) is None:
            remote.start_daemon(DAEMON, self.argv(cluster, n))

    def pause(self, cluster, node) -> None:
        cluster.remote(_name(node)).signal_daemon(DAEMON, signal.SIGSTOP)

    def resume(self, cluster, node) -> None:
        cluster.remote(_name(node)).signal_daemon(DAEMON, signal.SIGCONT)

    def primaries(self, cluster) -> list[str]:
        """Nodes whose ``/status`` says ``role: leader`` (unreachable nodes are skipped)."""
        out = []
        for node in cluster.nodes:
            try:
                st = self.client_for(node, timeout_s=1.0).status()
            except (OSError, ValueError, http.client.HTTPException):
                continue
            if st.get("role") == "leader":
                out.append(node.name)
        return sorted(out)

    def log_files(self) -> dict[str, str]:
        """The node's log (stderr of the daemon), relative to the node dir."""
        return {"raft.log": f"logs/{DAEMON}.log"}

    # -- helpers --------------------------------------------------------------------------
    def client_for(self, node, timeout_s: float | None = None) -> "RaftClient":
        o = self.options
        t = timeout_s or min(2.0, o["op_timeout_s"])
        return RaftClient(node.ip, o["client_port"], key=o["key"], op_timeout_s=t,
                          connect_timeout_s=min(t, o["connect_timeout_s"]), node_name=node.name)

    def _log_tail(self, remote, lines: int = 20) -> str:
        path = f"{str(remote.node_dir).rstrip('/')}/logs/{DAEMON}.log"
        try:
            res = remote.run(["tail", "-n", str(lines), path], check=False, timeout=10)
        except Exception as exc:  # noqa: BLE001 - diagnostics only
            return f"(cannot read {path}: {exc})"
        rows = [r.strip() for r in str(res.stdout).splitlines() if r.strip()]
        return " | ".join(rows[-4:]) + f" ({path})"


class _NotSent(Exception):
    pass


class RaftClient:
    """A register client bound to one node's HTTP API, following 409 leader hints once."""

    def __init__(self, host: str, port: int, *, key: str = "r", op_timeout_s: float = 4.0,
                 connect_timeout_s: float = 1.0, node_name: str | None = None):
        self.host, self.port = host, int(port)
        self.key = key
        self.op_timeout_s = float(op_timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.node_name = node_name or host
        self._conns: dict[tuple[str, int], http.client.HTTPConnection] = {}

    def setup(self) -> None:
        """Nothing to prepare: the register starts absent (``None``)."""

    def teardown(self) -> None:
        pass

    def close(self) -> None:
        for c in self._conns.values():
            try:
                c.close()
            except OSError:
                pass
        self._conns.clear()

    # -- transport ----------------------------------------------------------------------
    def _request(self, addr: tuple[str, int], method: str, path: str, body: Any,
                 deadline: float) -> tuple[int, dict]:
        """One HTTP exchange. Raises _NotSent when nothing was sent, OSError/HTTPException/
        ValueError after that (doubt)."""
        conn = self._conns.get(addr)
        if conn is not None and conn.sock is not None:
            # An idle keep-alive connection the server closed reads as EOF: replace it before
            # sending, so its failure is not mistaken for a request that may have been applied.
            try:
                readable, _, _ = select.select([conn.sock], [], [], 0)
            except (OSError, ValueError):
                readable = [True]
            if readable:
                conn.close()
                self._conns.pop(addr, None)
                conn = None
        if conn is None or conn.sock is None:
            conn = http.client.HTTPConnection(addr[0], addr[1], timeout=self.connect_timeout_s)
            try:
                conn.connect()
            except OSError as exc:
                conn.close()
                raise _NotSent(f"connect {addr[0]}:{addr[1]}: {exc or type(exc).__name__}") from exc
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns[addr] = conn
        left = deadline - time.monotonic()
        if left <= 0:
            raise _NotSent("no time left to send")
        conn.sock.settimeout(left)
        data = json.dumps(body).encode() if body is not None else None
        try:
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
        except BaseException:
            conn.close()
            self._conns.pop(addr, None)
            raise
        if resp.will_close:
            conn.close()
            self._conns.pop(addr, None)
        doc = json.loads(raw) if raw else {}
        if not isinstance(doc, dict):
            raise ValueError("answer is not a JSON object")
        return resp.status, doc

    def _call(self, method: str, path: str, body: Any) -> tuple[str, int | None, dict | str]:
        """``("answer", status, doc)`` or ``("notsent", None, why)`` or ``("doubt", None, why)``."""
        deadline = time.monotonic() + self.op_timeout_s
        addr = (self.host, self.port)
        for _attempt in range(2):
            try:
                status, doc = self._request(addr, method, path, body, deadline)
            except _NotSent as e:
                return "notsent", None, str(e)
            except (OSError, http.client.HTTPException, ValueError) as e:
                what = "timeout" if isinstance(e, (socket.timeout, TimeoutError)) else \
                    f"{type(e).__name__}: {e}"
                return "doubt", None, what
            if status == 409 and doc.get("leader_http") and _attempt == 0:
                host, _, port = str(doc["leader_http"]).rpartition(":")
                if port.isdigit() and (host, int(port)) != addr:
                    addr = (host, int(port))
                    continue
            return "answer", status, doc
        return "answer", status, doc

    # -- client protocol ----------------------------------------------------------------
    def invoke(self, op: dict) -> dict:
        """Run one register op; return its completion (a new dict)."""
        f = op.get("f")
        key = str(op.get("key", self.key))
        value = op.get("value")
        done = dict(op)
        done.pop("error", None)
        path = "/kv/" + quote(key, safe="")
        if f == "read":
            kind, status, doc = self._call("GET", path, None)
        elif f == "write":
            kind, status, doc = self._call("PUT", path, {"value": value})
        elif f == "cas":
            if not (isinstance(value, (list, tuple)) and len(value) == 2):
                done.update(type="fail", error=f"cas value must be [from, to], got {value!r}")
                return done
            kind, status, doc = self._call("POST", path + "/cas", {"from": value[0], "to": value[1]})
        else:
            done.update(type="fail", error=f"unsupported op f={f!r} (raft register client)")
            return done
        if kind != "answer":
            definite = kind == "notsent" or f == "read"
            done.update(type="fail" if definite else "info", error=str(doc))
            if f == "read":
                done["value"] = None
            return done
        if status == 200:
            if f == "read":
                done.update(type="ok", value=doc.get("value"))
            elif f == "cas" and doc.get("ok") is not True:
                done.update(type="fail", error=f"cas: compare failed (value {doc.get('value')!r})")
            else:
                done.update(type="ok")
            return done
        err = f"HTTP {status}: {doc.get('error', '')}".rstrip(": ")
        definite = f == "read" or 400 <= status < 500 or doc.get("outcome") == "failed"
        done.update(type="fail" if definite else "info", error=err)
        if f == "read":
            done["value"] = None
        return done

    def status(self) -> dict:
        """``GET /status`` (raises OSError/ValueError/HTTPException on failure)."""
        deadline = time.monotonic() + self.op_timeout_s
        try:
            status, doc = self._request((self.host, self.port), "GET", "/status", None, deadline)
        except _NotSent as e:
            raise ConnectionError(str(e)) from None
        finally:
            self.close()
        if status != 200:
            raise ValueError(f"status: HTTP {status}")
        return doc


class RaftClientFactory:
    """``open(node)`` gives a new :class:`RaftClient` bound to ``node.ip`` and ``client_port``."""

    def __init__(self, options: dict | None = None):
        self.options = normalize_options(options)

    def open(self, node) -> RaftClient:
        host = node if isinstance(node, str) else node.ip
        name = node if isinstance(node, str) else getattr(node, "name", host)
        o = self.options
        return RaftClient(host, o["client_port"], key=o["key"], op_timeout_s=o["op_timeout_s"],
                          connect_timeout_s=o["connect_timeout_s"], node_name=name)
