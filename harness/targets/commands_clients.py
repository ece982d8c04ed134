"""Client factories the ``commands`` target can use: a built-in name or the user's class.

``client: redis``
    RESP2 over TCP (:mod:`harness.targets.redis_client`) to ``{ip}:{port}``, for the register,
    set, counter and unique-ids workloads. Options: ``key`` (default ``sb``, and ``sb:set`` for
    the set workload: a key ending in ``:set`` makes ``add``/``read`` use SADD/SMEMBERS),
    ``timeout_s`` (default 2).
``client: etcd``
    etcd's v3 JSON gateway (:mod:`harness.targets.etcd_client`) on ``{port}``; options as for
    the etcd target (``key``, ``serializable``, ``op_timeout_s``, ...).
``client: raft``
    The reference stores' HTTP/JSON KV API (:mod:`harness.targets.raft`) on ``{port}``.
``client: http``
    A configurable HTTP/JSON KV (:mod:`harness.targets.commands_http_client`): per op the
    method, path, JSON body and where the answer's value is, and what each status means.
``client: package.module:Class``
    Your code. Either a *factory* (the class has ``open``): ``Class(options).open(node)`` gives a
    client; or a *client class*: ``Class(node, options)`` is the client of one node. ``options``
    is ``client-options`` with ``port`` added (the target's ``port``) unless already there.
    ``node`` has ``.name`` and ``.ip``. A client needs only ``invoke(op) -> completion``;
    ``setup``/``teardown``/``close`` are optional. A factory with ``use_workload(workload)`` is
    told the run's workload before the run (e.g. to refuse one it cannot express).

Completions follow DESIGN.md: ``ok`` only when the store said it happened, ``fail`` when it
certainly did not, ``info`` when unsure.
"""

from __future__ import annotations

import importlib
from typing import Any

from harness.errors import InputError
from harness.targets.redis_client import RedisClient


class _Client:
    """Gives any object with ``invoke`` the whole client interface (setup/teardown/close)."""

    def __init__(self, inner: Any):
        self.inner = inner

    def setup(self) -> None:
        fn = getattr(self.inner, "setup", None)
        if callable(fn):
            fn()

    def invoke(self, op: dict) -> dict:
        return self.inner.invoke(op)

    def teardown(self) -> None:
        fn = getattr(self.inner, "teardown", None)
        if callable(fn):
            fn()

    def close(self) -> None:
        fn = getattr(self.inner, "close", None)
        if callable(fn):
            fn()


class RedisClientFactory:
    """``open(node)``: a :class:`~harness.targets.redis_client.RedisClient` on ``node.ip:port``."""

    OPTIONS = ("port", "key", "timeout_s")

    def __init__(self, options: dict):
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            raise InputError(f"db-options: client-options: unknown option {unknown[0]!r} for the redis "
                             f"client (valid: key, timeout_s)")
        self.port = options["port"]
        self.key = options.get("key")  # None: "sb", or "sb:set" for the set workload
        self.timeout_s = options.get("timeout_s", 2.0)
        if self.key is not None and (not isinstance(self.key, str) or not self.key):
            raise InputError(f"db-options: client-options: key: must be a non-empty string, got {self.key!r}")
        if isinstance(self.timeout_s, bool) or not isinstance(self.timeout_s, (int, float)) \
                or not self.timeout_s > 0:
            raise InputError(f"db-options: client-options: timeout_s: must be > 0, got {self.timeout_s!r}")

    #: Workloads whose ops the RESP client speaks (see harness/targets/redis_client.py).
    SUPPORTED = ("register", "set", "counter", "unique-ids")

    def use_workload(self, workload) -> None:
        """Check the client speaks ``workload``'s ops and pick the key: a set lives under a key
        ending in ``:set`` (that is how the RESP client knows to use SADD/SMEMBERS)."""
        name = getattr(workload, "name", None)
        if name not in self.SUPPORTED:
            raise InputError(f"db-options: client: the redis client cannot run the {name!r} workload "
                             f"(supported: {', '.join(self.SUPPORTED)})")
        if self.key is None:
            self.key = "sb:set" if name == "set" else "sb"
        elif (name == "set") != self.key.endswith(":set"):
            raise InputError(f"db-options: client-options: key: {self.key!r}: the redis client uses a "
                             f"key ending in ':set' for the set workload and only for it")

    def open(self, node) -> _Client:
        return _Client(RedisClient(node.ip, self.port, key=self.key or "sb",
                                   timeout_s=float(self.timeout_s)))


class _PerNodeClassFactory:
    """A user's client class used as ``Class(node, options)``, one instance per worker."""

    def __init__(self, cls: type, options: dict):
        self.cls, self.options = cls, options

    def open(self, node) -> _Client:
        return _Client(self.cls(node, dict(self.options)))


class _WrappingFactory:
    """A user's factory whose clients may lack setup/teardown/close."""

    def __init__(self, inner: Any):
        self.inner = inner
        if callable(getattr(inner, "use_workload", None)):
            self.use_workload = inner.use_workload  # the runner tells it the workload

    def open(self, node) -> _Client:
        return _Client(self.inner.open(node))


def make_client_factory(client: str, port: int | None, client_options: dict) -> Any:
    """The client factory for the commands target's ``client`` field (InputError when unusable)."""
    opts = dict(client_options)
    if client == "redis":
        return RedisClientFactory({"port": port, **opts})
    if client == "etcd":
        from harness.targets.etcd_client import EtcdClientFactory

        try:
            return EtcdClientFactory({"client_port": port, **opts})
        except InputError as e:
            raise InputError(f"db-options: client-options: {e}") from None
    if client == "raft":
        from harness.targets.raft import RaftClientFactory

        try:
            return RaftClientFactory({"client_port": port, **opts})
        except InputError as e:
            raise InputError(f"db-options: client-options: {e}") from None
    if client == "http":
        from harness.targets.commands_http_client import HttpJsonClientFactory

        return HttpJsonClientFactory({"port": port, **opts})
    mod_name, _, cls_name = client.partition(":")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as e:
        raise InputError(f"db-options: client: cannot import {mod_name}: {e}".splitlines()[0]) from None
    cls = getattr(module, cls_name, None)
    if not isinstance(cls, type):
        raise InputError(f"db-options: client: {mod_name} has no class {cls_name}")
    if port is not None:
        opts.setdefault("port", port)
    if callable(getattr(cls, "open", None)):
        return _WrappingFactory(cls(opts))
    if not callable(getattr(cls, "invoke", None)):
        raise InputError(f"db-options: client: {client} has neither open(node) (a factory) nor "
                         "invoke(op) (a client class)")
    return _PerNodeClassFactory(cls, opts)


__all__ = ["RedisClientFactory", "make_client_factory"]
