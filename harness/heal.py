"""``splitbrain heal``: remove what crashed local runs left behind.

A run is *live* while the controller recorded in its ``/run/splitbrain/<prefix>/controller.json``
runs (same pid AND same start time, so a reused pid does not count). For every run root whose
controller is gone, and for every ``sb``-prefixed object that belongs to no live run, heal
kills the run's daemons (pid files, start time checked) and anything else still running inside
its namespaces, deletes its FORWARD rules, veths, namespaces and bridge, and removes the run root.
Node logs are first copied to the run's store directory (``<store run>/nodes/<node>/``) when it
is recorded and has none yet.

Only names of the exact shapes the local backend creates are touched: namespaces
``sbXXXXXX-<node>``, links ``sbXXXXXX`` and ``sbXXXXXXv<N>``, FORWARD rules commented
``sbXXXXXX``, run roots ``/run/splitbrain/sbXXXXXX`` (X = lowercase hex).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

from harness.control import local as L
from harness.control.remote import PREFIX_RE
from harness.errors import EnvironmentProblem

log = logging.getLogger("splitbrain.heal")

#: A run root younger than this without a readable controller.json may be a run being created.
YOUNG_S = 60.0


@dataclass
class HealReport:
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    live: list[str] = field(default_factory=list)  # prefixes of live runs, left alone
    healed: list[str] = field(default_factory=list)  # prefixes of dead runs cleaned up
    saved: list[str] = field(default_factory=list)  # node logs copied to store run dirs

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        lines = [f"removed: {r}" for r in self.removed]
        lines += [f"saved: {s}" for s in self.saved]
        lines += [f"error: {e}" for e in self.errors]
        lines += [f"left alone (live run): {p}" for p in self.live]
        if not self.removed and not self.errors:
            lines.insert(0, "nothing to heal")
        return "\n".join(lines)


def _live_runs(force: bool, report: HealReport) -> tuple[set[str], dict[str, dict | None]]:
    """(prefixes of live runs, {prefix of dead run: its controller.json or None})."""
    live: set[str] = set()
    dead: dict[str, dict | None] = {}
    try:
        entries = sorted(os.listdir(L.RUN_BASE))
    except FileNotFoundError:
        entries = []
    for name in entries:
        path = os.path.join(L.RUN_BASE, name)
        if not PREFIX_RE.match(name) or not os.path.isdir(path):
            continue
        info = L.read_controller_file(path)
        if not force:
            if info is not None and L.controller_alive(info):
                live.add(name)
                continue
            if info is None:
                try:
                    age = time.time() - os.stat(path).st_mtime
                except FileNotFoundError:
                    continue
                if age < YOUNG_S:  # maybe a run that is being created right now
                    live.add(name)
                    continue
        dead[name] = info
    report.live = sorted(live)
    return live, dead


def heal(force: bool = False) -> HealReport:
    """Remove leftovers of crashed local runs; returns what was removed.

    ``force`` also removes runs whose controller is still alive: only for when you know no
    splitbrain run is in progress (e.g. a controller that hangs).
    """
    if os.geteuid() != 0:
        raise EnvironmentProblem("heal needs root to remove namespaces, bridges and iptables rules")
    report = HealReport()
    # Under the run-base lock: a run creates its run root and controller.json under this lock
    # before creating any object, so every object we see below belongs to a run root we see.
    with L.base_lock():
        _heal_locked(force, report)
    for r in report.removed:
        log.info("heal: removed %s", r)
    for e in report.errors:
        log.error("heal: %s", e)
    return report


def _heal_locked(force: bool, report: HealReport) -> None:
    live, dead = _live_runs(force, report)

    prefixes = set(dead)
    # Orphans: sb objects with no run root (or whose run root was removed first).
    for ns in L.list_netns():
        m = L.NETNS_RE.match(ns)
        if m and m.group(1) not in live:
            prefixes.add(m.group(1))
    for link in L.list_links():
        m = L.LINK_RE.match(link)
        if m and m.group(1) not in live:
            prefixes.add(m.group(1))
    for comment, _line in L.forward_rules():
        if comment not in live:
            prefixes.add(comment)

    # Docker runs first: their logs are salvaged from the containers before the run root goes.
    from harness.control.docker import heal_leftovers as heal_docker

    heal_docker(live, dead, report)
    for prefix in sorted(prefixes):
        removed, errors = L.teardown_run(prefix, dead.get(prefix), salvage_logs=True,
                                          saved=report.saved)
        report.removed += removed
        report.errors += [f"{prefix}: {e}" for e in errors]
        if removed and prefix not in report.healed:
            report.healed.append(prefix)
