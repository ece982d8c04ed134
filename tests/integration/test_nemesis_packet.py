"""Packet faults on a real local cluster: each is observed on UDP echoes, then healed."""

import random
import statistics
import sys

import pytest

from tests.integration.nemesis_tools import UDP_ECHO, probe, skip_reasons, start_and_wait

_skip = skip_reasons(need_nfqueue=True)
pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(_skip), reason="; ".join(_skip))]

from harness.control.local import LocalBackend  # noqa: E402
from nemesis.packet import HOLDER, PacketNemesis  # noqa: E402

PORT = 7100


@pytest.fixture(scope="module")
def cluster():
    c = LocalBackend().start(["n1", "n2"], None)
    try:
        start_and_wait(c.remote("n2"), "echo", [sys.executable, "-c", UDP_ECHO, c.node("n2").ip, str(PORT)])
        yield c
    finally:
        c.stop()


@pytest.fixture
def nem(cluster):
    n = PacketNemesis(random.Random(3)).setup(cluster)
    try:
        yield n
    finally:
        n.teardown()


def run_probe(cluster, **kw):
    return probe(cluster.remote("n1"), cluster.node("n2").ip, PORT, **kw)


def fault_on_n1(nem, **fault):
    op = nem.invoke({"type": "info", "f": "start-packet", "value": dict(fault, nodes=["n1"])})
    assert "error" not in op, op
    assert op["value"]["nodes"] == ["n1"]
    return op


def healed(nem, cluster):
    op = nem.invoke({"type": "info", "f": "stop-packet"})
    assert op["value"] == "packets-healed"
    assert cluster.remote("n1").daemon_pid(HOLDER) is None
    after = run_probe(cluster, n=100)
    assert after["unique"] == after["received"] == 100 and after["out_of_order"] == 0
    return after


def test_loss_drops_about_the_fraction_asked_then_heals(cluster, nem):
    fault_on_n1(nem, loss=0.3)
    r = run_probe(cluster, n=400)
    lost = 1 - r["unique"] / r["sent"]
    assert 0.18 <= lost <= 0.42, r   # binomial(400, 0.3): sd 2.3 %
    healed(nem, cluster)


def test_delay_adds_the_asked_latency_then_heals(cluster, nem):
    before = statistics.median(run_probe(cluster, n=30)["rtts_ms"])
    fault_on_n1(nem, delay_ms=120)
    r = run_probe(cluster, n=30, gap=0.01)
    assert r["unique"] == 30
    # Delay only ever adds time: every echo took at least the delay.
    assert min(r["rtts_ms"]) >= 120 * 0.95, r["rtts_ms"][:5]
    assert statistics.median(r["rtts_ms"]) < 120 * 3 + before, r["rtts_ms"]
    after = healed(nem, cluster)
    assert statistics.median(after["rtts_ms"]) < 60


def test_duplication_sends_extra_copies_then_heals(cluster, nem):
    fault_on_n1(nem, duplicate=0.3)
    r = run_probe(cluster, n=300)
    extra = r["received"] / r["unique"] - 1
    assert r["unique"] == 300
    assert 0.18 <= extra <= 0.42, r
    healed(nem, cluster)


def test_reorder_lets_later_packets_overtake_then_heals(cluster, nem):
    fault_on_n1(nem, reorder=0.25, reorder_ms=30)
    r = run_probe(cluster, n=200, gap=0.002)
    assert r["unique"] == 200
    # A held packet is overtaken by those sent in the next 30 ms: ~25 % arrive out of order.
    assert 0.1 <= r["out_of_order"] / 200 <= 0.45, r["out_of_order"]
    healed(nem, cluster)


def test_rate_limit_installs_tbf_then_heals(cluster, nem):
    fault_on_n1(nem, rate="1mbit")
    q = cluster.remote("n1").run(["tc", "qdisc", "show", "dev", "eth0"]).stdout
    assert "tbf" in q and "1Mbit" in q, q
    nem.invoke({"type": "info", "f": "stop-packet"})
    q = cluster.remote("n1").run(["tc", "qdisc", "show", "dev", "eth0"]).stdout
    assert "tbf" not in q, q


def test_heal_all_removes_everything_and_teardown_removes_chain(cluster):
    n = PacketNemesis(random.Random(1)).setup(cluster)
    n.invoke({"type": "info", "f": "start-packet", "value": {"loss": 0.5, "delay_ms": 10, "rate": "2mbit"}})
    n.heal_all()
    n.heal_all()
    for name in ("n1", "n2"):
        r = cluster.remote(name)
        assert r.daemon_pid(HOLDER) is None
        assert "-A " not in r.run(["iptables", "-S", n.chain]).stdout + r.run(["iptables", "-S", n.chain + "in"]).stdout
        assert "tbf" not in r.run(["tc", "qdisc", "show", "dev", "eth0"]).stdout
    n.teardown()
    for name in ("n1", "n2"):
        assert n.chain not in cluster.remote(name).run(["iptables", "-S"]).stdout
