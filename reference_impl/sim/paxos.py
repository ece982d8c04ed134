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

from reference_impl.paxos.core import LEADER, NOOP, Config, PaxosCore, Ready, ballot_of, replay
from reference_impl.sim.world import NetworkFaults, World
from reference_impl.state_machine import KVStateMachine

SIM_BUGS = ("skip-promise-check", "forget-accepted", "no-fsync")


class InvariantViolation(AssertionError):
    """A protocol invariant broke in a simulated run."""


@dataclass
class SimOptions:
    """One simulated run's shape. Times are virtual milliseconds."""

    nodes: int = 5
    duration: float = 1500.0
    quiet: float = 800.0          # fault-free time at the end (liveness: a leader must emerge)
    faults: NetworkFaults = field(default_factory=NetworkFaults)
    config: Config = field(default_factory=lambda: Config(election_timeout=100.0,
                                                          heartbeat_interval=20.0, max_batch=16))
    client_interval: tuple = (1.0, 8.0)
    fault_interval: tuple = (30.0, 250.0)
    crash_p: float = 0.3
    disk_delay: tuple = (0.1, 3.0)
    bug: str | None = None


class SimNode:
    """One node: a core, its durable records, its state machine, and whether it is up."""

    def __init__(self, node_id: str):
        self.id = node_id
        self.records: list = []
        self.core: PaxosCore | None = None
        self.sm = KVStateMachine()
        self.up = False
        self.gen = 0
        self.syncing = False
        self.timer_token = 0
        self.timer_at: float | None = None


def _cmd_key(cmd: Any) -> str:
    if isinstance(cmd, dict) and "id" in cmd:
        return f"#{cmd['id']}"
    return json.dumps(cmd, sort_keys=True)


class PaxosSimulation:
    """One seeded run. :meth:`run` returns a summary dict or raises InvariantViolation."""

    def __init__(self, seed: int, options: SimOptions | None = None, *, trace: bool = False):
        self.seed = seed
        self.o = options or SimOptions()
        self.rng = random.Random(seed)
        self.world = World(self.rng, self._deliver, self.o.faults, trace=[] if trace else None)
        self.ids = [f"n{i + 1}" for i in range(self.o.nodes)]
        self.nodes = {i: SimNode(i) for i in self.ids}
        self.inv = PaxosInvariants(self)
        self.next_cmd = 0
        self.pending: dict[tuple[str, int], str] = {}
        self.stats = {"acked": 0, "lost": 0, "reads": 0, "elections": 0, "crashes": 0,
                      "noops": 0}

    # ------------------------------------------------------------------ node lifecycle
    def _boot(self, node: SimNode) -> None:
        node.gen += 1
        node.up = True
        node.syncing = False
        node.timer_at = None
        node.core = PaxosCore(node.id, self.ids, config=self.o.config,
                              rng=random.Random(self.rng.getrandbits(64)), now=self.world.now,
                              state=replay(node.records), bug=self.o.bug)
        node.sm = KVStateMachine()
        self._schedule_timer(node)

    def _crash(self, node: SimNode) -> None:
        node.up = False
        node.gen += 1          # pending syncs, timers and in-flight work of this life are void
        node.core = None
        self.stats["crashes"] += 1

    def _schedule_timer(self, node: SimNode) -> None:
        at = node.core.next_wakeup()
        if at == node.timer_at:
            return
        node.timer_at = at
        node.timer_token += 1
        tok, gen = node.timer_token, node.gen
        self.world.at(at, lambda: self._timer(node, gen, tok), "timer")

    def _timer(self, node: SimNode, gen: int, tok: int) -> None:
        if node.gen != gen or node.timer_token != tok or not node.up:
            return
        node.timer_at = None
        if self.world.now >= node.core.next_wakeup():
            node.core.tick(self.world.now)
        self._kick(node)

    # ------------------------------------------------------------------ the Ready loop
    def _kick(self, node: SimNode) -> None:
        """Take the node's Ready (unless a sync is in progress) and start its disk write."""
        if not node.up:
            return
        self._schedule_timer(node)
        while not node.syncing:
            r = node.core.take_ready()
            if r.empty():
                return
            self.inv.on_ready(node, r)
            gen = node.gen
            if self.o.bug == "no-fsync":
                # The bug: act as if the write were durable now; it lands on disk much later.
                self.world.at(self.world.now + 50.0, lambda r=r: self._write(node, gen, r),
                              "lazy-write")
                self._after_sync(node, r)
                continue
            if not r.writes:
                # Nothing to fsync: learned slots reach the OS at once (a crash keeps them).
                self._write(node, gen, r)
                self._after_sync(node, r)
                continue
            node.syncing = True
            delay = self.rng.uniform(*self.o.disk_delay)
            self.world.at(self.world.now + delay, lambda: self._synced(node, gen, r), "fsync")

    def _write(self, node: SimNode, gen: int, r: Ready) -> None:
        if node.gen != gen:
            return     # crashed before the write reached the disk: it is lost
        for rec in r.writes + r.learned:
            if self.o.bug == "forget-accepted" and rec[0] == "accept":
                continue
            node.records.append(rec)

    def _synced(self, node: SimNode, gen: int, r: Ready) -> None:
        if node.gen != gen:
            return
        self._write(node, gen, r)
        node.syncing = False
        self._after_sync(node, r)
        self._kick(node)

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
                if want == _cmd_key(cmd):
                    self.stats["acked"] += 1
                    if cmd.get("op") == "get":
                        self.stats["reads"] += 1
                else:
                    self.stats["lost"] += 1

    # ------------------------------------------------------------------ inputs
    def _deliver(self, dst: str, msg: dict) -> None:
        node = self.nodes[dst]
        if not node.up:
            return
        node.core.receive(self.world.now, msg)
        self._kick(node)

    def _client(self) -> None:
        if self.world.now < self.o.duration + self.o.quiet - 400:
            self.world.at(self.world.now + self.rng.uniform(*self.o.client_interval),
                          self._client, "client")
        node = self.nodes[self.rng.choice(self.ids)]
        if not node.up:
            return
        self.next_cmd += 1
        n = self.next_cmd
        kind = self.rng.random()
        if kind < 0.3:
            cmd = {"op": "get", "key": "x", "id": n}
        elif kind < 0.7:
            cmd = {"op": "put", "key": "x", "value": n, "id": n}
        else:
            cmd = {"op": "cas", "key": "x", "from": self.rng.randint(0, n), "to": n, "id": n}
        self.inv.proposed.add(_cmd_key(cmd))
        slot = node.core.propose(self.world.now, cmd)
        if slot is not None:
            self.pending[(node.id, slot)] = _cmd_key(cmd)
        self._kick(node)

    def _fault(self) -> None:
        if self.world.now >= self.o.duration:
            return
        self.world.at(self.world.now + self.rng.uniform(*self.o.fault_interval), self._fault,
                      "fault")
        rng = self.rng
        x = rng.random()
        down = [n for n in self.nodes.values() if not n.up]
        if down and x < 0.3:
            self._boot(rng.choice(down))
        elif x < 0.3 + self.o.crash_p:
            up = [n for n in self.nodes.values() if n.up]
            if up:
                self._crash(rng.choice(up))
        elif x < 0.85:
            ids = list(self.ids)
            rng.shuffle(ids)
            cut = rng.randint(1, len(ids) - 1)
            self.world.partition([ids[:cut], ids[cut:]])
        else:
            self.world.heal()

    def _quiet(self) -> None:
        """End of the fault period: heal, restart everyone, a reliable network from now on."""
        self.world.heal()
        self.world.faults = NetworkFaults(loss=0.0, duplicate=0.0, long_delay_p=0.0)
        for n in self.nodes.values():
            if not n.up:
                self._boot(n)

    # ------------------------------------------------------------------ run
    def run(self) -> dict:
        for n in self.nodes.values():
            self._boot(n)
        self.world.at(1.0, self._client, "client")
        self.world.at(self.rng.uniform(*self.o.fault_interval), self._fault, "fault")
        self.world.at(self.o.duration, self._quiet, "quiet")
        self.world.run_until(self.o.duration + self.o.quiet, self.inv.after_step)
        self.inv.final()
        return {"seed": self.seed, "time": self.world.now, "sent": self.world.sent,
                "dropped": self.world.dropped, "chosen": len(self.inv.chosen),
                "leaders": len(self.inv.leaders), **self.stats}


class PaxosInvariants:
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

    def __init__(self, sim: PaxosSimulation):
        self.sim = sim
        self.quorum = len(sim.ids) // 2 + 1
        self.proposals: dict[tuple, str] = {}          # (slot, ballot) -> value key
        self.votes: dict[tuple, set] = {}              # (slot, ballot) -> acceptors
        self.chosen: dict[int, tuple] = {}             # slot -> (value key, ballot)
        self.proposed: set[str] = set()
        self.applied: dict[int, tuple[str, str]] = {}
        self.leaders: dict[tuple, str] = {}

    def fail(self, what: str) -> None:
        raise InvariantViolation(f"seed {self.sim.seed} at t={self.sim.world.now:.3f}ms: {what}")

    def on_ready(self, node: SimNode, r: Ready) -> None:
        for m in r.messages:
            if m["type"] != "p2a":
                continue
            b = ballot_of(m["ballot"])
            for slot, cmd in m["entries"]:
                key = (slot, b)
                v = _cmd_key(cmd)
                seen = self.proposals.setdefault(key, v)
                if seen != v:
                    self.fail(f"ballot {b} proposed both {seen} and {v} for slot {slot}")

    def on_durable(self, node: SimNode, r: Ready) -> None:
        for rec in r.writes + r.learned:
            if rec[0] == "accept":
                slot, b, v = rec[1], ballot_of(rec[2]), _cmd_key(rec[3])
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
                slot, v = rec[1], _cmd_key(rec[2])
                seen = self.chosen.get(slot)
                if seen is None:
                    self.fail(f"{node.id} learned {v} for slot {slot}, which no majority accepted")
                if seen[0] != v:
                    self.fail(f"{node.id} learned {v} for slot {slot}, but {seen[0]} was chosen")
                if v not in self.proposed and rec[2] != NOOP:
                    self.fail(f"{node.id} learned {v} for slot {slot}, which nobody proposed")

    def on_apply(self, node: SimNode, slot: int, cmd: Any, result: Any) -> None:
        mine = (_cmd_key(cmd), json.dumps(result, sort_keys=True))
        seen = self.applied.setdefault(slot, mine)
        if seen != mine:
            self.fail(f"replicas diverge: {node.id} applied {mine} at slot {slot}, "
                      f"another replica {seen}")

    def after_step(self) -> None:
        for node in self.sim.nodes.values():
            core = node.core
            if core is None or core.role != LEADER:
                continue
            holder = self.leaders.setdefault(core.ballot, node.id)
            if holder == node.id and getattr(node, "_led", None) != core.ballot:
                node._led = core.ballot
                self.sim.stats["elections"] += 1
            if holder != node.id:
                self.fail(f"{holder} and {node.id} both lead ballot {core.ballot}")

    def final(self) -> None:
        leaders = [n for n in self.sim.nodes.values() if n.up and n.core.role == LEADER]
        if not leaders:
            self.fail("liveness: no leader after the faults stopped")
        top = max(leaders, key=lambda n: n.core.ballot)
        for n in self.sim.nodes.values():
            if n.core.commit < top.core.commit:
                self.fail(f"liveness: {n.id} at commit {n.core.commit}, leader {top.id} at "
                          f"{top.core.commit} after {self.sim.o.quiet:g} quiet ms")


def run_seed(seed: int, options: SimOptions | None = None) -> dict:
    """Run one seed; returns its summary or raises :class:`InvariantViolation`."""
    return PaxosSimulation(seed, options).run()
