"""What the store holds: its runs (``<test>/<timestamp>/`` with a test.yaml or history.jsonl) and
its suite summaries (``_suites/<suite>/<timestamp>/suite.json``), with what the run list shows."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

SUITES_DIR = "_suites"


@dataclass(frozen=True)
class RunInfo:
    """One run as the run list shows it."""

    rel: str            # "<test>/<timestamp>", relative to the store
    path: Path
    name: str
    db: str
    workload: str
    nemesis: str
    date: str           # "2026-11-28 05:02:22"
    verdict: str        # valid | invalid | unknown | incomplete
    seed: object = None
    interrupted: bool = False
    options: str = ""   # the db-options and bug, shown under the target ("serializable=true")


def _verdict(results) -> str:
    if not isinstance(results, dict):
        return "incomplete"
    v = results.get("valid")
    return {True: "valid", False: "invalid"}.get(v, "unknown")


def _date(stamp: str, path: Path) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.strptime(stamp[:15], "%Y%m%dT%H%M%S"))
    except ValueError:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(path.stat().st_mtime))


def read_json(path: Path):
    """A JSON file's content, or None when missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_spec(path: Path) -> dict:
    """test.yaml as a dict ({} when missing or unreadable)."""
    try:
        d = yaml.safe_load(path.read_text(encoding="utf-8"))
        return d if isinstance(d, dict) else {}
    except (OSError, yaml.YAMLError):
        return {}


def run_info(root: Path, run: Path) -> RunInfo:
    """Metadata of one run directory."""
    spec = read_spec(run / "test.yaml")
    results = read_json(run / "results.json")
    nem = spec.get("nemesis")
    nem = ",".join(map(str, nem)) if isinstance(nem, list) else str(nem or "none")
    opts = spec.get("db-options") if isinstance(spec.get("db-options"), dict) else {}
    options = " ".join(f"{k}={json.dumps(v)}" for k, v in opts.items())
    if spec.get("bug"):
        options = f"bug={spec['bug']} {options}".strip()
    return RunInfo(
        rel=run.relative_to(root).as_posix(), path=run, name=str(spec.get("name") or run.parent.name),
        db=str(spec.get("db", "?")), workload=str(spec.get("workload", "?")), nemesis=nem or "none",
        date=_date(run.name, run), verdict=_verdict(results), seed=spec.get("seed"),
        interrupted=bool(isinstance(results, dict) and results.get("interrupted")),
        options=options)


def list_runs(store) -> list[RunInfo]:
    """Every run in the store, newest first. ``latest`` links are not runs of their own."""
    root = Path(store).resolve()
    runs = []
    if not root.is_dir():
        return runs
    for test_dir in root.iterdir():
        if test_dir.is_symlink() or not test_dir.is_dir() or test_dir.name == SUITES_DIR \
                or test_dir.name.startswith("."):
            continue
        for run in test_dir.iterdir():
            if run.is_symlink() or not run.is_dir():
                continue
            if (run / "test.yaml").exists() or (run / "history.jsonl").exists():
                runs.append(run_info(root, run))
    runs.sort(key=lambda r: (r.date, r.rel), reverse=True)
    return runs


def list_suites(store) -> list[dict]:
    """Suite summaries in the store, newest first: ``{"rel", "name", "date", "verdict", "runs"}``."""
    root = Path(store).resolve()
    out = []
    base = root / SUITES_DIR
    if not base.is_dir():
        return out
    for f in base.glob("*/*/suite.json"):
        if any(p.is_symlink() for p in (f.parent, f.parent.parent)):
            continue
        d = read_json(f) or {}
        out.append({"rel": f.parent.relative_to(root).as_posix(), "name": d.get("name", f.parent.parent.name),
                    "date": _date(f.parent.name, f.parent), "verdict": d.get("verdict", "?"),
                    "runs": len(d.get("runs", []))})
    out.sort(key=lambda s: s["date"], reverse=True)
    return out
