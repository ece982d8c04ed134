"""Benchmark: how long the docker backend takes to get going. Prints, one figure a line:

- the base image (debootstrap + docker import): built, or found in the cache;
- the node image layer (splitbrain's source, the node agent, etcd): built, or found;
- the same lookup once more (what every later run pays when nothing changed);
- a cached N-node cluster start (network + containers, until every node runs commands), several
  times, and its teardown;
- ``splitbrain test --backend docker --db raft --nemesis partition,kill``: seconds from the
  command's start to the first op invoked and the first ``ok`` op in history.jsonl, when the
  cluster and Raft were up (from splitbrain.log), the whole run, and its verdict;
- the machine's load average before and after (the machine is often shared).

    python bench/docker_startup.py [--from-nothing] [--nodes 5] [--starts 3] [--time-limit 10]

``--from-nothing`` first removes splitbrain's own images (``splitbrain-base:*`` and
``splitbrain-node:*``, labelled ``splitbrain.image``; nothing else) so the build starts from
nothing, as in a fresh CI machine. Needs root, dockerd, debootstrap. It measures; it asserts
nothing.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import time


def remove_our_images(client) -> list[str]:
    """Remove every image labelled as splitbrain's (node images first: they sit on the base)."""
    import docker

    from harness.control.agent_remote import one_line
    from harness.control.docker_image import BASE_REPO, LABEL_KIND, NODE_REPO

    removed = []
    for kind, repo in (("node", NODE_REPO), ("base", BASE_REPO)):
        for img in client.images.list(name=repo, filters={"label": f"{LABEL_KIND}={kind}"}):
            for tag in img.tags:
                if tag.startswith(repo + ":"):
                    try:
                        client.images.remove(tag)  # no force: an image a container uses stays
                        removed.append(tag)
                    except docker.errors.APIError as e:
                        removed.append(f"{tag} KEPT ({one_line(e)[:120]})")
    return removed


def timed(fn):
    t0 = time.monotonic()
    out = fn()
    return out, time.monotonic() - t0


def first_op_run(args, store: str) -> dict:
    """One CLI run, watched from outside: seconds from the command's start to the first op
    invoked and to the first ``ok`` completion in history.jsonl (written and flushed per op), the
    cluster start and target start read from splitbrain.log, the whole run, exit code, verdict."""
    cmd = [sys.executable, "-m", "harness.cli", "test", "--backend", "docker", "--db", "raft",
           "--nemesis", "partition,kill", "--nodes", str(args.nodes),
           "--time-limit", str(args.time_limit), "--store", store]
    t0 = time.monotonic()
    first = first_ok = None
    seen = 0
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        while p.poll() is None and first_ok is None:
            for h in glob.glob(os.path.join(store, "*", "*", "history.jsonl")):
                size = os.path.getsize(h)
                if size > 0 and first is None:
                    first = time.monotonic() - t0
                if size > seen:
                    with open(h, "rb") as f:
                        f.seek(seen)
                        chunk = f.read()
                    seen += chunk.rfind(b"\n") + 1
                    if b'"type":"ok"' in chunk or b'"type": "ok"' in chunk:
                        first_ok = time.monotonic() - t0
            time.sleep(0.02)
        p.wait()
        wall = time.monotonic() - t0
        out.seek(0)
        text = out.read().decode(errors="replace")
    verdict = next((line.strip() for line in text.splitlines() if "verdict:" in line),
                   text.strip().splitlines()[-1] if text.strip() else "")
    logs = glob.glob(os.path.join(store, "*", "*", "splitbrain.log"))
    log = open(logs[0]).read() if logs else ""
    stamps = {}
    for key, pat in (("run", r"^(\d\d:\d\d:\d\d\.\d+) INFO  run "),
                     ("cluster", r"^(\d\d:\d\d:\d\d\.\d+) INFO  cluster up"),
                     ("target", r"^(\d\d:\d\d:\d\d\.\d+) INFO  raft is up")):
        m = re.search(pat, log, re.M)
        if m:
            h, mi, sec = m.group(1).split(":")
            stamps[key] = int(h) * 3600 + int(mi) * 60 + float(sec)
    return {"first": first, "first_ok": first_ok, "wall": wall, "code": p.returncode,
            "verdict": verdict,
            "cluster_s": stamps["cluster"] - stamps["run"] if {"cluster", "run"} <= set(stamps) else None,
            "target_s": stamps["target"] - stamps["cluster"] if {"target", "cluster"} <= set(stamps) else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from-nothing", action="store_true",
                    help="remove splitbrain's images first (build from nothing)")
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=10)
    args = ap.parse_args()

    from harness.control.docker import DockerBackend, connect
    from harness.control.docker_image import ensure_base_image, ensure_node_image

    client = connect()
    print(f"machine load at start (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} cpus")
    if args.from_nothing:
        print(f"removed images: {', '.join(remove_our_images(client)) or '(none)'}")
    base, t_base = timed(lambda: ensure_base_image(client))
    print(f"base image {base}: {t_base:.1f} s")
    node, t_node = timed(lambda: ensure_node_image(client))
    print(f"node image {node}: {t_node:.1f} s (includes the base lookup)")
    print(f"image build total: {t_base + t_node:.1f} s")
    _, t_again = timed(lambda: ensure_node_image(client))
    print(f"image reuse (second lookup, nothing changed): {t_again:.2f} s")

    names = [f"n{i}" for i in range(1, args.nodes + 1)]
    for i in range(args.starts):
        backend = DockerBackend()
        cluster, t_start = timed(lambda: backend.start(names))
        _, t_stop = timed(cluster.stop)
        print(f"cached {args.nodes}-node start #{i + 1}: {t_start:.1f} s "
              f"(image lookup {backend.timings['image_s']:.2f} s); teardown {t_stop:.1f} s")

    def s(x):
        return f"{x:.1f} s" if x is not None else "n/a"

    with tempfile.TemporaryDirectory(prefix="sb-bench-docker-") as store:
        r = first_op_run(args, store)
    print(f"splitbrain test --backend docker --db raft --nemesis partition,kill --nodes {args.nodes} "
          f"--time-limit {args.time_limit:g}: first op invoked after {s(r['first'])}, first ok op "
          f"after {s(r['first_ok'])} (cluster up {s(r['cluster_s'])} after the run's start, raft up "
          f"{s(r['target_s'])} later); whole run {s(r['wall'])}; exit {r['code']}; {r['verdict']}")
    print(f"machine load at the end (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} cpus")
    return 0


if __name__ == "__main__":
    sys.exit(main())
