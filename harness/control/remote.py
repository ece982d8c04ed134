"""The interface every control backend (local netns, docker, ssh) implements.

A *cluster* is a set of named nodes (``n1``, ``n2``, ...), each with an IP address the controller
can reach. A :class:`Remote` runs commands and daemons on one node; a :class:`Cluster` owns all of
them and removes everything it created when :meth:`Cluster.stop` is called.

Rules every backend follows (DESIGN.md, "Control backends" and "Network rule"):

- Commands are argv lists, never shell strings. To run a shell snippet, pass
  ``["sh", "-c", script]`` explicitly and quote every interpolated value
  (:mod:`harness.control.shell_quote`).
- Everything a run creates (namespaces, bridges, containers, rules, processes) carries the run's
  prefix (``sb`` + 6 hex digits, :attr:`Cluster.prefix`) and is removed by :meth:`Cluster.stop`;
  ``splitbrain heal`` removes what a crashed run left behind.
- A daemon is started detached, in its own process group, with its output in
  ``<node_dir>/logs/<name>.log`` and its pid in ``<node_dir>/pids/<name>.pid``.

:class:`Remote` and :class:`Cluster` are :class:`typing.Protocol` classes: a backend may subclass
them (as the local backend does) or just provide the same methods.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence, runtime_checkable

from harness.errors import EnvironmentProblem

#: A run prefix: ``sb`` followed by exactly 6 lowercase hex digits (``sb3fa9c1``).
PREFIX_RE = re.compile(r"^sb[0-9a-f]{6}$")

#: Node names allowed by the backends: they end up in file, namespace and container names.
NODE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


@dataclass(frozen=True)
class Node:
    """A node of the cluster: its name (``n1``) and the IP address the controller reaches it at."""

    name: str
    ip: str

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return f"{self.name}({self.ip})"


@dataclass(frozen=True)
class CommandResult:
    """What a command run on a node returned. ``stdout``/``stderr`` are decoded text (UTF-8,
    undecodable bytes replaced)."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _tail(text: str, limit: int = 400) -> str:
    text = (text or "").strip()
    if len(text) > limit:
        text = "..." + text[-limit:]
    return " | ".join(line for line in text.splitlines() if line.strip())


class RemoteCommandError(EnvironmentProblem):
    """A command run with ``check=True`` exited non-zero (or could not be started).

    The message names the node, the command and the tail of its stderr, on one line.
    """

    def __init__(self, node: str, argv: Sequence[str], returncode: int | None,
                 stdout: str = "", stderr: str = "", reason: str | None = None):
        self.node = node
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        from harness.control.shell_quote import join

        what = reason or f"exit {returncode}"
        msg = f"{node}: command failed ({what}): {join(self.argv)}"
        tail = _tail(stderr) or _tail(stdout)
        if tail:
            msg += f": {tail}"
        super().__init__(msg)


class RemoteTimeout(RemoteCommandError):
    """A command did not finish within its ``timeout``; it was killed."""

    def __init__(self, node: str, argv: Sequence[str], timeout: float,
                 stdout: str = "", stderr: str = ""):
        self.timeout = timeout
        super().__init__(node, argv, None, stdout, stderr, reason=f"timed out after {timeout:g} s")


@runtime_checkable
class Remote(Protocol):
    """Control of one node.

    Attributes:
        node: the :class:`Node` this remote controls.
        node_dir: a directory on the node owned by the run (daemon logs in ``logs/``, pid files in
            ``pids/``, target data under ``data/``). Removed when the cluster stops.
    """

    node: Node
    node_dir: str

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float | None = None,
            input: str | bytes | None = None) -> CommandResult:
        """Run ``argv`` on the node and wait for it.

        ``input`` is fed to stdin (stdin is empty otherwise). With ``check`` a non-zero exit raises
        :class:`RemoteCommandError` naming the command and the tail of its stderr. A command still
        running after ``timeout`` seconds is killed and :class:`RemoteTimeout` is raised (whatever
        ``check`` says: a timed-out command has no result).
        """
        ...

    def upload(self, local: str, remote: str) -> None:
        """Copy the file or directory ``local`` (controller) to ``remote`` (node). Parent
        directories are created. A relative ``remote`` is relative to :attr:`node_dir`."""
        ...

    def download(self, remote: str, local: str) -> None:
        """Copy the file or directory ``remote`` (node) to ``local`` (controller). A relative
        ``remote`` is relative to :attr:`node_dir`."""
        ...

    def start_daemon(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
                     cwd: str | None = None) -> int:
        """Start ``argv`` detached in its own session / process group and return its pid.

        stdout and stderr go (appended) to ``<node_dir>/logs/<name>.log``; the pid is written to
        ``<node_dir>/pids/<name>.pid``. ``env`` is added to the environment; ``cwd`` defaults to
        :attr:`node_dir`. Raises if a daemon with that name is already running.
        """
        ...

    def signal_daemon(self, name: str, sig: int) -> bool:
        """Send ``sig`` to the daemon's whole process group. Returns False (and sends nothing)
        when the daemon is not running."""
        ...

    def stop_daemon(self, name: str, timeout: float = 10) -> None:
        """SIGTERM the daemon's process group, SIGKILL it after ``timeout`` seconds, remove the
        pid file. Does nothing if it is not running."""
        ...

    def daemon_pid(self, name: str) -> int | None:
        """The daemon's pid if it is running (and really is the process we started, not a reused
        pid), else None."""
        ...


@runtime_checkable
class Cluster(Protocol):
    """All nodes of one run.

    Attributes:
        nodes: the nodes, in the order they were asked for.
        prefix: the run's unique prefix (``sb`` + 6 hex digits) carried by everything it creates.
    """

    nodes: list[Node]
    prefix: str

    def remote(self, name: str) -> Remote:
        """The :class:`Remote` of node ``name`` (KeyError for an unknown node)."""
        ...

    def download_logs(self, dest_dir: str) -> None:
        """Copy each node's ``logs/`` directory to ``dest_dir/<node>/``."""
        ...

    def stop(self) -> None:
        """Stop every daemon and remove everything the run created. Idempotent; every step is
        tried even when an earlier one failed."""
        ...


def validate_prefix(prefix: str) -> str:
    if not isinstance(prefix, str) or not PREFIX_RE.match(prefix):
        raise ValueError(f"run prefix must be 'sb' followed by 6 lowercase hex digits, got {prefix!r}")
    return prefix


def validate_node_names(names: Sequence[str]) -> list[str]:
    """Check node names are usable in file/interface/namespace names and unique."""
    from harness.errors import InputError

    names = list(names)
    if not names:
        raise InputError("nodes: at least one node is needed")
    seen = set()
    for n in names:
        if not isinstance(n, str) or not NODE_NAME_RE.match(n):
            raise InputError(f"nodes: {n!r}: a node name is 1-32 characters of letters, digits, "
                             f"'_', '.', '-', starting with a letter or digit")
        if n in seen:
            raise InputError(f"nodes: {n!r}: duplicate node name")
        seen.add(n)
    return names
