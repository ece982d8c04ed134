"""Version orders for registers: which value of a key came before which.

Registers overwrite, so a read shows one version and says nothing of the order. Elle combines
sources, each an assumption the user may grant:

- ``initial-state`` (always): every key starts as ``None``, which precedes every written value.
- ``wfr-keys``: writes follow reads inside a transaction: a txn that read x=1 then wrote x=2
  shows 1 < 2.
- ``sequential-keys``: each key is sequentially consistent, so a process's successive
  transactions see successive versions: the last version a txn touched precedes the first
  version the next txn of that process touching the key saw.
- ``linearizable-keys``: the same along the realtime order.

Sources are added in that order; a source that would make a key's version graph cyclic is left
out, and the cycle is reported as ``cyclic-versions`` with the sources that produced it.
"""

from __future__ import annotations

from .graph import Graph, sccs


def ext_reads(mops):
    """key -> first value read, for keys read before the txn writes them."""
    out = {}
    written = set()
    for f, k, v in mops:
        if f == "r":
            if k not in written and k not in out:
                out[k] = v
        else:
            written.add(k)
    return out


def ext_writes(mops):
    """key -> last value written."""
    out = {}
    for f, k, v in mops:
        if f == "w":
            out[k] = v
    return out


def initial_state_edges(txns):
    edges = set()
    for t in txns:
        if t.type == "fail":
            continue
        for k, v in ext_writes(t.mops).items():
            if v is not None:
                edges.add((k, None, v))
        if t.type == "ok":
            for k, v in ext_reads(t.mops).items():
                if v is not None:
                    edges.add((k, None, v))
    return edges


def wfr_edges(txns):
    edges = set()
    for t in txns:
        if t.type != "ok":
            continue
        ws = ext_writes(t.mops)
        for k, v in ext_reads(t.mops).items():
            if v is not None and k in ws and ws[k] != v:
                edges.add((k, v, ws[k]))
    return edges


def _first_value(t, k):
    if t.type == "ok":
        r = ext_reads(t.mops)
        if k in r:
            return r[k]
        return ext_writes(t.mops).get(k, _NONE)
    if t.type == "info":
        return ext_writes(t.mops).get(k, _NONE)
    return _NONE


def _last_value(t, k):
    if t.type == "ok":
        w = ext_writes(t.mops)
        if k in w:
            return w[k]
        return ext_reads(t.mops).get(k, _NONE)
    if t.type == "info":
        return ext_writes(t.mops).get(k, _NONE)
    return _NONE


_NONE = object()


def _keys(t):
    if t.type == "ok":
        return set(ext_reads(t.mops)) | set(ext_writes(t.mops))
    if t.type == "info":
        return set(ext_writes(t.mops))
    return set()


def txn_order_edges(txns, succ):
    """Version edges from a transaction order (``succ``: txn id -> successor ids), relating the
    last version a txn touched to the first version the nearest later txns on that key saw."""
    by_id = {t.id: t for t in txns}
    keys = {t.id: _keys(t) for t in txns}
    # Nearest downstream txns per key, memoized in reverse topological order.
    order = sorted(by_id, key=lambda i: by_id[i].complete_pos, reverse=True)
    down: dict[int, dict] = {}
    for a in order:
        m: dict = {}
        for b in succ.get(a, ()):
            for k in keys.get(b, ()):
                m.setdefault(k, set()).add(b)
            for k, bs in down.get(b, {}).items():
                if k not in keys.get(b, ()):
                    m.setdefault(k, set()).update(bs)
        down[a] = m
    edges = set()
    for a, m in down.items():
        ta = by_id[a]
        for k in keys[a]:
            v1 = _last_value(ta, k)
            if v1 is _NONE:
                continue
            for b in m.get(k, ()):
                v2 = _first_value(by_id[b], k)
                if v2 is not _NONE and v2 != v1:
                    edges.add((k, v1, v2))
    return edges


def _cycles(edges):
    """(key, sorted scc values) for each cyclic key's version graph."""
    per_key: dict = {}
    for k, a, b in edges:
        per_key.setdefault(k, set()).add((a, b))
    out = []
    for k, es in per_key.items():
        vals = sorted({x for e in es for x in e}, key=repr)
        ix = {v: i for i, v in enumerate(vals)}
        g = Graph(len(vals))
        for a, b in es:
            g.link(ix[a], ix[b], 1)
        for comp in sccs(g):
            out.append({"key": k, "scc": [vals[i] for i in comp]})
    return out


def version_graphs(sources):
    """Combine ``[(name, edges), ...]`` in order, leaving out any source that makes a cycle.

    Returns ``(edges, used source names, cyclic-versions cases)``.
    """
    used, edges, cases = [], set(), []
    for name, es in sources:
        merged = edges | es
        cyc = _cycles(merged)
        if cyc:
            for c in cyc:
                c["sources"] = used + [name]
            cases.extend(cyc)
        else:
            edges = merged
            used.append(name)
    return edges, used, cases
