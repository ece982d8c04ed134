"""The docker control backend: one container per node, on a network the run owns.

Layout of one run with prefix ``sb3fa9c1`` and nodes n1..n3 (see docs/backends.md):

- image ``splitbrain-node:<hash>`` built here with no registry (:mod:`harness.control.docker_image`);
- network ``sb3fa9c1``: a user-defined bridge, ``internal`` (no route off the machine, no NAT),
  with an explicit ``10.A.B.0/24`` that overlaps no host route and no other run; the gateway
  ``.254`` is the host's (the controller's) address on it;
- container ``sb3fa9c1-n1`` (hostname ``n1``) at ``10.A.B.1`` (n2 = .2, ...), started with
  ``--init``, ``--cap-add NET_ADMIN`` (iptables partitions inside the container) and IPv6 off
  (an IPv6 path would bypass IPv4 partitions); its main process is ``sleep infinity``; its
  default route is deleted at start: a node reaches the other nodes and the controller only;
- every object is labelled ``splitbrain.prefix=sb3fa9c1``: that, not the name alone, is what
  ``splitbrain heal`` trusts before removing a container or a network;
- run root ``/run/splitbrain/sb3fa9c1/controller.json`` on the host (written before anything is
  created, as the local backend does), so ``heal`` tells a live run from leftovers.

Inside a container the node directory is ``/var/lib/splitbrain/<node>`` (``logs/``, ``pids/``,
``data/``). Commands run with ``docker exec`` as argv lists (never through a shell) via the node
agent (:mod:`harness.control.node_agent`), which also starts daemons with pid files and enforces
timeouts on the node's side. Files move with ``put_archive``/``get_archive``. ``pause_node`` /
``resume_node`` use ``docker pause`` (the cgroup freezer: the whole node stops, not one process).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import io
import ipaddress
import json
import logging
import os
import posixpath
import secrets
import shutil
import socket
import struct
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from harness.control import local as L
from harness.control.agent_remote import AgentRemote, one_line
from harness.control.remote import (
    PREFIX_RE,
    Cluster,
    Node,
    RemoteCommandError,
    validate_node_names,
    validate_prefix,
)
from harness.errors import EnvironmentProblem

log = logging.getLogger("splitbrain.control.docker")

LABEL_PREFIX = "splitbrain.prefix"
LABEL_NODE = "splitbrain.node"
AGENT = "/usr/local/lib/splitbrain/node_agent.py"
NODE_BASE = "/var/lib/splitbrain"
MAX_NODES = 253
#: Extra seconds the controller waits for a command's stream after the agent's own timeout.
GRACE_S = 15.0

NO_SDK = ("the docker backend needs the Python docker SDK (pip install 'docker>=7'); "
          "or use --backend local")


def connect():
    """A Docker SDK client, or EnvironmentProblem saying in one line what is missing."""
    try:
        import docker
    except ImportError:
        raise EnvironmentProblem(NO_SDK) from None
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as e:  # noqa: BLE001 - any failure means "no usable dockerd"
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise EnvironmentProblem(f"the docker backend cannot reach dockerd ({first[:200]}); start it "
                                 f"(ci/start-dockerd.sh) or use --backend local") from None
    return client


def dockerd_problem() -> str | None:
    """Why the docker backend cannot run here (for test skips), or None."""
    try:
        connect().close()
    except EnvironmentProblem as e:
        return str(e)
    return None


# --------------------------------------------------------------------------- exec


def _read_frames(sock, deadline: float | None) -> tuple[bytes, bytes]:
    """Read a multiplexed (non-tty) exec stream until EOF: (stdout, stderr)."""
    out, err = bytearray(), bytearray()
    buf = bytearray()
    while True:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("exec stream")
            sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            stream, size = buf[0], struct.unpack(">I", bytes(buf[4:8]))[0]
            if len(buf) < 8 + size:
                break
            (err if stream == 2 else out).extend(buf[8:8 + size])
            del buf[:8 + size]
    return bytes(out), bytes(err)


class DockerRemote(AgentRemote):
    """One node: a container of the run. Commands go through ``docker exec`` and the node agent."""

    agent = AGENT

    def __init__(self, client, node: Node, container: str, node_dir: str):
        self.client = client
        self.api = client.api
        self.node = node
        self.container = container
        self.node_dir = node_dir

    def __repr__(self) -> str:
        return f"DockerRemote({self.node.name}, {self.node.ip}, container={self.container})"

    def _exec(self, argv: list[str], input: bytes | None, timeout: float | None,
              workdir: str | None = None) -> tuple[int, bytes, bytes]:
        """Run ``argv`` in the container; (exit code, stdout, stderr)."""
        eid = self.api.exec_create(self.container, argv, stdin=input is not None,
                                   workdir=workdir or self.node_dir)["Id"]
        sock = self.api.exec_start(eid, socket=True)
        raw = getattr(sock, "_sock", sock)
        deadline = time.monotonic() + timeout + GRACE_S if timeout else None
        try:
            if input is not None:
                raw.sendall(input)
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_WR)
            out, err = _read_frames(raw, deadline)
        finally:
            with contextlib.suppress(Exception):
                sock.close()
        for _ in range(500):
            info = self.api.exec_inspect(eid)
            if not info.get("Running"):
                code = info.get("ExitCode")
                return (code if code is not None else -1), out, err
            time.sleep(0.01)
        return -1, out, err

    # -- files

    def upload(self, local: str, remote: str) -> None:
        dst = self._path(remote)
        parent, base = posixpath.split(dst.rstrip("/"))
        self.run(["mkdir", "-p", parent or "/"])
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(local, arcname=base)
        try:
            self.api.put_archive(self.container, parent or "/", buf.getvalue())
        except Exception as e:  # noqa: BLE001
            raise RemoteCommandError(self.node.name, ["upload", local, dst], None,
                                     reason=_one_line(e)) from None

    def download(self, remote: str, local: str) -> None:
        src = self._path(remote).rstrip("/")
        try:
            stream, _stat = self.api.get_archive(self.container, src)
            with tempfile.TemporaryFile() as tmp:
                for chunk in stream:
                    tmp.write(chunk)
                tmp.seek(0)
                _extract_as(tmp, posixpath.basename(src), local)
        except EnvironmentProblem:
            raise
        except Exception as e:  # noqa: BLE001
            raise RemoteCommandError(self.node.name, ["download", src, local], None,
                                     reason=_one_line(e)) from None

    def splitbrain_runtime(self) -> tuple[list[str], dict[str, str]]:
        """splitbrain's code runs with the image's ``python3``; ``/opt/splitbrain`` is on its
        ``PYTHONPATH`` (see :mod:`harness.control.splitbrain_runtime`)."""
        return ["python3"], {}

    # -- docker extras

    def pause_node(self, attempts: int = 5) -> None:
        """Freeze every process of the node (``docker pause``).

        runc's cgroup-v1 freezer gives up with "unable to freeze" when the cgroup does not settle
        in time (seen here on a loaded machine: moby/moby#48205); it thaws the node again before
        failing, so the pause is simply retried a few times."""
        import docker

        for attempt in range(1, attempts + 1):
            try:
                self.api.pause(self.container)
                return
            except docker.errors.APIError as e:
                if "unable to freeze" not in str(e) or attempt == attempts:
                    raise
                log.debug("docker pause %s: %s; retrying", self.container, _one_line(e))
                time.sleep(0.2 * attempt)

    def resume_node(self) -> None:
        """Undo :meth:`pause_node` (``docker unpause``); no-op when not paused."""
        import docker

        with contextlib.suppress(docker.errors.APIError):
            self.api.unpause(self.container)


_one_line = one_line


def _extract_as(fileobj, root: str, local: str) -> None:
    """Extract a ``get_archive`` tar whose top entry is ``root`` so that it becomes ``local``."""
    with tarfile.open(fileobj=fileobj, mode="r:") as tar:
        members = tar.getmembers()
        top = next((m for m in members if m.name.rstrip("/") == root), None)
        if top is not None and top.isdir():
            os.makedirs(local, exist_ok=True)
            for m in members:
                if m.name.rstrip("/") == root:
                    continue
                m.name = posixpath.relpath(m.name, root)
                tar.extract(m, local, filter="data")
        else:
            m = top or members[0]
            parent = os.path.dirname(os.path.abspath(local)) or "."
            os.makedirs(parent, exist_ok=True)
            f = tar.extractfile(m)
            if f is None:
                raise EnvironmentProblem(f"download: {root} is not a regular file")
            with open(local, "wb") as out:
                shutil.copyfileobj(f, out)


# --------------------------------------------------------------------------- cluster

_live_clusters: "set[DockerCluster]" = set()
_live_lock = threading.Lock()


def _stop_live_clusters_at_exit() -> None:
    for c in [c for c in list(_live_clusters) if c.owner_pid == os.getpid()]:
        try:
            c.stop()
        except Exception as e:  # noqa: BLE001
            log.error("stopping docker cluster %s at exit: %s", c.prefix, e)


atexit.register(_stop_live_clusters_at_exit)


class DockerCluster(Cluster):
    """A running docker cluster. :meth:`stop` (or a ``with`` block) removes it."""

    backend = "docker"

    def __init__(self, client, info: dict):
        self.client = client
        self.info = info
        self.prefix: str = info["prefix"]
        self.run_root: str = info["run_root"]
        self.subnet = ipaddress.IPv4Network(info["subnet"])
        self.network: str = info["network"]
        self.controller_ip: str = info["gateway"]
        self.image: str = info["image"]
        self.nodes: list[Node] = [Node(n["name"], n["ip"]) for n in info["nodes"]]
        self._remotes = {n["name"]: DockerRemote(client, Node(n["name"], n["ip"]), n["container"],
                                                 n["container_dir"]) for n in info["nodes"]}
        self._stopped = False
        self._stop_lock = threading.Lock()
        self.owner_pid = os.getpid()

    def __repr__(self) -> str:
        return f"DockerCluster({self.prefix}, {self.subnet}, nodes={[n.name for n in self.nodes]})"

    def __enter__(self) -> "DockerCluster":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def remote(self, name: str) -> DockerRemote:
        return self._remotes[name]

    def node(self, name: str) -> Node:
        return self._remotes[name].node

    def pause(self, name: str) -> None:
        self._remotes[name].pause_node()

    def resume(self, name: str) -> None:
        self._remotes[name].resume_node()

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

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(fetch, self._remotes.items()))
        if errors:
            raise EnvironmentProblem("docker backend: downloading logs: " + "; ".join(errors))

    def stop(self) -> None:
        """Remove the containers (their daemons die with them), the network and the run root.

        Idempotent; every step runs even if an earlier one failed; failures are reported together.
        """
        with self._stop_lock:
            if self._stopped:
                return
            removed, errors = remove_run(self.client, self.prefix, self.info)
            log.debug("docker cluster %s stopped; removed: %s", self.prefix, removed)
            if errors:
                raise EnvironmentProblem(f"docker backend: could not remove everything of run "
                                         f"{self.prefix} ({'; '.join(errors)}); run `splitbrain heal`")
            self._stopped = True
            with _live_lock:
                _live_clusters.discard(self)

    @property
    def stopped(self) -> bool:
        return self._stopped


def remove_run(client, prefix: str, info: dict | None, *, salvage_logs: bool = False,
               saved: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Remove run ``prefix``'s containers and network (found by label) and its run root.

    Only objects labelled ``splitbrain.prefix=<prefix>`` are touched. With ``salvage_logs`` each
    node's ``logs/`` is first copied to ``<store run dir>/nodes/<node>/`` (when recorded and not
    there yet). Returns (removed, errors).
    """
    import docker

    validate_prefix(prefix)
    info = info or {}
    removed: list[str] = []
    errors: list[str] = []
    label = f"{LABEL_PREFIX}={prefix}"
    try:
        containers = client.api.containers(all=True, filters={"label": label})
    except Exception as e:  # noqa: BLE001
        containers = []
        errors.append(f"listing containers: {_one_line(e)}")

    store = info.get("store_run_dir")
    if salvage_logs and store and os.path.isdir(store):
        dirs = {n["name"]: n.get("container_dir") for n in info.get("nodes", [])}
        for c in containers:
            node = (c.get("Labels") or {}).get(LABEL_NODE)
            dst = os.path.join(store, "nodes", node or "?")
            if not node or not dirs.get(node) or os.path.exists(dst):
                continue
            try:
                DockerRemote(client, Node(node, ""), c["Id"], dirs[node]).download("logs", dst)
                if saved is not None:
                    saved.append(f"logs of {prefix} {node} -> {dst}")
            except Exception as e:  # noqa: BLE001
                errors.append(f"salvaging logs of {node}: {e}")

    def rm(c: dict) -> None:
        name = (c.get("Names") or ["?"])[0].lstrip("/")
        try:
            if c.get("State") == "paused":
                with contextlib.suppress(docker.errors.APIError):
                    client.api.unpause(c["Id"])
            client.api.remove_container(c["Id"], force=True, v=True)
            removed.append(f"container {name}")
        except docker.errors.NotFound:
            pass
        except Exception as e:  # noqa: BLE001
            errors.append(f"container {name}: {_one_line(e)}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(rm, containers))
    try:
        for net in client.api.networks(filters={"label": label}):
            try:
                client.api.remove_network(net["Id"])
                removed.append(f"network {net['Name']}")
            except docker.errors.NotFound:
                pass
            except Exception as e:  # noqa: BLE001
                errors.append(f"network {net.get('Name')}: {_one_line(e)}")
    except Exception as e:  # noqa: BLE001
        errors.append(f"listing networks: {_one_line(e)}")
    root = L.run_root_of(prefix)
    if os.path.isdir(root):
        try:
            shutil.rmtree(root)
            removed.append(f"run root {root}")
        except OSError as e:
            errors.append(f"run root {root}: {e}")
    return removed, errors


def docker_prefixes(client) -> set[str]:
    """Prefixes of every container or network labelled by a splitbrain run."""
    found = set()
    for c in client.api.containers(all=True, filters={"label": LABEL_PREFIX}):
        p = (c.get("Labels") or {}).get(LABEL_PREFIX, "")
        if PREFIX_RE.match(p):
            found.add(p)
    for n in client.api.networks(filters={"label": LABEL_PREFIX}):
        p = (n.get("Labels") or {}).get(LABEL_PREFIX, "")
        if PREFIX_RE.match(p):
            found.add(p)
    return found


def heal_leftovers(live: set[str], dead: dict[str, dict | None], report) -> None:
    """``splitbrain heal``'s docker part: remove containers and networks of runs that are not
    live. Without a reachable dockerd there is nothing it can do; it says so only when a dead run
    was a docker run."""
    docker_dead = [p for p, i in dead.items() if (i or {}).get("backend") == "docker"]
    try:
        import docker  # noqa: F401
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as e:  # noqa: BLE001
        if docker_dead:
            report.errors.append(f"docker runs {', '.join(docker_dead)}: dockerd unreachable "
                                 f"({_one_line(e)[:120]})")
        return
    try:
        prefixes = (docker_prefixes(client) | set(docker_dead)) - set(live)
        for prefix in sorted(prefixes):
            removed, errors = remove_run(client, prefix, dead.get(prefix), salvage_logs=True,
                                         saved=report.saved)
            report.removed += removed
            report.errors += [f"{prefix}: {e}" for e in errors]
            if removed and prefix not in report.healed:
                report.healed.append(prefix)
    finally:
        client.close()


# --------------------------------------------------------------------------- backend


def _docker_subnets(client) -> list[ipaddress.IPv4Network]:
    nets = []
    for n in client.api.networks():
        for cfg in ((n.get("IPAM") or {}).get("Config") or []):
            with contextlib.suppress(ValueError, TypeError):
                net = ipaddress.ip_network(cfg.get("Subnet"), strict=False)
                if isinstance(net, ipaddress.IPv4Network):
                    nets.append(net)
    return nets


class DockerBackend:
    """Starts :class:`DockerCluster` s: ``DockerBackend().start(["n1", "n2", "n3"], run_dir)``."""

    name = "docker"

    def __init__(self, image: str | None = None):
        #: An explicit image (tests, users with their own); default: build/reuse the node image.
        self.image = image
        self.timings: dict[str, float] = {}

    OPTIONS = ("image",)

    @classmethod
    def from_options(cls, options: dict) -> "DockerBackend":
        """From the spec's ``backend-options``: ``image`` (an existing image to use instead of
        building ``splitbrain-node``; it must have python3 and the node agent)."""
        from harness.errors import InputError

        unknown = sorted(set(options) - set(cls.OPTIONS))
        if unknown:
            raise InputError(f"backend-options: {unknown[0]}: unknown option for the docker backend "
                             f"(valid: {', '.join(cls.OPTIONS)})")
        image = options.get("image")
        if image is not None and (not isinstance(image, str) or not image.strip()):
            raise InputError(f"backend-options: image: must be an image name, got {image!r}")
        return cls(image=image)

    def start(self, node_names: Sequence[str], run_dir: str | None = None,
              prefix: str | None = None) -> DockerCluster:
        """Create the network and one container per node; return when every node runs.

        On any failure everything created so far is removed before the error is raised.
        """
        t0 = time.monotonic()
        names = validate_node_names(node_names)
        if len(names) > MAX_NODES:
            raise EnvironmentProblem(f"the docker backend supports at most {MAX_NODES} nodes")
        client = connect()
        from harness.control.docker_image import ensure_node_image

        import docker

        image = self.image or ensure_node_image(client)
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            raise EnvironmentProblem(f"docker backend: no image {image!r} (backend-options image); "
                                     f"leave it out to build splitbrain's node image") from None
        self.timings["image_s"] = time.monotonic() - t0

        with L.base_lock():
            if prefix is None:
                for _ in range(100):
                    prefix = "sb" + secrets.token_hex(3)
                    if not os.path.exists(L.run_root_of(prefix)):
                        break
            validate_prefix(prefix)
            run_root = L.run_root_of(prefix)
            if os.path.exists(run_root) or prefix in docker_prefixes(client):
                raise EnvironmentProblem(f"docker backend: run prefix {prefix} is already in use")
            os.mkdir(run_root, 0o755)
            taken = L.used_ipv4_networks() + _docker_subnets(client)
            for other in os.listdir(L.RUN_BASE):
                oi = L.read_controller_file(os.path.join(L.RUN_BASE, other)) if PREFIX_RE.match(other) else None
                if oi and oi.get("subnet"):
                    with contextlib.suppress(ValueError):
                        taken.append(ipaddress.IPv4Network(oi["subnet"]))
            subnet = L.choose_subnet(taken)
            hosts = list(subnet.hosts())
            info = {
                "version": 1,
                "backend": "docker",
                "prefix": prefix,
                "controller": {"pid": os.getpid(), "start_time": L.proc_start_time(os.getpid())},
                "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "run_root": run_root,
                "store_run_dir": os.path.abspath(run_dir) if run_dir else None,
                "subnet": str(subnet),
                "gateway": str(hosts[253]),
                "network": prefix,
                "image": image,
                "nodes": [{"name": n, "ip": str(hosts[i]), "container": f"{prefix}-{n}",
                           "container_dir": f"{NODE_BASE}/{n}"} for i, n in enumerate(names)],
            }
            L._write_atomic(os.path.join(run_root, L.CONTROLLER_FILE), json.dumps(info, indent=2) + "\n")
            cluster = DockerCluster(client, info)
            with _live_lock:
                _live_clusters.add(cluster)
            try:
                self._create_network(client, info)
            except BaseException:
                self._abort(cluster)
                raise
        try:
            with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
                list(pool.map(lambda n: self._create_node(client, info, n), info["nodes"]))
        except docker.errors.APIError as e:
            self._abort(cluster)
            raise EnvironmentProblem(f"docker backend: starting the containers of {prefix}: "
                                     f"{_one_line(e)}") from None
        except BaseException:
            self._abort(cluster)
            raise
        self.timings["start_s"] = time.monotonic() - t0
        log.info("docker cluster %s: image %s, network %s (%s), nodes %s; up in %.1fs "
                 "(image ready after %.1fs)", prefix, image, prefix, subnet,
                 ", ".join(f"{n['name']}={n['ip']}" for n in info["nodes"]),
                 self.timings["start_s"], self.timings["image_s"])
        return cluster

    @staticmethod
    def _abort(cluster: DockerCluster) -> None:
        try:
            cluster.stop()
        except Exception as e:  # noqa: BLE001
            log.error("cleaning up after a failed start of %s: %s", cluster.prefix, e)

    @staticmethod
    def _create_network(client, info: dict) -> None:
        import docker.types

        ipam = docker.types.IPAMConfig(pool_configs=[
            docker.types.IPAMPool(subnet=info["subnet"], gateway=info["gateway"])])
        client.api.create_network(
            info["network"], driver="bridge", ipam=ipam, internal=True, check_duplicate=True,
            labels={LABEL_PREFIX: info["prefix"]},
            options={"com.docker.network.bridge.enable_ip_masquerade": "false"})

    @staticmethod
    def _create_node(client, info: dict, n: dict) -> None:
        api = client.api
        host_config = api.create_host_config(
            init=True, cap_add=["NET_ADMIN"], network_mode=info["network"],
            sysctls={"net.ipv6.conf.all.disable_ipv6": "1",
                     "net.ipv6.conf.default.disable_ipv6": "1"})
        net_config = api.create_networking_config(
            {info["network"]: api.create_endpoint_config(ipv4_address=n["ip"])})
        c = api.create_container(
            info["image"], name=n["container"], hostname=n["name"], detach=True,
            labels={LABEL_PREFIX: info["prefix"], LABEL_NODE: n["name"]},
            host_config=host_config, networking_config=net_config, use_config_proxy=False)
        api.start(c["Id"])
        d = n["container_dir"]
        r = DockerRemote(client, Node(n["name"], n["ip"]), n["container"], d)
        # No default route (docker adds one even on an internal network): like the local
        # backend's namespaces, a node reaches the other nodes and the controller, nothing else.
        code, _out, err = r._exec(["sh", "-c", 'mkdir -p "$1/logs" "$1/pids" "$1/data" && '
                                   "{ ip -4 route del default 2>/dev/null || true; }", "sh", d],
                                  None, 30, workdir="/")
        if code != 0:
            raise RemoteCommandError(n["name"], ["mkdir", "-p", d], code, "", err.decode(errors="replace"))
