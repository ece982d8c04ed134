"""Benchmark: how often splitbrain finds a planted bug of the reference Raft store.

N runs of ``splitbrain test --db raft --bug BUG`` with a workload and nemesis, each with its own
seed (``--first-seed``, ``--first-seed + 1``, ...). A run that ends ``invalid`` (exit 1) found the
bug; ``valid`` (exit 0) missed it; anything else (unknown, harness error) is counted apart.
Prints one line per run and the detection rate.

Without ``--workload``/``--nemesis`` each bug uses its documented plan (:data:`PLANS`, also the
table in docs/nemeses.md); ``--nemesis-option`` and ``--db-option`` add to the plan's.

    python bench/raft_bug_detection.py --bug stale-read [--runs 10] [--time-limit 60]
        [--workload register] [--nemesis partition] [--nemesis-option partition=primaries]
        [--db-option KEY=VALUE] [--workload-option KEY=VALUE]
        [--first-seed 1] [--store DIR]

``--bug none`` runs a plan without the bug (the control: every run should be valid; name the
plan with ``--plan BUG``). Needs root (local namespace backend). A benchmark measures; it asserts
nothing.
"""

from __future__ import annotations

import argparse
import sys

from bug_detection_runs import add_run_options, run_plan, store_dir

#: bug -> (workload, nemesis, extra ``splitbrain test`` flags): how each bug is meant to be caught.
PLANS: dict[str, tuple[str, str, list[str]]] = {
    # A leader cut off from the majority keeps answering reads from its own state.
    "stale-read": ("register", "partition", ["--nemesis-option", "partition=primaries"]),
    # A write is acknowledged before a majority has it: a leader cut off (or killed) keeps
    # acknowledging writes that a new leader never sees. Values unique enough that a lost write
    # cannot be explained away by an indeterminate write of the same value (measured: the same
    # rate as values 0-4, docs/nemeses.md).
    "early-ack": ("register", "partition,kill",
                  ["--nemesis-option", "partition=primaries", "--nemesis-option",
                   "kill-targets=primaries", "--workload-option", "max_value=1000000"]),
    # Nothing is fsynced: a power cut of every node (a surviving node would re-replicate all).
    # The set workload notices any acknowledged add that is gone, whenever it went.
    "no-fsync": ("set", "lost-writes", ["--nemesis-option", "lost-writes-targets=all"]),
    # votedFor forgotten: a node crashed right after its vote votes again in that term. The
    # vote-crash nemesis cuts the network into a bridge around the leader, crashes the leader to
    # start an election (each half can win only through the old leader's vote, in the same
    # term), and kills each voter a few ms after it logs its vote. Without pre-vote a candidate
    # keeps asking the restarted voter (section 5.5 retries), and a half that has not heard of
    # the other's election campaigns in the same term.
    "forget-vote": ("register", "vote-crash",
                    ["--nemesis-option", "vote-crash-bridge=true", "--nemesis-option", "interval=3",
                     "--nemesis-option", "vote-crash-down-ms=200", "--db-option", "pre_vote=false",
                     "--workload-option", "max_value=1000000"]),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="raft_bug_detection")
    p.add_argument("--bug", required=True, help=f"one of {', '.join(PLANS)}, or 'none'")
    p.add_argument("--plan", help="whose plan to use with --bug none (default: stale-read)")
    p.add_argument("--workload")
    p.add_argument("--nemesis")
    p.add_argument("--nemesis-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--db-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--workload-option", action="append", default=[], metavar="KEY=VALUE")
    add_run_options(p)
    a = p.parse_args(argv)
    bug = None if a.bug == "none" else a.bug
    plan = a.plan or bug or "stale-read"
    if plan not in PLANS:
        p.error(f"--bug/--plan: expected one of {', '.join(PLANS)}")
    workload, nemesis, extra = PLANS[plan]
    if a.workload or a.nemesis:
        extra = []  # a plan's options belong to its nemesis
    workload, nemesis = a.workload or workload, a.nemesis or nemesis
    for kv in a.nemesis_option:
        extra += ["--nemesis-option", kv]
    for kv in a.db_option:
        extra += ["--db-option", kv]
    for kv in a.workload_option:
        extra += ["--workload-option", kv]
    name = f"raft-{bug or 'none'}-{workload}-{nemesis.replace(',', '+')}"
    with store_dir(a.store, "sb-raft-bugs-") as store:
        found, missed, other = run_plan("raft", name, bug, workload, nemesis, extra, a, store)
    n = found + missed + other
    print(f"bug {bug or 'none'}: invalid {found}, valid {missed}, other {other}: "
          f"detection {found}/{n}" + (f" = {100 * found / n:.0f}%" if n else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
