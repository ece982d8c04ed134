"""Typed shortest-cycle search inside strongly connected components.

Each cycle anomaly is a constraint on the labels of a cycle's edges (Adya's phenomena, as Elle
classifies them):

=====================  =============================================================
``G0``                 only ww edges
``G1c``                ww and wr edges, at least one wr
``G-single-item``      ww/wr edges plus exactly one rw
``G-nonadjacent-item`` ww/wr plus two or more rw, no two rw adjacent (also cyclically)
``G2-item``            two or more rw, at least two adjacent
=====================  =============================================================

``-process`` and ``-realtime`` variants may also use process/realtime edges and must use at
least one. An edge's label is its data dependency when it has one (a pair related by both wr and
realtime is explained by the wr), else its process/realtime order: this is how Elle's explainer
names a step, so a cycle is classified the way it is explained.

The search for one type is a breadth-first search over (vertex, constraint state), starting with
an edge of the type's required label, so the first cycle found from a start is a shortest one
through it. Types are tried from most to least severe; a type implied by one already found is
skipped (a G0 is also a G1c). The search of one SCC has a time budget; when it runs out we
report ``cycle-search-timeout`` (verdict unknown) plus whatever cycle we can show.
"""

from __future__ import annotations

import time
from collections import deque

from . import consistency_models as cm
from .graph import DATA, PROCESS, REALTIME, RW, WR, WW, sccs

BASE_TYPES = ("G0", "G1c", "G-single-item", "G-nonadjacent-item", "G2-item")
SEARCH_ORDER = BASE_TYPES + tuple(t + "-process" for t in BASE_TYPES) + tuple(
    t + "-realtime" for t in BASE_TYPES)
CYCLE_TYPES = frozenset(SEARCH_ORDER)
PROCESS_TYPES = frozenset(t for t in SEARCH_ORDER if t.endswith("-process"))
REALTIME_TYPES = frozenset(t for t in SEARCH_ORDER if t.endswith("-realtime"))


def effective(bits: int) -> int:
    """The labels a step along an edge with these relation bits is explained by."""
    d = bits & DATA
    return d if d else bits


def classify(labels: list[int]) -> str:
    """Elle's name for a cycle whose steps have these labels."""
    rw = sum(1 for x in labels if x == RW)
    n = len(labels)
    if rw == 1:
        base = "G-single-item"
    elif rw > 1:
        adj = any(labels[i] == RW and labels[(i + 1) % n] == RW for i in range(n))
        base = "G2-item" if adj else "G-nonadjacent-item"
    elif WR in labels:
        base = "G1c"
    elif WW in labels:
        base = "G0"
    else:
        base = "G0"  # only process/realtime edges: cannot happen (those orders are acyclic)
    if REALTIME in labels:
        return base + "-realtime"
    if PROCESS in labels:
        return base + "-process"
    return base


class _Spec:
    """What a type allows: ``first`` (label of the first step), ``allowed`` labels, ``variant``."""

    def __init__(self, name: str):
        self.name = name
        base = name
        self.variant = 0
        for suffix, bit in (("-process", PROCESS), ("-realtime", REALTIME)):
            if name.endswith(suffix):
                base = name[: -len(suffix)]
                self.variant = bit
        self.base = base
        allowed = {"G0": WW, "G1c": WW | WR, "G-single-item": WW | WR | RW,
                   "G-nonadjacent-item": WW | WR | RW, "G2-item": WW | WR | RW}[base]
        self.allowed = allowed | self.variant
        self.first = {"G0": WW, "G1c": WR, "G-single-item": RW, "G-nonadjacent-item": RW,
                      "G2-item": RW}[base]
        if base == "G0" and self.variant:
            self.first = self.variant


class Timeout(Exception):
    pass


def _search_from(g, start, spec, members, deadline):
    """Shortest cycle through ``start`` whose first step is labelled ``spec.first``; a list of
    (vertex, label) steps, or None."""
    out = g.out
    base = spec.base
    var = spec.variant
    allowed = spec.allowed
    # state: (rw count capped at 2, last step was rw, adjacent rw seen, variant seen, wr seen)
    first_states = []
    for b, bits in out[start].items():
        if b not in members:
            continue
        if effective(bits) & spec.first:
            lab = spec.first
            st = (1 if lab == RW else 0, lab == RW, False, lab == var, lab == WR)
            first_states.append((b, st, lab))
    if not first_states:
        return None
    parent = {}
    queue = deque()
    for b, st, lab in first_states:
        key = (b, st)
        if key not in parent:
            parent[key] = (None, lab)
            queue.append(key)
    steps = 0
    while queue:
        steps += 1
        if steps & 1023 == 0 and time.monotonic() > deadline:
            raise Timeout()
        key = queue.popleft()
        v, (rw, last_rw, adj, seen_var, seen_wr) = key
        for w, bits in out[v].items():
            if w not in members:
                continue
            eff = effective(bits) & allowed
            if not eff:
                continue
            lab_bits = eff
            while lab_bits:
                lab = lab_bits & -lab_bits
                lab_bits ^= lab
                is_rw = lab == RW
                if is_rw:
                    if base == "G-single-item" and rw >= 1:
                        continue
                    if base == "G-nonadjacent-item" and last_rw:
                        continue
                nrw = min(2, rw + (1 if is_rw else 0))
                nadj = adj or (is_rw and last_rw)
                nst = (nrw, is_rw, nadj, seen_var or lab == var, seen_wr or lab == WR)
                if w == start:
                    if _accept(base, var, nst):
                        cyc = _rebuild(parent, key)
                        cyc.append((start, lab))
                        verts = [x for x, _ in cyc]
                        if len(set(verts)) == len(verts):
                            return cyc
                    continue
                nkey = (w, nst)
                if nkey not in parent:
                    parent[nkey] = (key, lab)
                    queue.append(nkey)
    return None


def _accept(base, var, st):
    rw, last_rw, adj, seen_var, seen_wr = st
    if var and not seen_var:
        return False
    if base == "G0":
        return True
    if base == "G1c":
        return seen_wr
    if base == "G-single-item":
        return rw == 1
    if base == "G-nonadjacent-item":
        # The first step is rw, so the last must not be.
        return rw >= 2 and not last_rw
    return rw >= 2 and (adj or last_rw)


def _rebuild(parent, key):
    """Steps [(vertex reached, label), ...] from the start to ``key``'s vertex."""
    out = []
    while key is not None:
        prev, lab = parent[key]
        out.append((key[0], lab))
        key = prev
    out.reverse()
    return out


def find_cycle(g, spec_name, members, deadline, exhaustive=False):
    """A cycle of type ``spec_name`` within ``members``: ``(vertices, labels)`` with
    vertices[0] == vertices[-1], or None."""
    spec = _Spec(spec_name)
    sub = sccs(g, spec.allowed, members)
    best = None
    for comp in sub:
        cm_set = set(comp)
        for start in comp:
            cyc = _search_from(g, start, spec, cm_set, deadline)
            if cyc is None:
                continue
            verts = [start] + [v for v, _ in cyc]
            labels = [lab for _, lab in cyc]
            if classify(labels) != spec_name:
                continue
            if best is None or len(labels) < len(best[1]):
                best = (verts, labels)
            if not exhaustive or len(labels) == 2:
                return best
    return best


def fallback_cycle(g, members):
    """A shortest cycle through the SCC's first vertex, any labels (plain BFS), for when the
    typed search times out: something concrete to show."""
    members = set(members)
    start = min(members)
    parent = {start: None}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        for w in g.out[v]:
            if w not in members:
                continue
            if w == start:
                path = [v]
                while parent[path[-1]] is not None:
                    path.append(parent[path[-1]])
                path.reverse()
                cyc = path + [start]
                labels = []
                for a, b in zip(cyc, cyc[1:]):
                    e = effective(g.rels(a, b))
                    labels.append(e & -e)
                return cyc, labels
            if w not in parent:
                parent[w] = v
                queue.append(w)
    return None


def cycle_anomalies(g, types_wanted, timeout_s=5.0, exhaustive_limit=60):
    """Search every SCC of ``g`` for the cycle types in ``types_wanted`` (a set), most severe first.

    Returns ``{type: [(vertices, labels), ...]}``; a timed-out SCC adds a
    ``cycle-search-timeout`` entry ``{"scc_size": n, "searching": type}``.
    """
    found: dict[str, list] = {}
    for comp in sccs(g):
        deadline = time.monotonic() + timeout_s
        redundant: set[str] = set()
        members = set(comp)
        exhaustive = len(comp) <= exhaustive_limit
        try:
            for t in SEARCH_ORDER:
                if t not in types_wanted or t in redundant:
                    continue
                c = find_cycle(g, t, members, deadline, exhaustive)
                if c is not None:
                    found.setdefault(t, []).append(c)
                    redundant |= cm.all_implied_anomalies([t])
        except Timeout:
            found.setdefault("cycle-search-timeout", []).append(
                {"scc_size": len(comp), "searching": t})
            if not redundant:
                c = fallback_cycle(g, comp)
                if c is not None:
                    found.setdefault(classify(c[1]), []).append(c)
    return found
