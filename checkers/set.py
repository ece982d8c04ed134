"""Set checker, after Jepsen's ``set-full``: adds, then reads of the whole set.

History shape: ``add`` invokes carry the element; an ``ok`` ``read`` carries the list of elements
it saw. For each element we find when it became *known* (its add was acknowledged, or a read saw it)
and then look at every read that *began after* that moment:

- ``stable``: the last such read saw it (``stale`` too if an earlier one missed it);
- ``lost``: the last such read did not see it: an acknowledged (or observed) element vanished;
- ``never-read``: no read began after it was known;
- ``unexpected``: a read saw an element nobody tried to add, or whose add certainly failed;
- ``recovered``: an add that ended ``info`` (unknown) was later seen: fine, reported for audit.

Lost and unexpected elements make the history invalid; stale ones only when
``linearizable=True`` (a linearizable set may not miss a known element). Latencies are in ms,
from the moment an element became known to the read that settled its outcome.
"""

from __future__ import annotations

from harness.history.pairing import pair_ops


def _ms(ns) -> float:
    return round(ns / 1e6, 3)


class SetChecker:
    """``check(test, history, opts)`` for the set workload (see the module docstring)."""

    def __init__(self, linearizable: bool = False, max_listed: int = 20):
        self.linearizable = linearizable
        self.max_listed = max_listed

    def check(self, test, history, opts=None) -> dict:
        adds: dict = {}  # element -> {"invoke": t, "type": ..., "done": t}
        reads = []       # (invoke_t, done_t, frozenset, index)
        for inv, comp in pair_ops(history, open_as_info=True):
            if inv.get("f") == "add":
                adds[inv["value"]] = {"invoke": inv.get("time", 0), "type": comp["type"],
                                      "done": comp.get("time", 0), "index": inv.get("index")}
            elif inv.get("f") == "read" and comp["type"] == "ok":
                reads.append((inv.get("time", 0), comp.get("time", 0),
                               frozenset(comp.get("value") or ()), comp.get("index")))
        reads.sort(key=lambda r: r[0])

        known: dict = {}
        for e, a in adds.items():
            if a["type"] == "ok":
                known[e] = a["done"]
        unexpected, recovered = {}, []
        for t0, t1, seen, idx in reads:
            for e in seen:
                a = adds.get(e)
                if a is None or a["type"] == "fail" or a["invoke"] > t1:
                    why = ("no add of it was ever invoked" if a is None else
                           "its add certainly failed" if a["type"] == "fail" else
                           "its add was invoked only after the read completed")
                    unexpected.setdefault(e, f"read op #{idx} saw {e!r}, but {why}")
                    continue
                if e not in known or t1 < known[e]:
                    known[e] = t1
                if a["type"] == "info" and e not in recovered:
                    recovered.append(e)

        outcome = {}
        for e, k in known.items():
            if e in unexpected:
                continue
            after = [(t0, t1, e in seen, idx) for t0, t1, seen, idx in reads if t0 >= k]
            if not after:
                outcome[e] = ("never-read", None, None)
                continue
            last = after[-1]
            if last[2]:
                missed = [r for r in after if not r[2]]
                kind = "stale" if missed else "stable"
                lat = (missed[-1][1] - k) if missed else 0
                outcome[e] = (kind, lat, missed[-1][3] if missed else None)
            else:
                first_absent = next(r for r in after if not r[2] and all(not x[2] for x in after[after.index(r):]))
                outcome[e] = ("lost", first_absent[1] - k, first_absent[3])

        by = {k: sorted((e for e, o in outcome.items() if o[0] == k), key=repr)
              for k in ("stable", "stale", "lost", "never-read")}
        lost_expl = []
        for e in by["lost"][: self.max_listed]:
            a = adds.get(e)
            how = (f"its add (op #{a['index']}) was acknowledged" if a and a["type"] == "ok"
                   else "a read saw it")
            lost_expl.append(f"element {e!r} is lost: {how}, but read op #{outcome[e][2]} and every "
                             f"later read did not contain it")
        stale_expl = [f"element {e!r} is stale: read op #{outcome[e][2]} began after it was known "
                      f"but did not see it; a later read did" for e in by["stale"][: self.max_listed]]
        valid = not by["lost"] and not unexpected and not (self.linearizable and by["stale"])
        explanation = lost_expl + list(unexpected.values())[: self.max_listed]
        if self.linearizable:
            explanation += stale_expl
        return {
            "valid": valid,
            "attempt-count": len(adds),
            "acknowledged-count": sum(1 for a in adds.values() if a["type"] == "ok"),
            "read-count": len(reads),
            "stable-count": len(by["stable"]) + len(by["stale"]),
            "lost-count": len(by["lost"]), "lost": by["lost"][: self.max_listed],
            "stale-count": len(by["stale"]), "stale": by["stale"][: self.max_listed],
            "never-read-count": len(by["never-read"]),
            "unexpected-count": len(unexpected), "unexpected": sorted(unexpected, key=repr)[: self.max_listed],
            "recovered-count": len(recovered),
            "lost-latencies-ms": {repr(e): _ms(outcome[e][1]) for e in by["lost"][: self.max_listed]},
            "stale-latencies-ms": {repr(e): _ms(outcome[e][1]) for e in by["stale"][: self.max_listed]},
            "explanation": explanation or ["every acknowledged element was seen by the last read"],
        }
