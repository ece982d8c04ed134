"""The generator protocol, and how plain Python values become generators.

A generator is an immutable value with two methods (Jepsen's ``jepsen.generator`` protocol):

- ``gen.op(test, ctx)`` returns ``None`` when the generator is exhausted (and then forever), or a
  pair ``(op, next_gen)``: ``op`` is the next invocation (a fresh ``dict``) or :data:`PENDING`
  ("nothing now, maybe later"), and ``next_gen`` is the generator's state *if that op is
  performed*. Asking the same state twice is allowed and has no effect on it: the interpreter
  does so when an op's ``time`` is still in the future, and ``any`` asks several branches and
  keeps one.
- ``gen.update(test, ctx, event)`` returns the generator after ``event`` (an invocation the
  interpreter started, or a completion) happened. Most generators pass updates through.

Lifting (:func:`lift`) makes plain values generators:

- ``None`` is :data:`VOID`, the exhausted generator;
- a ``dict`` emits itself once, filled in by :func:`fill_in_op` (``type`` ``"invoke"``, a free
  ``process``, ``time`` = ``ctx.time``); it is ``PENDING`` while no thread is free;
- a ``list``/``tuple`` is the concatenation of its elements (each lifted), in order;
- any other iterable (a Python generator expression, ``map(...)``, ``itertools.count``-based
  iterators) is a lazy sequence: items are pulled when first needed and remembered, so the value
  stays pure. Lift it once (combinators do) and do not consume the iterator elsewhere;
- a callable ``f()`` or ``f(test, ctx)`` is called whenever an op is needed; what it returns is
  used as a generator until exhausted, then ``f`` is called again (infinite unless ``f`` returns
  ``None``). ``lambda: {"f": "write", "value": 3}`` is an endless series of writes.

Ops returned by ``op`` are fresh dicts owned by the caller, so wrappers may set keys (``time``)
in place. Times are integer nanoseconds inside; the public API takes seconds.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from harness.errors import SplitbrainError

from .context import NEMESIS, Context


class GeneratorError(SplitbrainError):
    """A generator misbehaved: a bad op, an op for a busy thread, an endless empty callable."""

    exit_code = 3


class _Pending:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PENDING"


PENDING: Any = _Pending()
"""Returned in place of an op: "I may have an op later, not now" (Jepsen's ``:pending``)."""

# An op with this type makes its thread idle for ``value`` seconds; it is not recorded.
SLEEP = "sleep"
# An op with this type logs ``value``; it is not recorded.
LOG = "log"
UNRECORDED_TYPES = frozenset({SLEEP, LOG})


def secs_to_nanos(s: float) -> int:
    """Seconds (public API) to integer nanoseconds (inside)."""
    return int(round(s * 1_000_000_000))


class Generator:
    """Base class of generator values. Subclasses implement ``op``; ``update`` defaults to ``self``."""

    __slots__ = ()

    def op(self, test: Any, ctx: Context) -> tuple[Any, Generator] | None:
        raise NotImplementedError

    def update(self, test: Any, ctx: Context, event: dict) -> Generator:
        return self

    def __repr__(self) -> str:
        fields = []
        for cls in type(self).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if not name.startswith("_"):
                    fields.append(f"{name}={getattr(self, name, None)!r}")
        return f"{type(self).__name__}({', '.join(fields)})"


class Wrapper(Generator):
    """A generator around one inner generator ``gen``, to which updates pass through.

    Subclasses implement ``with_gen(g)`` (the same generator around ``g`` instead) and either
    ``emit`` or their own ``op``. The default ``op`` asks ``gen``: exhaustion and PENDING pass
    through unchanged, a real op goes to ``emit(op, next_gen, ctx)``, which returns the pair to
    answer (or ``None`` to end here).
    """

    __slots__ = ("gen",)

    def with_gen(self, gen: Generator) -> Generator:
        raise NotImplementedError

    def emit(self, o: dict, gen: Generator, ctx: Context) -> tuple[Any, Generator] | None:
        raise NotImplementedError

    def op(self, test: Any, ctx: Context) -> tuple[Any, Generator] | None:
        res = self.gen.op(test, ctx)
        if res is None:
            return None
        o, g = res
        if o is PENDING:
            return (o, self)
        return self.emit(o, g, ctx)

    def update(self, test: Any, ctx: Context, event: dict) -> Generator:
        g = self.gen.update(test, ctx, event)
        return self if g is self.gen else self.with_gen(g)


class Void(Generator):
    """The exhausted generator (what ``None`` lifts to)."""

    __slots__ = ()

    def op(self, test, ctx):
        return None

    def __repr__(self) -> str:
        return "VOID"


VOID = Void()


def fill_in_op(template: dict, ctx: Context) -> Any:
    """``template`` completed with defaults from ``ctx``, or :data:`PENDING` when no thread is free.

    Defaults: ``time`` = ``ctx.time``, ``type`` = ``"invoke"``, ``process`` = a free process (rotating
    fairly over threads), ``f`` and ``value`` = ``None``. Keys in ``template`` win.
    """
    p = ctx.some_free_process()
    if p is None:
        return PENDING
    o = {"time": ctx.time, "type": "invoke", "process": p, "f": None, "value": None}
    o.update(template)
    return o


class OpMap(Generator):
    """A plain dict: emits itself once (filled in), then is exhausted."""

    __slots__ = ("template",)

    def __init__(self, template: dict):
        self.template = template

    def op(self, test, ctx):
        o = fill_in_op(self.template, ctx)
        return (o, self) if o is PENDING else (o, VOID)


class Seq(Generator):
    """Generators one after another: all ops of the first, then of the second, ...

    ``head`` is the current state of ``items[i]``; items after ``i`` are untouched. Updates go to
    the current element only, as in Jepsen.
    """

    __slots__ = ("head", "items", "i")

    def __init__(self, head: Generator, items: tuple, i: int):
        self.head = head
        self.items = items
        self.i = i

    def op(self, test, ctx):
        head, items, i = self.head, self.items, self.i
        last = len(items) - 1
        while True:
            res = head.op(test, ctx)
            if res is not None:
                if i == last:
                    return res
                return (res[0], Seq(res[1], items, i))
            if i == last:
                return None
            i += 1
            head = items[i]

    def update(self, test, ctx, event):
        h = self.head.update(test, ctx, event)
        return self if h is self.head else Seq(h, self.items, self.i)


def seq(items: Iterable) -> Generator:
    """A list/tuple of generators as one generator (each element lifted once, now)."""
    lifted = tuple(lift(x) for x in items)
    if not lifted:
        return VOID
    if len(lifted) == 1:
        return lifted[0]
    return Seq(lifted[0], lifted, 0)


def concat(*gens: Any) -> Generator:
    """All ops of each generator in turn; ``concat(a, b)`` is the same as ``[a, b]``."""
    return seq(gens)


_cell_lock = threading.Lock()


class _Cell:
    """One element of a lazy sequence; the next cell is pulled from the iterator on first use."""

    __slots__ = ("value", "_rest", "_it")

    def __init__(self, value: Generator, it: Iterator):
        self.value = value
        self._rest: _Cell | None = None
        self._it: Iterator | None = it

    def rest(self) -> _Cell | None:
        if self._it is not None:
            with _cell_lock:  # a generator value may be shared by runs in several threads
                if self._it is not None:
                    self._rest = _first_cell(self._it)
                    self._it = None
        return self._rest


def _first_cell(it: Iterator) -> _Cell | None:
    for x in it:
        return _Cell(lift(x), it)
    return None


class IterSeq(Generator):
    """A lazily realised iterable of generators (see :class:`Seq`)."""

    __slots__ = ("head", "cell")

    def __init__(self, head: Generator, cell: _Cell):
        self.head = head
        self.cell = cell

    def op(self, test, ctx):
        head, cell = self.head, self.cell
        while True:
            res = head.op(test, ctx)
            if res is not None:
                return (res[0], IterSeq(res[1], cell))
            cell = cell.rest()
            if cell is None:
                return None
            head = cell.value

    def update(self, test, ctx, event):
        h = self.head.update(test, ctx, event)
        return self if h is self.head else IterSeq(h, self.cell)


# A callable that keeps returning exhausted generators would spin forever; this many in a row
# is treated as a bug in the callable.
MAX_EMPTY_CALLS = 10_000


class Fn(Generator):
    """A callable as a generator: ``f()`` or ``f(test, ctx)`` gives the next generator to run."""

    __slots__ = ("f", "arity")

    def __init__(self, f, arity: int | None = None):
        self.f = f
        self.arity = _arity(f) if arity is None else arity

    def op(self, test, ctx):
        if not ctx.has_free_thread():
            # Nothing could be emitted anyway. Not calling f keeps the draws it makes from
            # ctx.rng tied to the ops it really emits, so a seed gives the same values in a
            # real run, however often the interpreter happens to ask.
            return (PENDING, self)
        f, two = self.f, self.arity == 2
        for _ in range(MAX_EMPTY_CALLS):
            g = f(test, ctx) if two else f()
            if g is None:
                return None
            if type(g) is dict:  # the common case, without building an OpMap
                return (fill_in_op(g, ctx), self)
            res = lift(g).op(test, ctx)
            if res is None:
                continue
            o, g2 = res
            if g2 is VOID or o is PENDING:
                return (o, self)
            return (o, Seq(g2, (g2, self), 0))
        raise GeneratorError(f"callable generator {f!r} returned {MAX_EMPTY_CALLS} exhausted "
                             "generators in a row; return None to end it")


def _arity(f) -> int:
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return 0
    positional = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return 2
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional += 1
    if positional >= 2:
        return 2
    required = [p for p in sig.parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if required:
        raise GeneratorError(f"callable generator {f!r} must take () or (test, ctx)")
    return 0


def lift(x: Any) -> Generator:
    """``x`` as a :class:`Generator` (see the module docstring for the rules)."""
    if isinstance(x, Generator):
        return x
    if x is None:
        return VOID
    if isinstance(x, dict):
        return OpMap(x)
    if isinstance(x, (list, tuple)):
        return seq(x)
    if callable(x):
        return Fn(x)
    if isinstance(x, Iterable) and not isinstance(x, (str, bytes)):
        it = iter(x)
        cell = _first_cell(it)
        return VOID if cell is None else IterSeq(cell.value, cell)
    raise GeneratorError(f"not a generator: {x!r} (use a dict, list, callable or generator)")


def op(gen: Any, test: Any, ctx: Context):
    """Ask ``gen`` (lifted) for its next op: ``None`` or ``(op | PENDING, next_gen)``."""
    return lift(gen).op(test, ctx)


def update(gen: Any, test: Any, ctx: Context, event: dict) -> Generator:
    """Tell ``gen`` (lifted) that ``event`` happened; returns the next generator."""
    return lift(gen).update(test, ctx, event)


def check_invoke(o: Any, ctx: Context) -> Any:
    """The thread that runs ``o``, after checking ``o`` is an op a free thread can start now.

    Raises :class:`GeneratorError` naming the problem: the interpreter and the simulator call this
    on every op a generator hands them, so a broken custom generator fails loudly, not later.
    """
    if not isinstance(o, dict):
        raise GeneratorError(f"generator produced {o!r}, not an op dict or PENDING")
    t = o.get("time")
    if type(t) is not int:
        raise GeneratorError(f"op {o!r}: time must be an int (ns), got {t!r}")
    thread = ctx.process_to_thread(o.get("process"))
    if thread is None or not ctx.thread_free(thread):
        raise GeneratorError(f"op {o!r}: process {o.get('process')!r} is not free "
                             f"(free processes: {ctx.free_processes()})")
    typ = o.get("type")
    if typ not in _STARTABLE_TYPES:
        raise GeneratorError(f"op {o!r}: type must be one of {sorted(_STARTABLE_TYPES)}")
    if typ not in UNRECORDED_TYPES and not isinstance(o.get("f"), str):
        raise GeneratorError(f"op {o!r}: f must be a str naming the operation")
    if typ == "info" and thread != NEMESIS:
        # A client op must be an invoke: an info "invoke" would look like a completion.
        raise GeneratorError(f"op {o!r}: a client op must be an invoke (only nemesis ops are info)")
    return thread


_STARTABLE_TYPES = frozenset({"invoke", "info", SLEEP, LOG})
