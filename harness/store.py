"""The run store: one directory per run, laid out as DESIGN.md says.

::

    store/<test>/<YYYYmmddTHHMMSS>/
      test.yaml  history.jsonl  results.json  splitbrain.log  nodes/<node>/...
    store/<test>/latest -> <timestamp>
    store/latest        -> <test>/<timestamp>

The ``latest`` links are relative symlinks, replaced atomically, so a reader never sees a
half-updated link.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InputError


@dataclass(frozen=True)
class RunDir:
    """A run's directory and the well-known files in it."""

    path: Path

    @property
    def history(self) -> Path:
        return self.path / "history.jsonl"

    @property
    def results(self) -> Path:
        return self.path / "results.json"

    @property
    def spec(self) -> Path:
        return self.path / "test.yaml"

    @property
    def log(self) -> Path:
        return self.path / "splitbrain.log"

    @property
    def nodes(self) -> Path:
        return self.path / "nodes"

    def write_results(self, results: dict) -> None:
        """Write results.json atomically (temp file, fsync, rename)."""
        write_json_atomic(self.results, results)


def write_json_atomic(path: Path, data) -> None:
    """Write ``data`` as pretty JSON to ``path`` so that a crash leaves the old or the new file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=False, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _relink(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    os.replace(tmp, link)


def open_run(store: str | Path, test_name: str, spec_yaml: str, now: float | None = None) -> RunDir:
    """Create a fresh run directory for ``test_name``, write ``test.yaml``, point ``latest`` at it."""
    root = Path(store)
    try:
        root.mkdir(parents=True, exist_ok=True)
        test_dir = root / test_name
        test_dir.mkdir(exist_ok=True)
    except OSError as e:
        raise InputError(f"{store}: cannot create the store directory: {e.strerror}") from None
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now if now is not None else time.time()))
    name, n = stamp, 1
    while True:
        try:
            (test_dir / name).mkdir()
            break
        except FileExistsError:
            n += 1
            name = f"{stamp}-{n}"
    run = RunDir(test_dir / name)
    run.spec.write_text(spec_yaml, encoding="utf-8")
    _relink(test_dir / "latest", name)
    _relink(root / "latest", f"{test_name}/{name}")
    return run


def find_run(path: str | Path) -> RunDir:
    """Resolve a run directory given by the user (a run dir, or a ``latest`` link)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such run directory")
    p = p.resolve()
    if (p / "latest").exists() and not (p / "history.jsonl").exists():
        p = (p / "latest").resolve()
    if not (p / "history.jsonl").exists():
        raise InputError(f"{path}: not a run directory (no history.jsonl)")
    return RunDir(p)
