"""Queue checker, after Jepsen's total-queue checker, with time-aware refinements.

History: ``enqueue`` invokes carry a unique item; an ``ok`` ``dequeue`` carries the item it took,
or ``None`` when it found the queue empty. An ``info`` dequeue may have taken one item without
our seeing which. The checker reports:

- ``unexpected``: a dequeue returned an item nobody enqueued, whose enqueue certainly failed, or
  whose enqueue began only after that dequeue had completed;
- ``duplicated``: an item dequeued (``ok``) more than once;
- ``lost``: an acknowledged item never dequeued although a dequeue that began after its enqueue
  completed found the queue empty. Each ``info`` dequeue invoked before that empty dequeue
  completed may have taken one such item silently, so only the items left over once every such
  dequeue has been matched to one are lost (at least that many were: which ones is undecidable);
- ``out-of-order`` (when ``fifo``): item a's enqueue completed before b's began, yet b's dequeue
  completed before a's dequeue began: a FIFO queue hands them out in enqueue order;
- ``empty-while-nonempty`` (when ``linearizable``): a dequeue found the queue empty while an item
  was certainly in it (its enqueue had completed before, and its own dequeue began after);
- ``recovered``: an ``info`` enqueue whose item was dequeued later: fine, reported for audit.

Explanations name an enqueue by its invoke's index and a dequeue by its completion's (the op
that carries the value). Any of the first five kinds makes the history invalid. Acknowledged items never dequeued with no
empty dequeue after them (the drain did not finish) make it ``unknown``, unless ``info`` dequeues
can account for them.
"""

from __future__ import annotations

import bisect

from harness.history.pairing import pair_ops


class QueueChecker:
    """``check(test, history, opts)`` for the queue workload (see the module docstring)."""

    def __init__(self, fifo: bool = True, linearizable: bool = True, max_listed: int = 20):
        self.fifo = fifo
        self.linearizable = linearizable
        self.max_listed = max_listed

    def check(self, test, history, opts=None) -> dict:
        enq: dict = {}      # item -> {"inv", "done", "type", "index"}
        deqs: dict = {}     # item -> [(inv, done, index)] of ok dequeues that took it
        empties = []        # (inv, done, index) of ok dequeues that found the queue empty
        info_deq = []       # invoke times of dequeues whose outcome is unknown
        for inv, comp in pair_ops(history, open_as_info=True):
            f, t = inv.get("f"), comp["type"]
            if f == "enqueue":
                enq.setdefault(inv.get("value"), {"inv": inv.get("time", 0), "done": comp.get("time", 0),
                                                  "type": t, "index": inv.get("index")})
            elif f == "dequeue":
                if t == "ok":
                    rec = (inv.get("time", 0), comp.get("time", 0), comp.get("index"))
                    if comp.get("value") is None:
                        empties.append(rec)
                    else:
                        deqs.setdefault(comp.get("value"), []).append(rec)
                elif t == "info":
                    info_deq.append(inv.get("time", 0))
        errors = {k: [] for k in ("unexpected", "duplicated", "lost", "out-of-order",
                                  "empty-while-nonempty")}

        for item, ds in deqs.items():
            e = enq.get(item)
            first = min(ds, key=lambda d: d[1])
            if e is None or e["type"] == "fail" or e["inv"] > first[1]:
                why = ("no enqueue of it was ever invoked" if e is None else
                       f"its enqueue (op #{e['index']}) certainly failed" if e["type"] == "fail" else
                       f"its enqueue (op #{e['index']}) began only after that dequeue completed")
                errors["unexpected"].append((item, f"dequeue op #{first[2]} returned {item!r}, but {why}"))
            if len(ds) > 1:
                errors["duplicated"].append((item, f"item {item!r} was dequeued {len(ds)} times, by ops "
                                             + ", ".join(f"#{d[2]}" for d in sorted(ds))))
        recovered = sorted((i for i in deqs if i in enq and enq[i]["type"] == "info"), key=repr)

        # Acknowledged items never dequeued: absent (an empty dequeue began after) or undrained.
        empty_by_inv = sorted(empties)
        inv_times = [w[0] for w in empty_by_inv]
        # earliest completion among empty dequeues invoked at or after time t (suffix minimum)
        suffix_min = [None] * (len(empty_by_inv) + 1)
        for i in range(len(empty_by_inv) - 1, -1, -1):
            w = empty_by_inv[i]
            nxt = suffix_min[i + 1]
            suffix_min[i] = w if nxt is None or w[1] < nxt[1] else nxt
        absent, undrained = [], []
        for item, e in enq.items():
            if e["type"] != "ok" or item in deqs:
                continue
            w = suffix_min[bisect.bisect_right(inv_times, e["done"])]
            (absent if w is not None else undrained).append((w[1] if w else None, item, w))
        absent.sort(key=lambda x: (x[0], repr(x[1])))
        infos = sorted(info_deq)
        used = 0
        lost = []
        for deadline, item, w in absent:
            if used < len(infos) and infos[used] < deadline:
                used += 1  # an unknown dequeue may have taken it before the empty dequeue
            else:
                lost.append((item, w))
        for item, w in lost:
            e = enq[item]
            errors["lost"].append((item, f"item {item!r} is lost: its enqueue (op #{e['index']}) was "
                                         f"acknowledged, no dequeue returned it, and dequeue op "
                                         f"#{w[2]}, which began after that, found the queue empty"))
        unaccounted = max(0, len(undrained) - (len(infos) - used))

        # Order: items acknowledged-enqueued and dequeued, by enqueue completion.
        done_items = sorted(((e["done"], min(deqs[i])[0], i) for i, e in enq.items()
                             if e["type"] == "ok" and i in deqs), key=lambda x: x[0])
        enq_done = [x[0] for x in done_items]
        pmax = []  # prefix argmax of the dequeue's invoke time
        for x in done_items:
            pmax.append(x if not pmax or x[1] > pmax[-1][1] else pmax[-1])
        if self.fifo:
            for b, ds in deqs.items():
                e = enq.get(b)
                if e is None or e["type"] == "fail":
                    continue
                k = bisect.bisect_left(enq_done, e["inv"])
                if k == 0:
                    continue
                a_done, a_deq_inv, a = pmax[k - 1]
                b_deq = min(ds, key=lambda d: d[1])
                if a_deq_inv > b_deq[1]:
                    errors["out-of-order"].append((b, (
                        f"item {a!r} was enqueued (op #{enq[a]['index']} completed) before item {b!r}'s "
                        f"enqueue (op #{e['index']}) began, but {b!r} was dequeued by op #{b_deq[2]}, "
                        f"which completed before op #{min(deqs[a])[2]} that dequeued {a!r} began: "
                        f"a FIFO queue cannot reorder them")))
        if self.linearizable:
            for w_inv, w_done, w_idx in empties:
                k = bisect.bisect_left(enq_done, w_inv)
                if k == 0:
                    continue
                a_done, a_deq_inv, a = pmax[k - 1]
                if a_deq_inv > w_done:
                    errors["empty-while-nonempty"].append((w_idx, (
                        f"dequeue op #{w_idx} found the queue empty, but item {a!r} was in it all "
                        f"along: its enqueue (op #{enq[a]['index']}) completed before, and the "
                        f"dequeue that took it (op #{min(deqs[a])[2]}) began after")))

        invalid = any(errors[k] for k in ("unexpected", "duplicated", "lost"))
        invalid = invalid or (self.fifo and errors["out-of-order"]) or \
            (self.linearizable and errors["empty-while-nonempty"])
        valid = False if invalid else ("unknown" if unaccounted else True)
        n = self.max_listed
        explanation = [why for k in errors for _, why in errors[k][:n]]
        if unaccounted and not invalid:
            explanation.append(f"{len(undrained)} acknowledged items were never dequeued and no "
                               f"dequeue found the queue empty after them (the drain did not "
                               f"finish): cannot tell lost from still queued")
        out = {"valid": valid,
               "attempt-count": len(enq),
               "acknowledged-count": sum(1 for e in enq.values() if e["type"] == "ok"),
               "dequeued-count": sum(len(d) for d in deqs.values()),
               "empty-dequeue-count": len(empties),
               "info-dequeue-count": len(infos),
               "recovered-count": len(recovered),
               "undrained-count": len(undrained),
               "fifo": self.fifo, "linearizable": self.linearizable}
        for k, errs in errors.items():
            out[f"{k}-count"] = len(errs)
            out[k] = [x for x, _ in errs[:n]]
        out["explanation"] = explanation or ["every acknowledged item was dequeued exactly once"
                                             + (", in FIFO order" if self.fifo else "")]
        return out
