"""Each inference pass alone: list-append orders/edges/anomalies, rw-register version orders."""

from checkers.elle import ElleListAppendChecker, ElleRwRegisterChecker
from checkers.elle import list_append as la
from checkers.elle import version_order as vo
from checkers.elle.graph import RW, WR, WW
from checkers.elle.history import transactions


def _txns(values, kinds=la.KINDS, types=None):
    h = [{"index": i, "type": (types or {}).get(i, "ok"), "process": i, "value": v}
         for i, v in enumerate(values)]
    return transactions(h, kinds)


def test_version_order_from_longest_read_and_incompatible_orders():
    t = _txns([[["r", "x", [1, 2]]], [["r", "x", [1]]], [["r", "x", [1, 3]]]])
    svs = la.sorted_values(t)
    assert la.incompatible_orders(svs) == [{"key": "x", "values": [[1, 2], [1, 3]]}]
    assert la.version_orders({"x": [(1,), (1, 2)]})["x"][0] == [1, 2]


def test_single_append_gives_its_own_order():
    t = _txns([[["append", "x", 5]]])
    assert la.sorted_values(t) == {"x": [(5,)]}


def test_edges():
    t = _txns([[["append", "x", 1]], [["append", "x", 2]], [["r", "x", [1]]], [["r", "x", [1, 2]]]])
    g, _ = la.dependency_graph(t, t, la.version_orders(la.sorted_values(t)))
    assert g.rels(0, 1) == WW
    assert g.rels(0, 2) == WR and g.rels(1, 3) == WR
    assert g.rels(2, 1) == RW


def test_unread_append_follows_the_last_observed_element():
    t = _txns([[["append", "x", 1]], [["r", "x", [1]]], [["append", "x", 9]]])
    g, _ = la.dependency_graph(t, t, la.version_orders(la.sorted_values(t)))
    assert g.rels(0, 2) == WW and g.rels(1, 2) == RW


def test_internal_and_future_read():
    t = _txns([[["append", "x", 3], ["r", "x", [1, 4]]], [["r", "x", [7]], ["append", "x", 7]]])
    assert la.internal_cases(t)[0]["expected"] == ["...", 3]
    assert la.future_read_cases(t)[0]["element"] == 7


def test_g1a_g1b_dirty_update():
    t = _txns([[["append", "x", 1]], [["append", "x", 2], ["append", "x", 3]], [["r", "x", [1, 2]]]],
              types={0: "fail"})
    assert [c["element"] for c in la.g1a_cases(t)] == [1]
    assert [c["element"] for c in la.g1b_cases(t)] == [2]
    assert la.dirty_update_cases(la.version_orders(la.sorted_values(t)), t)[0]["values"] == [1, 2]


def test_lost_update():
    t = _txns([[["r", "x", [0]], ["append", "x", 1]], [["r", "x", [0]], ["append", "x", 2]]])
    assert la.lost_update_cases(t)[0]["txns"] == [0, 1]


def test_rw_register_version_sources():
    kinds = {"r": "scalar", "w": "scalar"}
    t = _txns([[["r", "y", 1], ["w", "y", 2]], [["w", "x", 1]]], kinds)
    assert ("y", None, 1) in vo.initial_state_edges(t)
    assert vo.wfr_edges(t) == {("y", 1, 2)}
    edges, used, cases = vo.version_graphs([("initial-state", {("x", None, 1)}),
                                            ("bad", {("x", 1, None)})])
    assert used == ["initial-state"]
    assert cases[0]["sources"] == ["initial-state", "bad"]


def test_sequential_keys_version_order():
    h = [{"index": 0, "type": "ok", "process": 0, "value": [["w", "x", 1]]},
         {"index": 1, "type": "ok", "process": 0, "value": [["r", "y", None]]},
         {"index": 2, "type": "ok", "process": 0, "value": [["w", "x", 2]]}]
    t = transactions(h, {"r": "scalar", "w": "scalar"})
    assert vo.txn_order_edges(t, {0: [1], 1: [2]}) == {("x", 1, 2)}


def test_explanations_read_like_elle():
    h = [{"index": 0, "type": "ok", "process": 0, "value": [["w", "x", 1], ["r", "y", 1]]},
         {"index": 1, "type": "ok", "process": 0, "value": [["w", "y", 1], ["r", "x", 1]]}]
    r = ElleRwRegisterChecker({"consistency_models": ["serializable"]}).check(None, h, {})
    text = r["anomalies"]["G1c"][0]["explanation"]
    assert "T1 < T2, because T1 wrote 'x' = 1, which was read by T2." in text
    assert text.endswith("a contradiction!")


def test_valid_history_is_valid():
    h = [{"index": 0, "type": "invoke", "process": 0, "value": [["append", "x", 1]]},
         {"index": 1, "type": "ok", "process": 0, "value": [["append", "x", 1]]},
         {"index": 2, "type": "invoke", "process": 1, "value": [["r", "x", None]]},
         {"index": 3, "type": "ok", "process": 1, "value": [["r", "x", [1]]]}]
    assert ElleListAppendChecker({}).check(None, h, {})["valid"] is True
