"""Property tests for Porcupine's kv model (get / put / append on string values): the native
core's keyed-string encoding and the pure-Python search, each partitioned by key and unpartitioned,
agree with a brute-force checker on small histories.

The brute force tries every subset of the indeterminate (info / never completed) ops and every
order of the chosen ops, keeps the orders that respect real time, and runs them through its own
tiny key-value map (written here independently of checkers.linearizable.models).
"""

from itertools import combinations, permutations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.linearizable import check_history, make_model
from checkers.linearizable.native import AVAILABLE as NATIVE_AVAILABLE, runs_without_python
from checkers.linearizable.search import Op
from checkers.linearizable.models import UNKNOWN

KEYS = ["a", "b"]
WRITTEN = ["x", "y", ""]
SEEN = ["", "x", "y", "xy", "yx", "xx", None]  # None: Porcupine's "no value", reads as ""


def ref_legal(order):
    """Run ``order`` through a plain dict; False when a get saw another value."""
    store = {}
    for o in order:
        cur = store.get(o["key"], "")
        if o["f"] == "get":
            if o["ret"] is not None and o["seen"] != cur:
                return False
        elif o["f"] == "put":
            store[o["key"]] = o["arg"]
        else:
            store[o["key"]] = cur + o["arg"]
    return True


def ref_real_time(order):
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if b["ret"] is not None and b["ret"] < a["call"]:
                return False
    return True


def brute_force(ops):
    """ops: op-level dicts (see kv_ops); fail ops are dropped, info/open ones are optional."""
    kept = [dict(o, ret=o["end"] if o["kind"] == "ok" else None, seen=o["seen"] or "")
            for o in ops if o["kind"] != "fail"]
    must = [o for o in kept if o["ret"] is not None]
    maybe = [o for o in kept if o["ret"] is None]
    for k in range(len(maybe) + 1):
        for extra in combinations(maybe, k):
            for order in permutations(must + list(extra)):
                if ref_real_time(order) and ref_legal(order):
                    return True
    return False


@st.composite
def kv_ops(draw, max_ops=6):
    """Op-level kv histories: each op has distinct call and end positions."""
    n = draw(st.integers(1, max_ops))
    perm = draw(st.permutations(list(range(2 * n))))
    ops = []
    for i in range(n):
        a, b = sorted(perm[2 * i:2 * i + 2])
        f = draw(st.sampled_from(["get", "put", "append"]))
        ops.append({"f": f, "key": draw(st.sampled_from(KEYS)),
                    "arg": draw(st.sampled_from(WRITTEN)) if f != "get" else None,
                    "seen": draw(st.sampled_from(SEEN)) if f == "get" else None,
                    "call": a, "end": b,
                    "kind": draw(st.sampled_from(["ok", "ok", "ok", "info", "fail", "open"]))})
    return ops


def to_history(ops):
    """A Jepsen history, one process per op (as the porcupine-kv reader makes them)."""
    events = []
    for p, o in enumerate(ops):
        events.append((o["call"], {"type": "invoke", "process": p, "f": o["f"],
                                   "value": [o["key"], o["arg"]]}))
        if o["kind"] != "open":
            value = [o["key"], o["seen"] if o["f"] == "get" else o["arg"]]
            events.append((o["end"], {"type": o["kind"], "process": p, "f": o["f"], "value": value}))
    events.sort(key=lambda e: e[0])
    return [dict(op, index=i) for i, (_, op) in enumerate(events)]


PATHS = (True, False) if NATIVE_AVAILABLE else (False,)
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(ops=kv_ops())
def test_kv_history_matches_brute_force(ops):
    expected = brute_force(ops)
    for native in PATHS:  # the C core's keyed-string encoding (when built) and pure Python
        for partition in (True, False):
            r = check_history(to_history(ops), make_model("kv"), native=native, partition=partition)
            assert r["valid"] is expected, (native, partition)
            if expected is False:
                assert r["failed_op"]["f"] == "get" and r["failed_op"]["type"] == "ok"
                assert r["states"] and r["explanation"]


NEEDS_NATIVE = pytest.mark.skipif(not NATIVE_AVAILABLE,
                                  reason="native core not built (no C compiler at install time)")


@NEEDS_NATIVE
@SETTINGS
@given(ops=kv_ops())
def test_kv_failure_report_is_the_same_on_both_paths(ops):
    """Unpartitioned (one search, so both paths meet the same first failure): the same failed
    op and the same set of states it could have seen."""
    fast = check_history(to_history(ops), make_model("kv"), native=True, partition=False)
    slow = check_history(to_history(ops), make_model("kv"), native=False, partition=False)
    assert fast["valid"] is slow["valid"]
    if fast["valid"] is False:
        assert fast["failed_op"] == slow["failed_op"]
        assert sorted(map(repr, fast["states"])) == sorted(map(repr, slow["states"]))


@NEEDS_NATIVE
def test_kv_uses_the_keyed_string_encoding():
    """kv runs in the native core without calling back into Python (so without the GIL)."""
    model = make_model("kv")
    ops = [Op(0, "put", ("a", "x"), ("a", "x"), 0, 1), Op(1, "append", ("b", "y"), ("b", "y"), 2, 3),
           Op(2, "get", ("a", None), ("a", "x"), 4, 5), Op(3, "get", ("b", None), UNKNOWN, 6, None)]
    assert runs_without_python(model, ops)
    keys, initial, codes = model.keyed_string_ops(ops)
    assert keys == ["a", "b"] and initial == ["", ""]
    assert [c[1:] for c in codes] == [(0, "x"), (1, "y"), (0, "x"), (0, None)]
    # a value the encoding cannot hold (a get that saw a number) falls back to the callback
    odd = ops[:2] + [Op(2, "get", ("a", None), ("a", 7), 4, 5)]
    assert model.keyed_string_ops(odd) is None
    assert check_history([
        {"index": 0, "type": "invoke", "process": 0, "f": "put", "value": ["a", "x"]},
        {"index": 1, "type": "ok", "process": 0, "f": "put", "value": ["a", "x"]},
        {"index": 2, "type": "invoke", "process": 0, "f": "get", "value": ["a", None]},
        {"index": 3, "type": "ok", "process": 0, "f": "get", "value": ["a", 7]},
    ], model, native=True)["valid"] is False


def hard_kv_history(n_procs=14):
    """Concurrent indefinite appends of distinct strings to one key, then a get of a value no
    order makes: the search has to try every subset and order of the appends before saying no."""
    h = [{"type": "invoke", "process": p, "f": "append", "value": ["k", f"<{p}>"]}
         for p in range(n_procs)]
    h += [{"type": "info", "process": p, "f": "append", "value": ["k", f"<{p}>"]}
          for p in range(n_procs)]
    h += [{"type": "invoke", "process": -1, "f": "get", "value": ["k", None]},
          {"type": "ok", "process": -1, "f": "get", "value": ["k", "never"]}]
    return [dict(op, index=i) for i, op in enumerate(h)]


@NEEDS_NATIVE
def test_kv_in_the_core_honours_the_deadline():
    r = check_history(hard_kv_history(), make_model("kv"), timeout_s=0.3, native=True)
    assert r["valid"] == "unknown" and r["cause"] == "timeout"


@NEEDS_NATIVE
def test_kv_in_the_core_honours_the_memory_bound():
    # the core counts its string and state tables too; 2 MB is reached long before the end
    r = check_history(hard_kv_history(), make_model("kv"), timeout_s=60, max_memory_mb=2,
                      native=True)
    assert r["valid"] == "unknown" and r["cause"] == "memory"


def test_small_hard_kv_history_is_invalid_on_both_paths():
    for native in PATHS:
        r = check_history(hard_kv_history(4), make_model("kv"), native=native)
        assert r["valid"] is False and r["failed_op"]["value"] == ["k", "never"]
        # every subset of the 4 appends, in every order: sum over k of 4!/(4-k)! states
        assert r["n_states"] == 1 + 4 + 12 + 24 + 24
