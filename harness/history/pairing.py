"""Pairing each client invoke with its completion.

``pair_ops(history, open_as_info=False)`` walks the history in order and returns
``[(invoke, completion), ...]`` in invoke order, for client ops only (ops of the ``"nemesis"``
process are skipped). Rules (DESIGN.md, "Operation / history"):

- each invoke is followed by exactly one completion (ok/fail/info) from the same process, with
  the same ``f``;
- a process has at most one op in flight;
- after an ``info`` completion a process never issues another op (the worker continues under
  a new process id), so an invoke on such a process is rejected;
- an invoke with no completion is an error, unless ``open_as_info``: then it is completed with
  ``{"type": "info", "process": P, "f": f, "value": None, "synthesized": True, "index": None}``
  (what ``analyze`` does for a crashed run: the op may or may not have happened).

Violations raise :class:`~harness.errors.InputError` naming the op's index, e.g.
``index 7: invoke of process 3 (f=read) has no completion``.
"""

from __future__ import annotations

from typing import Iterable

from harness.errors import InputError

from .op import NEMESIS, OP_TYPES, short


def _idx(op: dict, pos: int) -> object:
    ix = op.get("index")
    return pos if ix is None else ix


def pair_ops(history: Iterable[dict], open_as_info: bool = False) -> list[tuple[dict, dict]]:
    """Return ``(invoke, completion)`` pairs for the client ops of ``history`` (see the module
    docstring)."""
    pairs: list[list] = []
    in_flight: dict[object, int] = {}  # process -> slot in pairs
    crashed: dict[object, object] = {}  # process -> index of its info completion
    for pos, op in enumerate(history):
        p = op.get("process")
        if p == NEMESIS:
            continue
        ix = _idx(op, pos)
        if p is None:
            raise InputError(f"index {ix}: op has no process")
        t = op.get("type")
        f = op.get("f")
        if t not in OP_TYPES:
            raise InputError(f"index {ix}: type {short(t)} is not one of {', '.join(OP_TYPES)}")
        if t == "invoke":
            if p in in_flight:
                prev, _, prev_pos = pairs[in_flight[p]]
                raise InputError(
                    f"index {ix}: invoke of process {p} (f={f}) while its invoke at index "
                    f"{_idx(prev, prev_pos)} (f={prev.get('f')}) is still in flight")
            if p in crashed:
                raise InputError(
                    f"index {ix}: invoke of process {p} (f={f}) after its info completion at index "
                    f"{crashed[p]}; a process whose op ended info must not issue more ops")
            in_flight[p] = len(pairs)
            pairs.append([op, None, pos])
            continue
        slot = in_flight.pop(p, None)
        if slot is None:
            raise InputError(f"index {ix}: {t} completion of process {p} (f={f}) has no invoke in flight")
        inv, _, inv_pos = pairs[slot]
        if f != inv.get("f"):
            raise InputError(
                f"index {ix}: {t} completion of process {p} has f={f} but its invoke at index "
                f"{_idx(inv, inv_pos)} has f={inv.get('f')}")
        pairs[slot][1] = op
        if t == "info":
            crashed[p] = ix
    if in_flight:
        if not open_as_info:
            inv, _, inv_pos = pairs[min(in_flight.values())]
            raise InputError(f"index {_idx(inv, inv_pos)}: invoke of process {inv.get('process')} "
                             f"(f={inv.get('f')}) has no completion")
        for p, slot in in_flight.items():
            inv = pairs[slot][0]
            pairs[slot][1] = {"type": "info", "process": p, "f": inv.get("f"), "value": None,
                              "synthesized": True, "index": None}
    return [(a, b) for a, b, _ in pairs]
