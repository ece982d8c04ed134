"""The etcd target on a real 3-node etcd 3.4 cluster in network namespaces (local backend)."""

import os
import random
import shutil
import threading
import time

import pytest

pytestmark = [
    pytest.mark.root,
    pytest.mark.etcd,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(shutil.which("etcd") is None,
                       reason="needs the etcd binary (apt install etcd-server)"),
]

from harness.errors import EnvironmentProblem  # noqa: E402
from harness.targets import make_target  # noqa: E402

READ = {"f": "read", "value": None}


def _backend():
    from harness.control.local import LocalBackend
    return LocalBackend()


@pytest.fixture(scope="module")
def etcd(tmp_path_factory):
    cluster = _backend().start(["n1", "n2", "n3"], str(tmp_path_factory.mktemp("etcd-run")))
    target = make_target("etcd", {"op_timeout_s": 3})
    try:
        target.db.setup(cluster)
        yield cluster, target
    finally:
        try:
            target.db.teardown(cluster)
        finally:
            cluster.stop()


def _clients(cluster, target, **opts):
    factory = target.client_factory if not opts else make_target("etcd", opts).client_factory
    return {n.name: factory.open(n) for n in cluster.nodes}


def _eventually(fn, timeout=15.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def test_setup_starts_every_member_healthy(etcd):
    cluster, target = etcd
    for node in cluster.nodes:
        assert cluster.remote(node.name).daemon_pid("etcd") is not None
        ok, detail = target.db.health(node)
        assert ok, detail


def test_write_read_cas_through_different_nodes(etcd):
    cluster, target = etcd
    c = _clients(cluster, target)
    try:
        assert c["n1"].invoke({"f": "write", "value": 1})["type"] == "ok"
        assert c["n2"].invoke(READ) == {"f": "read", "value": 1, "type": "ok"}
        assert c["n3"].invoke({"f": "cas", "value": [1, 2]})["type"] == "ok"
        out = c["n1"].invoke({"f": "cas", "value": [1, 3]})
        assert out["type"] == "fail" and "compare" in out["error"]
        assert c["n2"].invoke(READ)["value"] == 2
        ser = _clients(cluster, target, serializable=True, op_timeout_s=3)
        assert _eventually(lambda: ser["n3"].invoke(READ)["value"] == 2)
        # an absent key reads None
        other = make_target("etcd", {"key": "never-written"}).client_factory.open(cluster.nodes[0])
        assert other.invoke(READ) == {"f": "read", "value": None, "type": "ok"}
        other.close()
        for x in ser.values():
            x.close()
    finally:
        for x in c.values():
            x.close()


def test_primaries_returns_the_one_leader(etcd):
    cluster, target = etcd
    primaries = target.db.primaries(cluster)
    assert len(primaries) == 1 and primaries[0] in {n.name for n in cluster.nodes}


def test_kill_and_restart_follower_keeps_data(etcd):
    cluster, target = etcd
    db = target.db
    leader = db.primaries(cluster)[0]
    follower = next(n for n in cluster.nodes if n.name != leader)
    c = _clients(cluster, target)
    member_before = c[follower.name].status()["header"]["member_id"]
    assert c[leader].invoke({"f": "write", "value": 7})["type"] == "ok"

    db.kill(cluster, follower)
    try:
        assert cluster.remote(follower.name).daemon_pid("etcd") is None
        # The old kept-alive connection may not have seen the FIN yet: then the request leaves
        # and meets a reset, which is ambiguous (info). Never ok.
        assert c[follower.name].invoke({"f": "write", "value": 9})["type"] in ("fail", "info")
        fresh = target.client_factory.open(follower)
        down = fresh.invoke({"f": "write", "value": 9})
        assert down["type"] == "fail" and "not sent" in down["error"], down  # refused: never sent
        fresh.close()
        assert c[leader].invoke({"f": "write", "value": 8})["type"] == "ok"  # quorum of 2 left
    finally:
        db.start(cluster, follower)
    db.wait_healthy(cluster, [follower.name], timeout_s=30)
    assert c[follower.name].invoke(READ) == {"f": "read", "value": 8, "type": "ok"}
    assert c[follower.name].status()["header"]["member_id"] == member_before  # same member, data kept
    db.start(cluster, follower)  # already running: no-op
    for x in c.values():
        x.close()


def test_pause_makes_writes_info_and_resume_recovers(etcd):
    cluster, target = etcd
    db = target.db
    leader = db.primaries(cluster)[0]
    follower = next(n for n in cluster.nodes if n.name != leader)
    c = _clients(cluster, target, op_timeout_s=1)
    db.pause(cluster, follower)
    try:
        w = c[follower.name].invoke({"f": "write", "value": 4})
        assert w["type"] == "info" and w["error"] == "timeout", w
        r = c[follower.name].invoke(READ)
        assert r["type"] == "fail" and r["value"] is None
    finally:
        db.resume(cluster, follower)
    db.wait_healthy(cluster, [follower.name], timeout_s=30)
    assert c[follower.name].invoke({"f": "write", "value": 5})["type"] == "ok"
    assert c[leader].invoke(READ)["value"] == 5


def test_log_file_downloads(etcd, tmp_path):
    cluster, target = etcd
    (name, path), = target.db.log_files().items()
    assert name == "etcd.log"
    dest = tmp_path / "n1-etcd.log"
    cluster.remote("n1").download(path, str(dest))
    text = dest.read_text()
    assert "n1" in text and "etcd" in text


def test_concurrent_register_run_with_leader_kill_is_linearizable(etcd):
    pytest.importorskip("harness.history.pairing")
    from workloads import make_workload

    cluster, target = etcd
    db = target.db
    factory = make_target("etcd", {"op_timeout_s": 3, "key": "linearizable"}).client_factory  # starts absent
    workload = make_workload("register", {})
    ops = workload.generator(random.Random(1))
    lock = threading.Lock()
    history = []
    concurrency = 6
    stop = time.monotonic() + 6
    gen_lock = threading.Lock()

    def record(op):
        with lock:
            op["index"] = len(history)
            history.append(op)

    def worker(thread):
        process = thread
        client = factory.open(cluster.nodes[thread % len(cluster.nodes)])
        try:
            while time.monotonic() < stop:
                with gen_lock:
                    op = ops()
                record({**op, "type": "invoke", "process": process})
                done = client.invoke(dict(op))
                record({"f": op["f"], "value": done.get("value"), "type": done["type"],
                        "process": process, **({"error": done["error"]} if "error" in done else {})})
                if done["type"] == "info":
                    process += concurrency
                time.sleep(0.005)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(concurrency)]
    for t in threads:
        t.start()
    time.sleep(2)
    leader = db.primaries(cluster)[0]
    db.kill(cluster, leader)
    time.sleep(1.5)
    db.start(cluster, leader)
    for t in threads:
        t.join()
    db.wait_healthy(cluster, [n.name for n in cluster.nodes], timeout_s=30)

    types = {op["type"] for op in history}
    assert "ok" in types and len(history) > 100
    result = workload.checker().check({}, history, {})
    assert result["valid"] is True, result


def test_single_node_setup_teardown_and_startup_failure(tmp_path):
    cluster = _backend().start(["n1"], str(tmp_path))
    try:
        target = make_target("etcd", {})
        target.db.setup(cluster)
        c = target.client_factory.open(cluster.nodes[0])
        assert c.invoke({"f": "write", "value": 3})["type"] == "ok"
        c.close()
        target.db.teardown(cluster)
        remote = cluster.remote("n1")
        assert remote.daemon_pid("etcd") is None
        assert os.path.isdir(os.path.join(remote.node_dir, "data", "etcd", "member"))  # kept
        target.db.teardown(cluster)  # idempotent

        broken = make_target("etcd", {"extra_args": ["--no-such-flag"], "start_timeout_s": 10})
        with pytest.raises(EnvironmentProblem) as e:
            broken.db.setup(cluster)
        msg = str(e.value)
        assert "n1" in msg and "no-such-flag" in msg and "\n" not in msg
        broken.db.teardown(cluster)
    finally:
        cluster.stop()
