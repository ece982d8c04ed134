"""List-append inference: version orders from read prefixes, then ww/wr/rw edges and the
anomalies visible without a cycle.

Transactions append unique elements to lists and read whole lists, so every read reveals the
order of the appends before it: ``[1, 2, 3]`` says 1, then 2, then 3. The passes, each a
function you can test alone:

- :func:`internal_cases`, :func:`future_read_cases`: a transaction disagrees with itself.
- :func:`g1a_cases` (read an element a failed transaction appended), :func:`g1b_cases` (read
  ending at an element that was not its writer's last append to that key).
- :func:`sorted_values` + :func:`incompatible_orders`: every read of a key must be a prefix of the
  longest one; :func:`duplicate_cases`: an element read twice.
- :func:`version_orders`: the longest read per key (distinct elements) is the version order.
- :func:`dirty_update_cases`: a committed append right after an aborted one in that order.
- :func:`lost_update_cases`: two committed txns read the same state of a key and both append.
- :func:`dependency_graph`: ww (successive appends), wr (writer of a read's last element ->
  reader), rw (reader of a state -> writer of the next element).
"""

from __future__ import annotations

from .graph import RW, WR, WW, Graph

KINDS = {"r": "list", "append": "scalar"}
INIT = "init"  # the name of the empty initial state in explanations, as Elle's ::init


class _Init:
    __slots__ = ()

    def __repr__(self):
        return "INIT"


INITIAL = _Init()


def _reads(t):
    for f, k, v in t.mops:
        if f == "r":
            yield k, v


def unique_append_errors(txns):
    """Each element is appended to a key at most once (the checker relies on it)."""
    seen = {}
    for t in txns:
        for f, k, v in t.mops:
            if f == "append":
                other = seen.get((k, v))
                if other is not None and other != t.id:
                    return (f"value {v!r} appended to key {k!r} more than once "
                            f"(ops {txns[other].index} and {t.index})")
                seen[(k, v)] = t.id
    return None


def internal_cases(txns):
    """A read inconsistent with the transaction's own earlier reads/appends of that key."""
    cases = []
    for t in txns:
        if t.type != "ok":
            continue
        state = {}  # k -> (known_prefix?, list)
        for f, k, v in t.mops:
            if f == "append":
                known, lst = state.get(k, (False, []))
                state[k] = (known, lst + [v])
            else:
                v = v or ()
                s = state.get(k)
                if s is not None:
                    known, lst = s
                    if known:
                        bad = list(v) != lst
                    else:
                        i = len(v) - len(lst)
                        bad = i < 0 or list(v[i:]) != lst
                    if bad:
                        cases.append({"op": t.index, "mop": ["r", k, list(v)],
                                      "expected": lst if known else ["..."] + lst})
                        break
                state[k] = (True, list(v))
    return cases


def future_read_cases(txns):
    """A transaction read an element it appends only later."""
    cases = []
    for t in txns:
        if t.type != "ok":
            continue
        read = None  # k -> [read values]; most txns never append after reading the key
        for f, k, v in t.mops:
            if f == "r":
                if v:
                    if read is None:
                        read = {}
                    read.setdefault(k, []).append(v)
            elif read is not None and k in read:
                hit = next((r for r in read[k] if v in r), None)
                if hit is not None:
                    cases.append({"op": t.index, "mop": ["r", k, list(hit)], "element": v})
                    break
    return cases


def g1a_cases(txns):
    failed = {}
    for t in txns:
        if t.type == "fail":
            for f, k, v in t.mops:
                if f == "append":
                    failed[(k, v)] = t
    if not failed:
        return []
    cases = []
    for t in txns:
        if t.type != "ok":
            continue
        for k, v in _reads(t):
            for e in v or ():
                w = failed.get((k, e))
                if w is not None:
                    cases.append({"op": t.index, "mop": ["r", k, list(v)], "writer": w.index,
                                  "element": e})
    return cases


def g1b_cases(txns):
    inter = {}
    for t in txns:
        last = {}
        for f, k, v in t.mops:
            if f == "append":
                if k in last:
                    inter[(k, last[k])] = t
                last[k] = v
    if not inter:
        return []
    cases = []
    for t in txns:
        if t.type != "ok":
            continue
        for k, v in _reads(t):
            if v:
                w = inter.get((k, v[-1]))
                if w is not None and w is not t:
                    cases.append({"op": t.index, "mop": ["r", k, list(v)], "writer": w.index,
                                  "element": v[-1]})
    return cases


def duplicate_cases(possible):
    cases = []
    for t in possible:
        for k, v in _reads(t):
            if v and len(set(v)) != len(v):
                counts = {}
                for e in v:
                    counts[e] = counts.get(e, 0) + 1
                dups = {repr(e) if not isinstance(e, (int, str)) else e: c
                        for e, c in counts.items() if c > 1}
                cases.append({"op": t.index, "mop": ["r", k, list(v)], "duplicates": dups})
    return cases


def sorted_values(possible):
    """key -> distinct non-empty values read, shortest first; a key with exactly one append and
    no read gets that single state."""
    values: dict = {}
    appends: dict = {}
    for t in possible:
        for f, k, v in t.mops:
            if f == "r":
                if v:
                    s = values.get(k)
                    if s is None:
                        values[k] = {v}
                    else:
                        s.add(v)
            else:
                appends[k] = v if k not in appends else _TOO_MANY
    for k, v in appends.items():
        if v is not _TOO_MANY and k not in values:
            values[k] = {(v,)}
    return {k: sorted(s, key=len) for k, s in values.items()}


_TOO_MANY = object()


def incompatible_orders(svs):
    cases = []
    for k, values in svs.items():
        for a, b in zip(values, values[1:]):
            if b[: len(a)] != a:
                cases.append({"key": k, "values": [list(a), list(b)]})
                break
    return cases


def version_orders(svs):
    """key -> (elements in order, element -> position), from the longest read."""
    out = {}
    for k, values in svs.items():
        longest = values[-1]
        vs = list(dict.fromkeys(longest))
        out[k] = (vs, {e: i for i, e in enumerate(vs)})
    return out


def dirty_update_cases(orders, txns):
    writer = {}
    for t in txns:
        for f, k, v in t.mops:
            if f == "append":
                writer[(k, v)] = t
    cases = []
    for k, (vs, _) in orders.items():
        t1_type, t1, run = "ok", None, []
        for v in vs:
            t2 = writer.get((k, v))
            if t2 is None:
                # A read element nobody appended: garbage; nothing to say about updates.
                t1_type, t1, run = "ok", None, []
                continue
            run = run + [v]
            pair = (t1_type, t2.type)
            if pair == ("fail", "ok"):
                cases.append({"key": k, "values": run, "txns": [t1.index, "...", t2.index]})
                t1_type, t1, run = t2.type, t2, [v]
            elif t2.type == "info":
                pass  # can't say; keep the current run
            elif pair == ("fail", "fail"):
                pass
            else:
                t1_type, t1, run = t2.type, t2, [v]
    return cases


def lost_update_cases(txns, write_f="append"):
    """Two committed transactions read the same state of a key and both wrote it."""
    groups: dict = {}
    for t in txns:
        if t.type != "ok":
            continue
        reads = {}
        written = set()
        for f, k, v in t.mops:
            if f == write_f:
                if k not in written and k in reads:
                    groups.setdefault((k, reads[k]), []).append(t.index)
                written.add(k)
            elif k not in reads and k not in written:
                reads[k] = v if write_f != "append" else (v or ())
    cases = []
    for (k, v), idxs in groups.items():
        if len(idxs) >= 2:
            cases.append({"key": k, "value": list(v) if isinstance(v, tuple) else v, "txns": idxs})
    return cases


class Analysis:
    """The indexes the edges were inferred from, kept to explain them afterwards."""

    def __init__(self, txns, orders, writes, reads):
        self.txns = txns
        self.orders = orders
        self.writes = writes  # (k, element) -> txn id
        self.reads = reads    # (k, last element | INITIAL) -> [txn id]

    def previous(self, k, v):
        o = self.orders.get(k)
        if o is None:
            return INITIAL
        vs, idx = o
        i = idx.get(v)
        if i is None:
            return vs[-1] if vs else INITIAL
        return vs[i - 1] if i > 0 else INITIAL

    def explain(self, a, b, label):
        """Why txn ``a`` precedes ``b`` by ``label``: a dict with key/value, or None."""
        ta, tb = self.txns[a], self.txns[b]
        if label == WR:
            for f, k, v in tb.mops:
                if f == "r" and v and self.writes.get((k, v[-1])) == a:
                    return {"type": "wr", "key": k, "value": v[-1]}
        elif label == WW:
            for f, k, v in tb.mops:
                if f == "append":
                    p = self.previous(k, v)
                    if p is not INITIAL and self.writes.get((k, p)) == a:
                        return {"type": "ww", "key": k, "value": p, "value'": v}
        elif label == RW:
            for f, k, v in tb.mops:
                if f == "append":
                    p = self.previous(k, v)
                    if a in self.reads.get((k, p), ()):
                        return {"type": "rw", "key": k, "value": INIT if p is INITIAL else p,
                                "value'": v}
        return None

    @staticmethod
    def render(step, a_name, b_name):
        k, t = step.get("key"), step["type"]
        v, v2 = step.get("value"), step.get("value'")
        if t == "wr":
            return f"{b_name} observed {a_name}'s append of {v!r} to key {k!r}"
        if t == "ww":
            return f"{b_name} appended {v2!r} after {a_name} appended {v!r} to {k!r}"
        if t == "rw":
            if v == INIT:
                return (f"{a_name} observed the initial (empty) state of {k!r}, which {b_name} "
                        f"created by appending {v2!r}")
            return f"{a_name} did not observe {b_name}'s append of {v2!r} to {k!r}"
        return None


def dependency_graph(txns, possible, orders) -> tuple[Graph, Analysis]:
    """ww, wr and rw edges between the possible (ok and info) transactions."""
    writes = {}
    for t in possible:
        for f, k, v in t.mops:
            if f == "append":
                writes[(k, v)] = t.id
    reads: dict = {}
    for t in possible:
        if t.type != "ok":
            continue  # an info read observed nothing
        for f, k, v in t.mops:
            if f == "r":
                key = (k, v[-1] if v else INITIAL)
                lst = reads.get(key)
                if lst is None:
                    reads[key] = [t.id]
                elif lst[-1] != t.id:
                    lst.append(t.id)
    an = Analysis(txns, orders, writes, reads)
    g = Graph(len(txns))
    link = g.link
    out = g.out
    for t in possible:
        tid = t.id
        for f, k, v in t.mops:
            if f == "r":
                if v:
                    w = writes.get((k, v[-1]))
                    if w is not None and w != tid:
                        d = out[w]
                        d[tid] = d.get(tid, 0) | WR
            else:
                o = orders.get(k)
                if o is None:
                    p = INITIAL
                else:
                    vs, idx = o
                    i = idx.get(v)
                    if i is None:
                        p = vs[-1] if vs else INITIAL
                    else:
                        p = vs[i - 1] if i > 0 else INITIAL
                if p is not INITIAL:
                    w = writes.get((k, p))
                    if w is not None and w != tid:
                        d = out[w]
                        d[tid] = d.get(tid, 0) | WW
                rs = reads.get((k, p))
                if rs:
                    for r in rs:
                        if r != tid:
                            link(r, tid, RW)
    return g, an
