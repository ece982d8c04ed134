"""Multi-register workload: keys retire after N ops, every key is checked on its own
(P-compositionality), and hand-made invalid histories (a stale read, an impossible cas, a read
of another key's value) are rejected with an explanation naming the op."""

import random

import pytest

import harness.generator as gen
from harness.errors import InputError
from workloads import make_workload


def h(*ops):
    """ops: (process, type, f, value) in real-time order."""
    return [{"index": i, "time": i, "process": p, "type": t, "f": f, "value": v}
            for i, (p, t, f, v) in enumerate(ops)]


def check(history):
    return make_workload("multi-register").checker().check({}, history)


def test_interleaved_keys_are_checked_separately_and_valid():
    r = check(h((0, "invoke", "write", [1, 3]), (1, "invoke", "write", [2, 4]),
                (1, "ok", "write", [2, 4]), (0, "ok", "write", [1, 3]),
                (0, "invoke", "read", [2, None]), (0, "ok", "read", [2, 4]),
                (1, "invoke", "cas", [1, [3, 0]]), (1, "ok", "cas", [1, [3, 0]]),
                (1, "invoke", "read", [1, None]), (1, "ok", "read", [1, 0])))
    assert r["valid"] is True and r["partitions"] == 2 and r["model"] == "independent-cas-register"


def test_stale_read_on_one_key_is_invalid():
    r = check(h((0, "invoke", "write", [7, 1]), (0, "ok", "write", [7, 1]),
                (0, "invoke", "write", [7, 2]), (0, "ok", "write", [7, 2]),
                (1, "invoke", "write", [8, 1]), (1, "ok", "write", [8, 1]),
                (1, "invoke", "read", [7, None]), (1, "ok", "read", [7, 1])))
    assert r["valid"] is False and r["failed_op"]["value"] == [7, 1]
    assert "Process 1's read (index 6-7" in r["explanation"]
    assert "leaves the registers at {7 2}" in r["explanation"]


def test_cas_against_a_value_never_written_is_invalid():
    r = check(h((0, "invoke", "write", [1, 2]), (0, "ok", "write", [1, 2]),
                (1, "invoke", "cas", [1, [4, 0]]), (1, "ok", "cas", [1, [4, 0]])))
    assert r["valid"] is False and r["failed_op"]["f"] == "cas"
    assert "Process 1's cas" in r["explanation"]


def test_read_of_another_keys_value_is_invalid():
    r = check(h((0, "invoke", "write", [1, 3]), (0, "ok", "write", [1, 3]),
                (1, "invoke", "write", [2, 4]), (1, "ok", "write", [2, 4]),
                (0, "invoke", "read", [1, None]), (0, "ok", "read", [1, 4])))
    assert r["valid"] is False and "returned [1 4]" in r["explanation"]


def test_keys_retire_after_ops_per_key():
    w = make_workload("multi-register", {"key_count": 3, "ops_per_key": 10})
    ops = w.generator(random.Random(5)).take(300)
    per_key = {}
    for o in ops:
        per_key[o["value"][0]] = per_key.get(o["value"][0], 0) + 1
    assert max(per_key.values()) == 10 and len(per_key) >= 300 // 10
    full = [k for k, n in per_key.items() if n == 10]
    assert len(full) >= 300 // 10 - 3  # all but the (at most 3) keys still active
    assert ops == w.generator(random.Random(5)).take(300)
    shapes = {o["f"]: o["value"] for o in ops}
    assert shapes["read"][1] is None and isinstance(shapes["write"][1], int)
    assert len(shapes["cas"][1]) == 2


def test_simulated_linearizable_store_is_valid():
    store = {}

    def complete(op):
        k, v = op["value"]
        if op["f"] == "read":
            return {"type": "ok", "value": [k, store.get(k)]}
        if op["f"] == "write":
            store[k] = v
            return "ok"
        if store.get(k) == v[0]:
            store[k] = v[1]
            return "ok"
        return "fail"

    w = make_workload("multi-register", {"key_count": 4, "ops_per_key": 50})
    history = gen.Simulator(5, seed=2, latency=0.001, complete=complete).run(
        gen.clients(gen.limit(1000, w.generator(random.Random(2)))))
    r = w.checker().check({}, history)
    assert r["valid"] is True and r["partitions"] >= 1000 // 50 - 4


@pytest.mark.parametrize("options, needle", [
    ({"key_count": 0}, "key_count"), ({"ops_per_key": "x"}, "ops_per_key"),
    ({"checker_timeout_s": -1}, "checker_timeout_s"), ({"nope": 1}, "unknown option 'nope'"),
])
def test_bad_options(options, needle):
    with pytest.raises(InputError, match=needle):
        make_workload("multi-register", options)
