"""Set workload: unique ``add`` ops, then final reads of the whole set (Jepsen's set-full).

==========  ==================  =================================================
``f``       invoke ``value``    completion (``ok``)
==========  ==================  =================================================
``add``     ``e`` (int)         ``e``
``read``    ``None``            list of ints: every element the set holds
==========  ==================  =================================================

The main phase adds 0, 1, 2, ... (each element once) mixed with reads (``read_every``: one read
per that many adds; 0 = none). ``final_generator`` has every client read once after the faults
are healed, so each acknowledged element is looked for after it settled.

Options: ``read_every`` (int >= 0, default 10), ``linearizable`` (bool, default False: stale
reads make the history invalid only when the target promises linearizable reads), ``seed``
(accepted for uniformity with the other workloads; the ops are not random).
Checker: :class:`checkers.set.SetChecker`.
"""

from __future__ import annotations

import itertools

from harness.errors import InputError

OPS = ("add", "read")
OP_SHAPES = {"add": ("int (the element)", "int (unchanged)"),
             "read": ("null", "list[int] (all elements)")}
DEFAULTS = {"read_every": 10, "linearizable": False, "seed": 0}  # seed: accepted, unused


class SetOps:
    """Callable op source: consecutive adds with a read every ``read_every`` ops."""

    def __init__(self, read_every: int):
        self.read_every = read_every
        self.counter = itertools.count()
        self.n = 0

    def __call__(self, test=None, ctx=None) -> dict:
        self.n += 1
        if self.read_every and self.n % (self.read_every + 1) == 0:
            return {"f": "read", "value": None}
        return {"f": "add", "value": next(self.counter)}


class SetWorkload:
    """Adds of unique elements then final reads, checked by :class:`checkers.set.SetChecker`."""

    name = "set"
    ops = OPS
    op_shapes = OP_SHAPES

    def __init__(self, options: dict | None = None):
        options = dict(options or {})
        unknown = sorted(set(options) - set(DEFAULTS))
        if unknown:
            raise InputError(f"set workload: unknown option {unknown[0]!r} (valid: {', '.join(sorted(DEFAULTS))})")
        o = {**DEFAULTS, **options}
        r = o["read_every"]
        if isinstance(r, bool) or not isinstance(r, int) or r < 0:
            raise InputError(f"set workload: option read_every: expected an int >= 0, got {r!r}")
        if not isinstance(o["linearizable"], bool):
            raise InputError(f"set workload: option linearizable: expected true or false, got {o['linearizable']!r}")
        self.options = o

    def generator(self, opts=None) -> SetOps:
        """An infinite op source (deterministic: no randomness needed)."""
        return SetOps(self.options["read_every"])

    def final_generator(self, opts=None):
        """One read per client thread after healing."""
        from harness.generator import each_thread
        return each_thread({"f": "read", "value": None})

    def checker(self, opts=None):
        from checkers.set import SetChecker
        return SetChecker(linearizable=self.options["linearizable"])
