"""checkers.compose: false > unknown > true; a raising checker yields unknown with the error."""

import pytest

from checkers.compose import compose, merge_valid, run_checkers


def test_merge_order():
    assert merge_valid([]) is True
    assert merge_valid([True, True]) is True
    assert merge_valid([True, "unknown"]) == "unknown"
    assert merge_valid(["unknown", False, True]) is False
    assert merge_valid([False, "unknown"]) is False
    # anything that is not a verdict counts as unknown; 1 and 0 are not booleans here
    assert merge_valid([True, None]) == "unknown"
    assert merge_valid([1]) == "unknown"


def test_compose_shape():
    r = compose({"a": {"valid": True}, "b": {"valid": "unknown", "cause": "timeout"}})
    assert r["valid"] == "unknown"
    assert r["a"] == {"valid": True}
    assert r["b"]["cause"] == "timeout"
    assert compose({})["valid"] is True
    assert compose({"x": {"valid": False}, "y": {"valid": True}})["valid"] is False


def test_compose_rejects_a_checker_named_valid():
    with pytest.raises(ValueError):
        compose({"valid": {"valid": True}})


class Fixed:
    def __init__(self, result):
        self.result = result
        self.calls = []

    def check(self, test, history, opts):
        self.calls.append((test, history, opts))
        return self.result


class Boom:
    def check(self, test, history, opts):
        raise KeyError("missing")


def test_run_checkers_runs_all_and_catches_errors():
    ok = Fixed({"valid": True})
    r = run_checkers({"boom": Boom(), "ok": ok}, {"name": "t"}, [1, 2], {"o": 1})
    assert r["valid"] == "unknown"
    assert r["boom"] == {"valid": "unknown", "error": "KeyError: 'missing'"}
    assert r["ok"] == {"valid": True}
    assert ok.calls == [({"name": "t"}, [1, 2], {"o": 1})]


def test_run_checkers_false_wins_over_error():
    r = run_checkers({"boom": Boom(), "bad": Fixed({"valid": False})}, None, [], None)
    assert r["valid"] is False


def test_run_checkers_non_dict_result_is_unknown():
    r = run_checkers({"weird": Fixed(None)}, None, [], None)
    assert r["valid"] == "unknown"
    assert r["weird"]["error"].startswith("TypeError")
