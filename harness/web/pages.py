"""The web UI's HTML: the run list (with filters), a run's page, a checker's counterexample page
and the suite list. Plain server-rendered HTML, no scripts needed, so it works in any browser and
in tests that only read the DOM. Every value from the store is escaped."""

from __future__ import annotations

import json
from html import escape
from urllib.parse import quote

from harness.report.plots import PLOT_FILES
from harness.web.store_index import RunInfo, read_json

CSS = """
body{font:14px system-ui,sans-serif;margin:0;color:#222}
header{background:#233;color:#fff;padding:8px 16px;display:flex;gap:18px;align-items:baseline}
header a{color:#cde}header b{font-size:16px}
main{padding:12px 16px}
table{border-collapse:collapse;margin:8px 0}td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f4f4f4}tr:hover td{background:#fafaf0}
.valid{color:#fff;background:#2e9e4f}.invalid{color:#fff;background:#d62728}
.unknown,.incomplete{color:#222;background:#f0c040}
.v{padding:1px 7px;border-radius:3px;font-weight:600;font-size:12px}
pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:420px;white-space:pre-wrap}
.plots img{max-width:100%;border:1px solid #ddd;margin:4px 0}
form.filters{display:flex;gap:8px;align-items:end;flex-wrap:wrap}
form.filters label{display:flex;flex-direction:column;font-size:12px}
.expl{max-width:1000px;line-height:1.45}
iframe{width:100%;height:520px;border:1px solid #ccc}
"""


def q(rel: str) -> str:
    """A store-relative path, URL-quoted segment by segment."""
    return "/".join(quote(s, safe="") for s in rel.split("/"))


def badge(verdict: str) -> str:
    v = escape(str(verdict))
    return f'<span class="v {v}">{v}</span>'


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
            f' - splitbrain</title><style>{CSS}</style></head><body><header><b>splitbrain</b>'
            f'<a href="/">runs</a><a href="/suites">suites</a><span>{escape(title)}</span>'
            f'</header><main>{body}</main></body></html>')


FILTERS = ("verdict", "db", "workload", "nemesis", "q")


def filter_runs(runs: list[RunInfo], params: dict[str, str]) -> list[RunInfo]:
    """Runs matching every given filter (exact for verdict/db/workload, substring for nemesis and
    for ``q``, which searches the name and the path)."""
    out = []
    for r in runs:
        if params.get("verdict") and r.verdict != params["verdict"]:
            continue
        if params.get("db") and r.db != params["db"]:
            continue
        if params.get("workload") and r.workload != params["workload"]:
            continue
        if params.get("nemesis") and params["nemesis"] not in r.nemesis:
            continue
        if params.get("q") and params["q"].lower() not in (r.name + " " + r.rel).lower():
            continue
        out.append(r)
    return out


def _select(name: str, values, current: str) -> str:
    opts = ['<option value="">any</option>'] + [
        f'<option{" selected" if v == current else ""}>{escape(v)}</option>' for v in values]
    return f'<label>{name}<select name="{name}">{"".join(opts)}</select></label>'


def run_list_page(runs: list[RunInfo], params: dict[str, str], store: str) -> str:
    shown = filter_runs(runs, params)
    form = ('<form class="filters" method="get" action="/">'
            + _select("verdict", ["valid", "invalid", "unknown", "incomplete"], params.get("verdict", ""))
            + _select("db", sorted({r.db for r in runs}), params.get("db", ""))
            + _select("workload", sorted({r.workload for r in runs}), params.get("workload", ""))
            + _select("nemesis", sorted({r.nemesis for r in runs}), params.get("nemesis", ""))
            + f'<label>search<input name="q" value="{escape(params.get("q", ""))}"></label>'
            '<button>filter</button><a href="/">clear</a></form>')
    rows = "".join(
        f'<tr class="run"><td>{badge(r.verdict)}{" (interrupted)" if r.interrupted else ""}</td>'
        f'<td><a href="/run/{q(r.rel)}">{escape(r.name)}</a></td><td>{escape(r.db)}'
        f'{f" <small>{escape(r.options)}</small>" if r.options else ""}</td>'
        f'<td>{escape(r.workload)}</td><td>{escape(r.nemesis)}</td><td>{escape(r.date)}</td>'
        f'<td>{escape(str(r.seed))}</td></tr>' for r in shown)
    table = ('<table id="runs"><tr><th>verdict</th><th>test</th><th>target</th><th>workload</th>'
             f'<th>nemesis</th><th>date</th><th>seed</th></tr>{rows}</table>')
    return page("runs", f"<p>{len(shown)} of {len(runs)} runs in <code>{escape(store)}</code></p>"
                + form + table)


def _checkers(results: dict) -> list[tuple[str, dict]]:
    return [(n, r) for n, r in (results or {}).items() if isinstance(r, dict) and "valid" in r]


def _verdict_word(v) -> str:
    return {True: "valid", False: "invalid"}.get(v, "unknown")


def run_page(info: RunInfo, summary_text: str | None) -> str:
    run = info.path
    base = f"/run/{q(info.rel)}"
    results = read_json(run / "results.json")
    parts = [f'<h2>{escape(info.name)} {badge(info.verdict)}</h2>',
             f'<p>{escape(info.date)} &middot; target <b>{escape(info.db)}</b> '
             f'{escape(info.options)} &middot; workload '
             f'<b>{escape(info.workload)}</b> &middot; nemesis <b>{escape(info.nemesis)}</b> '
             f'&middot; seed {escape(str(info.seed))} &middot; <code>{escape(info.rel)}</code></p>']
    if results is None:
        parts.append("<p>No results.json: the run is still going, or its controller crashed "
                     "(<code>splitbrain analyze</code> checks what it recorded).</p>")
    else:
        rows = []
        for name, r in _checkers(results):
            expl = r.get("explanation") or r.get("error") or r.get("cause") or ""
            link = (f' <a href="{base}/checker/{quote(name, safe="")}">counterexample</a>'
                    if (r.get("failed_op") or r.get("final_paths") or expl) else "")
            rows.append(f'<tr class="checker"><td>{escape(name)}</td>'
                        f'<td>{badge(_verdict_word(r.get("valid")))}</td>'
                        f'<td class="expl">{escape(str(expl))}{link}</td></tr>')
        parts.append("<h3>Checkers</h3><table><tr><th>checker</th><th>verdict</th><th>why</th></tr>"
                     + "".join(rows) + "</table>")
    if summary_text:
        parts.append(f"<h3>Summary</h3><pre>{escape(summary_text)}</pre>")
    parts.append('<h3>Plots</h3><div class="plots">' + "".join(
        f'<div><img alt="{n}" src="{base}/plot/{n}"></div>' for n in PLOT_FILES) + "</div>"
        + PLOT_STATUS_SCRIPT)
    parts.append(f'<h3>Timeline</h3><p><a href="{base}/timeline">open the timeline</a> '
                 f'(one column per process)</p><iframe src="{base}/timeline" title="timeline" loading="lazy"></iframe>')
    files = []
    for f in sorted(run.rglob("*")):
        if f.is_file() and not f.is_symlink() and not f.name.startswith("."):
            rel = f.relative_to(run).as_posix()
            extra = (f' (<a href="/file/{q(info.rel)}/{q(rel)}?download=1">download</a>, '
                     f'<a href="{base}/history.edn">as EDN</a>)' if rel == "history.jsonl" else "")
            files.append(f'<li><a href="/file/{q(info.rel)}/{q(rel)}">{escape(rel)}</a> '
                         f'{f.stat().st_size:,} bytes{extra}</li>')
    parts.append("<h3>Files and logs</h3><ul>" + "".join(files) + "</ul>")
    spec = run / "test.yaml"
    if spec.exists():
        parts.append(f"<h3>test.yaml</h3><pre>{escape(spec.read_text(errors='replace'))}</pre>")
    return page(info.name, "".join(parts))


# Counts the plots that loaded (body data-plots-loaded) and says which could not be drawn, so a
# reader (or a headless browser reading the DOM) can tell a missing plot from a slow one.
PLOT_STATUS_SCRIPT = """<script>
window.addEventListener("load", () => {
  let n = 0;
  for (const img of document.querySelectorAll(".plots img")) {
    if (img.complete && img.naturalWidth > 0) n++;
    else img.insertAdjacentText("afterend", img.alt + " could not be drawn");
  }
  document.body.dataset.plotsLoaded = n;
});
</script>"""


def _op_text(op) -> str:
    if not isinstance(op, dict):
        return escape(json.dumps(op, default=str))
    idx = op.get("index")
    ci = op.get("complete_index")
    where = f"{idx}" + (f"-{ci}" if ci is not None else "")
    return (f'process {escape(str(op.get("process")))} {escape(str(op.get("f")))} '
            f'{escape(json.dumps(op.get("value"), default=str))} '
            f'({escape(str(op.get("type")))}, index {escape(where)})')


def checker_page(info: RunInfo, name: str, r: dict, max_steps: int = 40) -> str:
    """A checker's counterexample: its explanation, the op that could not be placed, the states it
    could have seen, the longest consistent order and the final paths the search explored."""
    base = f"/run/{q(info.rel)}"
    parts = [f'<h2>{escape(info.name)}: {escape(name)} {badge(_verdict_word(r.get("valid")))}</h2>',
             f'<p><a href="{base}">back to the run</a></p>']
    expl = r.get("explanation") or r.get("error") or r.get("cause")
    if expl:
        parts.append(f'<h3>Why</h3><p class="expl">{escape(str(expl))}</p>')
    fo = r.get("failed_op")
    if isinstance(fo, dict):
        parts.append(f'<h3>The operation that cannot be placed</h3><p>{_op_text(fo)} &middot; '
                     f'<a href="{base}/timeline#index={escape(str(fo.get("index")))}">'
                     f'see it in the timeline</a></p>')
    if r.get("states") is not None:
        parts.append(f'<p>States the register could be in at that point: '
                     f'<code>{escape(json.dumps(r["states"], default=str))}</code></p>')
    prefix = r.get("longest_linearizable_prefix")
    if isinstance(prefix, list) and prefix:
        tail = prefix[-max_steps:]
        rows = "".join(f"<tr><td>{len(prefix) - len(tail) + i + 1}</td><td>{_op_text(o)}</td></tr>"
                       for i, o in enumerate(tail))
        parts.append(f"<h3>Longest consistent order ({len(prefix)} ops; the last {len(tail)})</h3>"
                     f"<table><tr><th>#</th><th>op</th></tr>{rows}</table>")
    paths = r.get("final_paths")
    if isinstance(paths, list) and paths:
        parts.append(f"<h3>Final paths ({len(paths)})</h3><p>Each path is an order the search "
                     "tried; its last step is where it got stuck.</p>")
        for k, path in enumerate(paths[:10]):
            steps = path[-12:] if isinstance(path, list) else []
            rows = "".join(
                f'<tr><td>{_op_text(s.get("op") if isinstance(s, dict) else s)}</td>'
                f'<td>{escape(json.dumps(s.get("state") if isinstance(s, dict) else None, default=str))}</td></tr>'
                for s in steps)
            parts.append(f"<h4>path {k + 1} (last {len(steps)} of {len(path)} steps)</h4>"
                         f"<table><tr><th>op</th><th>state after</th></tr>{rows}</table>")
    other = {k: v for k, v in r.items() if k not in (
        "final_paths", "longest_linearizable_prefix", "explanation")}
    parts.append(f"<h3>Result</h3><pre>{escape(json.dumps(other, indent=2, default=str))}</pre>")
    return page(f"{info.name}: {name}", "".join(parts))


def suite_list_page(suites: list[dict]) -> str:
    rows = "".join(
        f'<tr><td>{badge(s["verdict"])}</td><td><a href="/file/{q(s["rel"])}/suite.html">'
        f'{escape(str(s["name"]))}</a></td><td>{escape(s["date"])}</td><td>{s["runs"]}</td></tr>'
        for s in suites)
    return page("suites", "<table><tr><th>verdict</th><th>suite</th><th>date</th><th>runs</th></tr>"
                + rows + "</table>" if suites else "<p>No suites in this store yet.</p>")


def not_found_page(msg: str) -> str:
    return page("not found", f"<p>{escape(msg)}</p><p><a href='/'>all runs</a></p>")


def as_params(query: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in query.items() if k in FILTERS and v and v[0]}
