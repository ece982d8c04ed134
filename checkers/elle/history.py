"""Transactions out of a history: tolerant pairing and micro-op validation.

Elle reads histories from many tools, and some of them have completions with no invoke
(hand-written test histories) or several invokes in flight on one process. Strict pairing
(:func:`harness.history.pairing.pair_ops`) rejects those, so the Elle checkers pair their own
way: per process, a completion takes the pending invoke whose micro-ops have the same shape
(else the oldest one); a completion with no invoke is taken to be invoked where it completed;
an invoke that never completes is an ``info`` transaction (it may have happened).

A :class:`Txn` is what every inference pass works on. Its ``value`` is the completion's
micro-ops as tuples ``(f, key, value)``; an ``info`` transaction keeps the invoke's writes and
its reads observe nothing (``None``), as DESIGN.md says. ``invoke_pos``/``complete_pos`` are
positions in the history list, so the realtime order does not depend on clocks.
"""

from __future__ import annotations

from harness.errors import InputError

from . import native

INFINITY = float("inf")


class Txn:
    """One transaction: ``id`` (dense, 0..n-1), ``index`` (the completion's op index, how it is
    named in explanations), ``type`` (ok/info/fail), ``process``, ``mops``, positions.

    The C core (``_elle.make_txns``) fills the slots itself, as ``__init__`` does: keep
    ``__init__`` to these plain assignments (tests/unit/test_elle_native.py compares both)."""

    __slots__ = ("id", "index", "type", "process", "mops", "invoke_pos", "complete_pos", "op")

    def __init__(self, id, index, type, process, mops, invoke_pos, complete_pos, op):
        self.id = id
        self.index = index
        self.type = type
        self.process = process
        self.mops = mops
        self.invoke_pos = invoke_pos
        self.complete_pos = complete_pos
        self.op = op

    def __repr__(self):
        return f"Txn({self.index}, {self.type}, {self.mops})"


def _hashable(x, where, what):
    if isinstance(x, list):
        try:
            return tuple(_hashable(e, where, what) for e in x)
        except RecursionError:
            raise InputError(f"{where}: {what} nested too deeply") from None
    if isinstance(x, dict):
        raise InputError(f"{where}: {what} must be a scalar or a list, got an object")
    return x


def _short(x) -> str:
    import json

    try:
        s = json.dumps(x, default=str)
    except (TypeError, ValueError):
        s = repr(x)
    return s if len(s) <= 60 else s[:57] + "..."


def parse_mops(op: dict, kinds: dict, completed: bool) -> list[tuple]:
    """Validate an op's micro-ops and return them as tuples.

    ``kinds`` maps each allowed micro-op f to ``"list"`` (a read of a list key: the value is a
    list) or ``"scalar"``. Errors are one line naming the op index and the micro-op.
    """
    value = op.get("value")
    if not isinstance(value, list):
        raise InputError(f"op {op.get('index')}: a transaction's value must be a list of "
                         f"micro-ops like [\"r\", \"x\", null], got {_short(value)}")
    c = native.core
    if c is not None:
        out = c.fast_mops(value, kinds)  # None: some micro-op needs the checks below
        if out is not None:
            return out
    out = []
    append = out.append
    scalar = _SCALAR_TYPES
    for mop in value:
        # The fast path: a well-formed micro-op of scalars; anything else is checked slowly.
        if type(mop) is list and len(mop) == 3:
            f, k, v = mop
            kind = kinds.get(f) if type(f) is str else None
            if kind is not None and type(k) in scalar:
                if kind == "list":
                    if v is None:
                        append((f, k, None))
                        continue
                    if type(v) is list:
                        v = tuple(v)
                        if scalar.issuperset(map(type, v)):
                            append((f, k, v))
                            continue
                elif type(v) in scalar or v is None:
                    append((f, k, v))
                    continue
        # Every earlier micro-op added one entry, so this one's index is len(out).
        append(_parse_slow(op, len(out), mop, kinds, completed))
    return out


_SCALARS = (int, str, float, bool)
_SCALAR_TYPES = frozenset(_SCALARS)


def _parse_slow(op, i, mop, kinds, completed):
    w = f"op {op.get('index')}: micro-op {i} {_short(mop)}"
    if not isinstance(mop, (list, tuple)):
        raise InputError(f"{w}: expected a list [f, key, value]")
    if len(mop) == 2 and not completed and mop[0] == "r":
        mop = [mop[0], mop[1], None]
    if len(mop) != 3:
        raise InputError(f"{w}: expected 3 elements [f, key, value], got {len(mop)}")
    f, k, v = mop
    kind = kinds.get(f) if isinstance(f, str) else None
    if kind is None:
        raise InputError(f"{w}: unknown micro-op f {_short(f)} (valid: {', '.join(kinds)})")
    k = _hashable(k, w, "the key")
    if kind == "list":
        if v is not None and not isinstance(v, list):
            raise InputError(f"{w}: a read of a list key must give a list (or null), "
                             f"got {_short(v)}")
        if v is not None:
            v = tuple(_hashable(e, w, "a list element") for e in v)
    else:
        v = _hashable(v, w, "the value")
    return (f, k, v)


def _shape(value):
    if not isinstance(value, list):
        return None
    try:
        return tuple((m[0], _hashable(m[1], "", "")) if isinstance(m, (list, tuple)) and len(m) >= 2
                     else None for m in value)
    except (InputError, TypeError):
        return None


def _pair(history):
    """``(done, pending)``: completions paired with invokes, in completion order, as
    ``(invoke_pos, complete_pos, invoke_op | None, completion_op)``; the invokes still pending,
    per process, as ``(pos, op)``. (``_elle.pair`` gives the same when no process has two
    invokes in flight.)"""
    pending: dict = {}  # process -> list of (pos, op)
    done = []  # (invoke_pos, complete_pos, invoke_op | None, completion_op)
    for pos, op in enumerate(history):
        p = op.get("process")
        if p == "nemesis":
            continue
        t = op.get("type")
        if t == "invoke":
            pending.setdefault(p, []).append((pos, op))
            continue
        if t not in ("ok", "fail", "info"):
            continue
        queue = pending.get(p)
        inv = None
        if queue:
            j = 0
            if len(queue) > 1:
                shape = _shape(op.get("value"))
                for jj, (_, cand) in enumerate(queue):
                    if _shape(cand.get("value")) == shape:
                        j = jj
                        break
            inv = queue.pop(j)
        if inv is None:
            done.append((pos, pos, None, op))
        else:
            done.append((inv[0], pos, inv[1], op))
    return done, pending


def transactions(history: list[dict], kinds: dict, reads: tuple = ("r",)) -> list[Txn]:
    """Pair a history's client ops into :class:`Txn` s (nemesis ops and ops whose ``f`` is not a
    transaction are skipped; Elle ignores ``f``, and so do we unless it is a nemesis op)."""
    c = native.core
    paired = c.pair(history) if c is not None and type(history) is list else None
    if paired is not None:
        done, pending = paired
    else:
        done, pending = _pair(history)
    # ``done`` is in completion order already; the never-completed come last, by invocation.
    done.extend(sorted((ipos, INFINITY, inv, None) for queue in pending.values()
                       for ipos, inv in queue))
    if c is not None:
        return c.make_txns(done, kinds, Txn, lambda i, entry: _txn(i, entry, kinds, reads))
    return [_txn(i, entry, kinds, reads) for i, entry in enumerate(done)]


def _txn(i, entry, kinds, reads):
    """Txn number ``i`` of ``(invoke_pos, complete_pos, invoke_op | None, completion_op)``."""
    ipos, cpos, inv, comp = entry
    if comp is None or comp.get("type") == "info":
        src = inv if inv is not None else comp
        mops = parse_mops(src, kinds, completed=False)
        # An info transaction observed nothing: keep its writes, blank its reads.
        mops = [(f, k, None) if f in reads else (f, k, v) for f, k, v in mops]
        ttype = "info"
        base = comp if comp is not None else inv
        cpos = INFINITY
    else:
        mops = parse_mops(comp, kinds, completed=comp.get("type") == "ok")
        ttype = comp.get("type")
        base = comp
    index = base.get("index")
    if index is None:
        index = cpos if cpos != INFINITY else ipos
    return Txn(i, index, ttype, base.get("process"), mops, ipos, cpos, base)


if native.AVAILABLE:
    native._elle.set_txn_type(Txn)  # the C core reads Txn's slots directly
