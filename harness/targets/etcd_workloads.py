"""How an :class:`~harness.targets.etcd_client.EtcdClient` speaks each workload's ops over etcd's
v3 JSON gateway. Values are stored as their compact JSON (as for the register).

================  =============================================================================
workload          ops on etcd
================  =============================================================================
register          (in :class:`EtcdClient` itself) read/write/cas on the key ``r``
multi-register    read/write/cas ``[k, v]`` on the key ``mr/<k>``
set               add e: put ``set/<e>``; read: one range over the prefix ``set/``
counter           add d: read-modify-write loop on ``counter`` (a txn comparing its
                  ``mod_revision``); read: range ``counter``
unique-ids        generate: put ``ids``; the id is the store revision etcd assigns to that write
                  (every write gets a new one)
rw-register       txn: one etcd txn: a range per key read before the txn writes it, then a put per
                  key written (reads after a write in the same txn see that write)
list-append       txn: range every key the txn touches, then one etcd txn that compares each
                  key's ``mod_revision`` with what was read and puts the appended lists; a
                  false compare means another txn interfered: read again and retry
bank              read: one range over the prefix ``account/``; transfer: range both accounts,
                  then a txn comparing both ``mod_revision`` s and putting both balances (retried
                  on conflict). Setup: one txn that creates every account only if none exists.
queue             enqueue v: put ``queue/<v>``; dequeue: range the prefix ``queue/`` sorted by
                  create revision, limit 1 (none: empty), then a txn deleting that key only if its
                  ``mod_revision`` is unchanged (retried on conflict): FIFO by creation order
================  =============================================================================

Every workload of splitbrain can be expressed on etcd: the txn compares give conditional writes
on several keys, which is all the read-modify-write workloads need. Outcomes follow
:func:`~harness.targets.etcd_client.classify_error`: a loop that only saw false compares and
failed reads is ``fail`` (nothing changed); a write whose outcome is unknown is ``info``.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from harness.errors import EnvironmentProblem
from harness.targets.etcd_client import RequestError, b64, classify_error, decode_value, encode_value, unb64
from harness.targets.raft_workloads import initial_balances
from harness.targets.workload_op_outcome import OpEnded, UnsupportedOp, complete_op

SUPPORTED = ("register", "multi-register", "set", "counter", "unique-ids", "list-append",
             "rw-register", "bank", "queue")

_CONFLICT = object()


def prefix_end(prefix: str) -> str:
    """etcd's range_end for every key starting with ``prefix`` (last byte + 1)."""
    b = prefix.encode()
    return (b[:-1] + bytes([b[-1] + 1])).decode()


def _int(v) -> int:
    return int(v or 0)  # the gateway prints int64 fields as strings, and leaves out zeros


def _responses(doc: dict) -> list[dict]:
    """A txn answer's responses, each unwrapped (``response_range`` / ``responseRange``...)."""
    out = []
    for r in doc.get("responses") or []:
        out.append(next(iter(r.values())) if isinstance(r, dict) and r else {})
    return out


class EtcdWorkloadOps:
    """Runs one workload's ops through ``client`` (an :class:`EtcdClient`)."""

    def __init__(self, client, workload: str, options: dict | None = None):
        if workload not in SUPPORTED:
            raise ValueError(f"etcd: workload {workload!r} is not supported")
        self.client = client
        self.workload = workload
        self.options = dict(options or {})

    # -- transport ------------------------------------------------------------------------
    def _call(self, path: str, body: dict, deadline: float, read_only: bool) -> dict:
        """The parsed 200 answer, or raise OpEnded(fail|info) by the client's error rules."""
        f = "read" if read_only else "write"
        left = deadline - time.monotonic()
        if left <= 0:  # nothing sent: certainly not done
            raise OpEnded("fail", "not sent: the op's deadline passed")
        saved = self.client.op_timeout_s
        self.client.op_timeout_s = left
        try:
            status, raw = self.client._post(path, body)
        except RequestError as e:
            raise OpEnded(*classify_error(f, sent=e.sent, exc=str(e))) from None
        finally:
            self.client.op_timeout_s = saved
        if status != 200:
            raise OpEnded(*classify_error(f, status=status, body=raw))
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            raise OpEnded(*classify_error(f, exc=f"unparsable 200 answer: {e}")) from None
        return doc

    def _range(self, key: str, deadline: float, **extra) -> list[dict]:
        return self._call("/v3/kv/range", {"key": b64(key), **extra}, deadline, True).get("kvs") or []

    def _put(self, key: str, value: Any, deadline: float) -> dict:
        return self._call("/v3/kv/put", {"key": b64(key), "value": encode_value(value)}, deadline, False)

    def _txn(self, compare: list, success: list, deadline: float, read_only: bool = False) -> dict:
        return self._call("/v3/kv/txn", {"compare": compare, "success": success}, deadline, read_only)

    @staticmethod
    def _unchanged(key: str, kv: dict | None) -> dict:
        """A compare that holds while ``key`` is as read: same mod revision, or still absent."""
        if kv is None:
            return {"key": b64(key), "result": "EQUAL", "target": "CREATE", "create_revision": "0"}
        return {"key": b64(key), "result": "EQUAL", "target": "MOD",
                "mod_revision": str(_int(kv.get("mod_revision")))}

    @staticmethod
    def _put_op(key: str, value: Any) -> dict:
        return {"requestPut": {"key": b64(key), "value": encode_value(value)}}

    def _read_keys(self, keys: list[str], deadline: float) -> dict:
        """``{key: kv or None}`` of ``keys``, read atomically (one txn of ranges)."""
        doc = self._txn([], [{"requestRange": {"key": b64(k)}} for k in keys], deadline, True)
        out = {}
        for k, r in zip(keys, _responses(doc)):
            kvs = r.get("kvs") or []
            out[k] = kvs[0] if kvs else None
        return out

    def _rmw(self, deadline: float, attempt: Callable[[], Any]):
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
        no account exists)."""
        if self.workload != "bank":
            return
        accounts = self.options["accounts"]
        init = initial_balances(accounts, self.options["total"])
        keys = [f"account/{a}" for a in accounts]
        last = None
        for _ in range(20):
            deadline = time.monotonic() + self.client.op_timeout_s
            try:
                self._txn([self._unchanged(k, None) for k in keys],
                          [self._put_op(k, init[a]) for k, a in zip(keys, accounts)], deadline)
                got = self._read_keys(keys, deadline)
                if all(kv is not None for kv in got.values()):
                    return
                last = f"accounts missing: {sorted(k for k, kv in got.items() if kv is None)}"
            except OpEnded as e:
                last = e.error
            time.sleep(0.25)
        raise EnvironmentProblem(f"etcd bank setup on {self.client.node_name}: {last}")

    def invoke(self, op: dict) -> dict:
        deadline = time.monotonic() + self.client.op_timeout_s
        handler = getattr(self, "_" + self.workload.replace("-", "_"))
        return complete_op(op, handler, deadline, self.workload, "etcd", encode_errors=(TypeError, ValueError, KeyError))

    # -- workloads ----------------------------------------------------------------------------
    def _multi_register(self, f, value, deadline):
        if f not in ("read", "write", "cas"):
            raise UnsupportedOp
        if not (isinstance(value, (list, tuple)) and len(value) == 2):
            raise OpEnded("fail", f"multi-register value must be [key, v], got {value!r}")
        k, v = value
        sub = self.client._register_invoke({"f": f, "key": f"mr/{k}", "value": v})
        if sub["type"] != "ok":
            raise OpEnded(sub["type"], sub.get("error", ""))
        return [k, sub["value"]] if f == "read" else [k, v]

    def _set(self, f, value, deadline):
        if f == "add":
            self._put(f"set/{json.dumps(value)}", value, deadline)
            return value
        if f == "read":
            kvs = self._range("set/", deadline, range_end=b64(prefix_end("set/")))
            return sorted((decode_value(kv.get("value", "")) for kv in kvs), key=repr)
        raise UnsupportedOp

    def _counter(self, f, value, deadline):
        if f == "read":
            kvs = self._range("counter", deadline)
            return decode_value(kvs[0].get("value", "")) if kvs else 0
        if f != "add":
            raise UnsupportedOp

        def attempt():
            kvs = self._range("counter", deadline)
            kv = kvs[0] if kvs else None
            cur = decode_value(kv.get("value", "")) if kv else 0
            doc = self._txn([self._unchanged("counter", kv)],
                            [self._put_op("counter", cur + value)], deadline)
            return value if doc.get("succeeded") is True else _CONFLICT
        return self._rmw(deadline, attempt)

    def _unique_ids(self, f, value, deadline):
        if f != "generate":
            raise UnsupportedOp
        doc = self._put("ids", None, deadline)
        rev = _int((doc.get("header") or {}).get("revision"))
        if rev <= 0:
            raise OpEnded("info", f"put answered without a revision: {doc!r}")
        return rev

    def _rw_register(self, f, value, deadline):
        if f != "txn":
            raise UnsupportedOp
        reads, writes, written = [], {}, set()
        for mf, k, v in value:
            if mf == "r" and k not in written and k not in reads:
                reads.append(k)
            elif mf == "w":
                written.add(k)
                writes[k] = v
        success = [{"requestRange": {"key": b64(f"rw/{k}")}} for k in reads]
        success += [self._put_op(f"rw/{k}", v) for k, v in writes.items()]
        doc = self._txn([], success, deadline, read_only=not writes)
        seen = {}
        for k, r in zip(reads, _responses(doc)):
            kvs = r.get("kvs") or []
            seen[k] = decode_value(kvs[0].get("value", "")) if kvs else None
        out, mine = [], {}
        for mf, k, v in value:
            if mf == "w":
                mine[k] = v
                out.append([mf, k, v])
            else:
                out.append([mf, k, mine[k] if k in mine else seen.get(k)])
        return out

    def _list_append(self, f, value, deadline):
        if f != "txn":
            raise UnsupportedOp
        keys = []
        for _mf, k, _v in value:
            if k not in keys:
                keys.append(k)
        names = {k: f"la/{k}" for k in keys}
        read_only = all(m[0] == "r" for m in value)

        def attempt():
            got = self._read_keys([names[k] for k in keys], deadline)
            cur = {k: (decode_value(got[names[k]].get("value", "")) if got[names[k]] else [])
                   for k in keys}
            out = []
            for mf, k, v in value:
                if mf == "r":
                    out.append([mf, k, list(cur[k])])
                else:
                    cur[k] = list(cur[k]) + [v]
                    out.append([mf, k, v])
            if read_only:
                return out  # one atomic read of every key
            appended = {k for mf, k, _v in value if mf == "append"}
            doc = self._txn([self._unchanged(names[k], got[names[k]]) for k in keys],
                            [self._put_op(names[k], cur[k]) for k in keys if k in appended],
                            deadline)
            return out if doc.get("succeeded") is True else _CONFLICT
        return self._rmw(deadline, attempt)

    def _bank(self, f, value, deadline):
        if f == "read":
            kvs = self._range("account/", deadline, range_end=b64(prefix_end("account/")))
            return {unb64(kv["key"]).decode()[len("account/"):]: decode_value(kv.get("value", ""))
                    for kv in kvs}
        if f != "transfer":
            raise UnsupportedOp
        src, dst, amount = value["from"], value["to"], value["amount"]
        ka, kb = f"account/{src}", f"account/{dst}"

        def attempt():
            got = self._read_keys([ka, kb], deadline)
            if got[ka] is None or got[kb] is None:
                raise OpEnded("fail", f"account {src if got[ka] is None else dst} does not exist")
            a, b = decode_value(got[ka].get("value", "")), decode_value(got[kb].get("value", ""))
            if a - amount < 0 and not self.options.get("negative_balances", False):
                raise OpEnded("fail", f"insufficient funds: account {src} has {a}, transfer of {amount}")
            doc = self._txn([self._unchanged(ka, got[ka]), self._unchanged(kb, got[kb])],
                            [self._put_op(ka, a - amount), self._put_op(kb, b + amount)], deadline)
            return value if doc.get("succeeded") is True else _CONFLICT
        return self._rmw(deadline, attempt)

    def _queue(self, f, value, deadline):
        if f == "enqueue":
            self._put(f"queue/{json.dumps(value)}", value, deadline)
            return value
        if f != "dequeue":
            raise UnsupportedOp

        def attempt():
            kvs = self._range("queue/", deadline, range_end=b64(prefix_end("queue/")), limit=1,
                              sort_order="ASCEND", sort_target="CREATE")
            if not kvs:
                return None  # empty at the moment of that read
            kv = kvs[0]
            key = unb64(kv["key"]).decode()
            doc = self._txn([self._unchanged(key, kv)],
                            [{"requestDeleteRange": {"key": kv["key"]}}], deadline)
            return decode_value(kv.get("value", "")) if doc.get("succeeded") is True else _CONFLICT
        return self._rmw(deadline, attempt)
