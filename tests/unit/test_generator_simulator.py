"""The Simulator: the interpreter's rules on a simulated clock."""

import pytest

import harness.generator as gen
from harness.generator import PENDING, GeneratorError, Simulator

S = 1_000_000_000
READ = {"f": "read"}


def workload():
    return gen.mix([gen.repeat(READ),
                    lambda test, ctx: {"f": "write", "value": ctx.rng.randrange(5)},
                    lambda test, ctx: {"f": "cas", "value": [ctx.rng.randrange(5),
                                                             ctx.rng.randrange(5)]}])


def test_same_seed_same_history_different_seed_different():
    g = gen.nemesis(gen.cycle([gen.sleep(1), {"f": "start"}, gen.sleep(1), {"f": "stop"}]),
                    gen.stagger(0.05, workload()))
    run = lambda seed: Simulator(4, seed=seed, latency=0.01).run(gen.time_limit(10, g))
    assert run(42) == run(42)
    assert run(42) != run(43)


def test_every_invoke_has_exactly_one_completion_after_it():
    h = Simulator(5, seed=1, complete=lambda o: ["ok", "fail", "info"][o["time"] % 3]).run(
        gen.time_limit(2, gen.clients(gen.stagger(0.001, workload()))))
    assert [o["index"] for o in h] == list(range(len(h)))
    open_ops = {}
    for o in h:
        if o["type"] == "invoke":
            assert o["process"] not in open_ops
            open_ops[o["process"]] = o
        else:
            inv = open_ops.pop(o["process"])
            assert (o["f"], o["time"]) == (inv["f"], inv["time"] + 10)
    assert not open_ops


def test_info_renumbers_the_process_and_nemesis_is_never_renumbered():
    h = Simulator(3, complete=lambda o: "info").run(gen.nemesis(
        [{"f": "start"}, {"f": "stop"}], gen.limit(9, gen.repeat(READ))))
    client_procs = [o["process"] for o in h if o["type"] == "invoke"]
    assert sorted(client_procs) == list(range(9))
    assert {o["process"] % 3 for o in h if o["type"] == "invoke"} == {0, 1, 2}
    assert [o["process"] for o in h if o["f"] in ("start", "stop")] == ["nemesis"] * 4


def test_fail_and_ok_keep_the_process():
    h = Simulator(1, complete=lambda o: "fail").run(gen.clients(gen.repeat(READ, 3)))
    assert {o["process"] for o in h} == {0}


def test_partial_completions_are_filled_from_the_invoke():
    h = Simulator(1, complete=lambda o: {"type": "ok", "value": 5, "node": "n1"}).run(
        gen.clients({"f": "read", "key": "x"}))
    assert h[1] == {"index": 1, "time": 10, "type": "ok", "process": 0, "f": "read",
                    "value": 5, "key": "x", "node": "n1"}


def test_a_bad_answer_is_info():
    h = Simulator(1, complete=lambda o: {"type": "done"}).run(gen.clients(READ))
    assert h[1]["type"] == "info" and "not ok/fail/info" in h[1]["error"]
    h = Simulator(1, complete=lambda o: None).run(gen.clients(READ))
    assert h[1]["type"] == "info" and "NoneType" in h[1]["error"]


def test_latency_function_and_future_ops_jump_the_clock():
    h = Simulator(1, latency=lambda o: 2 if o["f"] == "slow" else 0.5).run(
        gen.clients([{"f": "slow"}, {"f": "fast", "time": 10 * S}]))
    assert [(o["f"], o["type"], o["time"]) for o in h] == [
        ("slow", "invoke", 0), ("slow", "ok", 2 * S),
        ("fast", "invoke", 10 * S), ("fast", "ok", 10 * S + S // 2)]


class Stuck(gen.Generator):
    __slots__ = ()

    def op(self, test, ctx):
        return (PENDING, self)


def test_pending_forever_with_nothing_in_flight_is_reported():
    with pytest.raises(GeneratorError, match="pending, but no op is in flight"):
        Simulator(1).run(Stuck())


def test_infinite_generator_hits_max_ops():
    with pytest.raises(GeneratorError, match="max_ops=100"):
        Simulator(2, max_ops=100).run(gen.repeat(READ))


class BusyProcess(gen.Generator):
    __slots__ = ()

    def op(self, test, ctx):
        return ({"time": ctx.time, "type": "invoke", "process": 0, "f": "read"}, self)


def test_op_for_a_busy_process_is_reported():
    with pytest.raises(GeneratorError, match="process 0 is not free"):
        Simulator(2).run(BusyProcess())


def test_sleep_on_the_nemesis_is_not_recorded():
    h = Simulator(1).run(gen.nemesis([gen.sleep(3), {"f": "kill"}]))
    assert [(o["f"], o["time"]) for o in h] == [("kill", 3 * S), ("kill", 3 * S + 10)]
