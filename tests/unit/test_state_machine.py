"""The replicated KV state machine: get/put/cas, atomic transactions with r/w/append, snapshots."""

from reference_impl.state_machine import KVStateMachine, validate_txn_ops


def test_put_get_and_cas_semantics():
    sm = KVStateMachine()
    assert sm.apply(1, {"op": "get", "key": "x"}) == {"value": None, "found": False}
    assert sm.apply(2, {"op": "cas", "key": "x", "from": None, "to": 1}) == {"ok": True, "value": None}
    assert sm.apply(3, {"op": "cas", "key": "x", "from": None, "to": 2}) == {"ok": False, "value": 1}
    assert sm.apply(4, {"op": "cas", "key": "x", "from": 1, "to": 3}) == {"ok": True, "value": 1}
    assert sm.apply(5, {"op": "put", "key": "x", "value": [1]}) == {"ok": True}
    assert sm.get("x") == (True, [1])
    assert sm.apply(6, {"op": "noop"}) is None
    assert sm.applied_index == 6


def test_int_and_str_keys_stay_apart():
    sm = KVStateMachine()
    sm.apply(1, {"op": "txn", "ops": [["w", 1, "int"], ["w", "1", "str"]]})
    assert sm.get(1) == (True, "int") and sm.get("1") == (True, "str")


def test_txn_reads_see_earlier_writes_of_the_same_txn():
    sm = KVStateMachine()
    out = sm.apply(1, {"op": "txn", "ops": [["r", "a", None], ["append", "a", 1], ["append", "a", 2],
                                             ["r", "a", None], ["w", "b", 5], ["r", "b", None]]})
    assert out == {"ops": [["r", "a", None], ["append", "a", 1], ["append", "a", 2],
                           ["r", "a", [1, 2]], ["w", "b", 5], ["r", "b", 5]]}
    assert sm.get("a") == (True, [1, 2])


def test_txn_is_all_or_nothing():
    sm = KVStateMachine()
    sm.apply(1, {"op": "put", "key": "n", "value": 3})
    out = sm.apply(2, {"op": "txn", "ops": [["w", "a", 1], ["append", "n", 4]]})
    assert "error" in out
    assert sm.get("a") == (False, None) and sm.get("n") == (True, 3)


def test_reads_return_copies_not_live_state():
    sm = KVStateMachine()
    sm.apply(1, {"op": "txn", "ops": [["append", "l", 1]]})
    out = sm.apply(2, {"op": "txn", "ops": [["r", "l", None]]})
    out["ops"][0][2].append(99)
    assert sm.get("l") == (True, [1])


def test_validate_txn_ops():
    assert validate_txn_ops([["r", "x", None]]) is None
    assert "non-empty" in validate_txn_ops([])
    assert "micro-op" in validate_txn_ops([["inc", "x", 1]])
    assert "[f, key, value]" in validate_txn_ops([["r", "x"]])


def test_malformed_commands_change_nothing():
    sm = KVStateMachine()
    assert "error" in sm.apply(1, {"op": "put"})
    assert "error" in sm.apply(2, {"op": "explode"})
    assert sm.data == {}


def test_snapshot_round_trip_and_order_check():
    sm = KVStateMachine()
    sm.apply(1, {"op": "put", "key": "x", "value": {"deep": [1]}})
    sm.apply(2, {"op": "put", "key": 7, "value": 8})
    other = KVStateMachine()
    other.restore(sm.snapshot())
    assert other.digest() == sm.digest() and other.applied_index == 2
    try:
        other.apply(2, {"op": "noop"})
    except ValueError:
        pass
    else:
        raise AssertionError("applying an old index must fail")
