"""Lost unfsynced writes: crash a node as a power cut would, losing every write it never fsynced.

A ``kill -9`` alone loses nothing that reached the kernel: the page cache survives the process.
A power cut also loses what the kernel held but never wrote to the platter, i.e. every write not
followed by an fsync. This nemesis produces that state for real processes on a real disk:

1. :meth:`LostWritesNemesis.prepare` (before the target starts) builds the LD_PRELOAD shim
   :file:`nemesis/lost_writes_shim.c` with ``gcc``, uploads it to each node and adds it to the
   remote's ``daemon_env`` (with ``SB_LOSTWRITES_DATA=<node_dir>/data``, the tree every target
   keeps its data in, and ``SB_LOSTWRITES_SHADOW=<node_dir>/lost-writes-image``). While the
   daemon runs, each successful ``fsync``/``fdatasync`` of a file under the data tree copies that
   file's content into the image, and an ``fsync`` of a directory makes its entries (renames,
   new names, unlinks) durable in the image. The shim does nothing else: reads and writes go
   straight to the kernel, so the store runs on the real disk at full speed except for the copy
   at each fsync (only the 64 KiB blocks that changed are rewritten).
2. ``start-lost-writes`` on the chosen nodes: SIGKILL the target's process (``db.kill``), run
   :mod:`nemesis.lost_writes_restore` on the node, which puts every file back to its image
   (unfsynced appends and overwrites gone, never-fsynced files deleted, undurable unlinks
   undone), and restart the process (``db.start``). The completion's ``value`` says, per node,
   which files were rolled back from how many bytes to how many, deleted or recreated.
3. ``stop-lost-writes`` restarts any node still down; ``heal_all`` does the same. The fault
   itself has no inverse: like a power cut, it already happened.

Why a shim and not a FUSE layer (lazyfs-style): both work here, but the shim keeps the store on
its own filesystem (no extra mount to create and to clean up after a crashed run, no FUSE
round trip on every read and write), needs only gcc, and its record is plain files that a person
can inspect. What it cannot do (docs/nemeses.md): statically linked programs (etcd, Go) ignore
LD_PRELOAD, and the op then says the shim is not loaded; O_SYNC/O_DSYNC writes, ``msync`` and
``sync_file_range`` are not durability points for it (such writes are lost, a harsher crash than a
real one); the kernel's own writeback is not modelled (a real power cut may keep some unfsynced
writes: we lose all of them, the worst legal case).

Ops (``process: nemesis``, type ``info``): ``start-lost-writes`` (value: None for the option
``targets``, default ``one``, or a node list), ``stop-lost-writes``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import subprocess
import tempfile

log = logging.getLogger("splitbrain.nemesis.lost_writes")

START, STOP = "start-lost-writes", "stop-lost-writes"
SHIM_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lost_writes_shim.c")
SHIM_NAME = "sb-lost-writes-shim.so"
IMAGE_DIR = "lost-writes-image"


def build_shim(out_dir: str) -> str:
    """Compile the shim into ``out_dir``; returns the .so path. Raises RuntimeError naming the
    problem when gcc is missing or fails."""
    if shutil.which("gcc") is None:
        raise RuntimeError("gcc is not installed (apt-get install gcc): cannot build the "
                           "lost-writes shim")
    out = os.path.join(out_dir, SHIM_NAME)
    p = subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", out, SHIM_SOURCE, "-ldl"],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"gcc failed to build the lost-writes shim: {p.stderr.strip()[-300:]}")
    return out


def shim_env(node_dir: str, shim_path: str, existing: dict | None = None) -> dict[str, str]:
    """The daemon environment that loads the shim, keeping another LD_PRELOAD (libfaketime)."""
    pre = (existing or {}).get("LD_PRELOAD", "")
    libs = [x for x in pre.replace(":", " ").split() if x and x != shim_path]
    node_dir = node_dir.rstrip("/")
    return {"LD_PRELOAD": " ".join([*libs, shim_path]),
            "SB_LOSTWRITES_DATA": f"{node_dir}/data",
            "SB_LOSTWRITES_SHADOW": f"{node_dir}/{IMAGE_DIR}"}


class LostWritesNemesis:
    """Kill nodes and roll their data back to the last fsync (module docstring)."""

    fs = frozenset({START, STOP})

    def __init__(self, rng: random.Random | None = None, targets: str = "one"):
        self.rng = rng if rng is not None else random.Random()
        self.targets = targets
        self.cluster = None
        self.db = None
        self.prepared: set[str] = set()
        self.unprepared: dict[str, str] = {}
        self.down: set[str] = set()
        self._build_dir: str | None = None

    # ------------------------------------------------------------------ lifecycle
    def prepare(self, cluster) -> None:
        """Before the target starts: build the shim, put it on every node, empty each node's
        image and add the shim to the remote's ``daemon_env``."""
        self.cluster = cluster
        try:
            self._build_dir = tempfile.mkdtemp(prefix="sb-lost-writes-")
            shim = build_shim(self._build_dir)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            for node in cluster.nodes:
                self.unprepared[node.name] = str(e)
            log.warning("lost-writes nemesis: %s", e)
            self._remove_build_dir()
            return
        try:
            self._install(cluster, shim)
        finally:
            self._remove_build_dir()  # every node has its own copy now

    def _remove_build_dir(self) -> None:
        if self._build_dir:
            shutil.rmtree(self._build_dir, ignore_errors=True)
            self._build_dir = None

    def _install(self, cluster, shim: str) -> None:
        with open(shim, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:12]
        for node in cluster.nodes:
            remote = cluster.remote(node.name)
            if not isinstance(getattr(remote, "daemon_env", None), dict):
                self.unprepared[node.name] = (f"its backend ({type(remote).__name__}) cannot give "
                                              "daemons an environment (no daemon_env)")
                continue
            node_dir = str(remote.node_dir).rstrip("/")
            target = f"{node_dir}/{SHIM_NAME}"
            try:
                remote.run(["sh", "-c", 'rm -rf -- "$1" && mkdir -p -- "$1"', "sh",
                            f"{node_dir}/{IMAGE_DIR}"], timeout=30)
                remote.upload(shim, target)
            except Exception as e:  # noqa: BLE001 - this node gets no lost-writes faults
                self.unprepared[node.name] = f"cannot install the shim: {e}"
                continue
            remote.daemon_env.update(shim_env(node_dir, target, remote.daemon_env))
            self.prepared.add(node.name)
        log.info("lost-writes nemesis: shim %s on %s", digest, ", ".join(sorted(self.prepared)))

    def setup(self, cluster, db=None) -> "LostWritesNemesis":
        self.cluster, self.db = cluster, db
        return self

    def teardown(self) -> None:
        try:
            self.heal_all()
        finally:
            self._remove_build_dir()

    def heal_all(self) -> None:
        """Restart every node this nemesis took down (the lost writes stay lost)."""
        if self.cluster is None or not self.down:
            return
        from nemesis.process import restart_down_nodes

        restart_down_nodes(self.db, self.cluster, self.down, "lost-writes nemesis")

    # ------------------------------------------------------------------ ops
    def invoke(self, op: dict) -> dict:
        if self.cluster is None:
            raise RuntimeError("lost-writes nemesis: invoke before setup")
        f = op.get("f")
        out = dict(op, type="info")
        if f == STOP:
            restarted = sorted(self.down)
            self.heal_all()
            out["value"] = restarted
            return out
        if f != START:
            raise ValueError(f"lost-writes nemesis: unknown f {f!r} (expected {START} or {STOP})")
        from nemesis.process import pick_nodes

        names = [n.name for n in self.cluster.nodes]
        value = op.get("value")
        nodes = list(value) if isinstance(value, (list, tuple)) and value else \
            pick_nodes(self.targets, names, self.rng)
        done, errors = {}, []
        can_kill = callable(getattr(self.db, "kill", None)) and callable(getattr(self.db, "start", None))
        if not can_kill:
            out.update(value={}, error="the db cannot kill/start its processes: no lost-writes fault")
            return out
        ready, why = self._loaded(nodes)
        errors += why
        # Kill every chosen node first, so they lose their writes at the same instant.
        for n in ready:
            try:
                self.db.kill(self.cluster, n)
                self.down.add(n)
            except Exception as e:  # noqa: BLE001 - reported in the op
                errors.append(f"{n}: kill failed: {e}")
        for n in sorted(self.down & set(ready)):
            try:
                done[n] = self._restore(n)
            except Exception as e:  # noqa: BLE001 - reported in the op
                errors.append(f"{n}: restore failed: {type(e).__name__}: {e}")
            try:
                self.db.start(self.cluster, n)
                self.down.discard(n)
            except Exception as e:  # noqa: BLE001 - stays in self.down for heal_all
                errors.append(f"{n}: restart failed: {e}")
        out["value"] = done
        if errors:
            out["error"] = "; ".join(errors)
        return out

    def _loaded(self, nodes) -> tuple[list[str], list[str]]:
        """Nodes whose running daemons have the shim mapped, and why the others are skipped."""
        ok, errors = [], []
        for n in nodes:
            if n not in self.prepared:
                errors.append(f"{n}: not prepared: "
                              f"{self.unprepared.get(n, 'the nemesis was not prepared before the target started')}")
                continue
            remote = self.cluster.remote(n)
            names = remote.daemon_names() if hasattr(remote, "daemon_names") else []
            pids = [p for p in (remote.daemon_pid(d) for d in names) if p]
            if not pids:
                errors.append(f"{n}: no running daemon")
                continue
            res = remote.run(["sh", "-c", 'for p in "$@"; do grep -l "$0" /proc/$p/maps; done; true',
                              SHIM_NAME, *map(str, pids)], check=False, timeout=10)
            if "maps" in res.stdout:
                ok.append(n)
            else:
                errors.append(f"{n}: no daemon has the shim loaded (pids {pids}; a static binary "
                              "ignores LD_PRELOAD): its writes cannot be tracked")
        return ok, errors

    def _restore(self, node: str) -> dict:
        from harness.control.splitbrain_runtime import splitbrain_command

        remote = self.cluster.remote(node)
        node_dir = str(remote.node_dir).rstrip("/")
        python, env = splitbrain_command(remote, None)
        argv = [*(["env", *(f"{k}={v}" for k, v in env.items())] if env else []), *python,
                "-m", "nemesis.lost_writes_restore", f"{node_dir}/data", f"{node_dir}/{IMAGE_DIR}"]
        res = remote.run(argv, timeout=60)
        return json.loads(str(res.stdout).strip().splitlines()[-1])
