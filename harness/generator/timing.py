"""When ops happen: time_limit, stagger, rate, delay, sleep, cycle_times.

Arguments are seconds; ops carry ``time`` in nanoseconds. A generator schedules an op by giving it
a ``time`` in the future; the interpreter waits until then (or until a completion changes things
and it asks again). Random intervals draw from ``ctx.rng``, so a seed fixes them.
"""

from __future__ import annotations

from typing import Any

from .core import PENDING, SLEEP, Generator, Wrapper, lift, secs_to_nanos


class TimeLimit(Wrapper):
    """Ops from ``gen`` whose time is before ``cutoff`` (set by the first op: its time + ``limit``)."""

    __slots__ = ("limit", "cutoff")

    def __init__(self, limit: int, cutoff: int | None, gen: Generator):
        self.limit = limit
        self.cutoff = cutoff
        self.gen = gen

    def op(self, test, ctx):
        cutoff = self.cutoff
        # Past the cutoff we are done even if every thread is busy (the inner generator would
        # only say PENDING), so a run with hung clients still ends on time.
        if cutoff is not None and ctx.time >= cutoff:
            return None
        return Wrapper.op(self, test, ctx)

    def emit(self, o, g, ctx):
        t = o["time"]
        cutoff = self.cutoff
        if cutoff is None:
            cutoff = t + self.limit
        if t >= cutoff:
            return None
        return (o, TimeLimit(self.limit, cutoff, g))

    def with_gen(self, g):
        return TimeLimit(self.limit, self.cutoff, g)


def time_limit(dt: float, gen: Any) -> Generator:
    """Ops from ``gen`` for ``dt`` seconds, counted from its first op; then exhausted."""
    return TimeLimit(secs_to_nanos(dt), None, lift(gen))


class Stagger(Wrapper):
    """Spaces ops at uniformly random intervals in ``[0, span)`` ns, over all threads together."""

    __slots__ = ("span", "next_time")

    def __init__(self, span: int, next_time: int | None, gen: Generator):
        self.span = span
        self.next_time = next_time
        self.gen = gen

    def emit(self, o, g, ctx):
        nt = self.next_time
        if nt is None:
            nt = ctx.time
        t = o["time"]
        if nt > t:
            o["time"] = t = nt
        return (o, Stagger(self.span, t + int(ctx.rng.random() * self.span), g))

    def with_gen(self, g):
        return Stagger(self.span, self.next_time, g)


def stagger(dt: float, gen: Any) -> Generator:
    """Ops from ``gen`` at random intervals, uniform in ``[0, 2*dt)`` seconds (mean ``dt``).

    The interval is between successive ops of *all* threads (Jepsen's pure ``stagger``), measured
    from when the previous op was issued: if threads are busy, ops come later, never in a burst.
    """
    if dt < 0:
        raise ValueError(f"stagger interval must be >= 0, got {dt}")
    return Stagger(2 * secs_to_nanos(dt), None, lift(gen))


def rate(hz: float | None, gen: Any) -> Generator:
    """About ``hz`` ops per second in total, at random intervals: ``stagger(1/hz, gen)``.

    ``None`` means no limit (``gen`` itself), which is what a ``--rate`` flag left unset wants.
    Random rather than even spacing keeps ops from falling into step with periodic behaviour of
    the system under test (elections, flushes).
    """
    if hz is None:
        return lift(gen)
    if hz <= 0:
        raise ValueError(f"rate must be > 0 ops/s, got {hz}")
    return stagger(1.0 / hz, gen)


class Delay(Wrapper):
    """Ops exactly ``dt`` ns apart (ahead of schedule they wait; behind, they catch up)."""

    __slots__ = ("dt", "next_time")

    def __init__(self, dt: int, next_time: int | None, gen: Generator):
        self.dt = dt
        self.next_time = next_time
        self.gen = gen

    def emit(self, o, g, ctx):
        t = o["time"]
        nt = self.next_time
        if nt is not None and nt > t:
            o["time"] = t = nt
        return (o, Delay(self.dt, t + self.dt, g))

    def with_gen(self, g):
        return Delay(self.dt, self.next_time, g)


def delay(dt: float, gen: Any) -> Generator:
    """Ops from ``gen`` ``dt`` seconds apart (over all threads): the first at once, then every ``dt``."""
    if dt < 0:
        raise ValueError(f"delay must be >= 0, got {dt}")
    return Delay(secs_to_nanos(dt), None, lift(gen))


def sleep(dt: float) -> dict:
    """One special op that keeps a thread idle for ``dt`` seconds; it is not recorded.

    In ``phases(a, sleep(10), b)``, ``b`` starts 10 s after ``a`` finished. Use
    ``nemesis(sleep(5))`` to idle the nemesis, ``repeat(sleep(1))`` to idle over and over.
    """
    if dt < 0:
        raise ValueError(f"sleep must be >= 0 s, got {dt}")
    return {"type": SLEEP, "value": dt}


class CycleTimes(Generator):
    """Rotates between generators on a fixed schedule; see :func:`cycle_times`."""

    __slots__ = ("period", "t0", "intervals", "ends", "gens")

    def __init__(self, period, t0, intervals, ends, gens):
        self.period = period
        self.t0 = t0
        self.intervals = intervals  # ns each generator's window lasts
        self.ends = ends            # offset in the period where each window ends
        self.gens = gens

    def op(self, test, ctx):
        now = ctx.time
        t0 = now if self.t0 is None else self.t0
        into = (now - t0) % self.period
        i = 0
        while self.ends[i] <= into:
            i += 1
        t = now - into + (self.ends[i] - self.intervals[i])  # start of window i in this period
        n = len(self.gens)
        # Look for the first window whose generator has an op inside it. Bounded: a generator
        # whose ops always fall after its window makes us wait rather than search forever.
        for _ in range(4 * n):
            end = t + self.intervals[i]
            res = self.gens[i].op(test, ctx.with_time(max(now, t)))
            if res is None:
                return None
            o, g = res
            if o is PENDING:
                return (o, self)
            if o["time"] < end:
                gens = self.gens[:i] + (g,) + self.gens[i + 1:]
                return (o, CycleTimes(self.period, t0, self.intervals, self.ends, gens))
            i = (i + 1) % n
            t = end
        return (PENDING, self)

    def update(self, test, ctx, event):
        gens = tuple(g.update(test, ctx, event) for g in self.gens)
        if all(a is b for a, b in zip(gens, self.gens)):
            return self
        return CycleTimes(self.period, self.t0, self.intervals, self.ends, gens)


def cycle_times(*specs: Any) -> Generator:
    """``cycle_times(5, a, 10, b)``: ops from ``a`` for 5 s, from ``b`` for 10 s, then ``a`` again...

    Each generator keeps its state from one window to its next, so a nemesis schedule like
    ``cycle_times(10, quiet, 20, cycle([start, stop]))`` picks up where it left off. An op only
    goes out if its time falls inside its generator's window. Updates reach every generator.
    """
    if not specs:
        return lift(None)
    if len(specs) % 2:
        raise ValueError("cycle_times takes pairs: seconds, generator, seconds, generator, ...")
    intervals = tuple(secs_to_nanos(s) for s in specs[0::2])
    if any(i <= 0 for i in intervals):
        raise ValueError("cycle_times windows must be > 0 s")
    gens = tuple(lift(g) for g in specs[1::2])
    ends, total = [], 0
    for i in intervals:
        total += i
        ends.append(total)
    return CycleTimes(total, None, intervals, tuple(ends), gens)
