"""``client: http``: a configurable HTTP/JSON KV client for the ``commands`` target.

Any store with a JSON-over-HTTP key-value API can be audited without writing Python: the YAML
says, for each op, the method, the path, the request body and where the answer's value is, and
which status codes mean what. Standard library only (:mod:`http.client`), keep-alive
connections, one deadline per op. docs/auditing.md has the reference; docs/audits/raft-http.yaml
is a complete example (the reference Raft store)::

    client: http
    client-options:
      url: "http://{ip}:{port}"        # per node: {ip}, {port}, {node}; default as shown
      key: r                           # {key} of every op (URL-quoted in paths)
      timeout_s: 4                     # whole op, redirects included; per op: timeout_s
      connect_timeout_s: 1
      redirect: {status: [409], field: leader_http}   # optional: retry where the answer points
      read:  {method: GET,  path: "/kv/{key}", value: value, ok: [200], not-found: [404]}
      write: {method: PUT,  path: "/kv/{key}", body: {value: "{value}"}, ok: [200], fail: [400]}
      cas:   {method: POST, path: "/kv/{key}/cas", body: {from: "{expected}", to: "{new}"},
              ok: [200], success: ok, cas-failed: [412], fail: [400]}
      add:   {...}                     # set: add an element; counter: add a delta

Ops and workloads: ``read``, ``write`` and ``cas`` give the register workload; ``add`` and
``read`` the set workload (a read's value must be a list; absent is ``[]``) and the counter
workload (an atomic increment by ``{value}``; a read's absent value is ``0``).

Placeholders: in ``path``, ``{key}``, ``{value}``, ``{expected}``, ``{new}`` are URL-quoted
(a non-string value as its JSON text). In ``body`` (any JSON: mappings, lists, scalars), a string
that is exactly one placeholder (``"{value}"``) becomes the op's value with its JSON type; a
placeholder inside a longer string is replaced by its text. ``{expected}``/``{new}`` are the
cas op's ``[expected, new]``; ``{{``/``}}`` are literal braces.

How an answer becomes a completion (DESIGN.md: ``ok`` only when the store said it happened,
``fail`` when it certainly did not, ``info`` when unsure):

- not sent (the connection was refused or timed out before the request went out): ``fail``;
- a status in ``ok``: ``ok``; a read takes its value from the JSON answer at ``value`` (a dotted
  path: ``data.value``, ``items.0``); when ``success`` is set, the field there must be ``true``
  (``false`` is a failed compare: ``fail``);
- a status in ``not-found``: a read is ``ok`` with value ``null`` (``[]`` for a set, ``0`` for a
  counter); a write, add or cas is ``fail``;
- a status in ``fail`` or ``cas-failed``: ``fail``;
- a status in ``redirect.status`` whose answer names another node (``"ip:port"`` or
  ``"http://ip:port"`` at ``redirect.field``): the same request is sent there (at most 3 hops).
  That answer said "not done", so resending changes nothing. With no usable hint it is ``fail``;
- anything else (another status, an answer that is not JSON or lacks the value, a timeout or a
  dropped connection after sending): ``info``, except that a read is then ``fail`` (a read
  changes nothing, so it certainly did not take effect).

Bad options are one :class:`~harness.errors.InputError` line naming the field
(``audit.yaml:12: db-options: client-options: cas: method: ...``): the commands target checks
them when the file is loaded (:func:`normalize_http_options` through
:mod:`harness.targets.commands_options`).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import string
import time
from typing import Any, Callable
from urllib.parse import quote, urlsplit

from harness.errors import InputError
from harness.targets.keepalive_http import KeepAliveConnections, NotSent

#: Op names the adapter can be configured with.
OPS = ("read", "write", "cas", "add")
#: Workload -> the ops it needs.
WORKLOAD_OPS = {"register": ("read", "write", "cas"), "set": ("add", "read"),
                "counter": ("add", "read")}
#: Placeholders of ``url``, of op paths and bodies.
URL_PLACEHOLDERS = ("ip", "port", "node")
OP_PLACEHOLDERS = ("key", "value", "expected", "new")
METHODS = ("GET", "PUT", "POST", "PATCH", "DELETE")
STATUS_FIELDS = ("ok", "not_found", "fail", "cas_failed")
OP_FIELDS = ("method", "path", "body", "value", "success", "timeout_s", *STATUS_FIELDS)
OPTION_FIELDS = ("url", "key", "timeout_s", "connect_timeout_s", "redirect", "port", *OPS)
#: Redirects followed in one op.
MAX_HOPS = 3

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING = object()

Bad = Callable[..., Exception]  # bad(message, *field_path) -> an InputError to raise


def _plain_bad(msg: str, *sub) -> InputError:
    return InputError(": ".join(["db-options: client-options", *(str(s) for s in sub), msg]))


def _placeholders(template: str) -> list[str]:
    names = []
    for _lit, field, spec, conv in string.Formatter().parse(template):
        if field is None:
            continue
        if not _IDENT.match(field) or conv is not None or spec:
            raise ValueError(f"placeholder {{{field}}} must be a plain name like {{key}}")
        names.append(field)
    return names


def _check_template(template: Any, valid: tuple, bad: Bad, *sub) -> None:
    if not isinstance(template, str):
        raise bad(f"must be a string, got {template!r}", *sub)
    try:
        used = _placeholders(template)
        template.format(**{n: "0" for n in used})
    except (ValueError, IndexError, KeyError) as e:
        raise bad(f"bad template: {e}", *sub) from None
    unknown = [u for u in used if u not in valid]
    if unknown:
        raise bad(f"unknown placeholder {{{unknown[0]}}} (valid: "
                  f"{', '.join('{' + v + '}' for v in valid)})", *sub)


def _check_body(body: Any, bad: Bad, sub: tuple, depth: int = 0) -> None:
    if depth > 8:
        raise bad("nested too deeply (at most 8 levels)", *sub)
    if isinstance(body, str):
        _check_template(body, OP_PLACEHOLDERS, bad, *sub)
    elif isinstance(body, dict):
        for k, v in body.items():
            if not isinstance(k, str):
                raise bad(f"JSON object keys must be strings, got {k!r}", *sub)
            _check_body(v, bad, sub + (k,), depth + 1)
    elif isinstance(body, list):
        for i, v in enumerate(body):
            _check_body(v, bad, sub + (i,), depth + 1)
    elif body is not None and not isinstance(body, (bool, int, float)):
        raise bad(f"must be JSON (mapping, list, string, number, true/false, null), got {body!r}",
                  *sub)


def _check_timeout(v: Any, bad: Bad, *sub) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 600:
        raise bad(f"must be a number of seconds in (0, 600], got {v!r}", *sub)
    return float(v)


def _check_dotted(v: Any, bad: Bad, *sub) -> str:
    if not isinstance(v, str) or not v or any(not p for p in v.split(".")):
        raise bad(f"must be a dotted path into the answer's JSON like value or data.value, "
                  f"got {v!r}", *sub)
    return v


def _statuses(v: Any, bad: Bad, *sub) -> frozenset:
    items = [v] if isinstance(v, int) and not isinstance(v, bool) else v
    if not isinstance(items, list) or any(isinstance(s, bool) or not isinstance(s, int)
                                         or not 100 <= s <= 599 for s in items):
        raise bad(f"must be an HTTP status code or a list of them (100-599), got {v!r}", *sub)
    return frozenset(items)


def normalize_http_options(options: dict | None, bad: Bad = _plain_bad) -> dict:
    """The adapter's options, validated and normalised (``-`` in names becomes ``_``).

    ``bad(message, *field_path)`` makes the error raised for a bad field (default: an
    InputError ``db-options: client-options: <field>: <message>``)."""
    raw = dict(options or {})
    o: dict[str, Any] = {"url": "http://{ip}:{port}", "key": "r", "timeout_s": 4.0,
                         "connect_timeout_s": 1.0, "redirect": None, "port": None, "ops": {}}
    seen = {}
    for k, v in raw.items():
        name = str(k).replace("-", "_")
        if name not in OPTION_FIELDS:
            raise bad(f"unknown field for the http client (valid: "
                      f"{', '.join(f.replace('_', '-') for f in OPTION_FIELDS if f != 'port')})", k)
        seen[name] = (k, v)
    if "port" in seen:
        p = seen["port"][1]
        if p is not None and (isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535):
            raise bad(f"must be a port number from 1 to 65535, got {p!r}", "port")
        o["port"] = p
    if "url" in seen:
        k, v = seen["url"]
        _check_template(v, URL_PLACEHOLDERS, bad, k)
        o["url"] = v
    probe = urlsplit(o["url"].format(ip="10.0.0.1", port=1, node="n1"))
    if probe.scheme != "http" or not probe.hostname or probe.query or probe.fragment:
        raise bad(f"must be an http:// URL like http://{{ip}}:{{port}} (an optional path prefix, "
                  f"no query), got {o['url']!r}", seen.get("url", ("url",))[0])
    if "key" in seen:
        k, v = seen["key"]
        if not isinstance(v, str) or not v:
            raise bad(f"must be a non-empty string, got {v!r}", k)
        o["key"] = v
    for name in ("timeout_s", "connect_timeout_s"):
        if name in seen:
            o[name] = _check_timeout(seen[name][1], bad, seen[name][0])
    if "redirect" in seen:
        k, v = seen["redirect"]
        if not isinstance(v, dict):
            raise bad(f"must be a mapping {{status: [409], field: leader}}, got {v!r}", k)
        extra = sorted(set(v) - {"status", "field"})
        if extra:
            raise bad("unknown field (valid: status, field)", k, extra[0])
        if "status" not in v or "field" not in v:
            raise bad("needs both status (codes that point elsewhere) and field (where the "
                      "answer names the node: ip:port or http://ip:port)", k)
        o["redirect"] = {"status": _statuses(v["status"], bad, k, "status"),
                         "field": _check_dotted(v["field"], bad, k, "field")}
    for op in OPS:
        if op in seen:
            o["ops"][op] = _normalize_op(op, seen[op][0], seen[op][1], o, bad)
    if not o["ops"]:
        raise bad("no ops configured: give at least read and write (and cas) for the register "
                  "workload, or add and read for the set and counter workloads", "read")
    return o


def _normalize_op(op: str, key: Any, spec: Any, o: dict, bad: Bad) -> dict:
    if not isinstance(spec, dict):
        raise bad(f"must be a mapping (method, path, body, value, ok, ...), got {spec!r}", key)
    s: dict[str, Any] = {"method": None, "path": None, "body": None, "value": None,
                         "success": None, "timeout_s": o["timeout_s"],
                         **{f: frozenset() for f in STATUS_FIELDS}}
    given = {}
    for k, v in spec.items():
        name = str(k).replace("-", "_")
        if name not in OP_FIELDS:
            raise bad(f"unknown field (valid: {', '.join(f.replace('_', '-') for f in OP_FIELDS)})",
                      key, k)
        given[name] = (k, v)
    for need in ("method", "path", "ok"):
        if need not in given:
            raise bad(f"missing field {need.replace('_', '-')}", key)
    mk, method = given["method"]
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise bad(f"must be one of {', '.join(METHODS)}, got {method!r}", key, mk)
    s["method"] = method.upper()
    pk, path = given["path"]
    _check_template(path, OP_PLACEHOLDERS, bad, key, pk)
    if not path.startswith("/"):
        raise bad(f"must start with '/', got {path!r}", key, pk)
    s["path"] = path
    if "body" in given:
        bk, body = given["body"]
        _check_body(body, bad, (key, bk))
        s["body"] = body
    if s["method"] == "GET" and s["body"] is not None:
        raise bad("a GET request has no body", key, given["body"][0])
    if "value" in given:
        s["value"] = _check_dotted(given["value"][1], bad, key, given["value"][0])
    if op == "read" and s["value"] is None:
        raise bad("missing field value: where the answer's JSON holds the value read "
                  "(a dotted path like value or data.value)", key)
    if "success" in given:
        s["success"] = _check_dotted(given["success"][1], bad, key, given["success"][0])
    if "timeout_s" in given:
        s["timeout_s"] = _check_timeout(given["timeout_s"][1], bad, key, given["timeout_s"][0])
    owner: dict[int, str] = {}
    for f in STATUS_FIELDS:
        if f in given:
            s[f] = _statuses(given[f][1], bad, key, given[f][0])
            for code in s[f]:
                if code in owner:
                    raise bad(f"status {code} is listed in both {owner[code]} and "
                              f"{f.replace('_', '-')}", key, given[f][0])
                owner[code] = f.replace("_", "-")
    if not s["ok"]:
        raise bad("must list at least one status code", key, given["ok"][0])
    red = o["redirect"]
    if red is not None:
        both = sorted(red["status"] & set(owner))
        if both:
            raise bad(f"status {both[0]} is also a redirect status", key)
    return s


# -- pure mapping -------------------------------------------------------------------------

def dotted(doc: Any, path: str) -> Any:
    """The value at ``path`` (``a.b.0``) in ``doc``, or :data:`_MISSING`."""
    cur = doc
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def _values(op: dict, key: str) -> dict[str, Any]:
    v = op.get("value")
    out = {"key": key, "value": v, "expected": None, "new": None}
    if op.get("f") == "cas" and isinstance(v, (list, tuple)) and len(v) == 2:
        out["expected"], out["new"] = v[0], v[1]
    return out


def _text(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def render_path(template: str, values: dict[str, Any]) -> str:
    """``template`` with each placeholder replaced by its URL-quoted text."""
    return template.format(**{k: quote(_text(v), safe="") for k, v in values.items()})


def render_body(body: Any, values: dict[str, Any]) -> Any:
    """``body`` with placeholders filled: a whole-string ``"{value}"`` keeps the JSON type."""
    if isinstance(body, str):
        names = _placeholders(body)
        if len(names) == 1 and body == "{" + names[0] + "}":
            return values[names[0]]
        return body.format(**{k: _text(v) for k, v in values.items()})
    if isinstance(body, dict):
        return {k: render_body(v, values) for k, v in body.items()}
    if isinstance(body, list):
        return [render_body(v, values) for v in body]
    return body


def completion(op: dict, spec: dict, outcome: str, status: int | None = None,
               doc: Any = None, error: str = "", workload: str | None = None) -> dict:
    """The completion of ``op`` for one exchange's result.

    ``outcome`` is ``"answer"`` (``status`` and parsed ``doc``, or ``doc`` = :data:`_MISSING`
    when the body was not JSON), ``"notsent"`` or ``"doubt"`` (sent, no answer)."""
    f = op.get("f")
    done = dict(op)
    done.pop("error", None)
    read = f == "read"

    def result(typ: str, err: str = "", value: Any = _MISSING) -> dict:
        done["type"] = typ
        if err:
            done["error"] = err
        if value is not _MISSING:
            done["value"] = value
        elif read and typ != "ok":
            done["value"] = None
        return done

    if outcome == "notsent":
        return result("fail", f"not sent: {error}")
    if outcome == "doubt":
        return result("fail" if read else "info", error or "no answer")
    where = f"HTTP {status}"
    if status not in spec["ok"] and doc is not None and doc is not _MISSING:
        where += " " + json.dumps(doc)[:160]  # the answer, for the reader of the history
    if status in spec["ok"]:
        if doc is _MISSING and (read or spec["success"] is not None):
            return result("fail" if read else "info", f"{where}: the answer is not JSON")
        if spec["success"] is not None:
            flag = dotted(doc, spec["success"])
            if flag is False:
                return result("fail", f"{where}: {spec['success']} is false (compare failed)")
            if flag is not True:
                got = "missing" if flag is _MISSING else repr(flag)
                return result("fail" if read else "info",
                              f"{where}: {spec['success']} is {got}, not true or false")
        if read:
            v = dotted(doc, spec["value"])
            if v is _MISSING:
                return result("fail", f"{where}: the answer has no {spec['value']}")
            return result("ok", value=_empty(workload) if v is None else v)
        return result("ok")
    if status in spec["not_found"]:
        if read:
            return result("ok", value=_empty(workload))
        return result("fail", f"{where}: not found")
    if status in spec["cas_failed"]:
        return result("fail", f"{where}: compare failed")
    if status in spec["fail"]:
        return result("fail", where)
    return result("fail" if read else "info", f"{where}: not a status this op knows "
                                               f"(ok: {sorted(spec['ok'])})")


def _empty(workload: str | None) -> Any:
    return [] if workload == "set" else 0 if workload == "counter" else None


def redirect_target(doc: Any, field: str) -> tuple[str, int] | None:
    """``(host, port)`` named at ``field`` (``ip:port`` or ``http://ip:port[/...]``), or None."""
    v = dotted(doc, field)
    if not isinstance(v, str) or not v:
        return None
    try:
        u = urlsplit(v if "//" in v else "http://" + v)
        port = u.port
    except ValueError:
        return None
    if u.scheme != "http" or not u.hostname or port is None:
        return None
    return u.hostname, port


# -- the client -----------------------------------------------------------------------------

class HttpJsonClient:
    """One worker's client of one node: ``invoke(op)`` runs the configured request."""

    def __init__(self, options: dict, base_url: str, workload: str | None = None):
        self.o = options
        u = urlsplit(base_url)
        self.home = (u.hostname, u.port or 80)
        self.prefix = u.path.rstrip("/")
        self.workload = workload
        self._http = KeepAliveConnections(options["connect_timeout_s"])

    def close(self) -> None:
        self._http.close()

    def _request(self, addr, method: str, path: str, body: Any, deadline: float):
        """``(status, doc)``; raises NotSent before sending, OSError/HTTPException after."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        status, raw = self._http.request(addr, method, self.prefix + path, data, headers,
                                         deadline)
        try:
            doc = json.loads(raw) if raw else None
        except (ValueError, RecursionError):
            doc = _MISSING
        return status, doc

    def invoke(self, op: dict) -> dict:
        f = op.get("f")
        spec = self.o["ops"].get(f)
        if spec is None:
            return dict(op, type="fail", error=f"the http client has no {f!r} op configured")
        if f == "cas" and not (isinstance(op.get("value"), (list, tuple)) and len(op["value"]) == 2):
            return dict(op, type="fail", error=f"cas value must be [expected, new], got {op.get('value')!r}")
        values = _values(op, str(op.get("key", self.o["key"])))
        path = render_path(spec["path"], values)
        body = None if spec["body"] is None else render_body(spec["body"], values)
        deadline = time.monotonic() + spec["timeout_s"]
        addr, red, hops = self.home, self.o["redirect"], 0
        while True:
            try:
                status, doc = self._request(addr, spec["method"], path, body, deadline)
            except NotSent as e:
                return completion(op, spec, "notsent", error=str(e), workload=self.workload)
            except (OSError, http.client.HTTPException) as e:
                what = "timeout" if isinstance(e, (socket.timeout, TimeoutError)) else \
                    f"{type(e).__name__}: {e}"
                return completion(op, spec, "doubt", error=what, workload=self.workload)
            if red is not None and status in red["status"]:
                target = redirect_target(doc, red["field"])
                if target is not None and target != addr and hops < MAX_HOPS:
                    addr, hops = target, hops + 1
                    continue
                done = dict(op, type="fail", error=f"HTTP {status}: redirect without a usable "
                                                   f"{red['field']} (hops {hops})")
                if f == "read":
                    done["value"] = None
                return done
            return completion(op, spec, "answer", status, doc, workload=self.workload)


class HttpJsonClientFactory:
    """``open(node)``: an :class:`HttpJsonClient` for ``url`` rendered for the node."""

    def __init__(self, options: dict, *, normalized: bool = False):
        self.o = dict(options) if normalized else normalize_http_options(options)
        self.workload: str | None = None

    def use_workload(self, workload) -> None:
        name = getattr(workload, "name", None)
        needs = WORKLOAD_OPS.get(name)
        if needs is None:
            raise InputError(f"db-options: client: the http client cannot run the {name!r} "
                             f"workload (supported: {', '.join(WORKLOAD_OPS)})")
        missing = [op for op in needs if op not in self.o["ops"]]
        if missing:
            raise InputError(f"db-options: client-options: {missing[0]}: missing: the {name} "
                             f"workload needs the ops {', '.join(needs)}")
        self.workload = name

    def base_url(self, node) -> str:
        port = "" if self.o["port"] is None else self.o["port"]
        return self.o["url"].format(ip=node.ip, port=port, node=node.name)

    def open(self, node):
        from harness.targets.commands_clients import _Client

        return _Client(HttpJsonClient(self.o, self.base_url(node), self.workload))


__all__ = ["HttpJsonClient", "HttpJsonClientFactory", "OPS", "WORKLOAD_OPS", "completion",
           "dotted", "normalize_http_options", "redirect_target", "render_body", "render_path"]
