"""The parts of the vote-crash nemesis that need no cluster: the log follower, the inotify
reader (on a temporary directory), the package options, setup's input checks and the decision to
crash (probability, at most ``max_down`` nodes down, cooldown), with a db that records calls."""

import os
import random
import threading

import pytest

from harness.control.local import LocalRemote
from harness.control.remote import Node
from harness.errors import InputError
from nemesis.inotify_watch import InotifyWatch
from nemesis.packages import make_nemesis_package
from nemesis.vote_crash import START, STOP, LogFollower, VoteCrashNemesis

# ---------------------------------------------------------------- LogFollower


def append(path, data: bytes):
    with open(path, "ab") as f:
        f.write(data)


def test_follower_reports_only_lines_appended_after_creation(tmp_path):
    p = tmp_path / "raft.log"
    p.write_bytes(b"old 1\nold 2\n")
    f = LogFollower(str(p))
    assert f.new_lines() == []
    append(p, b"new 1\nnew 2\n")
    assert f.new_lines() == ["new 1", "new 2"]
    assert f.new_lines() == []
    append(p, b"new 3\n")
    assert f.new_lines() == ["new 3"]


def test_follower_of_a_missing_file_starts_at_its_beginning(tmp_path):
    p = tmp_path / "later.log"
    f = LogFollower(str(p))
    assert f.new_lines() == []          # still missing: nothing, no error
    p.write_bytes(b"first\n")
    assert f.new_lines() == ["first"]


def test_follower_holds_back_a_partial_line_until_its_newline(tmp_path):
    p = tmp_path / "raft.log"
    p.write_bytes(b"")
    f = LogFollower(str(p))
    append(p, b"n3: voted for n1 in")
    assert f.new_lines() == []
    append(p, b" term 7")
    assert f.new_lines() == []
    append(p, b"\nnext ")
    assert f.new_lines() == ["n3: voted for n1 in term 7"]
    append(p, b"line\n")
    assert f.new_lines() == ["next line"]


def test_follower_starts_over_on_a_replaced_file(tmp_path):
    p = tmp_path / "raft.log"
    p.write_bytes(b"short\n")
    f = LogFollower(str(p))
    new = tmp_path / "raft.log.new"
    new.write_bytes(b"a longer replacement, first line\nsecond line\n")
    os.replace(new, p)                  # same name, another inode, larger than the old offset
    assert f.new_lines() == ["a longer replacement, first line", "second line"]
    append(p, b"third\n")
    assert f.new_lines() == ["third"]


def test_follower_starts_over_on_a_truncated_file(tmp_path):
    p = tmp_path / "raft.log"
    p.write_bytes(b"a long first line before the truncation\n")
    f = LogFollower(str(p))
    append(p, b"half")
    assert f.new_lines() == []
    p.write_bytes(b"fresh\n")            # truncated and rewritten, shorter than the offset
    assert f.new_lines() == ["fresh"]    # the held-back "half" is dropped with the old file
    append(p, b"more\n")
    assert f.new_lines() == ["more"]


# ---------------------------------------------------------------- InotifyWatch


def drain(w, want: int, tries: int = 20):
    """Events from ``w`` until ``want`` were seen or a read came back empty ``tries`` times."""
    out = []
    for _ in range(tries):
        got = w.read(0.5)
        out += got
        if len(out) >= want:
            break
    return out


def test_inotify_reports_a_write_with_the_key_of_its_directory(tmp_path):
    watched, other = tmp_path / "watched", tmp_path / "other"
    watched.mkdir()
    other.mkdir()
    with InotifyWatch() as w:
        w.add(str(watched), "key-A")
        (other / "elsewhere.log").write_bytes(b"x\n")
        (watched / "raft.log").write_bytes(b"line\n")
        events = drain(w, 1)
    assert events and set(events) == {("key-A", "raft.log")}


def test_inotify_reports_a_file_renamed_into_the_directory(tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    src = tmp_path / "staging.tmp"
    src.write_bytes(b"data\n")
    with InotifyWatch() as w:
        w.add(str(watched), ("tuple", "key"))
        os.rename(src, watched / "state")
        events = drain(w, 1)
    assert events == [(("tuple", "key"), "state")]


def test_inotify_reports_nothing_for_an_unwatched_directory(tmp_path):
    watched, other = tmp_path / "watched", tmp_path / "other"
    watched.mkdir()
    other.mkdir()
    with InotifyWatch() as w:
        w.add(str(watched), "k")
        (other / "a.log").write_bytes(b"x\n")
        os.rename(other / "a.log", other / "b.log")
        assert w.read(0.3) == []
        # The watch works: a write in the watched directory comes through afterwards.
        (watched / "c.log").write_bytes(b"y\n")
        assert ("k", "c.log") in drain(w, 1)


def test_inotify_read_without_events_returns_empty_after_timeout(tmp_path):
    with InotifyWatch() as w:
        w.add(str(tmp_path), "k")
        assert w.read(0.05) == []
    assert w.read(0.05) == []           # closed: still an empty list, no error


def test_inotify_add_of_a_missing_directory_names_it(tmp_path):
    with InotifyWatch() as w:
        with pytest.raises(OSError, match="no-such-dir"):
            w.add(str(tmp_path / "no-such-dir"), "k")


# ---------------------------------------------------------------- package options


def package(options):
    return make_nemesis_package(["vote-crash"], options, random.Random(1))


def test_package_defaults():
    pkg = package({})
    nem = pkg.nemesis
    assert isinstance(nem, VoteCrashNemesis)
    assert (nem.probability, nem.delay_ms, nem.down_ms) == (1.0, 6.0, 0.0)
    assert nem.kick is True and nem.partition is None
    assert nem.fs == {START, STOP}
    assert pkg.final_generator == [{"type": "info", "f": STOP, "value": None}]


def test_package_passes_options_through():
    nem = package({"vote-crash-p": 0.25, "vote-crash-delay-ms": 20,
                   "vote-crash-down-ms": 150}).nemesis
    assert (nem.probability, nem.delay_ms, nem.down_ms) == (0.25, 20.0, 150.0)


@pytest.mark.parametrize("options, named", [
    ({"vote-crash-p": 2}, "vote-crash-p: must be at most 1, got 2"),
    ({"vote-crash-p": 0}, "vote-crash-p: must be a number > 0, got 0"),
    ({"vote-crash-p": "x"}, "vote-crash-p: must be a number > 0, got 'x'"),
    ({"vote-crash-p": True}, "vote-crash-p: must be a number > 0, got True"),
    ({"vote-crash-delay-ms": 0}, "vote-crash-delay-ms: must be a number > 0"),
    ({"vote-crash-down-ms": -1}, "vote-crash-down-ms: must be a number >= 0, got -1"),
    ({"vote-crash-down-ms": "5"}, "vote-crash-down-ms: must be a number >= 0, got '5'"),
    ({"vote-crash-bridge": "yes"}, "vote-crash-bridge: expected true or false, got 'yes'"),
    ({"vote-crash-probability": 0.5}, "unknown option 'vote-crash-probability'"),
])
def test_package_bad_options_name_the_option(options, named):
    with pytest.raises(InputError) as e:
        package(options)
    msg = str(e.value)
    assert named in msg and "\n" not in msg


def test_package_bridge_refuses_the_partition_nemesis_too():
    with pytest.raises(InputError, match="vote-crash-bridge: makes its own partitions"):
        make_nemesis_package(["vote-crash", "partition"], {"vote-crash-bridge": True},
                             random.Random(1))


# ---------------------------------------------------------------- setup's input checks


class FakeCluster:
    """Nodes and one remote per node (whatever ``make_remote`` builds)."""

    def __init__(self, names, make_remote):
        self.nodes = [Node(n, f"10.99.0.{i + 1}") for i, n in enumerate(names)]
        self._remotes = {n.name: make_remote(n) for n in self.nodes}

    def remote(self, name):
        return self._remotes[name]


def local_cluster(tmp_path, names=("n1", "n2", "n3", "n4", "n5")):
    return FakeCluster(names, lambda n: LocalRemote(n, f"sb-test-{n.name}", str(tmp_path / n.name)))


class VoteLogDB:
    """A db with the capabilities the nemesis needs; kill/start record their calls."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def vote_log(self, cluster, node):
        return (f"{cluster.remote(node.name).node_dir}/logs/raft.log", r": voted for (\S+) in term (\d+)")

    def kill(self, cluster, node):
        with self.lock:
            self.calls.append(("kill", node))

    def start(self, cluster, node):
        with self.lock:
            self.calls.append(("start", node))


class KillStartOnly:
    def kill(self, cluster, node):
        pass

    def start(self, cluster, node):
        pass


def test_setup_refuses_a_db_without_vote_log(tmp_path):
    with pytest.raises(InputError) as e:
        VoteCrashNemesis().setup(local_cluster(tmp_path), KillStartOnly())
    msg = str(e.value)
    assert "says how it logs its votes" in msg and "KillStartOnly cannot" in msg


def test_setup_refuses_a_db_without_kill_and_start(tmp_path):
    class OnlyVoteLog:
        vote_log = VoteLogDB.vote_log

    with pytest.raises(InputError, match="can kill and restart nodes.*OnlyVoteLog cannot"):
        VoteCrashNemesis().setup(local_cluster(tmp_path), OnlyVoteLog())


def test_setup_refuses_nodes_that_are_not_local(tmp_path):
    class FarRemote:
        node_dir = "/var/lib/splitbrain/node"

    cluster = FakeCluster(["n1", "n2", "n3"], lambda n: FarRemote())
    with pytest.raises(InputError) as e:
        VoteCrashNemesis().setup(cluster, VoteLogDB())
    msg = str(e.value)
    assert "must be on this machine" in msg and "n1 is on the FarRemote backend" in msg


def test_setup_reads_each_nodes_vote_log_and_picks_a_minority(tmp_path):
    cluster = local_cluster(tmp_path)
    nem = VoteCrashNemesis().setup(cluster, VoteLogDB())
    assert nem.files == {n: f"{tmp_path}/{n}/logs/raft.log" for n in ("n1", "n2", "n3", "n4", "n5")}
    assert nem.patterns["n3"].search("n3: voted for n1 in term 7").groups() == ("n1", "7")
    assert nem.max_down == 2
    three = VoteCrashNemesis().setup(local_cluster(tmp_path, ("n1", "n2", "n3")), VoteLogDB())
    assert three.max_down == 1


def test_invoke_checks_f_and_setup():
    nem = VoteCrashNemesis()
    with pytest.raises(RuntimeError, match="before setup"):
        nem.invoke({"type": "info", "f": STOP})
    with pytest.raises(ValueError, match="unknown f 'start-kill'"):
        nem.invoke({"type": "info", "f": "start-kill"})


@pytest.mark.parametrize("p", [0, -0.5, 1.5])
def test_constructor_refuses_a_probability_out_of_range(p):
    with pytest.raises(ValueError, match="probability must be in"):
        VoteCrashNemesis(probability=p)


# ---------------------------------------------------------------- the decision to crash


class FixedRng:
    """``random()`` gives the queued values in order; ``uniform(a, b)`` gives ``b``."""

    def __init__(self, *values):
        self.values = list(values)

    def random(self):
        return self.values.pop(0)

    def uniform(self, a, b):
        return b


class GatedDB(VoteLogDB):
    """``start`` waits for ``gate`` (so a crashed node stays down until the test lets it up)."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.starting = threading.Event()

    def start(self, cluster, node):
        self.starting.set()
        assert self.gate.wait(10), "the test never opened the gate"
        super().start(cluster, node)


def armed(tmp_path, db, rng=None, **kw):
    kw.setdefault("delay_ms", 0.3)
    nem = VoteCrashNemesis(rng or random.Random(3), **kw).setup(local_cluster(tmp_path), db)
    nem.armed = True          # as _arm does, without the watcher thread: _maybe_crash is fed directly
    return nem


def settle(nem):
    for w in list(nem._workers):
        w.join(10)
        assert not w.is_alive()


def test_crash_kills_then_restarts_and_records_the_vote(tmp_path):
    db = VoteLogDB()
    nem = armed(tmp_path, db, rng=FixedRng(0.0), delay_ms=3.0, down_ms=0.0)
    nem._maybe_crash("n3", "n1", 7)
    settle(nem)
    assert db.calls == [("kill", "n3"), ("start", "n3")]
    assert nem.crashes == [{"node": "n3", "voted_for": "n1", "term": 7,
                            "delay_ms": 3.0, "down_ms": 0.0}]
    assert nem.down == set() and "n3" in nem.quiet_until
    assert nem.errors == []


def test_probability_decides_each_vote(tmp_path):
    db = VoteLogDB()
    nem = armed(tmp_path, db, rng=FixedRng(0.7, 0.3, 0.5), probability=0.5, cooldown_s=0.0)
    nem._maybe_crash("n2", "n1", 3)        # 0.7 >= 0.5: spared
    settle(nem)
    assert db.calls == []
    nem._maybe_crash("n2", "n1", 3)        # 0.3 < 0.5: crashed
    settle(nem)
    assert db.calls == [("kill", "n2"), ("start", "n2")]
    nem._maybe_crash("n4", "n5", 4)        # 0.5 >= 0.5: spared (the interval is open at p)
    settle(nem)
    assert [c["node"] for c in nem.crashes] == ["n2"]


def test_probability_is_about_its_share_of_votes(tmp_path):
    db = VoteLogDB()
    nem = armed(tmp_path, db, rng=random.Random(11), probability=0.25, cooldown_s=0.0)
    for term in range(400):
        nem._maybe_crash("n2", "n1", term)
        settle(nem)
    crashed = len(nem.crashes)
    assert db.calls.count(("kill", "n2")) == crashed == db.calls.count(("start", "n2"))
    assert 60 < crashed < 140, crashed    # binomial(400, 0.25): mean 100, sd 8.7


def test_at_most_max_down_nodes_are_down(tmp_path):
    db = GatedDB()
    nem = armed(tmp_path, db, max_down=1, cooldown_s=0.0)
    db.gate.clear()
    nem._maybe_crash("n1", "n2", 5)
    assert db.starting.wait(10)            # n1 is killed, its restart held at the gate
    nem._maybe_crash("n3", "n2", 5)        # one node down already: n3 is spared
    nem._maybe_crash("n1", "n2", 5)        # n1 is down: not crashed twice
    assert nem.down == {"n1"}
    db.gate.set()
    settle(nem)
    assert db.calls == [("kill", "n1"), ("start", "n1")]
    nem._maybe_crash("n3", "n2", 6)        # n1 is back: n3 may go now
    settle(nem)
    assert db.calls[2:] == [("kill", "n3"), ("start", "n3")]


def test_default_max_down_allows_a_minority_of_five(tmp_path):
    db = GatedDB()
    nem = armed(tmp_path, db, cooldown_s=0.0)
    db.gate.clear()
    for n in ("n1", "n2", "n3", "n4"):
        nem._maybe_crash(n, "n5", 9)
    assert nem.down == {"n1", "n2"}
    db.gate.set()
    settle(nem)
    assert sorted(c["node"] for c in nem.crashes) == ["n1", "n2"]
    assert nem.down == set()


def test_cooldown_spares_a_node_just_restarted(tmp_path):
    db = VoteLogDB()
    nem = armed(tmp_path, db, cooldown_s=3600.0)
    nem._maybe_crash("n2", "n1", 3)
    settle(nem)
    nem._maybe_crash("n2", "n1", 4)        # within the hour after its restart: spared
    settle(nem)
    nem._maybe_crash("n3", "n1", 4)        # the cooldown is per node
    settle(nem)
    assert [c["node"] for c in nem.crashes] == ["n2", "n3"]
    nem.quiet_until["n2"] = 0.0            # the cooldown is over
    nem._maybe_crash("n2", "n1", 5)
    settle(nem)
    assert [(c["node"], c["term"]) for c in nem.crashes] == [("n2", 3), ("n3", 4), ("n2", 5)]


def test_disarmed_nemesis_crashes_nothing(tmp_path):
    db = VoteLogDB()
    nem = armed(tmp_path, db)
    nem.armed = False
    nem._maybe_crash("n2", "n1", 3)
    settle(nem)
    assert db.calls == [] and nem.crashes == []


def test_down_ms_keeps_the_node_down_until_stop(tmp_path):
    db = VoteLogDB()
    nem = armed(tmp_path, db, rng=FixedRng(0.0), down_ms=3_600_000.0)
    nem._maybe_crash("n4", "n2", 8)
    for _ in range(200):                   # wait until the kill happened (the restart waits an hour)
        if db.calls:
            break
        threading.Event().wait(0.05)
    assert db.calls == [("kill", "n4")] and nem.down == {"n4"}
    op = nem.invoke({"type": "info", "f": STOP, "value": None})   # stop cuts the wait short
    assert db.calls == [("kill", "n4"), ("start", "n4")]
    assert op["value"] == [{"node": "n4", "voted_for": "n2", "term": 8, "delay_ms": 0.3,
                            "down_ms": 3_600_000.0}]
    assert nem.down == set() and "error" not in op


def test_failed_restart_is_reported_by_stop_and_retried(tmp_path):
    class FailingStart(VoteLogDB):
        fail = True

        def start(self, cluster, node):
            if self.fail:
                self.fail = False
                raise OSError("cannot exec")
            super().start(cluster, node)

    db = FailingStart()
    nem = armed(tmp_path, db)
    nem._maybe_crash("n5", "n1", 2)
    settle(nem)
    assert nem.down == {"n5"}
    op = nem.invoke({"type": "info", "f": STOP, "value": None})
    assert "n5: OSError: cannot exec" in op["error"]
    assert db.calls == [("kill", "n5"), ("start", "n5")]   # heal restarted it
    assert nem.down == set()
