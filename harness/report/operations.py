"""A history seen as intervals: client operations (invoke..completion) and nemesis periods.

This is the view every report draws from. It is forgiving, unlike
:func:`harness.history.pairing.pair_ops`: a report must draw whatever a crashed or hand-made run
left, so an invoke with no completion becomes an ``info`` op that runs to the end of the history,
and a stray completion is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NEMESIS = "nemesis"


@dataclass(slots=True)  # not frozen: a frozen dataclass is slow to build 100k times
class ClientOp:
    """One client operation: its invocation and completion, times in ns since the run started."""

    process: Any
    f: str
    type: str            # outcome: ok, fail or info
    start: int           # invoke time (ns)
    end: int             # completion time (ns); the end of the history when it never completed
    index: int           # the invoke's index
    complete_index: int | None
    value: Any           # the invoke's value
    result: Any          # the completion's value (what a read observed)
    node: Any = None
    error: Any = None
    completed: bool = True

    @property
    def latency_ns(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class NemesisPeriod:
    """A fault that was active from ``start`` to ``end`` (ns); ``name`` is the fault family
    (``partition`` for start-partition/stop-partition). A one-off nemesis op (no start-/stop-
    pair) is a period with ``start == end``. ``detail`` says what the fault did (the grudge)."""

    name: str
    start: int
    end: int
    detail: str = ""
    open: bool = False   # never stopped before the history ended


def _time(op: dict, last: int) -> int:
    t = op.get("time")
    return t if type(t) is int else last


def client_ops(history: list[dict]) -> list[ClientOp]:
    """Client operations in invocation order (nemesis ops are left out)."""
    open_: dict[Any, dict] = {}
    out: list[tuple[dict, dict | None]] = []
    slot: dict[Any, int] = {}
    end = 0
    for op in history:
        t = op.get("time")
        if type(t) is int and t > end:
            end = t
        p = op.get("process")
        if p == NEMESIS:
            continue
        typ = op.get("type")
        if typ == "invoke":
            open_[p] = op
            slot[p] = len(out)
            out.append((op, None))
        elif p in open_:
            inv = open_.pop(p)
            out[slot.pop(p)] = (inv, op)
    result = []
    for i, (inv, comp) in enumerate(out):
        idx = inv.get("index", i)
        if comp is None:
            result.append(ClientOp(inv.get("process"), str(inv.get("f")), "info", _time(inv, 0),
                                   max(end, _time(inv, 0)), idx, None, inv.get("value"), None,
                                   inv.get("node"), "never completed", False))
            continue
        start = _time(inv, 0)
        result.append(ClientOp(
            inv.get("process"), str(inv.get("f")), str(comp.get("type")), start,
            max(start, _time(comp, start)), idx, comp.get("index"), inv.get("value"),
            comp.get("value"), inv.get("node", comp.get("node")), comp.get("error")))
    return result


def describe_fault(value: Any) -> str:
    """A short human description of a nemesis op's value: a grudge becomes its components."""
    if isinstance(value, dict) and value and all(isinstance(v, list) for v in value.values()):
        # A grudge {node: [nodes it drops]}: show who is cut off from whom, compactly.
        parts = [f"{n}-x-{','.join(map(str, d))}" for n, d in sorted(value.items()) if d]
        return "; ".join(parts)
    if value is None:
        return ""
    return str(value)


def nemesis_periods(history: list[dict]) -> list[NemesisPeriod]:
    """Fault periods: from a ``start-X`` completion to the next ``stop-X`` completion.

    Nemesis ops are recorded in pairs (invoke-like then completion, both ``info``); the second of
    each pair carries what was done, so a period opens at the first ``start-X`` op and takes its
    detail from the last one before it is stopped.
    """
    periods: list[NemesisPeriod] = []
    active: dict[str, list] = {}   # name -> [start, detail]
    last = 0
    just_closed = None   # the stop op f that closed periods[-1], while its completion may follow
    for op in history:
        last = max(last, _time(op, last))
        if op.get("process") != NEMESIS:
            continue
        f = str(op.get("f", ""))
        t = _time(op, last)
        closer, just_closed = just_closed, None
        if f.startswith("start-"):
            name = f[len("start-"):]
            if name in active:
                d = describe_fault(op.get("value"))
                if d:
                    active[name][1] = d
            else:
                active[name] = [t, describe_fault(op.get("value"))]
        elif f.startswith("stop-"):
            name = f[len("stop-"):]
            if name in active:
                start, detail = active.pop(name)
                periods.append(NemesisPeriod(name, start, t, detail))
                just_closed = f
            # else: the stop's second half extends the period its first half closed; a later
            # stop with nothing active (e.g. the final heal of a fault already stopped) does not.
            elif closer == f and periods and periods[-1].name == name and periods[-1].end <= t:
                p = periods[-1]
                periods[-1] = NemesisPeriod(p.name, p.start, t, p.detail)
        else:
            periods.append(NemesisPeriod(f, t, t, describe_fault(op.get("value"))))
    for name, (start, detail) in active.items():
        periods.append(NemesisPeriod(name, start, last, detail, open=True))
    periods.sort(key=lambda p: p.start)
    return periods


def history_span_ns(history: list[dict]) -> int:
    """The time of the last op (ns)."""
    last = 0
    for op in history:
        last = max(last, _time(op, last))
    return last
