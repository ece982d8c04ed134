"""The register workload: deterministic op mix, op shapes, options, registry."""

import random
from collections import Counter

import pytest

from harness.errors import InputError
from workloads import WORKLOADS, make_workload
from workloads.register import OPS, RegisterWorkload


def test_same_seed_same_ops():
    w = RegisterWorkload()
    a = w.generator(random.Random(42)).take(500)
    b = w.generator(random.Random(42)).take(500)
    assert a == b
    assert w.generator({"seed": 42}).take(500) == a
    assert w.generator(42).take(500) == a
    assert w.generator(random.Random(43)).take(500) != a


def test_default_rng_is_seeded_by_options():
    assert RegisterWorkload({"seed": 7}).generator().take(100) == \
        RegisterWorkload({"seed": 7}).generator().take(100)
    assert RegisterWorkload({"seed": 7}).generator().take(100) != \
        RegisterWorkload({"seed": 8}).generator().take(100)


def test_seed_none_means_default():
    assert RegisterWorkload({"seed": None}).options["seed"] == 0


def test_callable_with_test_and_ctx_ignores_them():
    g1 = RegisterWorkload().generator(random.Random(1))
    g2 = RegisterWorkload().generator(random.Random(1))
    assert [g1({"name": "t"}, object()) for _ in range(50)] == [g2() for _ in range(50)]


def test_op_shapes_and_value_range():
    ops = RegisterWorkload().generator(random.Random(3)).take(3000)
    seen_values = set()
    for op in ops:
        assert set(op) == {"f", "value"}
        if op["f"] == "read":
            assert op["value"] is None
        elif op["f"] == "write":
            assert isinstance(op["value"], int)
            seen_values.add(op["value"])
        else:
            assert op["f"] == "cas"
            assert isinstance(op["value"], list) and len(op["value"]) == 2
            seen_values.update(op["value"])
    assert seen_values == {0, 1, 2, 3, 4}


def test_mix_is_roughly_even():
    counts = Counter(op["f"] for op in RegisterWorkload().generator(random.Random(5)).take(6000))
    assert set(counts) == set(OPS)
    for f in OPS:
        assert 1700 < counts[f] < 2300, counts


def test_weights_and_max_value():
    w = RegisterWorkload({"weights": {"read": 3, "write": 1}, "max_value": 1})
    ops = w.generator(random.Random(9)).take(4000)
    counts = Counter(op["f"] for op in ops)
    assert counts["cas"] == 0
    assert 2800 < counts["read"] < 3200
    assert {op["value"] for op in ops if op["f"] == "write"} == {0, 1}
    only_reads = RegisterWorkload({"weights": {"read": 1}}).generator(random.Random(1)).take(20)
    assert all(op == {"f": "read", "value": None} for op in only_reads)


def test_ops_are_fresh_dicts():
    g = RegisterWorkload({"weights": {"cas": 1}}).generator(random.Random(0))
    a = g()
    a["value"].append(99)
    a["type"] = "invoke"
    b = g()
    assert "type" not in b and len(b["value"]) == 2


@pytest.mark.parametrize("options, needle", [
    ({"max_value": -1}, "max_value"),
    ({"max_value": 2.5}, "max_value"),
    ({"weights": {"read": 0}}, "at least one"),
    ({"weights": {"append": 1}}, "append"),
    ({"weights": {"read": -1}}, "read"),
    ({"weights": [1, 2]}, "weights"),
    ({"seed": "x"}, "seed"),
    ({"checker_timeout_s": 0}, "checker_timeout_s"),
    ({"max_vaule": 3}, "max_vaule"),
])
def test_bad_options(options, needle):
    with pytest.raises(InputError) as e:
        RegisterWorkload(options)
    assert needle in str(e.value)
    assert "\n" not in str(e.value)


def test_registry():
    assert WORKLOADS["register"] is RegisterWorkload
    w = make_workload("register", {"max_value": 2})
    assert isinstance(w, RegisterWorkload) and w.options["max_value"] == 2
    with pytest.raises(InputError) as e:
        make_workload("regster", {})
    assert "regster" in str(e.value) and "register" in str(e.value)


def test_final_generator_is_none():
    assert RegisterWorkload().final_generator() is None


def test_checker_is_linearizable_cas_register_from_none():
    lin = pytest.importorskip("checkers.linearizable")
    from checkers.linearizable.models import CASRegisterModel

    c = RegisterWorkload({"checker_timeout_s": 12}).checker()
    assert isinstance(c, lin.LinearizableChecker)
    model = getattr(c, "model", None)
    if model is not None:
        assert isinstance(model, CASRegisterModel)
        assert model.init() is None


def test_generator_lifts_into_harness_generators():
    core = pytest.importorskip("harness.generator.core")
    from harness.generator.context import Context

    gen = core.lift(RegisterWorkload().generator(random.Random(11)))
    ctx = Context(2, seed=0)
    expected = RegisterWorkload().generator(random.Random(11)).take(3)
    got = []
    for _ in range(3):
        op, gen = gen.op({}, ctx)
        got.append({"f": op["f"], "value": op["value"]})
    assert got == expected
