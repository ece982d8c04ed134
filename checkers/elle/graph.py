"""The dependency graph between transactions: labelled edges, process and realtime orders, SCCs.

Vertices are transaction ids (``Txn.id``, dense ints). An edge ``a -> b`` carries a bit set of
relations: :data:`WW`, :data:`WR`, :data:`RW` (data dependencies, inferred from the values) and
:data:`PROCESS`, :data:`REALTIME` (orders observed by the clients). Self-edges are never stored.

The realtime order is kept small with a transitive reduction, as Elle does: walking the history,
we keep the *frontier* of completed transactions not yet followed by another completed one; a
transaction invoked now follows exactly the frontier, and when it completes it replaces the
members of the frontier it follows. Every "a completed before b was invoked" pair is then a path,
with O(n * concurrency) edges instead of O(n^2).
"""

from __future__ import annotations

from collections import Counter
from itertools import chain

from . import native

WW, WR, RW, PROCESS, REALTIME = 1, 2, 4, 8, 16
DATA = WW | WR | RW
LABELS = {WW: "ww", WR: "wr", RW: "rw", PROCESS: "process", REALTIME: "realtime"}
BITS = {v: k for k, v in LABELS.items()}


class Graph:
    """A directed graph over ``n`` vertices; ``out[a]`` maps ``b`` to the relation bits."""

    __slots__ = ("n", "out")

    def __init__(self, n: int):
        self.n = n
        self.out: list[dict[int, int]] = [dict() for _ in range(n)]

    def link(self, a: int, b: int, rel: int) -> None:
        if a == b:
            return
        d = self.out[a]
        d[b] = d.get(b, 0) | rel

    def rels(self, a: int, b: int) -> int:
        return self.out[a].get(b, 0)

    def edge_count(self) -> int:
        return sum(len(d) for d in self.out)

    def is_empty(self) -> bool:
        return not any(self.out)


def add_process_edges(g: Graph, txns) -> None:
    """Link each process's successive ``ok`` transactions (a process is single-threaded)."""
    last: dict = {}
    for t in sorted((t for t in txns if t.type == "ok"), key=lambda t: t.complete_pos):
        prev = last.get(t.process)
        if prev is not None:
            g.link(prev, t.id, PROCESS)
        last[t.process] = t.id


def _realtime_events(txns):
    """The ``ok`` txns' invocations and completions in history order, as sorted ints
    ``(position * 2 + kind) * n + id`` (kind 0: invoke, 1: complete, so at equal positions, an
    op with no invoke, the invoke comes first) and ``n``: sorting ints is much cheaper than
    sorting tuples. ``divmod(code, n)`` gives back ``(position * 2 + kind, id)``."""
    n = len(txns) or 1
    codes = []
    add = codes.append
    for t in txns:
        if t.type == "ok":
            tid = t.id
            add((t.invoke_pos * 2) * n + tid)
            add((t.complete_pos * 2 + 1) * n + tid)
    codes.sort()
    return codes, n


def realtime_reduction(txns) -> list[tuple[int, int]]:
    """Pairs ``(a, b)``: ``ok`` txn a completed before ok txn b was invoked, transitively reduced."""
    return list(_realtime_pairs(txns))


def _realtime_pairs(txns):
    """:func:`realtime_reduction`'s pairs, one at a time, in order."""
    frontier: set[int] = set()
    preds: dict[int, tuple] = {}
    codes, n = _realtime_events(txns)
    for c in codes:
        ev, tid = divmod(c, n)
        if not ev & 1:
            preds[tid] = tuple(frontier)
        else:
            ps = preds.pop(tid)
            for p in ps:
                yield p, tid
            frontier.difference_update(ps)
            frontier.add(tid)


def add_realtime_edges(g: Graph, txns) -> None:
    """The edges of :func:`realtime_reduction`, added as they are found."""
    c = native.core
    if c is not None and type(g.out) is list and len(g.out) >= len(txns):
        if c.realtime_edges(txns, g.out, REALTIME):
            return
    out = g.out
    for p, tid in _realtime_pairs(txns):
        d = out[p]
        d[tid] = d.get(tid, 0) | REALTIME


def _trim(g: Graph) -> list[int] | None:
    """The vertices that lie on a cycle or between cycles, or None when the graph is acyclic.

    Kahn's algorithm peels vertices with no incoming edge, then (on what is left) vertices with no
    outgoing edge; neither can be in a cycle. A valid history's graph is a DAG and vanishes
    entirely, so the Tarjan pass (several times dearer per edge) only runs on what remains.
    """
    c = native.core
    if c is not None and type(g.out) is list and len(g.out) == g.n:
        return c.trim(g.out)
    n = g.n
    out = g.out
    indeg = [0] * n
    for w, c in Counter(chain.from_iterable(out)).items():
        indeg[w] = c
    stack = [v for v in range(n) if not indeg[v]]
    removed = bytearray(n)
    pop, push = stack.pop, stack.append
    left = n
    while stack:
        v = pop()
        removed[v] = 1
        left -= 1
        for w in out[v]:
            c = indeg[w] - 1
            indeg[w] = c
            if not c:
                push(w)
    if not left:
        return None
    rest = [v for v in range(n) if not removed[v]]
    # Backwards: a vertex none of whose successors (still present) is present.
    outdeg = {v: sum(1 for w in out[v] if not removed[w]) for v in rest}
    preds: dict[int, list] = {v: [] for v in rest}
    for v in rest:
        for w in out[v]:
            if not removed[w]:
                preds[w].append(v)
    stack = [v for v in rest if not outdeg[v]]
    while stack:
        v = stack.pop()
        removed[v] = 1
        for u in preds[v]:
            outdeg[u] -= 1
            if not outdeg[u]:
                stack.append(u)
    return [v for v in rest if not removed[v]]


def sccs(g: Graph, mask: int = -1, nodes=None) -> list[list[int]]:
    """Strongly connected components with more than one vertex (iterative Tarjan), using only
    edges whose bits intersect ``mask``, restricted to ``nodes`` when given."""
    if nodes is None and mask == -1:
        nodes = _trim(g)
        if nodes is None:
            return []
        if not nodes:
            return []
    n = g.n
    out = g.out
    allowed = None if nodes is None else set(nodes)
    index = {}
    low = {}
    on_stack = set()
    stack: list[int] = []
    result = []
    counter = 0
    roots = range(n) if allowed is None else sorted(allowed)
    for root in roots:
        if root in index:
            continue
        if not out[root] and allowed is None:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(out[root].items()))]
        while work:
            v, it = work[-1]
            advanced = False
            for w, bits in it:
                if not bits & mask or (allowed is not None and w not in allowed):
                    continue
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(out[w].items())))
                    advanced = True
                    break
                if w in on_stack and index[w] < low[v]:
                    low[v] = index[w]
            if advanced:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    result.append(sorted(comp))
    return result
