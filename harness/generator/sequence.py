"""How many ops, in what order: limit, once, repeat, cycle, synchronize, phases, then, until_ok."""

from __future__ import annotations

from typing import Any

from .core import PENDING, Generator, Wrapper, lift, seq


class Limit(Wrapper):
    """At most ``remaining`` ops from ``gen``; updates pass through."""

    __slots__ = ("remaining",)

    def __init__(self, remaining: int, gen: Generator):
        self.remaining = remaining
        self.gen = gen

    def op(self, test, ctx):
        if self.remaining <= 0:
            return None
        return Wrapper.op(self, test, ctx)

    def emit(self, o, g, ctx):
        return (o, Limit(self.remaining - 1, g))

    def with_gen(self, g):
        return Limit(self.remaining, g)


def limit(n: int, gen: Any) -> Generator:
    """At most ``n`` ops from ``gen``."""
    if n < 0:
        raise ValueError(f"limit must be >= 0, got {n}")
    return Limit(n, lift(gen))


def once(gen: Any) -> Generator:
    """Only the first op of ``gen``."""
    return Limit(1, lift(gen))


class Repeat(Wrapper):
    """Asks ``gen`` again and again without advancing it; ``remaining`` -1 means forever."""

    __slots__ = ("remaining",)

    def __init__(self, remaining: int, gen: Generator):
        self.remaining = remaining
        self.gen = gen

    def op(self, test, ctx):
        if self.remaining == 0:
            return None
        return Wrapper.op(self, test, ctx)

    def emit(self, o, g, ctx):
        # The next state keeps the *same* inner generator: that is what repeating means.
        r = self.remaining
        return (o, self) if r < 0 else (o, Repeat(r - 1, self.gen))

    def with_gen(self, g):
        return Repeat(self.remaining, g)


def repeat(gen: Any, n: int | None = None) -> Generator:
    """The ops of ``gen``'s *first* step, forever or ``n`` times: the inverse of ``once``.

    ``repeat({"f": "read"})`` reads forever. The repeated generator is not advanced, but it is
    asked afresh each time: ``repeat(lambda: {"f": "write", "value": random_value()})`` writes
    different values.
    """
    if n is not None and n < 0:
        raise ValueError(f"repeat count must be >= 0, got {n}")
    return Repeat(-1 if n is None else n, lift(gen))


class Cycle(Wrapper):
    """Runs ``gen`` to exhaustion, then starts again from ``original``; ``remaining`` passes (-1: forever)."""

    __slots__ = ("remaining", "original")

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

    def with_gen(self, g):
        return Cycle(self.remaining, self.original, g)


def cycle(gen: Any, n: int | None = None) -> Generator:
    """``gen`` from the start each time it is exhausted, forever or ``n`` passes.

    ``cycle([{"f": "start-partition"}, {"f": "stop-partition"}])`` alternates forever.
    Updates reach the current pass only.
    """
    if n is not None and n < 0:
        raise ValueError(f"cycle count must be >= 0, got {n}")
    g = lift(gen)
    return Cycle(-1 if n is None else n, g, g)


class Synchronize(Wrapper):
    """Pending until every thread of the context is free, then becomes ``gen``."""

    __slots__ = ()

    def __init__(self, gen: Generator):
        self.gen = gen

    def op(self, test, ctx):
        if not ctx.all_free():
            return (PENDING, self)
        res = self.gen.op(test, ctx)
        if res is not None and res[0] is PENDING:
            return (PENDING, self)
        return res

    def with_gen(self, g):
        return Synchronize(g)


def synchronize(gen: Any) -> Generator:
    """``gen``, once all threads (of this context) are free: a barrier before it."""
    return Synchronize(lift(gen))


def phases(*gens: Any) -> Generator:
    """Each generator in turn; a phase starts only when every op of the previous one completed."""
    return seq([Synchronize(lift(g)) for g in gens])


def then(a: Any, b: Any) -> Generator:
    """``b``, wait for all threads, then ``a`` (backwards, like Jepsen, for pipelines)."""
    return seq([b, Synchronize(lift(a))])


class UntilOk(Wrapper):
    """Ops from ``gen`` until one of them completes ``ok``."""

    __slots__ = ("done", "active")

    def __init__(self, gen: Generator, done: bool, active: frozenset):
        self.gen = gen
        self.done = done
        self.active = active  # processes running one of our ops

    def op(self, test, ctx):
        if self.done:
            return None
        return Wrapper.op(self, test, ctx)

    def emit(self, o, g, ctx):
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
        return self if g is self.gen else self.with_gen(g)

    def with_gen(self, g):
        return UntilOk(g, self.done, self.active)


def until_ok(gen: Any) -> Generator:
    """Ops from ``gen`` until one completes ``ok`` (ops already in flight still finish).

    ``each_thread(until_ok(repeat({"f": "read"})))``: every thread reads until it succeeds once.
    """
    return UntilOk(lift(gen), False, frozenset())
