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
import sys

from bug_detection_runs import add_run_options, run_plan, store_dir

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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="paxos_bug_detection")
    p.add_argument("--bug", default="all", help="a bug name, 'all', or 'none' (control runs)")
    add_run_options(p)
    a = p.parse_args(argv)
    if a.bug == "all":
        jobs = [(b, b) for b in PLANS]
    elif a.bug == "none":
        jobs = [(None, b) for b in PLANS]
    elif a.bug in PLANS:
        jobs = [(a.bug, a.bug)]
    else:
        p.error(f"--bug: expected one of {', '.join(PLANS)}, all or none")
    summary = []
    with store_dir(a.store, "sb-paxos-bugs-") as store:
        for bug, plan in jobs:
            workload, nemesis, extra = PLANS[plan]
            counts = run_plan("paxos", f"paxos-{bug or 'none'}-{plan}", bug, workload, nemesis,
                              extra, a, store)
            summary.append((bug or "none", plan, *counts))
    print(f"{'bug':20} {'plan':20} {'invalid':>8} {'valid':>6} {'other':>6}  detection")
    for bug, plan, found, missed, other in summary:
        n = found + missed + other
        print(f"{bug:20} {plan:20} {found:8d} {missed:6d} {other:6d}  {found}/{n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
