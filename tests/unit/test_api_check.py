"""harness.api.check: a history checked through a workload's checker, as the runner does."""

import pytest

from checkers.set import SetChecker
from harness.api import check

LOST = [
    {"index": 0, "time": 0, "type": "invoke", "process": 0, "f": "add", "value": 1},
    {"index": 1, "time": 10, "type": "ok", "process": 0, "f": "add", "value": 1},
    {"index": 2, "time": 20, "type": "invoke", "process": 1, "f": "read", "value": None},
    {"index": 3, "time": 30, "type": "ok", "process": 1, "f": "read", "value": []},
]


def test_check_by_workload_name_and_by_checker_object():
    for r in (check(LOST, workload="set"), check(LOST, checker=SetChecker())):
        assert r["valid"] is False
        assert "element 1 is lost" in str(r)


def test_check_needs_exactly_one_checker_source():
    with pytest.raises(TypeError):
        check(LOST)
