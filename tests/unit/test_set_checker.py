"""Set checker: hand-made histories for each outcome kind, asserting the explanation."""

from checkers.set import SetChecker
from workloads import make_workload


def h(*ops):
    out = []
    for i, (t, typ, p, f, v) in enumerate(ops):
        out.append({"index": i, "time": t, "type": typ, "process": p, "f": f, "value": v})
    return out


def test_all_stable_is_valid():
    r = SetChecker().check({}, h((0, "invoke", 0, "add", 1), (10, "ok", 0, "add", 1),
                                 (20, "invoke", 1, "read", None), (30, "ok", 1, "read", [1])))
    assert r["valid"] is True and r["stable-count"] == 1 and r["lost-count"] == 0


def test_lost_acknowledged_add_is_invalid_and_explained():
    ms = 1_000_000
    r = SetChecker().check({}, h((0, "invoke", 0, "add", 1), (10 * ms, "ok", 0, "add", 1),
                                 (11 * ms, "invoke", 0, "add", 2), (12 * ms, "ok", 0, "add", 2),
                                 (20 * ms, "invoke", 1, "read", None), (30 * ms, "ok", 1, "read", [2])))
    assert r["valid"] is False
    assert r["lost"] == [1] and r["lost-count"] == 1
    assert "element 1 is lost" in r["explanation"][0] and "acknowledged" in r["explanation"][0]
    assert r["lost-latencies-ms"]["1"] == 20.0  # from the ack to the read that missed it


def test_unexpected_element_is_invalid():
    r = SetChecker().check({}, h((0, "invoke", 1, "read", None), (5, "ok", 1, "read", [7])))
    assert r["valid"] is False and r["unexpected"] == [7]
    assert "no add of it was ever invoked" in r["explanation"][0]


def test_failed_add_that_appears_is_unexpected():
    r = SetChecker().check({}, h((0, "invoke", 0, "add", 3), (1, "fail", 0, "add", 3),
                                 (2, "invoke", 1, "read", None), (3, "ok", 1, "read", [3])))
    assert r["valid"] is False and "certainly failed" in r["explanation"][0]


def test_stale_is_valid_unless_linearizable():
    ops = h((0, "invoke", 0, "add", 1), (10, "ok", 0, "add", 1),
            (20, "invoke", 1, "read", None), (30, "ok", 1, "read", []),
            (40, "invoke", 1, "read", None), (50, "ok", 1, "read", [1]))
    r = SetChecker().check({}, ops)
    assert r["valid"] is True and r["stale"] == [1]
    r = SetChecker(linearizable=True).check({}, ops)
    assert r["valid"] is False and "element 1 is stale" in r["explanation"][0]


def test_info_add_seen_is_recovered_and_unseen_info_add_is_fine():
    r = SetChecker().check({}, h((0, "invoke", 0, "add", 1), (10, "info", 0, "add", 1),
                                 (1, "invoke", 2, "add", 2), (11, "info", 2, "add", 2),
                                 (20, "invoke", 1, "read", None), (30, "ok", 1, "read", [1])))
    assert r["valid"] is True and r["recovered-count"] == 1 and r["lost-count"] == 0


def test_never_read():
    r = SetChecker().check({}, h((0, "invoke", 0, "add", 1), (10, "ok", 0, "add", 1)))
    assert r["valid"] is True and r["never-read-count"] == 1


def test_workload_generator_and_registry():
    w = make_workload("set", {"read_every": 2})
    g = w.generator()
    assert [g() for _ in range(6)] == [{"f": "add", "value": 0}, {"f": "add", "value": 1},
                                       {"f": "read", "value": None}, {"f": "add", "value": 2},
                                       {"f": "add", "value": 3}, {"f": "read", "value": None}]
    assert w.final_generator() is not None
