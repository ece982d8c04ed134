"""Benchmark: seconds from ``splitbrain test`` starting to the first ``ok`` op, on a fresh
5-node reference Raft cluster (local backend).

Each run starts ``splitbrain test --db raft --nemesis none --time-limit T`` with its own store,
watches its ``history.jsonl`` (streamed, flushed per op) every 10 ms, and notes when the first
``"type": "ok"`` line appears. The figure includes everything a user waits for: Python start-up,
the namespaces and bridge, starting 5 nodes, the first election, and the op itself. Prints one
line per run and the median and max. Needs root. A benchmark measures; it asserts nothing.

    python bench/raft_first_ok.py [--runs 5] [--nodes 5]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def first_ok_seconds(nodes: int, time_limit: float) -> float | None:
    with tempfile.TemporaryDirectory(prefix="sb-first-ok-") as store:
        argv = [sys.executable, "-m", "harness.cli", "test", "--db", "raft", "--nemesis", "none",
                "--nodes", str(nodes), "--time-limit", str(time_limit), "--store", store,
                "--name", "first-ok"]
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = None
        try:
            while found is None and p.poll() is None:
                for path in glob.glob(os.path.join(store, "first-ok", "2*", "history.jsonl")):
                    with open(path) as f:
                        for line in f:
                            try:
                                if json.loads(line).get("type") == "ok":
                                    found = time.monotonic() - t0
                                    break
                            except ValueError:
                                break  # a line still being written
                time.sleep(0.01)
        finally:
            p.wait(timeout=time_limit + 120)
        return found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="raft_first_ok")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--time-limit", type=float, default=3.0)
    a = ap.parse_args(argv)
    got = []
    for i in range(a.runs):
        s = first_ok_seconds(a.nodes, a.time_limit)
        print(f"run {i + 1}: first ok after {s:.2f} s" if s is not None else
              f"run {i + 1}: no ok op", flush=True)
        if s is not None:
            got.append(s)
    if got:
        print(f"first ok op, {a.nodes} nodes: median {statistics.median(got):.2f} s, "
              f"max {max(got):.2f} s over {len(got)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
