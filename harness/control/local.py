"""The local control backend: one Linux network namespace per node, on a bridge the run owns.

Layout of one run with prefix ``sb3fa9c1`` and nodes n1..n3 (see docs/local-backend.md):

- bridge ``sb3fa9c1`` (host side) with ``10.A.B.254/24``: the controller's address on the node
  network, so the controller reaches node IPs directly;
- namespace ``sb3fa9c1-n1`` with ``lo`` up and ``eth0`` = ``10.A.B.1/24`` (n2 = .2, ...), joined to
  the bridge by the veth ``sb3fa9c1v1`` (host side). Nodes have no default route: they reach each
  other and the controller, nothing else;
- ``iptables -I FORWARD -i sb3fa9c1 -o sb3fa9c1 -j ACCEPT -m comment --comment sb3fa9c1``, because
  Docker may set the FORWARD policy to DROP and br_netfilter sends bridged frames through it;
- run root ``/run/splitbrain/sb3fa9c1/``: ``controller.json`` (the controller's pid and start time
  and every object above, what ``splitbrain heal`` reads), and ``<node>/{logs,pids,data}``.

Commands run through ``ip netns exec <namespace> argv...`` (argv lists, never a shell).
Needs root; without it, ``splitbrain test`` re-runs itself in a user namespace first
(harness/control/rootless.py).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import fcntl
import ipaddress
import json
import logging
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import threading
import time
from typing import Iterable, Mapping, Sequence

from harness.control.remote import (
    NODE_NAME_RE,
    PREFIX_RE,
    Cluster,
    CommandResult,
    Node,
    Remote,
    RemoteCommandError,
    RemoteTimeout,
    validate_node_names,
    validate_prefix,
)
from harness.errors import EnvironmentProblem

log = logging.getLogger("splitbrain.control.local")

#: Where run roots live (one directory per run, named by its prefix). Fixed on purpose: every
#: controller and ``splitbrain heal`` must agree on it to tell live runs from leftovers.
RUN_BASE = "/run/splitbrain"
CONTROLLER_FILE = "controller.json"
LOCK_FILE = ".lock"
MAX_NODES = 253

NOT_ROOT = ("the local backend needs root (network namespaces, iptables); "
            "run as root or use --backend docker")

# Names of the host objects of a run, all derived from its prefix.
NETNS_RE = re.compile(r"^(sb[0-9a-f]{6})-([A-Za-z0-9][A-Za-z0-9_.-]*)$")
LINK_RE = re.compile(r"^(sb[0-9a-f]{6})(?:v[0-9]{1,3})?$")


# --------------------------------------------------------------------------- processes


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) of ``pid``, or None when there is no such
    process."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError, OSError):
        return None
    try:
        rest = data[data.rindex(b")") + 2:].split()
        return rest[0].decode(), int(rest[19])
    except (ValueError, IndexError):
        return None


def proc_start_time(pid: int) -> int | None:
    """Start time of a *running* process (None if gone or a zombie)."""
    st = proc_stat(pid)
    if st is None:
        return None
    if st[0] in ("Z", "X", "x") and not _has_live_threads(pid):
        return None
    return st[1]


def _has_live_threads(pid: int) -> bool:
    """A multi-threaded process whose main thread has exited can still run other threads
    (a dying Go binary keeps its sockets and locks until the last one ends)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X", "x"):
            return True
    return False


def pid_alive(pid: int | None, start_time: int | None) -> bool:
    """True when ``pid`` runs and is the same process (same start time) as recorded."""
    if not pid or start_time is None:
        return False
    return proc_start_time(pid) == int(start_time)


def read_pidfile(pidfile: str) -> tuple[int | None, int | None]:
    """(pid, start time) from ``<name>.pid`` and its ``<name>.start`` sidecar."""
    try:
        with open(pidfile) as f:
            pid = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None, None
    start = None
    try:
        with open(pidfile[:-4] + ".start") as f:
            start = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return pid, start


def _remove_pidfile(pidfile: str) -> None:
    for p in (pidfile, pidfile[:-4] + ".start"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)


def _killpg(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------------------------- host commands


def host(argv: Sequence[str], *, check: bool = True, input: str | None = None,
         timeout: float = 30) -> subprocess.CompletedProcess:
    """Run a host command (``ip``, ``iptables``) as an argv list; text output."""
    try:
        p = subprocess.run(list(argv), input=input, capture_output=True, text=True,
                           timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise RemoteCommandError("controller", argv, None, reason=f"timed out after {timeout:g} s")
    except OSError as e:
        raise RemoteCommandError("controller", argv, None, reason=str(e))
    if check and p.returncode != 0:
        raise RemoteCommandError("controller", argv, p.returncode, p.stdout, p.stderr)
    return p


_GONE = ("cannot find device", "does not exist", "no such file", "no such device",
         "bad rule", "no chain/target/match", "not found", "cannot open network namespace")


def _host_ok_if_gone(argv: Sequence[str]) -> bool:
    """Run a removal command; True if it removed something, False if it was already gone."""
    p = host(argv, check=False)
    if p.returncode == 0:
        return True
    if any(s in (p.stderr or "").lower() for s in _GONE):
        return False
    raise RemoteCommandError("controller", argv, p.returncode, p.stdout, p.stderr)


def list_netns() -> list[str]:
    try:
        return sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return []


def list_links() -> list[str]:
    p = host(["ip", "-j", "link", "show"], check=False)
    if p.returncode != 0:
        return []
    try:
        return [link["ifname"] for link in json.loads(p.stdout or "[]")]
    except (ValueError, KeyError, TypeError):
        return []


def netns_pids(ns: str) -> list[int]:
    p = host(["ip", "netns", "pids", ns], check=False)
    if p.returncode != 0:
        return []
    return [int(x) for x in p.stdout.split() if x.isdigit()]


def forward_rules() -> list[tuple[str, str]]:
    """(comment, rule line from ``iptables -S FORWARD``) for rules carrying an ``sb`` prefix
    comment."""
    p = host(["iptables", "-w", "-S", "FORWARD"], check=False)
    out = []
    if p.returncode != 0:
        return out
    for line in p.stdout.splitlines():
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if "--comment" in words:
            i = words.index("--comment")
            if i + 1 < len(words) and PREFIX_RE.match(words[i + 1]):
                out.append((words[i + 1], line))
    return out


def delete_forward_rule(line: str) -> bool:
    words = shlex.split(line)
    if not words or words[0] != "-A":
        return False
    return _host_ok_if_gone(["iptables", "-w", "-D", *words[1:]])


# --------------------------------------------------------------------------- subnets


def used_ipv4_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network the host has a route or an address in (default routes excepted)."""
    nets: list[ipaddress.IPv4Network] = []
    p = host(["ip", "-j", "-4", "route", "show", "table", "all"], check=False)
    if p.returncode == 0:
        for r in json.loads(p.stdout or "[]"):
            dst = r.get("dst")
            if not dst or dst == "default":
                continue
            with contextlib.suppress(ValueError):
                nets.append(ipaddress.ip_network(dst, strict=False))
    p = host(["ip", "-j", "-4", "addr", "show"], check=False)
    if p.returncode == 0:
        for link in json.loads(p.stdout or "[]"):
            for a in link.get("addr_info", []):
                with contextlib.suppress(ValueError, KeyError):
                    nets.append(ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}").network)
    return [n for n in nets if isinstance(n, ipaddress.IPv4Network)]


def choose_subnet(taken: Iterable[ipaddress.IPv4Network],
                  rng: random.Random | None = None) -> ipaddress.IPv4Network:
    """A random 10.x.y.0/24 that overlaps none of ``taken``."""
    taken = list(taken)
    rng = rng or random.SystemRandom()
    for _ in range(2000):
        cand = ipaddress.IPv4Network(f"10.{rng.randint(1, 254)}.{rng.randint(0, 255)}.0/24")
        if not any(cand.overlaps(t) for t in taken):
            return cand
    raise EnvironmentProblem("local backend: no free 10.x.y.0/24 subnet on this host")


# --------------------------------------------------------------------------- run roots


def run_root_of(prefix: str) -> str:
    return os.path.join(RUN_BASE, prefix)


def read_controller_file(run_root: str) -> dict | None:
    try:
        with open(os.path.join(run_root, CONTROLLER_FILE)) as f:
            info = json.load(f)
        return info if isinstance(info, dict) else None
    except (OSError, ValueError):
        return None


def controller_alive(info: dict | None) -> bool:
    if not info:
        return False
    c = info.get("controller") or {}
    return pid_alive(c.get("pid"), c.get("start_time"))


@contextlib.contextmanager
def base_lock():
    os.makedirs(RUN_BASE, mode=0o755, exist_ok=True)
    fd = os.open(os.path.join(RUN_BASE, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def teardown_run(prefix: str, info: dict | None, *, graceful_timeout: float = 0.0,
                 salvage_logs: bool = False,
                 saved: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Remove every host object of run ``prefix``: daemons (pid files, start time checked), any
    process left in its namespaces, its FORWARD rules, veths, namespaces, bridge and run root.

    Each step runs even when an earlier one failed. ``graceful_timeout`` > 0 sends SIGTERM first
    and waits that long before SIGKILL. With ``salvage_logs``, node logs are first copied to
    ``<store run dir>/nodes/<node>/`` (when recorded and not there yet), each copy noted in
    ``saved``. Returns (removed, errors) as lists of strings.
    """
    validate_prefix(prefix)
    info = info or {}
    run_root = run_root_of(prefix)
    removed: list[str] = []
    errors: list[str] = []

    def step(what: str, fn) -> None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every step must run
            errors.append(f"{what}: {e}")

    # Namespaces: recorded ones plus anything else carrying the prefix.
    recorded = [n.get("netns") for n in info.get("nodes", []) if n.get("netns")]
    namespaces = sorted({ns for ns in recorded if ns.startswith(prefix + "-")}
                        | {ns for ns in list_netns() if ns.startswith(prefix + "-")})

    # 1. daemons from pid files.
    def kill_daemons() -> None:
        groups: list[tuple[str, int]] = []
        if os.path.isdir(run_root):
            for node in sorted(os.listdir(run_root)):
                piddir = os.path.join(run_root, node, "pids")
                if not os.path.isdir(piddir):
                    continue
                for fn in sorted(os.listdir(piddir)):
                    if not fn.endswith(".pid"):
                        continue
                    pidfile = os.path.join(piddir, fn)
                    pid, start = read_pidfile(pidfile)
                    if pid and pid_alive(pid, start):
                        groups.append((f"{node}/{fn[:-4]}", pid))
        if not groups:
            return
        if graceful_timeout > 0:
            for _, pid in groups:
                _killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + graceful_timeout
            while time.monotonic() < deadline and any(proc_start_time(p) for _, p in groups):
                time.sleep(0.05)
        for what, pid in groups:
            if proc_start_time(pid) is not None:
                _killpg(pid, signal.SIGKILL)
            removed.append(f"process {pid} (daemon {what} of {prefix})")
        _wait_pids_gone([p for _, p in groups], 5)

    step("daemons", kill_daemons)

    # 2. anything still running inside the run's namespaces.
    def kill_ns_processes() -> None:
        for ns in namespaces:
            for _ in range(50):
                pids = [p for p in netns_pids(ns) if p != os.getpid()]
                if not pids:
                    break
                for p in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p, signal.SIGKILL)
                        removed.append(f"process {p} (in namespace {ns})")
                time.sleep(0.05)
            else:
                errors.append(f"namespace {ns}: processes would not die: {netns_pids(ns)}")

    step("namespace processes", kill_ns_processes)

    # 3. salvage node logs into the store run dir (heal after a crash).
    if salvage_logs and info.get("store_run_dir") and os.path.isdir(info["store_run_dir"]):
        def salvage() -> None:
            for n in info.get("nodes", []):
                src = os.path.join(n.get("node_dir", ""), "logs")
                dst = os.path.join(info["store_run_dir"], "nodes", n["name"])
                if os.path.isdir(src) and not os.path.exists(dst):
                    shutil.copytree(src, dst)
                    if saved is not None:
                        saved.append(f"logs of {prefix} {n['name']} -> {dst}")
        step("salvage logs", salvage)

    # 4. FORWARD rules with the run's comment.
    def forward() -> None:
        for comment, line in forward_rules():
            if comment == prefix and delete_forward_rule(line):
                removed.append(f"iptables FORWARD rule: {line}")

    step("FORWARD rules", forward)

    # 5. links: veths first (deleting one removes its peer), then the bridge.
    def links() -> None:
        names = [l for l in list_links() if (m := LINK_RE.match(l)) and m.group(1) == prefix]
        for name in sorted(names, key=lambda n: (n == prefix, n)):
            if _host_ok_if_gone(["ip", "link", "del", name]):
                removed.append(f"{'bridge' if name == prefix else 'veth'} {name}")

    step("links", links)

    # 6. namespaces.
    def netns() -> None:
        for ns in namespaces:
            if _host_ok_if_gone(["ip", "netns", "del", ns]):
                removed.append(f"namespace {ns}")

    step("namespaces", netns)

    # 7. the run root.
    def root() -> None:
        if os.path.isdir(run_root):
            shutil.rmtree(run_root)
            removed.append(f"run root {run_root}")

    step("run root", root)
    return removed, errors


def _wait_pids_gone(pids: Sequence[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(proc_start_time(p) is not None for p in pids):
        time.sleep(0.02)


# --------------------------------------------------------------------------- remote


class LocalRemote(Remote):
    """One node: a network namespace on this host. Files are shared with the controller."""

    def __init__(self, node: Node, netns: str, node_dir: str):
        self.node = node
        self.netns = netns
        self.node_dir = node_dir
        self._procs: dict[str, subprocess.Popen] = {}
        self._lock = threading.RLock()
        # Extra environment for every daemon started from now on (under ``env``): how a nemesis
        # that must be in place before the target starts reaches it, e.g. the clock nemesis's
        # libfaketime LD_PRELOAD (nemesis/clock.py). Optional capability: other remotes lack it.
        self.daemon_env: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"LocalRemote({self.node.name}, {self.node.ip}, netns={self.netns})"

    # -- commands

    def _argv(self, argv: Sequence[str]) -> list[str]:
        if isinstance(argv, (str, bytes)):
            raise TypeError("Remote.run takes an argv list, not a string; "
                            "use ['sh', '-c', script] to run a shell snippet")
        return ["ip", "netns", "exec", self.netns, *[str(a) for a in argv]]

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float | None = None,
            input: str | bytes | None = None) -> CommandResult:
        full = self._argv(argv)
        data = input.encode() if isinstance(input, str) else input
        try:
            p = subprocess.Popen(full, stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 start_new_session=True,
                                 cwd=self.node_dir if os.path.isdir(self.node_dir) else "/")
        except OSError as e:
            raise RemoteCommandError(self.node.name, list(argv), None, reason=str(e))
        try:
            out, err = p.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            _killpg(p.pid, signal.SIGKILL)
            try:
                out, err = p.communicate(timeout=2)
            except subprocess.TimeoutExpired:  # a grandchild holds the pipes
                p.kill()
                out, err = b"", b""
                p.wait()
            raise RemoteTimeout(self.node.name, list(argv), timeout,
                                out.decode(errors="replace"), err.decode(errors="replace"))
        except BaseException:
            _killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise
        res = CommandResult(p.returncode, out.decode(errors="replace"), err.decode(errors="replace"))
        if check and res.returncode != 0:
            raise RemoteCommandError(self.node.name, list(argv), res.returncode, res.stdout, res.stderr)
        return res

    # -- files

    def _path(self, remote: str) -> str:
        return remote if os.path.isabs(remote) else os.path.join(self.node_dir, remote)

    @staticmethod
    def _copy(src: str, dst: str) -> None:
        if os.path.isdir(src):
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            parent = os.path.dirname(os.path.abspath(dst))
            os.makedirs(parent, exist_ok=True)
            shutil.copy2(src, dst)

    def upload(self, local: str, remote: str) -> None:
        self._copy(local, self._path(remote))

    def download(self, remote: str, local: str) -> None:
        self._copy(self._path(remote), local)

    # -- daemons

    def _pidfile(self, name: str) -> str:
        if not NODE_NAME_RE.match(name or ""):
            raise ValueError(f"daemon name {name!r}: use letters, digits, '_', '.', '-'")
        return os.path.join(self.node_dir, "pids", f"{name}.pid")

    def log_path(self, name: str) -> str:
        """Where the daemon ``name`` writes its output (local extra, not in the protocol)."""
        self._pidfile(name)
        return os.path.join(self.node_dir, "logs", f"{name}.log")

    def read_log(self, name: str) -> str:
        """The daemon's log so far ('' if none) (local extra, not in the protocol)."""
        try:
            with open(self.log_path(name), "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def start_daemon(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
                     cwd: str | None = None) -> int:
        pidfile = self._pidfile(name)
        full = self._argv(argv)
        with self._lock:
            running = self.daemon_pid(name)
            if running is not None:
                raise EnvironmentProblem(f"{self.node.name}: daemon {name} is already running (pid {running})")
            os.makedirs(os.path.dirname(pidfile), exist_ok=True)
            logfile = self.log_path(name)
            os.makedirs(os.path.dirname(logfile), exist_ok=True)
            full_env = dict(os.environ)
            full_env.update(self.daemon_env)
            if env:
                full_env.update({str(k): str(v) for k, v in env.items()})
            with open(logfile, "ab") as logf:
                try:
                    p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, env=full_env,
                                         cwd=cwd or self.node_dir, start_new_session=True,
                                         close_fds=True)
                except OSError as e:
                    raise RemoteCommandError(self.node.name, list(argv), None, reason=str(e))
            st = proc_stat(p.pid)
            start = st[1] if st else 0
            _write_atomic(pidfile[:-4] + ".start", f"{start}\n")
            _write_atomic(pidfile, f"{p.pid}\n")
            self._procs[name] = p
            log.debug("%s: started daemon %s pid %d: %s", self.node.name, name, p.pid, argv)
            return p.pid

    def daemon_pid(self, name: str) -> int | None:
        pidfile = self._pidfile(name)
        with self._lock:
            p = self._procs.get(name)
            if p is not None and p.poll() is not None:
                del self._procs[name]
                return None
            pid, start = read_pidfile(pidfile)
            if pid is None or not pid_alive(pid, start):
                return None
            return pid

    def signal_daemon(self, name: str, sig: int) -> bool:
        with self._lock:
            pid = self.daemon_pid(name)
            if pid is None:
                return False
            return _killpg(pid, sig)

    def stop_daemon(self, name: str, timeout: float = 10) -> None:
        pidfile = self._pidfile(name)
        with self._lock:
            pid = self.daemon_pid(name)
            if pid is not None:
                proc = self._procs.get(name)
                _killpg(pid, signal.SIGTERM)
                if not self._wait_exit(pid, timeout):
                    log.warning("%s: daemon %s (pid %d) ignored SIGTERM for %gs; SIGKILL",
                                self.node.name, name, pid, timeout)
                    _killpg(pid, signal.SIGKILL)
                    self._wait_exit(pid, 5)
                if proc is not None:
                    # The leader is a zombie we have not reaped: its pid (and so its process group
                    # id) cannot be reused yet, so sweeping the group is safe.
                    _killpg(pid, signal.SIGKILL)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=5)
                    self._procs.pop(name, None)
            _remove_pidfile(pidfile)

    @staticmethod
    def _wait_exit(pid: int, timeout: float) -> bool:
        """Wait until ``pid`` exits (a zombie counts as exited; it is not reaped here)."""
        deadline = time.monotonic() + timeout
        while True:
            if proc_start_time(pid) is None:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def daemon_names(self) -> list[str]:
        """Names of the daemons that have a pid file on this node."""
        piddir = os.path.join(self.node_dir, "pids")
        try:
            return sorted(f[:-4] for f in os.listdir(piddir) if f.endswith(".pid"))
        except FileNotFoundError:
            return []


# --------------------------------------------------------------------------- cluster

_live_clusters: "set[LocalCluster]" = set()
_live_lock = threading.Lock()


def _stop_live_clusters_at_exit() -> None:
    # Only in the process that created them: a forked child exiting must not tear them down.
    for c in [c for c in list(_live_clusters) if c.owner_pid == os.getpid()]:
        try:
            c.stop()
        except Exception as e:  # noqa: BLE001
            log.error("stopping cluster %s at exit: %s", c.prefix, e)


atexit.register(_stop_live_clusters_at_exit)


class LocalCluster(Cluster):
    """A running local cluster. Use :meth:`stop` (or a ``with`` block) to remove it."""

    backend = "local"

    def __init__(self, info: dict):
        self.info = info
        self.prefix: str = info["prefix"]
        self.run_root: str = info["run_root"]
        self.subnet = ipaddress.IPv4Network(info["subnet"])
        self.bridge: str = info["bridge"]["name"]
        self.controller_ip: str = info["bridge"]["ip"]
        self.nodes: list[Node] = [Node(n["name"], n["ip"]) for n in info["nodes"]]
        self._remotes = {n["name"]: LocalRemote(Node(n["name"], n["ip"]), n["netns"], n["node_dir"])
                         for n in info["nodes"]}
        self._stopped = False
        self._stop_lock = threading.Lock()
        self.owner_pid = os.getpid()

    def __repr__(self) -> str:
        return f"LocalCluster({self.prefix}, {self.subnet}, nodes={[n.name for n in self.nodes]})"

    def __enter__(self) -> "LocalCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def remote(self, name: str) -> LocalRemote:
        return self._remotes[name]

    def node(self, name: str) -> Node:
        return self._remotes[name].node

    def netns(self, name: str) -> str:
        return self._remotes[name].netns

    def download_logs(self, dest_dir: str) -> None:
        for name, r in self._remotes.items():
            src = os.path.join(r.node_dir, "logs")
            dst = os.path.join(dest_dir, name)
            os.makedirs(dst, exist_ok=True)
            if os.path.isdir(src):
                shutil.copytree(src, dst, dirs_exist_ok=True)

    def stop(self, daemon_timeout: float = 5.0) -> None:
        """Stop daemons (SIGTERM, SIGKILL after ``daemon_timeout``), kill what is left in the
        namespaces, remove the FORWARD rule, veths, namespaces, bridge and run root.

        Idempotent. Every step runs even if an earlier one failed; failures are reported together
        at the end as one :class:`EnvironmentProblem` (``splitbrain heal`` can finish the job).
        """
        with self._stop_lock:
            if self._stopped:
                return
            # Reap daemons we started ourselves so their pids are not left as zombies.
            for r in self._remotes.values():
                for name in list(r._procs):
                    with contextlib.suppress(Exception):
                        r.daemon_pid(name)
            removed, errors = teardown_run(self.prefix, self.info, graceful_timeout=daemon_timeout)
            for r in self._remotes.values():
                for name, p in list(r._procs.items()):
                    with contextlib.suppress(Exception):
                        p.wait(timeout=1)
                    r._procs.pop(name, None)
            log.debug("cluster %s stopped; removed: %s", self.prefix, removed)
            if errors:
                raise EnvironmentProblem(f"local backend: could not remove everything of run "
                                         f"{self.prefix} ({'; '.join(errors)}); "
                                         f"run `splitbrain heal`")
            self._stopped = True
            with _live_lock:
                _live_clusters.discard(self)

    @property
    def stopped(self) -> bool:
        return self._stopped


class LocalBackend:
    """Starts :class:`LocalCluster` s. ``LocalBackend().start(["n1", "n2", "n3"], run_dir)``."""

    name = "local"

    def start(self, node_names: Sequence[str], run_dir: str | None = None,
              prefix: str | None = None) -> LocalCluster:
        """Create the cluster: bridge, FORWARD rule, one namespace per node, run root.

        ``run_dir`` is the store's directory of this run (recorded so ``heal`` can save node logs
        there after a crash); it may be None. ``prefix`` defaults to ``sb`` + 6 random hex digits.
        On any failure everything created so far is removed before the error is raised.
        """
        if os.geteuid() != 0:
            raise EnvironmentProblem(NOT_ROOT)
        for tool in ("ip", "iptables", "iptables-restore"):
            if shutil.which(tool) is None:
                raise EnvironmentProblem(f"the local backend needs `{tool}` (Debian: iproute2, iptables)")
        names = validate_node_names(node_names)
        if len(names) > MAX_NODES:
            raise EnvironmentProblem(f"the local backend supports at most {MAX_NODES} nodes")

        with base_lock():
            if prefix is None:
                for _ in range(100):
                    prefix = "sb" + secrets.token_hex(3)
                    if not os.path.exists(run_root_of(prefix)) and prefix not in list_links():
                        break
            validate_prefix(prefix)
            run_root = run_root_of(prefix)
            if (os.path.exists(run_root) or prefix in list_links()
                    or any(ns.startswith(prefix + "-") for ns in list_netns())):
                raise EnvironmentProblem(f"local backend: run prefix {prefix} is already in use")
            os.mkdir(run_root, 0o755)
            taken = used_ipv4_networks()
            for other in os.listdir(RUN_BASE):
                oi = read_controller_file(os.path.join(RUN_BASE, other)) if PREFIX_RE.match(other) else None
                if oi and oi.get("subnet"):
                    with contextlib.suppress(ValueError):
                        taken.append(ipaddress.IPv4Network(oi["subnet"]))
            subnet = choose_subnet(taken)
            hosts = list(subnet.hosts())  # .1 .. .254
            info = {
                "version": 1,
                "backend": "local",
                "prefix": prefix,
                "controller": {"pid": os.getpid(), "start_time": proc_start_time(os.getpid())},
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "run_root": run_root,
                "store_run_dir": os.path.abspath(run_dir) if run_dir else None,
                "subnet": str(subnet),
                "bridge": {"name": prefix, "ip": str(hosts[253])},
                "forward_rule": ["FORWARD", "-i", prefix, "-o", prefix, "-j", "ACCEPT",
                                 "-m", "comment", "--comment", prefix],
                "nodes": [{"name": n, "ip": str(hosts[i]), "netns": f"{prefix}-{n}",
                           "veth": f"{prefix}v{i + 1}", "node_dir": os.path.join(run_root, n)}
                          for i, n in enumerate(names)],
            }
            # Record the plan before creating anything: heal() can always find what we made.
            _write_atomic(os.path.join(run_root, CONTROLLER_FILE), json.dumps(info, indent=2) + "\n")
            cluster = LocalCluster(info)
            with _live_lock:
                _live_clusters.add(cluster)
            try:
                # The bridge gets its address under the lock, so a concurrent start sees the route.
                self._create_bridge(info)
            except BaseException:
                self._abort(cluster)
                raise
        try:
            host(["iptables", "-w", "-I", *info["forward_rule"]])
            for n in info["nodes"]:
                self._create_node(info, n)
        except BaseException:
            self._abort(cluster)
            raise
        log.info("local cluster %s: %s, bridge %s (%s), nodes %s", prefix, subnet, prefix,
                 info["bridge"]["ip"], ", ".join(f"{n['name']}={n['ip']}" for n in info["nodes"]))
        return cluster

    @staticmethod
    def _abort(cluster: LocalCluster) -> None:
        try:
            cluster.stop()
        except Exception as e:  # noqa: BLE001
            log.error("cleaning up after a failed start of %s: %s", cluster.prefix, e)

    @staticmethod
    def _create_bridge(info: dict) -> None:
        br = info["bridge"]["name"]
        plen = ipaddress.IPv4Network(info["subnet"]).prefixlen
        host(["ip", "link", "add", "name", br, "type", "bridge"])
        with contextlib.suppress(OSError):
            with open(f"/proc/sys/net/ipv6/conf/{br}/disable_ipv6", "w") as f:
                f.write("1")
        host(["ip", "addr", "add", f"{info['bridge']['ip']}/{plen}", "dev", br])
        host(["ip", "link", "set", br, "up"])

    @staticmethod
    def _create_node(info: dict, n: dict) -> None:
        br = info["bridge"]["name"]
        plen = ipaddress.IPv4Network(info["subnet"]).prefixlen
        ns, veth = n["netns"], n["veth"]
        for sub in ("logs", "pids", "data"):
            os.makedirs(os.path.join(n["node_dir"], sub), exist_ok=True)
        host(["ip", "netns", "add", ns])
        # No IPv6 on the node interface: partitions are IPv4 iptables rules, and a link-local
        # IPv6 path would bypass them. lo keeps ::1.
        host(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
              "net.ipv6.conf.default.disable_ipv6=1"], check=False)
        host(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
        with contextlib.suppress(OSError):
            with open(f"/proc/sys/net/ipv6/conf/{veth}/disable_ipv6", "w") as f:
                f.write("1")
        host(["ip", "link", "set", veth, "master", br])
        host(["ip", "link", "set", veth, "up"])
        host(["ip", "-n", ns, "addr", "add", f"{n['ip']}/{plen}", "dev", "eth0"])
        host(["ip", "-n", ns, "link", "set", "eth0", "up"])
        host(["ip", "-n", ns, "link", "set", "lo", "up"])
