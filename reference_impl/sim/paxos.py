"""Deterministic simulation of a Multi-Paxos cluster: the real :class:`PaxosCore` in a seeded
world (:mod:`reference_impl.sim.world`).

Each simulated node wraps a core exactly as the real server does (the :class:`Ready` contract):
a Ready's writes go to a simulated disk and become durable only when the simulated fsync
completes, some virtual milliseconds later; only then are its messages sent and its chosen slots
applied. A crash loses every write not yet synced and every message not yet sent; a restart
rebuilds the core from the durable records (:func:`~reference_impl.paxos.core.replay`) and the
state machine from nothing (replicas re-apply chosen slots from slot 1).

Faults, all drawn from the seed: message loss, duplication, delay and reordering, partitions,
crashes and restarts. Clients send put, cas and get commands to random nodes.

:class:`PaxosInvariants` is checked after every event (see its docstring); a violation raises
:class:`InvariantViolation` naming the seed and the virtual time, and the same seed replays the
run event for event (``python -m reference_impl.sim --protocol paxos --seed N --trace``).

Planted bugs (``bug=``), so tests can show the checks catch them: ``skip-promise-check`` (the
acceptor accepts ballots below its promise), ``forget-accepted`` (accepted values are not part of
the durable state) and ``no-fsync`` (messages leave before the disk write, which lands later).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from reference_impl.paxos.core import NOOP, Config, PaxosCore, Ready, ballot_of, replay
from reference_impl.sim.cluster import (
    ClusterInvariants, ClusterNode, ClusterOptions, ClusterSimulation, InvariantViolation,
    command_key,
)
from reference_impl.state_machine import KVStateMachine

SIM_BUGS = ("skip-promise-check", "forget-accepted", "no-fsync")
__all__ = ["SIM_BUGS", "InvariantViolation", "SimOptions", "PaxosSimulation", "PaxosInvariants",
           "run_seed"]


@dataclass
class SimOptions(ClusterOptions):
    """One simulated run's shape (see :class:`ClusterOptions`). Times are virtual milliseconds."""

    config: Config = field(default_factory=lambda: Config(election_timeout=100.0,
                                                          heartbeat_interval=20.0, max_batch=16))


class SimNode(ClusterNode):
    """One node: a core, its durable records, its state machine, and whether it is up."""

    def __init__(self, node_id: str):
        super().__init__(node_id)
        self.records: list = []
        self.core: PaxosCore | None = None
        self.sm = KVStateMachine()


class PaxosSimulation(ClusterSimulation):
    """One seeded run. :meth:`run` returns a summary dict or raises InvariantViolation."""

    def __init__(self, seed: int, options: SimOptions | None = None, *, trace: bool = False):
        super().__init__(seed, options or SimOptions(), trace=trace)
        self.inv = PaxosInvariants(self)
        self.pending: dict[tuple[str, int], str] = {}
        self.stats = {"acked": 0, "lost": 0, "reads": 0, "elections": 0, "crashes": 0,
                      "noops": 0}

    # ------------------------------------------------------------------ node lifecycle
    def _new_node(self, node_id: str) -> SimNode:
        return SimNode(node_id)

    def _revive(self, node: SimNode) -> None:
        node.core = PaxosCore(node.id, self.ids, config=self.o.config,
                              rng=random.Random(self.rng.getrandbits(64)), now=self.world.now,
                              state=replay(node.records), bug=self.o.bug)
        node.sm = KVStateMachine()

    # ------------------------------------------------------------------ the Ready loop
    def _needs_sync(self, r: Ready) -> bool:
        # Nothing to fsync: learned slots reach the OS at once (a crash keeps them).
        return bool(r.writes)

    def _write(self, node: SimNode, gen: int, r: Ready) -> None:
        if node.gen != gen:
            return     # crashed before the write reached the disk: it is lost
        for rec in r.writes + r.learned:
            if self.o.bug == "forget-accepted" and rec[0] == "accept":
                continue
            node.records.append(rec)

    def _after_sync(self, node: SimNode, r: Ready) -> None:
        self.inv.on_durable(node, r)
        node.core.persisted(self.world.now, r.seq)
        for m in r.messages:
            self.world.send(node.id, m["to"], m)
        for slot, cmd in r.committed:
            result = node.sm.apply(slot, cmd)
            self.inv.on_apply(node, slot, cmd, result)
            if cmd == NOOP:
                self.stats["noops"] += 1
            want = self.pending.pop((node.id, slot), None)
            if want is not None:
                if want == command_key(cmd):
                    self.stats["acked"] += 1
                    if cmd.get("op") == "get":
                        self.stats["reads"] += 1
                else:
                    self.stats["lost"] += 1

    # ------------------------------------------------------------------ inputs
    def _request(self, node: SimNode) -> None:
        n = self.next_cmd
        kind = self.rng.random()
        if kind < 0.3:
            cmd = {"op": "get", "key": "x", "id": n}
        elif kind < 0.7:
            cmd = {"op": "put", "key": "x", "value": n, "id": n}
        else:
            cmd = {"op": "cas", "key": "x", "from": self.rng.randint(0, n), "to": n, "id": n}
        self.inv.proposed.add(command_key(cmd))
        slot = node.core.propose(self.world.now, cmd)
        if slot is not None:
            self.pending[(node.id, slot)] = command_key(cmd)

    def _outcome(self) -> dict:
        return {"chosen": len(self.inv.chosen), "leaders": len(self.inv.leaders)}


class PaxosInvariants(ClusterInvariants):
    """Multi-Paxos safety, checked as the run goes (a violation raises at once).

    - One proposal per ballot and slot: a ballot's leader never offers two values for a slot.
    - At most one value is chosen per slot. *Chosen* is Paxos's own definition: a majority of
      acceptors accepted the same ballot for the slot (an acceptance counts from the moment the
      acceptor's answer could leave, i.e. when its write completed, whatever it then forgets).
    - Every learned value was chosen, and every learned value was proposed (a client command or
      a leader's no-op).
    - Every replica applies the same sequence: the same command, with the same result, at a slot.
    - One leader per ballot (over the whole run).
    - Liveness (final): after the faults stop, a leader exists and every replica caught up.
    """

    reign = "ballot"
    two_leaders = "{holder} and {node} both lead ballot {reign}"

    def __init__(self, sim: PaxosSimulation):
        super().__init__(sim)        # self.leaders: ballot -> the node that led it
        self.quorum = len(sim.ids) // 2 + 1
        self.proposals: dict[tuple, str] = {}          # (slot, ballot) -> value key
        self.votes: dict[tuple, set] = {}              # (slot, ballot) -> acceptors
        self.chosen: dict[int, tuple] = {}             # slot -> (value key, ballot)
        self.proposed: set[str] = set()
        self.applied: dict[int, tuple[str, str]] = {}

    def on_ready(self, node: SimNode, r: Ready) -> None:
        for m in r.messages:
            if m["type"] != "p2a":
                continue
            b = ballot_of(m["ballot"])
            for slot, cmd in m["entries"]:
                key = (slot, b)
                v = command_key(cmd)
                seen = self.proposals.setdefault(key, v)
                if seen != v:
                    self.fail(f"ballot {b} proposed both {seen} and {v} for slot {slot}")

    def on_durable(self, node: SimNode, r: Ready) -> None:
        for rec in r.writes + r.learned:
            if rec[0] == "accept":
                slot, b, v = rec[1], ballot_of(rec[2]), command_key(rec[3])
                voters = self.votes.setdefault((slot, b), set())
                voters.add(node.id)
                if len(voters) >= self.quorum:
                    seen = self.chosen.get(slot)
                    if seen is None:
                        self.chosen[slot] = (v, b)
                    elif seen[0] != v:
                        self.fail(f"two values chosen for slot {slot}: {seen[0]} at ballot "
                                  f"{seen[1]} and {v} at ballot {b} (acceptors {sorted(voters)})")
            elif rec[0] == "chosen":
                slot, v = rec[1], command_key(rec[2])
                seen = self.chosen.get(slot)
                if seen is None:
                    self.fail(f"{node.id} learned {v} for slot {slot}, which no majority accepted")
                if seen[0] != v:
                    self.fail(f"{node.id} learned {v} for slot {slot}, but {seen[0]} was chosen")
                if v not in self.proposed and rec[2] != NOOP:
                    self.fail(f"{node.id} learned {v} for slot {slot}, which nobody proposed")

    def on_apply(self, node: SimNode, slot: int, cmd: Any, result: Any) -> None:
        mine = (command_key(cmd), json.dumps(result, sort_keys=True))
        seen = self.applied.setdefault(slot, mine)
        if seen != mine:
            self.fail(f"replicas diverge: {node.id} applied {mine} at slot {slot}, "
                      f"another replica {seen}")

    def final(self) -> None:
        leaders = self.live_leaders()
        top = max(leaders, key=lambda n: n.core.ballot)
        for n in self.sim.nodes.values():
            if n.core.commit < top.core.commit:
                self.fail(f"liveness: {n.id} at commit {n.core.commit}, leader {top.id} at "
                          f"{top.core.commit} after {self.sim.o.quiet:g} quiet ms")


def run_seed(seed: int, options: SimOptions | None = None) -> dict:
    """Run one seed; returns its summary or raises :class:`InvariantViolation`."""
    return PaxosSimulation(seed, options).run()
