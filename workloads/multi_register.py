"""Multi-register workload (Jepsen's ``independent`` register test): reads, writes and
compare-and-sets on many independent registers, each key checked on its own by the
linearizability checker (P-compositionality: a history of independent objects is linearizable iff
each object's sub-history is), so long runs stay checkable.

==========  ==========================  =========================================
``f``       invoke ``value``            completion (``ok``)
==========  ==========================  =========================================
``read``    ``[k, None]``               ``[k, v]``: ``v`` the value read (``None``
                                        if never written)
``write``   ``[k, v]``                  unchanged
``cas``     ``[k, [from, to]]``         unchanged; ``fail`` if the compare was false
==========  ==========================  =========================================

``key_count`` keys are active at once; each op picks one at random. A key *retires* after
``ops_per_key`` ops and a fresh key (the next integer) takes its place, so no key's sub-history
grows past what the checker can search quickly. Values are ``0..max_value``.

Options: ``key_count`` (int >= 1, default 5), ``ops_per_key`` (int >= 1, default 100),
``max_value`` (int >= 0, default 4), ``seed`` (int, default 0), ``checker_timeout_s``.
Checker: :class:`checkers.linearizable.LinearizableChecker` with the ``independent-cas-register``
model (each key a CAS register starting absent).
"""

from __future__ import annotations

import random

from harness.errors import InputError

OPS = ("read", "write", "cas")
OP_SHAPES = {"read": ("[k, null]", "[k, int | null]"),
             "write": ("[k, int]", "unchanged"),
             "cas": ("[k, [int, int]]", "unchanged")}
DEFAULTS = {"key_count": 5, "ops_per_key": 100, "max_value": 4, "seed": 0,
            "checker_timeout_s": None}


def normalize_options(options: dict | None) -> dict:
    options = dict(options or {})
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise InputError(f"multi-register workload: unknown option {unknown[0]!r} "
                         f"(valid: {', '.join(sorted(DEFAULTS))})")
    if options.get("seed", 0) is None:
        options.pop("seed")
    o = {**DEFAULTS, **options}
    for k, low in (("key_count", 1), ("ops_per_key", 1), ("max_value", 0)):
        v = o[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise InputError(f"multi-register workload: option {k}: expected an int >= {low}, got {v!r}")
    if isinstance(o["seed"], bool) or not isinstance(o["seed"], int):
        raise InputError(f"multi-register workload: option seed: expected an int, got {o['seed']!r}")
    t = o["checker_timeout_s"]
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0):
        raise InputError(f"multi-register workload: option checker_timeout_s: expected a number > 0, got {t!r}")
    return o


class MultiRegisterOps:
    """The op source: ops on a rotating pool of keys; a key retires after ``ops_per_key`` ops."""

    def __init__(self, rng: random.Random, key_count: int, ops_per_key: int, max_value: int):
        self.rng, self.ops_per_key, self.max_value = rng, ops_per_key, max_value
        self.active = list(range(key_count))
        self.next_key = key_count
        self.used: dict[int, int] = {}

    def __call__(self, test=None, ctx=None) -> dict:
        rng = self.rng
        slot = rng.randrange(len(self.active))
        k = self.active[slot]
        self.used[k] = self.used.get(k, 0) + 1
        if self.used[k] >= self.ops_per_key:  # this is its last op: a fresh key takes the slot
            self.active[slot] = self.next_key
            self.next_key += 1
            del self.used[k]
        x = rng.random()
        if x < 1 / 3:
            return {"f": "read", "value": [k, None]}
        if x < 2 / 3:
            return {"f": "write", "value": [k, rng.randint(0, self.max_value)]}
        return {"f": "cas", "value": [k, [rng.randint(0, self.max_value), rng.randint(0, self.max_value)]]}

    def take(self, n: int) -> list[dict]:
        return [self() for _ in range(n)]


class MultiRegisterWorkload:
    """Independent registers, checked per key for linearizability."""

    name = "multi-register"
    ops = OPS
    op_shapes = OP_SHAPES

    def __init__(self, options: dict | None = None):
        self.options = normalize_options(options)

    def generator(self, opts=None) -> MultiRegisterOps:
        """An infinite op source; ``opts`` is the run's ``random.Random`` (else the seed option)."""
        rng = opts if isinstance(opts, random.Random) else random.Random(self.options["seed"])
        o = self.options
        return MultiRegisterOps(rng, o["key_count"], o["ops_per_key"], o["max_value"])

    def final_generator(self, opts=None):
        return None

    def checker(self, opts=None):
        from checkers.linearizable import LinearizableChecker
        from checkers.linearizable.models import make_model

        timeout = self.options["checker_timeout_s"]
        if isinstance(opts, dict) and opts.get("checker_timeout_s") is not None:
            timeout = opts["checker_timeout_s"]
        return LinearizableChecker(make_model("independent-cas-register"), timeout_s=timeout)
