"""Queue workload (Jepsen's queue test): enqueues of unique items and dequeues, then a final
drain after the faults are healed.

===========  ==================  ==================================================
``f``        invoke ``value``    completion (``ok``)
===========  ==================  ==================================================
``enqueue``  ``v`` (int)         ``v``
``dequeue``  ``None``            the item taken (an int), or ``None``: it found the
                                 queue empty
===========  ==================  ==================================================

Items are 0, 1, 2, ... (each enqueued once), so every item dequeued can be traced to its
enqueue. The main phase mixes enqueues and dequeues (``dequeue_ratio``, default 0.5).
``final_generator``: every client dequeues until one of its dequeues finds the queue empty
(at most ``drain_time_s`` seconds), so every item left is looked for.

Options: ``dequeue_ratio`` (0 < x < 1, default 0.5), ``fifo`` (bool, default True: the target
promises first-in first-out order), ``linearizable`` (bool, default True: a dequeue that finds
the queue empty while an item is certainly in it is an anomaly), ``drain_time_s`` (number > 0,
default 30), ``seed`` (int, default 0). Checker: :class:`checkers.queue.QueueChecker`.
"""

from __future__ import annotations

import itertools
import random

from harness.errors import InputError
from harness.generator import Wrapper, lift

OPS = ("enqueue", "dequeue")
OP_SHAPES = {"enqueue": ("int (a new item)", "int (unchanged)"),
             "dequeue": ("null", "int (the item taken) | null (the queue was empty)")}
DEFAULTS = {"dequeue_ratio": 0.5, "fifo": True, "linearizable": True, "drain_time_s": 30,
            "seed": 0}


def normalize_options(options: dict | None) -> dict:
    options = dict(options or {})
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise InputError(f"queue workload: unknown option {unknown[0]!r} (valid: {', '.join(sorted(DEFAULTS))})")
    if options.get("seed", 0) is None:
        options.pop("seed")
    o = {**DEFAULTS, **options}
    r = o["dequeue_ratio"]
    if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r < 1:
        raise InputError(f"queue workload: option dequeue_ratio: expected a number between 0 and 1, got {r!r}")
    for k in ("fifo", "linearizable"):
        if not isinstance(o[k], bool):
            raise InputError(f"queue workload: option {k}: expected true or false, got {o[k]!r}")
    d = o["drain_time_s"]
    if isinstance(d, bool) or not isinstance(d, (int, float)) or d <= 0:
        raise InputError(f"queue workload: option drain_time_s: expected a number > 0, got {d!r}")
    if isinstance(o["seed"], bool) or not isinstance(o["seed"], int):
        raise InputError(f"queue workload: option seed: expected an int, got {o['seed']!r}")
    return o


class QueueOps:
    """The op source: enqueues of 0, 1, 2, ... mixed with dequeues (deterministic for one rng)."""

    def __init__(self, rng: random.Random, dequeue_ratio: float):
        self.rng, self.ratio = rng, dequeue_ratio
        self.items = itertools.count()

    def __call__(self, test=None, ctx=None) -> dict:
        if self.rng.random() < self.ratio:
            return {"f": "dequeue", "value": None}
        return {"f": "enqueue", "value": next(self.items)}

    def take(self, n: int) -> list[dict]:
        return [self() for _ in range(n)]


class UntilEmpty(Wrapper):
    """Ops from ``gen`` until one of them completes ``ok`` with value ``None`` (a dequeue that
    found the queue empty). Ops already in flight still finish."""

    __slots__ = ("done", "active")

    def __init__(self, gen, done: bool = False, active: frozenset = frozenset()):
        self.gen = gen
        self.done = done
        self.active = active

    def op(self, test, ctx):
        if self.done:
            return None
        return Wrapper.op(self, test, ctx)

    def emit(self, o, g, ctx):
        return (o, UntilEmpty(g, False, self.active | {o["process"]}))

    def update(self, test, ctx, event):
        g = self.gen.update(test, ctx, event)
        p = event.get("process")
        if p in self.active and event.get("type") in ("ok", "fail", "info"):
            empty = event.get("type") == "ok" and event.get("value") is None
            return UntilEmpty(g, self.done or empty, self.active - {p})
        return self if g is self.gen else self.with_gen(g)

    def with_gen(self, g):
        return UntilEmpty(g, self.done, self.active)


def drain(time_s: float):
    """Every thread dequeues until it finds the queue empty, for at most ``time_s`` seconds."""
    from harness.generator import each_thread, repeat, time_limit
    return time_limit(time_s, each_thread(UntilEmpty(lift(repeat({"f": "dequeue", "value": None})))))


class QueueWorkload:
    """Enqueues, dequeues and a final drain, checked by :class:`checkers.queue.QueueChecker`."""

    name = "queue"
    ops = OPS
    op_shapes = OP_SHAPES

    def __init__(self, options: dict | None = None):
        self.options = normalize_options(options)

    def generator(self, opts=None) -> QueueOps:
        """An infinite op source; ``opts`` is the run's ``random.Random`` (else the seed option)."""
        rng = opts if isinstance(opts, random.Random) else random.Random(self.options["seed"])
        return QueueOps(rng, self.options["dequeue_ratio"])

    def final_generator(self, opts=None):
        return drain(self.options["drain_time_s"])

    def checker(self, opts=None):
        from checkers.queue import QueueChecker
        return QueueChecker(fifo=self.options["fifo"], linearizable=self.options["linearizable"])
