"""Benchmark: the same splitbrain register workload against the reference Raft store, the
reference Multi-Paxos store and etcd, on the same machine, in one run (one after the other), no
faults. Prints ok ops/s, median and p99 latency of ok ops for each, and the ratios to etcd.

    python bench/reference_stores_vs_etcd.py [--time-limit 20] [--concurrency 10] [--rate 5000]
                                             [--nodes 3] [--dbs raft,paxos,etcd]

Needs root (local namespace backend) and etcd (Debian etcd-server). A benchmark measures; it
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile

from harness.config import load_spec
from harness.runner import run_test


def measure(db: str, args, store: str) -> dict:
    """Run the register workload against ``db``; throughput and latency of its ok ops."""
    spec = load_spec(None, {"db": db, "workload": "register", "nemesis": "none",
                            "nodes": str(args.nodes), "concurrency": args.concurrency,
                            "rate": args.rate, "time_limit": args.time_limit, "seed": 1,
                            "store": store, "name": f"bench-{db}"})
    outcome = run_test(spec)
    invokes, lat, first, last = {}, [], None, None
    with open(outcome.run.history) as f:
        for line in f:
            op = json.loads(line)
            if op.get("process") == "nemesis":
                continue
            if op["type"] == "invoke":
                invokes[op["process"]] = op["time"]
            elif op["type"] == "ok":
                t0 = invokes.pop(op["process"], None)
                if t0 is not None:
                    lat.append((op["time"] - t0) / 1e6)
                    first = t0 if first is None else min(first, t0)
                    last = op["time"] if last is None else max(last, op["time"])
            else:
                invokes.pop(op["process"], None)
    lat.sort()
    span = max((last - first) / 1e9, 1e-9) if lat else 0.0
    return {"db": db, "valid": outcome.results.get("valid"), "ok": len(lat),
            "ok_per_s": len(lat) / span if lat else 0.0,
            "median_ms": statistics.median(lat) if lat else float("nan"),
            "p99_ms": lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="reference_stores_vs_etcd")
    p.add_argument("--time-limit", type=float, default=20.0)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--rate", type=float, default=5000.0, help="offered ops/s (total)")
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--dbs", default="raft,paxos,etcd", help="comma-separated targets, in order")
    args = p.parse_args(argv)
    dbs = [d.strip() for d in args.dbs.split(",") if d.strip()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="sb-bench-") as store:
        for db in dbs:
            rows.append(measure(db, args, store))
    print(f"{'db':6} {'valid':>7} {'ok':>7} {'ok/s':>9} {'median ms':>10} {'p99 ms':>8}")
    for r in rows:
        print(f"{r['db']:6} {str(r['valid']):>7} {r['ok']:7d} {r['ok_per_s']:9.1f} "
              f"{r['median_ms']:10.2f} {r['p99_ms']:8.2f}")
    etcd = next((r for r in rows if r["db"] == "etcd"), None)
    if etcd and etcd["ok_per_s"]:
        for r in rows:
            if r is etcd:
                continue
            print(f"{r['db']}/etcd: throughput {r['ok_per_s'] / etcd['ok_per_s']:.2f}x, "
                  f"median latency {r['median_ms'] / etcd['median_ms']:.2f}x, "
                  f"p99 latency {r['p99_ms'] / etcd['p99_ms']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
