"""etcd target: deploy etcd 3.4 (Debian ``etcd-server``) on the run's nodes and talk to it.

``EtcdDB(options)`` is the DB half (setup, teardown, kill/start, pause/resume, primaries,
log_files); ``EtcdClientFactory(options)`` (from :mod:`harness.targets.etcd_client`) opens
register clients on the v3 JSON gateway. Both take the same options dict (see :data:`DEFAULTS`);
unknown keys and ill-typed values raise :class:`~harness.errors.InputError`.

Each node runs one etcd, started through ``remote.start_daemon("etcd", argv)`` with its data in
``<remote.node_dir>/data/etcd`` (wiped by ``setup``, kept by ``kill``/``start``), listening on
the node's IP only (``client_port``, ``peer_port``). The cluster token is the run's prefix.
etcd's own log goes to stderr, i.e. into the daemon log file that ``start_daemon`` keeps.

etcd is a statically linked Go binary: libfaketime (LD_PRELOAD) cannot change its clock, so clock
nemeses have no effect on it.
"""

from __future__ import annotations

import http.client
import json
import re
import shlex
import signal
import time
from typing import Any

from harness.errors import EnvironmentProblem, InputError
from harness.targets.etcd_client import EtcdClient, EtcdClientFactory, RequestError
from harness.targets.node_ref import node_name, resolve_node

__all__ = ["DEFAULTS", "EtcdDB", "EtcdClient", "EtcdClientFactory", "normalize_options"]

DAEMON = "etcd"

DEFAULTS: dict[str, Any] = {
    "binary": "etcd",              # the etcd executable on the nodes (PATH lookup or a path)
    "client_port": 2379,
    "peer_port": 2380,
    "serializable": False,         # serializable (local, possibly stale) reads instead of quorum
    "key": "r",                    # the register's key
    "op_timeout_s": 4.0,           # whole request, connect included (< the interpreter's 5 s)
    "connect_timeout_s": None,     # default min(op_timeout_s, 2)
    "heartbeat_interval_ms": 100,
    "election_timeout_ms": 1000,
    "start_timeout_s": 60.0,       # setup/start: deadline for every member to be healthy
    "snapshot_count": None,        # --snapshot-count when set (small values exercise snapshots)
    "extra_args": [],              # appended to etcd's argv
}

_NUMBER = (int, float)


def _check_type(name: str, value: Any, types, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise InputError(f"etcd: option {name}: expected a number, got {value!r}")
    if not isinstance(value, types):
        raise InputError(f"etcd: option {name}: wrong type {type(value).__name__} ({value!r})")


def normalize_options(options: dict | None) -> dict:
    """``DEFAULTS`` updated with ``options``, validated (InputError names the bad option)."""
    options = dict(options or {})
    if options.get("bug") is not None:
        raise InputError(f"etcd: option bug: etcd has no planted bugs ({options['bug']!r}); "
                         "--bug is for the reference raft and paxos stores")
    options.pop("bug", None)
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise InputError(f"etcd: unknown option {unknown[0]!r} (valid: {', '.join(sorted(DEFAULTS))})")
    o = {**DEFAULTS, **options}
    _check_type("binary", o["binary"], str)
    _check_type("key", o["key"], str)
    _check_type("serializable", o["serializable"], bool)
    for name in ("client_port", "peer_port", "heartbeat_interval_ms", "election_timeout_ms"):
        _check_type(name, o[name], int)
        if o[name] <= 0 or (name.endswith("port") and o[name] > 65535):
            raise InputError(f"etcd: option {name}: out of range ({o[name]})")
    if o["client_port"] == o["peer_port"]:
        raise InputError("etcd: options client_port and peer_port must differ")
    for name in ("op_timeout_s", "start_timeout_s"):
        _check_type(name, o[name], _NUMBER)
        if o[name] <= 0:
            raise InputError(f"etcd: option {name}: must be > 0 ({o[name]})")
    _check_type("connect_timeout_s", o["connect_timeout_s"], _NUMBER, allow_none=True)
    if o["connect_timeout_s"] is not None and o["connect_timeout_s"] <= 0:
        raise InputError(f"etcd: option connect_timeout_s: must be > 0 ({o['connect_timeout_s']})")
    _check_type("snapshot_count", o["snapshot_count"], int, allow_none=True)
    if o["election_timeout_ms"] < 5 * o["heartbeat_interval_ms"]:
        raise InputError("etcd: option election_timeout_ms: must be at least 5x heartbeat_interval_ms")
    if not isinstance(o["extra_args"], (list, tuple)) or not all(isinstance(a, str) for a in o["extra_args"]):
        raise InputError("etcd: option extra_args: expected a list of strings")
    o["extra_args"] = list(o["extra_args"])
    return o


class EtcdDB:
    """Deploys one etcd member per node. Capabilities: kill/start, pause/resume, primaries."""

    #: Why clock nemeses cannot reach etcd (nemesis/clock.py reports it in every clock op).
    faketime_unsupported = ("etcd is a statically linked Go binary: it ignores LD_PRELOAD, so "
                            "libfaketime cannot skew its clock")

    def __init__(self, options: dict | None = None):
        self.options = normalize_options(options)

    # -- argv -----------------------------------------------------------------------------
    def data_dir(self, remote) -> str:
        return f"{str(remote.node_dir).rstrip('/')}/data/etcd"

    def argv(self, cluster, node, state: str) -> list[str]:
        """etcd's command line for ``node`` (``state`` is ``"new"`` or ``"existing"``)."""
        o = self.options
        remote = cluster.remote(node.name)
        peer = f"http://{node.ip}:{o['peer_port']}"
        client = f"http://{node.ip}:{o['client_port']}"
        initial = ",".join(f"{n.name}=http://{n.ip}:{o['peer_port']}" for n in cluster.nodes)
        argv = [
            o["binary"],
            "--name", node.name,
            "--data-dir", self.data_dir(remote),
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--listen-client-urls", client,
            "--advertise-client-urls", client,
            "--initial-cluster", initial,
            "--initial-cluster-state", state,
            "--initial-cluster-token", str(cluster.prefix),
            "--pre-vote",
            "--heartbeat-interval", str(o["heartbeat_interval_ms"]),
            "--election-timeout", str(o["election_timeout_ms"]),
            "--logger", "zap",
            "--log-outputs", "stderr",
        ]
        if o["snapshot_count"] is not None:
            argv += ["--snapshot-count", str(o["snapshot_count"])]
        return argv + o["extra_args"]

    # -- lifecycle ------------------------------------------------------------------------
    def setup(self, cluster) -> None:
        """Wipe each node's data dir, start a fresh cluster, wait until all members are healthy."""
        for node in cluster.nodes:
            remote = cluster.remote(node.name)
            if remote.daemon_pid(DAEMON) is not None:
                remote.stop_daemon(DAEMON)
            d = self.data_dir(remote)
            remote.run(["rm", "-rf", d])
            remote.run(["mkdir", "-p", d])
        for node in cluster.nodes:
            self._start(cluster, node, "new")
        self.wait_healthy(cluster, [n.name for n in cluster.nodes])

    def teardown(self, cluster) -> None:
        """Stop every node's etcd (a paused one is resumed first so it can exit). Keeps data."""
        errors = []
        for node in cluster.nodes:
            try:
                remote = cluster.remote(node.name)
                if remote.daemon_pid(DAEMON) is not None:
                    try:
                        remote.signal_daemon(DAEMON, signal.SIGCONT)
                    except Exception:  # noqa: BLE001 - best effort before stopping
                        pass
                    remote.stop_daemon(DAEMON)
            except Exception as exc:  # noqa: BLE001 - stop the others, then report
                errors.append(f"{node.name}: {exc}")
        if errors:
            raise EnvironmentProblem("etcd teardown: " + "; ".join(errors))

    def kill(self, cluster, node) -> None:
        """SIGKILL the node's etcd and wait until it is gone (no-op if not running)."""
        remote = cluster.remote(node_name(node))
        pid = remote.daemon_pid(DAEMON)
        if pid is None:
            return
        remote.signal_daemon(DAEMON, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while remote.daemon_pid(DAEMON) is not None or _threads_alive(remote, pid):
            if time.monotonic() > deadline:
                raise EnvironmentProblem(f"etcd on {node_name(node)} still running 10 s after SIGKILL")
            time.sleep(0.05)

    def start(self, cluster, node) -> None:
        """Restart a killed member on its kept data (``--initial-cluster-state existing``).

        No-op when it is running. Does not wait for health: a restarted member may stay
        unhealthy while a partition cuts it off, and the run goes on regardless.
        """
        n = _node(cluster, node)
        remote = cluster.remote(n.name)
        if remote.daemon_pid(DAEMON) is not None:
            return
        self._start(cluster, n, "existing")

    def pause(self, cluster, node) -> None:
        cluster.remote(node_name(node)).signal_daemon(DAEMON, signal.SIGSTOP)

    def resume(self, cluster, node) -> None:
        cluster.remote(node_name(node)).signal_daemon(DAEMON, signal.SIGCONT)

    def primaries(self, cluster) -> list[str]:
        """Names of the nodes that currently believe they are the leader (usually one).

        Asks each node's ``/v3/maintenance/status`` (short timeout; unreachable nodes are
        skipped): a node is a primary when its ``leader`` equals its own ``member_id``.
        """
        leaders = []
        timeout = min(2.0, self.options["op_timeout_s"])
        for node in cluster.nodes:
            client = EtcdClient(node.ip, self.options["client_port"], op_timeout_s=timeout,
                                connect_timeout_s=timeout, node_name=node.name)
            try:
                st = client.status()
            except (RequestError, ValueError):
                continue
            finally:
                client.close()
            member = str((st.get("header") or {}).get("member_id", ""))
            if member and str(st.get("leader", "")) == member:
                leaders.append(node.name)
        return sorted(leaders)

    def log_files(self) -> dict[str, str]:
        """``{"etcd.log": "logs/etcd.log"}``: etcd logs to stderr, which ``start_daemon`` appends
        to ``<node_dir>/logs/etcd.log``; the path is relative to the node dir (``Remote.download``
        and ``Cluster.download_logs`` take it so)."""
        return {"etcd.log": f"logs/{DAEMON}.log"}

    # -- helpers --------------------------------------------------------------------------
    def _start(self, cluster, node, state: str) -> None:
        remote = cluster.remote(node.name)
        remote.start_daemon(DAEMON, self.argv(cluster, node, state))

    def health(self, node) -> tuple[bool, str]:
        """``(healthy, detail)`` from ``GET /health`` on ``node`` (needs a leader and quorum)."""
        timeout = min(2.0, self.options["op_timeout_s"])
        conn = http.client.HTTPConnection(node.ip, self.options["client_port"], timeout=timeout)
        try:
            conn.request("GET", "/health")
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            return False, f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        try:
            ok = resp.status == 200 and json.loads(raw).get("health") == "true"
        except (ValueError, AttributeError):
            ok = False
        return ok, f"HTTP {resp.status} {raw[:200].decode('utf-8', 'replace').strip()}"

    def wait_healthy(self, cluster, names, timeout_s: float | None = None) -> None:
        """Wait until every named member answers ``/health`` true; else EnvironmentProblem."""
        deadline = time.monotonic() + (timeout_s or self.options["start_timeout_s"])
        pending = {n.name: n for n in cluster.nodes if n.name in set(names)}
        last: dict[str, str] = {}
        while pending:
            for name, node in list(pending.items()):
                remote = cluster.remote(name)
                if remote.daemon_pid(DAEMON) is None:
                    raise EnvironmentProblem(
                        f"etcd on {name} exited during startup; log tail: {self._log_tail(remote)}")
                ok, detail = self.health(node)
                if ok:
                    del pending[name]
                else:
                    last[name] = detail
            if not pending:
                return
            if time.monotonic() > deadline:
                name = sorted(pending)[0]
                raise EnvironmentProblem(
                    f"etcd on {name} not healthy after {timeout_s or self.options['start_timeout_s']:g} s "
                    f"(last: {last.get(name)}); log tail: {self._log_tail(cluster.remote(name))}")
            time.sleep(0.2)

    def _log_tail(self, remote, lines: int = 300) -> str:
        """One line about why etcd failed: the last error-looking lines of its log, then its
        last lines (etcd prints a flag error first and its usage after it)."""
        path = _daemon_log_path(remote)
        try:
            res = remote.run(["tail", "-n", str(lines), path], check=False, timeout=10)
        except Exception as exc:  # noqa: BLE001 - diagnostics only
            return f"(cannot read {path}: {exc})"
        out = res.stdout.decode("utf-8", "replace") if isinstance(res.stdout, bytes) else str(res.stdout)
        rows = [line.strip()[:300] for line in out.splitlines() if line.strip()]
        if not rows:
            return f"({path} is empty)"
        errors = [r for r in rows if _ERROR_RE.search(r)][-4:]
        last = [r for r in rows[-3:] if r not in errors]
        return " | ".join(errors + (["..."] if errors and last else []) + last) + f" ({path})"


_ERROR_RE = re.compile(r"error|fatal|panic|flag provided|not defined|invalid|cannot|failed",
                       re.IGNORECASE)


def _node(cluster, node):
    return resolve_node(cluster, node, "etcd")


def _threads_alive(remote, pid: int) -> bool:
    """True while some thread of ``pid`` is not yet a zombie.

    A killed Go process's main thread can be a zombie (which ``daemon_pid`` counts as gone)
    while its other threads are still exiting and hold its sockets and its data-dir lock; a
    restart in that window fails to bind or to lock. So ``kill`` waits for every thread.
    """
    res = remote.run(["sh", "-c", f"cat /proc/{int(pid)}/task/*/stat 2>/dev/null; true"],
                     check=False, timeout=10)
    for line in str(res.stdout).splitlines():
        rest = line[line.rfind(")") + 2:].split()
        if rest and rest[0] not in ("Z", "X", "x"):
            return True
    return False


def _daemon_log_path(remote) -> str:
    """Where ``start_daemon`` appends the etcd daemon's output on the node (Remote contract)."""
    return f"{str(remote.node_dir).rstrip('/')}/logs/{DAEMON}.log"


def command_line(argv: list[str]) -> str:
    """A shell-quoted rendering of an argv, for logs and docs."""
    return " ".join(shlex.quote(a) for a in argv)
