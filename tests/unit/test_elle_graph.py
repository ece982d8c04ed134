"""Graph pieces: Tarjan SCCs, the realtime transitive reduction, process edges."""

from checkers.elle.graph import PROCESS, REALTIME, RW, WW, Graph, add_process_edges, realtime_reduction, sccs
from checkers.elle.history import transactions
from checkers.elle.list_append import KINDS


def test_sccs_find_cycles_only():
    g = Graph(6)
    for a, b in [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 3)]:
        g.link(a, b, WW)
    assert sorted(sccs(g)) == [[0, 1, 2], [3, 4]]
    assert sccs(g, mask=RW) == []


def test_sccs_iterative_on_a_long_cycle():
    n = 50_000  # deep enough to break a recursive Tarjan
    g = Graph(n)
    for i in range(n):
        g.link(i, (i + 1) % n, WW)
    assert [len(c) for c in sccs(g)] == [n]


def test_self_edges_are_never_stored():
    g = Graph(2)
    g.link(0, 0, WW)
    assert g.is_empty()


def _ops(spec):
    # spec: (process, "i"/"o") events; each process runs one txn at a time.
    h = []
    for p, kind in spec:
        h.append({"index": len(h), "type": "invoke" if kind == "i" else "ok", "process": p,
                  "f": "txn", "value": [["r", "x", None if kind == "i" else []]]})
    return transactions(h, KINDS)


def test_realtime_reduction_is_transitively_reduced():
    # A completes, then B and C overlap, then D starts after both: A->B, A->C, B->D, C->D.
    txns = _ops([(0, "i"), (0, "o"), (1, "i"), (2, "i"), (1, "o"), (2, "o"), (3, "i"), (3, "o")])
    ids = {t.process: t.id for t in txns}
    pairs = set(realtime_reduction(txns))
    assert pairs == {(ids[0], ids[1]), (ids[0], ids[2]), (ids[1], ids[3]), (ids[2], ids[3])}


def test_concurrent_txns_have_no_realtime_edge():
    txns = _ops([(0, "i"), (1, "i"), (0, "o"), (1, "o")])
    assert realtime_reduction(txns) == []


def test_process_edges_follow_each_process():
    txns = _ops([(0, "i"), (0, "o"), (1, "i"), (1, "o"), (0, "i"), (0, "o")])
    g = Graph(len(txns))
    add_process_edges(g, txns)
    assert g.rels(txns[0].id, txns[2].id) == PROCESS
    assert g.rels(txns[0].id, txns[1].id) == 0
    assert REALTIME != PROCESS
