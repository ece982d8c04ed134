"""Membership changes: remove voters from the target's consensus group, then add them back.

Through the target's optional capabilities (DESIGN.md "DB / target"), so this module knows
nothing of how a store changes its membership:

- ``db.remove_member(cluster, node)``: ``node`` stops being a voter; returns the voters once the
  change committed, raises when it could not be done;
- ``db.add_member(cluster, node)``: ``node`` is a voter again (a no-op when it already is).

The reference Raft store has both (single-server changes, thesis 4.1; docs/reference-raft.md).
The paxos and etcd targets have neither: every op then gets the one-line ``error`` *the target
cannot change membership: its db has no remove_member() or add_member() capability; nothing
was done*.

Ops (``process: nemesis``, type ``info``):

- ``start-membership``: remove 1 to ``n - majority(n)`` random voters (5 nodes: 1 or 2; 3 nodes:
  1), one change at a time, so that a majority of the original nodes always stays voters (the
  cluster then survives what it survived before the change, counted in original nodes). Any voter
  may be chosen, the leader included (a removed leader steps down once the change commits). An op
  may name the nodes in its ``value`` instead. Nodes already removed by this nemesis are skipped;
  when no more can be removed the op's ``error`` says so.
- ``stop-membership``: add back every node this nemesis removed (or tried to remove: a change
  whose fate is unknown is undone too; adding a voter again is harmless).

The completion's ``value`` is ``{"removed": [...], "voters": [...]}`` or ``{"added": [...],
"voters": [...]}`` (the voters the target reported after the last change); ``error`` lists what
could not be done. ``heal_all()`` adds every removed node back; it is safe before setup and
repeatable.
"""

from __future__ import annotations

import logging
import random

from nemesis.grudge import majority

log = logging.getLogger("splitbrain.nemesis.membership")

START = "start-membership"
STOP = "stop-membership"
CAPABILITIES = ("remove_member", "add_member")


class MembershipNemesis:
    """Removes voters from the target's group and adds them back (see the module docstring)."""

    fs = frozenset({START, STOP})

    def __init__(self, rng: random.Random | None = None):
        self.rng = rng if rng is not None else random.Random()
        self.cluster = None
        self.db = None
        self.removed: list[str] = []    # nodes we removed (or tried to), in order

    # ------------------------------------------------------------------ lifecycle

    def setup(self, cluster, db=None) -> "MembershipNemesis":
        self.cluster = cluster
        self.db = db
        if self.missing_capabilities():
            log.warning("membership nemesis: %s", self._cannot())
        return self

    def missing_capabilities(self) -> list[str]:
        return [m for m in CAPABILITIES if not callable(getattr(self.db, m, None))]

    def _cannot(self) -> str:
        return ("the target cannot change membership: its db has no remove_member() or "
                "add_member() capability; nothing was done")

    def teardown(self) -> None:
        self.heal_all()

    def heal_all(self) -> None:
        """Add back every node this nemesis removed; one error naming every failure."""
        if self.cluster is None or not self.removed or self.missing_capabilities():
            return
        _added, _voters, errors = self._add_back()
        if errors:
            from harness.errors import EnvironmentProblem

            raise EnvironmentProblem("membership nemesis heal: " + "; ".join(errors))

    # ------------------------------------------------------------------ ops

    def invoke(self, op: dict) -> dict:
        f = op.get("f")
        out = dict(op, type="info")
        if self.cluster is None:
            raise RuntimeError("membership nemesis: invoke before setup")
        if f not in self.fs:
            raise ValueError(f"membership nemesis: unknown f {f!r} (expected one of "
                             f"{sorted(self.fs)})")
        if self.missing_capabilities():
            out["value"] = None
            out["error"] = self._cannot()
            return out
        if f == START:
            removed, voters, errors = self._remove(op.get("value"))
            out["value"] = {"removed": removed, "voters": voters}
        else:
            added, voters, errors = self._add_back()
            out["value"] = {"added": added, "voters": voters}
        if errors:
            out["error"] = "; ".join(errors)
        return out

    # ------------------------------------------------------------------ helpers

    def _names(self) -> list[str]:
        return [n.name for n in self.cluster.nodes]

    def max_removed(self) -> int:
        """How many nodes may be non-voters at once: a majority of all nodes stays voters."""
        n = len(self._names())
        return n - majority(n)

    def _choose(self, value) -> tuple[list[str], list[str]]:
        """(nodes to remove, notes)."""
        names = self._names()
        room = self.max_removed() - len(self.removed)
        if isinstance(value, (list, tuple)) and value:
            bad = [v for v in value if v not in names]
            if bad:
                raise ValueError(f"membership nemesis: unknown node(s) {bad}; nodes are {names}")
            wanted = [v for v in dict.fromkeys(value) if v not in self.removed]
            notes = []
            if len(wanted) > room:
                notes.append(f"only {max(room, 0)} more node(s) may be removed (a majority of "
                             f"the {len(names)} nodes stays voters); skipped {wanted[room:]}")
                wanted = wanted[:max(room, 0)]
            return wanted, notes
        if room <= 0:
            return [], [f"{len(self.removed)} node(s) already removed ({self.removed}); a "
                        f"majority of the {len(names)} nodes stays voters: nothing removed"]
        candidates = [n for n in names if n not in self.removed]
        k = self.rng.randint(1, room)
        return self.rng.sample(candidates, k), []

    def _remove(self, value) -> tuple[list[str], list[str] | None, list[str]]:
        nodes, errors = self._choose(value)
        done, voters = [], None
        for n in nodes:
            self.removed.append(n)   # fate unknown on error: stop-membership adds it back
            try:
                voters = self.db.remove_member(self.cluster, n)
                done.append(n)
            except Exception as e:  # noqa: BLE001 - report, then stop removing
                errors.append(f"remove {n}: {e}")
                break
        return done, voters, errors

    def _add_back(self) -> tuple[list[str], list[str] | None, list[str]]:
        added, voters, errors = [], None, []
        for n in list(self.removed):
            try:
                voters = self.db.add_member(self.cluster, n)
                self.removed.remove(n)
                added.append(n)
            except Exception as e:  # noqa: BLE001 - try every node
                errors.append(f"add {n}: {e}")
        return added, voters, errors
