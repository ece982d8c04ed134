"""The Multi-Paxos node's durable record file on a real disk: round trip through replay, a torn
tail cut off on recovery, and the two storage bugs (forget-accepted, no-fsync)."""

import os

from reference_impl.paxos.core import Ready
from reference_impl.paxos.storage import PaxosStorage, decode_records, encode_record

PUT = {"op": "put", "key": "x", "value": 1}


def ready(*records):
    return Ready(writes=list(records))


def test_records_survive_a_reopen(tmp_path):
    s = PaxosStorage(str(tmp_path))
    assert s.load().promised == (0, "")
    s.write(ready(["promise", [2, "n1"]], ["accept", 1, [2, "n1"], PUT]))
    s.write(Ready(writes=[["accept", 2, [2, "n1"], PUT]], learned=[["chosen", 1, PUT]]))
    assert s.fsyncs == 2
    s.write(Ready(learned=[["chosen", 3, PUT]]))   # learned slots alone: no fsync
    assert s.fsyncs == 2
    s.close()
    st = PaxosStorage(str(tmp_path)).load()
    assert st.promised == (2, "n1")
    assert st.accepted == {2: ((2, "n1"), PUT)} and st.chosen == {1: PUT, 3: PUT}


def test_a_torn_tail_is_cut_on_recovery(tmp_path):
    s = PaxosStorage(str(tmp_path))
    s.load()
    s.write(ready(["promise", [1, "n1"]], ["accept", 1, [1, "n1"], PUT]))
    s.close()
    path = tmp_path / "paxos.log"
    good = path.stat().st_size
    with open(path, "ab") as f:
        f.write(encode_record(["accept", 2, [1, "n1"], PUT])[:-3])   # a crash mid-write
    st = PaxosStorage(str(tmp_path)).load()
    assert list(st.accepted) == [1]
    assert path.stat().st_size == good
    records, n = decode_records(path.read_bytes())
    assert n == good and len(records) == 2


def test_a_corrupt_record_ends_the_log(tmp_path):
    blob = bytearray(encode_record(["promise", [1, "a"]]) + encode_record(["promise", [2, "b"]]))
    blob[-2] ^= 0xFF
    records, n = decode_records(bytes(blob))
    assert records == [["promise", [1, "a"]]] and n < len(blob)


def test_forget_accepted_writes_promises_but_not_acceptances(tmp_path):
    s = PaxosStorage(str(tmp_path), bug="forget-accepted")
    s.load()
    s.write(ready(["promise", [3, "n2"]], ["accept", 1, [3, "n2"], PUT]))
    s.close()
    st = PaxosStorage(str(tmp_path)).load()
    assert st.promised == (3, "n2") and st.accepted == {}


def test_no_fsync_keeps_records_in_memory_until_the_lazy_flush(tmp_path):
    s = PaxosStorage(str(tmp_path), bug="no-fsync")
    s.load()
    s.write(ready(["promise", [1, "n1"]]))
    assert s.fsyncs == 0 and os.path.getsize(tmp_path / "paxos.log") == 0
    s.flush_lazy()
    assert os.path.getsize(tmp_path / "paxos.log") > 0 and s.fsyncs == 0
