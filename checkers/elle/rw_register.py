"""Read-write register inference: unique writes, wr edges from values, ww/rw edges from the
version order (:mod:`.version_order`), and the anomalies visible without a cycle.

Only ``ok`` transactions take part in the graph, as in Elle: an ``info`` read observed nothing
and an ``info`` write may or may not have happened.
"""

from __future__ import annotations

from .graph import RW, WR, WW, Graph
from .list_append import lost_update_cases  # noqa: F401  (shared definition)
from .version_order import ext_reads, ext_writes

KINDS = {"r": "scalar", "w": "scalar"}


def unique_write_errors(txns):
    seen = {}
    for t in txns:
        for f, k, v in t.mops:
            if f == "w":
                other = seen.get((k, v))
                if other is not None and other != t.id:
                    return (f"value {v!r} written to key {k!r} more than once "
                            f"(ops {txns[other].index} and {t.index})")
                seen[(k, v)] = t.id
    return None


def internal_cases(txns):
    cases = []
    for t in txns:
        if t.type != "ok":
            continue
        state = {}
        for f, k, v in t.mops:
            if f == "w":
                state[k] = v
            else:
                s = state.get(k)
                if s is not None and s != v:
                    cases.append({"op": t.index, "mop": ["r", k, v], "expected": s})
                    break
                state[k] = v
    return cases


def g1a_cases(txns):
    failed = {}
    for t in txns:
        if t.type == "fail":
            for f, k, v in t.mops:
                if f == "w":
                    failed[(k, v)] = t
    cases = []
    if failed:
        for t in txns:
            if t.type == "ok":
                for f, k, v in t.mops:
                    if f == "r" and (k, v) in failed:
                        cases.append({"op": t.index, "mop": ["r", k, v],
                                      "writer": failed[(k, v)].index})
    return cases


def g1b_cases(txns):
    inter = {}
    for t in txns:
        last = {}
        for f, k, v in t.mops:
            if f == "w":
                if k in last:
                    inter[(k, last[k])] = t
                last[k] = v
    cases = []
    if inter:
        for t in txns:
            if t.type == "ok":
                for f, k, v in t.mops:
                    if f == "r" and (k, v) in inter and inter[(k, v)] is not t:
                        cases.append({"op": t.index, "mop": ["r", k, v],
                                      "writer": inter[(k, v)].index})
    return cases


class Analysis:
    def __init__(self, txns, versions, ext_w, ext_r):
        self.txns = txns
        self.versions = versions  # set of (k, v1, v2)
        self.ext_w = ext_w
        self.ext_r = ext_r

    def explain(self, a, b, label):
        ta, tb = self.txns[a], self.txns[b]
        if label == WR:
            ws = ext_writes(ta.mops)
            rs = ext_reads(tb.mops)
            for k, v in ws.items():
                if k in rs and rs[k] == v:
                    return {"type": "wr", "key": k, "value": v}
        else:
            xa = ext_writes(ta.mops) if label == WW else ext_reads(ta.mops)
            wb = ext_writes(tb.mops)
            for k, v in xa.items():
                if k in wb and (k, v, wb[k]) in self.versions:
                    return {"type": "ww" if label == WW else "rw", "key": k, "value": v,
                            "value'": wb[k]}
        return None

    @staticmethod
    def render(step, a_name, b_name):
        k, t = step.get("key"), step["type"]
        v, v2 = step.get("value"), step.get("value'")
        if t == "wr":
            return f"{a_name} wrote {k!r} = {v!r}, which was read by {b_name}"
        if t == "ww":
            return (f"{a_name} set key {k!r} to {v!r}, and {b_name} set it to {v2!r}, "
                    f"which came later in the version order")
        if t == "rw":
            return (f"{a_name} read key {k!r} = {v!r}, and {b_name} set it to {v2!r}, "
                    f"which came later in the version order")
        return None


def dependency_graph(txns, versions) -> tuple[Graph, Analysis]:
    """wr edges from equal values, ww/rw edges along each version edge ``v1 -> v2``."""
    ext_w: dict = {}
    ext_r: dict = {}
    for t in txns:
        if t.type != "ok":
            continue
        for k, v in ext_writes(t.mops).items():
            ext_w.setdefault((k, v), []).append(t.id)
        for k, v in ext_reads(t.mops).items():
            ext_r.setdefault((k, v), []).append(t.id)
    g = Graph(len(txns))
    for (k, v), readers in ext_r.items():
        ws = ext_w.get((k, v))
        if ws and len(ws) == 1:
            for r in readers:
                g.link(ws[0], r, WR)
    for k, v1, v2 in versions:
        w2 = ext_w.get((k, v2))
        if not w2:
            continue
        for a in ext_w.get((k, v1), ()):
            for b in w2:
                g.link(a, b, WW)
        for a in ext_r.get((k, v1), ()):
            for b in w2:
                g.link(a, b, RW)
    return g, Analysis(txns, versions, ext_w, ext_r)
