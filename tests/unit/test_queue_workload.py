"""Queue workload and checker: a hand-made invalid history for each anomaly kind the checker
reports (unexpected, duplicated, lost, out-of-order, empty-while-nonempty), the cases that stay
valid or unknown, and the generator (ops, drain) against a simulated queue."""

import random
from collections import deque

import pytest

import harness.generator as gen
from checkers.queue import QueueChecker
from harness.errors import InputError
from workloads import make_workload
from workloads.queue import drain


def h(*ops):
    """ops: (invoke time, completion time, process, f, invoke value, completion type, value).
    Explanations name an enqueue by its invoke's index and a dequeue by its completion's (where
    each op's value is)."""
    events = []
    for t0, t1, p, f, v, typ, out in ops:
        events.append((t0, {"time": t0, "type": "invoke", "process": p, "f": f, "value": v}))
        events.append((t1, {"time": t1, "type": typ, "process": p, "f": f, "value": out}))
    events.sort(key=lambda e: e[0])
    return [dict(e, index=i) for i, (_, e) in enumerate(events)]


def enq(t0, t1, p, v, typ="ok"):
    return (t0, t1, p, "enqueue", v, typ, v)


def deq(t0, t1, p, got, typ="ok"):
    return (t0, t1, p, "dequeue", None, typ, got)


def test_fifo_history_with_drain_is_valid():
    r = QueueChecker().check({}, h(enq(0, 10, 0, 1), enq(20, 30, 0, 2), deq(40, 50, 1, 1),
                                   deq(60, 70, 1, 2), deq(80, 90, 1, None)))
    assert r["valid"] is True and r["dequeued-count"] == 2 and r["empty-dequeue-count"] == 1
    assert r["explanation"] == ["every acknowledged item was dequeued exactly once, in FIFO order"]


@pytest.mark.parametrize("history, why", [
    (h(deq(0, 10, 0, 9)), "no enqueue of it was ever invoked"),
    (h(enq(0, 10, 0, 9, typ="fail"), deq(20, 30, 1, 9)), "its enqueue (op #0) certainly failed"),
    (h(deq(0, 10, 1, 9), enq(20, 30, 0, 9)), "began only after that dequeue completed"),
])
def test_unexpected_items(history, why):
    r = QueueChecker().check({}, history)
    assert r["valid"] is False and r["unexpected"] == [9] and r["unexpected-count"] == 1
    assert why in r["explanation"][0] and "returned 9" in r["explanation"][0]


def test_duplicated_item_is_invalid():
    r = QueueChecker().check({}, h(enq(0, 10, 0, 5), deq(20, 30, 1, 5), deq(40, 50, 2, 5),
                                   deq(60, 70, 1, None)))
    assert r["valid"] is False and r["duplicated"] == [5]
    assert r["explanation"] == ["item 5 was dequeued 2 times, by ops #3, #5"]


def test_lost_item_is_invalid_and_names_the_empty_dequeue():
    r = QueueChecker().check({}, h(enq(0, 10, 0, 1), enq(20, 30, 0, 2), deq(40, 50, 1, 2),
                                   deq(60, 70, 1, None)))
    assert r["valid"] is False and r["lost"] == [1] and r["lost-count"] == 1
    assert r["explanation"][0] == ("item 1 is lost: its enqueue (op #0) was acknowledged, no "
                                   "dequeue returned it, and dequeue op #7, which began after "
                                   "that, found the queue empty")


def test_an_info_dequeue_before_the_empty_one_may_have_taken_the_item():
    ok = QueueChecker().check({}, h(enq(0, 10, 0, 1), deq(20, 30, 1, None, typ="info"),
                                    deq(40, 50, 2, None)))
    assert ok["valid"] is True and ok["lost-count"] == 0 and ok["info-dequeue-count"] == 1
    # The info dequeue began after the empty dequeue completed: it cannot explain the absence.
    bad = QueueChecker().check({}, h(enq(0, 10, 0, 1), deq(40, 50, 2, None),
                                     deq(60, 70, 1, None, typ="info")))
    assert bad["valid"] is False and bad["lost"] == [1]


def test_out_of_order_is_invalid_only_for_fifo():
    history = h(enq(0, 10, 0, 1), enq(20, 30, 0, 2), deq(40, 50, 1, 2), deq(60, 70, 1, 1),
                deq(80, 90, 1, None))
    r = QueueChecker().check({}, history)
    assert r["valid"] is False and r["out-of-order"] == [2]
    assert r["explanation"][0] == (
        "item 1 was enqueued (op #0 completed) before item 2's enqueue (op #2) began, but 2 was "
        "dequeued by op #5, which completed before op #7 that dequeued 1 began: a FIFO queue "
        "cannot reorder them")
    assert QueueChecker(fifo=False).check({}, history)["valid"] is True


def test_concurrent_enqueues_may_come_out_either_way():
    r = QueueChecker().check({}, h(enq(0, 30, 0, 1), enq(10, 40, 2, 2), deq(50, 60, 1, 2),
                                   deq(70, 80, 1, 1), deq(90, 95, 1, None)))
    assert r["valid"] is True


def test_empty_while_nonempty_is_invalid_only_when_linearizable():
    history = h(enq(0, 10, 0, 1), deq(20, 30, 1, None), deq(40, 50, 1, 1), deq(60, 70, 1, None))
    r = QueueChecker().check({}, history)
    assert r["valid"] is False and r["empty-while-nonempty-count"] == 1
    assert r["explanation"][0].startswith("dequeue op #3 found the queue empty, but item 1 was in it")
    assert QueueChecker(linearizable=False).check({}, history)["valid"] is True


def test_undrained_items_make_it_unknown():
    r = QueueChecker().check({}, h(enq(0, 10, 0, 1), enq(20, 30, 0, 2), deq(40, 50, 1, 1)))
    assert r["valid"] == "unknown" and r["undrained-count"] == 1 and r["lost-count"] == 0
    assert "cannot tell lost from still queued" in r["explanation"][0]


def test_info_enqueue_seen_later_is_recovered():
    r = QueueChecker().check({}, h(enq(0, 10, 0, 3, typ="info"), deq(20, 30, 1, 3),
                                   deq(40, 50, 1, None)))
    assert r["valid"] is True and r["recovered-count"] == 1


def simulated_fifo():
    q = deque()

    def complete(op):
        if op["f"] == "enqueue":
            q.append(op["value"])
            return "ok"
        return {"type": "ok", "value": q.popleft() if q else None}
    return complete


def test_generated_run_against_a_real_fifo_is_valid_and_the_drain_empties_it():
    w = make_workload("queue")
    main = gen.clients(gen.limit(300, w.generator(random.Random(3))))
    history = gen.Simulator(4, seed=3, latency=0.001, complete=simulated_fifo()).run(
        gen.phases(main, gen.clients(w.final_generator())))
    enqueued = [o for o in history if o["f"] == "enqueue" and o["type"] == "ok"]
    assert len(enqueued) > 100
    r = w.checker().check({}, history)
    assert r["valid"] is True and r["dequeued-count"] == len(enqueued)
    # Every thread's drain ended with a dequeue that found the queue empty.
    empties = {o["process"] for o in history if o["f"] == "dequeue" and o["type"] == "ok"
               and o["value"] is None}
    assert empties == {0, 1, 2, 3}


def test_drain_stops_at_empty():
    history = gen.Simulator(1, complete=lambda o: {"type": "ok", "value": None}).run(
        gen.clients(drain(10)))
    assert [o["type"] for o in history] == ["invoke", "ok"]


def test_generator_items_are_unique_and_deterministic():
    w = make_workload("queue", {"dequeue_ratio": 0.3})
    ops = w.generator(random.Random(1)).take(500)
    assert ops == w.generator(random.Random(1)).take(500)
    items = [o["value"] for o in ops if o["f"] == "enqueue"]
    assert items == list(range(len(items))) and 300 < len(items) < 400


@pytest.mark.parametrize("options, needle", [
    ({"dequeue_ratio": 1}, "dequeue_ratio"), ({"fifo": 1}, "fifo"),
    ({"drain_time_s": 0}, "drain_time_s"), ({"x": 1}, "unknown option 'x'"),
])
def test_bad_options(options, needle):
    with pytest.raises(InputError, match=needle):
        make_workload("queue", options)
