"""Nemesis packages: a nemesis plus when it strikes and how it is undone, chosen by name.

A package bundles what the runner needs from a fault family (DESIGN.md "Nemesis"):
the nemesis object, the generator that schedules its faults during the workload, the final
generator that heals them, and how long to let the system recover before final reads.
Several names give one package: a :class:`CompositeNemesis` routes each op to the nemesis
whose ``fs`` holds its ``f``, the schedules are mixed (``gen.mix``, seeded) so faults of
different kinds overlap, and the final generator heals every kind in turn.

Names accepted by ``--nemesis`` (comma-separated; ``none`` for no faults; ``all`` for
``partition,kill,pause,clock,packet``; docs/nemeses.md has the details):

- ``partition``: network partitions (option ``partition`` = the kind: ``random-halves``
  (default), ``halves``, ``one``, ``majorities-ring``, ``bridge``, ``primaries``, ``one-way``,
  ``random``);
- ``kill``: SIGKILL and restart (option ``kill-targets``: ``one`` (default), ``minority``,
  ``majority``, ``primaries``, ``all``);
- ``pause``: SIGSTOP and SIGCONT (option ``pause-targets``, same values; option ``pause-mode``:
  ``process`` (default) or ``container``, which freezes the whole node with ``docker pause`` on
  the docker backend);
- ``clock``: libfaketime bumps and strobes (options ``clock-max-skew`` seconds, default 30;
  ``clock-targets``, default ``minority``);
- ``packet``: loss, delay/jitter, duplication, reorder, rate (option ``packet``: one of
  ``loss``, ``delay``, ``duplicate``, ``reorder``, ``rate``, ``mixed`` (default));
- ``files``: truncate or corrupt a data file of a killed node (not in ``all``: a store
  without checksums may rightly lose data to it);
- ``lost-writes``: kill nodes and roll their data files back to the last fsync, as a power cut
  does (option ``lost-writes-targets``, default ``one``; :mod:`nemesis.lost_writes`);
- ``vote-crash``: while on, kill a node just after it logs a granted vote and restart it at
  once (options ``vote-crash-p``, the chance per vote, default 1;
  ``vote-crash-delay-ms``, the longest wait before the kill, default 6; ``vote-crash-down-ms``,
  the longest time the node stays down, default 0; ``vote-crash-bridge``, true to cut the
  network into a bridge around the primary at each start; local backend and the
  reference raft store only; :mod:`nemesis.vote_crash`);
- ``membership``: remove random voters from the consensus group (a majority of the nodes stays
  voters) and add them back, through the target's ``remove_member``/``add_member`` (the raft
  target only; not in ``all``; :mod:`nemesis.membership`).

``interval`` (seconds, default 5) is the time between a fault's start and its stop and between
two faults of one kind.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

from harness.errors import EnvironmentProblem, InputError

log = logging.getLogger("splitbrain.nemesis")

NEMESES = ("partition", "kill", "pause", "clock", "packet", "files", "lost-writes", "vote-crash",
           "membership")
ALL = ("partition", "kill", "pause", "clock", "packet")
DEFAULT_INTERVAL_S = 5.0
PACKET_BEHAVIOURS = {
    "loss": ({"loss": 0.2},),
    "delay": ({"delay_ms": 50, "jitter_ms": 20},),
    "duplicate": ({"duplicate": 0.2},),
    "reorder": ({"delay_ms": 5, "reorder": 0.25, "reorder_ms": 20},),
    "rate": ({"rate": "1mbit"},),
}
OPTION_KEYS = {"interval", "partition", "kill-targets", "pause-targets", "clock-targets",
               "clock-max-skew", "packet", "files-targets", "pause-mode", "lost-writes-targets",
               "vote-crash-p", "vote-crash-delay-ms", "vote-crash-down-ms", "vote-crash-bridge"}


@dataclass
class NemesisPackage:
    """What a fault family gives the runner."""

    nemesis: Any
    generator: Any
    final_generator: Any
    recovery_s: float = 5.0


class CompositeNemesis:
    """Several nemeses as one: ``invoke`` routes by ``op["f"]``; setup, prepare, teardown and
    heal_all reach every part. ``heal_all``/``teardown`` try every part even when one fails,
    then raise one error naming all failures."""

    def __init__(self, parts: dict[str, Any]):
        self.parts = dict(parts)
        self.routes: dict[str, Any] = {}
        for name, nem in self.parts.items():
            for f in nem.fs:
                if f in self.routes:
                    raise ValueError(f"two nemeses handle {f!r}")
                self.routes[f] = nem
        self.fs = frozenset(self.routes)

    def prepare(self, cluster) -> None:
        for nem in self.parts.values():
            if hasattr(nem, "prepare"):
                nem.prepare(cluster)

    def setup(self, cluster, db=None) -> "CompositeNemesis":
        for nem in self.parts.values():
            nem.setup(cluster, db)
        return self

    def invoke(self, op: dict) -> dict:
        nem = self.routes.get(op.get("f"))
        if nem is None:
            raise ValueError(f"no nemesis handles f={op.get('f')!r} (known: {sorted(self.fs)})")
        return nem.invoke(op)

    def _all(self, method: str) -> None:
        errors = []
        for name, nem in self.parts.items():
            try:
                getattr(nem, method)()
            except Exception as e:  # noqa: BLE001 - every part gets its turn
                errors.append(f"{name}: {e}")
        if errors:
            raise EnvironmentProblem(f"nemesis {method}: " + "; ".join(errors))

    def heal_all(self) -> None:
        self._all("heal_all")

    def teardown(self) -> None:
        self._all("teardown")


def _option(options: dict, key: str, default, kind, where="nemesis-options"):
    v = options.get(key, default)
    if kind is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise InputError(f"{where}: {key}: must be a number > 0, got {v!r}")
        return float(v)
    if isinstance(kind, tuple):
        if v not in kind:
            raise InputError(f"{where}: {key}: unknown value {v!r} (valid: {', '.join(kind)})")
    return v


def schedule(start: str, stop: str, interval_s: float) -> list[dict]:
    """One period of a start/stop fault as plain generator data: sleep, start, sleep, stop."""
    return [{"type": "sleep", "value": interval_s}, {"type": "info", "f": start, "value": None},
            {"type": "sleep", "value": interval_s}, {"type": "info", "f": stop, "value": None}]


def expand(names) -> list[str]:
    """``all`` replaced by its members, ``none`` and duplicates dropped (order kept)."""
    out: list[str] = []
    for n in names:
        for m in (ALL if n == "all" else (n,)):
            if m and m != "none" and m not in out:
                out.append(m)
    return out


def make_nemesis_package(names, options: dict, rng: random.Random) -> NemesisPackage | None:
    """The package for ``names`` (a list like ``["partition", "kill"]`` or ``["all"]``), or
    None for no faults. Bad names or options raise InputError naming them."""
    from harness import generator as gen
    from nemesis.grudge import KINDS
    from nemesis.process import TARGETS

    names = expand(names)
    if not names:
        return None
    unknown = [n for n in names if n not in NEMESES]
    if unknown:
        raise InputError(
            f"nemesis: unknown nemesis {unknown[0]!r} (valid: {', '.join(NEMESES)}, all, none)"
        )
    for k in options:
        if k not in OPTION_KEYS:
            raise InputError(
                f"nemesis-options: unknown option {k!r} (valid: {', '.join(sorted(OPTION_KEYS))})"
            )
    interval = _option(options, "interval", DEFAULT_INTERVAL_S, float)
    parts: dict[str, Any] = {}
    stops: list[str] = []
    schedules = []
    for name in names:
        if name == "partition":
            from nemesis.partition import PartitionNemesis

            kind = _option(options, "partition", "random-halves", KINDS)
            parts[name] = PartitionNemesis(kind, rng)
            start, stop = "start-partition", "stop-partition"
        elif name in ("kill", "pause"):
            from nemesis.process import PAUSE_MODES, ProcessNemesis

            targets = _option(options, f"{name}-targets", "one", TARGETS)
            mode = _option(options, "pause-mode", "process", PAUSE_MODES)
            parts[name] = ProcessNemesis(targets, rng, faults=(name,), pause_mode=mode)
            start, stop = f"start-{name}", f"stop-{name}"
        elif name == "clock":
            from nemesis.clock import START, STOP, ClockNemesis

            targets = _option(options, "clock-targets", "minority",
                              tuple(t for t in TARGETS if t != "primaries"))
            parts[name] = ClockNemesis(rng, max_skew_s=_option(options, "clock-max-skew", 30.0, float),
                                       targets=targets)
            start, stop = START, STOP
        elif name == "packet":
            from nemesis.packet import DEFAULT_BEHAVIOURS, START, STOP, PacketNemesis

            which = _option(options, "packet", "mixed", (*PACKET_BEHAVIOURS, "mixed"))
            behaviours = DEFAULT_BEHAVIOURS if which == "mixed" else PACKET_BEHAVIOURS[which]
            parts[name] = PacketNemesis(rng, behaviours)
            start, stop = START, STOP
        elif name == "membership":
            from nemesis.membership import START, STOP, MembershipNemesis

            parts[name] = MembershipNemesis(rng)
            start, stop = START, STOP
        elif name == "lost-writes":
            from nemesis.lost_writes import START, STOP, LostWritesNemesis

            parts[name] = LostWritesNemesis(rng, _option(options, "lost-writes-targets", "one", TARGETS))
            start, stop = START, STOP
        elif name == "vote-crash":
            from nemesis.vote_crash import START, STOP, VoteCrashNemesis

            p = _option(options, "vote-crash-p", 1.0, float)
            if p > 1:
                raise InputError(f"nemesis-options: vote-crash-p: must be at most 1, got {p!r}")
            down = options.get("vote-crash-down-ms", 0)
            if isinstance(down, bool) or not isinstance(down, (int, float)) or down < 0:
                raise InputError(f"nemesis-options: vote-crash-down-ms: must be a number >= 0, "
                                 f"got {down!r}")
            bridge = options.get("vote-crash-bridge", False)
            if not isinstance(bridge, bool):
                raise InputError(f"nemesis-options: vote-crash-bridge: expected true or false, "
                                 f"got {bridge!r}")
            if bridge and "partition" in names:
                raise InputError("nemesis-options: vote-crash-bridge: makes its own partitions; "
                                 "do not combine it with the partition nemesis")
            parts[name] = VoteCrashNemesis(rng, probability=p,
                                           delay_ms=_option(options, "vote-crash-delay-ms", 6.0, float),
                                           down_ms=float(down), bridge=bridge)
            start, stop = START, STOP
        else:  # files
            from nemesis.files import START, STOP, FileNemesis

            parts[name] = FileNemesis(rng, _option(options, "files-targets", "one", TARGETS))
            start, stop = START, STOP
        schedules.append(gen.cycle(schedule(start, stop, interval)))
        stops.append(stop)
    nemesis = parts[names[0]] if len(parts) == 1 else CompositeNemesis(parts)
    generator = schedules[0] if len(schedules) == 1 else gen.mix(schedules)
    final = [{"type": "info", "f": stop, "value": None} for stop in stops]
    return NemesisPackage(nemesis=nemesis, generator=generator, final_generator=final,
                          recovery_s=interval)
