"""Nemesis packages: a nemesis plus when it strikes and how it is undone, chosen by name.

A package bundles what the runner needs from a fault family (DESIGN.md "Nemesis"):
the nemesis object, the generator that schedules its faults during the workload, the final
generator that heals them, and how long to let the system recover before final reads.

Names accepted by ``--nemesis`` (comma-separated; ``none`` for no faults):

- ``partition``: network partitions on and off. Options (``--nemesis-option`` / ``nemesis-options``):
  ``partition`` = the kind, one of ``halves``, ``random-halves`` (default), ``one``,
  ``majorities-ring``, ``bridge``, ``primaries``; ``interval`` = seconds between start and stop
  (default 5).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from harness.errors import InputError

NEMESES = ("partition",)
DEFAULT_INTERVAL_S = 5.0


@dataclass
class NemesisPackage:
    """What a fault family gives the runner."""

    nemesis: Any
    generator: Any
    final_generator: Any
    recovery_s: float = 5.0


def _option(options: dict, key: str, default, kind, where="nemesis-options"):
    v = options.get(key, default)
    if kind is float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise InputError(f"{where}: {key}: must be a number > 0, got {v!r}")
        return float(v)
    return v


def make_nemesis_package(names, options: dict, rng: random.Random) -> NemesisPackage | None:
    """The package for ``names`` (a list like ``["partition"]``), or None for no faults."""
    names = [n for n in names if n and n != "none"]
    if not names:
        return None
    unknown = [n for n in names if n not in NEMESES]
    if unknown:
        raise InputError(
            f"nemesis: unknown nemesis {unknown[0]!r} (valid: {', '.join(NEMESES)}, none)"
        )
    known_keys = {"partition", "interval"}
    for k in options:
        if k not in known_keys:
            raise InputError(
                f"nemesis-options: unknown option {k!r} (valid: {', '.join(sorted(known_keys))})"
            )
    interval = _option(options, "interval", DEFAULT_INTERVAL_S, float)
    from nemesis.grudge import KINDS
    from nemesis.partition import PartitionNemesis, final_generator, partition_generator

    kind = options.get("partition", "random-halves")
    if kind not in KINDS:
        raise InputError(
            f"nemesis-options: partition: unknown kind {kind!r} (valid: {', '.join(KINDS)})"
        )
    return NemesisPackage(
        nemesis=PartitionNemesis(kind, rng),
        generator=partition_generator(interval),
        final_generator=final_generator(),
        recovery_s=interval,
    )
