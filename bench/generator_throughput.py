"""How many ops per second the generator machinery sustains.

    python bench/generator_throughput.py [--seconds 5] [--concurrency 10] [--sim-ops 200000]

1. The real :class:`harness.interpreter.Interpreter` with a client that answers ``ok`` at once,
   ``--concurrency`` client threads plus the nemesis thread, a read/write/cas mix with no
   stagger, for ``--seconds``, writing every op to a real ``HistoryWriter`` in a temporary
   directory (``--in-memory`` keeps ops in a list instead). Prints completed ops per second.
2. The same generator under :class:`harness.generator.Simulator` (no threads, no I/O, simulated
   clock): the cost of the generators alone. Jepsen quotes > 20,000 ops/s for its generators.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import harness.generator as gen  # noqa: E402
from harness.interpreter import Interpreter  # noqa: E402


def workload():
    """Reads, writes and cas ops in equal parts, random values drawn from the seeded ctx.rng."""
    return gen.mix([
        gen.repeat({"f": "read"}),
        lambda test, ctx: {"f": "write", "value": ctx.rng.randrange(5)},
        lambda test, ctx: {"f": "cas", "value": [ctx.rng.randrange(5), ctx.rng.randrange(5)]},
    ])


class NoopClient:
    def setup(self):
        pass

    def teardown(self):
        pass

    def close(self):
        pass

    def invoke(self, op):
        return {"type": "ok"}


class NoopClients:
    def open(self, node):
        return NoopClient()


class ListWriter:
    def __init__(self):
        self.ops = []

    def append(self, op):
        self.ops.append(op)
        return op

    def close(self):
        pass


def bench_interpreter(seconds: float, concurrency: int, in_memory: bool) -> tuple[float, int, str]:
    with tempfile.TemporaryDirectory() as d:
        writer, where = ListWriter(), "in memory"
        if not in_memory:
            try:
                from harness.history.jsonl import HistoryWriter
                writer = HistoryWriter(os.path.join(d, "history.jsonl"), fsync_interval=1.0)
                where = "HistoryWriter (JSON Lines, fsync every 1 s)"
            except ImportError:
                pass
        g = gen.time_limit(seconds, gen.clients(workload()))
        interp = Interpreter({"seed": 1}, g, NoopClients(), None, concurrency=concurrency,
                             nodes=["n1", "n2", "n3"], writer=writer)
        t = time.perf_counter()
        history = interp.run()
        elapsed = time.perf_counter() - t
        writer.close()
    completed = sum(1 for o in history if o["type"] != "invoke")
    return completed / elapsed, completed, where


def bench_simulator(ops: int, concurrency: int) -> tuple[float, int]:
    sim = gen.Simulator(concurrency, seed=1, max_ops=ops + 1)
    t = time.perf_counter()
    history = sim.run(gen.limit(ops, gen.clients(workload())))
    elapsed = time.perf_counter() - t
    invokes = sum(1 for o in history if o["type"] == "invoke")
    return invokes / elapsed, invokes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--sim-ops", type=int, default=200_000)
    p.add_argument("--in-memory", action="store_true", help="no HistoryWriter, keep ops in a list")
    a = p.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"{threading.active_count()} threads at start")
    rate, n, where = bench_interpreter(a.seconds, a.concurrency, a.in_memory)
    print(f"interpreter: {rate:,.0f} completed ops/s ({n:,} ops in {a.seconds:g} s, "
          f"concurrency {a.concurrency}, no-op client, history to {where})")
    rate, n = bench_simulator(a.sim_ops, a.concurrency)
    print(f"generator alone (Simulator): {rate:,.0f} ops/s ({n:,} invocations, "
          f"concurrency {a.concurrency})")


if __name__ == "__main__":
    main()
