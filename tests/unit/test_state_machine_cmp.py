"""The ``cmp`` micro-op: a conditional transaction (multi-key compare-and-set), used by the bank
and queue workloads' raft client."""

from reference_impl.state_machine import KVStateMachine, validate_txn_ops


def test_cmp_that_holds_lets_the_txn_apply():
    sm = KVStateMachine()
    sm.apply(1, {"op": "txn", "ops": [["w", "a", 10], ["w", "b", 0]]})
    out = sm.apply(2, {"op": "txn", "ops": [["cmp", "a", 10], ["cmp", "b", 0],
                                             ["w", "a", 7], ["w", "b", 3]]})
    assert out == {"ops": [["cmp", "a", 10], ["cmp", "b", 0], ["w", "a", 7], ["w", "b", 3]]}
    assert sm.get("a") == (True, 7) and sm.get("b") == (True, 3)


def test_false_cmp_changes_nothing_and_names_the_compare():
    sm = KVStateMachine()
    sm.apply(1, {"op": "put", "key": "a", "value": 5})
    out = sm.apply(2, {"op": "txn", "ops": [["w", "b", 1], ["cmp", "a", 4], ["w", "a", 0]]})
    assert out == {"ok": False, "failed": [1, "a", 5]}
    assert sm.get("a") == (True, 5) and sm.get("b") == (False, None)


def test_cmp_none_means_absent_and_sees_earlier_writes_of_the_txn():
    sm = KVStateMachine()
    assert sm.apply(1, {"op": "txn", "ops": [["cmp", "h", None], ["w", "h", 1]]}) == \
        {"ops": [["cmp", "h", None], ["w", "h", 1]]}
    assert sm.apply(2, {"op": "txn", "ops": [["cmp", "h", None], ["w", "h", 2]]}) == \
        {"ok": False, "failed": [0, "h", 1]}
    assert sm.apply(3, {"op": "txn", "ops": [["w", "x", 9], ["cmp", "x", 9]]})["ops"][1] == ["cmp", "x", 9]


def test_cmp_is_a_valid_micro_op():
    assert validate_txn_ops([["cmp", "k", None]]) is None
    assert "cmp" in validate_txn_ops([["inc", "k", 1]])
