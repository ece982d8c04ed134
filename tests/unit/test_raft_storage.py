"""Durable Raft storage on a real disk: round trips, truncation, torn tails, snapshots, bugs."""

import os

from reference_impl.raft.core import HardState, Ready, Snapshot
from reference_impl.raft.storage import RaftStorage, encode_record


def ready(entries=(), truncate_from=None, hard=None, snap=None):
    r = Ready(hard_state=hard, snapshot=snap)
    r.entries = list(entries)
    r.truncate_from = truncate_from if truncate_from is not None else (entries[0][0] if entries else None)
    return r


def test_round_trip_term_vote_and_log(tmp_path):
    s = RaftStorage(str(tmp_path))
    s.load()
    s.write(ready([(1, 1, {"op": "noop"}), (2, 1, {"op": "put", "key": "k", "value": 1})],
                  hard=HardState(1, "n2")))
    assert s.fsyncs == 1
    s.close()
    st = RaftStorage(str(tmp_path)).load()
    assert (st.term, st.vote) == (1, "n2")
    assert st.entries == [(1, {"op": "noop"}), (1, {"op": "put", "key": "k", "value": 1})]


def test_truncation_replaces_the_suffix(tmp_path):
    s = RaftStorage(str(tmp_path))
    s.load()
    s.write(ready([(1, 1, "a"), (2, 1, "b"), (3, 1, "c")]))
    s.write(ready([(2, 2, "B")], truncate_from=2))
    s.close()
    st = RaftStorage(str(tmp_path)).load()
    assert st.entries == [(1, "a"), (2, "B")]


def test_a_torn_tail_is_cut_off(tmp_path):
    s = RaftStorage(str(tmp_path))
    s.load()
    s.write(ready([(1, 1, "a"), (2, 1, "b")]))
    s.close()
    with open(tmp_path / "log", "ab") as f:
        f.write(encode_record(3, 1, "c")[:-3])  # a crash in the middle of a write
    st = RaftStorage(str(tmp_path)).load()
    assert st.entries == [(1, "a"), (1, "b")]
    assert os.path.getsize(tmp_path / "log") == len(encode_record(1, 1, "a") + encode_record(2, 1, "b"))


def test_a_corrupt_record_ends_the_log(tmp_path):
    s = RaftStorage(str(tmp_path))
    s.load()
    s.write(ready([(1, 1, "a"), (2, 1, "b"), (3, 1, "c")]))
    s.close()
    data = bytearray((tmp_path / "log").read_bytes())
    data[len(encode_record(1, 1, "a")) + 9] ^= 0xFF
    (tmp_path / "log").write_bytes(bytes(data))
    assert RaftStorage(str(tmp_path)).load().entries == [(1, "a")]


def test_compaction_keeps_the_suffix_and_recovers_the_snapshot(tmp_path):
    s = RaftStorage(str(tmp_path))
    s.load()
    s.write(ready([(i, 1, f"e{i}") for i in range(1, 6)]))
    s.compact(Snapshot(3, 1, '{"applied":3,"data":{}}'))
    s.write(ready([(6, 2, "e6")]))
    s.close()
    st = RaftStorage(str(tmp_path)).load()
    assert st.snapshot.index == 3 and st.snapshot.term == 1
    assert st.entries == [(1, "e4"), (1, "e5"), (2, "e6")]


def test_installed_snapshot_replaces_the_log(tmp_path):
    s = RaftStorage(str(tmp_path))
    s.load()
    s.write(ready([(1, 1, "a"), (2, 1, "b")]))
    s.write(ready([(11, 3, "k")], truncate_from=11, snap=Snapshot(10, 3, "{}")))
    s.close()
    st = RaftStorage(str(tmp_path)).load()
    assert st.snapshot.index == 10 and st.entries == [(3, "k")]


def test_forget_vote_bug_drops_the_vote(tmp_path):
    s = RaftStorage(str(tmp_path), bug="forget-vote")
    s.load()
    s.write(ready(hard=HardState(4, "n1")))
    st = RaftStorage(str(tmp_path)).load()
    assert (st.term, st.vote) == (4, None)


def test_no_fsync_bug_loses_unflushed_writes(tmp_path):
    s = RaftStorage(str(tmp_path), bug="no-fsync")
    s.load()
    s.write(ready([(1, 1, "a")], hard=HardState(1, "n1")))
    # A kill -9 now: nothing reached the OS.
    st = RaftStorage(str(tmp_path)).load()
    assert st.entries == [] and st.term == 0
    s.flush_lazy()
    st = RaftStorage(str(tmp_path)).load()
    assert st.entries == [(1, "a")] and s.fsyncs == 0
