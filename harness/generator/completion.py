"""Turning what a client (or a fake one) answered into the completion recorded in the history."""

from __future__ import annotations

from typing import Any

COMPLETION_TYPES = ("ok", "fail", "info")
_CORE_KEYS = frozenset({"index", "time", "type", "process", "f", "value"})


def complete_op(invoke: dict, result: Any) -> dict:
    """The completion of ``invoke`` given the client's answer ``result``.

    ``result`` may be a whole op or a partial dict (``{"type": "ok", "value": 3}``), or just a type
    string. The completion keeps the invoke's ``process`` and ``f`` whatever the client said,
    takes ``value`` from the answer when present (else the invoke's), and keeps extra keys of the
    invoke (``node``, ``key``) and of the answer (``error``). An answer that is not a dict with a
    type ``ok``/``fail``/``info`` becomes ``info``: we cannot know what happened. ``index`` and
    ``time`` are left for the caller to stamp.
    """
    if isinstance(result, str):
        result = {"type": result}
    if not isinstance(result, dict):
        result = {"type": "info", "error": f"client returned {type(result).__name__}, not an op dict"}
    elif result.get("type") not in COMPLETION_TYPES:
        result = {"type": "info",
                  "error": f"client returned type {result.get('type')!r}, not ok/fail/info"}
    c = {"index": None, "time": None, "type": result["type"], "process": invoke.get("process"),
         "f": invoke.get("f"), "value": result["value"] if "value" in result else invoke.get("value")}
    for source in (invoke, result):
        for k, v in source.items():
            if k not in _CORE_KEYS:
                c[k] = v
    return c


def crashed_op(invoke: dict, error: str) -> dict:
    """The ``info`` completion for an invoke whose outcome is unknown (exception, timeout, stop)."""
    return complete_op(invoke, {"type": "info", "error": error})
