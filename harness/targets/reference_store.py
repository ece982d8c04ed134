"""The DB half shared by the targets of splitbrain's own stores (``raft``, ``paxos``).

Both stores run as ``splitbrain node <store> ...`` daemons and speak the same HTTP API, so
deploying, waiting for a leader, killing, pausing and finding primaries are the same; a subclass
names its daemon (:attr:`ReferenceStoreDB.daemon`) and builds its command line (``argv``).
"""

from __future__ import annotations

import http.client
import signal
import time

from harness.control.splitbrain_runtime import splitbrain_command
from harness.errors import EnvironmentProblem
from harness.targets.node_ref import node_name, resolve_node


def each_node(cluster, fn, raise_first: bool = True) -> list[str]:
    """``fn(node)`` for every node, in parallel. Every node is tried; with ``raise_first`` the
    first error (in node order) is raised, else ``["n1: error", ...]`` is returned."""
    from concurrent.futures import ThreadPoolExecutor

    nodes = list(cluster.nodes)
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(nodes)))) as pool:
        futures = [(n, pool.submit(fn, n)) for n in nodes]
    errors = []
    for n, fut in futures:
        exc = fut.exception()
        if exc is not None:
            if raise_first:
                raise exc
            errors.append(f"{n.name}: {exc}")
    return errors


class ReferenceStoreDB:
    """Deploys one reference-store node per cluster node. Capabilities: kill/start,
    pause/resume, primaries, log_files. Subclasses set :attr:`daemon`, ``self.options`` (with
    ``python``, ``client_port``, ``key``, ``op_timeout_s``, ``connect_timeout_s``,
    ``start_timeout_s``) and implement ``argv(cluster, node)``."""

    #: The daemon's name: ``splitbrain node <daemon>``, its pid file, log and data dir.
    daemon = ""
    options: dict

    def argv(self, cluster, node) -> list[str]:
        raise NotImplementedError

    def data_dir(self, remote) -> str:
        return f"{str(remote.node_dir).rstrip('/')}/data/{self.daemon}"

    def _node(self, cluster, node):
        return resolve_node(cluster, node, self.daemon)

    def _start(self, cluster, node) -> None:
        remote = cluster.remote(node.name)
        _python, env = splitbrain_command(remote, self.options["python"])
        remote.start_daemon(self.daemon, self.argv(cluster, node), env=env or None)

    # -- lifecycle ------------------------------------------------------------------------
    def setup(self, cluster) -> None:
        """Wipe each node's data dir, start every node, wait for a leader all nodes know.

        Nodes are prepared in parallel: on docker and ssh every command is a round trip."""
        def prepare(node) -> None:
            remote = cluster.remote(node.name)
            if remote.daemon_pid(self.daemon) is not None:
                remote.stop_daemon(self.daemon)
            remote.run(["sh", "-c", 'rm -rf -- "$1" && mkdir -p -- "$1"', "sh", self.data_dir(remote)])
            self._start(cluster, node)

        each_node(cluster, prepare)
        self.wait_ready(cluster)

    def leader_ready(self, status: dict) -> bool:
        """Whether the leader's ``/status`` shows it can serve (default: it says it leads)."""
        return status.get("role") == "leader"

    def wait_ready(self, cluster, timeout_s: float | None = None) -> None:
        """Until one node leads (:meth:`leader_ready`) and every node names it."""
        limit = timeout_s or self.options["start_timeout_s"]
        deadline = time.monotonic() + limit
        last = {}
        while True:
            statuses = {}
            for node in cluster.nodes:
                try:
                    statuses[node.name] = self.client_for(node).status()
                    continue
                except (OSError, ValueError, http.client.HTTPException) as e:
                    last[node.name] = f"{type(e).__name__}: {e}"
                # Not answering: did it exit? (Asked only then: on docker and ssh each check
                # is a round trip through the node agent.)
                remote = cluster.remote(node.name)
                if remote.daemon_pid(self.daemon) is None:
                    raise EnvironmentProblem(f"{self.daemon} on {node.name} exited during startup; "
                                             f"log tail: {self._log_tail(remote)}")
            leaders = {s.get("leader") for s in statuses.values()}
            if len(statuses) == len(cluster.nodes) and len(leaders) == 1 and None not in leaders:
                if self.leader_ready(statuses.get(next(iter(leaders)), {})):
                    return
            if time.monotonic() > deadline:
                raise EnvironmentProblem(f"{self.daemon}: no leader known to every node after "
                                         f"{limit:g} s (statuses {statuses}, errors {last})")
            time.sleep(0.1)

    def teardown(self, cluster) -> None:
        """Stop every node (a paused one is resumed first so it can exit). Keeps data."""
        def stop(node) -> None:
            remote = cluster.remote(node.name)
            if remote.daemon_pid(self.daemon) is not None:
                remote.signal_daemon(self.daemon, signal.SIGCONT)
                remote.stop_daemon(self.daemon)

        errors = each_node(cluster, stop, raise_first=False)
        if errors:
            raise EnvironmentProblem(f"{self.daemon} teardown: " + "; ".join(errors))

    def kill(self, cluster, node) -> None:
        """SIGKILL the node's process and wait until it is gone (no-op if not running)."""
        remote = cluster.remote(node_name(node))
        if remote.daemon_pid(self.daemon) is None:
            return
        remote.signal_daemon(self.daemon, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while remote.daemon_pid(self.daemon) is not None:
            if time.monotonic() > deadline:
                raise EnvironmentProblem(f"{self.daemon} on {node_name(node)} still running 10 s "
                                         "after SIGKILL")
            time.sleep(0.02)

    def start(self, cluster, node) -> None:
        """Restart a killed node on its kept data (no-op when running; does not wait)."""
        n = self._node(cluster, node)
        if cluster.remote(n.name).daemon_pid(self.daemon) is None:
            self._start(cluster, n)

    def pause(self, cluster, node) -> None:
        cluster.remote(node_name(node)).signal_daemon(self.daemon, signal.SIGSTOP)

    def resume(self, cluster, node) -> None:
        cluster.remote(node_name(node)).signal_daemon(self.daemon, signal.SIGCONT)

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
        return {f"{self.daemon}.log": f"logs/{self.daemon}.log"}

    # -- helpers --------------------------------------------------------------------------
    def client_for(self, node, timeout_s: float | None = None):
        """A short-lived :class:`~harness.targets.raft.RaftClient` of ``node`` (both stores
        share the HTTP API)."""
        from harness.targets.raft import RaftClient

        o = self.options
        t = timeout_s or min(2.0, o["op_timeout_s"])
        return RaftClient(node.ip, o["client_port"], key=o["key"], op_timeout_s=t,
                          connect_timeout_s=min(t, o["connect_timeout_s"]), node_name=node.name)

    def _log_tail(self, remote, lines: int = 20) -> str:
        path = f"{str(remote.node_dir).rstrip('/')}/logs/{self.daemon}.log"
        try:
            res = remote.run(["tail", "-n", str(lines), path], check=False, timeout=10)
        except Exception as exc:  # noqa: BLE001 - diagnostics only
            return f"(cannot read {path}: {exc})"
        rows = [r.strip() for r in str(res.stdout).splitlines() if r.strip()]
        return " | ".join(rows[-4:]) + f" ({path})"
