"""Linearizability checker (Wing & Gong / Lowe just-in-time search, Porcupine's structure).

Semantics (Jepsen/Knossos):
- ``ok``: happened, somewhere between its invoke and its completion.
- ``fail``: certainly did not happen: dropped.
- ``info`` (and an invoke that never completed): may have happened at any point after its invoke,
  or never; its completion observed nothing. An ``info`` read is dropped (it constrains nothing).
- A read's observed value is on its ``ok`` completion; a write's / cas's argument on its invoke.
- Real time is history order (``index``).

``LinearizableChecker(model, timeout_s=None).check(test, history, opts)`` and
``check_history(history, model, timeout_s=None)`` return
``{"valid": True | False | "unknown", "model": name, "ops": n, "analyzer": "wgl", ...}``;
a ``False`` adds ``failed_op``, ``states``, ``final_paths``, ``longest_linearizable_prefix`` and
``explanation``; a timeout gives ``{"valid": "unknown", "cause": "timeout"}``.
"""

from __future__ import annotations

import time

from harness.errors import InputError

from .explain import explain
from .models import (MODELS, CASRegisterModel, Model, MultiRegisterModel, RegisterModel,
                     UNKNOWN, freeze, make_model)
from .search import MAX_PATHS, Op, SearchResult, search

__all__ = [
    "LinearizableChecker", "check_history", "prepare", "MODELS", "make_model", "Model",
    "RegisterModel", "CASRegisterModel", "MultiRegisterModel", "UNKNOWN",
]

ANALYZER = "wgl"
MAX_REPORTED_STATES = 50


def _with_indices(history: list[dict]) -> list[dict]:
    """The history with an ``index`` on every op (copies only when some are missing)."""
    if all("index" in op for op in history):
        return history
    return [op if "index" in op else {**op, "index": i} for i, op in enumerate(history)]


def _pairs(history):
    from harness.history.pairing import pair_ops  # another part of the harness; import late
    return pair_ops(history, open_as_info=True)


def summarize(inv: dict, comp: dict) -> dict:
    """A JSON-friendly summary of one operation for reports."""
    if comp.get("type") == "ok" and inv.get("f") not in ("write", "cas"):
        value = comp.get("value", inv.get("value"))  # reads (and txns) observe on completion
    else:
        value = inv.get("value")
    return {
        "process": inv.get("process"),
        "f": inv.get("f"),
        "value": value,
        "type": comp.get("type"),
        "index": inv.get("index"),
        "complete_index": comp.get("index") if comp.get("type") == "ok" else None,
    }


def prepare(model: Model, history: list[dict]):
    """Pair the history and turn it into search ops.

    Returns ``(ops, n_client_ops, stats)``; each op's ``meta`` holds its report summary.
    """
    history = _with_indices(history)
    pairs = _pairs(history)
    ops: list[Op] = []
    stats = {"ok": 0, "fail": 0, "info": 0, "info_dropped": 0}
    for inv, comp in pairs:
        f = inv.get("f")
        iv = freeze(inv.get("value"))
        model.check_op(f, iv, f"op {inv.get('index')} (process {inv.get('process')})")
        t = comp.get("type")
        if t == "fail":
            stats["fail"] += 1
            continue
        if t == "info":
            stats["info"] += 1
            if model.read_only(f, iv):
                stats["info_dropped"] += 1
                continue
            ov, ret = UNKNOWN, None
        elif t == "ok":
            stats["ok"] += 1
            ov, ret = freeze(comp.get("value")), comp["index"]
            if not (isinstance(ret, int) and isinstance(inv["index"], int) and ret > inv["index"]):
                raise InputError(f"op {ret}: index: the completion of process {inv.get('process')} "
                                 f"must come after its invoke (index {inv['index']!r})")
        else:
            raise InputError(f"op {comp.get('index')}: type: {t!r} is not a completion type")
        ops.append(Op(id=len(ops), f=f, invoke_value=iv, ok_value=ov, call=inv["index"], ret=ret,
                      meta=summarize(inv, comp)))
    return ops, len(pairs), stats


def _order_key(state):
    return (type(state).__name__, repr(state))


def _result(model: Model, ops: list[Op], n: int, res: SearchResult, elapsed: float) -> dict:
    out = {"valid": res.valid, "model": model.name, "ops": n, "analyzer": ANALYZER,
           "configurations": res.configurations, "time_s": round(elapsed, 6)}
    if res.valid is True:
        return out
    if res.valid == "unknown":
        out["cause"] = res.cause
        return out
    failed = ops[res.blocked_op].meta
    states = sorted(res.final_states, key=_order_key)
    paths = [[{"op": ops[oid].meta, "state": st} for oid, st in p] for p in res.paths]
    longest = paths[0] if paths else []
    out["failed_op"] = failed
    out["states"] = states[:MAX_REPORTED_STATES]
    out["n_states"] = len(states)
    out["final_paths"] = paths[:MAX_PATHS]
    out["longest_linearizable_prefix"] = [p["op"] for p in longest]
    out["explanation"] = explain(model, failed, states, longest, len(states))
    return out


def check_history(history: list[dict], model, timeout_s: float | None = None) -> dict:
    """Check ``history`` (op dicts) against ``model`` (a Model, or a name with initial None)."""
    if isinstance(model, str):
        model = make_model(model)
    ops, n, _stats = prepare(model, history)
    t0 = time.monotonic()
    res = search(model, ops, timeout_s=timeout_s)
    return _result(model, ops, n, res, time.monotonic() - t0)


class LinearizableChecker:
    """Jepsen's ``linearizable`` checker with the WGL analyzer."""

    def __init__(self, model, timeout_s: float | None = None):
        if isinstance(model, str):
            model = make_model(model)
        self.model = model
        self.timeout_s = timeout_s

    def check(self, test, history, opts=None) -> dict:
        return check_history(history, self.model, timeout_s=self.timeout_s)
