"""Clock faults through libfaketime: bump, strobe and reset each node's wall clock.

We cannot change the host's clock for one network namespace (there is one system clock), so the
skew is per *process*: the target's daemons start with libfaketime preloaded and read their
offset from a file that the nemesis rewrites at run time::

    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
    FAKETIME_TIMESTAMP_FILE=<node_dir>/faketime.rc     # holds e.g. "+12.5" or "-3"
    FAKETIME_NO_CACHE=1                                # re-read the file on every clock call
    FAKETIME_DONT_FAKE_MONOTONIC=1                     # only wall-clock time moves, as with date -s

How the env reaches the daemons: :meth:`ClockNemesis.prepare` runs *before* ``db.setup`` (the
runner calls ``nemesis.prepare(cluster)`` when it exists); it writes ``+0`` into each node's
file and adds the variables to the remote's ``daemon_env`` (an optional capability: every daemon
started on that node afterwards gets them). The local, docker and ssh remotes all have it. The
library must be on the *node*: the docker node image installs Debian ``libfaketime``; ssh hosts
need it installed (``apt-get install libfaketime``). A node without it, or a remote without
``daemon_env``, is left unprepared and every op that picks it says why in its ``error``.

libfaketime only reaches dynamically linked programs that call the C library's clock functions.
Static binaries (etcd, any Go program) ignore LD_PRELOAD. We never pretend: a target declares
``faketime_unsupported = "<why>"`` when it knows it cannot be reached, and in any case the nemesis
checks each node's daemons for the library in ``/proc/<pid>/maps``; a node where none has it is
not counted as skewed and the op's ``error`` names it.

Ops (``process: nemesis``, type ``info``; completion ``value`` = ``{node: offset in s}`` applied):

- ``start-clock``: a random ``bump`` or ``strobe`` (``value`` may be ``{"bump": {node: delta_s}}``
  or ``{"strobe": {"nodes": [...], "delta_s": d, "period_s": p, "duration_s": t}}``);
- ``bump-clock`` (Jepsen's name): value ``{node: delta_s}``, added to the node's offset;
- ``strobe-clock``: flips the nodes' clocks between their offset and offset + delta every
  period for duration (the op returns when the strobing ends, as in Jepsen);
- ``stop-clock`` / ``reset-clock``: every node's offset back to 0.
"""

from __future__ import annotations

import logging
import math
import os
import random
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("splitbrain.nemesis.clock")

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
RC_FILE = "faketime.rc"
START, STOP = "start-clock", "stop-clock"
BUMP, STROBE, RESET = "bump-clock", "strobe-clock", "reset-clock"


def format_offset(seconds: float) -> str:
    """libfaketime's relative format: ``+12.5``, ``-3``, ``+0``."""
    text = f"{seconds:+.6f}".rstrip("0").rstrip(".")
    return "+0" if text in ("+", "-", "+0", "-0") else text


def random_delta(rng: random.Random, max_s: float) -> float:
    """A signed skew whose magnitude is spread exponentially between 4 ms and ``max_s`` (as
    Jepsen's bump generator): small and huge skews are both common."""
    exp = rng.uniform(2, math.log2(max(max_s * 1000, 8)))
    return round(rng.choice((-1, 1)) * 2 ** exp / 1000, 3)


def faketime_env(rc_path: str, lib: str = LIBFAKETIME) -> dict[str, str]:
    """The environment that makes a dynamically linked daemon read its clock skew from
    ``rc_path``."""
    return {"LD_PRELOAD": lib, "FAKETIME_TIMESTAMP_FILE": rc_path, "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


class ClockNemesis:
    """Per-node wall-clock skew for the target's daemons (see the module docstring).

    ``max_skew_s`` bounds random bumps and strobe deltas; ``strobe_period_s`` and
    ``strobe_duration_s`` shape random strobes; ``targets`` picks the nodes of a random fault
    (``one``, ``minority``, ``majority``, ``all``; see :mod:`nemesis.process`)."""

    fs = frozenset({START, STOP, BUMP, STROBE, RESET})

    def __init__(self, rng: random.Random | None = None, *, max_skew_s: float = 30.0,
                 strobe_period_s: float = 0.05, strobe_duration_s: float = 2.0,
                 targets: str = "minority", lib: str = LIBFAKETIME):
        self.rng = rng if rng is not None else random.Random()
        self.max_skew_s = max_skew_s
        self.strobe_period_s = strobe_period_s
        self.strobe_duration_s = strobe_duration_s
        self.targets = targets
        self.lib = lib
        self.cluster = None
        self.db = None
        self.prepared: set[str] = set()    # nodes whose daemons get libfaketime
        self.unprepared: dict[str, str] = {}  # node -> why its daemons do not get it
        self.offsets: dict[str, float] = {}

    # ------------------------------------------------------------------ lifecycle

    def prepare(self, cluster) -> None:
        """Before the target starts: a ``+0`` offset file per node and the libfaketime env in
        each remote's ``daemon_env``. Nodes whose remote has no ``daemon_env`` stay unprepared
        (the ops will say so)."""
        self.cluster = cluster
        for node in cluster.nodes:
            remote = cluster.remote(node.name)
            if not isinstance(getattr(remote, "daemon_env", None), dict):
                self.unprepared[node.name] = (f"its backend ({type(remote).__name__}) cannot give "
                                              "daemons an environment (no daemon_env)")
                continue
            # On the node, not on the controller: a container or an ssh host has its own files.
            if not remote.run(["test", "-r", self.lib], check=False, timeout=30).ok:
                self.unprepared[node.name] = (f"{self.lib} is not on the node (install Debian "
                                              "libfaketime there)")
                continue
            self._write(node.name, 0.0)
            env = faketime_env(self._rc(node.name), self.lib)
            other = [x for x in remote.daemon_env.get("LD_PRELOAD", "").replace(":", " ").split()
                     if x != self.lib]  # keep another preload (the lost-writes shim)
            env["LD_PRELOAD"] = " ".join([*other, self.lib])
            remote.daemon_env.update(env)
            self.prepared.add(node.name)
        if self.unprepared:
            log.warning("clock nemesis: no clock faults on %s", "; ".join(
                f"{n}: {why}" for n, why in sorted(self.unprepared.items())))

    def setup(self, cluster, db=None) -> "ClockNemesis":
        self.cluster = cluster
        self.db = db
        return self

    def teardown(self) -> None:
        self.heal_all()

    def heal_all(self) -> None:
        """Every node's offset back to 0 (strobes are synchronous, so none is still running)."""
        if self.cluster is None:
            return
        errors = []
        for name in sorted(self.prepared):
            try:
                self._write(name, 0.0)
            except Exception as e:  # noqa: BLE001 - try every node
                errors.append(f"{name}: {e}")
        self.offsets = {}
        if errors:
            from harness.errors import EnvironmentProblem

            raise EnvironmentProblem("clock nemesis heal: " + "; ".join(errors))

    # ------------------------------------------------------------------ ops

    def invoke(self, op: dict) -> dict:
        if self.cluster is None:
            raise RuntimeError("clock nemesis: invoke before setup")
        f = op.get("f")
        out = dict(op, type="info")
        value = op.get("value")
        if f in (STOP, RESET):
            self.heal_all()
            out["value"] = {n: 0 for n in sorted(self.prepared)}
            return out
        if f == START:
            if isinstance(value, dict) and "bump" in value:
                return self._bump(value["bump"], out)
            if isinstance(value, dict) and "strobe" in value:
                return self._strobe(value["strobe"], out)
            if self.rng.random() < 0.5:
                return self._bump(None, out)
            return self._strobe(None, out)
        if f == BUMP:
            return self._bump(value, out)
        if f == STROBE:
            return self._strobe(value, out)
        raise ValueError(f"clock nemesis: unknown f {f!r} (expected one of {sorted(self.fs)})")

    def _reachable(self, nodes) -> tuple[list[str], list[str]]:
        """Nodes whose daemons really load libfaketime, and one reason per node that is not."""
        why_not = getattr(self.db, "faketime_unsupported", None)
        if why_not:
            return [], [f"libfaketime cannot reach this target: {why_not}"]
        ok, errors = [], []
        for n in nodes:
            if n not in self.prepared:
                why = self.unprepared.get(n, "the nemesis was not prepared before the target started")
                errors.append(f"{n}: its daemons were not started with libfaketime: {why}")
                continue
            remote = self.cluster.remote(n)
            names = remote.daemon_names() if hasattr(remote, "daemon_names") else []
            pids = [p for p in (remote.daemon_pid(d) for d in names) if p]
            if not pids:
                errors.append(f"{n}: no running daemon to skew")
                continue
            res = remote.run(["sh", "-c", 'for p in "$@"; do grep -l faketime /proc/$p/maps; done; true',
                              "sh", *map(str, pids)], check=False, timeout=10)
            if "maps" in res.stdout:
                ok.append(n)
            else:
                errors.append(f"{n}: no daemon has libfaketime loaded (pids {pids}; a static "
                              "binary ignores LD_PRELOAD)")
        return ok, errors

    def _bump(self, value, out: dict) -> dict:
        names = [n.name for n in self.cluster.nodes]
        if isinstance(value, dict) and value:
            deltas = {str(k): float(v) for k, v in value.items()}
        else:
            deltas = {n: random_delta(self.rng, self.max_skew_s) for n in self._pick(names)}
        ok, errors = self._reachable(sorted(deltas))
        applied = {}
        for n in ok:
            self.offsets[n] = self.offsets.get(n, 0.0) + deltas[n]
            self._write(n, self.offsets[n])
            applied[n] = round(self.offsets[n], 6)
        out["value"] = {"bump": applied}
        if errors:
            out["error"] = "; ".join(errors)
        return out

    def _strobe(self, value, out: dict) -> dict:
        names = [n.name for n in self.cluster.nodes]
        v = value if isinstance(value, dict) else {}
        nodes = v.get("nodes") or self._pick(names)
        delta = float(v.get("delta_s", random_delta(self.rng, self.max_skew_s)))
        period = float(v.get("period_s", self.strobe_period_s))
        duration = float(v.get("duration_s", self.strobe_duration_s))
        ok, errors = self._reachable(sorted(nodes))

        def strobe(n: str) -> None:
            base = self.offsets.get(n, 0.0)
            script = ('end=$(( $(date +%s) + $1 )); while [ "$(date +%s)" -lt "$end" ]; do '
                      'printf "%s\\n" "$3" > "$5.t"; mv "$5.t" "$5"; sleep "$2"; '
                      'printf "%s\\n" "$4" > "$5.t"; mv "$5.t" "$5"; sleep "$2"; done; '
                      'printf "%s\\n" "$4" > "$5.t"; mv "$5.t" "$5"')
            self.cluster.remote(n).run(
                ["sh", "-c", script, "sh", str(max(1, math.ceil(duration))), f"{period:g}",
                 format_offset(base + delta), format_offset(base), self._rc(n)],
                timeout=duration + 30)

        with ThreadPoolExecutor(max_workers=max(1, len(ok))) as ex:
            for n, fut in [(n, ex.submit(strobe, n)) for n in ok]:
                try:
                    fut.result()
                except Exception as e:  # noqa: BLE001
                    errors.append(f"{n}: strobe failed: {e}")
        out["value"] = {"strobe": {"nodes": ok, "delta_s": delta, "period_s": period,
                                   "duration_s": duration}}
        if errors:
            out["error"] = "; ".join(errors)
        return out

    # ------------------------------------------------------------------ helpers

    def _pick(self, names) -> list[str]:
        from nemesis.process import pick_nodes

        return pick_nodes(self.targets, names, self.rng)

    def _rc(self, name: str) -> str:
        return os.path.join(str(self.cluster.remote(name).node_dir), RC_FILE)

    def _write(self, name: str, offset: float) -> None:
        """Atomically replace the node's offset file (libfaketime re-reads it on every call)."""
        path = self._rc(name)
        self.cluster.remote(name).run(
            ["sh", "-c", 'printf "%s\\n" "$1" > "$2.t" && mv "$2.t" "$2"', "sh",
             format_offset(offset), path], timeout=10)


def clock_schedule(interval_s: float) -> list[dict]:
    """One period: sleep, ``start-clock`` (a random bump or strobe), sleep, ``stop-clock``."""
    return [{"type": "sleep", "value": interval_s}, {"type": "info", "f": START, "value": None},
            {"type": "sleep", "value": interval_s}, {"type": "info", "f": STOP, "value": None}]
