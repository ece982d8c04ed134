"""Hand-made histories for the linearizability checker (register and cas-register models)."""

import json

import pytest

from checkers.linearizable import LinearizableChecker, check_history, make_model
from harness.errors import InputError


def H(*events):
    """Build a history from (type, process, f, value) tuples; indices are positions."""
    return [{"index": i, "type": t, "process": p, "f": f, "value": v}
            for i, (t, p, f, v) in enumerate(events)]


def reg(initial=None):
    return make_model("register", initial)


def cas(initial=None):
    return make_model("cas-register", initial)


# --- valid histories --------------------------------------------------------------------------

def test_empty_history_is_valid():
    r = check_history([], reg())
    assert r["valid"] is True
    assert r["ops"] == 0
    assert r["analyzer"] == "wgl"
    assert r["model"] == "register"


def test_sequential_write_then_read():
    h = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("invoke", 1, "read", None), ("ok", 1, "read", 1))
    r = check_history(h, reg())
    assert r["valid"] is True
    assert r["ops"] == 2


def test_read_initial_none_matches_absent():
    h = H(("invoke", 0, "read", None), ("ok", 0, "read", None))
    assert check_history(h, reg(None))["valid"] is True


def test_concurrent_read_may_see_old_or_new():
    for seen in (0, 1):
        h = H(("invoke", 0, "write", 1), ("invoke", 1, "read", None),
              ("ok", 1, "read", seen), ("ok", 0, "write", 1))
        assert check_history(h, reg(0))["valid"] is True, seen


def test_concurrent_writes_either_order():
    # Two overlapping writes; later reads see 2 then... both orders are possible.
    for last in (1, 2):
        h = H(("invoke", 0, "write", 1), ("invoke", 1, "write", 2),
              ("ok", 0, "write", 1), ("ok", 1, "write", 2),
              ("invoke", 2, "read", None), ("ok", 2, "read", last))
        assert check_history(h, reg())["valid"] is True, last


def test_reads_must_agree_on_order_of_concurrent_writes():
    # After both writes finish, one reader sees 1 then another sees 2 then 1 again: impossible.
    h = H(("invoke", 0, "write", 1), ("invoke", 1, "write", 2),
          ("ok", 0, "write", 1), ("ok", 1, "write", 2),
          ("invoke", 2, "read", None), ("ok", 2, "read", 1),
          ("invoke", 3, "read", None), ("ok", 3, "read", 2))
    assert check_history(h, reg())["valid"] is False


def test_cas_chain_valid():
    h = H(("invoke", 0, "write", 0), ("ok", 0, "write", 0),
          ("invoke", 1, "cas", [0, 1]), ("ok", 1, "cas", [0, 1]),
          ("invoke", 2, "cas", [1, 2]), ("ok", 2, "cas", [1, 2]),
          ("invoke", 3, "read", None), ("ok", 3, "read", 2))
    assert check_history(h, cas())["valid"] is True


def test_concurrent_cas_only_one_order_works():
    # cas 0->1 and cas 1->2 overlap; both succeeded: must be ordered 0->1 first.
    h = H(("invoke", 1, "cas", [1, 2]), ("invoke", 0, "cas", [0, 1]),
          ("ok", 0, "cas", [0, 1]), ("ok", 1, "cas", [1, 2]),
          ("invoke", 2, "read", None), ("ok", 2, "read", 2))
    assert check_history(h, cas(0))["valid"] is True


# --- invalid histories ------------------------------------------------------------------------

def test_stale_read_is_invalid_and_explained():
    h = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("invoke", 0, "write", 2), ("ok", 0, "write", 2),
          ("invoke", 3, "read", None), ("ok", 3, "read", 1))
    r = check_history(h, reg())
    assert r["valid"] is False
    f = r["failed_op"]
    assert (f["process"], f["f"], f["value"], f["index"], f["complete_index"]) == (3, "read", 1, 4, 5)
    assert r["states"] == [2]
    assert [o["value"] for o in r["longest_linearizable_prefix"]] == [1, 2]
    assert r["final_paths"] and r["final_paths"][0][-1]["state"] == 2
    text = r["explanation"]
    assert "Process 3's read (index 4-5) returned 1" in text
    assert "at 2" in text
    json.dumps(r)  # the result is JSON-friendly


def test_read_of_never_written_value():
    h = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("invoke", 1, "read", None), ("ok", 1, "read", 7))
    r = check_history(h, reg())
    assert r["valid"] is False
    assert r["failed_op"]["value"] == 7


def test_cas_success_from_wrong_value_is_invalid():
    h = H(("invoke", 0, "write", 3), ("ok", 0, "write", 3),
          ("invoke", 1, "cas", [1, 2]), ("ok", 1, "cas", [1, 2]))
    r = check_history(h, cas())
    assert r["valid"] is False
    assert r["failed_op"]["f"] == "cas"
    assert "cas from 1 to 2" in r["explanation"]


def test_first_read_of_none_invalid_when_value_was_written_before():
    h = H(("invoke", 0, "write", 5), ("ok", 0, "write", 5),
          ("invoke", 1, "read", None), ("ok", 1, "read", None))
    assert check_history(h, reg(None))["valid"] is False


def test_failed_op_is_the_first_impossible_completion():
    # rethink-fail-minimal from Knossos: the bad read, not the later good one, is reported.
    h = H(("invoke", 0, "write", 0), ("ok", 0, "write", 0),
          ("invoke", 1, "read", None), ("invoke", 2, "write", 4),
          ("ok", 1, "read", 3), ("ok", 2, "write", 4),
          ("invoke", 3, "read", None), ("ok", 3, "read", 4))
    r = check_history(h, cas(0))
    assert r["valid"] is False
    assert r["failed_op"]["process"] == 1
    assert sorted(r["states"]) == [0, 4]


# --- Knossos rule for reads of None ----------------------------------------------------------

def test_nil_read_constrains_nothing_with_non_nil_initial():
    h = H(("invoke", 0, "write", 3), ("ok", 0, "write", 3),
          ("invoke", 1, "read", None), ("ok", 1, "read", None))
    assert check_history(h, reg(0))["valid"] is True
    assert check_history(h, cas(0))["valid"] is True


# --- fail and info ---------------------------------------------------------------------------

def test_failed_write_did_not_happen():
    h = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("invoke", 1, "write", 2), ("fail", 1, "write", 2),
          ("invoke", 2, "read", None), ("ok", 2, "read", 2))
    assert check_history(h, reg())["valid"] is False
    h2 = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
           ("invoke", 1, "write", 2), ("fail", 1, "write", 2),
           ("invoke", 2, "read", None), ("ok", 2, "read", 1))
    assert check_history(h2, reg())["valid"] is True


def test_failed_cas_is_dropped_not_an_observation():
    # Jepsen semantics: a failed cas did not happen and says nothing about the state.
    h = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("invoke", 1, "cas", [1, 2]), ("fail", 1, "cas", [1, 2]),
          ("invoke", 2, "read", None), ("ok", 2, "read", 1))
    assert check_history(h, cas())["valid"] is True


def test_info_write_may_take_effect_later():
    # The write of 2 never completed; a read long after sees 2: allowed.
    h = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("invoke", 1, "write", 2), ("info", 1, "write", 2),
          ("invoke", 2, "read", None), ("ok", 2, "read", 1),
          ("invoke", 2, "read", None), ("ok", 2, "read", 2))
    assert check_history(h, reg())["valid"] is True


def test_info_write_may_never_happen():
    h = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("invoke", 1, "write", 2), ("info", 1, "write", 2),
          ("invoke", 2, "read", None), ("ok", 2, "read", 1))
    assert check_history(h, reg())["valid"] is True


def test_info_write_happens_at_most_once():
    h = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("invoke", 1, "write", 2), ("info", 1, "write", 2),
          ("invoke", 2, "read", None), ("ok", 2, "read", 2),
          ("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("invoke", 2, "read", None), ("ok", 2, "read", 2))
    assert check_history(h, reg())["valid"] is False


def test_info_write_cannot_take_effect_before_its_invoke():
    h = H(("invoke", 2, "read", None), ("ok", 2, "read", 2),
          ("invoke", 1, "write", 2), ("info", 1, "write", 2))
    assert check_history(h, reg(0))["valid"] is False


def test_incomplete_invoke_is_treated_as_info():
    h = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("invoke", 1, "write", 2),
          ("invoke", 2, "read", None), ("ok", 2, "read", 2))
    r = check_history(h, reg())
    assert r["valid"] is True
    assert r["ops"] == 3


def test_info_read_constrains_nothing():
    h = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("invoke", 1, "read", None), ("info", 1, "read", 99))
    assert check_history(h, reg())["valid"] is True


def test_info_cas_may_take_effect():
    h = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("invoke", 1, "cas", [1, 5]), ("info", 1, "cas", [1, 5]),
          ("invoke", 2, "read", None), ("ok", 2, "read", 5))
    assert check_history(h, cas())["valid"] is True


def test_nemesis_ops_are_ignored():
    h = H(("info", "nemesis", "start-partition", {"n1": ["n2"]}),
          ("invoke", 0, "write", 1), ("ok", 0, "write", 1),
          ("info", "nemesis", "stop-partition", None),
          ("invoke", 1, "read", None), ("ok", 1, "read", 1))
    assert check_history(h, reg())["valid"] is True


# --- checker object, errors, timeout ---------------------------------------------------------

def test_checker_object_and_model_by_name():
    h = H(("invoke", 0, "write", 1), ("ok", 0, "write", 1))
    r = LinearizableChecker("cas-register").check(None, h, None)
    assert r["valid"] is True and r["model"] == "cas-register"
    r = LinearizableChecker(reg(), timeout_s=10).check({}, h, {})
    assert r["valid"] is True and r["model"] == "register"


def test_unsupported_operation_is_an_input_error():
    h = H(("invoke", 0, "cas", [1, 2]), ("ok", 0, "cas", [1, 2]))
    with pytest.raises(InputError, match="register has no operation 'cas'"):
        check_history(h, reg())


def test_history_without_indices_gets_positions():
    h = [{"type": "invoke", "process": 0, "f": "write", "value": 1},
         {"type": "ok", "process": 0, "f": "write", "value": 1},
         {"type": "invoke", "process": 1, "f": "read", "value": None},
         {"type": "ok", "process": 1, "f": "read", "value": 2}]
    r = check_history(h, reg())
    assert r["valid"] is False
    assert r["failed_op"]["index"] == 2
    assert "index" not in h[0]  # the caller's dicts are not modified


def _hard_invalid_history(k=12):
    """k concurrent writes, then a read of a value nobody wrote: the search must try all orders."""
    ev = [("invoke", p, "write", p) for p in range(k)]
    ev += [("ok", p, "write", p) for p in range(k)]
    ev += [("invoke", k, "read", None), ("ok", k, "read", 999)]
    return H(*ev)


def test_timeout_gives_unknown():
    r = check_history(_hard_invalid_history(), reg(), timeout_s=0)
    assert r["valid"] == "unknown"
    assert r["cause"] == "timeout"


def test_hard_history_without_timeout_is_invalid():
    r = check_history(_hard_invalid_history(8), reg())
    assert r["valid"] is False
    assert r["failed_op"]["value"] == 999
    assert sorted(r["states"]) == list(range(8))


def test_completion_index_before_invoke_is_an_input_error():
    h = [{"index": 5, "type": "invoke", "process": 0, "f": "write", "value": 1},
         {"index": 2, "type": "ok", "process": 0, "f": "write", "value": 1}]
    with pytest.raises(InputError, match="must come after its invoke"):
        check_history(h, reg())
