"""The commands target on real clusters (local backend, network namespaces), from YAML only:

- Redis (Debian redis-server) as a primary and two asynchronous replicas
  (docs/audits/redis-replicas.yaml): the DB capabilities on a live cluster (status, primaries,
  kill/start, pause/resume, log collection), the mechanism by which acknowledged writes are lost
  (a primary killed with SIGKILL restarts without them and its replicas resynchronise from it),
  and a short ``splitbrain test`` run of the audit through the CLI whose set checker must report
  the lost acknowledged adds;
- etcd through the commands target (docs/audits/etcd-commands.yaml) gives the same verdict as the
  built-in etcd target for the same workload, nemeses, nodes and seed: valid with quorum reads,
  invalid with serializable reads under partitions.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.config import load_spec
from harness.targets import make_target

REPO = Path(__file__).resolve().parents[2]
REDIS_AUDIT = REPO / "docs" / "audits" / "redis-replicas.yaml"
ETCD_AUDIT = REPO / "docs" / "audits" / "etcd-commands.yaml"
CLI = [sys.executable, "-m", "harness.cli"]

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
]
needs_redis = pytest.mark.skipif(shutil.which("redis-server") is None or shutil.which("redis-cli") is None,
                                 reason="needs redis-server and redis-cli (apt install redis-server)")
needs_etcd = pytest.mark.skipif(shutil.which("etcd") is None or shutil.which("etcdctl") is None,
                                reason="needs etcd and etcdctl (apt install etcd-server etcd-client)")


def _eventually(fn, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture
def redis_cluster(tmp_path):
    from harness.control.local import LocalBackend

    spec = load_spec(str(REDIS_AUDIT))
    target = make_target(spec.db, spec.db_options)
    from workloads import make_workload

    target.client_factory.use_workload(make_workload("set", {}))
    cluster = LocalBackend().start(["n1", "n2", "n3"], str(tmp_path / "run"))
    try:
        target.db.setup(cluster)
        yield cluster, target
    finally:
        try:
            target.db.teardown(cluster)
        finally:
            cluster.stop()


def _read(target, node):
    c = target.client_factory.open(node)
    try:
        done = c.invoke({"f": "read", "value": None})
    finally:
        c.close()
    return set(done["value"]) if done["type"] == "ok" else None


@needs_redis
def test_redis_replicas_lose_acknowledged_adds_when_the_primary_is_killed(redis_cluster):
    cluster, target = redis_cluster
    db = target.db
    n1, n2, n3 = cluster.nodes
    assert db.primaries(cluster) == ["n1"]

    primary = target.client_factory.open(n1)
    acked = [e for e in range(50) if primary.invoke({"f": "add", "value": e})["type"] == "ok"]
    primary.close()
    assert acked == list(range(50))
    # A replica refuses writes: a definite fail, never ok.
    replica = target.client_factory.open(n2)
    assert replica.invoke({"f": "add", "value": 999})["type"] == "fail"
    replica.close()
    # Asynchronous replication catches up...
    assert _eventually(lambda: _read(target, n2) == set(acked) and _read(target, n3) == set(acked))

    # ...then SIGKILL the primary and restart it on its kept data directory.
    db.kill(cluster, "n1")
    assert db.primaries(cluster) == []
    db.start(cluster, "n1")
    assert _eventually(lambda: db.primaries(cluster) == ["n1"])
    # It comes back without the acknowledged adds (no snapshot was due), and the replicas
    # resynchronise from it: every copy of the acknowledged elements is gone.
    assert _eventually(lambda: all(_read(target, n) == set() for n in (n1, n2, n3)), timeout=60)


@needs_redis
def test_redis_pause_stops_answers_until_resume_and_logs_are_collected(redis_cluster, tmp_path):
    cluster, target = redis_cluster
    db = target.db
    n2 = cluster.nodes[1]
    db.pause(cluster, "n2")
    c = target.client_factory.open(n2)
    assert c.invoke({"f": "read", "value": None})["type"] == "fail"  # timed out: paused
    c.close()
    db.resume(cluster, "n2")
    assert _eventually(lambda: _read(target, n2) is not None, timeout=10)

    db.teardown(cluster)
    logs = tmp_path / "logs"
    cluster.download_logs(str(logs))
    for n in ("n1", "n2", "n3"):
        text = (logs / n / "redis-server.log").read_text()
        assert "Ready to accept connections" in text
    assert "MASTER <-> REPLICA sync" in (logs / "n2" / "redis-server.log").read_text()


def _results(store: Path) -> dict:
    """The results.json of the one run stored under ``store``."""
    return json.loads((next(store.glob("*/latest")).resolve() / "results.json").read_text())


@needs_redis
def test_the_redis_audit_finds_lost_acknowledged_adds_through_the_cli(tmp_path):
    """docs/audits/redis-replicas.yaml, shortened to one kill of the primary: at 12 s n1 is
    SIGKILLed; the clients stop at 20 s; n1 restarts when the nemesis's 12 s wait ends (about
    24 s); the replicas resynchronise from it (6 s after the restart in a run on a loaded
    machine), and 12 s after the restart every node reads the set. The adds n1 acknowledged before the kill
    are gone from every final read, and the set checker must say so."""
    store = tmp_path / "store"
    res = subprocess.run(CLI + ["test", str(REDIS_AUDIT), "--nemesis", "kill",
                                "--nemesis-option", "kill-targets=primaries",
                                "--nemesis-option", "interval=12", "--time-limit", "20",
                                "--seed", "7", "--store", str(store)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr[-3000:]
    run = next(store.glob("*/latest")).resolve()
    results = _results(store)
    w = results["workload"]
    assert results["valid"] is False and w["valid"] is False
    assert w["lost-count"] > 0 and w["unexpected-count"] == 0
    assert "was acknowledged, but read op" in str(w["explanation"])

    ops = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    # A nemesis op's completion (type info too) carries what it did in its value.
    kills = [o for o in ops if o.get("process") == "nemesis" and o.get("f") == "start-kill"
             and o["value"] is not None]
    assert len(kills) == 1 and kills[0]["value"] == ["n1"], kills
    kill_time = kills[0]["time"]
    restarts = [o for o in ops if o.get("process") == "nemesis" and o.get("f") == "stop-kill"
                and o["value"] is not None and o["time"] > kill_time]
    assert restarts
    acked = {o["value"]: o["time"] for o in ops if o.get("f") == "add" and o["type"] == "ok"}
    final_reads = [o for o in ops if o.get("f") == "read" and o["type"] == "ok"
                   and o["time"] > restarts[-1]["time"]]
    assert {o["node"] for o in final_reads} == {"n1", "n2", "n3"}
    seen_at_end = set().union(*(set(o["value"]) for o in final_reads))
    for e in w["lost"]:  # the checker lists up to 20 of them
        assert e in acked and acked[e] < kill_time, e   # acknowledged by n1 before the kill
        assert e not in seen_at_end, e                    # and in no node's final read
    for n in ("n1", "n2", "n3"):
        assert "Ready to accept connections" in (run / "nodes" / n / "redis-server.log").read_text()
    assert "Replication ID mismatch" in (run / "nodes" / "n1" / "redis-server.log").read_text()


#: reads -> (extra args for both targets, expected (exit code, valid)). Quorum reads are
#: linearizable; serializable reads answer from a node's local state, so under partitions they
#: return stale values. With values 0..1000 a stale read rarely matches a write whose outcome is
#: unknown, and with a partition every 2 s the checker caught one in each of 10 such 12 s runs
#: (5 seeds x 2 targets; docs/auditing.md has the figures) -- but not in every run: a run whose
#: partitions happen to cut no read off stays valid (seen once in CI-like conditions). So a
#: target gets up to SEEDS runs to show the expected verdict (a run that is valid or, rarely,
#: unknown is followed by the next seed), and a quorum-read run must be valid at once.
SEEDS = (11, 12, 13)
ETCD_CASES = {
    "linearizable": (["--nemesis", "partition,kill", "--time-limit", "10"], (0, True)),
    "serializable": (["--nemesis", "partition", "--nemesis-option", "interval=2",
                      "--workload-option", "max_value=1000", "--time-limit", "12"], (1, False)),
}


@needs_etcd
@pytest.mark.parametrize("reads", sorted(ETCD_CASES))
def test_etcd_through_commands_gives_the_verdict_of_the_builtin_target(tmp_path, reads):
    extra, expected = ETCD_CASES[reads]
    audit, builtin = ETCD_AUDIT, ["--db", "etcd"]
    if reads == "serializable":
        # --db-option replaces the whole db-options block, so the commands target gets a copy
        # of the audit with the client option set.
        text = ETCD_AUDIT.read_text()
        old = "client-options: {key: r, op_timeout_s: 4}"
        assert text.count(old) == 1
        audit = tmp_path / "etcd-serializable.yaml"
        audit.write_text(text.replace(old, "client-options: {key: r, op_timeout_s: 4, serializable: true}"))
        builtin += ["--db-option", "serializable=true"]
    verdicts = {}
    for label, args in {"commands": [str(audit)], "builtin": builtin}.items():
        tried = []
        for seed in SEEDS:
            common = ["--workload", "register", "--nodes", "n1,n2,n3", "--seed", str(seed)] + extra
            store = tmp_path / f"{label}-{seed}"
            res = subprocess.run(CLI + ["test"] + args + common + ["--store", str(store)],
                                 capture_output=True, text=True, timeout=600)
            assert res.returncode in (0, 1, 2), res.stderr[-2000:]
            run = next(store.glob("*/latest")).resolve()
            assert (run / "results.json").exists(), (res.returncode, res.stdout, res.stderr[-3000:])
            results = _results(store)
            assert "etcd.log" in os.listdir(run / "nodes" / "n1")
            test_yaml = (run / "test.yaml").read_text()
            assert ("serializable: true" in test_yaml) is (reads == "serializable")
            tried.append((res.returncode, results["valid"]))
            if reads == "linearizable":
                assert tried[-1] == expected, (label, seed, tried)
                break
            if tried[-1] == expected:
                break
        verdicts[label] = tried[-1]
    assert verdicts["commands"] == verdicts["builtin"] == expected, verdicts
