"""Linearizability checker benchmark: Porcupine's histories, Knossos's data, and a big generated
register history.

    python bench/linearizability.py [--pure] [--no-big] [--ops 100000] [--keys 10] [--clients 20]

Prints the total time over Porcupine's 109 test histories (103 etcd logs with cas-register/nil and
6 kv histories partitioned by key, as Porcupine's own tests check them) in wall-clock and CPU
seconds (the machine is shared: CPU time is the steadier figure), the slowest five, then each
kv-nopart run of EXPECTED.txt (the whole map as one search), the time on Knossos's cas-register,
multi-register and mutex data, the time on a generated
history of ``--ops`` ops over ``--keys`` independent registers with ``--clients`` clients and
indefinite (info) ops mixed in (checked with P-compositionality), and the peak memory (max RSS).
A verdict that differs from the expected one is printed and makes the exit code 1. ``--pure``
forces the pure-Python search (no native core).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checkers.linearizable import check_history, make_model  # noqa: E402
from checkers.linearizable.native import AVAILABLE  # noqa: E402
from harness.history.formats import read_history  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def generated_history(n_ops: int, keys: int, clients: int, info_rate: float = 0.02,
                      seed: int = 1) -> list[dict]:
    """A valid history of a linearizable store: ``clients`` workers issue read/write/cas on
    ``[key, value]`` registers; each op takes effect at a random instant inside its interval
    (so the history is linearizable); ``info_rate`` of the ops end ``info`` (their effect happened
    or not, at random) and the worker continues as a new process, as in Jepsen."""
    rnd = random.Random(seed)
    regs = {k: None for k in range(keys)}
    proc = list(range(clients))
    events = []  # (time, seq, op dict)
    t = [0.0] * clients
    seq = 0
    per_client = n_ops // clients
    # every op: start, effect and end times; effects are applied in global time order later
    planned = []
    for c in range(clients):
        for _ in range(per_client):
            start = t[c] + rnd.expovariate(1.0)
            end = start + rnd.expovariate(0.5)
            eff = rnd.uniform(start, end)
            t[c] = end
            planned.append((eff, c, start, end))
    planned.sort()
    ops_by_client: dict[int, list] = {c: [] for c in range(clients)}
    for eff, c, start, end in planned:
        k = rnd.randrange(keys)
        f = rnd.choice(("read", "write", "cas"))
        info = rnd.random() < info_rate
        happened = not info or rnd.random() < 0.5
        if f == "read":
            iv, out, ok = [k, None], [k, regs[k]], True
        elif f == "write":
            v = rnd.randrange(5)
            iv = out = [k, v]
            ok = True
            if happened:
                regs[k] = v
        else:
            frm, to = rnd.randrange(5), rnd.randrange(5)
            iv = out = [k, [frm, to]]
            ok = regs[k] == frm
            if ok and happened:
                regs[k] = to
        ops_by_client[c].append((start, end, f, iv, out, "info" if info else ("ok" if ok else "fail")))
    for c in range(clients):
        for start, end, f, iv, out, typ in sorted(ops_by_client[c]):
            p = proc[c]
            events.append((start, seq, {"type": "invoke", "process": p, "f": f, "value": iv}))
            seq += 1
            events.append((end, seq, {"type": typ, "process": p, "f": f,
                                      "value": out if typ == "ok" else iv}))
            seq += 1
            if typ == "info":
                proc[c] += clients
    events.sort(key=lambda e: (e[0], e[1]))
    return [dict(op, index=i, time=int(tm * 1e6)) for i, (tm, _s, op) in enumerate(events)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pure", action="store_true", help="pure-Python search only")
    ap.add_argument("--no-big", action="store_true", help="skip the generated history")
    ap.add_argument("--ops", type=int, default=100_000)
    ap.add_argument("--keys", type=int, default=10)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    native = False if args.pure else None
    print(f"native core: {'built' if AVAILABLE else 'not built'}; "
          f"path: {'pure Python' if args.pure or not AVAILABLE else 'native where the model allows'}")
    bad = 0
    times = []  # (wall, cpu, name) of the 109 partitioned checks
    nopart = []
    read_s = 0.0
    for line in (DATA / "porcupine" / "EXPECTED.txt").read_text().splitlines():
        path, kind, verdict = line.split()[:3]
        t0 = time.perf_counter()
        if kind == "etcd":
            h, model, part = read_history(str(DATA / "porcupine" / path), "porcupine-etcd"), \
                make_model("cas-register", None), True
        else:
            h, model, part = read_history(str(DATA / "porcupine" / path), "porcupine-kv"), \
                make_model("kv"), kind == "kv"
        read_s += time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        r = check_history(h, model, timeout_s=args.timeout, native=native, partition=part)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        (times if part else nopart).append((dt, dc, f"{path} ({kind})", r))
        if r["valid"] is not verdict.startswith("Ok"):
            bad += 1
            print(f"MISMATCH {path} {kind}: {r['valid']} {r.get('cause', '')}")
    total, total_cpu = sum(t[0] for t in times), sum(t[1] for t in times)
    etcd = [t for t in times if "(etcd)" in t[2]]
    print(f"porcupine: {len(times)} histories ({len(etcd)} etcd, {len(times) - len(etcd)} kv by key): "
          f"total {total:.3f} s wall, {total_cpu:.3f} s CPU "
          f"(etcd {sum(t[0] for t in etcd):.3f} s wall, {sum(t[1] for t in etcd):.3f} s CPU); "
          f"reading the files took {read_s:.3f} s more")
    print("  slowest five:")
    for t, c, n, _r in sorted(times, key=lambda t: t[:2], reverse=True)[:5]:
        print(f"  {t:8.3f} s wall {c:8.3f} s CPU  {n}")
    for t, c, n, r in nopart:
        print(f"kv unpartitioned: {t:8.3f} s wall {c:8.3f} s CPU  {n}: {r['valid']} "
              f"configurations={r['configurations']}")

    kn = DATA / "knossos"
    models = {"cas-register": ("cas-register", 0), "multi-register": ("multi-register", {"x": 0, "y": 0}),
              "mutex": ("mutex", None)}
    t_kn, c_kn, n_kn = 0.0, 0.0, 0
    for line in (kn / "EXPECTED.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        path = line.split()[0]
        name, initial = models[path.split("/")[0]]
        h = read_history(str(kn / path), "edn")
        t0, c0 = time.perf_counter(), time.process_time()
        r = check_history(h, make_model(name, initial), timeout_s=args.timeout, native=native)
        t_kn += time.perf_counter() - t0
        c_kn += time.process_time() - c0
        n_kn += 1
        want = "/good/" in path
        if r["valid"] is not want:
            bad += 1
            print(f"MISMATCH knossos {path}: {r['valid']}")
    print(f"knossos: {n_kn} histories, total {t_kn:.3f} s wall, {c_kn:.3f} s CPU")

    if not args.no_big:
        t0 = time.perf_counter()
        h = generated_history(args.ops, args.keys, args.clients)
        gen = time.perf_counter() - t0
        n_info = sum(1 for op in h if op["type"] == "info")
        t0, c0 = time.perf_counter(), time.process_time()
        r = check_history(h, make_model("independent-cas-register", None), timeout_s=args.timeout,
                          native=native)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        print(f"generated: {args.ops} ops, {args.keys} keys, {args.clients} clients, {n_info} info; "
              f"generated in {gen:.1f} s; checked in {dt:.2f} s wall, {dc:.2f} s CPU "
              f"(incl. pairing): {r['valid']} "
              f"{r.get('cause', '')} partitions={r['partitions']} configurations={r['configurations']}")
        if r["valid"] is not True:
            bad += 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak:.0f} MB")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
