"""Elle-style transactional checkers: list-append and rw-register.

``ElleListAppendChecker(opts).check(test, history, opts)`` and ``ElleRwRegisterChecker`` return

    {"valid": True | False | "unknown",
     "anomaly_types": [...],      # Elle's names, sorted, e.g. "G-single-item-realtime"
     "not": [...],                # weakest consistency models the history rules out
     "also_not": [...],           # the stronger ones
     "anomalies": {type: [cases with explanations]}}

Options (Elle's, with Python names; both dict styles ``consistency_models`` and
``consistency-models`` are accepted):

- ``consistency_models``: models expected to hold; absent means ``["strict-serializable"]``,
  ``None`` or ``[]`` means none.
- ``anomalies``: anomalies to look for directly (``G1`` = G1a, G1b, G1c).
- ``sequential_keys``, ``linearizable_keys``, ``wfr_keys`` (rw-register version inference).
- ``cycle_search_timeout`` (seconds per SCC, default 5), ``directory`` (write cycle
  explanations, dot and SVG drawings there).

The verdict is Elle's: anomalies the models/``anomalies`` prohibit make it false; otherwise
``empty-transaction-graph`` or ``cycle-search-timeout`` make it unknown; ``not`` is computed from
every anomaly found, reported or not.
"""

from __future__ import annotations

import gc
import os

from . import consistency_models as cm
from . import cycles as cy
from . import list_append as la
from . import rw_register as rwr
from . import version_order as vo
from .anomalies import list_append_anomalies, rw_register_anomalies
from .explain import explain_cycle
from .graph import add_process_edges, add_realtime_edges, realtime_reduction
from .history import transactions

DEFAULT_MODELS = ("strict-serializable",)
_MISSING = object()


def _opt(opts, name, default=_MISSING):
    for key in (name, name.replace("_", "-"), name.replace("_", "-") + "?"):
        if key in opts:
            return opts[key]
    return default


def normalize_options(opts: dict | None) -> dict:
    """Validated options with Python names (InputError on unknown models/anomalies)."""
    opts = dict(opts or {})
    models = _opt(opts, "consistency_models")
    if models is _MISSING:
        models = list(DEFAULT_MODELS)
    models = list(models or [])
    anomalies = list(_opt(opts, "anomalies", None) or [])
    cm.validate_models(models)
    cm.validate_anomalies(anomalies)
    return {
        "consistency_models": models,
        "anomalies": anomalies,
        "sequential_keys": bool(_opt(opts, "sequential_keys", False)),
        "linearizable_keys": bool(_opt(opts, "linearizable_keys", False)),
        "wfr_keys": bool(_opt(opts, "wfr_keys", False)),
        "cycle_search_timeout": float(_opt(opts, "cycle_search_timeout", 5.0) or 5.0),
        # Where explanations and drawings go: "directory", or the run directory the runner
        # passes to every checker as "report_dir" (so they land in <run>/elle/).
        "directory": _opt(opts, "directory", None) or opts.get("report_dir"),
    }


def result_map(o: dict, found: dict) -> dict:
    """Elle's ``result-map``: the verdict from the found anomalies and what was asked for."""
    prohibited = cm.prohibited_anomaly_types(o["consistency_models"], o["anomalies"])
    reportable = prohibited | cm.UNKNOWN_ANOMALIES
    rep = {k: v for k, v in found.items() if k in reportable}
    if not rep:
        return {"valid": True, "anomaly_types": [], "not": [], "also_not": [], "anomalies": {}}
    bad = any(k in prohibited for k in rep)
    impossible = cm.anomalies_to_impossible_models(found)
    nots = cm.weakest_models(impossible)
    return {
        "valid": False if bad else "unknown",
        "anomaly_types": sorted(rep),
        "not": sorted(cm.friendly(m) for m in nots),
        "also_not": sorted(cm.friendly(m) for m in impossible - nots),
        "anomalies": rep,
    }


def _wanted_cycle_types(o):
    prohibited = cm.prohibited_anomaly_types(o["consistency_models"], o["anomalies"])
    rt = bool(prohibited & cy.REALTIME_TYPES)
    proc = bool(prohibited & cy.PROCESS_TYPES)
    return rt, proc


class _ElleChecker:
    workload = ""

    def __init__(self, opts: dict | None = None):
        self.opts = normalize_options(opts)

    def _options(self, opts):
        if not opts:
            return self.opts
        merged = dict(self.opts)
        extra = {k: v for k, v in opts.items() if k not in ("open_as_info",)}
        if extra:
            merged.update(normalize_options({**self.opts, **extra}))
        return merged

    def check(self, test, history, opts=None) -> dict:
        o = self._options(opts)
        # The check allocates millions of small tuples and dicts and no reference cycles worth
        # collecting; with the cyclic GC on, its generation-2 passes over the (large) history
        # took about a third of the time. It is switched back on afterwards.
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            result = self._check(history, o)
        finally:
            if gc_was_on:
                gc.enable()
        if o.get("directory") and result.get("anomalies"):
            write_files(o["directory"], result)
        return result

    def _cycles(self, g, txns, o, analysis, found):
        rt, proc = _wanted_cycle_types(o)
        if rt:
            add_realtime_edges(g, txns)
        elif proc:
            add_process_edges(g, txns)
        if g.is_empty():
            found["empty-transaction-graph"] = True
        types = set(cy.BASE_TYPES)
        if rt:
            types |= cy.REALTIME_TYPES
        elif proc:
            types |= cy.PROCESS_TYPES
        cycles = cy.cycle_anomalies(g, types, timeout_s=o["cycle_search_timeout"])
        for t, cs in cycles.items():
            if t == "cycle-search-timeout":
                found[t] = cs
            else:
                found[t] = [explain_cycle(analysis, txns, t, v, l) for v, l in cs]


class ElleListAppendChecker(_ElleChecker):
    """Elle's list-append checker (``splitbrain check --checker elle-list-append``)."""

    workload = "list-append"

    def _check(self, history, o):
        txns = transactions(history, la.KINDS)
        writers: dict = {}
        dup = la.unique_append_errors(txns, writers)
        if dup:
            return {"valid": "unknown", "error": f"duplicate appends: {dup}",
                    "anomaly_types": [], "not": []}
        possible = [t for t in txns if t.type in ("ok", "info")]
        svs = la.sorted_values(possible)
        orders = la.version_orders(svs)
        if len(possible) == len(txns):  # no failed txn: the same reads, the same orders
            orders_all = orders
        else:
            orders_all = la.version_orders(la.sorted_values(txns))
        found = list_append_anomalies(txns, possible, orders_all, svs)
        # Without failed txns, the appends of every txn are those of the possible ones.
        g, analysis = la.dependency_graph(txns, possible, orders,
                                          writers if len(possible) == len(txns) else None)
        self._cycles(g, txns, o, analysis, found)
        return result_map(o, found)


class ElleRwRegisterChecker(_ElleChecker):
    """Elle's rw-register checker (``splitbrain check --checker elle-rw-register``)."""

    workload = "rw-register"

    def _check(self, history, o):
        txns = transactions(history, rwr.KINDS)
        dup = rwr.unique_write_errors(txns)
        if dup:
            return {"valid": "unknown", "error": f"duplicate writes: {dup}",
                    "anomaly_types": [], "not": []}
        found = rw_register_anomalies(txns)
        sources = [("initial-state", vo.initial_state_edges(txns))]
        if o["wfr_keys"]:
            sources.append(("wfr-keys", vo.wfr_edges(txns)))
        if o["sequential_keys"]:
            succ: dict = {}
            last: dict = {}
            for t in sorted((t for t in txns if t.type == "ok"), key=lambda t: t.complete_pos):
                if t.process in last:
                    succ.setdefault(last[t.process], []).append(t.id)
                last[t.process] = t.id
            sources.append(("sequential-keys", vo.txn_order_edges(txns, succ)))
        if o["linearizable_keys"]:
            succ = {}
            for a, b in realtime_reduction(txns):
                succ.setdefault(a, []).append(b)
            sources.append(("linearizable-keys", vo.txn_order_edges(txns, succ)))
        versions, _, cyclic = vo.version_graphs(sources)
        if cyclic:
            found["cyclic-versions"] = cyclic
        g, analysis = rwr.dependency_graph(txns, versions)
        self._cycles(g, txns, o, analysis, found)
        return result_map(o, found)


CHECKERS = {"elle-list-append": ElleListAppendChecker, "elle-rw-register": ElleRwRegisterChecker}


def write_files(directory: str, result: dict) -> None:
    """Write ``<directory>/elle/<type>.txt`` explanations and a dot + SVG drawing per cycle."""
    from .render import cycle_dot, cycle_svg

    base = os.path.join(directory, "elle")
    os.makedirs(base, exist_ok=True)
    for t, cases in result.get("anomalies", {}).items():
        if t not in cy.CYCLE_TYPES:
            continue
        with open(os.path.join(base, f"{t}.txt"), "w") as fh:
            for i, c in enumerate(cases):
                fh.write(f"{t} #{i}\n{c['explanation']}\n\n")
        for i, c in enumerate(cases[:10]):
            with open(os.path.join(base, f"{t}-{i}.dot"), "w") as fh:
                fh.write(cycle_dot(c))
            with open(os.path.join(base, f"{t}-{i}.svg"), "w") as fh:
                fh.write(cycle_svg(c))


__all__ = ["ElleListAppendChecker", "ElleRwRegisterChecker", "CHECKERS", "normalize_options",
           "result_map"]
