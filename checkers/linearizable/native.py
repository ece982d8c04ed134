"""The optional native core (``_wgl.c``): the same search for models with integer states.

:func:`native_search` returns a :class:`~.search.SearchResult` just like :func:`~.search.search`,
or ``None`` when the extension is not built or the model has no integer encoding; the caller then
runs the pure-Python search. Paths come back as op ids and are replayed through the model here to
get the states after each op.
"""

from __future__ import annotations

import time

from .search import SearchResult, twin_before

try:
    from . import _wgl
except ImportError:  # not built (no compiler at install time): pure Python only
    _wgl = None

AVAILABLE = _wgl is not None


def _replay(model, ops, ids, init):
    out = []
    state = init
    for oid in ids:
        op = ops[oid]
        _ok, state = model.step(state, op.f, op.invoke_value, op.ok_value)
        out.append((oid, state))
    return out


C_CALLBACK = 4


def _callback_encoding(model, ops):
    """Any model: states are interned to ints as the search meets them; the core asks
    ``step`` once per (state, op) pair it has not seen and caches the answer."""
    ids: dict = {}
    values: list = []

    def intern(state):
        i = ids.get(state)
        if i is None:
            i = ids[state] = len(values)
            values.append(state)
        return i

    fs = [op.f for op in ops]
    ivs = [op.invoke_value for op in ops]
    ovs = [op.ok_value for op in ops]
    step = model.step

    def callback(sid, oid):
        ok, new = step(values[sid], fs[oid], ivs[oid], ovs[oid])
        return (1, intern(new)) if ok else (0, sid)

    init = intern(model.init())
    return init, [(C_CALLBACK, 0, 0)] * len(ops), values, callback


def native_search(model, ops, deadline=None, max_bytes=None):
    """Search with the C core, or ``None`` when it is not built. Models with an integer
    encoding (``int_ops``) run without the GIL; any other model through a cached callback."""
    if _wgl is None:
        return None
    enc = model.int_ops(ops)
    callback = None
    if enc is None:
        init, codes, values, callback = _callback_encoding(model, ops)
    else:
        init, codes, values = enc
    timeout = 0.0
    if deadline is not None:
        timeout = max(deadline - time.monotonic(), 1e-6)
    valid, configs, blocked, finals, paths, cause = _wgl.search(
        [op.call for op in ops], [-1 if op.ret is None else op.ret for op in ops],
        [c for c, _a, _b in codes], [a for _c, a, _b in codes], [b for _c, _a, b in codes], twin_before(ops),
        init, timeout, float(max_bytes or 0), callback)
    res = SearchResult(valid={1: True, 0: False, -1: "unknown"}[valid], cause=cause,
                       configurations=configs)
    start = model.init()
    if valid == 1:
        if len(paths[0]) < sum(1 for op in ops if op.ret is not None):
            raise AssertionError("native linearizability search ran off the end of the entry list")
        res.linearization = list(paths[0])
        return res
    if blocked >= 0:
        res.blocked_op = blocked
        res.blocked_pos = ops[blocked].ret
        states = model.native_states(values, ops)
        res.final_states = {states[s] for s in finals}
        res.paths = [_replay(model, ops, p, start) for p in paths]
    return res
