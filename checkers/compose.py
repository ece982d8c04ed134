"""Compose checker results: ``false`` beats ``unknown`` beats ``true``.

``compose({name: result})`` merges results already computed; ``run_checkers({name: checker},
test, history, opts)`` runs each checker and turns one that raises into
``{"valid": "unknown", "error": "<ExcType>: msg"}`` so one broken checker cannot hide the others.
"""

from __future__ import annotations

VALID_VALUES = (True, False, "unknown")
_RANK = {True: 0, "unknown": 1, False: 2}


def merge_valid(values) -> object:
    """The worst of ``values`` (false > unknown > true); True for none. Anything that is not
    True/False/"unknown" counts as "unknown"."""
    worst = True
    for v in values:
        v = _norm(v)
        if _RANK[v] > _RANK[worst]:
            worst = v
    return worst


def _norm(v):
    # bool first: 1 == True and 0 == False in Python, but only real booleans count.
    if v is True or v is False:
        return v
    return "unknown"


def compose(results: dict) -> dict:
    """``{"valid": merged, name: result, ...}`` (Jepsen's compose shape)."""
    if "valid" in results:
        raise ValueError("a checker cannot be named 'valid'")
    merged = merge_valid(r.get("valid") if isinstance(r, dict) else None for r in results.values())
    return {"valid": merged, **results}


def run_checkers(checkers: dict, test, history, opts=None) -> dict:
    """Run every checker on ``history`` and compose the results."""
    results = {}
    for name, checker in checkers.items():
        try:
            r = checker.check(test, history, opts)
            if not isinstance(r, dict) or "valid" not in r:
                r = {"valid": "unknown", "error": f"TypeError: checker returned {type(r).__name__} "
                                                  f"without 'valid'"}
        except Exception as e:  # noqa: BLE001 - a broken checker must not hide the others
            r = {"valid": "unknown", "error": f"{type(e).__name__}: {e}"}
        results[name] = r
    return compose(results)
