"""The register, cas-register and multi-register models."""

import pytest

from checkers.linearizable.models import (MODELS, UNKNOWN, CASRegisterModel, MultiRegisterModel,
                                          RegisterModel, freeze, make_model)
from harness.errors import InputError


def test_register_read_write():
    m = RegisterModel(0)
    s = m.init()
    assert s == 0
    assert m.step(s, "read", None, 0) == (True, 0)
    assert m.step(s, "read", None, 1)[0] is False
    assert m.step(s, "write", 5, 5) == (True, 5)
    assert m.step(5, "read", None, UNKNOWN) == (True, 5)


def test_register_nil_read_rule():
    # initial not None: None is not a state, a read of None constrains nothing (Knossos).
    assert RegisterModel(0).step(3, "read", None, None) == (True, 3)
    # initial None: None means "absent" and must equal the state.
    m = RegisterModel(None)
    assert m.step(None, "read", None, None) == (True, None)
    assert m.step(3, "read", None, None)[0] is False
    assert m.step(None, "read", None, 3)[0] is False


def test_cas_register():
    m = CASRegisterModel(0)
    assert m.step(0, "cas", (0, 1), (0, 1)) == (True, 1)
    assert m.step(2, "cas", (0, 1), (0, 1))[0] is False
    assert m.step(2, "cas", (0, 1), UNKNOWN)[0] is False
    assert m.step(2, "write", 7, 7) == (True, 7)
    assert m.step(2, "read", None, 2) == (True, 2)
    assert CASRegisterModel(None).step(None, "cas", (None, 1), None) == (True, 1)


def test_states_are_hashable():
    m = CASRegisterModel([1, 2])
    hash(m.init())
    assert m.init() == (1, 2)
    assert m.step(m.init(), "write", freeze([3, [4]]), None) == (True, (3, (4,)))


def test_multi_register():
    m = MultiRegisterModel({"x": 0, "y": 0})
    s = m.init()
    ok, s2 = m.step(s, "txn", (("write", "x", 1),), (("write", "x", 1),))
    assert ok and dict(s2) == {"x": 1, "y": 0}
    assert m.step(s2, "txn", (("read", "x", None),), (("read", "x", 1),)) == (True, s2)
    assert m.step(s2, "txn", (("read", "x", None),), (("read", "x", 0),))[0] is False
    # a read of None on a register with a non-None initial value constrains nothing
    assert m.step(s2, "txn", (("read", "x", None),), (("read", "x", None),))[0] is True
    # reads inside a txn see the txn's own earlier writes
    assert m.step(s, "txn", (("write", "y", 5), ("read", "y", None)),
                  (("write", "y", 5), ("read", "y", 5)))[0] is True
    # an info txn: its writes may apply, its reads observed nothing
    ok, s3 = m.step(s, "txn", (("read", "x", None), ("write", "y", 2)), UNKNOWN)
    assert ok and dict(s3) == {"x": 0, "y": 2}
    assert m.read_only("txn", (("read", "x", None),))
    assert not m.read_only("txn", (("write", "x", 1),))


def test_make_model_and_registry():
    assert set(MODELS) >= {"register", "cas-register"}
    assert isinstance(make_model("register", 3), RegisterModel)
    assert make_model("cas-register", 0).init() == 0
    assert make_model("multi-register", {"x": 0}).init() == (("x", 0),)
    with pytest.raises(InputError) as e:
        make_model("bogus", None)
    msg = str(e.value)
    assert "bogus" in msg and "register" in msg and "cas-register" in msg


def test_check_op_rejects_unknown_f_and_bad_cas():
    with pytest.raises(InputError, match="no operation 'add'"):
        RegisterModel().check_op("add", 1, "op 3")
    with pytest.raises(InputError, match="op 3: value"):
        CASRegisterModel().check_op("cas", 5, "op 3")
    CASRegisterModel().check_op("cas", (1, 2), "op 3")
    with pytest.raises(InputError):
        MultiRegisterModel().check_op("txn", (("append", "x", 1),), "op 4")


def test_multi_register_bad_initial():
    with pytest.raises(InputError):
        MultiRegisterModel(5)
