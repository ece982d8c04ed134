"""Changing ops on their way out or reacting to events: map, f_map, filter, on_update, log."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .core import LOG, PENDING, Generator, Wrapper, lift


class Map(Wrapper):
    """Ops of ``gen`` passed through ``f`` (PENDING and exhaustion pass untouched)."""

    __slots__ = ("f",)

    def __init__(self, f: Callable[[dict], dict], gen: Generator):
        self.f = f
        self.gen = gen

    def emit(self, o, g, ctx):
        return (self.f(o), Map(self.f, g))

    def with_gen(self, g):
        return Map(self.f, g)


def map(f: Callable[[dict], dict], gen: Any) -> Generator:  # noqa: A001 - Jepsen's name
    """Ops of ``gen`` transformed by ``f(op) -> op`` (``f`` may change the dict it gets)."""
    return Map(f, lift(gen))


def f_map(mapping: Mapping[str, str], gen: Any) -> Generator:
    """Ops of ``gen`` with ``f`` renamed through ``mapping`` (names not in it are kept).

    Lets a composed nemesis tell apart two faults that both say ``"start"``.
    """
    def rename(o: dict) -> dict:
        o["f"] = mapping.get(o.get("f"), o.get("f"))
        return o
    return Map(rename, lift(gen))


class Filter(Wrapper):
    """Only the ops of ``gen`` for which ``pred(op)`` holds."""

    __slots__ = ("pred",)

    def __init__(self, pred: Callable[[dict], bool], gen: Generator):
        self.pred = pred
        self.gen = gen

    def op(self, test, ctx):
        g = self.gen
        while True:
            res = g.op(test, ctx)
            if res is None:
                return None
            o, g2 = res
            if o is PENDING:
                return (o, self if g is self.gen else Filter(self.pred, g))
            if self.pred(o):
                return (o, Filter(self.pred, g2))
            g = g2

    def with_gen(self, g):
        return Filter(self.pred, g)


def filter(pred: Callable[[dict], bool], gen: Any) -> Generator:  # noqa: A001 - Jepsen's name
    """Only the ops of ``gen`` satisfying ``pred(op)``; rejected ops are skipped, not delayed."""
    return Filter(pred, lift(gen))


class OnUpdate(Wrapper):
    """``gen``, but updates go to ``f(self, test, ctx, event) -> next generator``."""

    __slots__ = ("f",)

    def __init__(self, f, gen: Generator):
        self.f = f
        self.gen = gen

    def emit(self, o, g, ctx):
        return (o, OnUpdate(self.f, g))

    def with_gen(self, g):
        return OnUpdate(self.f, g)

    def update(self, test, ctx, event):
        return self.f(self, test, ctx, event)


def on_update(f: Callable[[Generator, Any, Any, dict], Generator], gen: Any) -> Generator:
    """``gen`` whose updates are handled by ``f(this, test, ctx, event)`` (return the next generator).

    ``this.gen`` is the wrapped generator; pass the event on with
    ``OnUpdate(this.f, this.gen.update(test, ctx, event))`` when you only want to watch.
    """
    return OnUpdate(f, lift(gen))


def log(message: str) -> dict:
    """One special op that logs ``message`` (through the interpreter's logger); not recorded."""
    return {"type": LOG, "value": message}
