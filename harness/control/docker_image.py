"""The node image of the docker backend, built here without any registry and cached.

Two images, each tagged with a hash of its inputs, so one is rebuilt only when its inputs change
(and two controllers never build the same one at once: a lock file serialises builds):

``splitbrain-base:<hash>``
    A Debian root filesystem made by ``debootstrap --variant=minbase`` (:data:`BASE_PACKAGES`),
    then ``docker import``-ed. The SSH host keys debootstrap generates are deleted: every container
    makes its own at start (otherwise all nodes, and every run, would share one key). Inputs: the
    suite, variant, package list and mirror. Takes about a minute; needs root and ``debootstrap``.

``splitbrain-node:<hash>``
    ``FROM`` the base, built offline with ``docker build``: the host's etcd binary (Debian
    ``etcd-server``, a Go binary that needs only libc, the same bookworm libc), splitbrain's own
    source on ``PYTHONPATH`` (``/opt/splitbrain``), the node agent, and the start script. Inputs:
    the base tag, the Dockerfile, and the content of every copied file. A few seconds.

Old ``splitbrain-node`` tags are removed after a new one is built (unless a container still uses
them); base images are kept, they are the expensive part.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from harness.errors import EnvironmentProblem

log = logging.getLogger("splitbrain.control.docker")

BASE_REPO = "splitbrain-base"
NODE_REPO = "splitbrain-node"
LABEL_KIND = "splitbrain.image"
LABEL_INPUTS = "splitbrain.inputs"

SUITE = "bookworm"
VARIANT = "minbase"
#: What a node needs: python3 for the node agent and splitbrain's own stores, iproute2/iptables for
#: network faults, procps for ps/kill, openssh-server so a container can also be an ssh-backend host,
#: libfaketime for the clock nemesis (nemesis/clock.py preloads it into the target's daemons).
BASE_PACKAGES = ("python3", "python3-yaml", "iproute2", "iptables", "procps", "openssh-server",
                 "libfaketime")
DEFAULT_MIRROR = "http://deb.debian.org/debian"

#: Top-level packages of splitbrain copied into the node image (those present are copied).
SOURCE_PACKAGES = ("harness", "nemesis", "checkers", "workloads", "reference_impl")

NODE_INIT = """#!/bin/sh
# Main process of a splitbrain node container (under docker --init).
# SSH host keys are made here, per container, never baked into the image.
mkdir -p /run/sshd
ssh-keygen -A >/dev/null 2>&1 &
exec sleep infinity
"""

LOCK_PATH = "/run/splitbrain/.image.lock"


def source_root() -> Path:
    """The directory holding the ``harness`` package (the repo root for an editable install)."""
    import harness

    return Path(harness.__file__).resolve().parent.parent


def _mirror() -> str:
    """The Debian mirror apt uses on this host (so debootstrap goes where apt already can)."""
    candidates = []
    for p in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) + [Path("/etc/apt/sources.list")]:
        with contextlib.suppress(OSError):
            for line in p.read_text().splitlines():
                line = line.strip()
                if line.startswith("URIs:"):
                    candidates += line.split()[1:]
                elif line.startswith("deb ") and not line.startswith("deb-src"):
                    words = [w for w in line.split() if not w.startswith("[")]
                    if len(words) > 1:
                        candidates.append(words[1])
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian") and "security" not in uri:
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def _hash(parts: list[bytes]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.hexdigest()[:16]


def _file_digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def _source_files() -> list[tuple[Path, str]]:
    """(file, path inside /opt/splitbrain) for every .py file of splitbrain's packages."""
    root = source_root()
    out = []
    for pkg in SOURCE_PACKAGES:
        base = root / pkg
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
            for fn in sorted(filenames):
                if fn.endswith(".py"):
                    p = Path(dirpath) / fn
                    out.append((p, str(p.relative_to(root))))
    return out


def etcd_binary() -> str | None:
    """The host's etcd, copied into the node image (None when the host has none)."""
    return shutil.which("etcd")


def dockerfile(base_tag: str, with_etcd: bool) -> str:
    lines = [f"FROM {base_tag}"]
    if with_etcd:
        lines.append("COPY etcd /usr/bin/etcd")
    lines += [
        "COPY node-init /usr/local/sbin/splitbrain-node-init",
        "COPY node_agent.py /usr/local/lib/splitbrain/node_agent.py",
        "COPY src /opt/splitbrain",
        "ENV PYTHONPATH=/opt/splitbrain",
        'CMD ["/usr/local/sbin/splitbrain-node-init"]',
    ]
    return "\n".join(lines) + "\n"


def base_inputs() -> tuple[str, list[str]]:
    """(hash, debootstrap argv without the target dir) of the base image."""
    mirror = _mirror()
    argv = ["debootstrap", f"--variant={VARIANT}", f"--include={','.join(BASE_PACKAGES)}", SUITE]
    return _hash([a.encode() for a in argv] + [mirror.encode()]), argv + ["ROOTFS", mirror]


@contextlib.contextmanager
def _build_lock():
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _image_exists(client, tag: str) -> bool:
    import docker

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_base_image(client) -> str:
    """The base image's tag, debootstrapping and importing it first if it is not there."""
    digest, argv = base_inputs()
    tag = f"{BASE_REPO}:{digest}"
    if _image_exists(client, tag):
        return tag
    if os.geteuid() != 0:
        raise EnvironmentProblem(f"docker backend: building the base image {tag} needs root "
                                 "(debootstrap); run once as root, later runs reuse it")
    if shutil.which("debootstrap") is None:
        raise EnvironmentProblem("docker backend: building the node image needs debootstrap "
                                 "(apt-get install debootstrap)")
    t0 = time.monotonic()
    work = tempfile.mkdtemp(prefix="splitbrain-rootfs-", dir="/var/tmp")
    try:
        rootfs = os.path.join(work, "rootfs")
        cmd = argv[:-2] + [rootfs, argv[-1]]
        log.info("docker backend: building base image %s: %s", tag, " ".join(cmd))
        p = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            tail = " | ".join((p.stderr or p.stdout).strip().splitlines()[-3:])
            raise EnvironmentProblem(f"docker backend: debootstrap failed (exit {p.returncode}): {tail}")
        # Host keys are per container (made at start); caches only make the image bigger.
        for pattern in ("etc/ssh/ssh_host_*", "var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*"):
            for f in Path(rootfs).glob(pattern):
                f.unlink()
        tarpath = os.path.join(work, "rootfs.tar")
        subprocess.run(["tar", "-C", rootfs, "--numeric-owner", "-cf", tarpath, "."], check=True,
                       capture_output=True)
        client.api.import_image_from_file(
            tarpath, repository=BASE_REPO, tag=digest,
            changes=[f"LABEL {LABEL_KIND}=base {LABEL_INPUTS}={digest}",
                     "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("docker backend: base image %s built in %.1fs", tag, time.monotonic() - t0)
    return tag


def node_inputs(base_tag: str) -> tuple[str, str, str | None, list[tuple[Path, str]]]:
    """(hash, Dockerfile, etcd path, source files) of the node image."""
    etcd = etcd_binary()
    df = dockerfile(base_tag, etcd is not None)
    agent = Path(__file__).with_name("node_agent.py")
    files = _source_files()
    parts = [df.encode(), NODE_INIT.encode(), _file_digest(agent)]
    if etcd:
        parts.append(_file_digest(Path(etcd)))
    for path, rel in files:
        parts += [rel.encode(), _file_digest(path)]
    return _hash(parts), df, etcd, files


def _context(df: str, etcd: str | None, files: list[tuple[Path, str]]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add_bytes(name: str, data: bytes, mode: int = 0o644) -> None:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), mode, 0
            tar.addfile(ti, io.BytesIO(data))

        add_bytes("Dockerfile", df.encode())
        add_bytes("node-init", NODE_INIT.encode(), 0o755)
        add_bytes("node_agent.py", Path(__file__).with_name("node_agent.py").read_bytes(), 0o755)
        if etcd:
            add_bytes("etcd", Path(etcd).read_bytes(), 0o755)
        for path, rel in files:
            add_bytes(f"src/{rel}", path.read_bytes())
    buf.seek(0)
    return buf


def ensure_node_image(client) -> str:
    """The node image's tag (``splitbrain-node:<hash>``), building what is missing."""
    import docker

    with _build_lock():
        base = ensure_base_image(client)
        digest, df, etcd, files = node_inputs(base)
        tag = f"{NODE_REPO}:{digest}"
        if _image_exists(client, tag):
            return tag
        t0 = time.monotonic()
        ctx = _context(df, etcd, files)
        try:
            client.images.build(fileobj=ctx, custom_context=True, tag=tag, rm=True, forcerm=True,
                                pull=False, network_mode="none",
                                labels={LABEL_KIND: "node", LABEL_INPUTS: digest})
        except docker.errors.BuildError as e:
            tail = " | ".join(str(x.get("stream") or x.get("error") or "").strip()
                              for x in list(e.build_log)[-3:])
            raise EnvironmentProblem(f"docker backend: building {tag} failed: {e.msg}: {tail}") from None
        log.info("docker backend: node image %s built in %.1fs", tag, time.monotonic() - t0)
        _remove_old_node_images(client, keep=tag)
        return tag


def _remove_old_node_images(client, keep: str) -> None:
    """Remove older ``splitbrain-node`` tags (ours: labelled); an image in use stays."""
    import docker

    for img in client.images.list(name=NODE_REPO, filters={"label": f"{LABEL_KIND}=node"}):
        for t in img.tags:
            if t != keep and t.startswith(NODE_REPO + ":"):
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(t, noprune=False)
