"""kv, set, queue and mutex models; P-compositionality; the memory bound and the deadline; the
fallback when the native core is missing."""

import random

import pytest

from checkers.linearizable import check_history, make_model, native, prepare
from checkers.linearizable.models import UNKNOWN
from checkers.linearizable.partition import partition_ops


def hist(*ops):
    """(process, f, invoke value, completion type, completion value, start, end) -> history."""
    events = []
    for p, f, iv, t, cv, a, b in ops:
        events.append((a, {"type": "invoke", "process": p, "f": f, "value": iv}))
        if t is not None:
            events.append((b, {"type": t, "process": p, "f": f, "value": cv}))
    events.sort(key=lambda e: e[0])
    return [dict(op, index=i) for i, (_, op) in enumerate(events)]


def test_kv_model_get_put_append():
    m = make_model("kv")
    s = m.init()
    ok, s = m.step(s, "put", ("k", "a"), ("k", "a"))
    assert ok
    ok, s = m.step(s, "append", ("k", "b"), ("k", "b"))
    assert m.step(s, "get", ("k", None), ("k", "ab")) == (True, s)
    assert m.step(s, "get", ("k", None), ("k", "a"))[0] is False
    assert m.step(s, "get", ("j", None), ("j", ""))[0] is True  # missing key reads as ""
    assert m.step(s, "get", ("k", None), UNKNOWN)[0] is True


def test_kv_stale_get_is_invalid_and_partitioned():
    h = hist((0, "put", ["x", "1"], "ok", ["x", "1"], 0, 1),
             (1, "put", ["y", "2"], "ok", ["y", "2"], 2, 3),
             (2, "get", ["x", None], "ok", ["x", ""], 4, 5))
    r = check_history(h, make_model("kv"))
    assert r["valid"] is False and r["partitions"] == 2
    assert r["failed_op"]["process"] == 2


def test_set_model():
    h = hist((0, "add", 1, "ok", 1, 0, 3), (1, "add", 2, "info", None, 1, 9),
             (2, "read", None, "ok", [1, 2], 4, 5), (3, "read", None, "ok", [1], 6, 7))
    assert check_history(h, make_model("set"))["valid"] is False
    h2 = hist((0, "add", 1, "ok", 1, 0, 3), (2, "read", None, "ok", [1], 4, 5),
              (1, "add", 2, "info", None, 1, 9), (3, "read", None, "ok", [1, 2], 6, 7))
    assert check_history(h2, make_model("set"))["valid"] is True


def test_queue_model_is_fifo():
    ok = hist((0, "enqueue", 1, "ok", 1, 0, 1), (0, "enqueue", 2, "ok", 2, 2, 3),
              (1, "dequeue", None, "ok", 1, 4, 5), (1, "dequeue", None, "ok", 2, 6, 7))
    bad = hist((0, "enqueue", 1, "ok", 1, 0, 1), (0, "enqueue", 2, "ok", 2, 2, 3),
               (1, "dequeue", None, "ok", 2, 4, 5))
    assert check_history(ok, make_model("queue"))["valid"] is True
    assert check_history(bad, make_model("queue"))["valid"] is False


def test_mutex_model_two_holders_is_invalid():
    bad = hist((0, "acquire", None, "ok", None, 0, 1), (1, "acquire", None, "ok", None, 2, 3))
    good = hist((0, "acquire", None, "ok", None, 0, 1), (0, "release", None, "ok", None, 2, 3),
                (1, "acquire", None, "ok", None, 4, 5))
    assert check_history(bad, make_model("mutex"))["valid"] is False
    assert check_history(good, make_model("mutex"))["valid"] is True


def test_multi_register_txns_join_their_keys():
    m = make_model("multi-register", {"x": 0, "y": 0, "z": 0})
    h = hist((0, "txn", [["write", "x", 1], ["write", "y", 1]], "ok",
              [["write", "x", 1], ["write", "y", 1]], 0, 1),
             (1, "txn", [["write", "z", 2]], "ok", [["write", "z", 2]], 2, 3),
             (2, "txn", [["read", "y", None]], "ok", [["read", "y", 1]], 4, 5))
    ops, _n, _ = prepare(m, h)
    parts = partition_ops(m, ops)
    assert sorted(len(p) for p in parts) == [1, 2]
    assert all([op.id for op in p] == list(range(len(p))) for p in parts)
    assert check_history(h, m)["valid"] is True


def hard_history(n_procs=12, n_ops=700, seed=5):
    """Many concurrent indefinite writes and cas over a 3-value register, then a read nobody could
    have seen: the search must look at a huge number of configurations before saying no."""
    rnd = random.Random(seed)
    h, t = [], 0
    for i in range(n_ops // n_procs):
        for p in range(n_procs):
            f = rnd.choice(["write", "cas"])
            v = rnd.randrange(3) if f == "write" else [rnd.randrange(3), rnd.randrange(3)]
            h.append({"type": "invoke", "process": p + 100 * i, "f": f, "value": v})
        for p in range(n_procs):
            h.append({"type": "info", "process": p + 100 * i, "f": h[len(h) - n_procs]["f"],
                      "value": h[len(h) - n_procs]["value"]})
    h.append({"type": "invoke", "process": -1, "f": "read", "value": None})
    h.append({"type": "ok", "process": -1, "f": "read", "value": 7})
    return [dict(op, index=i) for i, op in enumerate(h)]


@pytest.mark.parametrize("native_path", [None, False])
def test_deadline_gives_unknown(native_path):
    r = check_history(hard_history(), make_model("cas-register", 0), timeout_s=0.3,
                      native=native_path)
    assert r["valid"] == "unknown" and r["cause"] == "timeout"


def test_memory_bound_gives_unknown():
    # the native core counts its own tables; a 1 MB bound is hit almost at once
    if not native.AVAILABLE:
        pytest.skip("native core not built")
    r = check_history(hard_history(), make_model("cas-register", 0), timeout_s=60,
                      max_memory_mb=1, native=True)
    assert r["valid"] == "unknown" and r["cause"] == "memory"


def test_missing_native_core_falls_back(monkeypatch):
    h = hist((0, "write", 1, "ok", 1, 0, 1), (1, "read", None, "ok", 2, 2, 3))
    monkeypatch.setattr(native, "_wgl", None)
    r = check_history(h, make_model("register"))
    assert r["valid"] is False
    with pytest.raises(RuntimeError):
        check_history(h, make_model("register"), native=True)


def test_unobserved_info_writes_are_pruned():
    h = hist((0, "write", 9, "info", None, 0, 9), (1, "write", 1, "ok", 1, 1, 2),
             (2, "read", None, "ok", 1, 3, 4))
    ops, _n, stats = prepare(make_model("register"), h)
    assert stats.get("info_pruned") == 1 and len(ops) == 2
