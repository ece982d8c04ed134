"""pair_ops: each client invoke with its completion."""

import pytest

from harness.errors import InputError
from harness.history import pair_ops


def op(index, type, process, f="read", value=None, **extra):
    return {"index": index, "type": type, "process": process, "f": f, "value": value, **extra}


def test_pairs_in_invoke_order_and_skip_nemesis():
    h = [
        op(0, "invoke", 1, "write", 3),
        op(1, "invoke", 2),
        op(2, "info", "nemesis", "start-partition", {"n1": ["n2"]}),
        op(3, "ok", 2, value=0),
        op(4, "fail", 1, "write", 3),
        op(5, "invoke", 2, "cas", [0, 1]),
        op(6, "invoke", "nemesis", "kill"),  # nemesis ops are ignored whatever their type
        op(7, "info", 2, "cas", None, error="timeout"),
        op(8, "invoke", 12),  # the crashed process 2 continues as 2 + concurrency
        op(9, "ok", 12, value=1),
    ]
    pairs = pair_ops(h)
    assert [(a["index"], b["index"]) for a, b in pairs] == [(0, 4), (1, 3), (5, 7), (8, 9)]
    assert pairs[2][1]["error"] == "timeout"
    assert pair_ops([]) == []


def test_open_invoke_is_an_error_unless_open_as_info():
    h = [op(0, "invoke", 1), op(1, "invoke", 3, "write", 7), op(2, "ok", 1, value=7)]
    with pytest.raises(InputError) as e:
        pair_ops(h)
    assert str(e.value) == "index 1: invoke of process 3 (f=write) has no completion"
    pairs = pair_ops(h, open_as_info=True)
    assert pairs[1] == (
        h[1],
        {"type": "info", "process": 3, "f": "write", "value": None, "synthesized": True, "index": None},
    )
    assert pairs[0] == (h[0], h[2])


def test_first_open_invoke_in_history_order_is_named():
    h = [op(0, "invoke", 5), op(1, "invoke", 1), op(2, "invoke", 9), op(3, "ok", 1)]
    with pytest.raises(InputError) as e:
        pair_ops(h)
    assert str(e.value) == "index 0: invoke of process 5 (f=read) has no completion"
    assert [b["process"] for _, b in pair_ops(h, open_as_info=True)] == [5, 1, 9]


@pytest.mark.parametrize(
    "history, msg",
    [
        ([op(0, "ok", 1)], "index 0: ok completion of process 1 (f=read) has no invoke in flight"),
        ([op(0, "invoke", 1), op(1, "ok", 1), op(2, "fail", 1)],
         "index 2: fail completion of process 1 (f=read) has no invoke in flight"),
        ([op(0, "invoke", 1), op(1, "invoke", 1, "write", 2)],
         "index 1: invoke of process 1 (f=write) while its invoke at index 0 (f=read) is still in flight"),
        ([op(0, "invoke", 1), op(1, "ok", 1, "write")],
         "index 1: ok completion of process 1 has f=write but its invoke at index 0 has f=read"),
        ([op(0, "invoke", 1), op(1, "info", 1), op(2, "invoke", 1)],
         "index 2: invoke of process 1 (f=read) after its info completion at index 1; "
         "a process whose op ended info must not issue more ops"),
        ([{"index": 4, "type": "invoke", "f": "read"}], "index 4: op has no process"),
        ([op(0, "done", 1)], 'index 0: type "done" is not one of invoke, ok, fail, info'),
    ],
)
def test_pairing_errors(history, msg):
    with pytest.raises(InputError) as e:
        pair_ops(history)
    assert str(e.value) == msg
    # open_as_info only changes how open invokes at the end are treated
    if "has no completion" not in msg:
        with pytest.raises(InputError):
            pair_ops(history, open_as_info=True)


def test_missing_index_falls_back_to_position():
    h = [{"type": "invoke", "process": 0, "f": "read"}, {"type": "invoke", "process": 0, "f": "read"}]
    with pytest.raises(InputError) as e:
        pair_ops(h)
    assert str(e.value) == "index 1: invoke of process 0 (f=read) while its invoke at index 0 (f=read) is still in flight"
