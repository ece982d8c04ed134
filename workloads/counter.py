"""Counter workload: ``add`` ops with a delta (negative deltas when ``decrements`` is on) mixed with
``read`` ops; checked by :class:`checkers.counter.CounterChecker` (reads within bounds).

==========  ==================  ==========================
``f``       invoke ``value``    completion (``ok``)
==========  ==================  ==========================
``add``     ``d`` (int, != 0)   ``d``
``read``    ``None``            int: the counter's value
==========  ==================  ==========================

The target must increment atomically: a native increment (Redis ``INCRBY``), or a
read-modify-write loop whose conditional write only applies while the counter is unchanged (the
raft and etcd clients: see docs/workloads.md). Options: ``decrements`` (bool, default True),
``max_delta`` (int >= 1, default 5), ``seed`` (int, default 0).
"""

from __future__ import annotations

import random

from harness.errors import InputError

OPS = ("add", "read")
OP_SHAPES = {"add": ("int (delta)", "int (unchanged)"), "read": ("null", "int")}
DEFAULTS = {"decrements": True, "max_delta": 5, "seed": 0}


class CounterWorkload:
    """Adds and reads on one counter."""

    name = "counter"
    ops = OPS
    op_shapes = OP_SHAPES

    def __init__(self, options: dict | None = None):
        options = dict(options or {})
        unknown = sorted(set(options) - set(DEFAULTS))
        if unknown:
            raise InputError(f"counter workload: unknown option {unknown[0]!r} (valid: {', '.join(sorted(DEFAULTS))})")
        o = {**DEFAULTS, **options}
        m = o["max_delta"]
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise InputError(f"counter workload: option max_delta: expected an int >= 1, got {m!r}")
        if not isinstance(o["decrements"], bool):
            raise InputError(f"counter workload: option decrements: expected true or false, got {o['decrements']!r}")
        self.options = o

    def generator(self, opts=None):
        """An infinite, deterministic op source (``opts``: a ``random.Random`` or None)."""
        rng = opts if isinstance(opts, random.Random) else random.Random(self.options["seed"])
        m, dec = self.options["max_delta"], self.options["decrements"]

        def op(test=None, ctx=None):
            if rng.random() < 0.5:
                return {"f": "read", "value": None}
            d = rng.randint(1, m)
            return {"f": "add", "value": -d if dec and rng.random() < 0.3 else d}
        return op

    def final_generator(self, opts=None):
        """One read per client thread after healing."""
        from harness.generator import each_thread
        return each_thread({"f": "read", "value": None})

    def checker(self, opts=None):
        from checkers.counter import CounterChecker
        return CounterChecker()
