"""Register workload: reads, writes and compare-and-sets on one register, checked for
linearizability against a CAS register that starts absent (``None``).

Op shapes (what the generator emits and a client must support; the interpreter adds ``type``,
``process``, ``time``):

==========  ===========================  ==========================================================
``f``       invoke ``value``             completion (``ok``)
==========  ===========================  ==========================================================
``read``    ``None``                     the value read: an int, or ``None`` if never written
``write``   ``v`` (int)                  ``v``
``cas``     ``[from, to]`` (two ints)    ``[from, to]``; a cas whose compare did not hold is
                                         ``fail`` (certainly not applied)
==========  ===========================  ==========================================================

Values are drawn from ``0..max_value`` (default 4, as Jepsen's ``(rand-int 5)``). The register's
key is the client's business (the etcd client uses its ``key`` option, default ``"r"``).

Options (``RegisterWorkload(options)``; unknown keys raise InputError):
- ``max_value`` (int >= 0, default 4): values are ``0..max_value``.
- ``weights`` (dict, default ``{"read": 1, "write": 1, "cas": 1}``): relative frequency of each
  ``f``; missing names weigh 0, at least one must be positive.
- ``seed`` (int, default 0; None means 0): seeds the fallback random source (see :meth:`generator`).
- ``checker_timeout_s`` (number or None): passed to the linearizability checker.

The generator is a plain callable ``(test, ctx) -> op``: it is asked once per op, forever
(``final_generator`` is ``None``: nothing to do at the end). It is deterministic: the same random
source gives the same op sequence, whatever the test and context are.
"""

from __future__ import annotations

import random
from typing import Any

from harness.errors import InputError

OPS = ("read", "write", "cas")

#: What each op carries, for clients and docs: f -> (invoke value, ok value).
OP_SHAPES = {
    "read": ("null", "int | null (the value read)"),
    "write": ("int", "int (unchanged)"),
    "cas": ("[int, int] (from, to)", "[int, int] (unchanged)"),
}

DEFAULTS: dict[str, Any] = {
    "max_value": 4,
    "weights": {"read": 1, "write": 1, "cas": 1},
    "seed": 0,
    "checker_timeout_s": None,
}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def normalize_options(options: dict | None) -> dict:
    options = dict(options or {})
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise InputError(f"register workload: unknown option {unknown[0]!r} "
                         f"(valid: {', '.join(sorted(DEFAULTS))})")
    if options.get("seed", 0) is None:
        options.pop("seed")
    o = {**DEFAULTS, **options}
    if not _is_int(o["max_value"]) or o["max_value"] < 0:
        raise InputError(f"register workload: option max_value: expected an int >= 0, got {o['max_value']!r}")
    w = o["weights"]
    if not isinstance(w, dict):
        raise InputError(f"register workload: option weights: expected a mapping f -> weight, got {w!r}")
    bad = sorted(set(w) - set(OPS))
    if bad:
        raise InputError(f"register workload: option weights: unknown op {bad[0]!r} (valid: {', '.join(OPS)})")
    for f, x in w.items():
        if isinstance(x, bool) or not isinstance(x, (int, float)) or x < 0:
            raise InputError(f"register workload: option weights: {f}: expected a number >= 0, got {x!r}")
    if not any(w.get(f, 0) > 0 for f in OPS):
        raise InputError("register workload: option weights: at least one weight must be > 0")
    o["weights"] = {f: w.get(f, 0) for f in OPS}
    if not _is_int(o["seed"]):
        raise InputError(f"register workload: option seed: expected an int, got {o['seed']!r}")
    t = o["checker_timeout_s"]
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0):
        raise InputError(f"register workload: option checker_timeout_s: expected a number > 0, got {t!r}")
    return o


def _rng_from(opts) -> random.Random | None:
    if opts is None:
        return None
    if isinstance(opts, random.Random):
        return opts
    if isinstance(opts, dict):
        if isinstance(opts.get("rng"), random.Random):
            return opts["rng"]
        if _is_int(opts.get("seed")):
            return random.Random(opts["seed"])
        return None
    if _is_int(opts):
        return random.Random(opts)
    raise TypeError(f"generator(opts): expected a random.Random, a seed or a dict, got {opts!r}")


class RegisterOps:
    """The op source: a callable ``(test=None, ctx=None) -> op`` drawing from one ``Random``."""

    def __init__(self, rng: random.Random, max_value: int, weights: dict):
        self.rng = rng
        self.max_value = max_value
        self.fs = [f for f in OPS if weights[f] > 0]
        self.cum = []
        total = 0.0
        for f in self.fs:
            total += weights[f]
            self.cum.append(total)
        self.total = total

    def _f(self) -> str:
        if len(self.fs) == 1:
            return self.fs[0]
        x = self.rng.random() * self.total
        for f, c in zip(self.fs, self.cum):
            if x < c:
                return f
        return self.fs[-1]

    def __call__(self, test=None, ctx=None) -> dict:
        f = self._f()
        if f == "read":
            return {"f": "read", "value": None}
        if f == "write":
            return {"f": "write", "value": self.rng.randint(0, self.max_value)}
        return {"f": "cas", "value": [self.rng.randint(0, self.max_value),
                                      self.rng.randint(0, self.max_value)]}

    def take(self, n: int) -> list[dict]:
        """The next ``n`` ops (for tests and previews)."""
        return [self() for _ in range(n)]


class RegisterWorkload:
    """Single-register read/write/cas workload, checked with ``CASRegisterModel(initial=None)``."""

    name = "register"
    ops = OPS
    op_shapes = OP_SHAPES

    def __init__(self, options: dict | None = None):
        self.options = normalize_options(options)

    def generator(self, opts=None) -> RegisterOps:
        """An infinite op source. ``opts`` gives the randomness: a ``random.Random`` (used as
        is), an int seed, or a dict with ``rng`` or ``seed``; else ``Random(options["seed"])``.
        Pass the run's seeded rng so one seed reproduces one run."""
        rng = _rng_from(opts)
        if rng is None:
            rng = random.Random(self.options["seed"])
        return RegisterOps(rng, self.options["max_value"], self.options["weights"])

    def final_generator(self, opts=None):
        """Nothing to do after the main phase: ``None``."""
        return None

    def checker(self, opts=None):
        """Linearizability against a CAS register starting absent (``None``)."""
        from checkers.linearizable import LinearizableChecker
        from checkers.linearizable.models import CASRegisterModel

        timeout = self.options["checker_timeout_s"]
        if isinstance(opts, dict) and opts.get("checker_timeout_s") is not None:
            timeout = opts["checker_timeout_s"]
        return LinearizableChecker(CASRegisterModel(initial=None), timeout_s=timeout)
