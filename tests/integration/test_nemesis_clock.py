"""Clock faults through libfaketime on a real local cluster: a skewed node reports a shifted
time, a strobed node flips between two times, a reset brings it back; a target libfaketime
cannot reach is reported, never pretended."""

import random
import sys
import threading
import time

import pytest

from tests.integration.nemesis_tools import TIME_SERVER, TinyDB, ask_time, skip_reasons

_skip = skip_reasons(need_faketime=True)
pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(_skip), reason="; ".join(_skip))]

from harness.control.local import LocalBackend  # noqa: E402
from nemesis.clock import ClockNemesis  # noqa: E402

PORT = 7300


def skew(cluster, name):
    t = ask_time(cluster.node(name).ip, PORT)
    assert t is not None
    return t - time.time()


@pytest.fixture
def setup():
    c = LocalBackend().start(["n1", "n2", "n3"], None)
    db = TinyDB(lambda n: [sys.executable, "-c", TIME_SERVER, n.ip, str(PORT)])
    nem = ClockNemesis(random.Random(7))
    try:
        nem.prepare(c)          # before the db starts: the daemons get libfaketime
        db.setup(c)
        nem.setup(c, db)
        yield c, db, nem
    finally:
        try:
            nem.teardown()
        finally:
            c.stop()


def test_bump_shifts_one_node_then_reset(setup):
    c, db, nem = setup
    assert abs(skew(c, "n1")) < 2
    op = nem.invoke({"type": "info", "f": "bump-clock", "value": {"n1": 3600}})
    assert "error" not in op and op["value"] == {"bump": {"n1": 3600.0}}
    assert 3598 < skew(c, "n1") < 3602
    assert abs(skew(c, "n2")) < 2
    nem.invoke({"type": "info", "f": "bump-clock", "value": {"n1": -7200}})
    assert -3602 < skew(c, "n1") < -3598          # bumps add up
    # A restarted daemon keeps its skew: the env is in the remote's daemon_env.
    db.kill(c, "n1")
    db.start(c, "n1")
    assert -3602 < skew(c, "n1") < -3598
    nem.invoke({"type": "info", "f": "stop-clock"})
    assert abs(skew(c, "n1")) < 2


def test_strobe_flips_between_two_times_then_settles(setup):
    c, db, nem = setup
    seen = []
    op_box = {}
    t = threading.Thread(target=lambda: op_box.update(op=nem.invoke(
        {"type": "info", "f": "strobe-clock",
         "value": {"nodes": ["n2"], "delta_s": 1000, "period_s": 0.05, "duration_s": 2}})))
    t.start()
    while t.is_alive():
        seen.append(skew(c, "n2"))
        time.sleep(0.01)
    t.join()
    assert "error" not in op_box["op"], op_box
    assert any(998 < s < 1002 for s in seen) and any(abs(s) < 2 for s in seen), seen
    assert abs(skew(c, "n2")) < 2      # strobing ends at the node's base offset


def test_heal_all_resets_every_node(setup):
    c, db, nem = setup
    nem.invoke({"type": "info", "f": "bump-clock", "value": {"n1": 50, "n2": -50, "n3": 20}})
    assert skew(c, "n2") < -48
    nem.heal_all()
    nem.heal_all()
    assert all(abs(skew(c, n)) < 2 for n in ("n1", "n2", "n3"))


def test_daemon_without_libfaketime_is_reported(setup):
    c, db, nem = setup
    # Restart n3's daemon with LD_PRELOAD removed, as a static binary would behave.
    db.kill(c, "n3")
    plain = TinyDB(lambda n: ["env", "-u", "LD_PRELOAD", sys.executable, "-c", TIME_SERVER, n.ip, str(PORT)])
    plain.start(c, "n3")
    op = nem.invoke({"type": "info", "f": "bump-clock", "value": {"n3": 100, "n1": 100}})
    assert op["value"] == {"bump": {"n1": 100.0}}
    assert "n3: no daemon has libfaketime loaded" in op["error"]
    assert abs(skew(c, "n3")) < 2


def test_etcd_says_libfaketime_cannot_reach_it(setup):
    from harness.targets.etcd import EtcdDB

    c, db, nem = setup
    nem.setup(c, EtcdDB())
    op = nem.invoke({"type": "info", "f": "start-clock"})
    assert "static" in op["error"] and "Go" in op["error"]
    assert not any(op["value"].get(k, {}) for k in ("bump",)) and \
        not op["value"].get("strobe", {}).get("nodes")
