"""The deterministic world a simulated cluster lives in: a virtual clock, an event queue and a
faulty network, all driven by one seeded ``random.Random``.

Nothing here knows about Raft or Paxos: a protocol driver (e.g. :mod:`reference_impl.sim.raft`)
schedules its own events (timer wakeups, disk syncs, client requests) with :meth:`World.at` and
sends messages with :meth:`World.send`. Same seed, same code -> the same run, event for event:
events at equal times run in the order they were scheduled, and every random choice comes from
``World.rng``.

The network (:class:`NetworkFaults`) drops, delays, duplicates and reorders messages (reordering
is a consequence of independent random delays) and honours partitions: a *grudge* is a set of
``(src, dst)`` pairs whose messages are dropped (the harness's grudge model, as data).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class NetworkFaults:
    """How unreliable the network is. Delays are in virtual milliseconds."""

    loss: float = 0.05
    duplicate: float = 0.02
    min_delay: float = 0.5
    max_delay: float = 8.0
    #: with this probability a message is delayed up to ``long_delay`` instead (reordering).
    long_delay_p: float = 0.02
    long_delay: float = 60.0


@dataclass
class World:
    """Event loop + network. ``deliver(dst, msg)`` is called for each message that arrives."""

    rng: random.Random
    deliver: Callable[[str, Any], None]
    faults: NetworkFaults = field(default_factory=NetworkFaults)
    now: float = 0.0
    blocked: set = field(default_factory=set)   # {(src, dst)}: a partition's grudge
    trace: list | None = None                    # when a list, every event is appended to it

    def __post_init__(self) -> None:
        self._queue: list = []
        self._seq = 0
        self.sent = 0
        self.dropped = 0

    def at(self, time: float, action: Callable[[], None], label: str = "") -> None:
        """Run ``action()`` at virtual ``time`` (not before now)."""
        self._seq += 1
        heapq.heappush(self._queue, (max(time, self.now), self._seq, label, action))

    def send(self, src: str, dst: str, msg: Any) -> None:
        """Send ``msg`` from ``src`` to ``dst`` through the faulty network."""
        self.sent += 1
        f = self.faults
        rng = self.rng
        copies = 2 if rng.random() < f.duplicate else 1
        for _ in range(copies):
            if rng.random() < f.loss:
                self.dropped += 1
                continue
            if rng.random() < f.long_delay_p:
                delay = rng.uniform(f.min_delay, f.long_delay)
            else:
                delay = rng.uniform(f.min_delay, f.max_delay)
            self.at(self.now + delay, lambda m=msg: self._arrive(src, dst, m), "deliver")

    def _arrive(self, src: str, dst: str, msg: Any) -> None:
        # The grudge is checked on arrival: a partition also drops what was in flight.
        if (src, dst) in self.blocked:
            self.dropped += 1
            return
        self.deliver(dst, msg)

    def partition(self, groups: list[list[str]]) -> None:
        """Cut the network into ``groups``: nodes in different groups cannot talk."""
        self.blocked = {(a, b) for g in groups for h in groups if g is not h for a in g for b in h}

    def heal(self) -> None:
        self.blocked = set()

    def run_until(self, end: float, after_step: Callable[[], None] | None = None) -> None:
        """Run events up to virtual time ``end``; call ``after_step()`` after each one."""
        q = self._queue
        while q and q[0][0] <= end:
            time, seq, label, action = heapq.heappop(q)
            self.now = time
            if self.trace is not None:
                self.trace.append((round(time, 3), seq, label))
            action()
            if after_step is not None:
                after_step()
        self.now = end
