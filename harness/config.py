"""The test specification: what to run, where, for how long, with which faults.

A :class:`TestSpec` comes from a YAML file, from CLI flags, or both (flags win). It is validated
here, at the edge: every mistake becomes one :class:`~harness.errors.InputError` line that names
the file, line and field (``test.yaml:4: time-limit: must be > 0, got -3``).

YAML keys are the long CLI flag names; ``time-limit`` and ``time_limit`` both work::

    name: etcd-register
    db: etcd
    db-options: {serializable: false}
    workload: register
    nemesis: [partition]
    nemesis-options: {partition: {kind: primaries}, interval: 5}
    nodes: 5              # or [n1, n2, n3]
    concurrency: 10
    rate: 50
    time-limit: 30
    seed: 42
"""

from __future__ import annotations

import dataclasses
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import InputError

BACKENDS = ("local", "docker", "ssh")
# Targets and workloads are validated against their registries when the run is built; the names
# here only serve the early "unknown name" message, which lists the valid ones.
NODE_NAME = re.compile(r"^[a-z][a-z0-9]{0,7}$")

DEFAULT_DB = "raft"  # the reference Raft store (reference_impl/raft)


@dataclass(frozen=True)
class TestSpec:
    """One test, fully resolved. ``to_yaml()`` gives what is stored as ``test.yaml``."""

    __test__ = False  # not a pytest test class

    name: str = ""
    db: str = DEFAULT_DB
    db_options: dict = field(default_factory=dict)
    workload: str = "register"
    workload_options: dict = field(default_factory=dict)
    nemesis: tuple = ("partition",)
    nemesis_options: dict = field(default_factory=dict)
    backend: str = "local"
    backend_options: dict = field(default_factory=dict)  # per backend: docs/backends.md
    nodes: tuple = ("n1", "n2", "n3", "n4", "n5")
    concurrency: int = 10
    rate: float = 50.0
    time_limit: float = 30.0
    op_timeout: float = 5.0
    check_timeout: float = 300.0
    seed: int = 0
    store: str = "store"
    bug: str | None = None
    junit: str | None = None

    def resolved_name(self) -> str:
        """The test's name in the store: given, or ``<db>-<workload>-<nemeses>``."""
        if self.name:
            return self.name
        nem = "+".join(self.nemesis) if self.nemesis else "none"
        return f"{self.db.replace(':', '.')}-{self.workload}-{nem}"

    def to_dict(self) -> dict:
        """Plain data with the YAML key spelling (hyphens)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                v = list(v)
            out[f.name.replace("_", "-")] = v
        out["name"] = self.resolved_name()
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


_FIELDS = {f.name: f for f in dataclasses.fields(TestSpec)}


def _key_lines(text: str) -> dict[str, int]:
    """Map each top-level key of a YAML mapping to its 1-based line, for error messages."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    lines = {}
    if isinstance(node, yaml.MappingNode):
        for k, _v in node.value:
            if isinstance(k, yaml.ScalarNode):
                lines[str(k.value)] = k.start_mark.line + 1
    return lines


def load_yaml(path: str | Path) -> tuple[dict, dict[str, int]]:
    """Read a test YAML file: (mapping with normalised keys, key -> line). Errors are one line."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a YAML test file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    if len(raw) > 16 * 1024 * 1024:
        raise InputError(f"{path}: too large for a test spec ({len(raw)} bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = (e.problem or e.context or "syntax error").strip()
        raise InputError(f"{where}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as e:
        raise InputError(f"{path}: YAML error: {str(e).splitlines()[0]}") from None
    except RecursionError:
        raise InputError(f"{path}: YAML nested too deeply") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path}:1: expected a mapping of settings, got {type(data).__name__}")
    lines = _key_lines(text)
    norm, norm_lines = {}, {}
    for k, v in data.items():
        key = str(k).replace("-", "_")
        norm[key] = v
        norm_lines[key] = lines.get(str(k), 0)
    return norm, norm_lines


def _where(source: str, lines: dict[str, int], key: str) -> str:
    line = lines.get(key)
    name = key.replace("_", "-")
    if line:
        return f"{source}:{line}: {name}"
    return f"{source}: {name}"


def build_spec(
    values: dict[str, Any], *, source: str = "command line", lines: dict[str, int] | None = None
) -> TestSpec:
    """Validate ``values`` (keys with underscores) and build a TestSpec.

    ``source`` and ``lines`` name where each value came from for the error message.
    """
    lines = lines or {}
    kw: dict[str, Any] = {}

    def bad(key: str, msg: str) -> InputError:
        return InputError(f"{_where(source, lines, key)}: {msg}")

    for key, v in values.items():
        if key not in _FIELDS:
            valid = ", ".join(sorted(k.replace("_", "-") for k in _FIELDS))
            raise bad(key, f"unknown setting (valid: {valid})")
        if v is None and key not in ("bug", "junit", "seed"):
            continue
        if key in ("name", "db", "workload", "backend", "store"):
            if not isinstance(v, str) or not v.strip():
                raise bad(key, f"must be a non-empty string, got {v!r}")
            if key == "name" and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}", v):
                raise bad(key, f"must be letters, digits, '.', '_', '+', '-', got {v!r}")
            if key == "backend" and v not in BACKENDS:
                raise bad(key, f"unknown backend {v!r} (valid: {', '.join(BACKENDS)})")
            kw[key] = v.strip()
        elif key in ("bug", "junit"):
            if v is not None and (not isinstance(v, str) or not v):
                raise bad(key, f"must be a string, got {v!r}")
            kw[key] = v
        elif key in ("db_options", "workload_options", "nemesis_options", "backend_options"):
            if not isinstance(v, dict):
                raise bad(key, f"must be a mapping, got {type(v).__name__}")
            kw[key] = v
        elif key == "nemesis":
            if isinstance(v, str):
                v = [s.strip() for s in v.split(",") if s.strip()]
            if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
                raise bad(key, f"must be a name or a list of names, got {v!r}")
            kw[key] = tuple(s for s in v if s != "none")
        elif key == "nodes":
            kw[key] = _parse_nodes(v, bad)
        elif key == "concurrency":
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1000:
                raise bad(key, f"must be an integer from 1 to 1000, got {v!r}")
            kw[key] = v
        elif key == "seed":
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise bad(key, f"must be a non-negative integer, got {v!r}")
            kw[key] = v
        elif key in ("rate", "time_limit", "op_timeout", "check_timeout"):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
                raise bad(key, f"must be a number, got {v!r}")
            if v <= 0:
                raise bad(key, f"must be > 0, got {v}")
            if key == "time_limit" and v > 7 * 24 * 3600:
                raise bad(key, f"must be at most a week ({7 * 24 * 3600} s), got {v}")
            kw[key] = float(v)
    if "seed" not in kw:
        kw["seed"] = random.SystemRandom().randrange(2**31)
    return TestSpec(**kw)


def _parse_nodes(v: Any, bad) -> tuple:
    if isinstance(v, str):
        v = v.strip()
        if v.isdigit():
            v = int(v)
        else:
            v = [s.strip() for s in v.split(",") if s.strip()]
    if isinstance(v, int) and not isinstance(v, bool):
        if not 1 <= v <= 50:
            raise bad("nodes", f"must be from 1 to 50 nodes, got {v}")
        return tuple(f"n{i}" for i in range(1, v + 1))
    if isinstance(v, list) and v:
        names = []
        for s in v:
            if not isinstance(s, str) or not NODE_NAME.match(s):
                raise bad(
                    "nodes",
                    f"node name {s!r} must be a lowercase letter then up to 7 letters/digits",
                )
            if s in names:
                raise bad("nodes", f"node {s!r} is listed twice")
            names.append(s)
        if len(names) > 50:
            raise bad("nodes", f"at most 50 nodes, got {len(names)}")
        return tuple(names)
    raise bad("nodes", f"must be a count or a list of node names, got {v!r}")


def load_spec(path: str | None, overrides: dict[str, Any] | None = None) -> TestSpec:
    """Load a spec from ``path`` (optional) and apply CLI ``overrides`` (None values ignored)."""
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    source = "command line"
    if path:
        values, lines = load_yaml(path)
        source = str(path)
        # Validate the file alone first so its errors name the file and line.
        build_spec(dict(values, seed=values.get("seed", 0)), source=source, lines=lines)
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    # Validate the flags alone too, so their errors say "command line", not the file.
    build_spec(dict(flags, seed=flags.get("seed", 0)), source="command line")
    if path and flags.get("db", values.get("db")) == "commands" and "db_options" not in flags:
        # The commands target's block is nested: check it here, where file and lines are known.
        from harness.targets.commands_options import check_yaml_block

        check_yaml_block(path, values.get("db_options"))
    for k, v in flags.items():
        if k == "backend_options" and isinstance(values.get(k), dict):
            v = {**values[k], **v}  # --ssh-key etc. add to the file's backend-options
        values[k] = v
        lines.pop(k, None)
    return build_spec(values, source=source, lines=lines)
