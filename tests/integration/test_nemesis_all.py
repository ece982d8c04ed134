"""``--nemesis all`` as one composite nemesis on a real local cluster: every kind of fault is
injected at once, then one ``heal_all()`` removes every one of them."""

import random
import sys
import time

import pytest

from tests.integration.nemesis_tools import TIME_SERVER, TinyDB, ask_time, skip_reasons

_skip = skip_reasons(need_faketime=True, need_nfqueue=True)
pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(_skip), reason="; ".join(_skip))]

from harness.control.local import LocalBackend  # noqa: E402
from nemesis.packages import make_nemesis_package  # noqa: E402
from nemesis.packet import HOLDER  # noqa: E402

PORT = 7500
NODES = ["n1", "n2", "n3"]


def test_every_fault_at_once_then_heal_all_leaves_nothing():
    pkg = make_nemesis_package(["all"], {"kill-targets": "one", "pause-targets": "one"},
                               random.Random(11))
    nem = pkg.nemesis
    c = LocalBackend().start(NODES, None)
    db = TinyDB(lambda n: [sys.executable, "-c", TIME_SERVER, n.ip, str(PORT)])
    try:
        nem.prepare(c)
        db.setup(c)
        nem.setup(c, db)
        ops = {}
        for f, value in [("start-partition", {"n1": ["n2"]}), ("start-kill", ["n2"]),
                         ("start-pause", ["n3"]), ("bump-clock", {"n1": 500}),
                         ("start-packet", {"loss": 0.5, "delay_ms": 10, "rate": "1mbit"})]:
            ops[f] = nem.invoke({"type": "info", "f": f, "value": value})
            assert "error" not in ops[f], ops[f]
        assert ask_time(c.node("n2").ip, PORT) is None        # killed
        assert ask_time(c.node("n3").ip, PORT, 0.5) is None   # paused
        assert ask_time(c.node("n1").ip, PORT) - time.time() > 498
        assert c.remote("n1").daemon_pid(HOLDER) is not None

        nem.heal_all()

        for n in c.nodes:
            r = c.remote(n.name)
            t = ask_time(n.ip, PORT)
            assert t is not None and abs(t - time.time()) < 2, n.name
            assert r.daemon_pid(HOLDER) is None
            rules = r.run(["iptables", "-S"]).stdout
            assert not [line for line in rules.splitlines()
                        if line.startswith(f"-A {c.prefix}")], rules
            assert "tbf" not in r.run(["tc", "qdisc", "show", "dev", "eth0"]).stdout
        nem.teardown()
        for n in c.nodes:
            assert c.prefix not in c.remote(n.name).run(["iptables", "-S"]).stdout
    finally:
        try:
            nem.heal_all()
            db.teardown(c)
        finally:
            c.stop()
