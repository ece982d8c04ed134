"""Vote-crash: kill a node just after it grants a vote, and restart it at once.

Raft's safety rests on a vote surviving a crash: a node that forgets whom it voted for in a term
can vote again in that term, and two candidates can each win it (the reference Raft's planted
``forget-vote`` bug). Random kills almost never land inside that window (a few milliseconds
after the vote, before the winner's first entry reaches the voter), so this nemesis aims, the
way CrashTuner (SOSP 2019) places crashes at points it reads off the logs: it follows each
node's log (``db.vote_log(cluster, node)``: the file, on this machine, and a regular expression
for the line the store writes when it grants a vote; the reference Raft logs ``n3: voted for n1
in term 7`` as it sends the grant) through inotify, and when a node logs a vote it kills the
node with SIGKILL after a short random delay (so the grant has left) and restarts it on its
kept data directory. It is the real-process twin of the simulator's ``--vote-crash`` fault
(:mod:`reference_impl.sim.raft`).

Ops (``process: nemesis``, type ``info``):

- ``start-vote-crash``: arm the watcher, then (with ``kick``, the default) start an election:
  kill the primary (``db.primaries``) and restart it at once; the completion's ``value`` lists
  the watched nodes and its ``kicked`` names the primary it crashed (null when there was none);
- with ``bridge`` (option ``vote-crash-bridge: true``), ``start-vote-crash`` first cuts the
  network into a bridge around the primary (:func:`nemesis.grudge.bridge_at`: two halves that
  reach each other only through the old leader; the op's ``grudge``), then kicks: each half can
  elect a leader only through the old leader's vote, in the same term, which is the setting in
  which a forgotten vote makes two leaders; ``stop-vote-crash`` heals it;
- ``stop-vote-crash``: disarm it and restart any node still down; ``value`` lists the crashes
  of the period as ``{"node", "voted_for", "term", "delay_ms", "down_ms"}``.

Options: ``probability`` (of a crash per logged vote, default 1.0), ``delay_ms`` (the crash
comes after a random delay in ``[delay_ms / 3, delay_ms]`` after the line, default 6: the
store logs the grant as it hands it to its sender, so an instant kill could stop it from
leaving), ``down_ms`` (the node stays down
for a random time in ``[0, down_ms]`` before its restart, default 0: at once), ``cooldown_s`` (a node is not
crashed again within this time after its restart, default 1.0) and at most ``max_down`` nodes
are down at once (default: a minority, ``(nodes - 1) // 2``), so the cluster keeps a quorum.

What it cannot do: it needs the node's log on this machine (the local backend, rootless
included) and a db that says how it logs votes; elsewhere ``setup`` says so in one line. It
crashes the process, not the machine: written but unsynced data survive (the ``lost-writes``
nemesis drops those).
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time

from harness.errors import InputError
from nemesis.inotify_watch import InotifyWatch

log = logging.getLogger("splitbrain.nemesis.vote_crash")

START, STOP = "start-vote-crash", "stop-vote-crash"


class LogFollower:
    """The complete lines appended to one file since the last call (from its size at start).
    A file that shrank or was replaced (another inode) is read again from its start."""

    def __init__(self, path: str):
        self.path = path
        try:
            st = os.stat(path)
            self.offset, self.inode = st.st_size, st.st_ino
        except OSError:
            self.offset, self.inode = 0, None
        self.partial = b""

    def new_lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_size < self.offset or (self.inode is not None and st.st_ino != self.inode):
                    self.offset, self.partial = 0, b""
                self.inode = st.st_ino
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        data = self.partial + data
        *lines, self.partial = data.split(b"\n")
        return [ln.decode(errors="replace") for ln in lines]


class VoteCrashNemesis:
    """Crashes a node right after it logs a granted vote; see the module doc."""

    fs = frozenset({START, STOP})

    def __init__(self, rng: random.Random | None = None, probability: float = 1.0,
                 delay_ms: float = 6.0, down_ms: float = 0.0, cooldown_s: float = 1.0,
                 max_down: int | None = None, kick: bool = True, bridge: bool = False):
        if not 0 < probability <= 1:
            raise ValueError(f"vote-crash probability must be in (0, 1], got {probability!r}")
        self.rng = rng if rng is not None else random.Random()
        self.probability = probability
        self.delay_ms = delay_ms
        self.down_ms = down_ms
        self.kick = kick
        self.partition = None
        if bridge:
            from nemesis.partition import PartitionNemesis

            self.partition = PartitionNemesis("primary-bridge", self.rng)
        self.cooldown_s = cooldown_s
        self.max_down = max_down
        self.cluster = None
        self.db = None
        self.files: dict[str, str] = {}          # node -> its log file on this host
        self.patterns: dict[str, re.Pattern] = {}   # node -> the vote line (groups: to, term)
        self.lock = threading.Lock()
        self.armed = False
        self.down: set[str] = set()
        self.quiet_until: dict[str, float] = {}
        self.crashes: list[dict] = []
        self.errors: list[str] = []
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle
    def setup(self, cluster, db=None) -> "VoteCrashNemesis":
        from harness.control.local import LocalRemote

        self.cluster, self.db = cluster, db
        vote_log = getattr(db, "vote_log", None)
        if not callable(vote_log) or not all(callable(getattr(db, m, None)) for m in ("kill", "start")):
            raise InputError("nemesis: vote-crash needs a target that says how it logs its votes "
                             "and can kill and restart nodes (the reference raft store); "
                             f"{type(db).__name__} cannot")
        for node in cluster.nodes:
            remote = cluster.remote(node.name)
            if not isinstance(remote, LocalRemote):
                raise InputError("nemesis: vote-crash follows the nodes' logs, which must be on "
                                 f"this machine (the local backend); {node.name} is on the "
                                 f"{type(remote).__name__} backend")
            path, pattern = vote_log(cluster, node)
            self.files[node.name], self.patterns[node.name] = path, re.compile(pattern)
        if self.max_down is None:
            self.max_down = max(1, (len(self.files) - 1) // 2)
        if self.partition is not None:
            self.partition.setup(cluster, db)
        return self

    def teardown(self) -> None:
        try:
            self.heal_all()
        finally:
            if self.partition is not None:
                self.partition.teardown()

    def heal_all(self) -> None:
        """Disarm, wait for crashes in progress, heal the bridge partition, and restart every
        node still down."""
        self._disarm()
        if self.cluster is None:
            return
        if self.partition is not None:
            self.partition.heal_all()
        from nemesis.process import restart_down_nodes

        with self.lock:
            down = set(self.down)
        restart_down_nodes(self.db, self.cluster, down, "vote-crash nemesis")
        with self.lock:
            self.down &= down

    # ------------------------------------------------------------------ ops
    def invoke(self, op: dict) -> dict:
        f = op.get("f")
        if f not in self.fs:
            raise ValueError(f"vote-crash nemesis: unknown f {f!r} (expected one of {sorted(self.fs)})")
        if self.cluster is None:
            raise RuntimeError("vote-crash nemesis: invoke before setup")
        out = dict(op, type="info")
        if f == START:
            if self.partition is not None:
                cut = self.partition.invoke({"type": "info", "f": "start-partition", "value": None})
                out["grudge"] = cut.get("value")
                if cut.get("error"):
                    out["error"] = cut["error"]
            self._arm()
            out["value"] = sorted(self.files)
            if self.kick:
                out["kicked"] = self._kick()
            return out
        heal_error = None
        try:
            self.heal_all()
        except Exception as e:  # noqa: BLE001 - reported below, with the crashes of the period
            heal_error = str(e)
        with self.lock:
            out["value"], self.crashes = self.crashes, []
            errors, self.errors = self.errors, []
        if heal_error:
            errors.append(heal_error)
        if errors:
            out["error"] = "; ".join(errors)
        return out

    def _kick(self) -> str | None:
        """Crash the primary and restart it at once, so that an election starts now."""
        try:
            prim = list(getattr(self.db, "primaries", lambda c: [])(self.cluster) or [])
        except Exception as e:  # noqa: BLE001 - no kick this time
            log.warning("vote-crash: primaries() failed: %s", e)
            return None
        prim = [p for p in prim if p in self.files]
        if not prim:
            return None
        node = prim[0]
        with self.lock:
            if node in self.down:
                return None
            self.down.add(node)
        try:
            self.db.kill(self.cluster, node)
            self.db.start(self.cluster, node)
        except Exception as e:  # noqa: BLE001 - reported in the stop op; heal retries the start
            with self.lock:
                self.errors.append(f"kick {node}: {type(e).__name__}: {e}")
            return node
        with self.lock:
            self.down.discard(node)
        log.info("vote-crash: crashed the primary %s and restarted it", node)
        return node

    # ------------------------------------------------------------------ the watcher
    def _arm(self) -> None:
        """Take each log's current size and add the inotify watches here, before returning (and
        before a kick starts an election), so no vote logged after the op is missed."""
        with self.lock:
            if self.armed:
                return
            self.armed = True
        self._stop.clear()
        by_dir: dict[str, list[str]] = {}
        for node, path in self.files.items():
            by_dir.setdefault(os.path.dirname(path), []).append(node)
        follow = {n: LogFollower(p) for n, p in self.files.items()}
        try:
            watch = InotifyWatch()
        except OSError as e:
            with self.lock:
                self.errors.append(f"inotify: {e}")
            return
        for d in by_dir:
            try:
                watch.add(d, d)
            except OSError as e:
                with self.lock:
                    self.errors.append(f"cannot watch {d}: {e}")
        self._watcher = threading.Thread(target=self._watch, args=(watch, by_dir, follow),
                                         name="vote-crash-watch", daemon=True)
        self._watcher.start()

    def _disarm(self) -> None:
        with self.lock:
            self.armed = False
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
        for w in self._workers:
            w.join(timeout=30)
        self._workers = []

    def _watch(self, watch: InotifyWatch, by_dir: dict[str, list[str]],
               follow: dict[str, LogFollower]) -> None:
        with watch:
            while not self._stop.is_set():
                for d, name in watch.read(0.2):
                    for node in by_dir.get(d, ()):
                        if name != os.path.basename(self.files[node]):
                            continue
                        for line in follow[node].new_lines():
                            m = self.patterns[node].search(line)
                            if m:
                                self._maybe_crash(node, m.group(1), int(m.group(2)))

    def _maybe_crash(self, node: str, voted_for: str, term: int) -> None:
        now = time.monotonic()
        with self.lock:
            if (not self.armed or node in self.down or len(self.down) >= self.max_down
                    or now < self.quiet_until.get(node, 0.0)
                    or self.rng.random() >= self.probability):
                return
            self.down.add(node)
            delay_ms = round(self.rng.uniform(self.delay_ms / 3, self.delay_ms), 2)
            down_ms = round(self.rng.uniform(0.0, self.down_ms), 1)
        w = threading.Thread(target=self._crash, args=(node, voted_for, term, delay_ms, down_ms),
                             name=f"vote-crash-{node}", daemon=True)
        self._workers = [t for t in self._workers if t.is_alive()] + [w]
        w.start()

    def _crash(self, node: str, voted_for: str, term: int, delay_ms: float,
               down_ms: float) -> None:
        time.sleep(delay_ms / 1000.0)
        try:
            self.db.kill(self.cluster, node)
            log.info("vote-crash: killed %s %.2f ms after it voted for %s in term %d", node,
                     delay_ms, voted_for, term)
            with self.lock:
                self.crashes.append({"node": node, "voted_for": voted_for, "term": term,
                                     "delay_ms": delay_ms, "down_ms": down_ms})
            if down_ms:
                self._stop.wait(down_ms / 1000.0)  # cut short when disarmed: restart now
            self.db.start(self.cluster, node)
        except Exception as e:  # noqa: BLE001 - reported in the stop op; heal retries the start
            with self.lock:
                self.errors.append(f"{node}: {type(e).__name__}: {e}")
            return
        with self.lock:
            self.down.discard(node)
            self.quiet_until[node] = time.monotonic() + self.cooldown_s
