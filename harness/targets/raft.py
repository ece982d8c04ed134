"""raft target: deploy the reference Raft store (``splitbrain node raft``) and talk to it.

``RaftDB(options)`` is the DB half (setup, teardown, kill/start, pause/resume, primaries,
log_files, and membership changes: ``remove_member``/``add_member``, used by the ``membership``
nemesis); ``RaftClientFactory(options)`` opens clients on the HTTP API: register clients,
or, after ``use_workload(w)``, clients of any workload in
:data:`harness.targets.raft_workloads.SUPPORTED` (how each maps to the API is documented there). Options
(:data:`DEFAULTS`; unknown keys and ill-typed values raise InputError): ports, timeouts, the
planted ``bug`` (see :mod:`reference_impl.bugs`).

Each node runs ``<python> -m harness.cli node raft --id n1 --listen IP:PEER --http IP:CLIENT
--peers n1=IP:PEER,... --data <node_dir>/data/raft`` through ``remote.start_daemon("raft", ...)``
with the interpreter the backend names for splitbrain's own code
(:func:`harness.control.splitbrain_runtime.splitbrain_command`): the controller's own
``sys.executable`` on the local backend (namespaces of this host see the same installed
splitbrain), the image's ``python3`` on docker, and ``python3`` with a copy of the source on ssh
hosts. Option ``python`` overrides it.

Register ops on one key (option ``key``, default ``"r"``; an op may carry its own ``"key"``):
``read`` -> ``GET /kv/<key>``, ``write`` -> ``PUT /kv/<key>``, ``cas [a, b]`` ->
``POST /kv/<key>/cas``. A node that is not the leader answers 409 with the leader's client
address; the client then asks that leader (a 409 is a definite "not done", so retrying is
safe), and retries definite "not done" answers after a short pause while the op has time left
(``RaftClient._call``): during an election the op waits for the new leader instead of failing
at once.

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
import socket
import time
from typing import Any
from urllib.parse import quote

from harness.control.splitbrain_runtime import splitbrain_command
from harness.errors import InputError
from harness.targets.keepalive_http import KeepAliveConnections, NotSent
from harness.targets.reference_store import ReferenceStoreDB

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
    "pre_vote": True,             # False: the paper's elections, without pre-vote (thesis 9.6)
    "start_timeout_s": 30.0,
    "python": None,               # interpreter on the nodes (default: the backend's, see above)
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
    if not isinstance(o["pre_vote"], bool):
        raise InputError(f"raft: option pre_vote: expected true or false, got {o['pre_vote']!r}")
    if not isinstance(o["key"], str) or not o["key"]:
        raise InputError(f"raft: option key: expected a non-empty string, got {o['key']!r}")
    try:
        o["bug"] = check_bug(o["bug"])
    except ValueError as e:
        raise InputError(f"raft: option bug: {e}") from None
    return o


#: How long a membership change may take, retries included (an election may be going on).
MEMBER_CHANGE_TIMEOUT_S = 15.0


class RaftDB(ReferenceStoreDB):
    """Deploys one reference Raft node per cluster node. Capabilities: kill/start,
    pause/resume, primaries, log_files
    (:class:`~harness.targets.reference_store.ReferenceStoreDB`), remove_member/add_member
    (single-server membership changes, ``POST /admin/members``) and vote_log (for the
    vote-crash nemesis)."""

    daemon = DAEMON

    def __init__(self, options: dict | None = None):
        self.options = normalize_options(options)

    def argv(self, cluster, node) -> list[str]:
        o = self.options
        remote = cluster.remote(node.name)
        peers = ",".join(f"{n.name}={n.ip}:{o['peer_port']}" for n in cluster.nodes)
        python, _env = splitbrain_command(remote, o["python"])
        argv = [*python, "-m", "harness.cli", "node", "raft",
                "--id", node.name, "--listen", f"{node.ip}:{o['peer_port']}",
                "--http", f"{node.ip}:{o['client_port']}", "--peers", peers,
                "--data", self.data_dir(remote),
                "--election-timeout", str(o["election_timeout_ms"]),
                "--heartbeat", str(o["heartbeat_ms"]),
                "--snapshot-every", str(o["snapshot_every"])]
        if not o["pre_vote"]:
            argv += ["--no-pre-vote"]
        if o["bug"]:
            argv += ["--bug", o["bug"]]
        return argv

    def vote_log(self, cluster, node) -> tuple[str, str]:
        """Where and how the node logs a granted vote (for the vote-crash nemesis): its log
        file, as a path on the node, and a pattern whose groups are the candidate and the term."""
        n = self._node(cluster, node)
        remote = cluster.remote(n.name)
        return (f"{str(remote.node_dir).rstrip('/')}/logs/{self.daemon}.log",
                r": voted for (\S+) in term (\d+)")

    def leader_ready(self, status: dict) -> bool:
        """The leader has committed an entry of its term (its no-op), so it can serve reads."""
        return status.get("role") == "leader" and status.get("commit", 0) >= 1

    # -- membership ---------------------------------------------------------------------
    def remove_member(self, cluster, node) -> list[str]:
        """Make ``node`` a non-voter (it keeps receiving the log); returns the voters once the
        change committed. Raises EnvironmentProblem when no leader did it within
        :data:`MEMBER_CHANGE_TIMEOUT_S` seconds."""
        return self._change_members(cluster, "remove", node)

    def add_member(self, cluster, node) -> list[str]:
        """Make ``node`` a voter again; returns the voters once the change committed (at once
        when it already is one)."""
        return self._change_members(cluster, "add", node)

    def _change_members(self, cluster, verb: str, node) -> list[str]:
        """``POST /admin/members {verb: name}`` through any live node (409s lead to the leader),
        retried while the answer is a definite "not now" (no leader, an earlier change not
        committed yet) or a doubt (a retry of a committed change is a no-op)."""
        from harness.errors import EnvironmentProblem

        name = self._node(cluster, node).name
        deadline = time.monotonic() + MEMBER_CHANGE_TIMEOUT_S
        nodes = list(cluster.nodes)
        attempt, last = 0, "no answer"
        while True:
            entry = nodes[attempt % len(nodes)]
            attempt += 1
            client = self.client_for(entry, timeout_s=self.options["op_timeout_s"])
            try:
                kind, status, doc = client._call(
                    "POST", "/admin/members", {verb: name},
                    deadline=min(deadline, time.monotonic() + self.options["op_timeout_s"]))
            finally:
                client.close()
            if kind == "answer" and status == 200 and isinstance(doc.get("voters"), list):
                return sorted(doc["voters"])
            if kind == "answer" and status == 400:
                raise EnvironmentProblem(f"raft: {verb} member {name}: {doc.get('error')}")
            last = (f"HTTP {status}: {doc.get('error', '')}" if kind == "answer"
                    else f"{kind}: {doc}")
            if time.monotonic() + 0.2 > deadline:
                raise EnvironmentProblem(f"raft: {verb} member {name}: not done within "
                                         f"{MEMBER_CHANGE_TIMEOUT_S:g} s (last: {last})")
            time.sleep(0.2)


#: Leader hints followed in a row before pausing (two stale hints can point at each other).
MAX_HOPS = 3
#: First pause before retrying a definite "not done" answer; doubles up to the maximum.
RETRY_PAUSE_S = 0.05
MAX_RETRY_PAUSE_S = 0.4
#: A retry is only started while this much of the op's time is left.
MIN_ATTEMPT_S = 1.0


def _address(text) -> tuple[str, int] | None:
    """``"ip:port"`` as ``(ip, port)``; None when absent or malformed."""
    host, _, port = str(text or "").rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None


class RaftClient:
    """A register client bound to one node's HTTP API, following 409 leader hints and retrying
    definite "not done" answers within the op's time (:meth:`_call`)."""

    def __init__(self, host: str, port: int, *, key: str = "r", op_timeout_s: float = 4.0,
                 connect_timeout_s: float = 1.0, node_name: str | None = None,
                 workload: str | None = None, workload_options: dict | None = None):
        self.host, self.port = host, int(port)
        self.key = key
        self.op_timeout_s = float(op_timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.node_name = node_name or host
        self._http = KeepAliveConnections(self.connect_timeout_s)
        #: Ops of workloads other than the register (harness.targets.raft_workloads).
        self.workload_ops = None
        if workload not in (None, "register"):
            from harness.targets.raft_workloads import RaftWorkloadOps
            self.workload_ops = RaftWorkloadOps(self, workload, workload_options)

    def setup(self) -> None:
        """The register starts absent (``None``); other workloads may prepare keys (the bank's
        initial balances)."""
        if self.workload_ops is not None:
            self.workload_ops.setup()

    def teardown(self) -> None:
        pass

    def close(self) -> None:
        self._http.close()

    # -- transport ----------------------------------------------------------------------
    def _request(self, addr: tuple[str, int], method: str, path: str, body: Any,
                 deadline: float) -> tuple[int, dict]:
        """One HTTP exchange. Raises NotSent when nothing was sent, OSError/HTTPException/
        ValueError after that (doubt)."""
        data = json.dumps(body).encode() if body is not None else None
        status, raw = self._http.request(addr, method, path, data,
                                         {"Content-Type": "application/json"}, deadline)
        doc = json.loads(raw) if raw else {}
        if not isinstance(doc, dict):
            raise ValueError("answer is not a JSON object")
        return status, doc

    def _call(self, method: str, path: str, body: Any,
              deadline: float | None = None) -> tuple[str, int | None, dict | str]:
        """``("answer", status, doc)`` or ``("notsent", None, why)`` or ``("doubt", None, why)``.
        ``deadline`` (monotonic seconds; default now + ``op_timeout_s``) bounds the exchange.

        Retries while every attempt so far *certainly* did not take effect: a 409 is followed to
        the leader it names (at most :data:`MAX_HOPS` hops in a row), and a 409 naming no leader,
        a 503 ``"outcome": "failed"`` or a refused connection is retried on the bound node after
        a short pause (an election is usually over within one timeout). Retrying is then the
        same as a new request sent later within the op's window, so it changes no verdict; it
        only turns the fast stream of "not the leader" failures during an election into ops
        that succeed or that fail once, after waiting. A retry is only started while at least
        :data:`MIN_ATTEMPT_S` is left; then the last definite answer is returned. Any doubt
        (timeout, dropped connection, 5xx ``unknown``) returns at once."""
        if deadline is None:
            deadline = time.monotonic() + self.op_timeout_s
        home = (self.host, self.port)
        addr, hops, pause = home, 0, RETRY_PAUSE_S
        while True:
            try:
                status, doc = self._request(addr, method, path, body, deadline)
            except NotSent as e:
                last: tuple[str, int | None, dict | str] = ("notsent", None, str(e))
            except (OSError, http.client.HTTPException, ValueError) as e:
                what = "timeout" if isinstance(e, (socket.timeout, TimeoutError)) else \
                    f"{type(e).__name__}: {e}"
                return "doubt", None, what
            else:
                last = ("answer", status, doc)
                if status == 409:
                    hint = _address(doc.get("leader_http"))
                    if hint is not None and hint != addr and hops < MAX_HOPS:
                        addr, hops = hint, hops + 1
                        continue
                elif not (status == 503 and doc.get("outcome") == "failed"):
                    return last
            # Definitely not done: pause, then ask the bound node again while time is left.
            if time.monotonic() + pause + MIN_ATTEMPT_S > deadline:
                return last
            time.sleep(pause)
            pause = min(pause * 2, MAX_RETRY_PAUSE_S)
            addr, hops = home, 0

    # -- client protocol ----------------------------------------------------------------
    def invoke(self, op: dict) -> dict:
        """Run one op; return its completion (a new dict)."""
        if self.workload_ops is not None:
            return self.workload_ops.invoke(op)
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
        except NotSent as e:
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
        self.workload: str | None = None
        self.workload_options: dict = {}

    def use_workload(self, workload) -> None:
        """Speak ``workload``'s ops (a workload object with ``name`` and ``options``); the
        runner calls this before the run. InputError when the store cannot express it."""
        from harness.targets.raft_workloads import SUPPORTED

        if workload.name not in SUPPORTED:
            raise InputError(f"raft: workload {workload.name!r} is not supported "
                             f"(supported: {', '.join(SUPPORTED)})")
        self.workload = workload.name
        self.workload_options = dict(getattr(workload, "options", {}) or {})

    def open(self, node) -> RaftClient:
        host = node if isinstance(node, str) else node.ip
        name = node if isinstance(node, str) else getattr(node, "name", host)
        o = self.options
        return RaftClient(host, o["client_port"], key=o["key"], op_timeout_s=o["op_timeout_s"],
                          connect_timeout_s=o["connect_timeout_s"], node_name=name,
                          workload=self.workload, workload_options=self.workload_options)
