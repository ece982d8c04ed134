"""The Wing & Gong / Lowe just-in-time linearizability search, structured as in Porcupine.

Input: a model and a list of :class:`Op` (one per client operation that may have happened).
Each op has a call position and, if it completed ``ok``, a return position (positions are history
indices, so real-time order is the order of the history). An op without a return position
completed ``info``: it may take effect at any point after its call, or never.

The entries (calls and returns) form a doubly linked list in position order. The search walks the
list from the head; at a call entry it tries to apply the op to the current model state and, when
that works and the (linearized set, state) pair is new, *lifts* the op (removes its call and return
entries), pushes a frame and restarts from the head. Reaching a return entry means that op had to
take effect before this point and no order tried so far allows it: pop the last frame, *unlift* its
op and try the next candidate after it. The history is linearizable once every ``ok`` op has been
lifted (``info`` ops need not be). The memo (a set of ``(bitset, state)``) makes each
configuration be explored once, so a failed search has seen every configuration reachable while
respecting real time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# Marks a return entry in ``match``; call entries hold their return entry's index (or NO_RETURN).
RETURN = -2
NO_RETURN = -1
END = -1

# How many blocked paths to keep for the report, and how often to look at the clock.
MAX_PATHS = 10
CLOCK_EVERY = 1 << 12
try:
    import os as _os
    PAGE = _os.sysconf("SC_PAGE_SIZE")
except (ValueError, OSError, AttributeError):
    PAGE = 4096


@dataclass
class Op:
    """One operation as the search sees it.

    ``ret`` is None for an op that completed ``info`` (no return: may happen later or never).
    ``ok_value`` is the observed value (models get :data:`models.UNKNOWN` for info ops).
    """

    id: int
    f: str
    invoke_value: object
    ok_value: object
    call: int
    ret: int | None
    meta: dict = field(default_factory=dict)

    def evolve(self, **changes) -> "Op":
        """A copy with ``changes`` (``dataclasses.replace`` without its per-call cost: big
        histories make hundreds of thousands of these)."""
        new = object.__new__(Op)
        d = self.__dict__.copy()
        d.update(changes)
        new.__dict__ = d
        return new


@dataclass
class SearchResult:
    valid: object  # True | False | "unknown"
    # valid True: a linearization (op ids in order; info ops that never happened are absent)
    linearization: list = field(default_factory=list)
    # valid False (and "unknown" for progress): the furthest return entry no order got past
    blocked_pos: int | None = None
    blocked_op: int | None = None
    # paths: up to MAX_PATHS lists of (op id, state after) reaching blocked_pos
    paths: list = field(default_factory=list)
    # every model state a configuration could be in when reaching blocked_pos
    final_states: set = field(default_factory=set)
    cause: str | None = None
    iterations: int = 0
    configurations: int = 0


def twin_before(ops) -> list[int]:
    """For each ``info`` op, the id of the previous ``info`` op with the same f and argument (by
    call position), else -1. Such twins are interchangeable, and the earlier one can go anywhere
    the later one can, so the search only ever linearizes the earliest ones of a class first:
    k identical indefinite ops cost k + 1 configurations instead of 2**k."""
    out = [-1] * len(ops)
    last: dict = {}
    for op in sorted(ops, key=lambda o: o.call):
        if op.ret is not None:
            continue
        try:
            k = (op.f, op.invoke_value)
            hash(k)
        except TypeError:
            continue
        prev = last.get(k)
        if prev is not None:
            out[op.id] = prev
        last[k] = op.id
    return out


def rss_bytes() -> int:
    """Resident memory of this process (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


def search(model, ops: list[Op], timeout_s: float | None = None, deadline: float | None = None,
           max_bytes: float | None = None, cpu_slice_s: float | None = None) -> SearchResult:
    """Decide whether ``ops`` (ids 0..n-1) are linearizable with respect to ``model``.

    ``deadline`` (time.monotonic) or ``timeout_s`` end the search with ``unknown``/"timeout";
    ``max_bytes`` ends it with ``unknown``/"memory" once the process grew by that much (resident
    memory, looked at with the clock). ``cpu_slice_s``: also stop with "timeout" once this thread
    spent that much CPU time here (the checker's time slices: on a busy machine wall-clock slices
    would end before any work is done)."""
    if deadline is None and timeout_s is not None:
        deadline = time.monotonic() + timeout_s
    cpu_end = None if not cpu_slice_s else time.thread_time() + cpu_slice_s
    rss_limit = None if not max_bytes else rss_bytes() + max_bytes
    n = len(ops)
    for i, op in enumerate(ops):
        if op.id != i:
            raise ValueError(f"op ids must be 0..n-1 in order; op {i} has id {op.id}")

    # Entries in position order. Ties (should not happen with history indices) put calls first,
    # which is the permissive choice.
    events = []
    for op in ops:
        events.append((op.call, 0, op.id))
        if op.ret is not None:
            if op.ret < op.call:
                raise ValueError(f"op {op.id} returns (position {op.ret}) before its call ({op.call})")
            events.append((op.ret, 1, op.id))
    events.sort()

    # Entry 0 is the head sentinel; entries 1..m follow in order. Arrays instead of node objects.
    m = len(events)
    nxt = list(range(1, m + 2))
    nxt[m] = END
    prv = list(range(-1, m))
    match = [NO_RETURN] * (m + 1)
    eop = [-1] * (m + 1)
    pos = [-1] * (m + 1)
    call_entry = [0] * n
    for e, (p, kind, oid) in enumerate(events, start=1):
        eop[e] = oid
        pos[e] = p
        if kind == 0:
            call_entry[oid] = e
        else:
            match[e] = RETURN
            match[call_entry[oid]] = e

    fs = [op.f for op in ops]
    ivs = [op.invoke_value for op in ops]
    ovs = [op.ok_value for op in ops]
    bits = [1 << i for i in range(n)]
    # the bit of the twin an info op must wait for (0: none; see twin_before)
    twin = [0 if t < 0 else bits[t] for t in twin_before(ops)]
    step = model.step

    remaining = sum(1 for op in ops if op.ret is not None)
    state = model.init()
    lin = 0
    cache = set()
    # The stack is a chain of frames (call entry, state before, linearized before, previous
    # frame): pushing and popping cost one tuple, and a report can keep a path by reference.
    frame = None
    res = SearchResult(valid=True)
    best_pos = -1
    final_states = res.final_states
    paths = res.paths
    iterations = 0

    entry = nxt[0]
    while remaining:
        iterations += 1
        if not iterations & (CLOCK_EVERY - 1):
            if (deadline is not None and time.monotonic() > deadline) or (
                    cpu_end is not None and time.thread_time() > cpu_end):
                res.valid = "unknown"
                res.cause = "timeout"
                break
            if rss_limit is not None and not iterations & (CLOCK_EVERY * 16 - 1) \
                    and rss_bytes() > rss_limit:
                res.valid = "unknown"
                res.cause = "memory"
                break
        r = match[entry]
        if r != RETURN:
            # A call entry: try to linearize this op now.
            oid = eop[entry]
            t = twin[oid]
            if t and not lin & t:
                ok = False
            else:
                ok, new_state = step(state, fs[oid], ivs[oid], ovs[oid])
            if ok:
                new_lin = lin | bits[oid]
                key = (new_lin, new_state)
                if key not in cache:
                    cache.add(key)
                    frame = (entry, state, lin, frame)
                    state = new_state
                    lin = new_lin
                    # lift: unlink the call entry, then its return entry
                    p = prv[entry]
                    q = nxt[entry]
                    nxt[p] = q
                    if q != END:
                        prv[q] = p
                    if r != NO_RETURN:
                        p = prv[r]
                        q = nxt[r]
                        nxt[p] = q
                        if q != END:
                            prv[q] = p
                        remaining -= 1
                    entry = nxt[0]
                    continue
            entry = nxt[entry]
            if entry == END:
                # Only info calls were left after this point and no return: cannot happen while
                # an ok op is pending (its return would come first), kept as a guard.
                break
        else:
            # A return entry: its op had to be linearized by now. Record progress, backtrack.
            bp = pos[entry]
            if bp >= best_pos:
                if bp > best_pos:
                    best_pos = bp
                    res.blocked_op = eop[entry]
                    final_states.clear()
                    paths.clear()
                final_states.add(state)
                if len(paths) < MAX_PATHS:
                    paths.append((frame, state))
            if frame is None:
                res.valid = False
                break
            entry, state, lin, frame = frame
            r = match[entry]
            # unlift: relink the return entry, then the call entry
            if r != NO_RETURN:
                p = prv[r]
                q = nxt[r]
                nxt[p] = r
                if q != END:
                    prv[q] = r
                remaining += 1
            p = prv[entry]
            q = nxt[entry]
            nxt[p] = entry
            if q != END:
                prv[q] = entry
            entry = nxt[entry]

    res.iterations = iterations
    res.configurations = len(cache)
    if best_pos >= 0:
        res.blocked_pos = best_pos
    if res.valid is True:
        if remaining:  # the END guard fired: treat as a bug rather than a verdict
            raise AssertionError("linearizability search ran off the end of the entry list")
        res.linearization = [oid for oid, _ in _path(frame, eop, state)]
    res.paths = [_path(fr, eop, st) for fr, st in paths]
    return res


def _path(frame, eop, state):
    """(op id, state after it) for each frame of the chain, oldest first; the state after the
    newest is ``state``."""
    out = []
    after = state
    while frame is not None:
        e, before, _lin, frame = frame
        out.append((eop[e], after))
        after = before
    out.reverse()
    return out
