"""Counter checker: reads within [certain, possible] bounds; hand-made invalid histories."""

from checkers.counter import CounterChecker
from workloads import make_workload


def h(*ops):
    return [{"index": i, "time": t, "type": typ, "process": p, "f": f, "value": v}
            for i, (t, typ, p, f, v) in enumerate(ops)]


def test_read_within_bounds_is_valid():
    r = CounterChecker().check({}, h((0, "invoke", 0, "add", 3), (1, "ok", 0, "add", 3),
                                     (2, "invoke", 1, "add", 2), (3, "info", 1, "add", 2),
                                     (4, "invoke", 2, "read", None), (5, "ok", 2, "read", 5)))
    assert r["valid"] is True


def test_read_above_attempted_sum_is_invalid():
    r = CounterChecker().check({}, h((0, "invoke", 0, "add", 3), (1, "ok", 0, "add", 3),
                                     (4, "invoke", 2, "read", None), (5, "ok", 2, "read", 4)))
    assert r["valid"] is False and r["errors"][0]["upper"] == 3
    assert "saw 4, but the counter could only have been between 3" in r["explanation"][0]


def test_read_below_acknowledged_sum_is_invalid_and_failed_adds_do_not_count():
    r = CounterChecker().check({}, h((0, "invoke", 0, "add", 3), (1, "ok", 0, "add", 3),
                                     (2, "invoke", 1, "add", -1), (3, "fail", 1, "add", -1),
                                     (4, "invoke", 2, "read", None), (5, "ok", 2, "read", 2)))
    assert r["valid"] is False and r["errors"][0]["lower"] == 3


def test_possible_decrement_widens_lower_bound():
    r = CounterChecker().check({}, h((0, "invoke", 0, "add", 3), (1, "ok", 0, "add", 3),
                                     (2, "invoke", 1, "add", -1), (3, "info", 1, "add", -1),
                                     (4, "invoke", 2, "read", None), (5, "ok", 2, "read", 2)))
    assert r["valid"] is True


def test_workload_registered():
    g = make_workload("counter", {"max_delta": 2}).generator()
    ops = [g() for _ in range(50)]
    assert {o["f"] for o in ops} == {"add", "read"}
    assert any(o["f"] == "add" and o["value"] < 0 for o in ops)
