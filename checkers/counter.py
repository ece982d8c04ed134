"""Counter checker, after Jepsen's counter checker: ``add`` ops (positive or negative deltas) and
``read`` ops. Every ok read must lie within bounds: at the read's completion the counter can be no
lower than the sum of ok adds that completed before the read began plus every add (ok or info)
with a negative delta invoked before the read completed, and no higher than the sum of every add
(ok or info) with a positive delta invoked before the read completed plus the ok negative adds
that completed before the read began. Failed adds never count. The initial value is 0.
"""

from __future__ import annotations

from harness.history.pairing import pair_ops


class CounterChecker:
    """``check(test, history, opts)``: reads outside ``[lower, upper]`` make the history invalid."""

    def __init__(self, max_listed: int = 20):
        self.max_listed = max_listed

    def check(self, test, history, opts=None) -> dict:
        adds, reads = [], []
        for inv, comp in pair_ops(history, open_as_info=True):
            if inv.get("f") == "add" and comp["type"] != "fail":
                adds.append((inv.get("time", 0), comp.get("time", 0), comp["type"], inv["value"]))
            elif inv.get("f") == "read" and comp["type"] == "ok":
                reads.append((inv.get("time", 0), comp.get("time", 0), comp.get("value"), comp.get("index")))
        errors = []
        for t0, t1, v, idx in reads:
            # certain: ok adds done before the read began; possible: any non-failed add invoked before it ended
            certain = [d for (a0, a1, typ, d) in adds if typ == "ok" and a1 < t0]
            possible = [d for (a0, a1, typ, d) in adds if a0 <= t1]
            lower = sum(certain) + sum(d for d in possible if d < 0) - sum(d for d in certain if d < 0)
            upper = sum(certain) + sum(d for d in possible if d > 0) - sum(d for d in certain if d > 0)
            if not isinstance(v, int) or isinstance(v, bool) or not lower <= v <= upper:
                errors.append({"op": idx, "value": v, "lower": lower, "upper": upper})
        expl = [f"read op #{e['op']} saw {e['value']!r}, but the counter could only have been between "
                f"{e['lower']} (acknowledged adds done before the read began, plus every possible "
                f"decrement) and {e['upper']} (every add that may have happened by then)"
                for e in errors[: self.max_listed]]
        return {"valid": not errors, "read-count": len(reads), "add-count": len(adds),
                "error-count": len(errors), "errors": errors[: self.max_listed],
                "explanation": expl or ["every read was within its bounds"]}
