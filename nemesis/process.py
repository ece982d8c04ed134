"""Process faults: crash nodes with SIGKILL and restart them; pause them with SIGSTOP/SIGCONT.

Both go through the target's optional capabilities (DESIGN.md "DB / target"), so this module
never guesses how a target's processes are named or restarted:

- ``kill``: ``db.kill(cluster, node)`` (SIGKILL, waits until the process is gone) and
  ``db.start(cluster, node)`` (restart on the kept data directory);
- ``pause``: ``db.pause(cluster, node)`` (SIGSTOP to the daemon's process group) and
  ``db.resume(cluster, node)`` (SIGCONT). With ``pause_mode="container"`` (nemesis option
  ``pause-mode: container``) the whole node is frozen instead, through the *cluster*'s
  ``pause(node)``/``resume(node)``: ``docker pause``/``unpause`` (the cgroup freezer) on the
  docker backend; the target needs no pause capability then. Other backends cannot freeze a whole
  node, and :meth:`ProcessNemesis.setup` says so.

Which nodes (option ``targets``, Jepsen's node specs), picked with the run's seeded rng:
``one`` (a random node), ``minority`` (a random set of fewer than half), ``majority`` (a random
majority), ``primaries`` (``db.primaries(cluster)``; a random node when the db cannot say, and
the op's ``error`` says so), ``all``. An op may also carry an explicit node list as its value.

Ops (``process: nemesis``, type ``info``); the completion's ``value`` lists the nodes affected:

- ``start-kill`` / ``stop-kill``: kill the chosen nodes / restart every node this nemesis killed;
- ``start-pause`` / ``stop-pause``: pause the chosen nodes / resume every paused node.

``heal_all()`` resumes every node (not only the ones it knows it paused: a SIGCONT to a running
process is harmless) and restarts every node it killed. It is safe before setup and repeatable.
"""

from __future__ import annotations

import logging
import random
from typing import Iterable, Sequence

from nemesis.grudge import majority

log = logging.getLogger("splitbrain.nemesis.process")

TARGETS = ("one", "minority", "majority", "primaries", "all")
#: How ``pause`` freezes a node: SIGSTOP the target's processes, or the backend freezes the node.
PAUSE_MODES = ("process", "container")


def restart_down_nodes(db, cluster, down: set, who: str) -> None:
    """``db.start`` every node in ``down`` (removing each that came back); every node is tried,
    then one EnvironmentProblem names those that failed (``who``: the nemesis, for the message)."""
    errors = []
    for n in sorted(down):
        try:
            db.start(cluster, n)
            down.discard(n)
        except Exception as e:  # noqa: BLE001 - try every node
            errors.append(f"{n}: {e}")
    if errors:
        from harness.errors import EnvironmentProblem

        raise EnvironmentProblem(f"{who} heal: " + "; ".join(errors))


def pick_nodes(spec: str, nodes: Sequence[str], rng: random.Random,
               primaries: Iterable[str] = ()) -> list[str]:
    """The nodes a target spec names (pure; ``primaries`` must be given for that spec).

    ``minority`` has ``1 .. (n-1)//2`` random nodes (at least one: one node of three);
    ``majority`` has exactly ``majority(n)`` random nodes, as in Jepsen.
    """
    nodes = list(nodes)
    if not nodes:
        return []
    if spec == "one":
        return [rng.choice(nodes)]
    if spec == "minority":
        k = rng.randint(1, max(1, (len(nodes) - 1) // 2))
        return sorted(rng.sample(nodes, k))
    if spec == "majority":
        return sorted(rng.sample(nodes, majority(len(nodes))))
    if spec == "all":
        return sorted(nodes)
    if spec == "primaries":
        return sorted(p for p in dict.fromkeys(primaries) if p in nodes)
    raise ValueError(f"unknown target {spec!r} (one of {', '.join(TARGETS)})")


class ProcessNemesis:
    """Kills and restarts, pauses and resumes the target's processes on chosen nodes.

    ``targets`` is the node spec used when an op carries no explicit node list. ``faults`` is
    which of ``kill``/``pause`` this instance handles (a package may offer only one).
    """

    def __init__(self, targets: str = "one", rng: random.Random | None = None,
                 faults: Iterable[str] = ("kill", "pause"), pause_mode: str = "process"):
        if targets not in TARGETS:
            raise ValueError(f"unknown target {targets!r} (one of {', '.join(TARGETS)})")
        if pause_mode not in PAUSE_MODES:
            raise ValueError(f"unknown pause mode {pause_mode!r} (one of {', '.join(PAUSE_MODES)})")
        self.targets = targets
        self.pause_mode = pause_mode
        self.rng = rng if rng is not None else random.Random()
        self.faults = tuple(faults)
        self.fs = frozenset(f"{verb}-{fault}" for fault in self.faults
                            for verb in ("start", "stop"))
        self.cluster = None
        self.db = None
        self.killed: set[str] = set()   # nodes we killed and have not restarted
        self.paused: set[str] = set()   # nodes we paused and have not resumed

    # ------------------------------------------------------------------ lifecycle

    def setup(self, cluster, db=None) -> "ProcessNemesis":
        if "pause" in self.faults and self.pause_mode == "container" and not (
                callable(getattr(cluster, "pause", None)) and callable(getattr(cluster, "resume", None))):
            from harness.errors import InputError

            raise InputError(f"nemesis-options: pause-mode: container needs a backend that freezes "
                             f"a whole node (docker); the {getattr(cluster, 'backend', '?')} backend "
                             f"cannot: use pause-mode: process")
        self.cluster = cluster
        self.db = db
        missing = self.missing_capabilities()
        if missing:
            log.warning("process nemesis: the db lacks %s; those ops will report an error",
                        ", ".join(missing))
        return self

    def missing_capabilities(self) -> list[str]:
        need = {"kill": ("kill", "start"),
                "pause": ("pause", "resume") if self.pause_mode == "process" else ()}
        return [m for f in self.faults for m in need[f] if not callable(getattr(self.db, m, None))]

    def _pause_actions(self):
        """(pause, resume) as ``action(cluster, node)``: the db's, or the cluster's whole-node
        freeze in container mode."""
        if self.pause_mode == "container":
            return (lambda cluster, n: cluster.pause(n)), (lambda cluster, n: cluster.resume(n))
        return getattr(self.db, "pause", None), getattr(self.db, "resume", None)

    def teardown(self) -> None:
        self.heal_all()

    def heal_all(self) -> None:
        """Resume every node, then restart every node we killed. Errors are collected per node
        and raised together after every node was tried."""
        if self.cluster is None:
            return
        errors = []
        resume = self._pause_actions()[1]
        if "pause" in self.faults and callable(resume):
            for n in self._names():
                try:
                    resume(self.cluster, n)
                    self.paused.discard(n)
                except Exception as e:  # noqa: BLE001 - try every node
                    errors.append(f"resume {n}: {e}")
        if "kill" in self.faults and self.killed and callable(getattr(self.db, "start", None)):
            for n in sorted(self.killed):
                try:
                    self.db.start(self.cluster, n)
                    self.killed.discard(n)
                except Exception as e:  # noqa: BLE001
                    errors.append(f"start {n}: {e}")
        if errors:
            from harness.errors import EnvironmentProblem

            raise EnvironmentProblem("process nemesis heal: " + "; ".join(errors))

    # ------------------------------------------------------------------ ops

    def invoke(self, op: dict) -> dict:
        f = op.get("f")
        out = dict(op, type="info")
        if self.cluster is None:
            raise RuntimeError("process nemesis: invoke before setup")
        if f not in self.fs:
            raise ValueError(f"process nemesis: unknown f {f!r} (expected one of {sorted(self.fs)})")
        verb, _, fault = f.partition("-")
        needs = {"kill": ("kill", "start"), "pause": ("pause", "resume")}[fault]
        if fault == "pause" and self.pause_mode == "container":
            needs = ()  # the backend freezes the node; the db need not know how
        missing = [m for m in needs if not callable(getattr(self.db, m, None))]
        if missing:
            out["value"] = []
            out["error"] = (f"the target cannot {fault}: its db has no {' or '.join(m + '()' for m in missing)} "
                            "capability; nothing was done")
            return out
        if verb == "start":
            nodes, note = self._choose(op.get("value"))
            action = self.db.kill if fault == "kill" else self._pause_actions()[0]
            done, errors = self._each(action, nodes)
            (self.killed if fault == "kill" else self.paused).update(done)
        else:
            # Resume every node (a SIGCONT to a running process is harmless), but report the
            # ones we had paused: that is what this op undid.
            nodes = sorted(self.killed) if fault == "kill" else self._names()
            was_paused = set(self.paused)
            note = None
            action = self.db.start if fault == "kill" else self._pause_actions()[1]
            done, errors = self._each(action, nodes)
            (self.killed if fault == "kill" else self.paused).difference_update(done)
            if fault == "pause":
                done = sorted(was_paused & set(done))
        out["value"] = sorted(done)
        msgs = ([note] if note else []) + [f"{n}: {e}" for n, e in errors.items()]
        if msgs:
            out["error"] = "; ".join(msgs)
        return out

    # ------------------------------------------------------------------ helpers

    def _names(self) -> list[str]:
        return [n.name for n in self.cluster.nodes]

    def _choose(self, value) -> tuple[list[str], str | None]:
        names = self._names()
        if isinstance(value, (list, tuple)) and value:
            bad = [v for v in value if v not in names]
            if bad:
                raise ValueError(f"process nemesis: unknown node(s) {bad}; nodes are {names}")
            return sorted(set(value)), None
        if self.targets != "primaries":
            return pick_nodes(self.targets, names, self.rng), None
        prim, why = [], ""
        fn = getattr(self.db, "primaries", None)
        if fn is None:
            why = "the db has no primaries()"
        else:
            try:
                prim = pick_nodes("primaries", names, self.rng, fn(self.cluster) or [])
            except Exception as e:  # noqa: BLE001 - a failing probe falls back to one node
                why = f"primaries() failed: {e}"
            if not prim and not why:
                why = "primaries() returned none"
        if prim:
            return prim, None
        return pick_nodes("one", names, self.rng), f"primaries unknown ({why}); chose a random node"

    def _each(self, action, nodes: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        """``action(cluster, node)`` on every node, in parallel (on docker and ssh each is a
        round trip); (nodes done, {node: error})."""
        from concurrent.futures import ThreadPoolExecutor

        done, errors = [], {}
        if not nodes:
            return done, errors
        with ThreadPoolExecutor(max_workers=min(16, len(nodes))) as pool:
            futures = [(n, pool.submit(action, self.cluster, n)) for n in nodes]
        for n, fut in futures:
            e = fut.exception()
            if e is None:
                done.append(n)
            else:
                errors[n] = f"{type(e).__name__}: {e}"
        return done, errors


def process_schedule(fault: str, interval_s: float) -> list[dict]:
    """One period: sleep, ``start-<fault>``, sleep, ``stop-<fault>`` (plain generator data)."""
    return [{"type": "sleep", "value": interval_s},
            {"type": "info", "f": f"start-{fault}", "value": None},
            {"type": "sleep", "value": interval_s},
            {"type": "info", "f": f"stop-{fault}", "value": None}]
