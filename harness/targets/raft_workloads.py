"""How a :class:`~harness.targets.raft.RaftClient` speaks each workload's ops over the reference
store's HTTP API (``GET/PUT /kv/<key>``, ``POST /kv/<key>/cas``, ``POST /txn`` with the micro-ops
``r``, ``w``, ``append`` and ``cmp``; see :mod:`reference_impl.state_machine`).

================  =============================================================================
workload          ops on the store
================  =============================================================================
register          (in :class:`RaftClient` itself) read/write/cas on the key ``r``
multi-register    read/write/cas ``[k, v]`` on the key ``mr-<k>``
set               add e: txn ``append set e``; read: ``GET /kv/set`` (a list)
counter           add d: read-modify-write loop on ``counter``; read: ``GET /kv/counter``
unique-ids        generate: read-modify-write loop incrementing ``ids``; the new value is the id
list-append       txn: ``POST /txn`` as is (reads of absent keys come back as ``[]``)
rw-register       txn: ``POST /txn`` as is
bank              read: one txn reading every ``account-<i>``; transfer: read both accounts, then
                  a txn ``cmp`` both balances + ``w`` both (retried while another txn interferes)
queue             enqueue v: txn ``append queue-items v``; dequeue: one txn reads ``queue-head``
                  h and ``queue-items``; empty when h = len(items), else a txn ``cmp head h``
                  + ``w head h+1`` claims ``items[h]`` (retried on conflict)
================  =============================================================================

A read-modify-write loop reads, then writes conditionally (``cas`` or a ``cmp`` txn); when
another client got there first the compare is false and nothing changed, so the loop starts
over, until the client's op deadline (``op_timeout_s``). The op takes effect exactly at its one
successful conditional write: an atomic increment, transfer or dequeue. Outcomes follow the
client's rules: ``fail`` only when nothing can have changed (every conditional write so far
certainly failed), ``info`` as soon as one write's outcome is unknown.
"""

from __future__ import annotations

import time
from typing import Any, Callable
from urllib.parse import quote

from harness.errors import EnvironmentProblem
from harness.targets.workload_op_outcome import OpEnded, UnsupportedOp, complete_op

#: Workloads this module gives the raft client (``register`` is the client's own).
SUPPORTED = ("register", "multi-register", "set", "counter", "unique-ids", "list-append",
             "rw-register", "bank", "queue")

SET_KEY, COUNTER_KEY, IDS_KEY = "set", "counter", "ids"
QUEUE_HEAD, QUEUE_ITEMS = "queue-head", "queue-items"


def account_key(a) -> str:
    return f"account-{a}"


class RaftWorkloadOps:
    """Runs one workload's ops through ``client`` (a :class:`RaftClient`)."""

    def __init__(self, client, workload: str, options: dict | None = None):
        if workload not in SUPPORTED:
            raise ValueError(f"raft: workload {workload!r} is not supported")
        self.client = client
        self.workload = workload
        self.options = dict(options or {})

    # -- transport ------------------------------------------------------------------------
    def _http(self, method: str, path: str, body: Any, deadline: float, read_only: bool) -> dict:
        """The 200 answer's body, or raise OpEnded(fail|info)."""
        kind, status, doc = self.client._call(method, path, body, deadline)
        if kind == "notsent":
            raise OpEnded("fail", f"not sent: {doc}")
        if kind == "doubt":
            raise OpEnded("fail" if read_only else "info", str(doc))
        if status == 200:
            return doc
        err = f"HTTP {status}: {doc.get('error', '')}".rstrip(": ")
        definite = read_only or 400 <= status < 500 or doc.get("outcome") == "failed"
        raise OpEnded("fail" if definite else "info", err)

    def _txn(self, ops: list, deadline: float, read_only: bool = False) -> dict:
        return self._http("POST", "/txn", {"ops": ops}, deadline, read_only)

    def _get(self, key: str, deadline: float):
        return self._http("GET", "/kv/" + quote(key, safe=""), None, deadline, True).get("value")

    def _rmw(self, deadline: float, attempt: Callable[[], Any]):
        """Run ``attempt`` (a read then a conditional write) until it returns a value other than
        :data:`_CONFLICT` or time runs out. Reads that fail end the op ``fail`` (nothing written
        yet); a write in doubt ends it ``info``."""
        conflicts = 0
        while True:
            out = attempt()
            if out is not _CONFLICT:
                return out
            conflicts += 1
            if time.monotonic() >= deadline - 0.05:
                raise OpEnded("fail", f"gave up after {conflicts} conflicting writes (compare false)")

    # -- protocol ---------------------------------------------------------------------------
    def setup(self) -> None:
        """The bank's accounts get their initial balances once (a txn that only applies while
        every account is absent); other workloads start from absent keys."""
        if self.workload != "bank":
            return
        accounts = self.options["accounts"]
        init = initial_balances(accounts, self.options["total"])
        ops = [["cmp", account_key(a), None] for a in accounts] + \
              [["w", account_key(a), init[a]] for a in accounts]
        last = None
        for _ in range(20):
            deadline = time.monotonic() + self.client.op_timeout_s
            try:
                self._txn(ops, deadline)  # {"ok": false}: another client initialized them
                got = self._txn([["r", account_key(a), None] for a in accounts], deadline, True)
                if all(v is not None for _f, _k, v in got.get("ops", [])):
                    return
                last = f"accounts not initialized: {got.get('ops')}"
            except OpEnded as e:
                last = e.error
            time.sleep(0.25)
        raise EnvironmentProblem(f"raft bank setup on {self.client.node_name}: {last}")

    def invoke(self, op: dict) -> dict:
        deadline = time.monotonic() + self.client.op_timeout_s
        handler = getattr(self, "_" + self.workload.replace("-", "_"))
        return complete_op(op, handler, deadline, self.workload, "raft")

    # -- workloads ----------------------------------------------------------------------------
    def _multi_register(self, f, value, deadline):
        if not (isinstance(value, (list, tuple)) and len(value) == 2):
            raise OpEnded("fail", f"multi-register value must be [key, v], got {value!r}")
        k, v = value
        path = "/kv/" + quote(f"mr-{k}", safe="")
        if f == "read":
            return [k, self._http("GET", path, None, deadline, True).get("value")]
        if f == "write":
            self._http("PUT", path, {"value": v}, deadline, False)
            return [k, v]
        if f == "cas":
            if not (isinstance(v, (list, tuple)) and len(v) == 2):
                raise OpEnded("fail", f"cas value must be [key, [from, to]], got {value!r}")
            doc = self._http("POST", path + "/cas", {"from": v[0], "to": v[1]}, deadline, False)
            if doc.get("ok") is not True:
                raise OpEnded("fail", f"cas: compare failed (value {doc.get('value')!r})")
            return [k, v]
        raise UnsupportedOp

    def _set(self, f, value, deadline):
        if f == "add":
            self._txn([["append", SET_KEY, value]], deadline)
            return value
        if f == "read":
            return sorted(self._get(SET_KEY, deadline) or [], key=repr)
        raise UnsupportedOp

    def _increment(self, key: str, delta: int, deadline: float) -> int:
        def attempt():
            cur = self._get(key, deadline)
            new = (cur or 0) + delta
            doc = self._http("POST", "/kv/" + quote(key, safe="") + "/cas",
                             {"from": cur, "to": new}, deadline, False)
            return new if doc.get("ok") is True else _CONFLICT
        return self._rmw(deadline, attempt)

    def _counter(self, f, value, deadline):
        if f == "add":
            self._increment(COUNTER_KEY, value, deadline)
            return value
        if f == "read":
            return self._get(COUNTER_KEY, deadline) or 0
        raise UnsupportedOp

    def _unique_ids(self, f, value, deadline):
        if f == "generate":
            return self._increment(IDS_KEY, 1, deadline)
        raise UnsupportedOp

    def _list_append(self, f, value, deadline):
        if f != "txn":
            raise UnsupportedOp
        doc = self._txn(value, deadline, read_only=all(m[0] == "r" for m in value))
        return [[mf, k, (v if v is not None else []) if mf == "r" else v]
                for mf, k, v in doc.get("ops", [])]

    def _rw_register(self, f, value, deadline):
        if f != "txn":
            raise UnsupportedOp
        doc = self._txn(value, deadline, read_only=all(m[0] == "r" for m in value))
        return [list(m) for m in doc.get("ops", [])]

    def _bank(self, f, value, deadline):
        accounts = self.options["accounts"]
        if f == "read":
            doc = self._txn([["r", account_key(a), None] for a in accounts], deadline, True)
            return {str(a): v for a, (_f, _k, v) in zip(accounts, doc.get("ops", []))}
        if f != "transfer":
            raise UnsupportedOp
        src, dst, amount = value["from"], value["to"], value["amount"]
        ka, kb = account_key(src), account_key(dst)

        def attempt():
            got = self._txn([["r", ka, None], ["r", kb, None]], deadline, True)["ops"]
            a, b = got[0][2], got[1][2]
            if a is None or b is None:
                raise OpEnded("fail", f"account {src if a is None else dst} does not exist")
            if a - amount < 0 and not self.options.get("negative_balances", False):
                raise OpEnded("fail", f"insufficient funds: account {src} has {a}, transfer of {amount}")
            doc = self._txn([["cmp", ka, a], ["cmp", kb, b],
                             ["w", ka, a - amount], ["w", kb, b + amount]], deadline)
            return value if doc.get("ok") is not False else _CONFLICT
        return self._rmw(deadline, attempt)

    def _queue(self, f, value, deadline):
        if f == "enqueue":
            self._txn([["append", QUEUE_ITEMS, value]], deadline)
            return value
        if f != "dequeue":
            raise UnsupportedOp

        def attempt():
            got = self._txn([["r", QUEUE_HEAD, None], ["r", QUEUE_ITEMS, None]], deadline, True)["ops"]
            head, items = got[0][2], got[1][2] or []
            h = head or 0
            if h >= len(items):
                return None  # empty at the moment of that read
            doc = self._txn([["cmp", QUEUE_HEAD, head], ["w", QUEUE_HEAD, h + 1]], deadline)
            return items[h] if doc.get("ok") is not False else _CONFLICT
        return self._rmw(deadline, attempt)


_CONFLICT = object()
def initial_balances(accounts: list, total: int) -> dict:
    """The total split evenly over the accounts, the remainder to the first ones."""
    n = len(accounts)
    base, extra = divmod(total, n)
    return {a: base + (1 if i < extra else 0) for i, a in enumerate(accounts)}
