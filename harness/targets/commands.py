"""The ``commands`` target: a store described by shell templates in YAML (``--db commands``).

``CommandsDB(options)`` runs the templates of :mod:`harness.targets.commands_options` on each
node through the control backend's :class:`~harness.control.remote.Remote`:

- ``setup``: wipe ``{data_dir}`` (unless ``wipe: false``), run ``install``, start every node
  (``start`` as a daemon: ``sh -c <start>`` in its own process group, output appended to
  ``<node_dir>/logs/<name>.log``), then wait until ``status`` exits 0 on every node
  (``start-timeout`` seconds). ``start`` must stay in the foreground (use ``exec``): splitbrain
  kills, pauses and stops the process group it started.
- ``kill``/``start``: the ``kill`` template, or SIGKILL to the daemon's process group and a wait
  until every thread is gone; then ``start`` again on the kept data.
- ``pause``/``resume``: the templates, or SIGSTOP/SIGCONT to the process group.
- ``primaries()``: nodes where the ``primaries`` template exits 0; else the fixed ``primary``.
- ``teardown``: resume, then ``stop`` (template, or SIGTERM then SIGKILL), then copy each
  ``log-files`` entry into ``<node_dir>/logs/`` so the run's store keeps it.

Every template is rendered with shell-quoted placeholder values and run as
``["sh", "-c", command]``; a template that exits non-zero (or times out) is a one-line
EnvironmentProblem naming the node, the step and the tail of its output.
"""

from __future__ import annotations

import signal
import time
from typing import Any

from harness.control.remote import RemoteCommandError
from harness.errors import EnvironmentProblem
from harness.targets.commands_options import normalize_options, placeholder_values, render, render_plain
from harness.targets.node_ref import resolve_node

class CommandsDB:
    """The DB half of the commands target. Capabilities: kill/start, pause/resume, primaries
    (when ``primaries`` or ``primary`` is given), log_files."""

    def __init__(self, options: dict | None = None, *, normalized: bool = False):
        self.options = dict(options) if normalized else normalize_options(options)
        self.name = self.options["name"]

    # -- rendering ------------------------------------------------------------------------
    def values(self, cluster, node) -> dict[str, Any]:
        """Placeholder values for ``node`` on ``cluster``."""
        remote = cluster.remote(node.name)
        return placeholder_values(self.options, list(cluster.nodes), node, remote.node_dir,
                                  getattr(cluster, "prefix", ""))

    def command(self, step: str, cluster, node) -> str | None:
        """The rendered shell command of template ``step`` for ``node`` (None when not given)."""
        template = self.options.get(step)
        if template is None:
            return None
        return render(template, self.values(cluster, node))

    def _run(self, step: str, cluster, node, *, check: bool = True, timeout: float | None = None):
        cmd = self.command(step, cluster, node)
        remote = cluster.remote(node.name)
        t = timeout or self.options["command_timeout"]
        try:
            res = remote.run(["sh", "-c", cmd], check=False, timeout=t)
        except RemoteCommandError as e:  # timed out or could not be started
            raise EnvironmentProblem(f"commands target: {step} on {node.name} failed: {e}") from None
        if check and not res.ok:
            tail = " | ".join(line for line in (res.stderr or res.stdout or "").strip().splitlines()[-3:])
            raise EnvironmentProblem(f"commands target: {step} on {node.name} exited {res.returncode}"
                                     f"{': ' + tail[:300] if tail else ''} (command: {cmd[:200]})")
        return res

    # -- lifecycle ------------------------------------------------------------------------
    def setup(self, cluster) -> None:
        """Fresh data dirs, install, start every node, wait for ``status`` everywhere."""
        nodes = list(cluster.nodes)
        for node in nodes:
            self.values(cluster, node)  # an unknown primary is an input error before anything runs
        for node in nodes:
            remote = cluster.remote(node.name)
            if remote.daemon_pid(self.name) is not None:
                remote.stop_daemon(self.name)
            data_dir = self.values(cluster, node)["data_dir"]
            if self.options["wipe"]:
                remote.run(["rm", "-rf", data_dir])
            remote.run(["mkdir", "-p", data_dir])
            if self.options["install"] is not None:
                self._run("install", cluster, node, timeout=max(self.options["command_timeout"], 600))
        for node in nodes:
            self._start(cluster, node)
        self.wait_ready(cluster, [n.name for n in nodes])

    def wait_ready(self, cluster, names) -> None:
        """Wait until ``status`` exits 0 on every named node (or, without ``status``, until each
        daemon has stayed up for a second). EnvironmentProblem with the log tail otherwise."""
        timeout = self.options["start_timeout"]
        deadline = time.monotonic() + timeout
        pending = [n for n in cluster.nodes if n.name in set(names)]
        last: dict[str, str] = {}
        if self.options["status"] is None:
            time.sleep(1.0)
        while pending:
            for node in list(pending):
                remote = cluster.remote(node.name)
                if remote.daemon_pid(self.name) is None:
                    raise EnvironmentProblem(f"commands target: {self.name} on {node.name} exited "
                                             f"during startup; log tail: {self._log_tail(remote)}")
                if self.options["status"] is None:
                    pending.remove(node)
                    continue
                try:
                    res = self._run("status", cluster, node, check=False,
                                    timeout=min(10.0, self.options["command_timeout"]))
                except EnvironmentProblem as e:
                    last[node.name] = str(e)
                    continue
                if res.ok:
                    pending.remove(node)
                else:
                    last[node.name] = f"exit {res.returncode} {(res.stderr or res.stdout or '').strip()[:200]}"
            if not pending:
                return
            if time.monotonic() > deadline:
                n = pending[0]
                raise EnvironmentProblem(
                    f"commands target: {self.name} on {n.name}: status did not succeed within "
                    f"{timeout:g} s (last: {last.get(n.name)}); log tail: "
                    f"{self._log_tail(cluster.remote(n.name))}")
            time.sleep(0.2)

    def teardown(self, cluster) -> None:
        """Resume, stop every node, and copy the ``log-files`` into each node's logs dir."""
        errors = []
        for node in cluster.nodes:
            try:
                try:
                    self.resume(cluster, node)
                except Exception:  # noqa: BLE001 - best effort before stopping
                    pass
                if self.options["stop"] is not None:
                    self._run("stop", cluster, node, check=False)
                cluster.remote(node.name).stop_daemon(self.name)
            except Exception as e:  # noqa: BLE001 - stop the others, then report
                errors.append(f"{node.name}: {e}")
            try:
                self._collect_logs(cluster, node)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{node.name}: collecting logs: {e}")
        if errors:
            raise EnvironmentProblem("commands target teardown: " + "; ".join(errors))

    def start(self, cluster, node) -> None:
        """(Re)start the node's daemon on its kept data; no-op when it runs. Does not wait."""
        n = _node(cluster, node)
        if cluster.remote(n.name).daemon_pid(self.name) is None:
            self._start(cluster, n)

    def kill(self, cluster, node) -> None:
        """Crash the node: the ``kill`` template, or SIGKILL to the daemon's process group; then
        wait (10 s) until the process and all its threads are gone, so a restart can bind."""
        n = _node(cluster, node)
        remote = cluster.remote(n.name)
        pid = remote.daemon_pid(self.name)
        if self.options["kill"] is not None:
            self._run("kill", cluster, n)
        elif pid is not None:
            remote.signal_daemon(self.name, signal.SIGKILL)
        if pid is None:
            return
        from harness.targets.etcd import _threads_alive  # same wait as the etcd target: Go's threads

        deadline = time.monotonic() + 10
        while remote.daemon_pid(self.name) is not None or _threads_alive(remote, pid):
            if time.monotonic() > deadline:
                raise EnvironmentProblem(f"commands target: {self.name} on {n.name} still running "
                                         "10 s after kill")
            time.sleep(0.05)

    def pause(self, cluster, node) -> None:
        n = _node(cluster, node)
        if self.options["pause"] is not None:
            self._run("pause", cluster, n)
        else:
            cluster.remote(n.name).signal_daemon(self.name, signal.SIGSTOP)

    def resume(self, cluster, node) -> None:
        n = _node(cluster, node)
        if self.options["resume"] is not None:
            self._run("resume", cluster, n)
        else:
            cluster.remote(n.name).signal_daemon(self.name, signal.SIGCONT)

    def primaries(self, cluster) -> list[str]:
        """Nodes where the ``primaries`` template exits 0 (a node that fails to answer in 5 s is
        not a primary); without it, ``[primary]``; with neither, an error the nemesis reports."""
        if self.options["primaries"] is not None:
            out = []
            for node in cluster.nodes:
                try:
                    if self._run("primaries", cluster, node, check=False, timeout=5.0).ok:
                        out.append(node.name)
                except EnvironmentProblem:
                    continue
            return sorted(out)
        if self.options["primary"] is not None:
            return [self.options["primary"]]
        raise EnvironmentProblem("commands target: neither a primaries command nor a fixed "
                                 "primary is configured")

    def log_files(self) -> dict[str, str]:
        """Stored log name -> path on the node (relative to the node dir): the daemon's output
        and each ``log-files`` entry (copied into ``logs/`` at teardown)."""
        out = {f"{self.name}.log": f"logs/{self.name}.log"}
        out.update({name: f"logs/{name}" for name in self.options["log_files"]})
        return out

    # -- helpers --------------------------------------------------------------------------
    def _start(self, cluster, node) -> None:
        cmd = self.command("start", cluster, node)
        cluster.remote(node.name).start_daemon(self.name, ["sh", "-c", cmd])

    def _collect_logs(self, cluster, node) -> None:
        if not self.options["log_files"]:
            return
        remote = cluster.remote(node.name)
        values = self.values(cluster, node)
        for name, template in self.options["log_files"].items():
            path = render_plain(template, values)
            if not path.startswith("/"):
                path = f"{values['node_dir']}/{path}"
            dest = f"{values['log_dir']}/{name}"
            if path != dest:
                remote.run(["sh", "-c", 'test ! -e "$1" || cp -f "$1" "$2"', "sh", path, dest],
                           check=False, timeout=60)

    def _log_tail(self, remote, lines: int = 5) -> str:
        path = f"{str(remote.node_dir).rstrip('/')}/logs/{self.name}.log"
        try:
            res = remote.run(["tail", "-n", str(lines), path], check=False, timeout=10)
        except Exception as exc:  # noqa: BLE001 - diagnostics only
            return f"(cannot read {path}: {exc})"
        rows = [r.strip()[:200] for r in str(res.stdout).splitlines() if r.strip()]
        return (" | ".join(rows) or "(empty)") + f" ({path})"


def _node(cluster, node):
    return resolve_node(cluster, node, "commands target")


def make_commands_target(options: dict | None):
    """The :class:`~harness.targets.Target` for ``--db commands`` (InputError for bad options)."""
    from harness.targets import Target
    from harness.targets.commands_clients import make_client_factory

    o = normalize_options(options)
    factory = make_client_factory(o["client"], o["port"], o["client_options"])
    return Target("commands", CommandsDB(o, normalized=True), factory)


__all__ = ["CommandsDB", "make_commands_target"]
