"""Client for etcd's v3 JSON gateway (``/v3/kv/range``, ``/v3/kv/put``, ``/v3/kv/txn``).

One :class:`EtcdClient` per worker, bound to one node, with one keep-alive HTTP/1.1 connection
(stdlib :mod:`http.client`). Keys and values travel base64-encoded; values are stored as the JSON
text of the op's value (``3`` is stored as the bytes ``b"3"``), so a read JSON-decodes what it finds.

Register ops on one key (option ``key``, default ``"r"``; an op may carry its own ``"key"``):

==========  =======================  ==========================================================
``f``       invoke ``value``         completion
==========  =======================  ==========================================================
``read``    ``None``                 ``ok`` with the value read (``None`` if the key is absent)
``write``   ``v``                    ``ok`` (a put)
``cas``     ``[from, to]``           ``ok`` if the txn ``value(key) == from -> put to``
                                     succeeded, ``fail`` if the compare was false.
                                     ``from = None`` compares ``create_revision == 0`` (absent).
==========  =======================  ==========================================================

Reads are linearizable (etcd's default quorum read) unless the option ``serializable`` is set, in
which case the range carries ``"serializable": true`` and the node answers from its local state.

How an error becomes ``fail`` or ``info`` (:func:`classify_error`, a pure function):

1. A ``read`` that errors, for whatever reason, is ``fail``: a read changes no state, so
   recording it as "did not happen" is always safe (Jepsen's etcd test does the same).
2. The request was certainly never sent -> ``fail``. We only know that when the failure happened
   while *opening* the TCP connection (refused, unreachable, connect timeout): the client opens
   connections explicitly before writing a byte, and an idle keep-alive connection that the
   server closed is detected (readable socket) and replaced before it is used.
3. Anything that went wrong after request bytes may have left -> ``info``: a timeout, a reset or
   broken pipe, a connection closed without an answer, a truncated or unparsable answer.
4. The server answered with an error (the gateway maps gRPC codes to HTTP statuses and puts
   ``{"code": n, "message": ...}`` in the body): codes that etcd only returns for a request it
   rejected without applying it are ``fail`` — InvalidArgument (3), NotFound (5),
   AlreadyExists (6), PermissionDenied (7), ResourceExhausted (8: "too many requests",
   "database space exceeded"), FailedPrecondition (9), OutOfRange (11), Unimplemented (12),
   Unauthenticated (16), and an HTTP 404/405 with no gRPC code (no such route). Every other code
   -> ``info``: Unavailable (14: "etcdserver: request timed out", "leader changed", "no leader",
   "server stopped"), DeadlineExceeded (4), Canceled (1), Unknown (2), Aborted (10),
   Internal (13), DataLoss (15), and any 5xx or unrecognised answer.

``ok`` is returned only for a 200 answer whose body parsed. A ``cas`` whose compare failed is a
definite ``fail`` (``succeeded`` absent or false in a 200 answer).
"""

from __future__ import annotations

import base64
import http.client
import json
import select
import socket
import time
from typing import Any

# gRPC status codes etcd only uses for requests it rejected without applying them.
DEFINITE_GRPC_CODES = frozenset({3, 5, 6, 7, 8, 9, 11, 12, 16})
GRPC_CODE_NAMES = {
    1: "Canceled", 2: "Unknown", 3: "InvalidArgument", 4: "DeadlineExceeded", 5: "NotFound",
    6: "AlreadyExists", 7: "PermissionDenied", 8: "ResourceExhausted", 9: "FailedPrecondition",
    10: "Aborted", 11: "OutOfRange", 12: "Unimplemented", 13: "Internal", 14: "Unavailable",
    15: "DataLoss", 16: "Unauthenticated",
}
REGISTER_OPS = ("read", "write", "cas")


def b64(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def encode_value(value: Any) -> str:
    """The base64 text etcd stores for an op value (its compact JSON)."""
    return b64(json.dumps(value, separators=(",", ":"), sort_keys=True))


def decode_value(data: str) -> Any:
    """A value read back: JSON-decoded, or the raw text when it is not JSON (not ours)."""
    raw = unb64(data)
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class RequestError(Exception):
    """A transport failure, tagged with whether request bytes may have reached the server."""

    def __init__(self, message: str, sent: bool):
        super().__init__(message)
        self.sent = sent


def _describe_exc(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout" + (f": {text}" if text and text != "timed out" else "")
    return f"{name}: {text}" if text else name


def parse_grpc_error(body: bytes | str | None) -> tuple[int | None, str | None]:
    """``(code, message)`` from a gateway error body, ``(None, None)`` when it has none."""
    if body is None:
        return None, None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        doc = json.loads(body)
    except ValueError:
        return None, (body.strip()[:200] or None)
    if not isinstance(doc, dict):
        return None, None
    code = doc.get("code")
    if not isinstance(code, int) or isinstance(code, bool):
        code = None
    msg = doc.get("message") or doc.get("error")
    return code, (str(msg) if msg is not None else None)


def classify_error(
    f: str,
    *,
    sent: bool = True,
    exc: BaseException | str | None = None,
    status: int | None = None,
    body: bytes | str | None = None,
) -> tuple[str, str]:
    """Decide ``("fail" | "info", error_text)`` for an op that did not succeed.

    ``sent`` is False only when the request certainly never left (failure while connecting).
    Either ``exc`` (a transport failure) or ``status``/``body`` (an HTTP error answer) is given.
    See the module docstring for the rules.
    """
    if exc is not None:
        text = exc if isinstance(exc, str) else _describe_exc(exc)
        if not sent:
            return "fail", f"not sent: {text}"
        return ("fail" if f == "read" else "info"), text
    code, msg = parse_grpc_error(body)
    if code is not None:
        text = f"{GRPC_CODE_NAMES.get(code, 'code ' + str(code))}: {msg or ''}".rstrip(": ")
        definite = code in DEFINITE_GRPC_CODES
    else:
        text = f"HTTP {status}" + (f": {msg}" if msg else "")
        definite = status in (404, 405)
    if f == "read" or definite:
        return "fail", text
    return "info", text


class EtcdClient:
    """A register client bound to one etcd node's client URL (``http://host:port``)."""

    def __init__(
        self,
        host: str,
        port: int = 2379,
        *,
        key: str = "r",
        serializable: bool = False,
        op_timeout_s: float = 4.0,
        connect_timeout_s: float | None = None,
        node_name: str | None = None,
        workload: str | None = None,
        workload_options: dict | None = None,
    ):
        self.host = host
        self.port = int(port)
        self.key = key
        self.serializable = bool(serializable)
        self.op_timeout_s = float(op_timeout_s)
        self.connect_timeout_s = float(connect_timeout_s if connect_timeout_s is not None
                                       else min(self.op_timeout_s, 2.0))
        self.node_name = node_name or host
        self._conn: http.client.HTTPConnection | None = None
        #: Ops of workloads other than the register (harness.targets.etcd_workloads).
        self.workload_ops = None
        if workload not in (None, "register"):
            from harness.targets.etcd_workloads import EtcdWorkloadOps
            self.workload_ops = EtcdWorkloadOps(self, workload, workload_options)

    # -- client protocol ---------------------------------------------------------------
    def setup(self) -> None:
        """The register key starts absent (initial value ``None``); other workloads may prepare
        keys (the bank's initial balances)."""
        if self.workload_ops is not None:
            self.workload_ops.setup()

    def teardown(self) -> None:
        pass

    def close(self) -> None:
        self._drop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def invoke(self, op: dict) -> dict:
        """Run one op; return its completion (a new dict: ``type``, ``value``, maybe ``error``)."""
        if self.workload_ops is not None:
            return self.workload_ops.invoke(op)
        return self._register_invoke(op)

    def _register_invoke(self, op: dict) -> dict:
        """One register op (read/write/cas on ``op["key"]`` or the client's key)."""
        f = op.get("f")
        key = op.get("key", self.key)
        value = op.get("value")
        done = dict(op)
        done.pop("error", None)
        try:
            if f == "read":
                body = {"key": b64(key)}
                if self.serializable:
                    body["serializable"] = True
                path = "/v3/kv/range"
            elif f == "write":
                path, body = "/v3/kv/put", {"key": b64(key), "value": encode_value(value)}
            elif f == "cas":
                if not (isinstance(value, (list, tuple)) and len(value) == 2):
                    done.update(type="fail", error=f"cas value must be [from, to], got {value!r}")
                    return done
                path, body = "/v3/kv/txn", self._cas_body(key, value[0], value[1])
            else:
                done.update(type="fail", error=f"unsupported op f={f!r} (etcd register client)")
                return done
        except (TypeError, ValueError) as exc:
            done.update(type="fail", error=f"cannot encode op: {exc}")
            return done

        try:
            status, raw = self._post(path, body)
        except RequestError as exc:
            typ, err = classify_error(f, sent=exc.sent, exc=str(exc))
            done.update(type=typ, error=err)
            if typ == "fail" and f == "read":
                done["value"] = None
            return done
        if status != 200:
            typ, err = classify_error(f, status=status, body=raw)
            done.update(type=typ, error=err)
            if f == "read":
                done["value"] = None
            return done
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            typ, err = classify_error(f, exc=f"unparsable 200 answer: {exc}")
            done.update(type=typ, error=err)
            if f == "read":
                done["value"] = None
            return done

        if f == "read":
            kvs = doc.get("kvs") or []
            done.update(type="ok", value=decode_value(kvs[0].get("value", "")) if kvs else None)
        elif f == "write":
            done.update(type="ok")
        else:
            if doc.get("succeeded") is True:
                done.update(type="ok")
            else:
                done.update(type="fail", error="cas: compare failed")
        return done

    # -- internals ---------------------------------------------------------------------
    @staticmethod
    def _cas_body(key: str, old: Any, new: Any) -> dict:
        if old is None:
            compare = {"key": b64(key), "result": "EQUAL", "target": "CREATE",
                       "create_revision": "0"}
        else:
            compare = {"key": b64(key), "result": "EQUAL", "target": "VALUE",
                       "value": encode_value(old)}
        return {"compare": [compare],
                "success": [{"requestPut": {"key": b64(key), "value": encode_value(new)}}]}

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
            self._conn = None

    def _usable_conn(self) -> http.client.HTTPConnection | None:
        """The kept-alive connection, unless the server closed it meanwhile."""
        conn = self._conn
        if conn is None or conn.sock is None:
            self._drop()
            return None
        try:
            readable, _, _ = select.select([conn.sock], [], [], 0)
        except (OSError, ValueError):
            readable = [True]
        if readable:  # EOF, reset or stray bytes on an idle connection: do not reuse it
            self._drop()
            return None
        return conn

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=min(self.connect_timeout_s, self.op_timeout_s))
        try:
            conn.connect()
        except OSError as exc:  # refused, unreachable, connect timeout: nothing was sent
            conn.close()
            raise RequestError(f"connect {self.host}:{self.port}: {_describe_exc(exc)}",
                               sent=False) from exc
        conn.sock.settimeout(self.op_timeout_s)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = conn
        return conn

    def _post(self, path: str, body: dict) -> tuple[int, bytes]:
        """POST ``body``; the whole exchange (connect included) gets ``op_timeout_s``."""
        deadline = time.monotonic() + self.op_timeout_s
        conn = self._usable_conn() or self._connect()
        data = json.dumps(body).encode()

        def budget() -> float:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out")
            conn.sock.settimeout(left)
            return left

        try:
            budget()
        except socket.timeout as exc:  # connecting used the whole budget; nothing sent yet
            self._drop()
            raise RequestError(f"connect {self.host}:{self.port}: timeout", sent=False) from exc
        try:
            conn.request("POST", path, body=data,
                         headers={"Content-Type": "application/json", "Connection": "keep-alive"})
            budget()
            resp = conn.getresponse()
            budget()
            raw = resp.read()
            status = resp.status
            if resp.will_close:
                self._drop()
            return status, raw
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise RequestError(_describe_exc(exc), sent=True) from exc

    def status(self) -> dict:
        """``/v3/maintenance/status`` of this node (raises :class:`RequestError` on failure)."""
        status, raw = self._post("/v3/maintenance/status", {})
        if status != 200:
            raise RequestError(f"status: HTTP {status}: {raw[:200]!r}", sent=True)
        return json.loads(raw)


class EtcdClientFactory:
    """``open(node)`` gives a new :class:`EtcdClient` bound to ``node.ip`` and ``client_port``.

    ``node`` is a :class:`harness.control.Node` (anything with ``ip`` and ``name``) or a host
    string. Options: ``key``, ``serializable``, ``op_timeout_s``, ``connect_timeout_s``,
    ``client_port`` (see :mod:`harness.targets.etcd`).
    """

    def __init__(self, options: dict | None = None):
        from harness.targets.etcd import normalize_options
        self.options = normalize_options(options)
        self.workload: str | None = None
        self.workload_options: dict = {}

    def use_workload(self, workload) -> None:
        """Speak ``workload``'s ops (an object with ``name`` and ``options``); the runner calls
        this before the run. InputError when etcd cannot express it."""
        from harness.errors import InputError
        from harness.targets.etcd_workloads import SUPPORTED

        if workload.name not in SUPPORTED:
            raise InputError(f"etcd: workload {workload.name!r} is not supported "
                             f"(supported: {', '.join(SUPPORTED)})")
        self.workload = workload.name
        self.workload_options = dict(getattr(workload, "options", {}) or {})

    def open(self, node) -> EtcdClient:
        host = node if isinstance(node, str) else node.ip
        name = node if isinstance(node, str) else getattr(node, "name", host)
        o = self.options
        return EtcdClient(host, o["client_port"], key=o["key"], serializable=o["serializable"],
                          op_timeout_s=o["op_timeout_s"], connect_timeout_s=o["connect_timeout_s"],
                          node_name=name, workload=self.workload,
                          workload_options=self.workload_options)
