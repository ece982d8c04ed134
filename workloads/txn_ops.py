"""Random transactions over a rotating pool of integer keys (Elle's ``wr-txns``).

Each transaction has ``min_txn_length..max_txn_length`` micro-ops, each a read or a write of a
key drawn from the active pool (uniformly, or exponentially favouring the first keys, as Jepsen
does). Every write of a key gets the next integer for that key, so writes are unique. A key
that has been written ``max_writes_per_key`` times retires and a fresh key takes its place:
lists stay short and version orders stay cheap to infer.

Pure and deterministic: the same ``random.Random`` gives the same transactions.
"""

from __future__ import annotations

import math
import random

from harness.errors import InputError

DEFAULTS = {
    "key_count": 10,
    "min_txn_length": 1,
    "max_txn_length": 4,
    "max_writes_per_key": 32,
    "key_dist": "exponential",
    "key_dist_base": 2,
    "seed": 0,
    "consistency_models": None,
    "anomalies": None,
}


def normalize_options(name: str, options: dict | None) -> dict:
    """Options merged over :data:`DEFAULTS`; InputError names a bad one."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise InputError(f"{name} workload: unknown option {unknown[0]!r} "
                         f"(valid: {', '.join(sorted(DEFAULTS))})")
    o = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None or k in (
        "consistency_models", "anomalies")}}
    for k in ("key_count", "min_txn_length", "max_txn_length", "max_writes_per_key"):
        v = o[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"{name} workload: option {k}: expected an int >= 1, got {v!r}")
    if o["min_txn_length"] > o["max_txn_length"]:
        raise InputError(f"{name} workload: option min_txn_length: must be <= max_txn_length")
    if o["key_dist"] not in ("uniform", "exponential"):
        raise InputError(f"{name} workload: option key_dist: expected uniform or exponential, "
                         f"got {o['key_dist']!r}")
    return o


class TxnOps:
    """The op source: a callable ``(test=None, ctx=None) -> {"f": "txn", "value": [...]}``."""

    def __init__(self, rng: random.Random, o: dict, write_f: str):
        self.rng = rng
        self.o = o
        self.write_f = write_f
        self.active = list(range(o["key_count"]))
        self.next_key = o["key_count"]
        self.writes: dict[int, int] = {}
        base = o["key_dist_base"]
        self.scale = (base ** o["key_count"] - 1) * base / (base - 1) if base != 1 else 1

    def _key(self) -> int:
        if self.o["key_dist"] == "uniform":
            return self.rng.choice(self.active)
        base = self.o["key_dist_base"]
        i = int(math.floor(math.log(self.rng.random() * self.scale + base, base) - 1))
        return self.active[min(max(i, 0), len(self.active) - 1)]

    def txn(self) -> list:
        o, rng = self.o, self.rng
        n = rng.randint(o["min_txn_length"], o["max_txn_length"])
        out = []
        while len(out) < n:
            k = self._key()
            if rng.random() < 0.5:
                out.append(["r", k, None])
                continue
            v = self.writes.get(k, 0) + 1
            if v > o["max_writes_per_key"]:
                # Retire the key; a fresh one takes its slot.
                self.active[self.active.index(k)] = self.next_key
                self.next_key += 1
                continue
            self.writes[k] = v
            out.append([self.write_f, k, v])
        return out

    def __call__(self, test=None, ctx=None) -> dict:
        return {"f": "txn", "value": self.txn()}

    def take(self, n: int) -> list[dict]:
        return [self() for _ in range(n)]


def rng_from(opts, default_seed: int) -> random.Random:
    if isinstance(opts, random.Random):
        return opts
    if isinstance(opts, dict):
        if isinstance(opts.get("rng"), random.Random):
            return opts["rng"]
        if isinstance(opts.get("seed"), int):
            return random.Random(opts["seed"])
    if isinstance(opts, int) and not isinstance(opts, bool):
        return random.Random(opts)
    return random.Random(default_seed)
