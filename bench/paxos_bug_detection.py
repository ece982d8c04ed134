"""Benchmark: how often splitbrain finds each planted bug of the reference Multi-Paxos store.

For each bug, N runs of ``splitbrain test --db paxos --bug BUG`` with the workload and nemesis
documented for it (:data:`PLANS`, also in docs/reference-paxos.md), each with its own seed. A run
that ends ``invalid`` (exit 1) found the bug; ``valid`` (exit 0) missed it; anything else
(unknown, harness error) is counted apart. Prints one line per run and the detection rate.

    python bench/paxos_bug_detection.py [--bug NAME|all] [--runs 10] [--time-limit 60]
                                        [--first-seed 1] [--store DIR]

``--bug none`` runs the same plans without a bug (the control: every run should be valid).
Needs root (local namespace backend). A benchmark measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time

#: bug -> (workload, nemesis, extra splitbrain test flags)
PLANS: dict[str, tuple[str, str, list[str]]] = {
    "stale-read": ("register", "partition", ["--nemesis-option", "partition=primaries"]),
    "no-fsync": ("set", "kill", ["--nemesis-option", "kill-targets=all"]),
    # Accepted values are only in memory, and learned slots are never fsynced (they need not be:
    # the accept records are the durable copy). kill -9 keeps the page cache, so the learned
    # records mostly survive it (1 seed of kill-targets=all: valid); a power cut of every node
    # (lost-writes) drops them, and with them every acknowledged write since the last promise.
    "forget-accepted": ("set", "lost-writes", ["--nemesis-option", "lost-writes-targets=all"]),
    # With check-quorum, a deposed leader never keeps proposing, so the bug's code path does not
    # run; without it, an isolated leader proposes on and its p2a reach acceptors after the heal.
    # Its clients' writes then are acknowledged from a diverged log: the set workload sees every
    # such add lost (register with the same nemesis: 2 of 10 runs invalid, 2 unknown).
    "skip-promise-check": ("set", "partition",
                           ["--nemesis-option", "partition=primaries",
                            "--db-option", "check_quorum=false"]),
}


def run_once(bug: str | None, plan: str, seed: int, time_limit: float, store: str) -> tuple[str, float]:
    workload, nemesis, extra = PLANS[plan]
    argv = [sys.executable, "-m", "harness.cli", "test", "--db", "paxos", "--workload", workload,
            "--nemesis", nemesis, *extra, "--time-limit", str(time_limit), "--seed", str(seed),
            "--store", store, "--name", f"paxos-{bug or 'none'}-{plan}"]
    if bug:
        argv += ["--bug", bug]
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=time_limit * 4 + 300)
    took = time.monotonic() - t0
    verdict = {0: "valid", 1: "invalid", 2: "unknown"}.get(p.returncode, f"error({p.returncode})")
    if verdict.startswith("error"):
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        verdict += f": {tail[:200]}"
    m = re.search(r"results:?\s+(/\S+)", p.stdout + p.stderr)
    return verdict + (f"  {m.group(1)}" if m else ""), took


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="paxos_bug_detection")
    p.add_argument("--bug", default="all", help="a bug name, 'all', or 'none' (control runs)")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--store", help="store directory (default: a temporary one, removed)")
    a = p.parse_args(argv)
    if a.bug == "all":
        jobs = [(b, b) for b in PLANS]
    elif a.bug == "none":
        jobs = [(None, b) for b in PLANS]
    elif a.bug in PLANS:
        jobs = [(a.bug, a.bug)]
    else:
        p.error(f"--bug: expected one of {', '.join(PLANS)}, all or none")
    tmp = None if a.store else tempfile.TemporaryDirectory(prefix="sb-paxos-bugs-")
    store = a.store or tmp.name
    summary = []
    try:
        for bug, plan in jobs:
            workload, nemesis, extra = PLANS[plan]
            print(f"== bug {bug or 'none'}: {workload} + {nemesis} {' '.join(extra)}, "
                  f"{a.runs} runs of {a.time_limit:g} s", flush=True)
            found = missed = other = 0
            for i in range(a.runs):
                seed = a.first_seed + i
                verdict, took = run_once(bug, plan, seed, a.time_limit, store)
                print(f"  seed {seed}: {verdict} ({took:.0f} s)", flush=True)
                if verdict.startswith("invalid"):
                    found += 1
                elif verdict.startswith("valid"):
                    missed += 1
                else:
                    other += 1
            summary.append((bug or "none", plan, found, missed, other))
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f"{'bug':20} {'plan':20} {'invalid':>8} {'valid':>6} {'other':>6}  detection")
    for bug, plan, found, missed, other in summary:
        n = found + missed + other
        print(f"{bug:20} {plan:20} {found:8d} {missed:6d} {other:6d}  {found}/{n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
