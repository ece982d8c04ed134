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


#: name -> builder ``(options) -> Target``. Target modules are imported on first use.
TARGETS: dict[str, Callable[[dict | None], Target]] = {
    "etcd": _etcd,
    "raft": _raft,
}


def make_target(name: str, options: dict | None = None) -> Target:
    """The :class:`Target` called ``name`` with ``options`` (InputError when unknown/bad)."""
    try:
        build = TARGETS[name]
    except (KeyError, TypeError):
        raise InputError(f"db: unknown target {name!r} (valid: {', '.join(sorted(TARGETS))})") from None
    return build(options)


__all__ = ["TARGETS", "Target", "make_target"]
