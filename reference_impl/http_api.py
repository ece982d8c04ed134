"""A small asyncio HTTP/1.1 JSON server for the reference stores' client API.

Routes (DESIGN.md, "Reference implementations"); ``backend`` implements them:

=====================================  ===========================================================
``GET /kv/<key>``                      ``backend.get(key)``
``PUT /kv/<key>`` ``{"value": v}``     ``backend.put(key, v)``
``POST /kv/<key>/cas`` ``{"from","to"}``  ``backend.cas(key, from, to)``
``POST /txn`` ``{"ops": [...]}``       ``backend.txn(ops)``
``GET /status``                        ``backend.status()``
``POST /admin/members`` ``{"add": id}``  ``backend.members(doc)`` (also ``{"remove": id}``; only
                                       backends with a ``members`` method, else 404)
=====================================  ===========================================================

Each backend method is a coroutine returning ``(http_status, json_body)``. Every answer body says
what happened to the request in ``"outcome"``: ``"ok"`` (done), ``"failed"`` (certainly not
done: e.g. ``409 {"leader": ...}`` from a node that is not the leader) or ``"unknown"`` (a 5xx: it
may or may not take effect). Keep-alive connections, ``Content-Length`` bodies only.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import unquote

MAX_BODY = 1 << 20
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            409: "Conflict", 413: "Payload Too Large", 500: "Internal Server Error",
            503: "Service Unavailable"}


def _bad(msg: str, status: int = 400) -> tuple[int, dict]:
    return status, {"error": msg, "outcome": "failed"}


async def route(backend: Any, method: str, path: str, body: bytes) -> tuple[int, dict]:
    """Dispatch one request to ``backend``; bad requests are definite failures (4xx)."""
    doc: Any = None
    if body:
        try:
            doc = json.loads(body)
        except ValueError:
            return _bad("body is not JSON")
        except RecursionError:  # "[[[[...": valid-looking, but deeper than the parser goes
            return _bad("body is not JSON (nested too deeply)")
    path = path.split("?", 1)[0]
    if path == "/status":
        if method != "GET":
            return _bad("use GET /status", 405)
        return 200, backend.status()
    if path == "/admin/members":
        members = getattr(backend, "members", None)
        if members is None:
            return _bad("this store cannot change its membership", 404)
        if method != "POST":
            return _bad("use POST /admin/members", 405)
        return await members(doc)
    if path == "/txn":
        if method != "POST":
            return _bad("use POST /txn", 405)
        if not isinstance(doc, dict) or "ops" not in doc:
            return _bad('expected {"ops": [[f, key, value], ...]}')
        return await backend.txn(doc["ops"])
    if path.startswith("/kv/"):
        rest = path[4:]
        if rest.endswith("/cas"):
            key = unquote(rest[:-4])
            if method != "POST":
                return _bad("use POST /kv/<key>/cas", 405)
            if not isinstance(doc, dict) or "from" not in doc or "to" not in doc:
                return _bad('expected {"from": a, "to": b}')
            return await backend.cas(key, doc["from"], doc["to"])
        key = unquote(rest)
        if not key:
            return _bad("empty key", 404)
        if method == "GET":
            return await backend.get(key)
        if method == "PUT":
            if not isinstance(doc, dict) or "value" not in doc:
                return _bad('expected {"value": v}')
            return await backend.put(key, doc["value"])
        return _bad("use GET or PUT /kv/<key>", 405)
    return _bad(f"no route {path}", 404)


async def serve_connection(backend: Any, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
    """Serve requests on one connection until the client closes it."""
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            try:
                method, target, _version = line.decode("latin-1").split()
            except ValueError:
                await _respond(writer, 400, {"error": "bad request line", "outcome": "failed"},
                               close=True)
                return
            length = 0
            close = False
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                name, _, value = h.decode("latin-1").partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    try:
                        length = int(value.strip() or 0)
                    except ValueError:
                        length = -1
                    if length < 0:
                        await _respond(writer, 400, {"error": "bad Content-Length",
                                                     "outcome": "failed"}, close=True)
                        return
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
            if length > MAX_BODY:
                await _respond(writer, 413, {"error": "body too large", "outcome": "failed"},
                               close=True)
                return
            body = await reader.readexactly(length) if length else b""
            try:
                status, doc = await route(backend, method, target, body)
            except Exception as e:  # noqa: BLE001 - a bug must not look like a definite answer
                status, doc = 500, {"error": f"{type(e).__name__}: {e}", "outcome": "unknown"}
            await _respond(writer, status, doc, close=close)
            if close:
                return
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        return
    finally:
        writer.close()


async def _respond(writer: asyncio.StreamWriter, status: int, doc: dict, close: bool) -> None:
    if "outcome" not in doc:
        doc = dict(doc, outcome="ok" if status == 200 else "failed" if status < 500 else "unknown")
    body = json.dumps(doc, separators=(",", ":")).encode()
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n").encode()
    writer.write(head + body)
    await writer.drain()
