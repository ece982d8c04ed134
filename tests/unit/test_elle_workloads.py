"""The list-append / rw-register workloads: op shapes, unique writes, key retirement, checkers."""

import sys
from pathlib import Path

import pytest

from checkers.elle import ElleListAppendChecker, ElleRwRegisterChecker
from harness.errors import InputError
from workloads import WORKLOADS, make_workload

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


def test_registered():
    assert {"list-append", "rw-register"} <= set(WORKLOADS)
    assert isinstance(make_workload("list-append").checker(), ElleListAppendChecker)
    assert isinstance(make_workload("rw-register").checker(), ElleRwRegisterChecker)


@pytest.mark.parametrize("name,write_f", [("list-append", "append"), ("rw-register", "w")])
def test_ops_unique_writes_and_retirement(name, write_f):
    w = make_workload(name, {"key_count": 2, "max_writes_per_key": 3, "min_txn_length": 2,
                             "max_txn_length": 3})
    ops = w.generator(7).take(200)
    seen = set()
    per_key = {}
    for op in ops:
        assert op["f"] == "txn" and 2 <= len(op["value"]) <= 3
        for f, k, v in op["value"]:
            assert f in ("r", write_f)
            if f == "r":
                assert v is None
            else:
                assert (k, v) not in seen
                seen.add((k, v))
                per_key[k] = per_key.get(k, 0) + 1
    assert max(per_key.values()) <= 3 and len(per_key) > 2  # keys retired and replaced


def test_deterministic():
    a = make_workload("list-append").generator(3).take(20)
    b = make_workload("list-append").generator(3).take(20)
    assert a == b


def test_bad_option():
    with pytest.raises(InputError, match="unknown option 'keys'"):
        make_workload("list-append", {"keys": 3})


def test_simulated_serializable_run_is_valid():
    from elle_list_append import generate

    h = generate(2000, procs=5, mops=4, seed=1)
    assert ElleListAppendChecker({}).check(None, h, {})["valid"] is True
