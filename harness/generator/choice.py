"""Choosing between generators: mix (random), any (soonest op), flip_flop (alternate)."""

from __future__ import annotations

from typing import Any

from .core import PENDING, VOID, Generator, lift


def sooner(a: tuple | None, b: tuple | None, rng) -> tuple | None:
    """The candidate whose op comes first; candidates are ``(op, next_gen, key, weight)``.

    ``None`` loses to anything, PENDING loses to a real op. Equal times are a random choice
    weighted by ``weight`` (the winner carries the summed weight, so a reduction over many
    candidates is fair): always preferring one side would starve the other.
    """
    if a is None:
        return b
    if b is None:
        return a
    oa, ob = a[0], b[0]
    if oa is PENDING:
        return b
    if ob is PENDING:
        return a
    ta, tb = oa["time"], ob["time"]
    if ta == tb:
        w = a[3] + b[3]
        win = a if rng.random() * w < a[3] else b
        return (win[0], win[1], win[2], w)
    return a if ta < tb else b


class Mix(Generator):
    """A random choice among ``gens`` for every op; ``i`` is the generator picked for the next op."""

    __slots__ = ("i", "gens")

    def __init__(self, i: int | None, gens: tuple):
        self.i = i
        self.gens = gens

    def op(self, test, ctx):
        gens, i = self.gens, self.i
        while gens:
            if i is None:
                i = int(ctx.rng.random() * len(gens))
            res = gens[i].op(test, ctx)
            if res is None:
                # That one is exhausted: drop it and pick again among the rest.
                gens = gens[:i] + gens[i + 1:]
                i = None
                continue
            o, g = res
            if o is PENDING:
                return (o, self if gens is self.gens else Mix(i, gens))
            if g is not gens[i]:
                gens = gens[:i] + (g,) + gens[i + 1:]
            # random() is several times cheaper than randrange(), and this is the hot path.
            return (o, Mix(int(ctx.rng.random() * len(gens)), gens))
        return None


def mix(gens: Any) -> Generator:
    """Each op from a generator picked uniformly at random (with ``ctx.rng``) from ``gens``.

    ``mix([repeat(read), repeat(write)])`` is an endless 50/50 mixture. An exhausted generator
    drops out; the mix ends when all have. Updates are ignored (as in Jepsen), so generators
    that need completions (``until_ok``) do not belong directly inside a mix.
    """
    lifted = tuple(lift(g) for g in gens)
    return Mix(None, lifted) if lifted else VOID


class AnyOf(Generator):
    """The soonest op of any of ``gens``; updates go to all of them."""

    __slots__ = ("gens",)

    def __init__(self, gens: tuple):
        self.gens = gens

    def op(self, test, ctx):
        best = None
        rng = ctx.rng
        for i, g in enumerate(self.gens):
            res = g.op(test, ctx)
            if res is not None:
                best = sooner(best, (res[0], res[1], i, 1), rng)
        if best is None:
            return None
        o, g, i = best[0], best[1], best[2]
        if o is PENDING:
            return (o, self)
        gens = self.gens
        return (o, AnyOf(gens[:i] + (g,) + gens[i + 1:]))

    def update(self, test, ctx, event):
        gens = tuple(g.update(test, ctx, event) for g in self.gens)
        if all(a is b for a, b in zip(gens, self.gens)):
            return self
        return AnyOf(gens)


def any(*gens: Any) -> Generator:  # noqa: A001 - Jepsen's name; use as gen.any(...)
    """Ops from whichever of ``gens`` has the soonest op; ends when all are exhausted.

    ``any(nemesis(schedule), clients(workload))`` runs both side by side (what the two-argument
    ``nemesis``/``clients`` build).
    """
    lifted = tuple(lift(g) for g in gens)
    if not lifted:
        return VOID
    if len(lifted) == 1:
        return lifted[0]
    return AnyOf(lifted)


any_of = any


class FlipFlop(Generator):
    """One op from ``gens[i]``, then from the next, round and round; ends when one is exhausted."""

    __slots__ = ("gens", "i")

    def __init__(self, gens: tuple, i: int):
        self.gens = gens
        self.i = i

    def op(self, test, ctx):
        i = self.i
        res = self.gens[i].op(test, ctx)
        if res is None:
            return None
        o, g = res
        if o is PENDING:
            return (o, self)
        gens = self.gens[:i] + (g,) + self.gens[i + 1:]
        return (o, FlipFlop(gens, (i + 1) % len(gens)))


def flip_flop(a: Any, b: Any) -> Generator:
    """An op from ``a``, then ``b``, then ``a``... Stops as soon as either is exhausted."""
    return FlipFlop((lift(a), lift(b)), 0)
