"""The immutable context a generator is asked with: time, threads, processes, randomness.

A generator cannot see the world; the interpreter (or :class:`~harness.generator.simulator.Simulator`)
tells it what it needs through a :class:`Context`:

- ``ctx.time``: the current time in nanoseconds since the run started (an ``int``);
- which worker *threads* exist and which are free: client threads ``0 .. concurrency-1`` and the
  named thread ``"nemesis"``;
- which *process* each thread is running. Thread ``t`` starts as process ``t``; after an ``info``
  completion it continues as ``process + concurrency`` (Jepsen's rule; a crashed process never
  issues another op). The nemesis thread always runs process ``"nemesis"``;
- ``ctx.rng``: the run's seeded :class:`random.Random`. Every random choice a generator makes
  (``mix``, ``stagger``, tie breaks) draws from it, so one seed reproduces one op sequence;
- ``ctx.ext``: a mapping for user values (``ctx.with_ext(key=value)``).

Contexts are values: ``busy_thread``/``free_thread``/``with_next_process``/``with_time`` return
new contexts. Thread sets are bit masks over a table shared by every context of one run, so
restricting a context to some threads (``clients``, ``each_thread``, ``reserve``) is an ``&``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

NEMESIS = "nemesis"
_EMPTY_EXT: Mapping[str, Any] = MappingProxyType({})


class ThreadTable:
    """The names of all threads of a run and their bit positions; shared, never changed.

    Integer threads ``0..concurrency-1`` take bits ``0..concurrency-1``; named threads (the
    nemesis) follow.
    """

    __slots__ = ("names", "index", "concurrency")

    def __init__(self, concurrency: int, named: Iterable[Hashable] = (NEMESIS,)):
        if concurrency < 0:
            raise ValueError(f"concurrency must be >= 0, got {concurrency}")
        self.concurrency = concurrency
        self.names: tuple = tuple(range(concurrency)) + tuple(named)
        self.index: dict = {name: i for i, name in enumerate(self.names)}


def _bit_indices(mask: int) -> list[int]:
    """The positions of the set bits of ``mask``, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class _Shared:
    """The slowly changing part of a context, shared by the contexts derived from it."""

    __slots__ = ("table", "processes", "ext")

    def __init__(self, table: ThreadTable, processes: tuple, ext: Mapping[str, Any]):
        self.table = table
        self.processes = processes  # thread index -> the process that thread runs
        self.ext = ext


class Context:
    """What a generator knows about the world when asked for an op (see module docstring)."""

    # Few slots on purpose: a context is copied several times per op.
    __slots__ = ("time", "rng", "_all", "_free", "_next", "_w")

    def __init__(self, concurrency: int, *, time: int = 0, rng: random.Random | None = None,
                 seed: int | None = None, named_threads: Iterable[Hashable] = (NEMESIS,)):
        """A fresh context: every thread free and running the process of its own name."""
        table = ThreadTable(concurrency, named_threads)
        self.time = int(time)
        self.rng = rng if rng is not None else random.Random(seed)
        self._all = (1 << len(table.names)) - 1
        self._free = self._all
        self._next = 0  # where the fair search for a free thread starts
        self._w = _Shared(table, table.names, _EMPTY_EXT)

    def _copy(self) -> Context:
        c = object.__new__(Context)
        c.time = self.time
        c.rng = self.rng
        c._all = self._all
        c._free = self._free
        c._next = self._next
        c._w = self._w
        return c

    @property
    def ext(self) -> Mapping[str, Any]:
        """User values carried by the context (see :meth:`with_ext`)."""
        return self._w.ext

    # -- reading ---------------------------------------------------------------------------

    @property
    def concurrency(self) -> int:
        """The number of client threads of the run (not of this possibly restricted context)."""
        return self._w.table.concurrency

    def _names(self, mask: int) -> list:
        names = self._w.table.names
        return [names[i] for i in _bit_indices(mask)]

    def all_threads(self) -> list:
        """The threads of this context, integers first, then named threads."""
        return self._names(self._all)

    def free_threads(self) -> list:
        """Threads of this context that are not executing an op."""
        return self._names(self._free)

    def all_thread_count(self) -> int:
        return self._all.bit_count()

    def free_thread_count(self) -> int:
        return self._free.bit_count()

    def has_free_thread(self) -> bool:
        return self._free != 0

    def all_free(self) -> bool:
        """True when no thread of this context is busy (what ``synchronize`` waits for)."""
        return self._free == self._all

    def has_thread(self, thread: Hashable) -> bool:
        i = self._w.table.index.get(thread)
        return i is not None and bool(self._all >> i & 1)

    def thread_free(self, thread: Hashable) -> bool:
        i = self._w.table.index.get(thread)
        return i is not None and bool(self._free >> i & 1)

    def thread_to_process(self, thread: Hashable) -> Any:
        return self._w.processes[self._w.table.index[thread]]

    def process_to_thread(self, process: Any) -> Hashable | None:
        """The thread running (or that ran) ``process``; integer processes map by ``% concurrency``."""
        if type(process) is int:
            n = self._w.table.concurrency
            return process % n if n else None
        return process if process in self._w.table.index else None

    def all_processes(self) -> list:
        return self._processes(self._all)

    def free_processes(self) -> list:
        return self._processes(self._free)

    def _processes(self, mask: int) -> list:
        procs = self._w.processes
        return [procs[i] for i in _bit_indices(mask)]

    def some_free_process(self) -> Any:
        """A free process, or ``None``. Rotates over threads so no thread starves (as in Jepsen)."""
        free = self._free
        if not free:
            return None
        nxt = self._next
        m = free >> nxt
        if m:
            i = nxt + (m & -m).bit_length() - 1
        else:
            i = (free & -free).bit_length() - 1
        return self._w.processes[i]

    # -- deriving --------------------------------------------------------------------------

    def with_time(self, time: int) -> Context:
        c = self._copy()
        c.time = time
        return c

    def with_ext(self, **values: Any) -> Context:
        """A context carrying extra user values, readable by inner generators as ``ctx.ext[k]``."""
        c = self._copy()
        w = self._w
        c._w = _Shared(w.table, w.processes, MappingProxyType({**w.ext, **values}))
        return c

    def busy_thread(self, time: int, thread: Hashable) -> Context:
        """This context at ``time`` with ``thread`` executing an op."""
        i = self._w.table.index[thread]
        c = self._copy()
        c.time = time
        c._free = self._free & ~(1 << i)
        c._next = (self._next + 1) % len(self._w.table.names)
        return c

    def free_thread(self, time: int, thread: Hashable) -> Context:
        """This context at ``time`` with ``thread`` free again."""
        i = self._w.table.index[thread]
        c = self._copy()
        c.time = time
        c._free = self._free | (1 << i) & self._all
        return c

    def with_next_process(self, thread: Hashable) -> Context:
        """``thread`` continues as a new process (``old + concurrency``); named threads keep theirs."""
        w = self._w
        i = w.table.index[thread]
        p = w.processes[i]
        if type(p) is not int:
            return self
        procs = list(w.processes)
        procs[i] = p + w.table.concurrency
        c = self._copy()
        c._w = _Shared(w.table, tuple(procs), w.ext)
        return c

    def restrict(self, mask: int) -> Context:
        """This context limited to the threads whose bits are in ``mask``."""
        a = self._all & mask
        if a == self._all:
            return self
        c = self._copy()
        c._all = a
        c._free = self._free & mask
        return c

    def thread_mask(self, pred: Callable[[Hashable], bool]) -> int:
        """The bits of the run's threads (not only this context's) for which ``pred`` holds."""
        m = 0
        for i, name in enumerate(self._w.table.names):
            if pred(name):
                m |= 1 << i
        return m

    def threads_key(self) -> tuple:
        """Identifies which threads this context has (for caches keyed on a restriction)."""
        return (self._w.table, self._all)

    def thread_bit(self, thread: Hashable) -> int:
        i = self._w.table.index.get(thread)
        return 0 if i is None else 1 << i

    def __repr__(self) -> str:
        return (f"Context(time={self.time}, threads={self.all_threads()}, "
                f"free={self.free_threads()}, processes={self.all_processes()})")


class ThreadFilter:
    """``ctx -> ctx`` restricted to the threads satisfying ``pred``; the mask is computed once per run.

    ``pred`` sees thread names (``0``, ``1``, ..., ``"nemesis"``).
    """

    __slots__ = ("pred", "_cache")

    def __init__(self, pred: Callable[[Hashable], bool]):
        self.pred = pred
        # (table, mask) in one attribute: a generator may be shared by runs in several threads.
        self._cache: tuple = (None, 0)

    def mask(self, ctx: Context) -> int:
        table, mask = self._cache
        if ctx._w.table is not table:
            mask = ctx.thread_mask(self.pred)
            self._cache = (ctx._w.table, mask)
        return mask

    def __call__(self, ctx: Context) -> Context:
        return ctx.restrict(self.mask(ctx))

    def accepts(self, ctx: Context, thread: Hashable) -> bool:
        return bool(self.mask(ctx) & ctx.thread_bit(thread))
