"""Plain-language explanation of a non-linearizable history (the counterexample text)."""

from __future__ import annotations

from .models import repr_value

MAX_STATES = 6
PATH_TAIL = 6


def describe_op(op: dict) -> str:
    """``process 3 read -> 2``-style one-line description of an op summary."""
    f = op.get("f")
    v = op.get("value")
    if f == "read":
        return f"process {op['process']} read {repr_value(_tup(v))}"
    if f == "write":
        return f"process {op['process']} write {repr_value(_tup(v))}"
    if f == "cas" and isinstance(v, (list, tuple)) and len(v) == 2:
        return f"process {op['process']} cas {repr_value(_tup(v[0]))}->{repr_value(_tup(v[1]))}"
    return f"process {op['process']} {f} {repr_value(_tup(v))}"


def _tup(v):
    if isinstance(v, list):
        return tuple(_tup(x) for x in v)
    return v


def _span(op: dict) -> str:
    c = op.get("complete_index")
    t = op.get("time")
    at = f", invoked at {t / 1e9:.3f} s" if isinstance(t, (int, float)) else ""
    if c is not None:
        return f"index {op['index']}-{c}{at}"
    return f"index {op['index']}{at}, outcome unknown"


def _or_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def explain(model, failed: dict, states: list, path: list[dict], n_states_total: int | None = None) -> str:
    """A few sentences a person can follow.

    ``failed``: the op summary that could not be linearized; ``states``: the model states a
    real-time-consistent order can be in when that op completes (without it); ``path``: one
    longest consistent order, a list of ``{"op": summary, "state": state after}``.
    """
    proc = failed["process"]
    f = failed["f"]
    v = _tup(failed.get("value"))
    span = _span(failed)
    done = failed.get("complete_index")
    noun = f if f in ("read", "write", "cas") else "operation"
    what = "register" if model.name in ("register", "cas-register") else "registers"
    shown = [model.describe_state(s) for s in states[:MAX_STATES]]
    total = n_states_total if n_states_total is not None else len(states)
    if total > len(shown):
        shown.append(f"{total - len(shown)} other states")
    where = _or_list(shown) if shown else "no state at all"

    if f == "read":
        first = f"Process {proc}'s read ({span}) returned {repr_value(v)}"
        cannot = f"so the read cannot return {repr_value(v)} there"
    elif f == "cas" and isinstance(v, tuple) and len(v) == 2:
        first = (f"Process {proc}'s cas from {repr_value(v[0])} to {repr_value(v[1])} ({span}) "
                 f"succeeded")
        cannot = f"so the compare against {repr_value(v[0])} cannot succeed there"
    elif f == "write":
        first = f"Process {proc}'s write of {repr_value(v)} ({span}) completed"
        cannot = "so the write cannot take effect there"
    else:
        first = f"Process {proc}'s {f} {repr_value(v)} ({span}) completed ok"
        cannot = f"so the {f} cannot produce what it returned there"

    text = [
        f"{first}, but no order of the operations consistent with real time allows it.",
        f"Every order of the operations that completed by index {done} that respects real time "
        f"and the results they returned leaves the {what} at {where} at that point, {cannot}; "
        f"and placing the {noun} earlier, anywhere after its invocation, makes one of those other "
        f"results impossible.",
    ]
    if path:
        tail = path[-PATH_TAIL:]
        steps = "; ".join(
            f"{describe_op(p['op'])} ({_span(p['op'])}) -> {model.describe_state(p['state'])}"
            for p in tail)
        lead = "ends" if len(path) > len(tail) else "is"
        text.append(
            f"The longest consistent order found has {len(path)} operation"
            f"{'s' if len(path) != 1 else ''} and {lead}: {steps}.")
    else:
        text.append(f"It fails right at the start, from the initial state "
                    f"{model.describe_state(model.init())}.")
    return " ".join(text)
