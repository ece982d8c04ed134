"""HistoryWriter and read_jsonl: the on-disk JSON Lines history."""

import json
import math
import threading

import pytest

from harness.errors import InputError
from harness.history import (
    OP_TYPES,
    HistoryWriter,
    encode_op,
    read_jsonl,
    read_jsonl_with_report,
    validate_op,
)
from harness.history import jsonl as jsonl_mod


class FakeClock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture
def fsyncs(monkeypatch):
    """Record the file descriptors os.fsync is called with (the real fsync still runs)."""
    calls = []
    real = jsonl_mod.os.fsync

    def spy(fd):
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(jsonl_mod.os, "fsync", spy)
    return calls


def test_op_types():
    assert OP_TYPES == ("invoke", "ok", "fail", "info")


def test_writer_round_trip(tmp_path):
    path = tmp_path / "history.jsonl"
    ops = [
        {"type": "invoke", "process": 3, "f": "cas", "value": (1, 2), "node": "n2", "time": 1234567},
        {"time": 2345678, "f": "cas", "process": 3, "type": "ok", "value": [1, 2], "node": "n2"},
        {"type": "info", "process": "nemesis", "f": "start-partition", "value": {"n1": ["n2", "n3"]}},
        {"type": "invoke", "process": 0, "f": "read", "value": None, "latency": 5},
    ]
    with HistoryWriter(path) as w:
        written = [w.append(op) for op in ops]
    assert [op["index"] for op in written] == [0, 1, 2, 3]
    assert written[0]["value"] == [1, 2]  # tuples become lists, as JSON holds them
    assert "index" not in ops[0]  # the caller's dict is not modified
    back = read_jsonl(path)
    assert back == written
    lines = path.read_text().splitlines()
    assert lines[0] == ('{"index":0,"time":1234567,"type":"invoke","process":3,"f":"cas",'
                        '"value":[1,2],"node":"n2"}')
    assert lines[1] == ('{"index":1,"time":2345678,"type":"ok","process":3,"f":"cas",'
                        '"value":[1,2],"node":"n2"}')
    assert lines[3] == '{"index":3,"type":"invoke","process":0,"f":"read","value":null,"latency":5}'


def test_writer_keeps_given_index_and_continues_after_it(tmp_path):
    path = tmp_path / "h.jsonl"
    with HistoryWriter(path) as w:
        assert w.append({"type": "invoke", "process": 0, "f": "read"})["index"] == 0
        assert w.append({"index": 10, "type": "ok", "process": 0, "f": "read", "value": 1})["index"] == 10
        assert w.append({"type": "invoke", "process": 0, "f": "read"})["index"] == 11
    assert [op["index"] for op in read_jsonl(path)] == [0, 10, 11]


def test_writer_flushes_each_op(tmp_path):
    path = tmp_path / "h.jsonl"
    w = HistoryWriter(path, fsync_interval=None)
    w.append({"type": "invoke", "process": 0, "f": "read", "value": None})
    # Another reader sees the line before close (flushed to the OS).
    assert read_jsonl(path) == [{"index": 0, "type": "invoke", "process": 0, "f": "read", "value": None}]
    w.close()


def test_fsync_interval_uses_the_clock(tmp_path, fsyncs):
    clock = FakeClock(100.0)
    w = HistoryWriter(tmp_path / "h.jsonl", fsync_interval=1.0, clock=clock)
    op = {"type": "invoke", "process": 0, "f": "read"}
    clock.t = 100.5
    w.append(op)
    assert len(fsyncs) == 0
    clock.t = 101.0  # exactly 1 s after the writer opened
    w.append(op)
    assert len(fsyncs) == 1
    clock.t = 101.9
    w.append(op)
    assert len(fsyncs) == 1
    clock.t = 102.0
    w.append(op)
    assert len(fsyncs) == 2
    clock.t = 102.5
    w.append(op)
    assert len(fsyncs) == 2 and w.fsync_count == 2
    w.close()
    assert len(fsyncs) == 3 and w.fsync_count == 3
    w.close()  # idempotent: no second fsync
    assert len(fsyncs) == 3


def test_fsync_every_op_and_never(tmp_path, fsyncs):
    clock = FakeClock()
    with HistoryWriter(tmp_path / "a.jsonl", fsync_interval=0, clock=clock) as w:
        for _ in range(3):
            w.append({"type": "invoke", "process": 0, "f": "read"})
        assert len(fsyncs) == 3
    assert len(fsyncs) == 4  # close
    fsyncs.clear()
    with HistoryWriter(tmp_path / "b.jsonl", fsync_interval=None, clock=clock) as w:
        clock.t = 1e9
        w.append({"type": "invoke", "process": 0, "f": "read"})
        assert fsyncs == []
        w.sync()
        assert len(fsyncs) == 1
    assert len(fsyncs) == 2


def test_writer_thread_safety(tmp_path):
    path = tmp_path / "h.jsonl"
    n_threads, per_thread = 8, 250
    with HistoryWriter(path, fsync_interval=0.01) as w:
        def work(t):
            for i in range(per_thread):
                w.append({"type": "invoke", "process": t, "f": "write", "value": i, "pad": "x" * (t * 37)})

        threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    ops = read_jsonl(path)
    assert len(ops) == n_threads * per_thread
    assert [op["index"] for op in ops] == list(range(n_threads * per_thread))
    for t in range(n_threads):
        assert [op["value"] for op in ops if op["process"] == t] == list(range(per_thread))


def test_writer_rejects_bad_ops_and_closed_use(tmp_path):
    path = tmp_path / "h.jsonl"
    w = HistoryWriter(path)
    with pytest.raises(InputError) as e:
        w.append({"type": "okk", "process": 1, "f": "read"})
    assert str(e.value) == f'{path}: op 0: field "type": expected one of invoke, ok, fail, info, got "okk"'
    with pytest.raises(ValueError, match="cannot be written as JSON"):
        w.append({"type": "ok", "process": 1, "f": "read", "value": math.nan})
    with pytest.raises(ValueError, match="cannot be written as JSON"):
        w.append({"type": "ok", "process": 1, "f": "read", "value": object()})
    # Nothing was written by the failed appends, and numbering was not consumed.
    assert w.append({"type": "invoke", "process": 1, "f": "read"})["index"] == 0
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.append({"type": "invoke", "process": 1, "f": "read"})
    assert len(read_jsonl(path)) == 1


def test_encode_op_orders_keys_and_sorts_sets():
    line = encode_op({"extra": 1, "value": {3, 1, 2}, "f": "add", "process": 2, "type": "ok", "time": 5, "index": 9})
    assert line == '{"index":9,"time":5,"type":"ok","process":2,"f":"add","value":[1,2,3],"extra":1}'


def test_read_assigns_missing_index_and_keeps_extras(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text(
        '{"type": "invoke", "process": 0, "f": "read", "value": null, "node": "n1"}\n'
        "\n"
        '   \n'
        '{"type": "ok", "process": 0, "f": "read", "value": 3, "node": "n1", "latency": 12}\n'
        '{"index": 7, "type": "info", "process": "nemesis", "f": "kill", "value": ["n2"]}\n'
    )
    assert read_jsonl(path) == [
        {"index": 0, "type": "invoke", "process": 0, "f": "read", "value": None, "node": "n1"},
        {"index": 1, "type": "ok", "process": 0, "f": "read", "value": 3, "node": "n1", "latency": 12},
        {"index": 7, "type": "info", "process": "nemesis", "f": "kill", "value": ["n2"]},
    ]


GOOD = '{"index":0,"type":"invoke","process":0,"f":"write","value":1}\n'


def test_truncated_tail_dropped_only_when_allowed(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text(GOOD + '{"index":1,"type":"ok","proc')  # crash mid-write: no final newline
    with pytest.raises(InputError) as e:
        read_jsonl(path)
    assert str(e.value) == f"{path}:2: not valid JSON: Unterminated string starting at (column 24)"
    res = read_jsonl_with_report(path, allow_truncated_tail=True)
    assert res.dropped_lines == 1
    assert res.ops == [{"index": 0, "type": "invoke", "process": 0, "f": "write", "value": 1}]
    ops, dropped = res  # a NamedTuple
    assert read_jsonl(path, allow_truncated_tail=True) == ops
    # An intact file reports nothing dropped.
    path.write_text(GOOD)
    assert read_jsonl_with_report(path, allow_truncated_tail=True).dropped_lines == 0


def test_truncated_tail_rules_are_strict(tmp_path):
    path = tmp_path / "h.jsonl"
    # A malformed last line that ends with a newline is not a crash mid-write.
    path.write_text(GOOD + '{"index":1,"type"\n')
    with pytest.raises(InputError) as e:
        read_jsonl(path, allow_truncated_tail=True)
    assert str(e.value) == f"{path}:2: not valid JSON: Expecting ':' delimiter (column 18)"
    # A malformed line before the last is always an error.
    path.write_text(GOOD + "{oops}\n" + GOOD.strip())
    with pytest.raises(InputError) as e:
        read_jsonl(path, allow_truncated_tail=True)
    assert str(e.value) == f"{path}:2: not valid JSON: Expecting property name enclosed in double quotes (column 2)"
    # A truncated tail that is the only line leaves an empty history.
    path.write_text('{"index":0,"ty')
    assert read_jsonl_with_report(path, allow_truncated_tail=True) == ([], 1)


def test_writer_then_truncation_is_recoverable(tmp_path):
    path = tmp_path / "h.jsonl"
    with HistoryWriter(path) as w:
        for i in range(5):
            w.append({"type": "invoke", "process": i, "f": "write", "value": i})
    data = path.read_bytes()
    path.write_bytes(data[:-7])  # lose the end of the last line
    ops = read_jsonl(path, allow_truncated_tail=True)
    assert [op["process"] for op in ops] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "op, msg",
    [
        ({"type": "okk", "process": 1, "f": "read"},
         'history.jsonl:12: field "type": expected one of invoke, ok, fail, info, got "okk"'),
        ({"process": 1, "f": "read"}, 'history.jsonl:12: field "type": missing'),
        ({"type": "ok", "process": True, "f": "read"},
         'history.jsonl:12: field "process": expected an integer or "nemesis", got true'),
        ({"type": "ok", "process": 1.0, "f": "read"},
         'history.jsonl:12: field "process": expected an integer or "nemesis", got 1.0'),
        ({"type": "ok", "process": 1, "f": ["read"]}, 'history.jsonl:12: field "f": expected a string, got ["read"]'),
        ({"type": "ok", "process": 1, "f": "read", "time": "1"},
         'history.jsonl:12: field "time": expected an integer, got "1"'),
        ({"type": "ok", "process": 1, "f": "read", "index": "x" * 100},
         'history.jsonl:12: field "index": expected a non-negative integer, got "' + "x" * 56 + "..."),
        ([1, 2], "history.jsonl:12: expected an operation object, got [1, 2]"),
    ],
)
def test_validate_op_messages(op, msg):
    with pytest.raises(InputError) as e:
        validate_op(op, "history.jsonl:12")
    assert str(e.value) == msg
    assert "\n" not in str(e.value)


def test_validate_op_returns_op_and_optional_fields():
    op = {"type": "info", "process": "nemesis", "f": "kill", "time": 0, "index": 0, "x": object()}
    assert validate_op(op, "w") is op
    # Only type required: process and f are checked only when present.
    assert validate_op({"type": "ok", "value": []}, "w", require=("type",))
    with pytest.raises(InputError, match='field "process": missing'):
        validate_op({"type": "ok", "f": "read"}, "w")
    # JSON's own line must still parse: a multi-line value is rendered on one line.
    with pytest.raises(InputError) as e:
        validate_op({"type": "a\nb", "process": 0, "f": "x"}, "w")
    assert str(e.value) == 'w: field "type": expected one of invoke, ok, fail, info, got "a\\nb"'
    json.dumps(str(e.value))
