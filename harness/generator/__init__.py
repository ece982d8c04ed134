"""Generators: what a test does, and when. Jepsen's pure generators, in Python.

In a nutshell
=============

A generator is an immutable value that is asked for operations. ``gen.op(test, ctx)`` returns
``None`` when it is exhausted, ``(PENDING, gen)`` when it has nothing *yet*, or ``(op, next_gen)``:
the next invocation and the generator's state once that op is under way.
``gen.update(test, ctx, event)`` tells it that an op was invoked or completed, so generators can
react (``until_ok``). The interpreter (:mod:`harness.interpreter`) runs one for real; the
:class:`Simulator` runs one against a simulated clock, which is how this package is tested.

Plain values are generators::

    {"f": "read"}                                  # one read
    [{"f": "write", "value": 1}, {"f": "read"}]    # a write, then (maybe concurrently) a read
    lambda: {"f": "write", "value": 3}             # writes forever
    lambda test, ctx: {"f": "write", "value": ctx.rng.randrange(5)}   # random, but seeded
    ({"f": "write", "value": i} for i in itertools.count())           # 0, 1, 2, ... (lazy)

A dict becomes one op: ``type`` defaults to ``"invoke"``, ``process`` to a free process and
``time`` to now (ns since the run started). An op whose ``time`` is in the future waits until then.

Combinators (times in seconds)::

    import harness.generator as gen

    gen.repeat({"f": "read"})                      # reads forever; repeat(g, 10): ten times
    gen.limit(100, g)   gen.once(g)                # at most 100 ops / only the first
    gen.mix([gen.repeat(r), gen.repeat(w)])        # a random mixture (seeded)
    gen.stagger(0.1, g)                            # ~10 ops/s in total, random spacing
    gen.rate(50, g)                                # ~50 ops/s in total (None: unlimited)
    gen.delay(1, g)                                # exactly one op per second
    gen.time_limit(30, g)                          # stop 30 s after g's first op
    gen.phases(a, b, c)                            # b starts when every op of a completed
    gen.sleep(5)                                   # a thread idles 5 s (not recorded)
    gen.cycle([start, stop])                       # start, stop, start, stop, ...
    gen.each_thread([w, r])                        # every thread writes once, then reads once
    gen.reserve(2, writes, reads)                  # threads 0-1 write, the others read
    gen.until_ok(gen.repeat({"f": "read"}))        # read until one read is ok
    gen.clients(g)  gen.nemesis(g)                 # only client threads / only the nemesis
    gen.nemesis(faults, workload)                  # both at once (gen.any(...) underneath)

A typical test, Jepsen's ``(gen/nemesis ... (gen/time-limit ...))`` shape::

    workload = gen.mix([gen.repeat({"f": "read"}),
                        lambda test, ctx: {"f": "write", "value": ctx.rng.randrange(5)}])
    faults = gen.cycle([gen.sleep(5), {"f": "start-partition"},
                        gen.sleep(5), {"f": "stop-partition"}])
    main = gen.time_limit(30, gen.nemesis(faults, gen.stagger(0.01, workload)))
    final = gen.phases(gen.nemesis({"f": "stop-partition"}), gen.sleep(5),
                       gen.clients(gen.each_thread(gen.until_ok(gen.repeat({"f": "read"})))))
    test_generator = gen.phases(main, final)

Contexts
========

``ctx.time`` is now (ns); ``ctx.rng`` is the run's seeded :class:`random.Random` (use it for every
random choice, so a seed replays a run's ops); ``ctx.free_threads()``, ``ctx.some_free_process()``,
``ctx.thread_to_process(t)``, ``ctx.process_to_thread(p)`` describe the workers. Threads are
``0 .. concurrency-1`` and ``"nemesis"``; thread ``t`` runs process ``t``, then ``t + concurrency``
after an ``info`` completion, and so on. See :mod:`harness.generator.context`.

Writing a generator
===================

Subclass :class:`Generator`, keep instances immutable (``__slots__``, return new instances), and
return fresh op dicts (``fill_in_op(template, ctx)`` does the defaults). Return ``PENDING`` rather
than an op for a busy thread. ``next_gen`` must be a :class:`Generator` (``VOID`` when done).
Iterators are consumed as they are lifted: hand them to a combinator once, don't reuse them.

``import harness.generator as gen`` is the intended use: ``gen.any``, ``gen.map`` and
``gen.filter`` keep Jepsen's names and are left out of ``__all__`` so that ``import *`` does not
shadow the builtins.
"""

from .choice import AnyOf, FlipFlop, Mix, any, any_of, flip_flop, mix
from .completion import COMPLETION_TYPES, complete_op, crashed_op
from .context import NEMESIS, Context, ThreadFilter
from .core import (LOG, PENDING, SLEEP, UNRECORDED_TYPES, VOID, Fn, Generator, GeneratorError,
                   IterSeq, OpMap, Seq, Wrapper, check_invoke, concat, fill_in_op, lift, op,
                   secs_to_nanos, seq, update)
from .sequence import (Cycle, Limit, Repeat, Synchronize, UntilOk, cycle, limit, once, phases,
                       repeat, synchronize, then, until_ok)
from .simulator import Simulator
from .threads import (EachThread, OnThreads, ProcessLimit, Reserve, clients, each_thread,
                      nemesis, on_threads, process_limit, reserve)
from .timing import (CycleTimes, Delay, Stagger, TimeLimit, cycle_times, delay, rate, sleep,
                     stagger, time_limit)
from .transform import Filter, Map, OnUpdate, f_map, filter, log, map, on_update

__all__ = [
    # protocol and values
    "Generator", "Wrapper", "GeneratorError", "PENDING", "VOID", "SLEEP", "LOG", "UNRECORDED_TYPES",
    "NEMESIS", "Context", "ThreadFilter", "lift", "op", "update", "fill_in_op", "check_invoke",
    "secs_to_nanos", "complete_op", "crashed_op", "COMPLETION_TYPES",
    # building blocks
    "seq", "concat", "limit", "once", "repeat", "cycle", "synchronize", "phases", "then",
    "until_ok", "mix", "any_of", "flip_flop", "on_threads", "clients", "nemesis", "each_thread",
    "reserve", "process_limit", "time_limit", "stagger", "rate", "delay", "sleep", "cycle_times",
    "f_map", "on_update", "log",
    # running
    "Simulator",
    # classes, for isinstance checks and custom generators
    "OpMap", "Seq", "IterSeq", "Fn", "Limit", "Repeat", "Cycle", "Synchronize", "UntilOk",
    "Mix", "AnyOf", "FlipFlop", "OnThreads", "EachThread", "Reserve", "ProcessLimit",
    "TimeLimit", "Stagger", "Delay", "CycleTimes", "Map", "Filter", "OnUpdate",
]
