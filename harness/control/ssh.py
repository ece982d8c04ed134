"""The ssh control backend: real hosts, reached with paramiko, as Jepsen does.

The user lists the hosts (``backend-options: {hosts: {n1: 10.0.0.1, ...}}``, or a list matched to
the test's nodes in order), the login ``user``, a private ``key``, a ``known_hosts`` file, and
whether to use ``sudo``. Host keys are verified against ``known_hosts`` (paramiko's RejectPolicy):
an unknown host is refused unless ``accept_unknown_hosts: true`` is set, and a host whose key
changed is always refused, with one line saying which host and what to do.

On each host the run owns ``<run_base>/<prefix>/<node>/`` (default run_base
``/var/tmp/splitbrain``): ``logs/``, ``pids/``, ``data/`` and the node agent
(:mod:`harness.control.node_agent`, uploaded by SFTP at start; the host needs ``python3``).
Commands are argv lists: each element is quoted with :func:`shlex.quote` into the one command
line SSH carries, so a value is never interpreted by the remote shell. Each node keeps one SSH
connection; commands run in parallel channels on it, and a dropped connection is re-opened
(once per command, and only when the command could not be started).

``stop()`` stops the daemons, removes the run's directory on every host and closes the
connections. ``splitbrain heal`` cannot reach ssh hosts (it has no credentials): a crashed run's
daemons stay on the hosts until the next run on them or a manual cleanup (docs/backends.md).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import ipaddress
import json
import logging
import os
import posixpath
import secrets
import shlex
import socket
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Sequence

from harness.control import local as L
from harness.control.agent_remote import AgentRemote, one_line
from harness.control.remote import Cluster, Node, RemoteCommandError, validate_node_names, validate_prefix
from harness.errors import EnvironmentProblem, InputError

log = logging.getLogger("splitbrain.control.ssh")

DEFAULT_RUN_BASE = "/var/tmp/splitbrain"
GRACE_S = 15.0
NO_PARAMIKO = "the ssh backend needs paramiko (pip install 'paramiko>=3')"

OPTIONS = {
    "hosts": "node -> address (mapping), or addresses in node order (list); address = host or host:port",
    "user": "login user (default: the current user)",
    "port": "ssh port (default 22)",
    "key": "private key file (default: ssh-agent and ~/.ssh/id_*)",
    "known_hosts": "known_hosts file to verify host keys (default ~/.ssh/known_hosts)",
    "accept_unknown_hosts": "accept hosts missing from known_hosts (default false; never a changed key)",
    "sudo": "run commands with sudo -n (default false)",
    "run_base": f"directory for the run on each host (default {DEFAULT_RUN_BASE})",
    "connect_timeout": "seconds (default 10)",
}


def _host_port(addr: Any, default_port: int, where: str) -> tuple[str, int]:
    if not isinstance(addr, str) or not addr.strip():
        raise InputError(f"{where}: must be a host name or address, got {addr!r}")
    addr = addr.strip()
    host, port = addr, default_port
    if addr.startswith("["):  # [v6]:port or [host]:port
        host, _, rest = addr[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], where)
    elif addr.count(":") == 1:
        host, p = addr.split(":")
        port = _port(p, where)
    if not host or any(c.isspace() for c in host) or host.startswith("-"):
        raise InputError(f"{where}: bad host {addr!r}")
    return host, port


def _port(v: Any, where: str) -> int:
    try:
        p = int(v)
    except (TypeError, ValueError):
        raise InputError(f"{where}: port must be a number, got {v!r}") from None
    if not 1 <= p <= 65535 or isinstance(v, bool):
        raise InputError(f"{where}: port out of range: {v!r}")
    return p


class SSHSettings:
    """Validated ``backend-options`` of the ssh backend (every mistake is one InputError line)."""

    def __init__(self, options: dict):
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise InputError(f"backend-options: {unknown[0]}: unknown option for the ssh backend "
                             f"(valid: {', '.join(OPTIONS)})")
        if "hosts" not in options:
            raise InputError("backend-options: hosts: the ssh backend needs the hosts to test, "
                             "e.g. hosts: {n1: 10.0.0.1, n2: 10.0.0.2, n3: 10.0.0.3}")
        self.port = _port(options.get("port", 22), "backend-options: port")
        hosts = options["hosts"]
        if isinstance(hosts, str):
            hosts = [h.strip() for h in hosts.split(",") if h.strip()]
        if isinstance(hosts, dict):
            self.hosts: dict[str, tuple[str, int]] | list[tuple[str, int]] = {
                str(k): _host_port(v, self.port, f"backend-options: hosts: {k}") for k, v in hosts.items()}
        elif isinstance(hosts, list) and hosts:
            self.hosts = [_host_port(v, self.port, f"backend-options: hosts[{i}]") for i, v in enumerate(hosts)]
        else:
            raise InputError(f"backend-options: hosts: must be a mapping node -> address or a list, got {hosts!r}")
        user = options.get("user") or os.environ.get("USER") or "root"
        if not isinstance(user, str) or not user.strip() or user.startswith("-"):
            raise InputError(f"backend-options: user: must be a user name, got {user!r}")
        self.user = user
        self.key = options.get("key")
        if self.key is not None:
            if not isinstance(self.key, str) or not os.path.isfile(os.path.expanduser(self.key)):
                raise InputError(f"backend-options: key: no such private key file: {self.key!r}")
            self.key = os.path.expanduser(self.key)
        kh = options.get("known_hosts", "~/.ssh/known_hosts")
        if not isinstance(kh, str) or not kh:
            raise InputError(f"backend-options: known_hosts: must be a file name, got {kh!r}")
        self.known_hosts = os.path.expanduser(kh)
        self.accept_unknown_hosts = options.get("accept_unknown_hosts", False)
        self.sudo = options.get("sudo", False)
        for name in ("accept_unknown_hosts", "sudo"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"backend-options: {name}: must be true or false, got {getattr(self, name)!r}")
        if not self.accept_unknown_hosts and not os.path.isfile(self.known_hosts):
            raise InputError(f"backend-options: known_hosts: no such file: {self.known_hosts} (host keys "
                             f"are verified; give the file, or set accept_unknown_hosts: true)")
        self.run_base = options.get("run_base", DEFAULT_RUN_BASE)
        if not isinstance(self.run_base, str) or not posixpath.isabs(self.run_base) or \
                any(c.isspace() for c in self.run_base):
            raise InputError(f"backend-options: run_base: must be an absolute path, got {self.run_base!r}")
        ct = options.get("connect_timeout", 10)
        if isinstance(ct, bool) or not isinstance(ct, (int, float)) or ct <= 0:
            raise InputError(f"backend-options: connect_timeout: must be a positive number, got {ct!r}")
        self.connect_timeout = float(ct)

    def assign(self, names: Sequence[str]) -> dict[str, tuple[str, int]]:
        """node name -> (host, port) for the test's nodes."""
        if isinstance(self.hosts, dict):
            missing = [n for n in names if n not in self.hosts]
            if missing:
                raise InputError(f"backend-options: hosts: no host for node {missing[0]!r} "
                                 f"(hosts lists {', '.join(self.hosts)})")
            return {n: self.hosts[n] for n in names}
        if len(self.hosts) < len(names):
            raise InputError(f"backend-options: hosts: {len(names)} nodes but only {len(self.hosts)} hosts")
        return dict(zip(names, self.hosts))


def _fingerprint(key) -> str:
    import base64
    import hashlib

    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


class SSHRemote(AgentRemote):
    """One host. One paramiko connection, many channels; re-opened when it drops."""

    def __init__(self, settings: SSHSettings, node: Node, host: str, port: int, node_dir: str):
        self.settings = settings
        self.node = node
        self.host = host
        self.port = port
        self.node_dir = node_dir
        self.agent = posixpath.join(node_dir, "node_agent.py")
        self._client = None
        #: False until a connection succeeded: a host never reached (refused key, down) has
        #: nothing of the run on it, and :meth:`SSHCluster.stop` leaves it alone.
        self.connected_once = False
        self._lock = threading.Lock()
        self._runtime_lock = threading.Lock()
        self._runtime: tuple[list[str], dict[str, str]] | None = None

    def __repr__(self) -> str:
        return f"SSHRemote({self.node.name}, {self.settings.user}@{self.host}:{self.port})"

    @property
    def where(self) -> str:
        return f"{self.node.name} ({self.host}:{self.port})"

    # -- connection

    def connect(self):
        """The live paramiko client, (re)connecting when needed; host key verified."""
        with self._lock:
            c = self._client
            if c is not None and c.get_transport() is not None and c.get_transport().is_active():
                return c
            if c is not None:
                with contextlib.suppress(Exception):
                    c.close()
            self._client = self._open()
            self.connected_once = True
            return self._client

    def _open(self):
        try:
            import paramiko
        except ImportError:
            raise EnvironmentProblem(NO_PARAMIKO) from None
        s = self.settings
        c = paramiko.SSHClient()
        if os.path.isfile(s.known_hosts):
            try:
                c.load_host_keys(s.known_hosts)
            except (OSError, paramiko.SSHException) as e:
                raise InputError(f"backend-options: known_hosts: cannot read {s.known_hosts}: {e}") from None
        # Unknown hosts: refused unless the user said otherwise. A changed key is always refused
        # (paramiko raises BadHostKeyException before any policy is asked).
        c.set_missing_host_key_policy(paramiko.AutoAddPolicy() if s.accept_unknown_hosts
                                      else paramiko.RejectPolicy())
        try:
            c.connect(self.host, port=self.port, username=s.user, key_filename=s.key,
                      timeout=s.connect_timeout, banner_timeout=s.connect_timeout,
                      auth_timeout=s.connect_timeout, allow_agent=s.key is None,
                      look_for_keys=s.key is None)
        except paramiko.BadHostKeyException as e:
            c.close()
            raise EnvironmentProblem(
                f"ssh backend: {self.where}: host key changed: the host offers {e.key.get_name()} "
                f"{_fingerprint(e.key)} but {s.known_hosts} has {_fingerprint(e.expected_key)}; "
                f"refusing to connect (if the host was re-installed, remove its old key with "
                f"ssh-keygen -R {self._kh_name()} -f {s.known_hosts})") from None
        except paramiko.SSHException as e:
            c.close()
            if "not found in known_hosts" in str(e):
                raise EnvironmentProblem(
                    f"ssh backend: {self.where}: unknown host key: {self._kh_name()} is not in "
                    f"{s.known_hosts}; add its key (verified out of band), or set "
                    f"backend-options accept_unknown_hosts: true") from None
            raise EnvironmentProblem(f"ssh backend: {self.where}: {one_line(e)}") from None
        except (OSError, EOFError) as e:
            c.close()
            raise EnvironmentProblem(f"ssh backend: {self.where}: cannot connect: {one_line(e)}") from None
        t = c.get_transport()
        if t is not None:
            t.set_keepalive(5)
        return c

    def _kh_name(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                with contextlib.suppress(Exception):
                    self._client.close()
                self._client = None

    # -- commands

    def command_line(self, argv: Sequence[str], sudo: bool | None = None) -> str:
        """The one string SSH carries: every argv element quoted; ``sudo -n --`` first if asked."""
        words = [str(a) for a in argv]
        if self.settings.sudo if sudo is None else sudo:
            words = ["sudo", "-n", "--", *words]
        return " ".join(shlex.quote(w) for w in words)

    def _channel(self):
        import paramiko

        for attempt in (1, 2):
            client = self.connect()
            try:
                return client.get_transport().open_session(timeout=self.settings.connect_timeout)
            except (paramiko.SSHException, EOFError, OSError, AttributeError):
                # The connection dropped: nothing was started, so re-opening it is safe.
                with self._lock:
                    if self._client is client:
                        with contextlib.suppress(Exception):
                            client.close()
                        self._client = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _exec(self, argv: list[str], input: bytes | None, timeout: float | None,
              sudo: bool | None = None) -> tuple[int, bytes, bytes]:
        chan = self._channel()
        deadline = time.monotonic() + timeout + GRACE_S if timeout else None
        out, err = bytearray(), bytearray()
        try:
            chan.exec_command(self.command_line(argv, sudo))
            if input:
                chan.sendall(input)
            chan.shutdown_write()
            while True:
                if deadline is not None and time.monotonic() > deadline:
                    raise socket.timeout("ssh command")
                got = False
                while chan.recv_ready():
                    out += chan.recv(65536)
                    got = True
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                    got = True
                if chan.exit_status_ready() and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                if chan.closed and not got:
                    break
                if not got:
                    time.sleep(0.005)
            code = chan.recv_exit_status()
        finally:
            chan.close()
        return code, bytes(out), bytes(err)

    def splitbrain_runtime(self) -> tuple[list[str], dict[str, str]]:
        """``(["python3"], {"PYTHONPATH": ...})``: on first use, splitbrain's source is copied by
        SFTP into ``<node_dir>/splitbrain-src`` and unpacked there by the host's python3 (see
        :mod:`harness.control.splitbrain_runtime`); it goes away with the run's directory."""
        from harness.control.splitbrain_runtime import SOURCE_DIR, source_archive

        with self._runtime_lock:
            if self._runtime is None:
                src = posixpath.join(self.node_dir, SOURCE_DIR)
                tarpath = src + ".tar"
                import tempfile

                with tempfile.NamedTemporaryFile(prefix="splitbrain-src-", suffix=".tar") as tmp:
                    tmp.write(source_archive())
                    tmp.flush()
                    self.upload(tmp.name, tarpath)
                self.run(["python3", "-c", "import sys, tarfile; t = tarfile.open(sys.argv[1]); "
                          "t.extractall(sys.argv[2], **({'filter': 'data'} "
                          "if hasattr(tarfile, 'data_filter') else {}))", tarpath, src],
                         timeout=120)
                self.run(["rm", "-f", tarpath])
                self._runtime = (["python3"], {"PYTHONPATH": src})
            return self._runtime

    # -- files

    def _sftp(self):
        return self.connect().open_sftp()

    def upload(self, local: str, remote: str) -> None:
        dst = self._path(remote).rstrip("/")
        staging = dst
        if self.settings.sudo:
            # SFTP runs as the login user: stage in the run dir, then move with sudo.
            staging = posixpath.join(posixpath.dirname(self.node_dir), f".upload-{secrets.token_hex(4)}")
        self.run(["mkdir", "-p", posixpath.dirname(dst)])
        try:
            sftp = self._sftp()
            try:
                _put(sftp, local, staging)
            finally:
                sftp.close()
        except (OSError, EOFError) as e:
            raise RemoteCommandError(self.node.name, ["upload", local, dst], None, reason=one_line(e)) from None
        if staging != dst:
            self.run(["cp", "-r", "-T", staging, dst])
            self.run(["rm", "-rf", staging])

    def download(self, remote: str, local: str) -> None:
        src = self._path(remote).rstrip("/")
        try:
            sftp = self._sftp()
            try:
                _get(sftp, src, local)
            finally:
                sftp.close()
        except (OSError, EOFError) as e:
            raise RemoteCommandError(self.node.name, ["download", src, local], None, reason=one_line(e)) from None


def _put(sftp, local: str, remote: str) -> None:
    if os.path.isdir(local):
        with contextlib.suppress(OSError):
            sftp.mkdir(remote)
        for name in sorted(os.listdir(local)):
            _put(sftp, os.path.join(local, name), posixpath.join(remote, name))
    else:
        sftp.put(local, remote)
        sftp.chmod(remote, os.stat(local).st_mode & 0o7777)


def _get(sftp, remote: str, local: str) -> None:
    st = sftp.stat(remote)
    if stat.S_ISDIR(st.st_mode):
        os.makedirs(local, exist_ok=True)
        for name in sorted(sftp.listdir(remote)):
            _get(sftp, posixpath.join(remote, name), os.path.join(local, name))
    else:
        os.makedirs(os.path.dirname(os.path.abspath(local)) or ".", exist_ok=True)
        sftp.get(remote, local)


# --------------------------------------------------------------------------- cluster

_live_clusters: "set[SSHCluster]" = set()
_live_lock = threading.Lock()


@atexit.register
def _stop_live_clusters_at_exit() -> None:
    for c in [c for c in list(_live_clusters) if c.owner_pid == os.getpid()]:
        try:
            c.stop()
        except Exception as e:  # noqa: BLE001
            log.error("stopping ssh cluster %s at exit: %s", c.prefix, e)


class SSHCluster(Cluster):
    """The run's hosts. :meth:`stop` stops the run's daemons and removes its directories."""

    backend = "ssh"

    def __init__(self, info: dict, remotes: dict[str, SSHRemote]):
        self.info = info
        self.prefix: str = info["prefix"]
        self.run_root: str = info["run_root"]
        self.nodes: list[Node] = [r.node for r in remotes.values()]
        self._remotes = remotes
        self._stopped = False
        self._stop_lock = threading.Lock()
        self.owner_pid = os.getpid()

    def __repr__(self) -> str:
        return f"SSHCluster({self.prefix}, nodes={[n.name for n in self.nodes]})"

    def __enter__(self) -> "SSHCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def remote(self, name: str) -> SSHRemote:
        return self._remotes[name]

    def download_logs(self, dest_dir: str) -> None:
        errors = []

        def fetch(item) -> None:
            name, r = item
            dst = os.path.join(dest_dir, name)
            os.makedirs(dst, exist_ok=True)
            try:
                r.download("logs", dst)
            except Exception as e:  # noqa: BLE001 - fetch the others
                errors.append(f"{name}: {e}")

        with ThreadPoolExecutor(max_workers=8) as pool:  # one SFTP session per host, in parallel
            list(pool.map(fetch, self._remotes.items()))
        if errors:
            raise EnvironmentProblem("ssh backend: downloading logs: " + "; ".join(errors))

    def stop(self) -> None:
        """Stop every daemon of the run, remove its directory on each host, close connections.
        Idempotent; every host is tried; failures are reported together."""
        with self._stop_lock:
            if self._stopped:
                return
            errors = []

            def stop_daemons(r: SSHRemote) -> None:
                try:
                    r.stop_all_daemons()
                except Exception as e:  # noqa: BLE001
                    errors.append(f"{r.node.name}: stopping daemons: {e}")

            def remove_dir(r: SSHRemote) -> None:
                # Two phases: hosts may share a file system (several nodes on one machine), so no
                # directory goes before every daemon is stopped.
                try:
                    r.run(["rm", "-rf", r.node_dir], timeout=60)
                except Exception as e:  # noqa: BLE001
                    errors.append(f"{r.node.name}: removing {r.node_dir}: {e}")

            def remove_run_dir(r: SSHRemote) -> None:
                # Not through the node agent: it was in the directory just removed.
                with contextlib.suppress(Exception):
                    r._exec(["rmdir", "--ignore-fail-on-non-empty", posixpath.dirname(r.node_dir)],
                            None, 60, sudo=False)
                r.close()

            reached = [r for r in self._remotes.values() if r.connected_once]
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(stop_daemons, reached))
                list(pool.map(remove_dir, reached))
                list(pool.map(remove_run_dir, reached))
            with contextlib.suppress(OSError):
                import shutil

                shutil.rmtree(self.run_root)
            self._stopped = True
            with _live_lock:
                _live_clusters.discard(self)
            if errors:
                raise EnvironmentProblem(f"ssh backend: could not clean up everything of run "
                                         f"{self.prefix}: {'; '.join(errors)}")


class SSHBackend:
    """Connects to the user's hosts: ``SSHBackend(SSHSettings({...})).start(["n1", "n2"], run_dir)``."""

    name = "ssh"

    def __init__(self, settings: SSHSettings):
        self.settings = settings

    @classmethod
    def from_options(cls, options: dict) -> "SSHBackend":
        return cls(SSHSettings(options))

    def start(self, node_names: Sequence[str], run_dir: str | None = None,
              prefix: str | None = None) -> SSHCluster:
        """Connect to every host (in parallel), verify host keys, create the run's directory and
        upload the node agent. On failure, what was created is removed before raising."""
        try:
            import paramiko  # noqa: F401
        except ImportError:
            raise EnvironmentProblem(NO_PARAMIKO) from None
        names = validate_node_names(node_names)
        assigned = self.settings.assign(names)
        prefix = validate_prefix(prefix or "sb" + secrets.token_hex(3))
        base = posixpath.join(self.settings.run_base, prefix)
        remotes = {}
        for n in names:
            host, port = assigned[n]
            remotes[n] = SSHRemote(self.settings, Node(n, _resolve(host)), host, port,
                                   posixpath.join(base, n))
        info = {
            "version": 1, "backend": "ssh", "prefix": prefix,
            "controller": {"pid": os.getpid(), "start_time": L.proc_start_time(os.getpid())},
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "run_root": L.run_root_of(prefix),
            "store_run_dir": os.path.abspath(run_dir) if run_dir else None,
            "nodes": [{"name": n, "ip": r.node.ip, "host": r.host, "port": r.port,
                       "user": self.settings.user, "host_dir": r.node_dir} for n, r in remotes.items()],
        }
        # Recorded on the controller so that `heal` sees a live run and the hosts are on record.
        with contextlib.suppress(OSError), L.base_lock():
            os.makedirs(info["run_root"], exist_ok=False)
            L._write_atomic(os.path.join(info["run_root"], L.CONTROLLER_FILE),
                            json.dumps(info, indent=2) + "\n")
        cluster = SSHCluster(info, remotes)
        with _live_lock:
            _live_clusters.add(cluster)
        agent = str(Path(__file__).with_name("node_agent.py"))

        def prepare(r: SSHRemote) -> None:
            r.connect()
            d = r.node_dir
            # As the login user (also with sudo): SFTP, which cannot sudo, writes here.
            code, _o, err = r._exec(["mkdir", "-p", f"{d}/logs", f"{d}/pids", f"{d}/data"], None, 30,
                                    sudo=False)
            if code != 0:
                raise EnvironmentProblem(f"ssh backend: {r.where}: cannot create {d}: "
                                         f"{err.decode(errors='replace').strip()[:200]}")
            sftp = r._sftp()
            try:
                sftp.put(agent, r.agent)
            finally:
                sftp.close()
            code, _o, err = r._exec(["python3", r.agent, "pid", "none", d], None, 30)
            if code not in (0, 1):
                raise EnvironmentProblem(f"ssh backend: {r.where}: python3 does not run the node agent "
                                         f"(exit {code}): {err.decode(errors='replace').strip()[:200]}")

        try:
            with ThreadPoolExecutor(max_workers=min(16, len(remotes))) as pool:
                for f in [pool.submit(prepare, r) for r in remotes.values()]:
                    f.result()
        except BaseException:
            try:
                cluster.stop()
            except Exception as e:  # noqa: BLE001
                log.error("cleaning up after a failed start of %s: %s", prefix, e)
            raise
        log.info("ssh cluster %s: %s", prefix,
                 ", ".join(f"{n}={r.settings.user}@{r.host}:{r.port}" for n, r in remotes.items()))
        return cluster


def _resolve(host: str) -> str:
    """The node's IPv4 address (targets bind to it and nodes reach each other by it)."""
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    try:
        return socket.gethostbyname(host)
    except OSError as e:
        raise EnvironmentProblem(f"ssh backend: cannot resolve host {host!r}: {e}") from None
