"""Runs of one planted-bug plan, counted by verdict: what the bug-detection benchmarks share.

bench/raft_bug_detection.py and bench/paxos_bug_detection.py each pick a plan (workload, nemesis,
extra ``splitbrain test`` flags) per bug; this module runs it N times, each with its own seed
(``--first-seed``, ``--first-seed + 1``, ...), prints one line per run and counts the verdicts: a
run that ends ``invalid`` (exit 1) found the bug, ``valid`` (exit 0) missed it, anything else
(unknown, harness error) is counted apart. It also holds the options both scripts take for that
(``--runs``, ``--time-limit``, ``--first-seed``, ``--store``). Not a script of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

_RUN_DIR = re.compile(r"results:?\s+(/\S+)")


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Add ``--runs``, ``--time-limit``, ``--first-seed`` and ``--store`` to ``p``."""
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--store", help="store directory (default: a temporary one, removed)")


@contextlib.contextmanager
def store_dir(store: str | None, prefix: str) -> Iterator[str]:
    """``store`` if given, else a temporary directory named ``prefix...``, removed on exit."""
    if store:
        yield store
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield tmp


def run_once(db: str, name: str, bug: str | None, workload: str, nemesis: str, extra: list[str],
             seed: int, time_limit: float, store: str) -> tuple[str, float]:
    """One ``splitbrain test --db DB`` run: (verdict text, seconds it took).

    The verdict text is ``valid``, ``invalid``, ``unknown`` or ``error(CODE): last stderr line``,
    followed by the run directory when the harness printed one (``results: DIR``, on stderr).
    """
    argv = [sys.executable, "-m", "harness.cli", "test", "--db", db, "--workload", workload,
            "--nemesis", nemesis, *extra, "--time-limit", str(time_limit), "--seed", str(seed),
            "--store", store, "--name", name]
    if bug:
        argv += ["--bug", bug]
    t0 = time.monotonic()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=time_limit * 4 + 300)
    took = time.monotonic() - t0
    verdict = {0: "valid", 1: "invalid", 2: "unknown"}.get(p.returncode, f"error({p.returncode})")
    if verdict.startswith("error"):
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        verdict += f": {tail[:200]}"
    m = _RUN_DIR.search(p.stdout + p.stderr)
    return verdict + (f"  {m.group(1)}" if m else ""), took


def run_plan(db: str, name: str, bug: str | None, workload: str, nemesis: str, extra: list[str],
             a: argparse.Namespace, store: str) -> tuple[int, int, int]:
    """``a.runs`` runs of one plan (options from :func:`add_run_options`): (invalid, valid, other).

    Prints a header line, then one line per run: ``  seed S: VERDICT (T s)``.
    """
    found = missed = other = 0
    print(f"== bug {bug or 'none'}: {workload} + {nemesis} {' '.join(extra)}, "
          f"{a.runs} runs of {a.time_limit:g} s", flush=True)
    for i in range(a.runs):
        seed = a.first_seed + i
        verdict, took = run_once(db, name, bug, workload, nemesis, extra, seed, a.time_limit,
                                 store)
        print(f"  seed {seed}: {verdict} ({took:.0f} s)", flush=True)
        if verdict.startswith("invalid"):
            found += 1
        elif verdict.startswith("valid"):
            missed += 1
        else:
            other += 1
    return found, missed, other
