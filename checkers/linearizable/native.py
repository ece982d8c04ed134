"""The optional native core (``_wgl.c``): the same search, with the model's states as ints.

Three encodings, tried in order: ``Model.int_ops`` (registers: values interned to small ints),
``Model.keyed_string_ops`` (Porcupine's kv: a vector of interned strings per state, appends done
in C) and, for any other model, a cached callback into ``Model.step``. The first two never call
into Python, so the core releases the GIL. :func:`native_search` returns a
:class:`~.search.SearchResult` just like :func:`~.search.search`, or ``None`` when the extension
is not built; the caller then runs the pure-Python search. Paths come back as op ids and are
replayed through the model here to get the states after each op.
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


def _keyed_encoding(enc):
    """Model.keyed_string_ops's answer as the core's arguments: strings interned to ids."""
    keys, initial, kops = enc
    ids: dict = {}

    def sid(s):
        i = ids.get(s)
        if i is None:
            i = ids[s] = len(ids)
        return i

    init_ids = [sid(s) for s in initial]
    codes = [(c, k, 0 if s is None else sid(s)) for c, k, s in kops]
    strings = [s.encode("utf-8", "surrogatepass") for s in ids]
    return keys, codes, (len(keys), strings, init_ids)


def runs_without_python(model, ops) -> bool:
    """True when the C core checks these ops without calling back into Python (it then releases
    the GIL, so threads check partitions in parallel)."""
    return _wgl is not None and (model.int_ops(ops) is not None or
                                 model.keyed_string_ops(ops) is not None)


def native_search(model, ops, deadline=None, max_bytes=None, cpu_slice_s=None):
    """Search with the C core, or ``None`` when it is not built. Models with an integer
    encoding (``int_ops``) or a keyed-string one (``keyed_string_ops``) run without the GIL; any
    other model through a cached callback. ``cpu_slice_s``: as in :func:`~.search.search`."""
    if _wgl is None:
        return None
    enc = model.int_ops(ops)
    callback = keyed = keys = None
    if enc is None:
        kenc = model.keyed_string_ops(ops)
        if kenc is not None:
            keys, codes, keyed = _keyed_encoding(kenc)
            init, values = 0, None
        else:
            init, codes, values, callback = _callback_encoding(model, ops)
    else:
        init, codes, values = enc
    timeout = 0.0
    if deadline is not None:
        timeout = max(deadline - time.monotonic(), 1e-6)
    valid, configs, blocked, finals, paths, cause = _wgl.search(
        [op.call for op in ops], [-1 if op.ret is None else op.ret for op in ops],
        [c for c, _a, _b in codes], [a for _c, a, _b in codes], [b for _c, _a, b in codes], twin_before(ops),
        init, timeout, float(max_bytes or 0), callback, keyed, float(cpu_slice_s or 0))
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
    if valid == 0 and blocked >= 0:  # the counterexample (an unknown verdict reports none)
        if keyed is not None:  # finals come back as tuples of strings
            res.final_states = {model.keyed_string_state(keys, s) for s in finals}
        else:
            states = model.native_states(values, ops)
            res.final_states = {states[s] for s in finals}
        res.paths = [_replay(model, ops, p, start) for p in paths]
    return res
