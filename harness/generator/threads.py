"""Which threads run which generator: on_threads, clients, nemesis, each_thread, reserve, process_limit.

Each of these hands the inner generator a context *restricted* to some threads, so the inner
generator only ever fills ops for those threads, and ``synchronize``/``phases`` inside wait only for
them. Updates reach an inner generator only for events of its own threads.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from .choice import AnyOf, sooner
from .context import NEMESIS, Context, ThreadFilter
from .core import PENDING, Generator, Wrapper, lift


class OnThreads(Generator):
    """``gen`` sees only the threads ``filter`` admits."""

    __slots__ = ("filter", "gen")

    def __init__(self, filter: ThreadFilter, gen: Generator):
        self.filter = filter
        self.gen = gen

    def op(self, test, ctx):
        res = self.gen.op(test, self.filter(ctx))
        if res is None:
            return None
        o, g = res
        if g is self.gen or o is PENDING:
            return (o, self)
        return (o, OnThreads(self.filter, g))

    def update(self, test, ctx, event):
        if type(self.gen).update is Generator.update:
            return self  # the inner generator ignores updates (mix, maps, callables): skip the work
        if not self.filter.accepts(ctx, ctx.process_to_thread(event.get("process"))):
            return self
        g = self.gen.update(test, self.filter(ctx), event)
        return self if g is self.gen else OnThreads(self.filter, g)


def on_threads(pred: Callable[[Hashable], bool], gen: Any) -> Generator:
    """``gen`` restricted to the threads (``0``, ``1``, ..., ``"nemesis"``) for which ``pred`` holds."""
    return OnThreads(ThreadFilter(pred), lift(gen))


def _is_nemesis(thread: Hashable) -> bool:
    return thread == NEMESIS


def _is_client(thread: Hashable) -> bool:
    return thread != NEMESIS


def clients(client_gen: Any, nemesis_gen: Any = None) -> Generator:
    """``client_gen`` on client threads only; with ``nemesis_gen``, both side by side.

    A plain ``{"f": "read"}`` could otherwise land on the nemesis thread.
    """
    c = OnThreads(ThreadFilter(_is_client), lift(client_gen))
    if nemesis_gen is None:
        return c
    return AnyOf((c, OnThreads(ThreadFilter(_is_nemesis), lift(nemesis_gen))))


def nemesis(nemesis_gen: Any, client_gen: Any = None) -> Generator:
    """``nemesis_gen`` on the nemesis thread only; with ``client_gen`` (run on clients), both.

    ``nemesis(cycle([sleep(5), {"f": "start-partition"}, sleep(5), {"f": "stop-partition"}]),
    time_limit(30, workload))`` is the usual shape of a test's main phase.
    """
    n = OnThreads(ThreadFilter(_is_nemesis), lift(nemesis_gen))
    if client_gen is None:
        return n
    return AnyOf((n, OnThreads(ThreadFilter(_is_client), lift(client_gen))))


class EachThread(Generator):
    """An independent copy of ``fresh`` per thread; ``gens`` holds the copies that moved on."""

    __slots__ = ("fresh", "gens")

    def __init__(self, fresh: Generator, gens: dict):
        self.fresh = fresh
        self.gens = gens

    def op(self, test, ctx):
        best = None
        gens, fresh, rng = self.gens, self.fresh, ctx.rng
        for thread in ctx.free_threads():
            res = gens.get(thread, fresh).op(test, ctx.restrict(ctx.thread_bit(thread)))
            if res is not None:
                best = sooner(best, (res[0], res[1], thread, 1), rng)
        if best is not None:
            if best[0] is PENDING:
                return (PENDING, self)
            gens = dict(gens)
            gens[best[2]] = best[1]
            return (best[0], EachThread(fresh, gens))
        if not ctx.all_free():
            return (PENDING, self)  # a busy thread's copy may still have ops
        return None

    def update(self, test, ctx, event):
        thread = ctx.process_to_thread(event.get("process"))
        if not ctx.has_thread(thread):
            return self
        g = self.gens.get(thread, self.fresh)
        g2 = g.update(test, ctx.restrict(ctx.thread_bit(thread)), event)
        if g2 is g:
            return self
        gens = dict(self.gens)
        gens[thread] = g2
        return EachThread(self.fresh, gens)


def each_thread(gen: Any) -> Generator:
    """Every thread runs its own copy of ``gen`` (each sees only itself as a free thread).

    ``clients(each_thread([{"f": "write", "value": 1}, {"f": "read"}]))``: every client writes
    once then reads once. A thread keeps its copy when its process is renumbered after ``info``.
    """
    return EachThread(lift(gen), {})


class Reserve(Generator):
    """Thread ranges with their own generators; see :func:`reserve`."""

    __slots__ = ("counts", "gens", "_masks")

    def __init__(self, counts: tuple, gens: tuple, masks: dict):
        self.counts = counts
        self.gens = gens     # one per range, then the default
        self._masks = masks  # shared by all states: threads of a context -> masks of the ranges

    def masks(self, ctx: Context) -> tuple:
        key = ctx.threads_key()
        m = self._masks.get(key)
        if m is None:
            # Ranges count the integer threads *of this context*, so a reserve nested inside
            # another restriction splits what it was given rather than absolute thread ids.
            ints = [t for t in ctx.all_threads() if type(t) is int]
            out, start = [], 0
            for c in self.counts:
                bits = 0
                for t in ints[start:start + c]:
                    bits |= ctx.thread_bit(t)
                out.append(bits)
                start += c
            used = 0
            for bits in out:
                used |= bits
            out.append(ctx.thread_mask(lambda t: True) & ~used)
            m = tuple(out)
            self._masks[key] = m
        return m

    def op(self, test, ctx):
        best = None
        rng = ctx.rng
        for i, mask in enumerate(self.masks(ctx)):
            sub = ctx.restrict(mask)
            weight = sub.all_thread_count()
            if not weight:
                continue  # a range with no threads can never run anything
            res = self.gens[i].op(test, sub)
            if res is not None:
                best = sooner(best, (res[0], res[1], i, weight), rng)
        if best is None:
            return None
        o, g, i = best[0], best[1], best[2]
        if o is PENDING:
            return (o, self)
        return (o, Reserve(self.counts, self.gens[:i] + (g,) + self.gens[i + 1:], self._masks))

    def update(self, test, ctx, event):
        bit = ctx.thread_bit(ctx.process_to_thread(event.get("process")))
        for i, mask in enumerate(self.masks(ctx)):
            if mask & bit:
                g = self.gens[i]
                g2 = g.update(test, ctx.restrict(mask), event)
                if g2 is g:
                    return self
                return Reserve(self.counts, self.gens[:i] + (g2,) + self.gens[i + 1:], self._masks)
        return self


def reserve(*args: Any) -> Generator:
    """``reserve(5, writes, 10, cas, reads)``: the first 5 threads run ``writes``, the next 10
    ``cas``, all other threads ``reads``.

    Keeps a class of ops going even when another class blocks every thread it gets. The counts
    are over the integer threads of the context; the default also gets the nemesis thread unless
    the reserve is inside ``clients(...)``, as in Jepsen.
    """
    if len(args) % 2 != 1:
        raise ValueError("reserve takes count, generator pairs and then a default generator")
    counts = tuple(args[0:-1:2])
    for c in counts:
        if not isinstance(c, int) or c < 0:
            raise ValueError(f"reserve counts must be integers >= 0, got {c!r}")
    gens = tuple(lift(g) for g in args[1:-1:2]) + (lift(args[-1]),)
    return Reserve(counts, gens, {})


class ProcessLimit(Wrapper):
    """Ops only while at most ``n`` distinct processes have been seen in the context."""

    __slots__ = ("n", "procs")

    def __init__(self, n: int, procs: frozenset, gen: Generator):
        self.n = n
        self.procs = procs
        self.gen = gen

    def emit(self, o, g, ctx):
        procs = self.procs.union(ctx.all_processes())
        if len(procs) > self.n:
            return None
        return (o, ProcessLimit(self.n, procs, g))

    def with_gen(self, g):
        return ProcessLimit(self.n, self.procs, g)


def process_limit(n: int, gen: Any) -> Generator:
    """Ops from ``gen`` for at most ``n`` distinct processes (crashes use processes up).

    Counts every process of the context, not only those that ran an op, so the end of a test
    does not trickle on with one or two survivors (Jepsen's rule).
    """
    return ProcessLimit(n, frozenset(), lift(gen))
