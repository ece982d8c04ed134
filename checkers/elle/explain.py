"""Cycles in words: "T1 < T2 because ...; however T2 < T1 because ...: a contradiction!".

A found cycle is a list of transaction ids and the label of each step. Each step is justified
by the workload's analysis (``analysis.explain(a, b, label)`` gives the key and values,
``analysis.render`` the sentence), or by the process/realtime order.
"""

from __future__ import annotations

import json

from .graph import LABELS, PROCESS, REALTIME


def step_data(analysis, txns, a, b, label) -> dict:
    """The evidence for ``a`` preceding ``b`` by ``label`` as plain data."""
    if label == PROCESS:
        return {"type": "process", "process": txns[a].process}
    if label == REALTIME:
        return {"type": "realtime", "completed": txns[a].index,
                "invoked": txns[b].op.get("index") if txns[b].op else txns[b].index}
    d = analysis.explain(a, b, label)
    return d if d is not None else {"type": LABELS[label]}


def render_step(analysis, step, a_name, b_name) -> str:
    t = step["type"]
    if t == "process":
        return f"process {step['process']!r} executed {a_name} before {b_name}"
    if t == "realtime":
        return f"{a_name} completed before {b_name} began"
    s = analysis.render(step, a_name, b_name)
    return s or f"{a_name} {t} {b_name}"


def short_step(step) -> str:
    """``rw(x,1->2)``-style edge label, as Elle prints cycles."""
    t = step["type"]
    if t in ("ww", "rw"):
        v2 = step.get("value'")
        return f"{t}({_v(step.get('key'))},{_v(step.get('value'))}->{_v(v2)})"
    if t == "wr":
        return f"wr({_v(step.get('key'))},{_v(step.get('value'))})"
    if t == "process":
        return f"process({step['process']})"
    return "realtime"


def _v(x):
    if x is None:
        return "nil"
    if isinstance(x, str):
        return x
    return json.dumps(x, default=str) if not isinstance(x, tuple) else json.dumps(list(x))


def _op_text(t) -> str:
    value = [[f, list(k) if isinstance(k, tuple) else k, list(v) if isinstance(v, tuple) else v]
             for f, k, v in t.mops]
    return json.dumps({"index": t.index, "type": t.type, "process": t.process, "value": value},
                      default=str)


def explain_cycle(analysis, txns, cycle_type, verts, labels) -> dict:
    """A JSON-able explanation of one cycle: ops, steps, a one-line summary and the text."""
    ids = verts[:-1]
    names = {tid: f"T{i + 1}" for i, tid in enumerate(ids)}
    steps = []
    for (a, b), lab in zip(zip(verts, verts[1:]), labels):
        steps.append(step_data(analysis, txns, a, b, lab))
    summary = " ".join(
        f"{txns[a].index} -{short_step(s)}->" for a, s in zip(ids, steps)) + f" {txns[verts[-1]].index}"
    lines = ["Let:"]
    for tid in ids:
        lines.append(f"  {names[tid]} = {_op_text(txns[tid])}")
    lines.append("")
    lines.append("Then:")
    n = len(steps)
    for i, ((a, b), s) in enumerate(zip(zip(verts, verts[1:]), steps)):
        why = render_step(analysis, s, names[a], names[b])
        if i == n - 1:
            lines.append(f"  - However, {names[a]} < {names[b]}, because {why}: a contradiction!")
        else:
            lines.append(f"  - {names[a]} < {names[b]}, because {why}.")
    return {
        "type": cycle_type,
        "cycle": [txns[v].index for v in verts],
        "steps": steps,
        "summary": f"[{' '.join(str(txns[v].index) for v in verts)}]: {summary}",
        "explanation": "\n".join(lines),
    }
