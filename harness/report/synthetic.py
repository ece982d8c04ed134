"""Synthetic register histories for the reports' tests, demos and screenshots.

Real runs need root and a cluster; the reports only need a history of the right shape. This writes
one deterministically (a seeded RNG, no clock): ``concurrency`` processes doing reads, writes and
compare-and-sets on one register, a partition now and then (every
``partition_every_s``, default: three over the history) during which some ops time out
(``info``, and their process is renumbered as the interpreter does), and optionally one planted
stale read that makes the history non-linearizable.
"""

from __future__ import annotations

import random

S = 1_000_000_000


def synthetic_history(n_ops: int = 1000, *, concurrency: int = 5, seed: int = 0,
                      ops_per_s: float = 200.0, partition_every_s: float | None = None,
                      stale_read_at: int | None = None) -> list[dict]:
    """A register history with about ``n_ops`` client ops (invoke + completion each) and nemesis
    ops. Each op is atomic at its completion; ``stale_read_at=k`` makes the k-th read return a
    value nobody wrote (a linearizability violation whatever the interleaving)."""
    if partition_every_s is None:  # about three partitions over the history
        partition_every_s = max(0.05, n_ops / ops_per_s / 6)
    rng = random.Random(seed)
    events: list[dict] = []
    value = None
    procs = list(range(concurrency))
    free_at = [0] * concurrency          # when each worker is next free (ns)
    gap = int(S / ops_per_s)
    t = 0
    reads = 0
    half = partition_every_s * S
    for _ in range(n_ops):
        t += rng.randint(gap // 2, gap * 3 // 2)
        w = min(range(concurrency), key=lambda i: free_at[i])
        start = max(t, free_at[w])
        in_partition = int(start // half) % 2 == 1
        f = rng.choice(("read", "write", "cas"))
        p = procs[w]
        if in_partition and rng.random() < 0.08:
            end = start + rng.randint(S // 2, S)        # a timeout: unknown outcome
            inv_v = None if f == "read" else rng.randint(0, 4) if f == "write" else [rng.randint(0, 4), rng.randint(0, 4)]
            events.append({"time": start, "type": "invoke", "process": p, "f": f, "value": inv_v})
            events.append({"time": end, "type": "info", "process": p, "f": f, "value": inv_v,
                           "error": "timeout"})
            procs[w] += concurrency
            free_at[w] = end + 1
            continue
        lat = int(rng.lognormvariate(15.5, 0.6)) * (8 if in_partition else 1)
        end = start + max(lat, 50_000)
        if f == "read":
            reads += 1
            out = value
            if stale_read_at is not None and reads == stale_read_at:
                out = 99  # never written: no order of the ops can explain it
            events.append({"time": start, "type": "invoke", "process": p, "f": f, "value": None})
            events.append({"time": end, "type": "ok", "process": p, "f": f, "value": out})
        elif f == "write":
            v = rng.randint(0, 4)
            value = v
            events.append({"time": start, "type": "invoke", "process": p, "f": f, "value": v})
            events.append({"time": end, "type": "ok", "process": p, "f": f, "value": v})
        else:
            a, b = rng.randint(0, 4), rng.randint(0, 4)
            ok = value == a
            if ok:
                value = b
            events.append({"time": start, "type": "invoke", "process": p, "f": f, "value": [a, b]})
            events.append({"time": end, "type": "ok" if ok else "fail", "process": p, "f": f,
                           "value": [a, b], **({} if ok else {"error": "compare failed"})})
        free_at[w] = end + 1
    # The register's state changes at completion time, so order completions by time; an
    # invoke/completion pair never overlaps another on the same worker, which keeps the
    # per-process order valid.
    last = max((e["time"] for e in events), default=0)
    k = 1
    while k * half <= last:
        nodes = ["n1", "n2", "n3", "n4", "n5"]
        rng.shuffle(nodes)
        a, b = nodes[:2], nodes[2:]
        grudge = {n: sorted(b) for n in a} | {n: sorted(a) for n in b}
        start, stop = int(k * half), int((k + 1) * half)
        events.append({"time": start, "type": "info", "process": "nemesis", "f": "start-partition", "value": None})
        events.append({"time": start + 10_000_000, "type": "info", "process": "nemesis", "f": "start-partition", "value": grudge})
        if stop <= last:
            events.append({"time": stop, "type": "info", "process": "nemesis", "f": "stop-partition", "value": None})
            events.append({"time": stop + 10_000_000, "type": "info", "process": "nemesis", "f": "stop-partition", "value": "network-healed"})
        k += 2
    events.sort(key=lambda e: (e["time"], e["type"] == "invoke"))
    for i, e in enumerate(events):
        e["index"] = i
    return events


def write_synthetic_run(store, name: str = "synthetic-register-partition", *, n_ops: int = 1000,
                        seed: int = 0, stale_read_at: int | None = None, now: float | None = None,
                        reports: bool = True, check: bool = True, timeline: bool | None = None):
    """A complete run directory in ``store`` made from :func:`synthetic_history`: test.yaml,
    history.jsonl, results.json from the real linearizability checker (or ``{"valid": "unknown"}``
    without ``check``), and the plots and timeline when ``reports`` (``timeline`` alone overrides
    whether the timeline is written). Returns the RunDir."""
    import yaml

    from checkers.compose import run_checkers
    from checkers.linearizable import LinearizableChecker, make_model
    from harness.history.jsonl import encode_op
    from harness.store import open_run

    spec = {"name": name, "db": "synthetic", "workload": "register", "nemesis": ["partition"],
            "nodes": ["n1", "n2", "n3", "n4", "n5"], "concurrency": 5, "seed": seed,
            "time-limit": round(n_ops / 200.0, 1)}
    run = open_run(store, name, yaml.safe_dump(spec, sort_keys=False), now=now)
    history = synthetic_history(n_ops, seed=seed, stale_read_at=stale_read_at)
    # The ops are known to be well-formed: encode them directly (HistoryWriter validates each op,
    # which is the point in a real run and a waste of seconds on 100k synthetic ones).
    with open(run.history, "w", encoding="utf-8") as f:
        f.writelines(encode_op(op) + "\n" for op in history)
    if check:
        results = run_checkers({"workload": LinearizableChecker(make_model("cas-register", None))},
                               {"name": name}, history, {"open_as_info": True})
    else:
        results = {"valid": "unknown", "cause": "not checked"}
    results["interrupted"] = False
    run.write_results(results)
    (run.nodes / "n1").mkdir(parents=True, exist_ok=True)
    (run.nodes / "n1" / "node.log").write_text("synthetic run: no node ran\n", encoding="utf-8")
    run.log.write_text(f"synthetic run {name}, seed {seed}\n", encoding="utf-8")
    if reports:
        from harness.report.plots import write_plots

        write_plots(run.path, history, title=name)
    if reports if timeline is None else timeline:
        from harness.report.timeline import write_timeline

        write_timeline(run.path / "timeline.html", history, title=name)
    return run
