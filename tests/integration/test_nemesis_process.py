"""Process faults on a real local cluster: a killed node's process is gone and comes back, a
paused node stops answering and then answers again; one-way and random partitions."""

import random
import sys
import time

import pytest

from tests.integration.nemesis_tools import (TIME_SERVER, UDP_SEND, UDP_SINK, TinyDB, ask_time,
                                             skip_reasons, start_and_wait)

_skip = skip_reasons()
pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(_skip), reason="; ".join(_skip))]

from harness.control.local import LocalBackend  # noqa: E402
from nemesis import grudge as G  # noqa: E402
from nemesis.partition import PartitionNemesis  # noqa: E402
from nemesis.process import ProcessNemesis  # noqa: E402

PORT = 7200
NODES = ["n1", "n2", "n3", "n4", "n5"]


@pytest.fixture(scope="module")
def cluster():
    c = LocalBackend().start(NODES, None)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def db(cluster):
    d = TinyDB(lambda n: [sys.executable, "-c", TIME_SERVER, n.ip, str(PORT)])
    d.setup(cluster)
    try:
        yield d
    finally:
        d.teardown(cluster)


def answers(cluster):
    return {n.name: ask_time(n.ip, PORT) is not None for n in cluster.nodes}


def test_kill_majority_then_restart(cluster, db):
    nem = ProcessNemesis("majority", random.Random(5)).setup(cluster, db)
    pids = {n: cluster.remote(n).daemon_pid(db.DAEMON) for n in NODES}
    op = nem.invoke({"type": "info", "f": "start-kill"})
    killed = op["value"]
    assert len(killed) == 3 and "error" not in op
    for n in NODES:
        assert (cluster.remote(n).daemon_pid(db.DAEMON) is None) == (n in killed)
    assert answers(cluster) == {n: n not in killed for n in NODES}
    op = nem.invoke({"type": "info", "f": "stop-kill"})
    assert op["value"] == killed
    for n in NODES:
        pid = cluster.remote(n).daemon_pid(db.DAEMON)
        assert pid is not None and (pid != pids[n]) == (n in killed)
    assert all(answers(cluster).values())


def test_pause_one_stops_answers_then_resume(cluster, db):
    nem = ProcessNemesis("one", random.Random(2)).setup(cluster, db)
    op = nem.invoke({"type": "info", "f": "start-pause"})
    (paused,) = op["value"]
    assert answers(cluster) == {n: n != paused for n in NODES}
    pid = cluster.remote(paused).daemon_pid(db.DAEMON)
    assert open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "T"
    nem.invoke({"type": "info", "f": "stop-pause"})
    assert all(answers(cluster).values())


def test_primaries_kill_and_heal_all_restarts(cluster, db):
    class WithPrimary(TinyDB):
        def primaries(self, cluster):
            return ["n4"]

    d = WithPrimary(db.argv_for)
    nem = ProcessNemesis("primaries", random.Random(1)).setup(cluster, d)
    assert nem.invoke({"type": "info", "f": "start-kill"})["value"] == ["n4"]
    nem.invoke({"type": "info", "f": "start-pause", "value": ["n2"]})
    assert answers(cluster) == {n: n not in ("n2", "n4") for n in NODES}
    nem.heal_all()
    nem.heal_all()
    assert all(answers(cluster).values())


def test_kill_without_capability_says_so(cluster):
    nem = ProcessNemesis("one").setup(cluster, object())
    op = nem.invoke({"type": "info", "f": "start-kill"})
    assert op["value"] == [] and "no kill() or start()" in op["error"]


# ---------------------------------------------------------------- one-way and random partitions

SINK_PORT = 7201


def delivered(cluster, src, dst, tag):
    d = cluster.node(dst)
    cluster.remote(src).run([sys.executable, "-c", UDP_SEND, d.ip, str(SINK_PORT), tag], timeout=10)
    deadline = time.monotonic() + 0.5   # an upper bound for a datagram on a local bridge
    while time.monotonic() < deadline:
        if f"got {tag} " in cluster.remote(dst).read_log("sink"):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def sinks(cluster):
    for n in cluster.nodes:
        start_and_wait(cluster.remote(n.name), "sink", [sys.executable, "-c", UDP_SINK, n.ip, str(SINK_PORT)])
    try:
        yield
    finally:
        for n in cluster.nodes:
            cluster.remote(n.name).stop_daemon("sink")


def test_one_way_partition_blocks_one_direction_only(cluster, sinks):
    nem = PartitionNemesis("one-way", random.Random(4)).setup(cluster, None)
    try:
        op = nem.invoke({"type": "info", "f": "start-partition"})
        g = op["value"]
        assert g and all(len(v) == 2 for v in g.values()) and len(g) == 3   # B(3) drops A(2)
        b = sorted(g)[0]
        a = g[b][0]
        assert a not in g   # A hears everyone
        assert not delivered(cluster, a, b, "a-to-b-1")
        assert delivered(cluster, b, a, "b-to-a-1")
        nem.invoke({"type": "info", "f": "stop-partition"})
        assert delivered(cluster, a, b, "a-to-b-2")
    finally:
        nem.teardown()


def test_random_partition_cuts_components(cluster, sinks):
    nem = PartitionNemesis("random", random.Random(9)).setup(cluster, None)
    try:
        g = nem.invoke({"type": "info", "f": "start-partition"})["value"]
        comps = G.components(NODES, g)
        assert len(comps) >= 2 and G.complete_grudge(comps) == g
        x, y = comps[0][0], comps[1][0]
        assert not delivered(cluster, x, y, "x-to-y-1")
        nem.heal_all()
        assert delivered(cluster, x, y, "x-to-y-2")
    finally:
        nem.teardown()


def test_pause_mode_container_is_refused_on_the_local_backend(cluster):
    """Only the docker backend can freeze a whole node; elsewhere ``pause-mode: container`` is
    one input-error line (the docker side is in test_docker_backend.py)."""
    from harness.errors import InputError

    with pytest.raises(InputError, match="pause-mode: container needs a backend that freezes a "
                                         "whole node .*the local backend cannot"):
        ProcessNemesis(faults=("pause",), pause_mode="container").setup(cluster, object())
