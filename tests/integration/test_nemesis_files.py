"""File faults on a real local cluster: a data file is truncated or corrupted while its process
is down, and the process runs again afterwards."""

import os
import random
import sys

import pytest

from tests.integration.nemesis_tools import TIME_SERVER, TinyDB, ask_time, skip_reasons

_skip = skip_reasons()
pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(_skip), reason="; ".join(_skip))]

from harness.control.local import LocalBackend  # noqa: E402
from nemesis.files import FileNemesis  # noqa: E402

PORT = 7400
DATA = bytes(range(256)) * 16   # 4096 bytes


class DataDB(TinyDB):
    def data_dir(self, remote):
        return os.path.join(remote.node_dir, "data", "tiny")


@pytest.fixture
def setup():
    c = LocalBackend().start(["n1", "n2"], None)
    db = DataDB(lambda n: [sys.executable, "-c", TIME_SERVER, n.ip, str(PORT)])
    try:
        db.setup(c)
        for n in c.nodes:
            d = db.data_dir(c.remote(n.name))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "log.bin"), "wb") as f:
                f.write(DATA)
            with open(os.path.join(d, "small"), "wb") as f:
                f.write(b"x")
        yield c, db, FileNemesis(random.Random(2)).setup(c, db)
    finally:
        db.teardown(c)
        c.stop()


def read(db, c, node):
    with open(os.path.join(db.data_dir(c.remote(node)), "log.bin"), "rb") as f:
        return f.read()


def test_truncate_drops_the_tail_and_restarts(setup):
    c, db, nem = setup
    pid = c.remote("n1").daemon_pid(db.DAEMON)
    op = nem.invoke({"type": "info", "f": "start-file-corruption",
                     "value": {"nodes": ["n1"], "mode": "truncate", "bytes": 1000}})
    assert "error" not in op, op
    assert op["value"]["n1"]["file"].endswith("/log.bin")   # the largest file by default
    assert read(db, c, "n1") == DATA[:3096]
    assert read(db, c, "n2") == DATA
    new_pid = c.remote("n1").daemon_pid(db.DAEMON)
    assert new_pid is not None and new_pid != pid           # it was down, and runs again
    assert ask_time(c.node("n1").ip, PORT) is not None


def test_corrupt_changes_exactly_the_reported_bytes(setup):
    c, db, nem = setup
    op = nem.invoke({"type": "info", "f": "start-file-corruption",
                     "value": {"nodes": ["n2"], "mode": "corrupt", "bytes": 8}})
    offsets = set(op["value"]["n2"]["offsets"])
    now = read(db, c, "n2")
    assert len(now) == len(DATA)
    assert {i for i in range(len(DATA)) if now[i] != DATA[i]} == offsets
    assert read(db, c, "n1") == DATA
    op = nem.invoke({"type": "info", "f": "stop-file-corruption"})
    assert op["value"] == [] and ask_time(c.node("n2").ip, PORT) is not None


def test_no_data_dir_capability_is_reported(setup):
    c, db, nem = setup
    nem.setup(c, TinyDB(db.argv_for))
    op = nem.invoke({"type": "info", "f": "start-file-corruption"})
    assert op["value"] == {} and "data_dir" in op["error"]
