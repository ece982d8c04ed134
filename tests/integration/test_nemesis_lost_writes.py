"""Lost unfsynced writes on a real local cluster: a daemon writes files with and without fsync
under the LD_PRELOAD shim; after ``start-lost-writes`` exactly the unfsynced writes are gone, the
daemon runs again and the shim keeps tracking its new writes."""

import os
import random
import shutil
import sys

import pytest

from tests.integration.nemesis_tools import TinyDB, skip_reasons

_skip = skip_reasons()
if shutil.which("gcc") is None:
    _skip.append("needs gcc (to build the lost-writes shim)")
pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(_skip), reason="; ".join(_skip))]

from harness.control.local import LocalBackend  # noqa: E402
from nemesis.lost_writes import LostWritesNemesis  # noqa: E402

# First start: "durable-1" appended and fsynced, "lost-2" appended without fsync; state written
# atomically as v1 (rename + directory fsync), then as v2 (rename, no directory fsync); a file
# "never" that is never fsynced. Later starts: "after-N" appended and fsynced.
WRITER = """
import os, sys, time
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
def fsync_dir():
    fd = os.open(d, os.O_RDONLY); os.fsync(fd); os.close(fd)
def atomic(data, dirsync):
    t = os.path.join(d, "state.tmp")
    with open(t, "wb") as f:
        f.write(data); f.flush(); os.fsync(f.fileno())
    os.replace(t, os.path.join(d, "state"))
    if dirsync:
        fsync_dir()
log = os.path.join(d, "log")
if not os.path.exists(log):
    with open(log, "ab") as f:
        f.write(b"durable-1\\n"); f.flush(); os.fsync(f.fileno())
        f.write(b"lost-2\\n"); f.flush()
    atomic(b"v1", True)
    atomic(b"v2", False)
    with open(os.path.join(d, "never"), "wb") as f:
        f.write(b"x")
else:
    n = open(log, "rb").read().count(b"\\n") + 1
    with open(log, "ab") as f:
        f.write(b"after-%d\\n" % n); f.flush(); os.fsync(f.fileno())
print("listening", flush=True)
while True:
    time.sleep(1)
"""


def data_dir(c, node):
    return os.path.join(c.remote(node).node_dir, "data", "tiny")


def files(c, node):
    d = data_dir(c, node)
    return {name: open(os.path.join(d, name), "rb").read() for name in sorted(os.listdir(d))}


@pytest.fixture
def setup():
    c = LocalBackend().start(["n1", "n2"], None)
    nem = LostWritesNemesis(random.Random(3))
    db = TinyDB(lambda n: [sys.executable, "-c", WRITER, data_dir(c, n.name)])
    try:
        nem.prepare(c)          # as the runner does: before the target starts
        db.setup(c)
        nem.setup(c, db)
        yield c, db, nem
    finally:
        try:
            nem.teardown()
        finally:
            db.teardown(c)
            c.stop()


def test_unfsynced_writes_are_gone_after_the_fault_and_the_node_runs_again(setup):
    c, db, nem = setup
    before = files(c, "n1")
    assert before == {"log": b"durable-1\nlost-2\n", "never": b"x", "state": b"v2"}
    pid = c.remote("n1").daemon_pid(db.DAEMON)

    op = nem.invoke({"type": "info", "f": "start-lost-writes", "value": ["n1"]})
    assert "error" not in op, op
    report = op["value"]["n1"]
    assert report["rolled_back"] == {"tiny/log": [len(b"durable-1\nlost-2\n"),
                                                  len(b"durable-1\n")],
                                     "tiny/state": [2, 2]}
    assert report["deleted"] == ["tiny/never"]
    # The second state.tmp was fsynced, but the rename over "state" was never made durable by a
    # directory fsync: after the crash the temporary file is back and "state" holds v1.
    assert report["recreated"] == ["tiny/state.tmp"]
    # Restarted on the rolled-back files: the unfsynced append, the undurable rename and the
    # never-fsynced file are gone; the new start appended after-2.
    assert files(c, "n1") == {"log": b"durable-1\nafter-2\n", "state": b"v1", "state.tmp": b"v2"}
    new_pid = c.remote("n1").daemon_pid(db.DAEMON)
    assert new_pid is not None and new_pid != pid
    # The other node was not touched.
    assert files(c, "n2") == before

    # The shim keeps tracking the restarted process: its fsynced append survives a second fault.
    op = nem.invoke({"type": "info", "f": "start-lost-writes", "value": ["n1"]})
    assert "error" not in op, op
    assert op["value"]["n1"]["rolled_back"] == {}
    assert files(c, "n1") == {"log": b"durable-1\nafter-2\nafter-3\n", "state": b"v1",
                              "state.tmp": b"v2"}

    # Healed: nothing is down, the stop op restarts nobody.
    op = nem.invoke({"type": "info", "f": "stop-lost-writes"})
    assert op["value"] == [] and not nem.down
    assert all(c.remote(n).daemon_pid(db.DAEMON) is not None for n in ("n1", "n2"))


def test_a_daemon_without_the_shim_is_reported_not_faked(setup):
    c, db, nem = setup
    db.kill(c, "n2")
    c.remote("n2").daemon_env.pop("LD_PRELOAD")
    db.start(c, "n2")
    before = files(c, "n2")
    op = nem.invoke({"type": "info", "f": "start-lost-writes", "value": ["n2"]})
    assert op["value"] == {} and "no daemon has the shim loaded" in op["error"]
    assert files(c, "n2") == before
