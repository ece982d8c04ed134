"""Each combinator's behaviour, checked exactly on the simulated clock."""

import statistics
from collections import Counter

import pytest

import harness.generator as gen
from harness.generator import Simulator

S = 1_000_000_000  # ns per second
READ = {"f": "read"}


def invokes(history, process=None):
    return [o for o in history if o["type"] == "invoke"
            and (process is None or o["process"] == process)]


def clients_run(g, concurrency=2, **kw):
    return Simulator(concurrency, **kw).run(gen.clients(g))


# -- counting ----------------------------------------------------------------------------

def test_limit_counts_ops():
    assert len(invokes(clients_run(gen.limit(7, gen.repeat(READ)), 3))) == 7
    assert invokes(clients_run(gen.limit(0, gen.repeat(READ)))) == []


def test_limit_of_shorter_generator_ends_with_it():
    assert len(invokes(clients_run(gen.limit(10, [READ, READ])))) == 2


def test_once_takes_the_first_op_only():
    assert [o["f"] for o in invokes(clients_run(gen.once([{"f": "a"}, {"f": "b"}])))] == ["a"]


def test_repeat_forever_and_n_times():
    assert len(invokes(clients_run(gen.limit(50, gen.repeat(READ))))) == 50
    assert len(invokes(clients_run(gen.repeat(READ, 4)))) == 4
    assert invokes(clients_run(gen.repeat(READ, 0))) == []


def test_repeat_does_not_advance_the_generator():
    h = clients_run(gen.repeat([{"f": "a"}, {"f": "b"}], 3))
    assert [o["f"] for o in invokes(h)] == ["a", "a", "a"]


def test_repeat_of_a_callable_asks_it_afresh():
    h = clients_run(gen.repeat(lambda test, ctx: {"f": "w", "value": ctx.rng.randrange(10**9)}, 5))
    assert len({o["value"] for o in invokes(h)}) == 5


def test_cycle_restarts_and_counts_passes():
    h = clients_run(gen.cycle([{"f": "a"}, {"f": "b"}], 3), 1)
    assert [o["f"] for o in invokes(h)] == ["a", "b"] * 3
    h = clients_run(gen.limit(5, gen.cycle([{"f": "a"}, {"f": "b"}])), 1)
    assert [o["f"] for o in invokes(h)] == ["a", "b", "a", "b", "a"]


def test_cycle_of_empty_generator_ends():
    assert clients_run(gen.cycle([])) == []


def test_negative_counts_are_rejected():
    for bad in (lambda: gen.limit(-1, READ), lambda: gen.repeat(READ, -1),
                lambda: gen.cycle(READ, -2)):
        with pytest.raises(ValueError):
            bad()


# -- time ----------------------------------------------------------------------------------

def test_time_limit_cuts_at_the_right_simulated_time():
    # Two threads, 0.1 s per op: ops start at 0, 0.1, ..., 0.9 s; none at 1 s or later.
    h = clients_run(gen.time_limit(1, gen.repeat(READ)), 2, latency=0.1)
    times = [o["time"] for o in invokes(h)]
    assert times == [t * S // 10 for t in range(10) for _ in range(2)]
    assert h[-1]["time"] == 1 * S  # the last ops still complete
    assert len(h) == 40


def test_time_limit_counts_from_its_first_op():
    h = clients_run([gen.sleep(5), gen.time_limit(1, gen.repeat(READ))], 1, latency=0.25)
    times = [o["time"] for o in invokes(h)]
    assert times == [5 * S, 5 * S + S // 4, 5 * S + S // 2, 5 * S + 3 * S // 4]


def test_time_limit_is_exhausted_past_its_cutoff_even_when_threads_are_busy():
    ctx = gen.Context(1)
    o, g = gen.time_limit(1, gen.repeat(READ)).op({}, ctx)
    busy = ctx.busy_thread(0, 0).busy_thread(0, "nemesis")
    assert g.op({}, busy.with_time(S - 1))[0] is gen.PENDING
    assert g.op({}, busy.with_time(S)) is None


def test_stagger_mean_interval_is_dt_and_spread_is_uniform_0_to_2dt():
    h = clients_run(gen.limit(4000, gen.stagger(0.1, gen.repeat(READ))), 10, seed=3)
    ts = [o["time"] for o in invokes(h)]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    assert statistics.mean(gaps) == pytest.approx(0.1 * S, rel=0.03)
    assert 0 <= min(gaps) < 0.01 * S
    assert 0.19 * S < max(gaps) < 0.2 * S


def test_stagger_is_reproducible_from_the_seed():
    run = lambda seed: [o["time"] for o in invokes(
        clients_run(gen.limit(20, gen.stagger(1, gen.repeat(READ))), seed=seed))]
    assert run(1) == run(1)
    assert run(1) != run(2)


def test_stagger_does_not_burst_after_busy_threads():
    # One thread, ops take 1 s, stagger 0.01 s: every op starts when the thread is free again
    # plus a fresh random wait, never two at once.
    h = clients_run(gen.limit(5, gen.stagger(0.01, gen.repeat(READ))), 1, latency=1)
    ts = [o["time"] for o in invokes(h)]
    assert all(S <= b - a < S + 0.02 * S for a, b in zip(ts, ts[1:]))


def test_rate_is_total_ops_per_second():
    h = clients_run(gen.time_limit(20, gen.rate(50, gen.repeat(READ))), 10, seed=1)
    assert len(invokes(h)) == pytest.approx(1000, rel=0.05)


def test_rate_none_means_unlimited():
    g = gen.repeat(READ)
    assert gen.rate(None, g) is g
    with pytest.raises(ValueError):
        gen.rate(0, g)


def test_delay_spaces_ops_exactly():
    h = clients_run(gen.limit(4, gen.delay(0.5, gen.repeat(READ))))
    assert [o["time"] for o in invokes(h)] == [0, S // 2, S, 3 * S // 2]


def test_delay_catches_up_after_a_slow_op():
    h = clients_run(gen.limit(4, gen.delay(1, gen.repeat(READ))), 1,
                    latency=lambda o: 2.5 if o["time"] == 0 else 0.001)
    # The first op blocks the only thread until 2.5 s; the op due at 1 s goes at 2.5 s and
    # the next ones follow 1 s after it.
    assert [o["time"] for o in invokes(h)] == [0, 5 * S // 2, 7 * S // 2, 9 * S // 2]


def test_sleep_idles_a_thread_and_is_not_recorded():
    h = clients_run([{"f": "a"}, gen.sleep(2), {"f": "b"}], 1, latency=1)
    assert [(o["f"], o["type"], o["time"]) for o in h] == [
        ("a", "invoke", 0), ("a", "ok", S), ("b", "invoke", 3 * S), ("b", "ok", 4 * S)]


def test_sleep_inside_phases_delays_the_next_phase():
    h = clients_run(gen.phases({"f": "a"}, gen.sleep(10), {"f": "b"}), 3, latency=1)
    assert [(o["f"], o["time"]) for o in invokes(h)] == [("a", 0), ("b", 11 * S)]


def test_cycle_times_rotates_windows_and_keeps_state():
    h = clients_run(gen.limit(8, gen.cycle_times(
        1, gen.delay(0.4, gen.repeat({"f": "a"})),
        2, gen.delay(1, gen.repeat({"f": "b"})))), 1, latency=0.001)
    assert [(o["f"], o["time"]) for o in invokes(h)] == [
        ("a", 0), ("a", 2 * S // 5), ("a", 4 * S // 5),  # window a: [0, 1)
        ("b", S), ("b", 2 * S),                              # window b: [1, 3)
        ("a", 3 * S), ("a", 3 * S + 2 * S // 5), ("a", 3 * S + 4 * S // 5)]


# -- order and synchronisation -----------------------------------------------------------------

def test_phases_wait_for_every_op_of_the_previous_phase():
    h = clients_run(gen.phases([{"f": "a"}] * 3, {"f": "b"}, [{"f": "c"}] * 2), 2, latency=1)
    assert [(o["time"] // S, o["type"], o["f"]) for o in h] == [
        (0, "invoke", "a"), (0, "invoke", "a"), (1, "ok", "a"), (1, "invoke", "a"),
        (1, "ok", "a"), (2, "ok", "a"),
        (2, "invoke", "b"), (3, "ok", "b"),
        (3, "invoke", "c"), (3, "invoke", "c"), (4, "ok", "c"), (4, "ok", "c")]


def test_phases_with_nemesis_wait_for_the_nemesis_too():
    h = Simulator(1, latency=lambda o: 5 if o["f"] == "kill" else 1).run(gen.phases(
        gen.nemesis({"f": "kill"}), gen.clients({"f": "read"})))
    assert [(o["f"], o["time"] // S) for o in h] == [("kill", 0), ("kill", 5), ("read", 5),
                                                     ("read", 6)]


def test_synchronize_waits_for_all_threads_free():
    h = clients_run([{"f": "long"}, gen.synchronize({"f": "after"})], 2,
                    latency=lambda o: 3 if o["f"] == "long" else 1)
    assert [(o["f"], o["time"] // S) for o in invokes(h)] == [("long", 0), ("after", 3)]


def test_then_is_phases_backwards():
    h = clients_run(gen.then({"f": "second"}, [{"f": "first"}, {"f": "first"}]), 2, latency=1)
    assert [(o["f"], o["time"] // S) for o in invokes(h)] == [("first", 0), ("first", 0),
                                                              ("second", 1)]


def test_until_ok_stops_after_the_first_ok():
    outcomes = iter(["fail", "info", "fail", "ok", "ok", "ok"])
    h = clients_run(gen.until_ok(gen.repeat(READ)), 1, complete=lambda o: next(outcomes))
    assert [(o["type"], o["process"]) for o in h] == [
        ("invoke", 0), ("fail", 0), ("invoke", 0), ("info", 0), ("invoke", 1), ("fail", 1),
        ("invoke", 1), ("ok", 1)]


def test_until_ok_lets_ops_in_flight_finish():
    h = clients_run(gen.until_ok(gen.repeat(READ)), 3, latency=1)
    assert len(invokes(h)) == 3 and [o["type"] for o in h].count("ok") == 3


def test_each_thread_gives_each_thread_its_own_copy():
    h = clients_run(gen.each_thread([{"f": "w"}, {"f": "r"}]), 3, latency=1)
    for p in range(3):
        assert [o["f"] for o in invokes(h, p)] == ["w", "r"]
    assert len(invokes(h)) == 6


def test_each_thread_until_ok_per_thread():
    # Thread 0 fails twice, the others succeed at once; each thread stops at its own ok.
    def complete(o):
        return "fail" if o["process"] == 0 and o["time"] < 2 * S else "ok"
    h = clients_run(gen.each_thread(gen.until_ok(gen.repeat(READ))), 3, latency=1,
                    complete=complete)
    assert Counter(o["process"] for o in invokes(h)) == {0: 3, 1: 1, 2: 1}


def test_each_thread_keeps_the_thread_copy_after_renumbering():
    h = clients_run(gen.each_thread([{"f": "a"}, {"f": "b"}]), 1,
                    complete=lambda o: "info" if o["f"] == "a" else "ok")
    assert [(o["f"], o["process"]) for o in invokes(h)] == [("a", 0), ("b", 1)]


def test_each_thread_is_exhausted_only_when_every_thread_is():
    h = clients_run(gen.each_thread(gen.once(READ)), 2, latency=1)
    assert len(invokes(h)) == 2


def test_reserve_assigns_thread_ranges():
    h = clients_run(gen.time_limit(10, gen.reserve(2, gen.repeat({"f": "w"}),
                                                   1, gen.repeat({"f": "cas"}),
                                                   gen.repeat({"f": "r"}))), 5, latency=1)
    by_process = {}
    for o in invokes(h):
        by_process.setdefault(o["process"], set()).add(o["f"])
    assert by_process == {0: {"w"}, 1: {"w"}, 2: {"cas"}, 3: {"r"}, 4: {"r"}}
    assert len(invokes(h)) == 50


def test_reserve_ranges_follow_renumbered_processes():
    h = clients_run(gen.limit(6, gen.reserve(1, gen.repeat({"f": "w"}), gen.repeat({"f": "r"}))),
                    2, complete=lambda o: "info")
    assert {(o["process"] % 2, o["f"]) for o in invokes(h)} == {(0, "w"), (1, "r")}


def test_reserve_counts_threads_of_its_context():
    # Inside reserve's default range (threads 1-3), a nested reserve's first thread is 1.
    g = gen.reserve(1, gen.repeat({"f": "a"}),
                    gen.reserve(1, gen.repeat({"f": "b"}), gen.repeat({"f": "c"})))
    h = clients_run(gen.time_limit(3, g), 4, latency=1)
    assert {(o["process"], o["f"]) for o in invokes(h)} == {(0, "a"), (1, "b"), (2, "c"),
                                                            (3, "c")}


def test_reserve_default_includes_the_nemesis_outside_clients():
    h = Simulator(1, latency=1).run(gen.time_limit(2, gen.reserve(1, gen.repeat({"f": "w"}),
                                                                  gen.repeat({"f": "r"}))))
    assert {(o["process"], o["f"]) for o in h} == {(0, "w"), ("nemesis", "r")}


def test_reserve_rejects_bad_arguments():
    with pytest.raises(ValueError):
        gen.reserve(2, READ)
    with pytest.raises(ValueError):
        gen.reserve("2", READ, READ)


# -- routing -------------------------------------------------------------------------------

def test_clients_never_run_on_the_nemesis_thread():
    h = Simulator(3).run(gen.clients(gen.limit(30, gen.repeat(READ))))
    assert {o["process"] for o in h} == {0, 1, 2}


def test_nemesis_runs_only_on_the_nemesis_thread_and_is_info_on_both_ends():
    h = Simulator(3).run(gen.nemesis([{"f": "start"}, {"f": "stop"}]))
    assert [(o["process"], o["type"], o["f"]) for o in h] == [
        ("nemesis", "info", "start"), ("nemesis", "info", "start"),
        ("nemesis", "info", "stop"), ("nemesis", "info", "stop")]


def test_nemesis_with_clients_runs_both_side_by_side():
    faults = gen.cycle([gen.sleep(5), {"f": "start"}, gen.sleep(5), {"f": "stop"}])
    g = gen.time_limit(20, gen.nemesis(faults, gen.delay(1, gen.repeat(READ))))
    h = Simulator(2, latency=0.001).run(g)
    nem = [(o["f"], o["time"] // S) for o in h if o["process"] == "nemesis"][0::2]
    assert nem == [("start", 5), ("stop", 10), ("start", 15)]
    assert len(invokes(h)) == 20  # one read per second, none on the nemesis
    assert gen.clients(gen.delay(1, gen.repeat(READ)), faults).__class__ is gen.AnyOf


def test_on_threads_restricts_to_matching_threads():
    h = Simulator(4).run(gen.on_threads(lambda t: t in (1, 3), gen.limit(10, gen.repeat(READ))))
    assert {o["process"] for o in h} == {1, 3}


def test_any_takes_the_soonest_op():
    g = gen.any(gen.delay(3, gen.repeat({"f": "slow"})), gen.delay(1, gen.repeat({"f": "fast"})))
    h = clients_run(gen.time_limit(6, g), 2, latency=0.001)
    assert sorted((o["time"] // S, o["f"]) for o in invokes(h)) == [
        (0, "fast"), (0, "slow"), (1, "fast"), (2, "fast"), (3, "fast"), (3, "slow"),
        (4, "fast"), (5, "fast")]


def test_any_passes_updates_to_all():
    outcomes = iter(["ok"] * 10)
    g = gen.any(gen.until_ok(gen.repeat({"f": "a"})), gen.limit(2, gen.repeat({"f": "b"})))
    h = clients_run(g, 1, complete=lambda o: next(outcomes))
    assert [o["f"] for o in invokes(h)].count("a") == 1


def test_mix_chooses_uniformly_and_reproducibly():
    g = gen.limit(3000, gen.mix([gen.repeat({"f": "a"}), gen.repeat({"f": "b"}),
                                 gen.repeat({"f": "c"})]))
    h = clients_run(g, 5, seed=11)
    counts = Counter(o["f"] for o in invokes(h))
    assert set(counts) == {"a", "b", "c"}
    assert all(900 < n < 1100 for n in counts.values())
    assert [o["f"] for o in invokes(clients_run(g, 5, seed=11))] == \
        [o["f"] for o in invokes(h)]


def test_mix_drops_exhausted_generators():
    g = gen.mix([gen.repeat({"f": "a"}, 2), gen.repeat({"f": "b"}, 3)])
    assert Counter(o["f"] for o in invokes(clients_run(g))) == {"a": 2, "b": 3}
    assert gen.mix([]) is gen.VOID


def test_flip_flop_alternates_until_one_ends():
    h = clients_run(gen.flip_flop(gen.repeat({"f": "a"}), [{"f": "b"}, {"f": "b"}]), 1)
    assert [o["f"] for o in invokes(h)] == ["a", "b", "a", "b", "a"]


def test_process_limit_stops_when_crashes_use_up_processes():
    h = clients_run(gen.process_limit(4, gen.repeat(READ)), 2, complete=lambda o: "info")
    assert sorted({o["process"] for o in invokes(h)}) == [0, 1, 2, 3]


# -- transforms ----------------------------------------------------------------------------

def test_map_and_f_map_and_filter():
    h = clients_run(gen.map(lambda o: {**o, "value": 7}, gen.once({"f": "w"})))
    assert invokes(h)[0]["value"] == 7
    h = clients_run(gen.f_map({"start": "start-partition"}, [{"f": "start"}, {"f": "other"}]), 1)
    assert [o["f"] for o in invokes(h)] == ["start-partition", "other"]
    h = clients_run(gen.filter(lambda o: o["value"] % 2 == 0,
                               [{"f": "w", "value": v} for v in range(6)]), 1)
    assert [o["value"] for o in invokes(h)] == [0, 2, 4]


def test_on_update_sees_every_event():
    events = []

    def watch(this, test, ctx, event):
        events.append((event["type"], event["f"]))
        return this
    clients_run(gen.on_update(watch, [{"f": "a"}, {"f": "b"}]), 1)
    assert events == [("invoke", "a"), ("ok", "a"), ("invoke", "b"), ("ok", "b")]


def test_log_is_not_recorded_but_collected():
    sim = Simulator(1)
    h = sim.run(gen.clients([gen.log("hello"), {"f": "a"}]))
    assert [o["f"] for o in h] == ["a", "a"]
    assert sim.logs == [(0, "hello")]
