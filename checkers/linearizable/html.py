"""The counterexample page: a self-contained HTML file (inline SVG + JS, no network) that draws the
concurrent operations on a time axis (history index), one row per process, as Porcupine's
visualization does, and lets the reader step through the longest partial linearizations: the
ops of the chosen one are numbered in linearization order with the state after each, and the op
that could not be placed is outlined in red with the states it could have seen.
"""

from __future__ import annotations

import html
import json
import os

#: The page shows at most this many ops: those around the failure (a window of the history).
MAX_OPS_SHOWN = 1500


def _window(ops: list[dict], failed: dict, paths: list[list[dict]]) -> list[dict]:
    if len(ops) <= MAX_OPS_SHOWN:
        return ops
    end = failed.get("complete_index") or failed["index"]
    before = [o for o in ops if o["index"] <= end]
    keep = before[-(MAX_OPS_SHOWN - 100):]
    lo = keep[0]["index"] if keep else 0
    after = [o for o in ops if o["index"] > end][:100]
    return [o for o in keep if o["index"] >= lo] + after


def render(result: dict, ops: list[dict], title: str = "linearizability counterexample") -> str:
    """The page for an invalid ``result`` (check_history's dict) over the partition's ``ops``
    (op summaries as in the result)."""
    failed = result["failed_op"]
    paths = [[{"op": p["op"], "state": p["state"]} for p in path]
             for path in result.get("final_paths", [])]
    shown = _window(ops, failed, paths)
    data = {
        "ops": shown,
        "omitted": len(ops) - len(shown),
        "failed": failed,
        "paths": paths,
        "states": [json.dumps(s) for s in result.get("states", [])],
        "n_states": result.get("n_states", 0),
        "explanation": result.get("explanation", ""),
        "model": result.get("model"),
    }
    blob = json.dumps(data, default=repr).replace("</", "<\\/")
    return _PAGE.replace("__TITLE__", html.escape(title)).replace("__DATA__", blob)


def write_counterexample(result: dict, ops: list[dict], directory: str,
                         title: str = "linearizability counterexample") -> str:
    """Write ``directory/counterexample.html``; returns its path."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "counterexample.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(result, ops, title))
    return path


_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 8px}
#explanation{max-width:1100px;background:#fff6f6;border-left:4px solid #c33;padding:8px 12px}
#controls{margin:10px 0}
svg text{font-size:10px;font-family:monospace}
.op rect{fill:#cfe0f5;stroke:#4a78b0}
.op.info rect{fill:#eee;stroke:#999;stroke-dasharray:3 2}
.op.linearized rect{fill:#9fd49f;stroke:#2f7d2f}
.op.failed rect{fill:#f7c6c6;stroke:#c00;stroke-width:2.5}
.op:hover rect{stroke-width:2.5}
.ord{fill:#174d17;font-weight:bold}
#detail{font-family:monospace;white-space:pre-wrap;margin-top:8px;min-height:3em}
</style></head><body>
<h1>__TITLE__</h1>
<div id="explanation"></div>
<div id="controls">partial linearization: <select id="path"></select>
 <span id="pathinfo"></span></div>
<div id="states"></div>
<div id="chart"></div>
<div id="detail">hover an operation for details</div>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const NS = "http://www.w3.org/2000/svg";
function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function show(v) { return v === null || v === undefined ? "nil" : JSON.stringify(v); }
function label(op) { return op.f + " " + show(op.value); }
document.getElementById("explanation").textContent = D.explanation;
const st = document.getElementById("states");
st.textContent = "states it could have seen (" + D.n_states + "): " + D.states.slice(0, 12).join(", ")
  + (D.omitted ? "  (" + D.omitted + " earlier ops not drawn)" : "");
const procs = [...new Set(D.ops.map(o => String(o.process)))];
const row = {}; procs.forEach((p, i) => row[p] = i);
// Time axis: the rank of each call/return position among the drawn ops (as Porcupine does), so
// the gaps left by other keys' ops take no room.
const posSet = new Set();
for (const o of D.ops) { posSet.add(o.index); if (o.complete_index !== null) posSet.add(o.complete_index); }
const positions = [...posSet].sort((a, b) => a - b);
const rank = new Map(positions.map((p, i) => [p, i]));
const lo = positions.length ? positions[0] : 0, hi = positions.length ? positions[positions.length - 1] : 1;
const STEP = 14, RH = 22, LEFT = 70, W = (positions.length + 4) * STEP;
const H = procs.length * RH + 30;
const svg = el("svg", {width: LEFT + W + 20, height: H, id: "timeline"}, document.getElementById("chart"));
const x = i => LEFT + (i === null ? positions.length + 2 : rank.get(i)) * STEP;
procs.forEach((p, i) => {
  const t = el("text", {x: 2, y: 20 + i * RH + 14}, svg); t.textContent = "process " + p;
});
const axis = el("text", {x: LEFT, y: 12}, svg);
axis.textContent = "history index " + lo + " .. " + hi + " (time runs right)";
const nodes = new Map();
for (const o of D.ops) {
  const end = o.complete_index;
  const g = el("g", {"class": "op" + (o.type === "info" ? " info" : ""), "data-index": o.index}, svg);
  const y = 20 + row[String(o.process)] * RH;
  el("rect", {x: x(o.index), y: y, width: Math.max(3, x(end) - x(o.index)), height: RH - 4, rx: 3}, g);
  const t = el("text", {x: x(o.index) + 3, y: y + 12}, g);
  const room = Math.floor((x(end) - x(o.index)) / 6.2);
  const full = label(o);
  t.textContent = full.length <= room ? full : (room > 2 ? full.slice(0, room - 1) + "…" : "");
  const ord = el("text", {x: x(o.index) + 3, y: y + RH - 6, "class": "ord"}, g);
  g.addEventListener("mouseenter", () => {
    document.getElementById("detail").textContent = "op " + o.index + " process " + o.process
      + " " + label(o) + " -> " + o.type + (o.complete_index !== null ? " (completed at " + o.complete_index + ")" : "")
      + (g.dataset.state ? "\nlinearized #" + g.dataset.order + ", state after: " + g.dataset.state : "");
  });
  nodes.set(o.index, {g, ord});
}
const failedNode = nodes.get(D.failed.index);
if (failedNode) failedNode.g.classList.add("failed");
const sel = document.getElementById("path");
D.paths.forEach((p, i) => {
  const opt = document.createElement("option"); opt.value = i;
  opt.textContent = "#" + (i + 1) + " (" + p.length + " ops)"; sel.appendChild(opt);
});
function choose(i) {
  for (const {g, ord} of nodes.values()) {
    g.classList.remove("linearized"); ord.textContent = ""; delete g.dataset.state;
  }
  const p = D.paths[i] || [];
  p.forEach((step, k) => {
    const n = nodes.get(step.op.index);
    if (!n) return;
    n.g.classList.add("linearized");
    n.ord.textContent = "#" + (k + 1);
    n.g.dataset.state = show(step.state); n.g.dataset.order = k + 1;
  });
  document.getElementById("pathinfo").textContent = p.length
    ? p.length + " ops linearized; then " + label(D.failed) + " (op " + D.failed.index + ", process "
      + D.failed.process + ") cannot be placed" : "";
}
sel.addEventListener("change", () => choose(+sel.value));
choose(0);
document.body.dataset.drawn = String(nodes.size);
</script></body></html>
"""
