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

from . import native
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


def unique_append_errors(txns, writers=None):
    """Each element is appended to a key at most once (the checker relies on it). A dict passed
    as ``writers`` is filled with ``(key, element) -> txn id``."""
    seen = {} if writers is None else writers
    c = native.core
    if c is not None:
        dup = c.unique_appends(txns, seen)  # None, or (key, element, first id, txn)
        return None if dup is None else _dup_message(txns, *dup)
    first = seen.setdefault
    for t in txns:
        tid = t.id
        for f, k, v in t.mops:
            if f == "append":
                other = first((k, v), tid)
                if other != tid:
                    return (f"value {v!r} appended to key {k!r} more than once "
                            f"(ops {txns[other].index} and {t.index})")
    return None


def _dup_message(txns, k, v, other, t):
    return (f"value {v!r} appended to key {k!r} more than once "
            f"(ops {txns[other].index} and {t.index})")


def repeated_key_txns(txns):
    """The transactions with two or more micro-ops on one key: only they can disagree with
    themselves, read their own future, write an intermediate state or lose an update."""
    c = native.core
    if c is not None:
        return c.repeated_key_txns(txns)
    return [t for t in txns if len(t.mops) > 1 and len({m[1] for m in t.mops}) < len(t.mops)]


_UNKNOWN_EMPTY = (False, ())


def _internal_case(t, k, read, st):
    """The internal case of ``t`` reading ``read`` (a tuple) of ``k`` after its own earlier
    micro-ops left ``st`` (``(known_prefix?, tuple)``: the whole list, or only its end), or None
    when they agree."""
    known, lst = st
    if known:
        if read == lst:
            return None
    else:
        i = len(read) - len(lst)
        if i >= 0 and read[i:] == lst:
            return None
    return {"op": t.index, "mop": ["r", k, list(read)],
            "expected": list(lst) if known else ["..."] + list(lst)}


def _future_read_case(t, k, v, reads):
    """The future-read case of ``t`` appending ``v`` to ``k`` after it read ``reads`` (non-empty
    lists) of ``k``, or None when none of them holds ``v``."""
    hit = next((r for r in reads if v in r), None)
    if hit is None:
        return None
    return {"op": t.index, "mop": ["r", k, list(hit)], "element": v}


def internal_cases(txns):
    """A read inconsistent with the transaction's own earlier reads/appends of that key."""
    cases = []
    for t in txns:
        if t.type != "ok":
            continue
        state = {}  # k -> (known_prefix?, tuple)
        for f, k, v in t.mops:
            if f == "append":
                known, lst = state.get(k, _UNKNOWN_EMPTY)
                state[k] = (known, lst + (v,))
            else:
                v = tuple(v) if v else ()
                s = state.get(k)
                case = _internal_case(t, k, v, s) if s is not None else None
                if case is not None:
                    cases.append(case)
                    break
                state[k] = (True, v)
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
                case = _future_read_case(t, k, v, read[k])
                if case is not None:
                    cases.append(case)
                    break
    return cases


def self_cases(txns, multi):
    """:func:`internal_cases`, :func:`future_read_cases`, :func:`g1b_cases` and
    :func:`lost_update_cases` (of the non-failed) in one pass over ``multi``
    (:func:`repeated_key_txns` of ``txns``): the same cases, in the same order."""
    c = native.core
    if c is not None:
        internal, future, inter, groups = c.self_cases(multi)
        return {"internal": internal, "future-read": future, "G1b": _g1b_from(inter, txns),
                "lost-update": _lost_update_from(groups)}
    internal, future, inter, groups = [], [], {}, {}
    for t in multi:
        ok = t.type == "ok"
        last = {}  # G1b: k -> last element appended
        state = {}  # internal: k -> (known_prefix?, tuple)
        fread = {}  # future read: k -> [non-empty reads]
        lreads = {}  # lost update: k -> first state read, if read before written
        written = set()
        int_on = fut_on = ok
        for f, k, v in t.mops:
            if f == "append":
                if k in last:
                    inter[(k, last[k])] = t
                last[k] = v
                if not ok:
                    continue
                if int_on:
                    known, lst = state.get(k, _UNKNOWN_EMPTY)
                    state[k] = (known, lst + (v,))
                if fut_on and k in fread:
                    case = _future_read_case(t, k, v, fread[k])
                    if case is not None:
                        future.append(case)
                        fut_on = False
                if k not in written and k in lreads:
                    groups.setdefault((k, lreads[k]), []).append(t.index)
                written.add(k)
                continue
            if not ok:
                continue
            if int_on:
                tv = tuple(v) if v else ()
                st = state.get(k)
                case = _internal_case(t, k, tv, st) if st is not None else None
                if case is not None:
                    internal.append(case)
                    int_on = False
                if int_on:
                    state[k] = (True, tv)
            if fut_on and v:
                fread.setdefault(k, []).append(v)
            if k not in lreads and k not in written:
                lreads[k] = v or ()
    return {"internal": internal, "future-read": future, "G1b": _g1b_from(inter, txns),
            "lost-update": _lost_update_from(groups)}


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


def g1b_cases(txns, multi=None):
    """``multi``: the txns touching some key twice, if known (only they write intermediates)."""
    inter = {}
    for t in txns if multi is None else multi:
        last = {}
        for f, k, v in t.mops:
            if f == "append":
                if k in last:
                    inter[(k, last[k])] = t
                last[k] = v
    return _g1b_from(inter, txns)


def _g1b_from(inter, txns):
    """Reads of ``txns`` ending at an intermediate element (``(key, element) -> writer txn``)."""
    if not inter:
        return []
    c = native.core
    if c is not None and type(inter) is dict:
        return c.g1b_from(inter, txns)
    cases = []
    get = inter.get
    for t in txns:
        if t.type != "ok":
            continue
        for f, k, v in t.mops:
            if f == "r" and v:
                w = get((k, v[-1]))
                if w is not None and w is not t:
                    cases.append({"op": t.index, "mop": ["r", k, list(v)], "writer": w.index,
                                  "element": v[-1]})
    return cases


def _first_duplicate_at(svs):
    """key -> length of the shortest read of it with a repeated element (None: no such read),
    for the keys whose reads are all prefixes of the longest one; other keys are left out."""
    c = native.core
    if c is not None and type(svs) is dict:
        return c.first_duplicate_at(svs)
    out = {}
    for k, values in svs.items():
        if any(b[: len(a)] != a for a, b in zip(values, values[1:])):
            continue
        seen = set()
        at = None
        for i, e in enumerate(values[-1]):
            if e in seen:
                at = i + 1
                break
            seen.add(e)
        out[k] = at
    return out


def duplicate_cases(possible, svs=None):
    """Reads with an element twice. ``svs`` (:func:`sorted_values` of ``possible``) lets us
    answer from the longest read of each key, instead of hashing every read."""
    dup_at = _first_duplicate_at(svs) if svs is not None else {}
    if svs is not None and len(dup_at) == len(svs) and not any(dup_at.values()):
        return []  # every read is a prefix of a duplicate-free longest read
    cases = []
    for t in possible:
        for f, k, v in t.mops:
            if f != "r" or not v:
                continue
            at = dup_at.get(k, _TOO_MANY)
            if at is not _TOO_MANY:
                if at is None or len(v) < at:
                    continue
            if len(set(v)) != len(v):
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
    c = native.core
    if c is not None:
        values, appends = c.read_values(possible, _TOO_MANY)
    else:
        values, appends = _read_values(possible)
    return _sorted_values(values, appends)


def _sorted_values(values, appends):
    for k, v in appends.items():
        if v is not _TOO_MANY and k not in values:
            values[k] = {(v,)}
    return {k: sorted(s, key=len) for k, s in values.items()}


def _read_values(possible):
    """key -> set of the distinct non-empty reads; key -> its one appended element (or
    ``_TOO_MANY``)."""
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
    return values, appends


_TOO_MANY = object()


def incompatible_orders(svs):
    """Keys whose reads are not all prefixes of one another: the first such pair per key."""
    c = native.core
    if c is not None and type(svs) is dict:
        return c.incompatible_orders(svs)
    cases = []
    for k, values in svs.items():
        for a, b in zip(values, values[1:]):
            if b[: len(a)] != a:
                cases.append({"key": k, "values": [list(a), list(b)]})
                break
    return cases


def version_orders(svs):
    """key -> (elements in order, element -> position), from the longest read."""
    c = native.core
    if c is not None and type(svs) is dict:
        return c.version_orders(svs)
    out = {}
    for k, values in svs.items():
        longest = values[-1]
        vs = list(dict.fromkeys(longest))
        out[k] = (vs, {e: i for i, e in enumerate(vs)})
    return out


def dirty_update_cases(orders, txns):
    if not any(t.type == "fail" for t in txns):
        return []  # a case starts at an aborted append
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
    return _lost_update_from(groups)


def _lost_update_from(groups):
    """Cases from ``(key, state read) -> [op index of each txn that read it, then wrote]``."""
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
        tb = self.txns[b]
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


def dependency_graph(txns, possible, orders, writes=None) -> tuple[Graph, Analysis]:
    """ww, wr and rw edges between the possible (ok and info) transactions. ``writes``:
    ``(key, element) -> txn id`` over ``possible``, if already known."""
    if writes is None:
        writes = {}
        for t in possible:
            for f, k, v in t.mops:
                if f == "append":
                    writes[(k, v)] = t.id
    c = native.core
    if c is not None and type(writes) is dict and type(orders) is dict:
        g = Graph(len(txns))
        reads = c.dependency_edges(possible, g.out, writes, orders, INITIAL, WW, WR, RW)
        return g, Analysis(txns, orders, writes, reads)
    reads: dict = {}
    rget = reads.get
    for t in possible:
        if t.type != "ok":
            continue  # an info read observed nothing
        tid = t.id
        for f, k, v in t.mops:
            if f == "r":
                key = (k, v[-1] if v else INITIAL)
                lst = rget(key)
                if lst is None:
                    reads[key] = [tid]
                elif lst[-1] != tid:
                    lst.append(tid)
    an = Analysis(txns, orders, writes, reads)
    g = Graph(len(txns))
    out = g.out
    wget, oget = writes.get, orders.get
    for t in possible:
        tid = t.id
        for f, k, v in t.mops:
            if f == "r":
                if v:
                    w = wget((k, v[-1]))
                    if w is not None and w != tid:
                        d = out[w]
                        d[tid] = d.get(tid, 0) | WR
                continue
            o = oget(k)
            if o is None:
                p = INITIAL
            else:
                vs, idx = o
                i = idx.get(v)
                if i is None:
                    p = vs[-1] if vs else INITIAL
                else:
                    p = vs[i - 1] if i > 0 else INITIAL
            key = (k, p)
            if p is not INITIAL:
                w = wget(key)
                if w is not None and w != tid:
                    d = out[w]
                    d[tid] = d.get(tid, 0) | WW
            rs = rget(key)
            if rs:
                for r in rs:
                    if r != tid:
                        d = out[r]
                        d[tid] = d.get(tid, 0) | RW
    return g, an
