"""Unique-ids checker (Jepsen's unique-ids): every ok ``generate`` must return an id no other ok
``generate`` returned. Reports duplicates (with the ops that got them) and the id range."""

from __future__ import annotations

from harness.history.pairing import pair_ops


class UniqueIdsChecker:
    """``check(test, history, opts)``: any id returned twice makes the history invalid."""

    def __init__(self, max_listed: int = 20):
        self.max_listed = max_listed

    def check(self, test, history, opts=None) -> dict:
        seen: dict = {}
        attempted = 0
        for inv, comp in pair_ops(history, open_as_info=True):
            if inv.get("f") != "generate":
                continue
            attempted += 1
            if comp["type"] == "ok":
                seen.setdefault(repr(comp.get("value")), []).append((comp.get("value"), comp.get("index")))
        dups = {k: v for k, v in seen.items() if len(v) > 1}
        ids = [v[0][0] for v in seen.values()]
        try:
            rng = [min(ids), max(ids)] if ids else None
        except TypeError:
            rng = None
        expl = [f"id {v[0][0]!r} was returned {len(v)} times, by ops "
                + ", ".join(f"#{i}" for _, i in v) for v in list(dups.values())[: self.max_listed]]
        return {"valid": not dups, "attempted-count": attempted,
                "acknowledged-count": sum(len(v) for v in seen.values()),
                "duplicated-count": len(dups),
                "duplicated": {k: len(v) for k, v in list(dups.items())[: self.max_listed]},
                "range": rng, "explanation": expl or ["no id was returned twice"]}
