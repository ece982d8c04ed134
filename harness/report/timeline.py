"""timeline.html: every client op as a box in its process's column, time flowing down.

Like Jepsen's timeline, with two differences its users ask for: it stays usable on big histories
(Jepsen stops at 10k ops) and it needs no network. The history is embedded as compact JSON and
drawn by the page's own script onto a canvas, only the part of the run on screen (virtual
scrolling over a time index), so a 100k-op history loads and scrolls like a 100-op one.

Colours follow Jepsen: ok blue, info (unknown) orange, fail pink. Nemesis periods are grey bands
across all columns, named in the left gutter. Hovering a box shows the op; ``#index=N`` in the URL
jumps to the op invoked at history index N, outlines it and pins its details (as a click on a box
does); that is how counterexample pages link to it.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from harness.report.operations import client_ops, nemesis_periods

TYPE_CODES = {"ok": 0, "fail": 1, "info": 2}
MAX_VALUE_CHARS = 200


_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str).encode


def _short(v) -> str | None:
    if v is None:
        return None
    if type(v) is int:  # the common case, without the encoder's overhead
        return str(v)
    s = _ENCODE(v)
    return s if len(s) <= MAX_VALUE_CHARS else s[:MAX_VALUE_CHARS] + "..."


def _proc_key(p):
    return (0, p, "") if isinstance(p, int) and not isinstance(p, bool) else (1, 0, str(p))


def timeline_data(history: list[dict], title: str = "") -> dict:
    """The JSON the page draws: processes, op names and one array per op
    ``[column, start_us, end_us, type, f, index, complete_index, value, result, node, error]``."""
    ops = client_ops(history)
    procs = sorted({o.process for o in ops}, key=_proc_key)
    col = {p: i for i, p in enumerate(procs)}
    fs = sorted({o.f for o in ops})
    fi = {f: i for i, f in enumerate(fs)}
    rows = []
    for o in ops:
        rows.append([col[o.process], o.start // 1000, o.end // 1000, TYPE_CODES.get(o.type, 2),
                     fi[o.f], o.index, o.complete_index, _short(o.value), _short(o.result),
                     None if o.node is None else str(o.node),
                     None if o.error is None else str(o.error)[:MAX_VALUE_CHARS]])
    periods = [[p.name, p.start // 1000, p.end // 1000, p.detail] for p in nemesis_periods(history)]
    return {"title": title, "procs": [str(p) for p in procs], "fs": fs, "ops": rows,
            "nemesis": periods}


def render_timeline(history: list[dict], title: str = "") -> str:
    """The whole timeline page as a string (self-contained: no external scripts or styles)."""
    data = json.dumps(timeline_data(history, title), separators=(",", ":"), ensure_ascii=True)
    # Inside <script>, "</" could close the element; JSON allows "<\/" for the same string.
    data = data.replace("</", "<\\/")
    return (_PAGE.replace("@@TITLE@@", html.escape(title or "timeline"))
            .replace("@@DATA@@", data))


def write_timeline(path, history: list[dict], title: str = "") -> Path:
    """Write the timeline page to ``path``; returns the path."""
    path = Path(path)
    path.write_text(render_timeline(history, title), encoding="utf-8")
    return path


_PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>@@TITLE@@ - timeline</title>
<style>
 html,body{margin:0;height:100%;font:13px system-ui,sans-serif;color:#222}
 #bar{height:34px;display:flex;align-items:center;gap:10px;padding:0 8px;border-bottom:1px solid #ccc;background:#fafafa;white-space:nowrap;overflow:hidden}
 #bar button{font:inherit}
 .sw{display:inline-block;width:12px;height:12px;vertical-align:-2px;border:1px solid #0003;margin-right:3px}
 #scroller{position:absolute;top:35px;left:0;right:0;bottom:0;overflow:auto}
 #cv{position:absolute;top:35px;left:0;pointer-events:none}
 #pin{position:fixed;right:18px;bottom:18px;display:none;background:#fffbe6;border:2px solid #000;padding:6px 8px;max-width:480px;font:12px ui-monospace,monospace;white-space:pre-wrap;z-index:4}
 #tip{position:fixed;display:none;background:#fff;border:1px solid #999;box-shadow:2px 2px 6px #0003;padding:6px 8px;max-width:480px;font:12px ui-monospace,monospace;white-space:pre-wrap;z-index:5;pointer-events:none}
</style></head>
<body>
<div id="bar"><b>@@TITLE@@</b>
 <span><span class="sw" style="background:#6DB6FE"></span>ok <span class="sw" style="background:#FEB5DA"></span>fail <span class="sw" style="background:#FFAA26"></span>info <span class="sw" style="background:#0002"></span>nemesis</span>
 <button id="zin" title="zoom in (time)">+</button><button id="zout" title="zoom out (time)">&minus;</button>
 <label>index <input id="goto" size="7" placeholder="e.g. 572"></label>
 <span id="status">loading...</span></div>
<div id="scroller"><div id="spacer"></div></div>
<canvas id="cv"></canvas><div id="tip"></div><div id="pin" title="click another op to pin it; click here to close"></div>
<script id="data" type="application/json">@@DATA@@</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const OPS = D.ops, N = OPS.length;
const COLORS = ["#6DB6FE", "#FEB5DA", "#FFAA26"], TYPES = ["ok", "fail", "info"];
const GUTTER = 78, HEAD = 22, COLW = 64, GAP = 4;
const sc = document.getElementById("scroller"), sp = document.getElementById("spacer");
const cv = document.getElementById("cv"), ctx = cv.getContext("2d");
const tip = document.getElementById("tip"), st = document.getElementById("status"), pin = document.getElementById("pin");
let t0 = Infinity, t1 = 0;
for (const o of OPS) { if (o[1] < t0) t0 = o[1]; if (o[2] > t1) t1 = o[2]; }
for (const p of D.nemesis) { if (p[1] < t0) t0 = p[1]; if (p[2] > t1) t1 = p[2]; }
if (!isFinite(t0)) { t0 = 0; t1 = 1; }
t0 = Math.min(t0, 0); if (t1 <= t0) t1 = t0 + 1;
// Time index: ops by bucket of the time range they cover, so drawing a screenful never
// scans the whole history (virtual scrolling).
const NB = Math.max(1, Math.min(20000, Math.ceil(N / 8)));
const BW = (t1 - t0) / NB + 1e-9;
const buckets = Array.from({length: NB}, () => []);
for (let i = 0; i < N; i++) {
  const o = OPS[i];
  const b0 = Math.min(NB - 1, Math.floor((o[1] - t0) / BW)), b1 = Math.min(NB - 1, Math.floor((o[2] - t0) / BW));
  for (let b = b0; b <= b1; b++) buckets[b].push(i);
}
const byIndex = new Map(); OPS.forEach((o, i) => byIndex.set(o[5], i));
// Default scale: the median op latency gets ~14 px, within browser size limits.
const lats = OPS.map(o => o[2] - o[1]).filter(x => x > 0).sort((a, b) => a - b);
const med = lats.length ? lats[lats.length >> 1] : 1000;
let scale = Math.min(14 / Math.max(med, 1), 2e7 / (t1 - t0));   // px per microsecond
let stamp = new Int32Array(N), gen = 0, highlight = -1, visible = [];
function y(t) { return HEAD + (t - t0) * scale; }
function layout(keepT) {
  const h = HEAD + (t1 - t0) * scale + 40;
  sp.style.height = h + "px";
  sp.style.width = (GUTTER + D.procs.length * COLW + 20) + "px";
  if (keepT !== undefined) sc.scrollTop = Math.max(0, y(keepT) - sc.clientHeight / 2);
  draw();
}
function fmtT(us) { return (us / 1e6).toFixed(us < 1e7 ? 3 : 2) + " s"; }
function draw() {
  const w = sc.clientWidth, h = sc.clientHeight, dpr = window.devicePixelRatio || 1;
  if (cv.width !== w * dpr || cv.height !== h * dpr) {
    cv.width = w * dpr; cv.height = h * dpr; cv.style.width = w + "px"; cv.style.height = h + "px";
  }
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const top = sc.scrollTop, left = sc.scrollLeft;
  const ta = t0 + (top - HEAD) / scale, tb = t0 + (top + h) / scale;
  // nemesis bands
  ctx.font = "11px system-ui,sans-serif";
  for (const p of D.nemesis) {
    if (p[2] < ta || p[1] > tb) continue;
    const ya = y(p[1]) - top, yb = Math.max(y(p[2]) - top, ya + 2);
    ctx.fillStyle = "rgba(0,0,0,0.09)"; ctx.fillRect(0, ya, w, yb - ya);
  }
  // ops on screen
  gen++; visible = [];
  const b0 = Math.max(0, Math.floor((ta - t0) / BW)), b1 = Math.min(NB - 1, Math.floor((tb - t0) / BW));
  const c0 = Math.max(0, Math.floor((left - GUTTER) / COLW)), c1 = Math.floor((left + w - GUTTER) / COLW);
  for (let b = b0; b <= b1; b++) for (const i of buckets[b]) {
    if (stamp[i] === gen) continue; stamp[i] = gen;
    const o = OPS[i]; if (o[0] < c0 || o[0] > c1) continue;
    visible.push(i);
    const x = GUTTER + o[0] * COLW - left + GAP / 2, ya = y(o[1]) - top, hh = Math.max(2, (o[2] - o[1]) * scale);
    ctx.fillStyle = COLORS[o[3]]; ctx.fillRect(x, ya, COLW - GAP, hh);
    if (i === highlight) { ctx.strokeStyle = "#000"; ctx.lineWidth = 2; ctx.strokeRect(x - 1, ya - 1, COLW - GAP + 2, hh + 2); }
    if (hh >= 13) {
      ctx.fillStyle = "#000"; ctx.save(); ctx.beginPath(); ctx.rect(x, ya, COLW - GAP, hh); ctx.clip();
      ctx.fillText(D.fs[o[4]] + " " + (o[3] === 0 && o[8] !== null && o[8] !== o[7] ? o[8] : (o[7] ?? "")), x + 2, ya + 11);
      ctx.restore();
    }
  }
  // time axis in the gutter, process names in the header
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, GUTTER - 4, h);
  ctx.fillStyle = "#444";
  const stepUs = niceStep(80 / scale);
  for (let t = Math.ceil(ta / stepUs) * stepUs; t <= tb; t += stepUs) {
    const yy = y(t) - top; if (yy < HEAD) continue;
    ctx.fillRect(GUTTER - 10, yy, 6, 1); ctx.fillText(fmtT(t), 2, yy + 4);
  }
  for (const p of D.nemesis) {   // fault names over the gutter, where no op hides them
    if (p[2] < ta || p[1] > tb) continue;
    const ya = y(p[1]) - top, yb = Math.max(y(p[2]) - top, ya + 2);
    ctx.fillStyle = "rgba(0,0,0,0.09)"; ctx.fillRect(0, ya, GUTTER - 4, yb - ya);
    ctx.fillStyle = "#333"; ctx.fillText(p[0], 4, Math.max(ya, HEAD) + 24);
  }
  ctx.fillStyle = "#f3f3f3"; ctx.fillRect(0, 0, w, HEAD);
  ctx.fillStyle = "#222"; ctx.font = "bold 11px system-ui,sans-serif";
  for (let c = c0; c <= Math.min(c1, D.procs.length - 1); c++)
    ctx.fillText("p" + D.procs[c], GUTTER + c * COLW - left + 4, 15);
  ctx.fillStyle = "#f3f3f3"; ctx.fillRect(0, 0, GUTTER - 4, HEAD);
  ctx.fillStyle = "#222"; ctx.fillText("time", 4, 15);
  st.textContent = N + " ops, " + D.procs.length + " processes, " + D.nemesis.length +
    " nemesis periods; showing " + visible.length + " ops at " + fmtT(Math.max(ta, t0));
  document.body.dataset.visibleOps = visible.length;
}
function niceStep(us) {
  for (const s of [1, 2, 5]) for (let m = 1; m <= 1e12; m *= 10) if (s * m >= us) return s * m;
  return 1e12;
}
function opAt(ev) {
  const r = sc.getBoundingClientRect(), x = ev.clientX - r.left + sc.scrollLeft, yy = ev.clientY - r.top + sc.scrollTop;
  const c = Math.floor((x - GUTTER) / COLW), t = t0 + (yy - HEAD) / scale, slack = 2 / scale;
  for (const i of visible) { const o = OPS[i]; if (o[0] === c && o[1] - slack <= t && t <= Math.max(o[2], o[1] + 2 / scale) + slack) return i; }
  return -1;
}
function describe(i) {
  const o = OPS[i], lines = ["process " + D.procs[o[0]] + "  " + D.fs[o[4]] + "  " + TYPES[o[3]],
    "index " + o[5] + (o[6] !== null ? "-" + o[6] : " (no completion)"),
    "invoked " + fmtT(o[1]) + ", latency " + ((o[2] - o[1]) / 1000).toFixed(2) + " ms"];
  if (o[7] !== null) lines.push("value  " + o[7]);
  if (o[8] !== null && o[8] !== o[7]) lines.push("result " + o[8]);
  if (o[9] !== null) lines.push("node   " + o[9]);
  if (o[10] !== null) lines.push("error  " + o[10]);
  return lines.join("\n");
}
sc.addEventListener("scroll", () => requestAnimationFrame(draw));
window.addEventListener("resize", () => draw());
sc.addEventListener("mousemove", ev => {
  const i = opAt(ev);
  if (i < 0) { tip.style.display = "none"; return; }
  tip.textContent = describe(i); tip.style.display = "block";
  tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 360) + "px";
  tip.style.top = Math.min(ev.clientY + 14, window.innerHeight - 140) + "px";
});
sc.addEventListener("mouseleave", () => { tip.style.display = "none"; });
function center() { return t0 + (sc.scrollTop + sc.clientHeight / 2 - HEAD) / scale; }
document.getElementById("zin").onclick = () => { const c = center(); scale = Math.min(scale * 2, 2e7 / (t1 - t0), 50); layout(c); };
document.getElementById("zout").onclick = () => { const c = center(); scale = scale / 2; layout(c); };
function pinOp(i) {
  highlight = i;
  if (i < 0) { pin.style.display = "none"; } else { pin.textContent = describe(i); pin.style.display = "block"; }
}
pin.addEventListener("click", () => { pinOp(-1); draw(); });
sc.addEventListener("click", ev => { const i = opAt(ev); if (i >= 0) { pinOp(i); draw(); } });
function jump(idx) {
  const i = byIndex.get(idx); if (i === undefined) { st.textContent = "no op invoked at index " + idx; return; }
  pinOp(i); const o = OPS[i];
  sc.scrollLeft = Math.max(0, GUTTER + o[0] * COLW - sc.clientWidth / 2);
  layout(o[1]);
}
document.getElementById("goto").addEventListener("change", ev => jump(parseInt(ev.target.value, 10)));
layout();
const m = /index=(\d+)/.exec(location.hash); if (m) jump(parseInt(m[1], 10));
</script></body></html>
"""
