"""The generator protocol, lifting of plain values, and the context."""

import itertools
import random

import pytest

import harness.generator as gen
from harness.generator import PENDING, VOID, Context, GeneratorError, Simulator

TEST = {}


def invokes(history):
    return [o for o in history if o["type"] == "invoke"]


def fs(history):
    return [o["f"] for o in invokes(history)]


# -- context -----------------------------------------------------------------------------

def test_fresh_context_has_client_threads_and_nemesis_all_free():
    ctx = Context(3)
    assert ctx.all_threads() == [0, 1, 2, "nemesis"]
    assert ctx.free_threads() == [0, 1, 2, "nemesis"]
    assert ctx.all_processes() == [0, 1, 2, "nemesis"]
    assert ctx.time == 0 and ctx.all_free() and ctx.concurrency == 3


def test_busy_and_free_thread_return_new_contexts():
    ctx = Context(2)
    busy = ctx.busy_thread(5, 1)
    assert busy.time == 5 and busy.free_threads() == [0, "nemesis"] and not busy.all_free()
    assert ctx.free_threads() == [0, 1, "nemesis"]  # unchanged
    again = busy.free_thread(7, 1)
    assert again.time == 7 and again.all_free()


def test_next_process_is_old_plus_concurrency_and_nemesis_keeps_its_own():
    ctx = Context(3).with_next_process(1).with_next_process(1)
    assert ctx.thread_to_process(1) == 7
    assert ctx.process_to_thread(7) == 1
    assert ctx.all_processes() == [0, 7, 2, "nemesis"]
    assert ctx.with_next_process("nemesis").thread_to_process("nemesis") == "nemesis"


def test_some_free_process_rotates_over_threads():
    ctx = Context(3)
    seen = []
    for _ in range(3):
        p = ctx.some_free_process()
        seen.append(p)
        ctx = ctx.busy_thread(0, ctx.process_to_thread(p)).free_thread(0, ctx.process_to_thread(p))
    assert seen == [0, 1, 2]


def test_some_free_process_is_none_when_all_busy():
    ctx = Context(1).busy_thread(0, 0).busy_thread(0, "nemesis")
    assert ctx.some_free_process() is None


def test_restrict_and_thread_filter():
    ctx = Context(3).busy_thread(0, 2)
    clients = gen.ThreadFilter(lambda t: t != "nemesis")(ctx)
    assert clients.all_threads() == [0, 1, 2]
    assert clients.free_threads() == [0, 1]
    assert not clients.all_free()
    assert clients.has_thread(0) and not clients.has_thread("nemesis")


def test_with_ext_carries_user_values():
    ctx = Context(1).with_ext(leader="n2")
    assert ctx.ext["leader"] == "n2"
    assert ctx.busy_thread(3, 0).ext["leader"] == "n2"
    assert Context(1).ext == {}


# -- lifting -----------------------------------------------------------------------------

def test_dict_emits_itself_once_filled_in():
    ctx = Context(2).with_time(42)
    o, g = gen.op({"f": "read"}, TEST, ctx)
    assert o == {"time": 42, "type": "invoke", "process": 0, "f": "read", "value": None}
    assert gen.op(g, TEST, ctx) is None


def test_dict_keys_win_over_defaults():
    o, _ = gen.op({"f": "start", "type": "info", "time": 99, "extra": 1}, TEST, Context(1))
    assert o["type"] == "info" and o["time"] == 99 and o["extra"] == 1


def test_dict_is_pending_while_no_thread_is_free():
    ctx = Context(1).busy_thread(0, 0).busy_thread(0, "nemesis")
    o, g = gen.op({"f": "read"}, TEST, ctx)
    assert o is PENDING
    assert gen.op(g, TEST, Context(1))[0]["f"] == "read"  # still has its op


def test_asking_the_same_state_twice_gives_the_same_op():
    g = gen.lift([{"f": "a"}, {"f": "b"}])
    ctx = Context(2)
    o1, g1 = g.op(TEST, ctx)
    o2, _ = g.op(TEST, ctx)
    assert o1 == o2
    assert g1.op(TEST, ctx)[0]["f"] == "b"


def test_none_and_empty_list_are_exhausted():
    assert gen.op(None, TEST, Context(1)) is None
    assert gen.lift([]) is VOID
    assert fs(Simulator(2).run([[], None, {"f": "x"}, []])) == ["x"]


def test_plain_generators_also_run_on_the_nemesis_thread():
    # As in Jepsen: wrap client work in clients(...) (what the tests below do).
    h = Simulator(1).run([{"f": "a"}, {"f": "b"}])
    assert [(o["process"], o["type"]) for o in h if o["time"] == 0] == [(0, "invoke"),
                                                                         ("nemesis", "info")]


def test_list_emits_elements_in_order_nested():
    assert fs(Simulator(2).run(gen.clients([{"f": "a"}, [{"f": "b"}, ({"f": "c"},)], {"f": "d"}]))) == \
        ["a", "b", "c", "d"]


def test_callable_without_args_is_called_for_each_op():
    calls = []

    def write():
        calls.append(1)
        return {"f": "write", "value": len(calls)}
    h = Simulator(2).run(gen.clients(gen.limit(3, write)))
    values = [o["value"] for o in invokes(h)]
    # Each op comes from a call of its own. The scheduler may ask a generator and then not use
    # the answer (an earlier completion came first), so a callable can be called more often
    # than it has ops emitted: callables should not count on their calls.
    assert len(values) == 3 and values == sorted(set(values))
    assert len(calls) >= 3


def test_callable_with_test_and_ctx_gets_them():
    seen = []

    def f(test, ctx):
        seen.append((test, type(ctx).__name__))
        return {"f": "read"}
    Simulator(1, test={"name": "t"}).run(gen.limit(1, f))
    assert seen[0] == ({"name": "t"}, "Context")


def test_callable_returning_a_generator_runs_it_to_exhaustion_then_again():
    h = Simulator(1).run(gen.clients(gen.limit(5, lambda: [{"f": "w"}, {"f": "r"}])))
    assert fs(h) == ["w", "r", "w", "r", "w"]


def test_callable_returning_none_ends():
    h = Simulator(1).run(gen.clients(
        lambda test, ctx: {"f": "x", "value": ctx.time} if ctx.time < 30 else None))
    assert [o["value"] for o in invokes(h)] == [0, 10, 20]


def test_callable_with_one_required_arg_is_rejected():
    with pytest.raises(GeneratorError, match=r"\(\) or \(test, ctx\)"):
        gen.lift(lambda x: x)


def test_callable_that_only_returns_empty_generators_fails_loudly():
    with pytest.raises(GeneratorError, match="exhausted generators in a row"):
        Simulator(1).run(lambda: [])


def test_lazy_iterator_is_a_pure_sequence():
    g = gen.lift({"f": "write", "value": i} for i in itertools.count())
    ctx = Context(1)
    o1, g1 = g.op(TEST, ctx)
    assert g.op(TEST, ctx)[0]["value"] == 0  # asking again does not consume the iterator
    assert g1.op(TEST, ctx)[0]["value"] == 1
    assert [o["value"] for o in invokes(Simulator(2).run(gen.clients(gen.limit(4, g))))] == \
        [0, 1, 2, 3]


def test_finite_iterator_ends():
    assert fs(Simulator(1).run(gen.clients(map(lambda f: {"f": f}, "abc")))) == ["a", "b", "c"]


def test_not_a_generator():
    with pytest.raises(GeneratorError, match="not a generator"):
        gen.lift(3)


def test_concat_is_a_sequence():
    assert fs(Simulator(1).run(gen.clients(gen.concat({"f": "a"}, [{"f": "b"}], {"f": "c"})))) == \
        ["a", "b", "c"]


def test_secs_to_nanos():
    assert gen.secs_to_nanos(1.5) == 1_500_000_000
    assert gen.secs_to_nanos(1e-8) == 10


# -- checks on generated ops ---------------------------------------------------------------

def test_check_invoke_rejects_busy_process():
    ctx = Context(2).busy_thread(0, 1)
    with pytest.raises(GeneratorError, match="process 1 is not free"):
        gen.check_invoke({"time": 0, "type": "invoke", "process": 1, "f": "r"}, ctx)


@pytest.mark.parametrize("o, msg", [
    ({"time": 0.5, "type": "invoke", "process": 0, "f": "r"}, "time must be an int"),
    ({"time": 0, "type": "ok", "process": 0, "f": "r"}, "type must be one of"),
    ({"time": 0, "type": "invoke", "process": 0, "f": None}, "f must be a str"),
    ("read", "not an op dict"),
    ({"time": 0, "type": "info", "process": 0, "f": "start"}, "a client op must be an invoke"),
])
def test_check_invoke_rejects_malformed_ops(o, msg):
    with pytest.raises(GeneratorError, match=msg):
        gen.check_invoke(o, Context(1))


def test_sleep_and_log_need_no_f():
    assert gen.check_invoke({"time": 0, "type": "sleep", "process": 0, "value": 1},
                            Context(1)) == 0


class CountingGenerator(gen.Generator):
    """A custom generator: emits f="n" ops numbered from ``i``, counts completions it is told of."""

    __slots__ = ("i", "oks")

    def __init__(self, i=0, oks=0):
        self.i, self.oks = i, oks

    def op(self, test, ctx):
        if self.i >= 3:
            return None
        o = gen.fill_in_op({"f": "n", "value": self.i}, ctx)
        return (o, self) if o is PENDING else (o, CountingGenerator(self.i + 1, self.oks))

    def update(self, test, ctx, event):
        if event["type"] == "ok":
            return CountingGenerator(self.i, self.oks + 1)
        return self


def test_custom_generator_subclass_composes():
    h = Simulator(2).run(gen.clients(gen.phases(CountingGenerator(), {"f": "done"})))
    assert [(o["f"], o["value"]) for o in invokes(h)] == [("n", 0), ("n", 1), ("n", 2),
                                                           ("done", None)]


def test_context_rng_is_the_seeded_one():
    values = lambda seed: [o["value"] for o in invokes(Simulator(2, seed=seed).run(
        gen.limit(20, lambda test, ctx: {"f": "w", "value": ctx.rng.randrange(1000)})))]
    assert values(7) == values(7)
    assert values(7) != values(8)
    assert Context(1, seed=5).rng.random() == random.Random(5).random()
