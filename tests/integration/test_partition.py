"""The partition nemesis on a real local cluster (root only)."""

import os
import random
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.netns_echo import ECHO, NETNS_MARKS, PORT, PROBE

pytestmark = NETNS_MARKS

from harness.control.local import LocalBackend  # noqa: E402
from nemesis import grudge as G  # noqa: E402
from nemesis.partition import PartitionNemesis, partition_generator, partition_schedule  # noqa: E402

NODES = ["n1", "n2", "n3"]


class NoPrimaries:
    pass


class FixedPrimaries:
    def __init__(self, prim):
        self.prim = prim

    def primaries(self, cluster):
        return self.prim


@pytest.fixture(scope="module")
def cluster():
    c = LocalBackend().start(NODES, None)
    try:
        for n in c.nodes:
            r = c.remote(n.name)
            r.start_daemon("echo", [sys.executable, "-c", ECHO, n.ip, str(PORT)])
        for n in c.nodes:
            r = c.remote(n.name)
            deadline = time.monotonic() + 5
            while "listening" not in r.read_log("echo"):
                assert time.monotonic() < deadline, r.read_log("echo")
                time.sleep(0.02)
        yield c
    finally:
        c.stop()
        assert not [ns for ns in os.listdir("/run/netns") if ns.startswith(c.prefix)] \
            if os.path.isdir("/run/netns") else True


@pytest.fixture
def nemesis(cluster):
    nem = PartitionNemesis("one", random.Random(42))
    nem.setup(cluster, NoPrimaries())
    try:
        yield nem
    finally:
        nem.teardown()


def reach(cluster, src, dst, timeout=0.7):
    ip = cluster.node(dst).ip
    res = cluster.remote(src).run([sys.executable, "-c", PROBE, ip, str(PORT), str(timeout)],
                                  check=False, timeout=timeout + 5)
    return res.returncode == 0


def matrix(cluster):
    """{(src, dst): reachable} for every ordered pair, probed in parallel."""
    pairs = [(a, b) for a in NODES for b in NODES if a != b]
    with ThreadPoolExecutor(len(pairs)) as ex:
        results = list(ex.map(lambda p: reach(cluster, *p), pairs))
    return dict(zip(pairs, results))


def chain_rules(cluster, node, chain):
    out = cluster.remote(node).run(["iptables", "-w", "-S", chain]).stdout
    return [l for l in out.splitlines() if l.startswith("-A")]


def test_isolate_n1_then_heal(cluster, nemesis):
    assert all(matrix(cluster).values())
    op = nemesis.invoke({"type": "info", "process": "nemesis", "f": "start-partition",
                         "value": G.isolate(NODES, ["n1"])})
    assert op["type"] == "info" and op["process"] == "nemesis" and op["f"] == "start-partition"
    assert op["value"] == {"n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"]}
    assert "error" not in op
    ips = {n.name: n.ip for n in cluster.nodes}
    assert chain_rules(cluster, "n1", nemesis.chain) == [
        f"-A {nemesis.chain} -s {ips['n2']}/32 -j DROP", f"-A {nemesis.chain} -s {ips['n3']}/32 -j DROP"]
    m = matrix(cluster)
    assert m == {("n1", "n2"): False, ("n1", "n3"): False, ("n2", "n1"): False,
                 ("n3", "n1"): False, ("n2", "n3"): True, ("n3", "n2"): True}
    # the controller is never partitioned away
    with socket.create_connection((ips["n1"], PORT), timeout=2) as sock:
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
    nemesis.heal_all()
    assert all(matrix(cluster).values())


def test_stop_partition_heals(cluster, nemesis):
    nemesis.invoke({"type": "info", "f": "start-partition", "value": {"n2": ["n3"], "n3": ["n2"]}})
    assert not reach(cluster, "n2", "n3")
    op = nemesis.invoke({"type": "info", "f": "stop-partition"})
    assert op["value"] == "network-healed" and op["type"] == "info"
    assert all(chain_rules(cluster, n, nemesis.chain) == [] for n in NODES)
    assert all(matrix(cluster).values())
    nemesis.heal_all()  # many times is fine
    nemesis.heal_all()


def test_kind_computes_and_records_grudge(cluster):
    for kind in ("random-halves", "halves", "one", "majorities-ring", "bridge"):
        nem = PartitionNemesis(kind, random.Random(1))
        nem.setup(cluster, None)
        try:
            op = nem.invoke({"type": "info", "f": "start-partition", "value": None})
            g = op["value"]
            assert g == G.for_kind(kind, NODES, random.Random(1))
            ips = {n.name: n.ip for n in cluster.nodes}
            for node in NODES:
                want = [f"-A {nem.chain} -s {ips[d]}/32 -j DROP" for d in g.get(node, [])]
                assert chain_rules(cluster, node, nem.chain) == want
        finally:
            nem.teardown()


def test_new_grudge_replaces_old(cluster, nemesis):
    nemesis.invoke({"type": "info", "f": "start-partition", "value": {"n1": ["n2"]}})
    nemesis.invoke({"type": "info", "f": "start-partition", "value": {"n3": ["n1"]}})
    ip1 = cluster.node("n1").ip
    assert chain_rules(cluster, "n1", nemesis.chain) == []
    assert chain_rules(cluster, "n3", nemesis.chain) == [f"-A {nemesis.chain} -s {ip1}/32 -j DROP"]


def test_primaries(cluster):
    nem = PartitionNemesis("primaries", random.Random(5))
    nem.setup(cluster, FixedPrimaries(["n2"]))
    try:
        op = nem.invoke({"type": "info", "f": "start-partition"})
        assert op["value"] == G.isolate(NODES, ["n2"]) and "error" not in op
        nem.db = NoPrimaries()
        op = nem.invoke({"type": "info", "f": "start-partition"})
        assert "primaries unknown" in op["error"]
        assert sorted(len(c) for c in G.components(NODES, op["value"])) == [1, 2]
    finally:
        nem.teardown()


def test_bad_ops(cluster, nemesis):
    with pytest.raises(ValueError):
        nemesis.invoke({"type": "info", "f": "start-partition", "value": {"n9": ["n1"]}})
    with pytest.raises(ValueError):
        nemesis.invoke({"type": "info", "f": "kill"})
    with pytest.raises(ValueError):
        PartitionNemesis("sideways")


def test_teardown_removes_chain_and_heal_all_is_safe_everywhere(cluster):
    nem = PartitionNemesis("halves", random.Random(0))
    nem.heal_all()  # before setup: nothing to do
    nem.setup(cluster, None)
    nem.setup(cluster, None)  # twice: still one jump
    jumps = [l for l in cluster.remote("n1").run(["iptables", "-w", "-S", "INPUT"]).stdout.splitlines()
             if nem.chain in l]
    assert jumps == [f"-A INPUT -m comment --comment {cluster.prefix} -j {nem.chain}"]
    nem.invoke({"type": "info", "f": "start-partition"})
    nem.teardown()
    nem.teardown()
    for n in NODES:
        out = cluster.remote(n).run(["iptables", "-w", "-S"]).stdout
        assert nem.chain not in out
    nem.heal_all()  # chain gone: nothing to heal, no error
    assert all(matrix(cluster).values())


def test_schedule_shape():
    s = partition_schedule(5)
    assert [x.get("f") for x in s] == [None, "start-partition", None, "stop-partition"]
    assert s[0] == {"type": "sleep", "value": 5}
    assert all(x["type"] == "info" for x in s if "f" in x)


def test_schedule_runs_as_a_generator():
    import harness.generator as gen

    h = gen.Simulator(2).run(gen.time_limit(22, gen.nemesis(partition_generator(5))))
    invokes = [(o["time"] // 10**9, o["f"]) for o in h if o["process"] == "nemesis"][::2]
    assert invokes == [(5, "start-partition"), (10, "stop-partition"),
                       (15, "start-partition"), (20, "stop-partition")]
