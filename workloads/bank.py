"""Bank workload (Jepsen's bank test): transfers between accounts, and reads of every balance.
Transfers move money, so every read of all accounts at once must see the same total.

============  ======================================  =========================================
``f``         invoke ``value``                        completion (``ok``)
============  ======================================  =========================================
``transfer``  ``{"from": a, "to": b, "amount": n}``   unchanged; ``fail`` when it certainly did
                                                      not happen (e.g. insufficient funds)
``read``      ``None``                                ``{"<account>": balance, ...}``: every
                                                      account, read in one transaction
============  ======================================  =========================================

Accounts are ints (a read's keys are their decimal text, as JSON object keys are strings). The
client sets the initial balances once (``total`` split evenly, the remainder to the first
accounts) before the run. Half the ops are reads, half transfers of ``1..max_transfer`` between
two distinct random accounts. ``final_generator``: every client reads once after healing.

Options: ``accounts`` (int >= 2, or a list of distinct ints; default 5), ``total`` (int >= 0,
default 100), ``max_transfer`` (int >= 1, default 5), ``negative_balances`` (bool, default
False: a transfer that would overdraw fails, and a negative balance read is an anomaly),
``seed`` (int, default 0). Checker: :class:`checkers.bank.BankChecker`.
"""

from __future__ import annotations

import random

from harness.errors import InputError

OPS = ("transfer", "read")
OP_SHAPES = {"transfer": ('{"from": int, "to": int, "amount": int}', "unchanged"),
             "read": ("null", '{"<account>": int, ...} (every account)')}
DEFAULTS = {"accounts": 5, "total": 100, "max_transfer": 5, "negative_balances": False, "seed": 0}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def normalize_options(options: dict | None) -> dict:
    """Options over :data:`DEFAULTS`, ``accounts`` as a list; InputError names a bad one."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise InputError(f"bank workload: unknown option {unknown[0]!r} (valid: {', '.join(sorted(DEFAULTS))})")
    if options.get("seed", 0) is None:
        options.pop("seed")
    o = {**DEFAULTS, **options}
    a = o["accounts"]
    if _is_int(a):
        if a < 2:
            raise InputError(f"bank workload: option accounts: expected at least 2 accounts, got {a}")
        a = list(range(a))
    elif isinstance(a, (list, tuple)) and len(a) >= 2 and all(_is_int(x) for x in a) \
            and len(set(a)) == len(a):
        a = list(a)
    else:
        raise InputError(f"bank workload: option accounts: expected an int >= 2 or a list of "
                         f"distinct ints, got {a!r}")
    o["accounts"] = a
    for k, low in (("total", 0), ("max_transfer", 1)):
        if not _is_int(o[k]) or o[k] < low:
            raise InputError(f"bank workload: option {k}: expected an int >= {low}, got {o[k]!r}")
    if not isinstance(o["negative_balances"], bool):
        raise InputError(f"bank workload: option negative_balances: expected true or false, "
                         f"got {o['negative_balances']!r}")
    if not _is_int(o["seed"]):
        raise InputError(f"bank workload: option seed: expected an int, got {o['seed']!r}")
    return o


class BankOps:
    """The op source: a callable ``(test=None, ctx=None) -> op``, deterministic for one rng."""

    def __init__(self, rng: random.Random, accounts: list, max_transfer: int):
        self.rng, self.accounts, self.max_transfer = rng, accounts, max_transfer

    def __call__(self, test=None, ctx=None) -> dict:
        rng = self.rng
        if rng.random() < 0.5:
            return {"f": "read", "value": None}
        a, b = rng.sample(self.accounts, 2)
        return {"f": "transfer", "value": {"from": a, "to": b,
                                           "amount": rng.randint(1, self.max_transfer)}}

    def take(self, n: int) -> list[dict]:
        return [self() for _ in range(n)]


class BankWorkload:
    """Transfers and whole-bank reads, checked by :class:`checkers.bank.BankChecker`."""

    name = "bank"
    ops = OPS
    op_shapes = OP_SHAPES

    def __init__(self, options: dict | None = None):
        self.options = normalize_options(options)

    def generator(self, opts=None) -> BankOps:
        """An infinite op source; ``opts`` is the run's ``random.Random`` (else the seed option)."""
        rng = opts if isinstance(opts, random.Random) else random.Random(self.options["seed"])
        return BankOps(rng, self.options["accounts"], self.options["max_transfer"])

    def final_generator(self, opts=None):
        """One read per client thread after healing."""
        from harness.generator import each_thread
        return each_thread({"f": "read", "value": None})

    def checker(self, opts=None):
        from checkers.bank import BankChecker
        o = self.options
        return BankChecker(o["accounts"], o["total"], negative_balances=o["negative_balances"])
