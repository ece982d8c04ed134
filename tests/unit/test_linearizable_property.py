"""Property tests: the WGL search agrees with a brute-force checker on small histories.

The brute force enumerates every subset of the indeterminate (info / never completed) ops and
every order of the chosen ops, keeps the orders that respect real time (a before b whenever a
completed before b was invoked), and runs them through its own tiny register model (written
here independently of checkers.linearizable.models).
"""

from itertools import combinations, permutations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkers.linearizable import check_history, make_model
from checkers.linearizable.models import UNKNOWN, freeze
from checkers.linearizable.search import Op, search

VALUES = [0, 1, 2]
FAIL = object()


def ref_step(initial, state, f, iv, ov, info):
    if f == "read":
        if info:
            return state
        if ov is None and initial is not None:
            return state
        return state if ov == state else FAIL
    if f == "write":
        return iv
    if f == "cas":
        return iv[1] if state == iv[0] else FAIL
    raise AssertionError(f)


def legal(order, initial):
    state = initial
    for o in order:
        state = ref_step(initial, state, o["f"], o["iv"], o["ov"], o["ret"] is None)
        if state is FAIL:
            return False
    return True


def respects_real_time(order):
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            if b["ret"] is not None and b["ret"] < a["call"]:
                return False
    return True


def brute_force(ops, initial):
    """ops: dicts f, iv, ov, call, ret (None = may happen any time after call, or never)."""
    must = [o for o in ops if o["ret"] is not None]
    maybe = [o for o in ops if o["ret"] is None]
    for k in range(len(maybe) + 1):
        for extra in combinations(maybe, k):
            for order in permutations(must + list(extra)):
                if respects_real_time(order) and legal(order, initial):
                    return True
    return False


@st.composite
def small_ops(draw, fs, max_ops=6, with_none=True):
    """Op-level histories: each op has a call and (if ok) a return position, all distinct."""
    n = draw(st.integers(1, max_ops))
    perm = draw(st.permutations(list(range(2 * n))))
    ops = []
    read_values = VALUES + ([None] if with_none else [])
    for i in range(n):
        a, b = sorted(perm[2 * i:2 * i + 2])
        f = draw(st.sampled_from(fs))
        kind = draw(st.sampled_from(["ok", "ok", "ok", "info", "fail", "open"]))
        if f == "read":
            iv, ov = None, draw(st.sampled_from(read_values))
        elif f == "write":
            iv = draw(st.sampled_from(VALUES))
            ov = iv
        else:
            iv = [draw(st.sampled_from(read_values)), draw(st.sampled_from(VALUES))]
            ov = iv
        ops.append({"f": f, "iv": iv, "ov": ov, "call": a, "end": b, "kind": kind})
    return ops


def to_history(ops):
    """A Jepsen history, one process per op; 'open' ops never complete."""
    events = []
    for p, o in enumerate(ops):
        events.append((o["call"], {"type": "invoke", "process": p, "f": o["f"],
                                   "value": None if o["f"] == "read" else o["iv"]}))
        if o["kind"] != "open":
            value = o["ov"] if o["f"] == "read" else o["iv"]
            events.append((o["end"], {"type": o["kind"], "process": p, "f": o["f"], "value": value}))
    events.sort(key=lambda e: e[0])
    hist = [dict(op, index=i) for i, (_, op) in enumerate(events)]
    return hist


def brute_force_history(ops, initial):
    """Jepsen semantics on the op-level description: fail dropped; info/open optional."""
    kept = []
    for o in ops:
        if o["kind"] == "fail":
            continue
        kept.append({"f": o["f"], "iv": o["iv"], "ov": o["ov"], "call": o["call"],
                     "ret": o["end"] if o["kind"] == "ok" else None})
    return brute_force(kept, initial)


from checkers.linearizable.native import AVAILABLE as NATIVE_AVAILABLE  # noqa: E402

PATHS = (True, False) if NATIVE_AVAILABLE else (False,)

SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(ops=small_ops(["read", "write"]), initial=st.sampled_from([None, 0]))
def test_register_history_matches_brute_force(ops, initial):
    expected = brute_force_history(ops, initial)
    for native in PATHS:  # the C core (when built) and the pure-Python search
        r = check_history(to_history(ops), make_model("register", initial), native=native)
        assert r["valid"] is expected, native


@SETTINGS
@given(ops=small_ops(["read", "write", "cas"]), initial=st.sampled_from([None, 0]))
def test_cas_register_history_matches_brute_force(ops, initial):
    expected = brute_force_history(ops, initial)
    for native in PATHS:
        r = check_history(to_history(ops), make_model("cas-register", initial), native=native)
        assert r["valid"] is expected, native
    if r["valid"] is False:
        # the reported op is a real ok op and the reported states are distinct
        assert r["failed_op"]["type"] == "ok"
        assert len(r["states"]) == len(set(map(repr, r["states"])))
        assert r["explanation"]


def _search_ops(ops):
    out = []
    for i, o in enumerate(o for o in ops if o["kind"] != "fail"):
        info = o["kind"] != "ok"
        out.append(Op(id=i, f=o["f"], invoke_value=freeze(o["iv"]),
                      ok_value=UNKNOWN if info else freeze(o["ov"]),
                      call=o["call"], ret=None if info else o["end"]))
    return out


@SETTINGS
@given(ops=small_ops(["read", "write", "cas"]), initial=st.sampled_from([None, 0]))
def test_search_witness_is_a_real_linearization(ops, initial):
    sops = _search_ops(ops)
    res = search(make_model("cas-register", initial), sops)
    expected = brute_force([{"f": o.f, "iv": o.invoke_value, "ov": o.ok_value, "call": o.call,
                             "ret": o.ret} for o in sops], initial)
    assert res.valid is expected
    if res.valid:
        order = [sops[i] for i in res.linearization]
        # every ok op is in it exactly once, info ops at most once
        ids = [o.id for o in order]
        assert len(ids) == len(set(ids))
        assert {o.id for o in sops if o.ret is not None} <= set(ids)
        as_dicts = [{"f": o.f, "iv": o.invoke_value, "ov": o.ok_value, "call": o.call,
                     "ret": o.ret} for o in order]
        assert respects_real_time(as_dicts)
        assert legal(as_dicts, initial)
    else:
        assert res.blocked_op is not None and sops[res.blocked_op].ret == res.blocked_pos


def run_states(order, initial):
    state = initial
    for o in order:
        state = ref_step(initial, state, o["f"], o["iv"], o["ov"], o["ret"] is None)
        if state is FAIL:
            return FAIL
    return state


@SETTINGS
@given(ops=small_ops(["read", "write", "cas"]), initial=st.sampled_from([None, 0]))
def test_reported_states_are_exactly_the_reachable_ones(ops, initial):
    """On a failure, the states the report gives are exactly the states some real-time order of
    the other ops can reach when the failed op completes (what the explanation claims)."""
    sops = _search_ops(ops)
    res = search(make_model("cas-register", initial), sops)
    if res.valid is not False:
        return
    x = sops[res.blocked_op]
    end = res.blocked_pos
    assert x.ret == end
    as_d = {o.id: {"f": o.f, "iv": o.invoke_value, "ov": o.ok_value, "call": o.call, "ret": o.ret}
            for o in sops}
    must = [o.id for o in sops if o.ret is not None and o.ret < end]
    maybe = [o.id for o in sops if o.id != x.id and o.call < end and o.id not in must]
    reachable = set()
    for k in range(len(maybe) + 1):
        for extra in combinations(maybe, k):
            for order in permutations(must + list(extra)):
                seq = [as_d[i] for i in order]
                if respects_real_time(seq):
                    st_ = run_states(seq, initial)
                    if st_ is not FAIL:
                        reachable.add(st_)
    assert res.final_states == reachable
    # and the failed op cannot take effect in any of them
    for s_ in reachable:
        assert ref_step(initial, s_, x.f, x.invoke_value, x.ok_value, False) is FAIL
