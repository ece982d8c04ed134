"""Soak: one long `splitbrain test --db raft --nemesis all` run, history streamed to disk.

Runs the real CLI as a subprocess (local backend), samples the controller's resident memory
(VmRSS of the controller process: at start, every minute, at the end of the workload and during
checking), waits for checking to complete and prints the figures: RSS samples, ops by type,
history size, checking time, verdict and exit code.

    python bench/soak.py [--minutes 30] [--store DIR] [--concurrency 10] [--rate 50]
                         [--nemesis all] [--db raft] [--seed 1]

Needs root (local namespace backend). A benchmark measures; it asserts nothing. Exit status is
the test's own exit status.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time

SAMPLE_EVERY_S = 60.0


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` in KiB, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def phase_of(log_path: str) -> str:
    """The run's phase, from the last phase marker in its splitbrain.log."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return "starting"
    phase = "setup"
    for marker, name in (("is up on", "workload"), ("teardown done", "teardown-done"),
                         ("checking", "checking")):
        if marker in text:
            phase = name
    return phase


def find_run_dir(store: str) -> str | None:
    latest = os.path.join(store, "latest")
    return os.path.realpath(latest) if os.path.exists(latest) else None


def summarize_history(path: str) -> dict:
    counts: collections.Counter = collections.Counter()
    nemesis = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            op = json.loads(line)
            if op.get("process") == "nemesis":
                nemesis += 1
                continue
            counts[op["type"]] += 1
    return {"invoke": counts["invoke"], "ok": counts["ok"], "fail": counts["fail"],
            "info": counts["info"], "nemesis_events": nemesis,
            "bytes": os.path.getsize(path)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="soak", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--db", default="raft")
    p.add_argument("--nemesis", default="all")
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--store", default=None, help="store directory (default: a new temp dir)")
    args = p.parse_args(argv)
    store = args.store or tempfile.mkdtemp(prefix="sb-soak-")
    cmd = [sys.executable, "-m", "harness.cli", "test", "--db", args.db, "--nemesis", args.nemesis,
           "--time-limit", str(args.minutes * 60), "--concurrency", str(args.concurrency),
           "--rate", str(args.rate), "--seed", str(args.seed), "--store", store,
           "--name", "soak"]
    print("command:", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    samples: list[tuple[float, str, int]] = []
    next_sample = 0.0  # elapsed seconds of the next periodic sample
    run_dir = None
    peak_check = 0
    while proc.poll() is None:
        el = time.monotonic() - t0
        run_dir = run_dir or find_run_dir(store)
        phase = phase_of(os.path.join(run_dir, "splitbrain.log")) if run_dir else "starting"
        r = rss_kib(proc.pid)
        if r is not None and phase == "checking":
            peak_check = max(peak_check, r)
        # The first sample once the workload runs ("start"), then every minute and at each
        # phase change (so the end of the workload and the checking phase are sampled too).
        changed = bool(samples) and samples[-1][1] != phase
        if r is not None and phase != "starting" and phase != "setup" and (
                not samples or changed or el >= next_sample):
            samples.append((el, phase, r))
            print(f"  t={el / 60:5.1f} min  phase={phase:13} rss={r / 1024:7.1f} MiB", flush=True)
            next_sample = el + SAMPLE_EVERY_S
        time.sleep(0.5 if phase != "workload" else 2.0)
    out = proc.stdout.read() if proc.stdout else ""
    code = proc.returncode
    wall = time.monotonic() - t0
    run_dir = run_dir or find_run_dir(store)
    print(f"exit code: {code}; wall time {wall / 60:.1f} min; verdict line: "
          f"{out.strip().splitlines()[-1] if out.strip() else '(none)'}")
    if not run_dir:
        print("no run directory found")
        return code
    print(f"run dir: {run_dir}")
    log_text = open(os.path.join(run_dir, "splitbrain.log"), encoding="utf-8",
                    errors="replace").read()
    stamps = {}
    for marker in ("is up on", "teardown done", "checking", "verdict", "workload and teardown"):
        m = re.search(r"^(\d\d:\d\d:\d\d\.\d+) .*" + re.escape(marker), log_text, re.M)
        if m:
            stamps[marker] = m.group(1)
    hist = summarize_history(os.path.join(run_dir, "history.jsonl"))
    results_path = os.path.join(run_dir, "results.json")
    results = json.load(open(results_path)) if os.path.exists(results_path) else {}
    workload_res = results.get("workload", {}) if isinstance(results.get("workload"), dict) else {}
    rss = [s[2] for s in samples]
    work = [s[2] for s in samples if s[1] == "workload"]
    print()
    print(f"{'figure':34} value")
    print(f"{'controller RSS at workload start':34} {rss[0] / 1024:.1f} MiB" if rss
          else "no RSS samples")
    if work:
        print(f"{'RSS first/last workload sample':34} {work[0] / 1024:.1f} / {work[-1] / 1024:.1f} MiB"
              f" ({len(work)} samples, min {min(work) / 1024:.1f}, max {max(work) / 1024:.1f})")
    if rss:
        print(f"{'RSS at the last sample':34} {rss[-1] / 1024:.1f} MiB (phase {samples[-1][1]})")
    if peak_check:
        print(f"{'RSS peak while checking':34} {peak_check / 1024:.1f} MiB")
    print(f"{'history':34} {hist['bytes'] / 1e6:.1f} MB, {hist['invoke']} client invokes: "
          f"{hist['ok']} ok, {hist['fail']} fail, {hist['info']} info; "
          f"{hist['nemesis_events']} nemesis events")
    print(f"{'log stamps':34} {stamps}")
    print(f"{'checker verdict':34} {results.get('valid')!r} "
          f"(workload checker: {workload_res.get('valid')!r}"
          f"{', cause ' + str(workload_res.get('cause')) if workload_res.get('cause') else ''})")
    print(f"{'results.json written':34} {os.path.exists(results_path)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
