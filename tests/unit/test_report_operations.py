"""The interval view of a history that every report draws from."""

from harness.report.operations import client_ops, describe_fault, nemesis_periods
from harness.report.synthetic import synthetic_history


def op(i, t, typ, p, f, v=None, **kw):
    return {"index": i, "time": t, "type": typ, "process": p, "f": f, "value": v, **kw}


def test_pairs_invokes_with_their_completions_in_invocation_order():
    h = [op(0, 0, "invoke", 0, "write", 1), op(1, 5, "invoke", 1, "read"),
         op(2, 7, "ok", 1, "read", 1), op(3, 9, "ok", 0, "write", 1)]
    ops = client_ops(h)
    assert [(o.process, o.f, o.type, o.start, o.end, o.result) for o in ops] == [
        (0, "write", "ok", 0, 9, 1), (1, "read", "ok", 5, 7, 1)]
    assert ops[0].complete_index == 3 and ops[1].latency_ns == 2


def test_an_open_invoke_is_info_until_the_end_and_a_stray_completion_is_ignored():
    h = [op(0, 0, "ok", 7, "read", 3), op(1, 10, "invoke", 0, "cas", [1, 2]),
         op(2, 20, "invoke", 1, "read"), op(3, 50, "ok", 1, "read", None)]
    ops = client_ops(h)
    assert [(o.process, o.type, o.end, o.completed) for o in ops] == [
        (0, "info", 50, False), (1, "ok", 50, True)]


def test_nemesis_periods_span_from_start_to_the_stop_completion_with_the_grudge():
    grudge = {"n1": ["n2"], "n2": ["n1"]}
    h = [op(0, 100, "info", "nemesis", "start-partition"),
         op(1, 110, "info", "nemesis", "start-partition", grudge),
         op(2, 500, "info", "nemesis", "stop-partition"),
         op(3, 520, "info", "nemesis", "stop-partition", "network-healed"),
         op(4, 600, "info", "nemesis", "start-partition"),
         op(5, 700, "invoke", 0, "read")]
    ps = nemesis_periods(h)
    assert [(p.name, p.start, p.end, p.open) for p in ps] == [
        ("partition", 100, 520, False), ("partition", 600, 700, True)]
    assert ps[0].detail == "n1-x-n2; n2-x-n1"


def test_describe_fault_handles_non_grudges():
    assert describe_fault(None) == ""
    assert describe_fault("network-healed") == "network-healed"


def test_synthetic_history_has_timeouts_renumbered_processes_and_partitions():
    h = synthetic_history(600, concurrency=4, seed=3)
    ops = client_ops(h)
    assert len(ops) == 600
    assert {o.type for o in ops} == {"ok", "fail", "info"}
    assert max(o.process for o in ops) >= 4  # a process renumbered after an info
    assert nemesis_periods(h)


def test_a_final_heal_of_a_fault_already_stopped_does_not_stretch_its_period():
    def nem(i, t, f, value):
        return {"index": i, "time": int(t * 1e9), "type": "info", "process": "nemesis", "f": f,
                "value": value}

    # Kill at 30 s, restart at 50 s; the run's final stop-kill at 60 s finds nothing to restart.
    history = [nem(0, 30.0, "start-kill", None), nem(1, 30.2, "start-kill", ["n1"]),
               nem(2, 50.0, "stop-kill", None), nem(3, 50.2, "stop-kill", ["n1"]),
               nem(4, 60.0, "stop-kill", None), nem(5, 60.1, "stop-kill", [])]
    [p] = nemesis_periods(history)
    assert (p.name, p.start, p.end, p.detail) == ("kill", 30_000_000_000, 50_200_000_000, "['n1']")
