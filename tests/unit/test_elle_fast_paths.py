"""The Elle checker's shortcuts give what the plain computations give: SCCs after Kahn trimming,
duplicate elements from each key's longest read, the realtime order sorted as ints."""

import random

from checkers.elle import list_append as la
from checkers.elle.graph import WW, Graph, realtime_reduction, sccs
from checkers.elle.history import transactions


def _random_graph(rng, n, m):
    g = Graph(n)
    for _ in range(m):
        g.link(rng.randrange(n), rng.randrange(n), WW)
    return g


def test_trimmed_sccs_equal_plain_tarjan():
    rng = random.Random(1)
    seen_cyclic = seen_acyclic = 0
    for i in range(300):
        n = rng.randrange(1, 40)
        g = _random_graph(rng, n, rng.randrange(0, 2 * n))
        # nodes=all vertices skips the trimming; the default call trims first.
        plain = sorted(sccs(g, -1, range(n)))
        assert sorted(sccs(g)) == plain
        seen_cyclic += bool(plain)
        seen_acyclic += not plain
    assert seen_cyclic > 50 and seen_acyclic > 50


def test_trim_keeps_cycles_reachable_from_a_dag_part():
    g = Graph(7)
    for a, b in [(0, 1), (1, 2), (2, 3), (3, 2), (3, 4), (4, 5), (5, 6), (6, 4)]:
        g.link(a, b, WW)
    assert sorted(sccs(g)) == [[2, 3], [4, 5, 6]]


def _history(reads):
    h = []
    for i, (f, k, v) in enumerate(reads):
        h.append({"index": 2 * i, "type": "invoke", "process": i, "f": "txn",
                  "value": [[f, k, None if f == "r" else v]]})
        h.append({"index": 2 * i + 1, "type": "ok", "process": i, "f": "txn",
                  "value": [[f, k, v]]})
    return h


def test_duplicate_cases_from_longest_read_match_per_read_check():
    reads = [("r", "x", [1]), ("r", "x", [1, 2]), ("r", "x", [1, 2, 1]), ("r", "x", [1, 2, 1, 3]),
             ("r", "y", [5, 5]), ("r", "y", [6]),  # incompatible key: checked read by read
             ("r", "z", [7, 8])]
    txns = transactions(_history(reads), la.KINDS)
    svs = la.sorted_values(txns)
    fast = la.duplicate_cases(txns, svs)
    assert fast == la.duplicate_cases(txns)
    assert [c["mop"][2] for c in fast] == [[1, 2, 1], [1, 2, 1, 3], [5, 5]]


def test_realtime_reduction_orders_by_position_then_invoke_first():
    h = [{"index": 0, "type": "invoke", "process": 0, "f": "txn", "value": [["r", "x", None]]},
         {"index": 1, "type": "ok", "process": 0, "f": "txn", "value": [["r", "x", []]]},
         # a completion with no invoke: invoked where it completed
         {"index": 2, "type": "ok", "process": 1, "f": "txn", "value": [["append", "x", 1]]},
         {"index": 3, "type": "invoke", "process": 2, "f": "txn", "value": [["r", "x", None]]},
         {"index": 4, "type": "ok", "process": 2, "f": "txn", "value": [["r", "x", [1]]]}]
    txns = transactions(h, la.KINDS)
    assert realtime_reduction(txns) == [(0, 1), (1, 2)]


def _random_txn_history(rng, n):
    """Txns over 3 keys with repeated keys, made-up reads (some inconsistent) and all types."""
    h = []
    appended = {k: [] for k in "xyz"}
    nxt = 0
    for i in range(n):
        mops = []
        for _ in range(rng.randrange(1, 6)):
            k = rng.choice("xyz")
            if rng.random() < 0.5:
                nxt += 1
                appended[k].append(nxt)
                mops.append(["append", k, nxt])
            else:
                seen = appended[k][: rng.randrange(len(appended[k]) + 1)]
                if seen and rng.random() < 0.3:
                    rng.shuffle(seen)
                if rng.random() < 0.2:
                    seen.append(nxt + 1)  # the next append, maybe this txn's own: a future read
                mops.append(["r", k, seen])
        typ = rng.choice(["ok", "ok", "ok", "fail", "info"])
        h.append({"index": 2 * i, "type": "invoke", "process": i, "f": "txn",
                  "value": [[f, k, None if f == "r" else v] for f, k, v in mops]})
        h.append({"index": 2 * i + 1, "type": typ, "process": i, "f": "txn", "value": mops})
    return h


def test_self_cases_equal_the_separate_passes():
    rng = random.Random(7)
    totals = dict.fromkeys(["internal", "future-read", "G1b", "lost-update"], 0)
    for _ in range(40):
        txns = transactions(_random_txn_history(rng, 30), la.KINDS)
        got = la.self_cases(txns, la.repeated_key_txns(txns))
        possible = [t for t in txns if t.type != "fail"]
        assert got == {"internal": la.internal_cases(txns),
                       "future-read": la.future_read_cases(txns),
                       "G1b": la.g1b_cases(txns),
                       "lost-update": la.lost_update_cases(possible, "append")}
        for k, v in got.items():
            totals[k] += len(v)
    assert all(totals.values()), totals  # every kind of case was exercised
