"""Benchmark: check a generated list-append history of 100,000 transactions with Elle's checker.

    python bench/elle_list_append.py [--txns 100000] [--procs 20] [--mops 4] [--seed 0]
                                     [--pure-python]

The history comes from a simulated strict-serializable store: 20 processes each invoke a
transaction (4 micro-ops over rotating keys, from :mod:`workloads.list_append`), and each
transaction takes effect atomically when it completes, so invocations overlap but the history is
valid. We print transactions/second, seconds (wall and CPU: the machine may be shared) and peak
memory (tracemalloc over the check, plus the process's max RSS). Goal (issue 6): under 20 s
and 2 GB. The checker runs its hot loops in C (``checkers/elle/_elle.c``) when the extension is
built; ``--pure-python`` times the pure-Python code instead (same results).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checkers.elle import ElleListAppendChecker, native  # noqa: E402
from workloads.list_append import ListAppendWorkload  # noqa: E402


def generate(n_txns: int, procs: int = 20, mops: int = 4, seed: int = 0) -> list[dict]:
    """A valid list-append history of ``n_txns`` transactions from ``procs`` processes."""
    rng = random.Random(seed)
    w = ListAppendWorkload({"min_txn_length": mops, "max_txn_length": mops, "seed": seed,
                            "key_count": 10})
    gen = w.generator(rng)
    db: dict = {}
    pending: dict[int, list] = {}
    history: list[dict] = []
    t = 0
    started = 0
    while started < n_txns or pending:
        p = rng.randrange(procs)
        t += 1000
        if p in pending:
            value = pending.pop(p)
            done = []
            for f, k, v in value:
                if f == "append":
                    db.setdefault(k, []).append(v)
                    done.append([f, k, v])
                else:
                    done.append([f, k, list(db.get(k, ()))])
            history.append({"index": len(history), "time": t, "type": "ok", "process": p,
                            "f": "txn", "value": done})
        elif started < n_txns:
            value = gen()["value"]
            pending[p] = value
            started += 1
            history.append({"index": len(history), "time": t, "type": "invoke", "process": p,
                            "f": "txn", "value": value})
    return history


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--txns", type=int, default=100_000)
    ap.add_argument("--procs", type=int, default=20)
    ap.add_argument("--mops", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--consistency-model", default="strict-serializable")
    ap.add_argument("--tracemalloc", action="store_true", help="also measure the check's peak")
    ap.add_argument("--pure-python", action="store_true",
                    help="switch the C core off (checkers/elle/_elle.c)")
    args = ap.parse_args(argv)
    if args.pure_python:
        native.core = None
    t0 = time.perf_counter()
    history = generate(args.txns, args.procs, args.mops, args.seed)
    gen_s = time.perf_counter() - t0
    checker = ElleListAppendChecker({"consistency_models": [args.consistency_model]})
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    c0 = time.process_time()
    result = checker.check(None, history, {})
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"history: {args.txns} txns, {len(history)} ops, {args.procs} processes, "
          f"{args.mops} micro-ops/txn (generated in {gen_s:.1f} s)")
    print(f"valid: {result['valid']}  anomaly_types: {result['anomaly_types']}")
    print(f"core: {'C (checkers/elle/_elle.c)' if native.core is not None else 'pure Python'}"
          + ("" if native.AVAILABLE else " (the C extension is not built)"))
    print(f"check: {secs:.2f} s = {args.txns / secs:,.0f} txn/s "
          f"(CPU {cpu:.2f} s = {args.txns / cpu:,.0f} txn/s of CPU)")
    print(f"memory: process max RSS {rss_kb / 1024:.0f} MiB "
          f"({rss_before / 1024:.0f} MiB before checking)")
    if args.tracemalloc:
        # Slow (tracemalloc hooks every allocation): the check's own peak, on request.
        tracemalloc.start()
        checker.check(None, history, {})
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"memory: check peak {peak / 2**20:.0f} MiB (tracemalloc)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
