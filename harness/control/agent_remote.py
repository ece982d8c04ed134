"""The half of a :class:`~harness.control.remote.Remote` shared by the docker and ssh backends.

Both can only "run this argv on the node" (``docker exec``; an SSH channel), so commands with a
timeout and daemons with pid files go through the node agent (:mod:`harness.control.node_agent`)
on the node. A subclass provides :meth:`AgentRemote._exec` and file transfer; this class turns
those into ``run``, ``start_daemon``, ``daemon_pid``, ``signal_daemon`` and ``stop_daemon`` with
the same behaviour and errors as the local backend.
"""

from __future__ import annotations

import posixpath
import socket
from typing import Mapping, Sequence

from harness.control.node_agent import NAME_RE, TIMEOUT_MARK
from harness.control.remote import CommandResult, Node, Remote, RemoteCommandError, RemoteTimeout
from harness.errors import EnvironmentProblem


class AgentRemote(Remote):
    """A node reached through an exec-like primitive. Subclasses set :attr:`node`,
    :attr:`node_dir`, :attr:`agent` (the node agent's path on the node) and implement
    :meth:`_exec`, :meth:`upload` and :meth:`download`."""

    node: Node
    node_dir: str
    agent: str
    python: str = "python3"

    @property
    def daemon_env(self) -> dict[str, str]:
        """Extra environment for every daemon started from now on (as the local backend's
        ``daemon_env``): how a nemesis that must be in place before the target starts reaches
        its daemons, e.g. the clock nemesis's libfaketime ``LD_PRELOAD`` (nemesis/clock.py)."""
        env = self.__dict__.get("_daemon_env")
        if env is None:
            env = self.__dict__["_daemon_env"] = {}
        return env

    def _exec(self, argv: list[str], input: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes]:
        """Run ``argv`` (a list, never a shell string) on the node; (exit code, stdout, stderr).
        Raise :class:`socket.timeout` when nothing came back ``timeout`` + a grace period later."""
        raise NotImplementedError

    # -- commands

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float | None = None,
            input: str | bytes | None = None) -> CommandResult:
        if isinstance(argv, (str, bytes)):
            raise TypeError("Remote.run takes an argv list, not a string; "
                            "use ['sh', '-c', script] to run a shell snippet")
        argv = [str(a) for a in argv]
        data = input.encode() if isinstance(input, str) else input
        full = [self.python, self.agent, "run", f"{timeout or 0:g}", "--cwd", self.node_dir, "--", *argv]
        try:
            code, out, err = self._exec(full, data, timeout)
        except socket.timeout:
            raise RemoteTimeout(self.node.name, argv, timeout or 0) from None
        except EnvironmentProblem:
            raise
        except Exception as e:  # noqa: BLE001 - transport errors become one line
            raise RemoteCommandError(self.node.name, argv, None, reason=one_line(e)) from None
        stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
        if code == 124 and stderr.rstrip().endswith(TIMEOUT_MARK):
            stderr = stderr.rstrip()[: -len(TIMEOUT_MARK)].rstrip("\n")
            raise RemoteTimeout(self.node.name, argv, timeout or 0, stdout, stderr)
        res = CommandResult(code, stdout, stderr)
        if check and code != 0:
            raise RemoteCommandError(self.node.name, argv, code, stdout, stderr)
        return res

    def _agent(self, *args: str, check: bool = True, timeout: float = 60) -> CommandResult:
        argv = [self.python, self.agent, *args]
        try:
            code, out, err = self._exec(argv, None, timeout)
        except EnvironmentProblem:
            raise
        except Exception as e:  # noqa: BLE001
            raise RemoteCommandError(self.node.name, argv, None, reason=one_line(e)) from None
        res = CommandResult(code, out.decode(errors="replace"), err.decode(errors="replace"))
        if check and code != 0:
            raise RemoteCommandError(self.node.name, argv, code, res.stdout, res.stderr)
        return res

    def _path(self, remote: str) -> str:
        return remote if posixpath.isabs(remote) else posixpath.join(self.node_dir, remote)

    # -- daemons

    def start_daemon(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
                     cwd: str | None = None) -> int:
        check_daemon_name(name)
        if isinstance(argv, (str, bytes)):
            raise TypeError("start_daemon takes an argv list, not a string")
        opts: list[str] = []
        if cwd:
            opts += ["--cwd", self._path(cwd)]
        for k, v in {**self.daemon_env, **(env or {})}.items():
            if not str(k) or "=" in str(k) or "\0" in str(k):
                raise ValueError(f"environment variable name {k!r}")
            opts += ["--env", f"{k}={v}"]
        res = self._agent("start", name, self.node_dir, *opts, "--", *[str(a) for a in argv],
                          check=False)
        if res.returncode == 3:
            raise EnvironmentProblem(f"{self.node.name}: {res.stderr.strip()}")
        if res.returncode != 0:
            raise RemoteCommandError(self.node.name, list(argv), res.returncode, res.stdout, res.stderr)
        return int(res.stdout.split()[0])

    def daemon_pid(self, name: str) -> int | None:
        check_daemon_name(name)
        res = self._agent("pid", name, self.node_dir, check=False)
        if res.returncode == 0 and res.stdout.strip().isdigit():
            return int(res.stdout.strip())
        return None

    def signal_daemon(self, name: str, sig: int) -> bool:
        check_daemon_name(name)
        return self._agent("signal", name, self.node_dir, str(int(sig)), check=False).returncode == 0

    def stop_daemon(self, name: str, timeout: float = 10) -> None:
        check_daemon_name(name)
        self._agent("stop", name, self.node_dir, f"{timeout:g}", timeout=timeout + 30)

    def stop_all_daemons(self, timeout: float = 5) -> list[str]:
        """Stop every daemon with a pid file; their names."""
        return self._agent("stop-all", self.node_dir, f"{timeout:g}", timeout=timeout + 60).stdout.split()

    def daemon_names(self) -> list[str]:
        """Names of the daemons that have a pid file on this node."""
        res = self.run(["ls", "-1", posixpath.join(self.node_dir, "pids")], check=False, timeout=30)
        return sorted(f[:-4] for f in res.stdout.split() if f.endswith(".pid"))

    def log_path(self, name: str) -> str:
        check_daemon_name(name)
        return posixpath.join(self.node_dir, "logs", f"{name}.log")

    def read_log(self, name: str) -> str:
        return self.run(["cat", self.log_path(name)], check=False).stdout


def check_daemon_name(name: str) -> None:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"daemon name {name!r}: use letters, digits, '_', '.', '-'")


def one_line(e: BaseException) -> str:
    text = getattr(e, "explanation", None) or str(e) or type(e).__name__
    return " ".join(str(text).split())[:300]
