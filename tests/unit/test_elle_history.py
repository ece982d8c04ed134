"""Transactions out of histories: tolerant pairing, and one clear error line per bad micro-op."""

import pytest

from checkers.elle import ElleListAppendChecker, ElleRwRegisterChecker
from checkers.elle.history import transactions
from checkers.elle.list_append import KINDS
from harness.errors import InputError


def _ok(i, value, p=0):
    return {"index": i, "type": "ok", "process": p, "f": "txn", "value": value}


@pytest.mark.parametrize("mop,message", [
    (["r", "x"], "op 7: micro-op 0 .*expected 3 elements"),
    (["r", "x", 1, 2], "op 7: micro-op 0 .*expected 3 elements"),
    (["inc", "x", 1], "op 7: micro-op 0 .*unknown micro-op f \"inc\""),
    (["r", "x", 3], "op 7: micro-op 0 .*a read of a list key must give a list"),
    ("r x", "op 7: micro-op 0 .*expected a list"),
])
def test_malformed_micro_ops_name_the_op(mop, message):
    with pytest.raises(InputError, match=message) as e:
        ElleListAppendChecker({}).check(None, [_ok(7, [mop])], {})
    assert "\n" not in str(e.value)


def test_value_must_be_a_list():
    with pytest.raises(InputError, match="op 3: a transaction's value must be a list"):
        ElleRwRegisterChecker({}).check(None, [_ok(3, {"r": 1})], {})


def test_rw_register_rejects_append():
    with pytest.raises(InputError, match="unknown micro-op f \"append\""):
        ElleRwRegisterChecker({}).check(None, [_ok(0, [["append", "x", 1]])], {})


def test_tolerant_pairing():
    h = [
        {"index": 0, "type": "invoke", "process": 0, "value": [["r", "x", None]]},
        {"index": 1, "type": "invoke", "process": 0, "value": [["append", "x", 1]]},
        {"index": 2, "type": "ok", "process": 0, "value": [["append", "x", 1]]},
        {"index": 3, "type": "ok", "process": 0, "value": [["r", "x", [1]]]},
        _ok(4, [["r", "y", []]], p=5),                      # no invoke
        {"index": 5, "type": "invoke", "process": 1, "value": [["append", "y", 2]]},  # never completes
        {"index": 6, "type": "info", "process": "nemesis", "f": "kill", "value": None},
    ]
    txns = transactions(h, KINDS)
    by_index = {t.index: t for t in txns}
    assert by_index[2].invoke_pos == 1 and by_index[3].invoke_pos == 0  # matched by shape
    assert by_index[4].invoke_pos == by_index[4].complete_pos == 4
    assert by_index[5].type == "info" and by_index[5].mops == [("append", "y", 2)]
    assert len(txns) == 4


def test_info_reads_observe_nothing():
    h = [{"index": 0, "type": "invoke", "process": 0, "value": [["r", "x", None], ["append", "x", 1]]},
         {"index": 1, "type": "info", "process": 0, "value": None}]
    (t,) = transactions(h, KINDS)
    assert t.type == "info" and t.mops == [("r", "x", None), ("append", "x", 1)]
