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

import contextlib
import gc
import os
import time

from harness.errors import InputError

from .explain import explain
from .models import (MODELS, CASRegisterModel, Model, MultiRegisterModel, RegisterModel,
                     UNKNOWN, freeze, make_model)
from .native import AVAILABLE as NATIVE_AVAILABLE, native_search, runs_without_python
from .partition import partition_ops
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
        "time": inv.get("time"),
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
    kept = model.prune(ops)
    if len(kept) != len(ops):
        stats["info_pruned"] = len(ops) - len(kept)
        ops = [op.evolve(id=i) for i, op in enumerate(kept)]
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


#: Default memory bound of one check: a search that grows the process by more ends ``unknown``
#: with cause "memory" instead of exhausting the machine.
DEFAULT_MAX_MEMORY_MB = 2048
#: Below this many ops in all, partitions are checked one after another (no pool to start).
PARALLEL_MIN_OPS = 20000


def _search_part(model, ops, deadline, max_bytes, native, cpu_slice_s=None):
    res = None
    if native is not False:
        res = native_search(model, ops, deadline=deadline, max_bytes=max_bytes,
                            cpu_slice_s=cpu_slice_s)
        if res is None and native is True:
            raise RuntimeError("the native linearizability core is not built "
                               "(no C compiler or Python headers at install time)")
    if res is None:
        res = search(model, ops, deadline=deadline, max_bytes=max_bytes, cpu_slice_s=cpu_slice_s)
    return res


def _search_part_sliced(args):
    """One partition for at most ``slice_s`` seconds of CPU time, counted from when its search
    starts (a job that waits for a free worker, or a machine busy with other work, must not
    find its slice spent before it did anything); ``deadline`` (wall clock) still holds."""
    model, ops, slice_s, deadline, max_bytes, native = args
    return _search_part(model, ops, deadline, max_bytes, native,
                        slice_s * max(1.0, len(ops) / SLICE_OPS))


#: With several partitions, each first gets a small time slice, then the unfinished ones a
#: slice FIRST_SLICE_GROWTH times larger, and so on: one invalid partition is enough for a verdict,
#: and an easy one should not wait behind a hard one (the redone work is at most a quarter).
FIRST_SLICE_S = 0.05
FIRST_SLICE_GROWTH = 5
#: A partition of n ops gets n / SLICE_OPS slices at once when that is more: encoding it and
#: building the entry list alone grow with n, and a big easy partition should finish in its first
#: slice rather than be redone.
SLICE_OPS = 1000


def _run_round(model, parts, todo, slice_s, deadline, max_bytes, native, workers, parallel):
    """Give every partition in ``todo`` one slice; stop at the first invalid one."""
    out = {}
    if not parallel:
        for i in todo:
            out[i] = r = _search_part_sliced((model, parts[i], slice_s, deadline, max_bytes, native))
            if r.valid is False:
                break
        return out
    share = None if not max_bytes else max_bytes / workers
    if native is not False and runs_without_python(model, parts[todo[0]][:1]):
        from concurrent.futures import ThreadPoolExecutor as Pool
        kw = {}
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor as Pool
        kw = {"mp_context": multiprocessing.get_context("fork")}
    from concurrent.futures import as_completed
    with Pool(max_workers=workers, **kw) as pool:
        futures = {pool.submit(_search_part_sliced, (model, parts[i], slice_s, deadline, share,
                                                     native)): i for i in todo}
        for fut in as_completed(futures):
            out[futures[fut]] = r = fut.result()
            if r.valid is False:
                for other in futures:
                    other.cancel()  # the ones not started yet; running ones end by their slice
                break
    return out


def _search_parts(model, parts, deadline, max_bytes, native, workers):
    """Search each partition, in growing time slices, until one is invalid or all are decided.
    In parallel for big histories: threads for the native core (it releases the GIL), processes
    for the pure-Python search."""
    n_ops = sum(len(p) for p in parts)
    if workers is None:
        workers = min(len(parts), os.cpu_count() or 1)
    parallel = workers > 1 and len(parts) > 1 and n_ops >= PARALLEL_MIN_OPS
    if len(parts) == 1:
        return [_search_part(model, parts[0], deadline, max_bytes, native)]
    results: list = [None] * len(parts)
    todo = list(range(len(parts)))
    slice_s = FIRST_SLICE_S
    while todo:
        got = _run_round(model, parts, todo, slice_s, deadline, max_bytes, native, workers,
                         parallel)
        for i, r in got.items():
            results[i] = r
            if r.valid is False:
                return [r if r is not None else _UNDECIDED for r in results]
        out_of_time = deadline is not None and time.monotonic() >= deadline
        todo = [i for i in todo if results[i] is None or
                (results[i].valid == "unknown" and results[i].cause == "timeout" and not out_of_time)]
        slice_s *= FIRST_SLICE_GROWTH
    return results


_UNDECIDED = SearchResult(valid="unknown", cause="timeout")


@contextlib.contextmanager
def _gc_paused():
    """Python's cycle collector off while the checker allocates: it builds an object or more per
    op and makes no reference cycles, and with a big history alive every collection rescans it
    (for a 100,000-op history the collections cost more than the search). Restored after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def check_history(history: list[dict], model, timeout_s: float | None = None, *,
                  native: bool | None = None, partition: bool = True,
                  max_memory_mb: float | None = DEFAULT_MAX_MEMORY_MB,
                  workers: int | None = None, report_dir: str | None = None) -> dict:
    """Check ``history`` (op dicts) against ``model`` (a Model, or a name with initial None).

    ``native``: None uses the C core when it is built and the model has an integer encoding,
    False forces the pure-Python search, True requires the C core. ``partition``: check
    independent keys separately (P-compositionality). ``max_memory_mb``: the memory bound.
    ``report_dir``: for an invalid history, write the counterexample page there
    (``counterexample.html``; the result's ``"counterexample"`` names it).
    """
    if isinstance(model, str):
        model = make_model(model)
    with _gc_paused():
        ops, n, _stats = prepare(model, history)
        t0 = time.monotonic()
        deadline = None if timeout_s is None else t0 + timeout_s
        parts = partition_ops(model, ops) if partition else [ops]
        max_bytes = None if not max_memory_mb else max_memory_mb * 1024 * 1024
        results = _search_parts(model, parts, deadline, max_bytes, native, workers)
    chosen = next((i for i, r in enumerate(results) if r.valid is False), None)
    if chosen is None:
        chosen = next((i for i, r in enumerate(results) if r.valid == "unknown"), 0)
    res = results[chosen]
    res.configurations = sum(r.configurations for r in results)
    out = _result(model, parts[chosen], n, res, time.monotonic() - t0)
    out["partitions"] = len(parts)
    if out["valid"] is False and report_dir:
        from .html import write_counterexample
        out["counterexample"] = write_counterexample(out, [op.meta for op in parts[chosen]],
                                                     report_dir)
    out["native"] = native is not False and NATIVE_AVAILABLE
    return out


class LinearizableChecker:
    """Jepsen's ``linearizable`` checker with the WGL analyzer."""

    def __init__(self, model, timeout_s: float | None = None, **options):
        if isinstance(model, str):
            model = make_model(model)
        self.model = model
        self.timeout_s = timeout_s
        #: check_history's keyword options (native, partition, max_memory_mb, workers)
        self.options = options

    def check(self, test, history, opts=None) -> dict:
        """``opts["report_dir"]`` (the run directory): an invalid verdict writes
        ``<report_dir>/linearizable/counterexample.html``."""
        options = dict(self.options)
        report_dir = (opts or {}).get("report_dir")
        if report_dir and "report_dir" not in options:
            options["report_dir"] = os.path.join(report_dir, "linearizable")
        return check_history(history, self.model, timeout_s=self.timeout_s, **options)
