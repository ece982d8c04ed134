"""The short table printed at the end of ``splitbrain test``: what was done, what broke, what the
checkers said, and where everything is.

::

    ops        ok  fail  info  total
      cas     112   281     6    399
      read    301     0     0    301
    faults: partition x3, 18.6 s in total
      5.0-10.1 s  partition  n1-x-n3; n3-x-n1,n2,n4,n5; ...
    checkers:
      workload   invalid  Process 12's read (index 572-573) returned 2, but ...
    results: store/etcd-register-partition/20261128T045136

The verdict line itself stays the runner's (the last line on stdout).
"""

from __future__ import annotations

from harness import exit_codes
from harness.report.operations import client_ops, nemesis_periods

OUTCOMES = ("ok", "fail", "info")
MAX_FAULT_LINES = 8
MAX_EXPLANATION = 300


def op_counts(history: list[dict]) -> dict[str, dict[str, int]]:
    """``{f: {"ok": n, "fail": n, "info": n}}`` over client ops (an op never completed is info)."""
    counts: dict[str, dict[str, int]] = {}
    for o in client_ops(history):
        row = counts.setdefault(o.f, dict.fromkeys(OUTCOMES, 0))
        row[o.type if o.type in row else "info"] += 1
    return dict(sorted(counts.items()))


def checker_verdicts(results: dict) -> list[tuple[str, str, str]]:
    """``(checker, verdict word, one-line reason)`` for each checker in composed results."""
    out = []
    for name, r in results.items():
        if isinstance(r, dict) and "valid" in r:
            reason = r.get("explanation") or r.get("error") or r.get("cause") or ""
            out.append((name, exit_codes.verdict_word(r["valid"]), str(reason)))
    return out


def _clip(s: str, n: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3] + "..."


def format_summary(history: list[dict], results: dict, run_path=None) -> str:
    """The summary table as text (no colours, so it reads the same in a CI log)."""
    lines = []
    counts = op_counts(history)
    width = max([len(f) for f in counts] + [4])
    lines.append(f"{'ops':<{width + 2}} {'ok':>6} {'fail':>6} {'info':>6} {'total':>6}")
    tot = dict.fromkeys(OUTCOMES, 0)
    for f, row in counts.items():
        for k in OUTCOMES:
            tot[k] += row[k]
        lines.append(f"  {f:<{width}} {row['ok']:>6} {row['fail']:>6} {row['info']:>6} "
                     f"{sum(row.values()):>6}")
    if len(counts) > 1:
        lines.append(f"  {'all':<{width}} {tot['ok']:>6} {tot['fail']:>6} {tot['info']:>6} "
                     f"{sum(tot.values()):>6}")
    periods = nemesis_periods(history)
    if periods:
        names: dict[str, int] = {}
        for p in periods:
            names[p.name] = names.get(p.name, 0) + 1
        total_s = sum(p.end - p.start for p in periods) / 1e9
        lines.append("faults: " + ", ".join(f"{n} x{c}" for n, c in names.items())
                     + f", {total_s:.1f} s in total")
        for p in periods[:MAX_FAULT_LINES]:
            span = f"{p.start / 1e9:.1f}-{p.end / 1e9:.1f} s"
            lines.append(f"  {span:<13} {p.name}"
                         + (f"  {_clip(p.detail, 80)}" if p.detail else ""))
        if len(periods) > MAX_FAULT_LINES:
            lines.append(f"  ... {len(periods) - MAX_FAULT_LINES} more")
    else:
        lines.append("faults: none")
    verdicts = checker_verdicts(results)
    if verdicts:
        lines.append("checkers:")
        w = max(len(n) for n, _, _ in verdicts)
        for name, word, reason in verdicts:
            lines.append(f"  {name:<{w}}  {word:<7}  {_clip(reason, MAX_EXPLANATION)}".rstrip())
    if results.get("cause"):
        lines.append(f"note: {results['cause']}")
    if run_path is not None:
        lines.append(f"results: {run_path}")
    return "\n".join(lines)
