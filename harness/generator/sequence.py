"""How many ops, in what order: limit, once, repeat, cycle, synchronize, phases, then, until_ok."""

from __future__ import annotations

from typing import Any

from .core import PENDING, Generator, lift, seq


class Limit(Generator):
    """At most ``remaining`` ops from ``gen``; updates pass through."""

    __slots__ = ("remaining", "gen")

    def __init__(self, remaining: int, gen: Generator):
        self.remaining = remaining
        self.gen = gen

    def op(self, test, ctx):
        if self.remaining <= 0:
            return None
        res = self.gen.op(test, ctx)
        if res is None:
            return None
        o, g = res
        if o is PENDING:
            return (o, self)
        return (o, Limit(self.remaining - 1, g))

    def update(self, test, ctx, event):
        g = self.gen.update(test, ctx, event)
        return self if g is self.gen else Limit(self.remaining, g)


def limit(n: int, gen: Any) -> Generator:
    """At most ``n`` ops from ``gen``."""
    if n < 0:
        raise ValueError(f"limit must be >= 0, got {n}")
    return Limit(n, lift(gen))


def once(gen: Any) -> Generator:
    """Only the first op of ``gen``."""
    return Limit(1, lift(gen))


class Repeat(Generator):
    """Asks ``gen`` again and again without advancing it; ``remaining`` -1 means forever."""

    __slots__ = ("remaining", "gen")

    def __init__(self, remaining: int, gen: Generator):
        self.remaining = remaining
        self.gen = gen

    def op(self, test, ctx):
        r = self.remaining
        if r == 0:
            return None
        res = self.gen.op(test, ctx)
        if res is None:
            return None
        if r < 0 or res[0] is PENDING:
            return (res[0], self)
        return (res[0], Repeat(r - 1, self.gen))

    def update(self, test, ctx, event):
        g = self.gen.update(test, ctx, event)
        return self if g is self.gen else Repeat(self.remaining, g)


def repeat(gen: Any, n: int | None = None) -> Generator:
    """The ops of ``gen``'s *first* step, forever or ``n`` times: the inverse of ``once``.

    ``repeat({"f": "read"})`` reads forever. The repeated generator is not advanced, but it is
    asked afresh each time: ``repeat(lambda: {"f": "write", "value": random_value()})`` writes
    different values.
    """
    if n is not None and n < 0:
        raise ValueError(f"repeat count must be >= 0, got {n}")
    return Repeat(-1 if n is None else n, lift(gen))


class Cycle(Generator):
    """Runs ``gen`` to exhaustion, then starts again from ``original``; ``remaining`` passes (-1: forever)."""

    __slots__ = ("remaining", "original", "gen")

    def __init__(self, remaining: int, original: Generator, gen: Generator):
        self.remaining = remaining
        self.original = original
        self.gen = gen

    def op(self, test, ctx):
        if self.remaining == 0:
            return None
        res = self.gen.op(test, ctx)
        if res is not None:
            if res[0] is PENDING:
                return (res[0], self)
            return (res[0], Cycle(self.remaining, self.original, res[1]))
        left = self.remaining - 1 if self.remaining > 0 else -1
        if left == 0:
            return None
        # A fresh pass that is exhausted at once would cycle forever: call that the end.
        res = self.original.op(test, ctx)
        if res is None:
            return None
        if res[0] is PENDING:
            return (res[0], self)
        return (res[0], Cycle(left, self.original, res[1]))

    def update(self, test, ctx, event):
        g = self.gen.update(test, ctx, event)
        return self if g is self.gen else Cycle(self.remaining, self.original, g)


def cycle(gen: Any, n: int | None = None) -> Generator:
    """``gen`` from the start each time it is exhausted, forever or ``n`` passes.

    ``cycle([{"f": "start-partition"}, {"f": "stop-partition"}])`` alternates forever.
    Updates reach the current pass only.
    """
    if n is not None and n < 0:
        raise ValueError(f"cycle count must be >= 0, got {n}")
    g = lift(gen)
    return Cycle(-1 if n is None else n, g, g)


class Synchronize(Generator):
    """Pending until every thread of the context is free, then becomes ``gen``."""

    __slots__ = ("gen",)

    def __init__(self, gen: Generator):
        self.gen = gen

    def op(self, test, ctx):
        if not ctx.all_free():
            return (PENDING, self)
        res = self.gen.op(test, ctx)
        if res is not None and res[0] is PENDING:
            return (PENDING, self)
        return res

    def update(self, test, ctx, event):
        g = self.gen.update(test, ctx, event)
        return self if g is self.gen else Synchronize(g)


def synchronize(gen: Any) -> Generator:
    """``gen``, once all threads (of this context) are free: a barrier before it."""
    return Synchronize(lift(gen))


def phases(*gens: Any) -> Generator:
    """Each generator in turn; a phase starts only when every op of the previous one completed."""
    return seq([Synchronize(lift(g)) for g in gens])


def then(a: Any, b: Any) -> Generator:
    """``b``, wait for all threads, then ``a`` (backwards, like Jepsen, for pipelines)."""
    return seq([b, Synchronize(lift(a))])


class UntilOk(Generator):
    """Ops from ``gen`` until one of them completes ``ok``."""

    __slots__ = ("gen", "done", "active")

    def __init__(self, gen: Generator, done: bool, active: frozenset):
        self.gen = gen
        self.done = done
        self.active = active  # processes running one of our ops

    def op(self, test, ctx):
        if self.done:
            return None
        res = self.gen.op(test, ctx)
        if res is None:
            return None
        o, g = res
        if o is PENDING:
            return (o, self)
        return (o, UntilOk(g, False, self.active | {o["process"]}))

    def update(self, test, ctx, event):
        g = self.gen.update(test, ctx, event)
        p = event.get("process")
        if p in self.active:
            t = event.get("type")
            if t == "ok":
                return UntilOk(g, True, self.active - {p})
            if t in ("info", "fail"):
                return UntilOk(g, self.done, self.active - {p})
        return self if g is self.gen else UntilOk(g, self.done, self.active)


def until_ok(gen: Any) -> Generator:
    """Ops from ``gen`` until one completes ``ok`` (ops already in flight still finish).

    ``each_thread(until_ok(repeat({"f": "read"})))``: every thread reads until it succeeds once.
    """
    return UntilOk(lift(gen), False, frozenset())
