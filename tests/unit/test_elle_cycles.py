"""Typed cycle search: classification, exact constraints, severity order and redundancy."""

import time

from checkers.elle.cycles import CYCLE_TYPES, classify, cycle_anomalies, find_cycle
from checkers.elle.graph import PROCESS, REALTIME, RW, WR, WW, Graph


def _g(n, edges):
    g = Graph(n)
    for a, b, r in edges:
        g.link(a, b, r)
    return g


def test_classify():
    assert classify([WW, WW]) == "G0"
    assert classify([WW, WR]) == "G1c"
    assert classify([RW, WR]) == "G-single-item"
    assert classify([RW, WR, RW, WR]) == "G-nonadjacent-item"
    assert classify([RW, RW]) == "G2-item"
    assert classify([WR, RW, WR, RW]) == "G-nonadjacent-item"
    assert classify([RW, WR, WR, RW]) == "G2-item"  # adjacent across the wrap-around
    assert classify([RW, REALTIME]) == "G-single-item-realtime"
    assert classify([WR, PROCESS]) == "G1c-process"


def test_g_single_needs_exactly_one_rw():
    g = _g(3, [(0, 1, RW), (1, 2, RW), (2, 0, WR)])
    far = time.monotonic() + 10
    assert find_cycle(g, "G-single-item", {0, 1, 2}, far) is None
    assert find_cycle(g, "G2-item", {0, 1, 2}, far) is not None


def test_nonadjacent_rw_cycle_is_not_g2_item():
    g = _g(4, [(0, 1, RW), (1, 2, WR), (2, 3, RW), (3, 0, WR)])
    found = cycle_anomalies(g, CYCLE_TYPES)
    assert set(found) == {"G-nonadjacent-item"}


def test_data_label_wins_over_realtime():
    # 0 -rw-> 1 and 1 -> 0 is both wr and realtime: explained as wr, so G-single-item, not -realtime.
    g = _g(2, [(0, 1, RW), (1, 0, WR | REALTIME)])
    assert set(cycle_anomalies(g, CYCLE_TYPES)) == {"G-single-item"}


def test_realtime_variant_found_when_only_realtime_closes_the_cycle():
    g = _g(2, [(0, 1, RW), (1, 0, REALTIME)])
    assert set(cycle_anomalies(g, CYCLE_TYPES)) == {"G-single-item-realtime"}
    # Not looked for (e.g. serializable): nothing.
    assert cycle_anomalies(g, {"G-single-item"}) == {}


def test_implied_types_are_skipped():
    # A G0 cycle is also G1c: only G0 is reported.
    g = _g(3, [(0, 1, WW), (1, 0, WW), (1, 2, WR), (2, 1, WW)])
    assert set(cycle_anomalies(g, CYCLE_TYPES)) == {"G0"}


def test_shortest_cycle_is_reported():
    g = _g(5, [(0, 1, WR), (1, 2, WR), (2, 3, WR), (3, 0, WR), (1, 0, WR)])
    (verts, labels), = cycle_anomalies(g, CYCLE_TYPES)["G1c"]
    assert len(labels) == 2
