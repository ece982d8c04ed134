"""Test-only targets for the signal and crash tests, loaded with ``--db module:Class`` as user
code would be (the test puts this directory on PYTHONPATH).

- ``SlowTeardownRaft``: the real reference Raft store whose db teardown takes 3 s longer, so a
  signal sent when the controller logs "tearing down" lands inside the teardown.
- ``HardToCheckTarget``: no store at all; writes are queued and answered ``info``, and each read
  first applies 0-2 of the queued writes (oldest first) and returns the register's value; after
  UNWRITTEN_AFTER client calls, reads return UNWRITTEN, a value no write ever had. The
  linearizability search can only conclude that after trying every order of the open info
  writes: a long checking phase to interrupt (measured: 3 s at 200 ops/s, ~1,100 ops, still
  unknown at a 40 s check timeout, 3 of 3 seeds).
"""

from __future__ import annotations

import random
import threading
import time

from harness.targets import make_target

TEARDOWN_DELAY_S = 3.0
UNWRITTEN_AFTER = 300
UNWRITTEN = 99  # the register workload writes 0..4


class _SlowTeardown:
    def __init__(self, db):
        self._db = db

    def teardown(self, cluster):
        time.sleep(TEARDOWN_DELAY_S)
        self._db.teardown(cluster)

    def __getattr__(self, name):  # kill/pause/primaries/log_files: the real db's
        return getattr(self._db, name)


class SlowTeardownRaft:
    def __init__(self, options):
        target = make_target("raft", options)
        self.db = _SlowTeardown(target.db)
        self.client_factory = target.client_factory


class _NoDB:
    def setup(self, cluster):
        pass

    def teardown(self, cluster):
        pass


class _ConfusingClient:
    """Writes are queued and answered ``info``; a read first applies a random number of the
    queued writes, oldest first, and returns the register's value (linearizable so far, but the
    checker cannot tell how many open writes each read saw); late reads return UNWRITTEN."""

    def __init__(self, shared):
        self.shared = shared
        self.rng = random.Random()

    def setup(self):
        pass

    def invoke(self, op):
        time.sleep(0.002)
        sh = self.shared
        with sh["lock"]:
            if op["f"] == "write":
                sh["calls"] += 1
                sh["pending"].append(op["value"])
                return {"type": "info", "error": "no answer"}
            sh["calls"] += 1
            if op["f"] == "read" and sh["calls"] > UNWRITTEN_AFTER:
                return {"type": "ok", "value": UNWRITTEN}
            if op["f"] == "read":
                for _ in range(self.rng.randint(0, min(2, len(sh["pending"])))):
                    sh["value"] = sh["pending"].pop(0)
                return {"type": "ok", "value": sh["value"]}
        return {"type": "fail", "error": "not applied"}

    def teardown(self):
        pass

    def close(self):
        pass


class _ConfusingClients:
    def __init__(self):
        self.shared = {"lock": threading.Lock(), "pending": [], "value": None, "calls": 0}

    def open(self, node):
        return _ConfusingClient(self.shared)


class HardToCheckTarget:
    def __init__(self, options):
        self.db = _NoDB()
        self.client_factory = _ConfusingClients()
