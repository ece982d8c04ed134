"""Deterministic simulation of a Raft cluster: the real :class:`RaftCore` under a seeded world.

Each simulated node wraps a core exactly as the real server does (:class:`Ready` contract): the
writes of a Ready go to a simulated disk and become durable only when the simulated fsync
completes, some virtual milliseconds later; only then are its messages sent and its committed
entries applied. A crash loses every write not yet synced and every message not yet sent; a
restart rebuilds the core from what was durable and the state machine from the durable snapshot.

Faults, all drawn from the seed: message loss, duplication, delay and reordering
(:class:`~reference_impl.sim.world.NetworkFaults`), partitions, crashes and restarts. Clients
send puts, cas and ReadIndex reads to random nodes. With ``membership_p`` > 0, some fault events
are membership changes instead: the leader (if any) is asked to remove a random voter or to add
a random non-voter back (:meth:`RaftCore.propose_config`; it may refuse).

:class:`RaftInvariants` is checked after every event (see its docstring). A violation raises
:class:`InvariantViolation` naming the seed, the virtual time and what broke; running the same
seed again replays the run event for event (``python -m reference_impl.sim --seed N --trace``).

Planted bugs (``bug=``), so tests can show the checks catch them: ``no-fsync`` (messages and
acknowledgements leave before the disk write, which lands later or never) and ``forget-vote``
(the vote is not part of the durable state).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from reference_impl.raft.core import (
    Config, ConfigChangeRefused, PersistentState, RaftCore, Ready, Snapshot,
)
from reference_impl.sim.cluster import (
    ClusterInvariants, ClusterNode, ClusterOptions, ClusterSimulation, InvariantViolation,
    command_key,
)
from reference_impl.state_machine import KVStateMachine

SIM_BUGS = ("no-fsync", "forget-vote")
__all__ = ["SIM_BUGS", "InvariantViolation", "SimOptions", "RaftSimulation", "RaftInvariants",
           "run_seed"]


@dataclass
class SimOptions(ClusterOptions):
    """One simulated run's shape (see :class:`ClusterOptions`). Times are virtual milliseconds."""

    config: Config = field(default_factory=lambda: Config(election_timeout=100.0,
                                                          heartbeat_interval=20.0, max_batch=16,
                                                          max_inflight=64))
    snapshot_every: int = 25       # compact when this many entries were applied since the last
    # The targeted "crash right after a vote" fault: a node that has just sent a granted
    # vote_resp crashes with this probability and restarts after ``vote_crash_down`` virtual ms
    # (0 = off, the default; the seeds of the other faults are unchanged when it is off).
    vote_crash_p: float = 0.0
    vote_crash_down: tuple = (0.1, 3.0)
    # Membership changes: the probability that a fault event asks the leader to remove or add
    # back one voter instead (0 = off, the default: the seeds of the other faults are unchanged).
    membership_p: float = 0.0


@dataclass
class Durable:
    """What survives a crash."""

    term: int = 0
    vote: str | None = None
    snap: Snapshot | None = None
    entries: list = field(default_factory=list)   # [(term, cmd)] from snap.index + 1

    def start(self) -> int:
        return self.snap.index if self.snap else 0

    def to_state(self) -> PersistentState:
        return PersistentState(self.term, self.vote, self.snap, list(self.entries))


class SimNode(ClusterNode):
    """One node: a core, its disk, its state machine, and whether it is up."""

    def __init__(self, node_id: str):
        super().__init__(node_id)
        self.durable = Durable()
        self.core: RaftCore | None = None
        self.sm = KVStateMachine()
        self.read_wait: list = []   # (ctx, index) released but not yet applied


class RaftSimulation(ClusterSimulation):
    """One seeded run. :meth:`run` returns a summary dict or raises InvariantViolation."""

    def __init__(self, seed: int, options: SimOptions | None = None, *, trace: bool = False):
        super().__init__(seed, options or SimOptions(), trace=trace)
        self.inv = RaftInvariants(self)
        self.pending: dict[tuple[str, int], tuple[int, dict]] = {}
        self.reads: dict[int, tuple[float, int]] = {}
        self.acked_index = 0           # highest log index of an acknowledged write
        self.stats = {"acked": 0, "lost": 0, "reads": 0, "elections": 0, "crashes": 0,
                      "snapshots": 0}
        self.faults_on = True

    # ------------------------------------------------------------------ node lifecycle
    def _new_node(self, node_id: str) -> SimNode:
        return SimNode(node_id)

    def _revive(self, node: SimNode) -> None:
        node.read_wait = []
        node.core = RaftCore(node.id, self.ids, config=self.o.config,
                             rng=random.Random(self.rng.getrandbits(64)), now=self.world.now,
                             state=node.durable.to_state())
        node.sm = KVStateMachine()
        if node.durable.snap is not None:
            node.sm.restore(node.durable.snap.data)

    def _vote_crash(self, node: SimNode) -> bool:
        """The targeted fault: crash ``node`` now, just after its vote left, and restart it
        soon (before the election it voted in is over). True when it crashed."""
        if not self.faults_on or self.world.now >= self.o.duration:
            return False
        if self.rng.random() >= self.o.vote_crash_p:
            return False
        self._crash(node)
        self.stats["vote_crashes"] = self.stats.get("vote_crashes", 0) + 1
        gen = node.gen
        self.world.at(self.world.now + self.rng.uniform(*self.o.vote_crash_down),
                      lambda: None if node.up or node.gen != gen else self._boot(node),
                      "vote-crash-restart")
        return True

    # ------------------------------------------------------------------ the Ready loop
    def _write(self, node: SimNode, gen: int, r: Ready) -> None:
        if node.gen != gen:
            return     # crashed before the write reached the disk: it is lost
        d = node.durable
        if r.snapshot is not None:
            d.snap = r.snapshot
            d.entries = []
        if r.hard_state is not None:
            d.term = r.hard_state.term
            d.vote = None if self.o.bug == "forget-vote" else r.hard_state.vote
        if r.truncate_from is not None:
            keep = max(0, r.truncate_from - d.start() - 1)
            del d.entries[keep:]
            first = d.start() + len(d.entries) + 1
            d.entries.extend((t, c) for i, t, c in r.entries if i >= first)

    def _after_sync(self, node: SimNode, r: Ready) -> None:
        core = node.core
        core.persisted(self.world.now, r.last_index, r.last_term)
        voted = False
        for m in r.messages:
            self.world.send(node.id, m["to"], m)
            voted = voted or (m["type"] == "vote_resp" and m["granted"])
        if voted and self.o.vote_crash_p > 0 and self._vote_crash(node):
            return
        if r.apply_snapshot is not None:
            node.sm.restore(r.apply_snapshot.data)
        for index, term, cmd in r.committed:
            result = node.sm.apply(index, cmd)
            self.inv.on_apply(node, index, term, cmd, result)
            p = self.pending.pop((node.id, index), None)
            if p is not None:
                pterm, pcmd = p
                if pterm == term:
                    self.stats["acked"] += 1
                    self.acked_index = max(self.acked_index, index)
                else:
                    self.stats["lost"] += 1
        for ctx in r.failed_reads:
            self.reads.pop(ctx, None)
        node.read_wait.extend(r.reads)
        self._serve_reads(node)
        if node.sm.applied_index - core.log_start >= self.o.snapshot_every:
            idx = node.sm.applied_index
            snap = Snapshot(idx, core.term_at(idx), node.sm.snapshot(), core.config_at(idx))
            d = node.durable
            if idx > d.start():
                drop = min(len(d.entries), idx - d.start())
                d.entries = d.entries[drop:]
                d.snap = snap
                core.compact(idx, snap.data)
                self.stats["snapshots"] += 1

    def _serve_reads(self, node: SimNode) -> None:
        keep = []
        for ctx, index in node.read_wait:
            if node.sm.applied_index >= index:
                asked_at, must_see = self.reads.pop(ctx)
                self.stats["reads"] += 1
                if index < must_see:
                    self.inv.fail(f"stale read on {node.id}: read index {index} misses write "
                                  f"acknowledged at index {must_see} before the read began")
            else:
                keep.append((ctx, index))
        node.read_wait = keep

    # ------------------------------------------------------------------ inputs
    def _request(self, node: SimNode) -> None:
        kind = self.rng.random()
        if kind < 0.35:
            ctx = self.next_cmd
            if node.core.read_index(self.world.now, ctx):
                self.reads[ctx] = (self.world.now, self.acked_index)
        else:
            if kind < 0.7:
                cmd = {"op": "put", "key": "x", "value": self.next_cmd, "id": self.next_cmd}
            else:
                cmd = {"op": "cas", "key": "x", "from": self.rng.randint(0, self.next_cmd),
                       "to": self.next_cmd, "id": self.next_cmd}
            res = node.core.propose(self.world.now, cmd)
            if res is not None:
                self.pending[(node.id, res[0])] = (res[1], cmd)

    def _special_fault(self) -> bool:
        if self.o.membership_p > 0 and self.rng.random() < self.o.membership_p:
            self._membership_change()
            return True
        return False

    def _membership_change(self) -> None:
        """Ask a leader to remove a random voter (down to one) or add a random non-voter."""
        leaders = self.leaders_up()
        if not leaders:
            return
        node = self.rng.choice(leaders)
        voters = set(node.core.voters)
        missing = [i for i in self.ids if i not in voters]
        if missing and (len(voters) == 1 or self.rng.random() < 0.5):
            new = voters | {self.rng.choice(missing)}
        else:
            new = voters - {self.rng.choice(sorted(voters))}
        try:
            if node.core.propose_config(self.world.now, sorted(new)) is not None:
                self.stats["config_changes"] = self.stats.get("config_changes", 0) + 1
        except ConfigChangeRefused:
            self.stats["config_refused"] = self.stats.get("config_refused", 0) + 1
        self._kick(node)

    def _outcome(self) -> dict:
        return {"commit": self.inv.max_commit, "leaders": len(self.inv.leaders)}


class RaftInvariants(ClusterInvariants):
    """Raft's safety properties (Raft paper, Figure 3), checked as the run goes.

    - Election safety: at most one leader per term (over the whole run).
    - Log matching: an entry ``(index, term)`` has one command and one predecessor term in every
      log that holds it (so two logs that share an entry share the whole prefix before it).
    - Leader completeness: a node that becomes leader holds every entry committed in earlier terms.
    - State machine safety: every node applies the same command, with the same result, at an index.
    - Linearizable reads: a ReadIndex read sees every write acknowledged before it began
      (checked by the simulation).
    - Liveness (final): after the faults stop, a leader exists and every node caught up.
    """

    reign = "term"
    two_leaders = "election safety: {holder} and {node} both lead term {reign}"

    def __init__(self, sim: RaftSimulation):
        super().__init__(sim)        # self.leaders: term -> the node that led it
        self.entries: dict[tuple[int, int], tuple[str, int]] = {}
        self.applied: dict[int, tuple[int, str, str]] = {}
        self.max_commit = 0

    def on_ready(self, node: SimNode, r: Ready) -> None:
        core = node.core
        for index, term, cmd in r.entries:
            prev = core.term_at(index - 1)
            key = (index, term)
            seen = self.entries.get(key)
            mine = (command_key(cmd), prev)
            if seen is None:
                self.entries[key] = mine
            elif seen != mine:
                self.fail(f"log matching: {node.id} holds entry {key} as {mine}, "
                          f"another node as {seen}")

    def on_apply(self, node: SimNode, index: int, term: int, cmd: Any, result: Any) -> None:
        mine = (term, command_key(cmd), json.dumps(result, sort_keys=True))
        seen = self.applied.get(index)
        if seen is None:
            self.applied[index] = mine
            self.max_commit = max(self.max_commit, index)
        elif seen != mine:
            self.fail(f"state machine safety: {node.id} applied {mine} at index {index}, "
                      f"another node {seen}")

    def on_new_leader(self, node: SimNode) -> None:
        """Leader completeness, checked when ``node`` starts leading a term."""
        core = node.core
        for index, (term, key, _res) in self.applied.items():
            if term >= core.term or index <= core.log_start:
                continue
            if core.term_at(index) != term or command_key(core.entry(index)[1]) != key:
                self.fail(f"leader completeness: {node.id} leads term {core.term} without "
                          f"committed entry {index} (term {term})")

    def final(self) -> None:
        leaders = self.live_leaders()
        top = max(n.core.term for n in leaders)
        leader = next(n for n in leaders if n.core.term == top)
        for n in self.sim.nodes.values():
            if n.sm.applied_index < leader.core.commit - 0 and n.core.commit < leader.core.commit:
                self.fail(f"liveness: {n.id} at commit {n.core.commit}, leader {leader.id} at "
                          f"{leader.core.commit} after {self.sim.o.quiet:g} quiet ms")


def run_seed(seed: int, options: SimOptions | None = None) -> dict:
    """Run one seed; returns its summary or raises :class:`InvariantViolation`."""
    return RaftSimulation(seed, options).run()
