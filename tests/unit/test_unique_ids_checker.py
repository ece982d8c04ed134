"""Unique-ids checker: a duplicated id is rejected and named with its ops."""

from checkers.unique_ids import UniqueIdsChecker


def h(*ops):
    return [{"index": i, "time": i, "type": typ, "process": p, "f": "generate", "value": v}
            for i, (typ, p, v) in enumerate(ops)]


def test_distinct_ids_valid_with_range():
    r = UniqueIdsChecker().check({}, h(("invoke", 0, None), ("ok", 0, 5), ("invoke", 1, None), ("ok", 1, 9)))
    assert r["valid"] is True and r["range"] == [5, 9]


def test_duplicate_id_invalid_and_explained():
    r = UniqueIdsChecker().check({}, h(("invoke", 0, None), ("ok", 0, 5), ("invoke", 1, None), ("ok", 1, 5),
                                       ("invoke", 2, None), ("info", 2, None)))
    assert r["valid"] is False and r["duplicated-count"] == 1
    assert r["explanation"] == ["id 5 was returned 2 times, by ops #1, #3"]
    assert r["attempted-count"] == 3
