"""A simulated cluster, protocol aside: what the Raft and Paxos simulations share.

:class:`ClusterSimulation` drives N nodes of some protocol core in a seeded
:class:`~reference_impl.sim.world.World`, the way the real servers drive theirs (the ``Ready``
contract): a Ready's writes go to a simulated disk and become durable only when the simulated
fsync completes, and only then do its messages leave. It owns everything that does not depend on
the protocol: the node lifecycle (boot, crash, a restart is a boot), per-node timers, the Ready
loop, message delivery, the client and fault schedules (crash, restart, partition, heal), the
quiet period at the end and the run itself. A protocol driver (:mod:`reference_impl.sim.raft`,
:mod:`reference_impl.sim.paxos`) subclasses it and fills in the hooks: how a core is built from
the disk, what a write keeps, what happens once a Ready is durable, what a client asks.

:class:`ClusterInvariants` is the shared half of the invariant bookkeeping: how a violation is
reported (:class:`InvariantViolation`, naming the seed and the virtual time) and the
one-leader-per-term (or ballot) check run after every event.

Every random choice comes from the simulation's one ``random.Random``, in a fixed order, so a
seed replays event for event.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from reference_impl.sim.world import NetworkFaults, World

LEADER = "leader"   # the role name both cores use for a leader


class InvariantViolation(AssertionError):
    """A protocol invariant broke in a simulated run."""


def command_key(cmd: Any) -> str:
    """A client command's identity: its ``id`` when it has one, else its canonical JSON."""
    if isinstance(cmd, dict) and "id" in cmd:
        return f"#{cmd['id']}"
    return json.dumps(cmd, sort_keys=True)


@dataclass
class ClusterOptions:
    """The protocol-independent shape of one simulated run. Times are virtual milliseconds."""

    nodes: int = 5
    duration: float = 1500.0
    quiet: float = 800.0          # fault-free time at the end (liveness: a leader must emerge)
    faults: NetworkFaults = field(default_factory=NetworkFaults)
    client_interval: tuple = (1.0, 8.0)
    fault_interval: tuple = (30.0, 250.0)
    crash_p: float = 0.3
    disk_delay: tuple = (0.1, 3.0)
    bug: str | None = None


class ClusterNode:
    """One node: a core, its state machine, and whether it is up (the driver adds its disk)."""

    def __init__(self, node_id: str):
        self.id = node_id
        self.core = None
        self.sm = None
        self.up = False
        self.gen = 0              # bumped by boot and crash: work of an earlier life is void
        self.syncing = False
        self.timer_token = 0
        self.timer_at: float | None = None
        self.led = None           # the term (or ballot) it was last seen leading


class ClusterSimulation:
    """One seeded run of a cluster. :meth:`run` returns a summary dict or raises
    :class:`InvariantViolation`. Subclasses set ``self.inv`` and ``self.stats`` and implement
    :meth:`_new_node`, :meth:`_revive`, :meth:`_write`, :meth:`_after_sync`, :meth:`_request`
    and :meth:`_outcome`."""

    def __init__(self, seed: int, options: ClusterOptions, *, trace: bool = False):
        self.seed = seed
        self.o = options
        self.rng = random.Random(seed)
        self.world = World(self.rng, self._deliver, self.o.faults, trace=[] if trace else None)
        self.ids = [f"n{i + 1}" for i in range(self.o.nodes)]
        self.nodes = {i: self._new_node(i) for i in self.ids}
        self.next_cmd = 0
        self.inv: ClusterInvariants
        self.stats: dict

    # ------------------------------------------------------------------ protocol hooks
    def _new_node(self, node_id: str) -> ClusterNode:
        """A fresh, down node with an empty disk."""
        raise NotImplementedError

    def _revive(self, node: ClusterNode) -> None:
        """Give a booting node its core and state machine, rebuilt from what its disk holds."""
        raise NotImplementedError

    def _needs_sync(self, r) -> bool:
        """Whether Ready ``r`` must wait for an fsync (otherwise it is written at once)."""
        return True

    def _write(self, node: ClusterNode, gen: int, r) -> None:
        """Put Ready ``r``'s writes on ``node``'s disk, unless the node crashed since ``gen``."""
        raise NotImplementedError

    def _after_sync(self, node: ClusterNode, r) -> None:
        """Ready ``r`` is durable: tell the core, send its messages, apply what it commits."""
        raise NotImplementedError

    def _request(self, node: ClusterNode) -> None:
        """A client sends one request (numbered ``self.next_cmd``) to the live ``node``."""
        raise NotImplementedError

    def _special_fault(self) -> bool:
        """A protocol's own fault, tried before the common ones; True when it took the turn."""
        return False

    def _outcome(self) -> dict:
        """The protocol's figures for the summary (placed before ``stats``)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ node lifecycle
    def _boot(self, node: ClusterNode) -> None:
        node.gen += 1
        node.up = True
        node.syncing = False
        node.timer_at = None
        self._revive(node)
        self._schedule_timer(node)

    def _crash(self, node: ClusterNode) -> None:
        node.up = False
        node.gen += 1          # pending syncs, timers and in-flight work of this life are void
        node.core = None
        self.stats["crashes"] += 1

    def leaders_up(self) -> list:
        """The live nodes whose core is a leader (of any term or ballot)."""
        return [n for n in self.nodes.values() if n.up and n.core.role == LEADER]

    def _schedule_timer(self, node: ClusterNode) -> None:
        at = node.core.next_wakeup()
        if at == node.timer_at:
            return     # already scheduled for that time
        node.timer_at = at
        node.timer_token += 1
        tok, gen = node.timer_token, node.gen
        self.world.at(at, lambda: self._timer(node, gen, tok), "timer")

    def _timer(self, node: ClusterNode, gen: int, tok: int) -> None:
        if node.gen != gen or node.timer_token != tok or not node.up:
            return
        node.timer_at = None
        if self.world.now >= node.core.next_wakeup():
            node.core.tick(self.world.now)
        self._kick(node)

    # ------------------------------------------------------------------ the Ready loop
    def _kick(self, node: ClusterNode) -> None:
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
                if not node.up:
                    return     # a fault struck while the Ready was handled
                continue
            if not self._needs_sync(r):
                self._write(node, gen, r)
                self._after_sync(node, r)
                if not node.up:
                    return
                continue
            node.syncing = True
            delay = self.rng.uniform(*self.o.disk_delay)
            self.world.at(self.world.now + delay, lambda: self._synced(node, gen, r), "fsync")

    def _synced(self, node: ClusterNode, gen: int, r) -> None:
        if node.gen != gen:
            return
        self._write(node, gen, r)
        node.syncing = False
        self._after_sync(node, r)
        self._kick(node)

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
        self._request(node)
        self._kick(node)

    def _fault(self) -> None:
        if self.world.now >= self.o.duration:
            return
        self.world.at(self.world.now + self.rng.uniform(*self.o.fault_interval), self._fault,
                      "fault")
        if self._special_fault():
            return
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
        """Run the seed to the end of the quiet period; the summary, or InvariantViolation."""
        for n in self.nodes.values():
            self._boot(n)
        self.world.at(1.0, self._client, "client")
        self.world.at(self.rng.uniform(*self.o.fault_interval), self._fault, "fault")
        self.world.at(self.o.duration, self._quiet, "quiet")
        self.world.run_until(self.o.duration + self.o.quiet, self.inv.after_step)
        self.inv.final()
        return {"seed": self.seed, "time": self.world.now, "sent": self.world.sent,
                "dropped": self.world.dropped, **self._outcome(), **self.stats}


class ClusterInvariants:
    """The protocol-independent half of a simulation's invariant checks: failing with the seed
    and virtual time, and one leader per reign (a Raft term, a Paxos ballot) over the whole run.
    Subclasses name the core attribute a leader leads (``reign``: ``"term"``, ``"ballot"``), the
    message for two leaders of one reign (``two_leaders``, a format string over ``holder``,
    ``node`` and ``reign``) and, if they check more when a node starts leading,
    :meth:`on_new_leader`."""

    reign: str = "term"
    two_leaders: str = "{holder} and {node} both lead {reign}"

    def __init__(self, sim: ClusterSimulation):
        self.sim = sim
        self.leaders: dict = {}        # reign -> the node that led it

    def fail(self, what: str) -> None:
        """Raise :class:`InvariantViolation` for ``what``, naming the seed and virtual time."""
        raise InvariantViolation(f"seed {self.sim.seed} at t={self.sim.world.now:.3f}ms: {what}")

    def live_leaders(self) -> list:
        """The live leaders once the faults have stopped; none is a liveness violation."""
        leaders = self.sim.leaders_up()
        if not leaders:
            self.fail("liveness: no leader after the faults stopped")
        return leaders

    def on_new_leader(self, node: ClusterNode) -> None:
        """Called once when ``node`` starts leading a reign."""

    def after_step(self) -> None:
        """After every event: one leader per reign; count and check each new leadership."""
        for node in self.sim.nodes.values():
            core = node.core
            if core is None or core.role != LEADER:
                continue
            reign = getattr(core, self.reign)
            holder = self.leaders.setdefault(reign, node.id)
            if holder != node.id:
                self.fail(self.two_leaders.format(holder=holder, node=node.id, reign=reign))
            if node.led != reign:
                node.led = reign
                self.sim.stats["elections"] += 1
                self.on_new_leader(node)
