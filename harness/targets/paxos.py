"""paxos target: deploy the reference Multi-Paxos store (``splitbrain node paxos``) and talk to it.

``PaxosDB(options)`` is the DB half (setup, teardown, kill/start, pause/resume, primaries,
log_files); ``PaxosClientFactory(options)`` opens clients on the HTTP API. The store speaks the
very HTTP API of the reference Raft store (DESIGN.md, "Reference implementations"), so the
clients are :class:`~harness.targets.raft.RaftClient` s: every workload the raft target supports
runs unchanged, with the same ok/fail/info rules (see :mod:`harness.targets.raft`).

Each node runs ``<python> -m harness.cli node paxos --id n1 --listen IP:PEER --http IP:CLIENT
--peers n1=IP:PEER,... --data <node_dir>/data/paxos`` through ``remote.start_daemon("paxos",
...)``, with the interpreter the backend names for splitbrain's own code
(:func:`harness.control.splitbrain_runtime.splitbrain_command`; option ``python`` overrides it).

Options (:data:`DEFAULTS`; unknown keys and ill-typed values raise InputError): ports, timeouts,
``max_batch`` (most slots per phase-2 message), ``check_quorum`` (default true; false lets a
leader that lost its majority go on leading, which is still safe) and the planted ``bug`` (see
:mod:`reference_impl.bugs`: ``stale-read``, ``no-fsync``, ``skip-promise-check``,
``forget-accepted``).
"""

from __future__ import annotations

from typing import Any

from harness.control.splitbrain_runtime import splitbrain_command
from harness.errors import InputError
from harness.targets.raft import RaftClientFactory
from harness.targets.reference_store import ReferenceStoreDB

__all__ = ["DEFAULTS", "PaxosDB", "PaxosClientFactory", "normalize_options"]

DAEMON = "paxos"

DEFAULTS: dict[str, Any] = {
    "peer_port": 7070,
    "client_port": 7071,
    "key": "r",
    "op_timeout_s": 4.0,          # whole request (< the interpreter's 5 s op timeout)
    "connect_timeout_s": 1.0,
    "election_timeout_ms": 500,
    "heartbeat_ms": 50,
    "max_batch": 512,
    "check_quorum": True,         # False: a leader that lost its majority keeps leading
    "start_timeout_s": 30.0,
    "python": None,               # interpreter on the nodes (default: the backend's)
    "bug": None,
}


def normalize_options(options: dict | None) -> dict:
    """``DEFAULTS`` updated with ``options``, validated (InputError names the bad option)."""
    from reference_impl.bugs import check_bug

    options = dict(options or {})
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise InputError(f"paxos: unknown option {unknown[0]!r} "
                         f"(valid: {', '.join(sorted(DEFAULTS))})")
    o = {**DEFAULTS, **options}
    for name in ("peer_port", "client_port", "election_timeout_ms", "heartbeat_ms", "max_batch"):
        v = o[name]
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise InputError(f"paxos: option {name}: expected a positive integer, got {v!r}")
    for name in ("peer_port", "client_port"):
        if o[name] > 65535:
            raise InputError(f"paxos: option {name}: out of range ({o[name]})")
    if o["peer_port"] == o["client_port"]:
        raise InputError("paxos: options peer_port and client_port must differ")
    for name in ("op_timeout_s", "connect_timeout_s", "start_timeout_s"):
        v = o[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise InputError(f"paxos: option {name}: expected a number > 0, got {v!r}")
    if o["heartbeat_ms"] * 2 >= o["election_timeout_ms"]:
        raise InputError("paxos: option heartbeat_ms must be less than half of "
                         "election_timeout_ms")
    if not isinstance(o["check_quorum"], bool):
        raise InputError(f"paxos: option check_quorum: expected true or false, "
                         f"got {o['check_quorum']!r}")
    if not isinstance(o["key"], str) or not o["key"]:
        raise InputError(f"paxos: option key: expected a non-empty string, got {o['key']!r}")
    if o["python"] is not None and (not isinstance(o["python"], str) or not o["python"]):
        raise InputError(f"paxos: option python: expected a path, got {o['python']!r}")
    try:
        o["bug"] = check_bug(o["bug"], "paxos")
    except ValueError as e:
        raise InputError(f"paxos: option bug: {e}") from None
    return o


class PaxosDB(ReferenceStoreDB):
    """Deploys one reference Multi-Paxos node per cluster node. Capabilities: kill/start,
    pause/resume, primaries, log_files (:class:`~harness.targets.reference_store.ReferenceStoreDB`;
    ready once one node leads, i.e. its phase 1 is done, and every node names it)."""

    daemon = DAEMON

    def __init__(self, options: dict | None = None):
        self.options = normalize_options(options)

    def argv(self, cluster, node) -> list[str]:
        o = self.options
        remote = cluster.remote(node.name)
        peers = ",".join(f"{n.name}={n.ip}:{o['peer_port']}" for n in cluster.nodes)
        python, _env = splitbrain_command(remote, o["python"])
        argv = [*python, "-m", "harness.cli", "node", "paxos",
                "--id", node.name, "--listen", f"{node.ip}:{o['peer_port']}",
                "--http", f"{node.ip}:{o['client_port']}", "--peers", peers,
                "--data", self.data_dir(remote),
                "--election-timeout", str(o["election_timeout_ms"]),
                "--heartbeat", str(o["heartbeat_ms"]),
                "--max-batch", str(o["max_batch"])]
        if not o["check_quorum"]:
            argv += ["--no-check-quorum"]
        if o["bug"]:
            argv += ["--bug", o["bug"]]
        return argv


class PaxosClientFactory(RaftClientFactory):
    """``open(node)`` gives a new client bound to ``node.ip`` and ``client_port`` (the raft
    target's client: the two stores share the HTTP API)."""

    def __init__(self, options: dict | None = None):
        self.options = normalize_options(options)
        self.workload = None
        self.workload_options = {}

    def use_workload(self, workload) -> None:
        """Speak ``workload``'s ops (see :mod:`harness.targets.raft_workloads`)."""
        try:
            super().use_workload(workload)
        except InputError as e:
            raise InputError(str(e).replace("raft:", "paxos:", 1)) from None
