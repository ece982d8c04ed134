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
import re
import subprocess
import sys
import tempfile
import time

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


def run_once(bug: str | None, workload: str, nemesis: str, extra: list[str], seed: int,
             time_limit: float, store: str) -> tuple[str, float]:
    """One ``splitbrain test`` run: (verdict text with the run dir, seconds it took)."""
    argv = [sys.executable, "-m", "harness.cli", "test", "--db", "raft", "--workload", workload,
            "--nemesis", nemesis, *extra, "--time-limit", str(time_limit), "--seed", str(seed),
            "--store", store, "--name", f"raft-{bug or 'none'}-{workload}-{nemesis.replace(',', '+')}"]
    if bug:
        argv += ["--bug", bug]
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=time_limit * 4 + 300)
    took = time.monotonic() - t0
    verdict = {0: "valid", 1: "invalid", 2: "unknown"}.get(p.returncode, f"error({p.returncode})")
    if verdict.startswith("error"):
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        verdict += f": {tail[:200]}"
    m = re.search(r"results: (\S+)", p.stdout)
    return verdict + (f"  {m.group(1)}" if m else ""), took


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="raft_bug_detection")
    p.add_argument("--bug", required=True, help=f"one of {', '.join(PLANS)}, or 'none'")
    p.add_argument("--plan", help="whose plan to use with --bug none (default: stale-read)")
    p.add_argument("--workload")
    p.add_argument("--nemesis")
    p.add_argument("--nemesis-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--db-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--workload-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--store", help="store directory (default: a temporary one, removed)")
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
    tmp = None if a.store else tempfile.TemporaryDirectory(prefix="sb-raft-bugs-")
    store = a.store or tmp.name
    found = missed = other = 0
    print(f"== bug {bug or 'none'}: {workload} + {nemesis} {' '.join(extra)}, "
          f"{a.runs} runs of {a.time_limit:g} s", flush=True)
    try:
        for i in range(a.runs):
            seed = a.first_seed + i
            verdict, took = run_once(bug, workload, nemesis, extra, seed, a.time_limit, store)
            print(f"  seed {seed}: {verdict} ({took:.0f} s)", flush=True)
            if verdict.startswith("invalid"):
                found += 1
            elif verdict.startswith("valid"):
                missed += 1
            else:
                other += 1
    finally:
        if tmp is not None:
            tmp.cleanup()
    n = found + missed + other
    print(f"bug {bug or 'none'}: invalid {found}, valid {missed}, other {other}: "
          f"detection {found}/{n}" + (f" = {100 * found / n:.0f}%" if n else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
