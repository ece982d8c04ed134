"""Targets: the systems splitbrain deploys and tests. A target is a *DB* (``setup``,
``teardown`` and optional ``kill``/``start``, ``pause``/``resume``, ``primaries``,
``log_files``) plus a *client factory* (``open(node) -> Client``).

``make_target(name, options)`` builds a :class:`Target` from :data:`TARGETS`; an unknown name
raises :class:`~harness.errors.InputError` listing the valid names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from harness.errors import InputError


@dataclass(frozen=True)
class Target:
    """A ready-to-use target: its ``db`` and its ``client_factory`` (``open(node)``)."""

    name: str
    db: Any
    client_factory: Any


def _etcd(options: dict | None) -> Target:
    from harness.targets.etcd import EtcdClientFactory, EtcdDB, normalize_options

    o = normalize_options(options)
    return Target("etcd", EtcdDB(o), EtcdClientFactory(o))


def _raft(options: dict | None) -> Target:
    from harness.targets.raft import RaftClientFactory, RaftDB, normalize_options

    o = normalize_options(options)
    return Target("raft", RaftDB(o), RaftClientFactory(o))


def _paxos(options: dict | None) -> Target:
    from harness.targets.paxos import PaxosClientFactory, PaxosDB, normalize_options

    o = normalize_options(options)
    return Target("paxos", PaxosDB(o), PaxosClientFactory(o))


def _commands(options: dict | None) -> Target:
    from harness.targets.commands import make_commands_target

    return make_commands_target(options)


#: name -> builder ``(options) -> Target``. Target modules are imported on first use.
TARGETS: dict[str, Callable[[dict | None], Target]] = {
    "commands": _commands,
    "etcd": _etcd,
    "paxos": _paxos,
    "raft": _raft,
}


def make_target(name: str, options: dict | None = None) -> Target:
    """The :class:`Target` called ``name`` with ``options`` (InputError when unknown/bad).

    ``module:Class`` (DESIGN.md, user code) imports ``module`` and calls ``Class(options)``; the
    result must have ``db`` and ``client_factory`` attributes (a :class:`Target` does)."""
    if isinstance(name, str) and ":" in name:
        return _user_target(name, options)
    try:
        build = TARGETS[name]
    except (KeyError, TypeError):
        raise InputError(f"db: unknown target {name!r} (valid: {', '.join(sorted(TARGETS))})") from None
    return build(options)


def _user_target(name: str, options: dict | None) -> Target:
    import importlib
    import re

    mod_name, _, cls_name = name.partition(":")
    ident = r"[A-Za-z_][A-Za-z0-9_]*"
    if not re.fullmatch(rf"{ident}(\.{ident})*", mod_name) or not re.fullmatch(ident, cls_name):
        raise InputError(f"db: {name!r} is not module:Class (e.g. mypkg.mydb:MyTarget)")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as e:
        raise InputError(f"db: {name}: cannot import {mod_name}: {e}".splitlines()[0]) from None
    cls = getattr(module, cls_name, None)
    if not isinstance(cls, type):
        raise InputError(f"db: {name}: {mod_name} has no class {cls_name}")
    made = cls(dict(options or {}))
    if not hasattr(made, "db") or not hasattr(made, "client_factory"):
        raise InputError(f"db: {name}: {cls_name}(options) must have .db and .client_factory")
    return Target(name, made.db, made.client_factory)


__all__ = ["TARGETS", "Target", "make_target"]
