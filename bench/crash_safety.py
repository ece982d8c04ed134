"""Crash safety: kill -9 the controller at random points of real runs, then heal and analyze.

Each kill runs `splitbrain test --db raft --nemesis partition` (local backend, 3 nodes) as a
subprocess and SIGKILLs it in one of five phases, chosen in turn: setup, workload (no fault
active), nemesis active (a partition is in force), teardown, checking. The moment is random
within the phase. Then, for each kill:

- the phase the kill really landed in is read back from the run's log and history;
- `splitbrain heal` runs, and the machine is searched for anything still carrying the run's
  prefix (namespaces, links, FORWARD rules, processes, run root) from the raw system state
  (harness.control.leftovers), not from heal's own report;
- `splitbrain analyze RUN_DIR` re-checks the recorded history (exit 0/1/2 = a verdict);
- what the kill could have cost: the history is flushed to the OS per op (so a SIGKILL loses
  nothing written) and fsynced at least once a second (the bound for a power loss). The honest
  measure of ops lost to the kill is the gap between the kill and the newest recorded op, on the
  same monotonic clock (the controller logs its history time 0), compared with the run's own
  largest gap between consecutive recorded ops: a kill gap no larger than the gaps the run
  already had means no completed op was held back. Ops in flight at the kill stay open invokes
  (`analyze` counts them as indeterminate).

    python bench/crash_safety.py [--kills 20] [--seed 1] [--store DIR]

Needs root. A benchmark measures and prints; it asserts nothing (exit 0 when every kill was
healed and analyzed, 1 otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.control.leftovers import leftovers, run_prefix

PHASES = ("setup", "workload", "nemesis-active", "teardown", "checking")
CLI = [sys.executable, "-m", "harness.cli"]
RUN_ARGS = ["--db", "raft", "--nemesis", "partition", "--nodes", "3", "--time-limit", "8",
            "--nemesis-option", "interval=1", "--op-timeout", "2", "--rate", "50"]
T0_RE = re.compile(r"history time 0 is clock (\d+) ns")


def _log(run_dir: Path | None) -> str:
    try:
        return (run_dir / "splitbrain.log").read_text(errors="replace") if run_dir else ""
    except FileNotFoundError:
        return ""


def _history_lines(run_dir: Path | None) -> list[str]:
    try:
        return (run_dir / "history.jsonl").read_text(errors="replace").splitlines()
    except (FileNotFoundError, TypeError):
        return []


def _fault_state(lines: list[str]) -> str:
    """"active" while the newest nemesis event is a completed start-partition, "healed" after a
    completed stop-partition, "none" before any fault, else "changing"."""
    nem = [json.loads(ln) for ln in lines if '"process":"nemesis"' in ln and ln.endswith("}")]
    if not nem:
        return "none"
    if len(nem) >= 2 and nem[-1]["f"] == nem[-2]["f"]:
        return {"start-partition": "active", "stop-partition": "healed"}.get(nem[-1]["f"],
                                                                              "changing")
    return "changing"


def observed_phase(log: str, lines: list[str]) -> str:
    """Which phase the controller was in, from what it had logged and recorded."""
    if "checking " in log:
        return "checking"
    if "tearing down" in log:
        return "teardown" if "teardown done" not in log else "after teardown"
    if "history time 0" in log or lines:
        return "nemesis-active" if _fault_state(lines) in ("active", "changing") else "workload"
    return "setup"


def _ready(phase: str, log: str, lines: list[str]) -> bool:
    """Whether the run has reached ``phase`` (then the kill waits a random moment more)."""
    if phase == "setup":
        return "cluster up" in log
    if phase == "workload":
        return sum('"type":"ok"' in ln for ln in lines) >= 5 and _fault_state(lines) == "healed"
    if phase == "nemesis-active":
        return sum('"type":"ok"' in ln for ln in lines) >= 5 and _fault_state(lines) == "active"
    if phase == "teardown":
        return "tearing down" in log
    return "checking " in log


def _delay(phase: str, rng: random.Random) -> float:
    return {"setup": rng.uniform(0.0, 1.5), "workload": rng.uniform(0.0, 0.2),
            "nemesis-active": rng.uniform(0.0, 0.3), "teardown": rng.uniform(0.0, 0.3),
            "checking": rng.uniform(0.0, 0.1)}[phase]


def loss_figures(run_dir: Path, kill_ns: int) -> dict:
    """Gap between the kill and the newest recorded op vs the run's own largest gap."""
    m = T0_RE.search(_log(run_dir))
    from harness.history.jsonl import read_jsonl_with_report

    res = read_jsonl_with_report(run_dir / "history.jsonl", allow_truncated_tail=True)
    ops = res.ops
    times = [op["time"] for op in ops if isinstance(op.get("time"), int)]
    open_invokes = {}
    for op in ops:
        if op.get("process") == "nemesis":
            continue
        if op["type"] == "invoke":
            open_invokes[op["process"]] = op
        else:
            open_invokes.pop(op["process"], None)
    out = {"recorded": len(ops), "invokes": sum(op["type"] == "invoke" for op in ops),
           "open": len(open_invokes), "truncated_tail": res.dropped_lines,
           "kill_gap_ms": None, "max_gap_ms": None}
    if m and times:
        t0 = int(m.group(1))
        out["kill_gap_ms"] = (kill_ns - (t0 + max(times))) / 1e6
        gaps = [b - a for a, b in zip(times, times[1:])]
        out["max_gap_ms"] = max(gaps) / 1e6 if gaps else None
    return out


def one_kill(phase: str, rng: random.Random, store: Path) -> dict:
    """Run, kill -9 in ``phase``, heal, verify, analyze; the figures as a dict."""
    store.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in store.glob("*/2*")}
    proc = subprocess.Popen(CLI + ["test", *RUN_ARGS, "--seed", str(rng.randrange(2**31)),
                                   "--store", str(store)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = None
    row = {"target": phase}
    try:
        end = time.monotonic() + 180
        while time.monotonic() < end and proc.poll() is None:
            if run_dir is None:
                new = [p for p in store.glob("*/2*") if p.name not in before]
                run_dir = new[0] if new else None
            if _ready(phase, _log(run_dir), _history_lines(run_dir)):
                break
            time.sleep(0.02)
        time.sleep(_delay(phase, rng))
        if proc.poll() is not None:
            row.update(phase="(ended before the kill)", error="run ended first")
            return row
        kill_ns = time.monotonic_ns()
        proc.kill()  # SIGKILL: no finally, no atexit, no flush
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if run_dir is None:
        new = [p for p in store.glob("*/2*") if p.name not in before]
        run_dir = new[0] if new else None
    log, lines = _log(run_dir), _history_lines(run_dir)
    row["phase"] = observed_phase(log, lines)
    prefix = run_prefix(run_dir) if run_dir else None
    row["prefix"] = prefix or "-"
    row["left_before_heal"] = len(leftovers(prefix)) if prefix else 0
    t = time.monotonic()
    heal = subprocess.run(CLI + ["heal"], capture_output=True, text=True, timeout=300)
    row["heal_s"] = time.monotonic() - t
    row["heal_rc"] = heal.returncode
    left = leftovers(prefix) if prefix else []
    row["left_after_heal"] = len(left)
    row["left_detail"] = left
    if run_dir is not None and (run_dir / "history.jsonl").exists():
        a = subprocess.run(CLI + ["analyze", str(run_dir)], capture_output=True, text=True,
                           timeout=600)
        row["analyze_rc"] = a.returncode
        row["analyze"] = (a.stdout.strip().split("\t")[1:] or [a.stderr.strip()[-200:]])
        row["traceback"] = "Traceback" in a.stderr
        row.update(loss_figures(run_dir, kill_ns))
    else:
        row["analyze_rc"] = None
        row["analyze"] = ["no history (killed before the run dir)"]
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="crash_safety", description=__doc__.split("\n")[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--store", default=None, help="store directory (default: a new temp dir)")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("crash_safety: needs root (local namespace backend)", file=sys.stderr)
        return 3
    rng = random.Random(args.seed)
    store = Path(args.store or tempfile.mkdtemp(prefix="sb-crash-"))
    print(f"store: {store}\nrun: splitbrain test {' '.join(RUN_ARGS)}")
    hdr = (f"{'#':>2} {'aimed at':14} {'landed in':14} {'left':>4} {'heal':>5} {'after':>5} "
           f"{'analyze':>18} {'ops':>5} {'open':>4} {'trunc':>5} {'kill gap':>9} {'max gap':>8}")
    print(hdr)
    rows = []
    for i in range(args.kills):
        phase = PHASES[i % len(PHASES)]
        row = one_kill(phase, rng, store)
        rows.append(row)
        an = " ".join(row.get("analyze", []))[:18]
        gap = row.get("kill_gap_ms")
        mg = row.get("max_gap_ms")
        print(f"{i + 1:>2} {phase:14} {row.get('phase', '?'):14} {row.get('left_before_heal', 0):>4} "
              f"{row.get('heal_s', 0):4.1f}s {row.get('left_after_heal', '?'):>5} {an:>18} "
              f"{row.get('invokes', 0):>5} {row.get('open', 0):>4} {row.get('truncated_tail', 0):>5} "
              f"{'' if gap is None else f'{gap:.0f} ms':>9} {'' if mg is None else f'{mg:.0f} ms':>8}",
              flush=True)
        for thing in row.get("left_detail", []):
            print(f"     LEFT AFTER HEAL: {thing}")
    healed = sum(1 for r in rows if r.get("left_after_heal") == 0 and r.get("heal_rc") == 0)
    analyzed = sum(1 for r in rows if r.get("analyze_rc") in (0, 1, 2) and not r.get("traceback"))
    with_hist = sum(1 for r in rows if r.get("analyze_rc") is not None)
    gaps = [r for r in rows if r.get("kill_gap_ms") is not None and r.get("phase") in
            ("workload", "nemesis-active")]
    landed = {ph: sum(1 for r in rows if r.get("phase") == ph) for ph in
              (*PHASES, "after teardown")}
    print()
    print(f"kills: {len(rows)}; landed in: " + ", ".join(f"{k} {v}" for k, v in landed.items() if v))
    print(f"healed with nothing left: {healed}/{len(rows)}")
    print(f"analyzed (verdict, no traceback): {analyzed}/{with_hist} runs with a history")
    print(f"truncated last lines dropped: {sum(r.get('truncated_tail', 0) for r in rows)}")
    if gaps:
        worst = max(gaps, key=lambda r: r["kill_gap_ms"] - (r["max_gap_ms"] or 0))
        print(f"kills during the workload: {len(gaps)}; kill gap (kill -> newest recorded op) "
              f"max {max(r['kill_gap_ms'] for r in gaps):.0f} ms; kill gap <= the run's own max gap "
              f"between recorded ops in {sum(r['kill_gap_ms'] <= (r['max_gap_ms'] or 0) for r in gaps)}"
              f"/{len(gaps)}; worst excess {worst['kill_gap_ms'] - (worst['max_gap_ms'] or 0):.0f} ms")
        print(f"ops in flight at the kill (open invokes, indeterminate): "
              f"{sum(r['open'] for r in gaps)} over {len(gaps)} kills")
    return 0 if healed == len(rows) and analyzed == with_hist else 1


if __name__ == "__main__":
    sys.exit(main())
