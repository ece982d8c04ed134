"""``splitbrain suite SUITE.yaml``: a matrix of tests run one after another, one summary.

A suite file names the axes of the matrix; every combination (targets x workloads x nemeses x
seeds, in that order) is one ``splitbrain test`` run through :func:`harness.runner.run_test`::

    name: nightly
    store: store                  # optional; --store overrides it
    defaults:                     # any test.yaml setting, for every run
      nodes: 3
      time-limit: 30
    targets:                      # a name, or a mapping of test settings (+ an optional label)
      - etcd
      - {label: etcd-serializable, db: etcd, db-options: {serializable: true}}
    workloads: [register]
    nemeses:                      # a name, a list of names, "none", or a mapping of settings
      - none
      - partition
      - {label: leader, nemesis: partition, nemesis-options: {partition: primaries}}
    seeds: [1, 2, 3]              # default: one run with a random seed
    runs:                         # optional extra runs, each a full set of test settings
      - {name: etcd-smoke, db: etcd, time-limit: 5}

Runs go one at a time (``parallelism: 1``, the only value for now: runs share the machine's
namespaces and CPU, and parallel runs would make each other's latencies meaningless). A run that
fails to start (bad input, environment) is recorded as an error and the suite goes on. The exit
code is the worst of the runs' (harness/input errors > invalid > unknown > valid).

The summary goes to ``<store>/_suites/<name>/<timestamp>/``: ``suite.json`` (machine-readable),
``suite.html`` (a table linking each run's page in ``splitbrain serve``) and ``junit.xml`` (one
testcase per run); a table is printed at the end.
"""

from __future__ import annotations

import html
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from harness import exit_codes
from harness.config import TestSpec, build_spec, load_yaml
from harness.errors import InputError, SplitbrainError

SUITE_KEYS = {"name", "store", "defaults", "targets", "workloads", "nemeses", "seeds", "runs",
              "parallelism"}
AXES = (("targets", "db"), ("workloads", "workload"), ("nemeses", "nemesis"))


@dataclass
class Suite:
    """A loaded suite: its name, store and the specs of its runs, in order."""

    name: str
    store: str
    specs: list[TestSpec]
    source: str = ""

    @staticmethod
    def describe(spec: TestSpec) -> str:
        """One line naming a run: test name, target, workload, nemesis, seed."""
        return (f"{spec.resolved_name()}\tdb={spec.db} workload={spec.workload} "
                f"nemesis={','.join(spec.nemesis) or 'none'} seed={spec.seed}")


@dataclass
class SuiteOutcome:
    """What a suite produced: each run's row, the summary directory and the exit code."""

    rows: list[dict]
    path: Path
    exit_code: int
    verdict: str = field(default="valid")


def _norm_keys(d: dict) -> dict:
    return {str(k).replace("-", "_"): v for k, v in d.items()}


def _axis_entries(data: dict, axis: str, key: str, where) -> list[tuple[str | None, dict]]:
    """``[(label, settings)]`` for one axis; a missing axis is one empty entry (defaults)."""
    v = data.get(axis)
    if v is None:
        return [(None, {})]
    if not isinstance(v, list) or not v:
        raise InputError(f"{where(axis)}: must be a non-empty list")
    out = []
    for i, e in enumerate(v):
        if isinstance(e, str) or (key == "nemesis" and isinstance(e, list)):
            out.append((None, {key: e}))
            continue
        if not isinstance(e, dict):
            raise InputError(f"{where(axis)}[{i}]: must be a name or a mapping of test settings, "
                             f"got {e!r}")
        e = _norm_keys(e)
        label = e.pop("label", None)
        if label is not None and (not isinstance(label, str) or not label):
            raise InputError(f"{where(axis)}[{i}]: label: must be a non-empty string")
        out.append((label, e))
    return out


def load_suite(path: str, store: str | None = None) -> Suite:
    """Read and validate a suite file; every run's spec is built (and checked) up front, so a
    typo in the last combination is reported before the first run starts."""
    raw, lines = load_yaml(path)

    def where(key):
        line = lines.get(key.replace("-", "_"))
        return f"{path}:{line}: {key}" if line else f"{path}: {key}"

    unknown = sorted(set(raw) - SUITE_KEYS)
    if unknown:
        raise InputError(f"{where(unknown[0])}: unknown suite setting (valid: "
                         f"{', '.join(sorted(SUITE_KEYS))})")
    par = raw.get("parallelism", 1)
    if par != 1:
        raise InputError(f"{where('parallelism')}: only 1 is supported (runs share the machine), "
                         f"got {par!r}")
    name = raw.get("name") or Path(path).stem
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InputError(f"{where('name')}: must be letters, digits, '-', '_', '.', got {name!r}")
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise InputError(f"{where('defaults')}: must be a mapping of test settings")
    defaults = _norm_keys(defaults)
    store = store or raw.get("store") or defaults.get("store") or "store"
    seeds = raw.get("seeds")
    if seeds is None:
        seeds = [None]
    if not isinstance(seeds, list) or not seeds or not all(
            s is None or (isinstance(s, int) and not isinstance(s, bool) and s >= 0) for s in seeds):
        raise InputError(f"{where('seeds')}: must be a non-empty list of non-negative integers")
    specs = []
    axes = [_axis_entries(raw, axis, key, where) for axis, key in AXES]
    has_matrix = any(raw.get(axis) is not None for axis, _ in AXES) or raw.get("runs") is None
    if has_matrix:
        for (tl, t), (wl, w), (nl, n), seed in itertools.product(*axes, seeds):
            values = {**defaults, **t, **w, **n, "store": store}
            if seed is not None:
                values["seed"] = seed
            if "name" not in values and (tl or wl or nl):
                spec0 = _build(values, path, "matrix")
                parts = [tl or spec0.db.replace(":", "."), wl or spec0.workload,
                         nl or ("+".join(spec0.nemesis) or "none")]
                values["name"] = "-".join(parts)
            specs.append(_build(values, path, f"run {len(specs) + 1}"))
    extra = raw.get("runs") or []
    if not isinstance(extra, list):
        raise InputError(f"{where('runs')}: must be a list of test settings")
    for i, e in enumerate(extra):
        if not isinstance(e, dict):
            raise InputError(f"{where('runs')}[{i}]: must be a mapping of test settings")
        values = {**defaults, **_norm_keys(e), "store": store}
        for seed in (seeds if "seed" not in values else [values["seed"]]):
            if seed is not None:
                values = {**values, "seed": seed}
            specs.append(_build(values, path, f"runs[{i}]"))
    return Suite(name=name, store=str(store), specs=specs, source=str(path))


def _build(values: dict, path: str, where: str) -> TestSpec:
    try:
        return build_spec(values, source=f"{path}: {where}")
    except InputError as e:
        raise InputError(str(e)) from None


def _run_one(spec: TestSpec) -> dict:
    from harness.runner import run_test

    row = {"name": spec.resolved_name(), "db": spec.db, "workload": spec.workload,
           "nemesis": ",".join(spec.nemesis) or "none", "seed": spec.seed, "bug": spec.bug}
    started = time.monotonic()
    try:
        outcome = run_test(spec)
    except SplitbrainError as e:
        row.update(verdict="error", exit_code=e.exit_code, run=None, reason=str(e))
    else:
        results = outcome.results
        reasons = [str(r.get("explanation") or r.get("error") or r.get("cause") or "")
                   for r in results.values() if isinstance(r, dict) and r.get("valid") is not True]
        row.update(verdict=exit_codes.verdict_word(results.get("valid")),
                   exit_code=outcome.exit_code, run=str(outcome.run.path),
                   reason=next((r for r in reasons if r), ""), ops=_ops(outcome.run.history))
        # Ctrl-C/SIGTERM ended this run (run_test handles the signal itself): stop the suite.
        row["_interrupted"] = bool(results.get("interrupted"))
    row["seconds"] = round(time.monotonic() - started, 1)
    return row


def _ops(history_path) -> dict:
    try:
        from harness.history.jsonl import read_jsonl
        from harness.report.summary import op_counts

        counts = op_counts(read_jsonl(history_path, allow_truncated_tail=True))
        return {k: sum(r[k] for r in counts.values()) for k in ("ok", "fail", "info")}
    except Exception:  # noqa: BLE001 - a count is decoration
        return {}


def run_suite(suite: Suite, *, out=None) -> SuiteOutcome:
    """Run every spec of ``suite`` in turn; write and print the summary (to ``out``, default
    stdout); return the outcome."""
    out = out or sys.stdout
    root = Path(suite.store)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    sdir = root / "_suites" / suite.name / stamp
    n = 1
    while sdir.exists():
        n += 1
        sdir = root / "_suites" / suite.name / f"{stamp}-{n}"
    sdir.mkdir(parents=True)
    rows: list[dict] = []
    interrupted = False
    for i, spec in enumerate(suite.specs, 1):
        print(f"suite {suite.name}: run {i}/{len(suite.specs)}: {suite.describe(spec)}",
              file=sys.stderr, flush=True)
        try:
            rows.append(_run_one(spec))
        except KeyboardInterrupt:
            interrupted = True
            break
        if rows[-1].pop("_interrupted", False):
            interrupted = True
            break
        _write(suite, sdir, rows, stamp, len(suite.specs), interrupted)  # a partial summary
    for spec in suite.specs[len(rows):]:
        rows.append({"name": spec.resolved_name(), "db": spec.db, "workload": spec.workload,
                     "nemesis": ",".join(spec.nemesis) or "none", "seed": spec.seed,
                     "verdict": "not run", "exit_code": None, "run": None, "reason": "interrupted"})
    codes = [r["exit_code"] for r in rows if r["exit_code"] is not None]
    code = 130 if interrupted else exit_codes.worst(codes)
    verdict = _suite_verdict(rows, interrupted)
    _write(suite, sdir, rows, stamp, len(suite.specs), interrupted)
    print(format_table(rows, root), file=out)
    print(f"summary: {sdir / 'suite.html'}", file=out)
    print(f"suite verdict: {verdict}", file=out, flush=True)
    return SuiteOutcome(rows, sdir, code, verdict)


def _suite_verdict(rows, interrupted) -> str:
    words = {r["verdict"] for r in rows}
    for w in ("error", "invalid", "unknown"):
        if w in words:
            return w
    return "interrupted" if interrupted else "valid"


def _rel(run, root: Path) -> str | None:
    if not run:
        return None
    try:
        return Path(run).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(run)


def format_table(rows: list[dict], root: Path) -> str:
    """The printed table: one line per run."""
    head = ["#", "verdict", "code", "test", "seed", "ok/fail/info", "time", "run"]
    body = []
    for i, r in enumerate(rows, 1):
        ops = r.get("ops") or {}
        body.append([str(i), r["verdict"], "" if r["exit_code"] is None else str(r["exit_code"]),
                     r["name"], str(r["seed"]),
                     "/".join(str(ops.get(k, "-")) for k in ("ok", "fail", "info")) if ops else "-",
                     f"{r.get('seconds', 0):.0f}s" if "seconds" in r else "-",
                     _rel(r.get("run"), root) or (r.get("reason") or "")[:60]])
    widths = [max(len(x[c]) for x in [head] + body) for c in range(len(head))]
    return "\n".join("  ".join(x[c].ljust(widths[c]) for c in range(len(head))).rstrip()
                     for x in [head] + body)


def _write(suite: Suite, sdir: Path, rows, stamp, total, interrupted) -> None:
    from harness.store import write_json_atomic

    root = Path(suite.store)
    for r in rows:
        r["rel"] = _rel(r.get("run"), root)
    data = {"name": suite.name, "source": suite.source, "started": stamp, "total": total,
            "verdict": _suite_verdict(rows, interrupted), "interrupted": interrupted,
            "exit_code": exit_codes.worst([r["exit_code"] for r in rows
                                          if r.get("exit_code") is not None]),
            "runs": rows}
    write_json_atomic(sdir / "suite.json", data)
    (sdir / "suite.html").write_text(render_html(data), encoding="utf-8")
    (sdir / "junit.xml").write_text(suite_junit(data), encoding="utf-8")


def render_html(data: dict) -> str:
    """suite.html: the runs as a table; a test's name links to its page in ``splitbrain serve``,
    "timeline" to the run's timeline by relative path (works from disk too)."""
    e = html.escape
    rows = []
    for i, r in enumerate(data["runs"], 1):
        rel = r.get("rel")
        name = e(r["name"])
        if rel:
            q = "/".join(quote(s, safe="") for s in rel.split("/"))
            name = (f'<a href="/run/{q}">{name}</a> <small>(<a href="../../../{q}/timeline.html">'
                    f'timeline</a>)</small>')
        ops = r.get("ops") or {}
        rows.append(
            f'<tr class="suite-run"><td>{i}</td><td><span class="v {e(r["verdict"]).replace(" ", "-")}">'
            f'{e(r["verdict"])}</span></td><td>{name}</td><td>{e(r["db"])}</td>'
            f'<td>{e(r["workload"])}</td><td>{e(r["nemesis"])}</td><td>{e(str(r["seed"]))}</td>'
            f'<td>{e("/".join(str(ops.get(k, "-")) for k in ("ok", "fail", "info")))}</td>'
            f'<td>{e(str(r.get("seconds", "")))}</td><td>{e((r.get("reason") or "")[:300])}</td></tr>')
    counts = {}
    for r in data["runs"]:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    tally = ", ".join(f"{n} {w}" for w, n in sorted(counts.items()))
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>suite {e(data["name"])}</title><style>
body{{font:14px system-ui,sans-serif;margin:16px;color:#222}}
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}}
th{{background:#f4f4f4}}.v{{padding:1px 7px;border-radius:3px;font-weight:600;font-size:12px}}
.valid{{color:#fff;background:#2e9e4f}}.invalid,.error{{color:#fff;background:#d62728}}
.unknown,.not-run,.interrupted{{background:#f0c040}}
</style></head><body>
<h2>suite {e(data["name"])} <span class="v {e(data["verdict"])}">{e(data["verdict"])}</span></h2>
<p>started {e(data["started"])} &middot; {len(data["runs"])} of {data["total"]} runs: {e(tally)}
&middot; exit code {data["exit_code"]} &middot; <a href="suite.json">suite.json</a> &middot;
<a href="junit.xml">junit.xml</a></p>
<table id="suite"><tr><th>#</th><th>verdict</th><th>test</th><th>target</th><th>workload</th>
<th>nemesis</th><th>seed</th><th>ok/fail/info</th><th>seconds</th><th>why</th></tr>
{"".join(rows)}</table></body></html>
"""


def suite_junit(data: dict) -> str:
    """JUnit XML with one testcase per run (CI shows which combination broke)."""
    import xml.etree.ElementTree as ET

    runs = data["runs"]
    top = ET.Element("testsuites")
    s = ET.SubElement(top, "testsuite", {
        "name": f"suite.{data['name']}", "tests": str(len(runs)),
        "failures": str(sum(r["verdict"] == "invalid" for r in runs)),
        "errors": str(sum(r["verdict"] in ("error", "unknown") for r in runs)),
        "skipped": str(sum(r["verdict"] == "not run" for r in runs))})
    for r in runs:
        tc = ET.SubElement(s, "testcase", {"classname": f"splitbrain.suite.{data['name']}",
                                           "name": f"{r['name']} seed={r['seed']}",
                                           "time": str(r.get("seconds", 0))})
        kind = {"invalid": "failure", "error": "error", "unknown": "error",
                "not run": "skipped"}.get(r["verdict"])
        if kind:
            el = ET.SubElement(tc, kind, {"message": (r.get("reason") or r["verdict"])[:1000]})
            el.text = json.dumps({k: r.get(k) for k in ("run", "exit_code", "reason")})
    ET.indent(top)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(top, encoding="unicode") + "\n"
