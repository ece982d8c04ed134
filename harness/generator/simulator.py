"""Running a generator against a simulated clock: deterministic histories for tests and docs.

:class:`Simulator` plays the interpreter's part with no threads and no waiting. Time jumps from
event to event; every op takes a simulated latency; a ``complete`` function decides each client
op's outcome. It follows the interpreter's rules (process renumbering after ``info``, nemesis ops
recorded as ``info``, ``sleep``/``log`` ops not recorded) so what it shows is what a run does,
minus real-world timing noise. With the same seed it returns the same history.

>>> from harness.generator import Simulator, limit, repeat
>>> [(o["time"], o["type"], o["process"]) for o in Simulator(2).run(limit(2, repeat({"f": "read"})))]
[(0, 'invoke', 0), (0, 'invoke', 1), (10, 'ok', 0), (10, 'ok', 1)]
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import Any

from .completion import complete_op
from .context import NEMESIS, Context
from .core import LOG, PENDING, SLEEP, GeneratorError, check_invoke, lift, secs_to_nanos


def _always_ok(op: dict) -> str:
    return "ok"


class Simulator:
    """A deterministic interpreter: ``concurrency`` client threads, a nemesis, a simulated clock.

    - ``seed``: seeds ``ctx.rng`` (mix, stagger, tie breaks, user callables that use it).
    - ``latency``: seconds each op takes, or ``latency(op) -> seconds``. Default 10 ns (Jepsen's
      "perfect" latency).
    - ``complete(op) -> answer``: a client op's outcome, a type string (``"ok"``) or a partial
      completion dict (``{"type": "ok", "value": 3}``). Default: always ``ok``. Nemesis ops
      complete as ``info`` with their own value.
    - ``test``: what generators get as ``test`` (default ``{}``).
    - ``max_ops``: stop with :class:`GeneratorError` after this many invocations (a guard against
      running an infinite generator by mistake).

    ``run(gen)`` returns the history (invokes and completions, ``index`` and ``time`` in ns);
    ``logs`` collects the messages of ``log`` ops with their times.
    """

    def __init__(self, concurrency: int = 2, *, seed: int = 0,
                 latency: float | Callable[[dict], float] = 1e-8,
                 complete: Callable[[dict], Any] = _always_ok, test: Any = None,
                 max_ops: int = 1_000_000):
        self.concurrency = concurrency
        self.seed = seed
        self.latency = latency
        self.complete = complete
        self.test = {} if test is None else test
        self.max_ops = max_ops
        self.logs: list[tuple[int, str]] = []

    def _latency_ns(self, o: dict) -> int:
        lat = self.latency
        return secs_to_nanos(lat(o) if callable(lat) else lat)

    def _completion(self, inv: dict, thread: Any) -> dict:
        """The completion event for ``inv``, stamped with the time it happens."""
        typ = inv["type"]
        if typ == SLEEP:
            c = dict(inv)
            c["time"] = inv["time"] + secs_to_nanos(inv["value"])
            return c
        if typ == LOG:
            self.logs.append((inv["time"], inv["value"]))
            return dict(inv)
        if thread == NEMESIS:
            c = complete_op(inv, {"type": "info"})
        else:
            c = complete_op(inv, self.complete(dict(inv)))
        c["time"] = inv["time"] + self._latency_ns(inv)
        return c

    def run(self, gen: Any) -> list[dict]:
        """The history of running ``gen`` to exhaustion (see the class docstring)."""
        gen = lift(gen)
        test = self.test
        ctx = Context(self.concurrency, rng=random.Random(self.seed))
        history: list[dict] = []
        in_flight: list = []  # heap of (time, tiebreak, completion, thread)
        n = invokes = 0

        def record(o: dict) -> dict:
            if "index" in o:
                o["index"] = len(history)
            else:
                o = {"index": len(history), **o}
            history.append(o)
            return o

        while True:
            res = gen.op(test, ctx)
            if res is None:
                if not in_flight:
                    break
                o = gen2 = PENDING  # exhausted, but completions still come (and update gen)
            else:
                o, gen2 = res
            if o is not PENDING and (not in_flight or o["time"] <= in_flight[0][0]):
                # The op can start before anything in flight completes: start it.
                thread = check_invoke(o, ctx)
                invokes += 1
                if invokes > self.max_ops:
                    raise GeneratorError(f"simulation passed max_ops={self.max_ops} invocations")
                t = max(ctx.time, o["time"])
                o["time"] = t
                if thread == NEMESIS and o["type"] == "invoke":
                    o["type"] = "info"  # nemesis ops are info on both ends
                ctx = ctx.busy_thread(t, thread)
                if o["type"] not in (SLEEP, LOG):
                    o = record(o)
                gen = gen2.update(test, ctx, o)
                c = self._completion(o, thread)
                heapq.heappush(in_flight, (c["time"], n, c, thread))
                n += 1
            else:
                if not in_flight:
                    raise GeneratorError("generator is pending, but no op is in flight to "
                                         "change that: it would wait forever")
                t, _, c, thread = heapq.heappop(in_flight)
                ctx = ctx.free_thread(max(t, ctx.time), thread)
                if c["type"] not in (SLEEP, LOG):
                    c = record(c)
                gen = gen.update(test, ctx, c)
                if c["type"] == "info" and thread != NEMESIS:
                    ctx = ctx.with_next_process(thread)
        return history
