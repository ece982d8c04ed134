"""The commands target's HTTP/JSON adapter (``client: http``): option validation with
file:line:field messages, rendering of paths and bodies, and how answers map to ok/fail/info
(pure logic), plus its transport against a real HTTP server on loopback."""

import json
import socket
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from harness.config import load_spec
from harness.errors import InputError
from harness.targets import make_target
from harness.targets.commands_http_client import (
    _MISSING,
    HttpJsonClientFactory,
    completion,
    dotted,
    normalize_http_options,
    redirect_target,
    render_body,
    render_path,
)
from harness.targets.commands_options import normalize_options

READ = {"method": "GET", "path": "/kv/{key}", "value": "value", "ok": [200], "not-found": [404],
        "fail": [503]}
WRITE = {"method": "PUT", "path": "/kv/{key}", "body": {"value": "{value}"}, "ok": [200],
         "fail": [409]}
CAS = {"method": "POST", "path": "/kv/{key}/cas", "body": {"from": "{expected}", "to": "{new}"},
       "ok": [200], "success": "ok", "cas-failed": [412], "fail": [409]}
OPTS = {"read": READ, "write": WRITE, "cas": CAS}


def _spec(op="read", **extra):
    return normalize_http_options({**OPTS, "port": 1})["ops"][op] | extra


@pytest.mark.parametrize("options, message", [
    ({}, "client-options: read: no ops configured"),
    ({**OPTS, "paths": 1}, "client-options: paths: unknown field for the http client"),
    ({**OPTS, "url": "https://{ip}:{port}"}, "client-options: url: must be an http:// URL"),
    ({**OPTS, "url": "http://{host}:{port}"}, r"client-options: url: unknown placeholder \{host\}"),
    ({**OPTS, "timeout_s": 0}, "client-options: timeout_s: must be a number of seconds"),
    ({**OPTS, "read": {**READ, "method": "FETCH"}}, "client-options: read: method: must be one of"),
    ({**OPTS, "read": {k: v for k, v in READ.items() if k != "path"}},
     "client-options: read: missing field path"),
    ({**OPTS, "read": {k: v for k, v in READ.items() if k != "value"}},
     "client-options: read: missing field value"),
    ({**OPTS, "read": {**READ, "value": "a..b"}}, "client-options: read: value: must be a dotted path"),
    ({**OPTS, "read": {**READ, "body": {"x": 1}}}, "client-options: read: body: a GET request has no body"),
    ({**OPTS, "write": {**WRITE, "path": "/kv/{id}"}}, r"write: path: unknown placeholder \{id\}"),
    ({**OPTS, "write": {**WRITE, "path": "kv/{key}"}}, "write: path: must start with '/'"),
    ({**OPTS, "write": {**WRITE, "body": {"v": "{val}"}}}, r"write: body: v: unknown placeholder \{val\}"),
    ({**OPTS, "write": {**WRITE, "body": {"v": ["{value}", "{x.y}"]}}}, "write: body: v: 1: bad template"),
    ({**OPTS, "write": {**WRITE, "ok": [200, 99]}}, "write: ok: must be an HTTP status code"),
    ({**OPTS, "write": {**WRITE, "ok": []}}, "write: ok: must list at least one status code"),
    ({**OPTS, "cas": {**CAS, "fail": [412]}}, "cas: cas-failed: status 412 is listed in both fail and cas-failed"),
    ({**OPTS, "cas": {**CAS, "retries": 3}}, "cas: retries: unknown field"),
    ({**OPTS, "redirect": {"status": [409]}}, "redirect: needs both status"),
    ({**OPTS, "redirect": {"status": [409], "field": "leader"}}, "client-options: write: status 409 is also a redirect status"),
])
def test_bad_options_name_the_field(options, message):
    with pytest.raises(InputError, match=message):
        normalize_http_options(options)


def test_the_commands_target_checks_the_block_and_the_port():
    base = {"start": "exec x", "client": "http", "client_options": OPTS}
    with pytest.raises(InputError, match="db-options: port: missing: the http client's url uses"):
        normalize_options(base)
    # No {port} in the url: no port needed.
    normalize_options({**base, "client_options": {**OPTS, "url": "http://{ip}:8080/api"}})
    with pytest.raises(InputError, match="db-options: client-options: cas: method: must be one of"):
        normalize_options({**base, "port": 80, "client_options": {**OPTS, "cas": {**CAS, "method": 1}}})


def test_yaml_errors_name_file_line_and_field(tmp_path):
    spec = tmp_path / "audit.yaml"
    spec.write_text(textwrap.dedent("""\
        db: commands
        db-options:
          port: 7071
          start: "exec x"
          client: http
          client-options:
            read: {method: GET, path: "/kv/{key}", value: value, ok: [200]}
            write:
              method: PUT
              path: "/kv/{key}"
              body: {value: "{valeu}"}
              ok: [200]
        workload: register
        """))
    with pytest.raises(InputError) as e:
        load_spec(str(spec))
    assert str(e.value) == (f"{spec}:11: db-options: client-options: write: body: value: unknown "
                            "placeholder {valeu} (valid: {key}, {value}, {expected}, {new})")
    res = subprocess.run([sys.executable, "-m", "harness.cli", "test", str(spec),
                          "--store", str(tmp_path / "store")], capture_output=True, text=True)
    assert res.returncode == 254
    assert res.stderr.strip().splitlines() == [f"splitbrain: {e.value}"]


def test_the_factory_refuses_a_workload_whose_ops_are_missing():
    f = HttpJsonClientFactory({"read": READ, "write": WRITE, "port": 1})
    with pytest.raises(InputError, match="client-options: cas: missing: the register workload needs"):
        f.use_workload(SimpleNamespace(name="register"))
    with pytest.raises(InputError, match="cannot run the 'bank' workload"):
        f.use_workload(SimpleNamespace(name="bank"))
    t = make_target("commands", {"start": "x", "client": "http", "port": 7071,
                                 "client_options": {**OPTS, "url": "http://{ip}:{port}/v1"}})
    assert t.client_factory.base_url(SimpleNamespace(name="n1", ip="10.0.0.1")) == "http://10.0.0.1:7071/v1"


def test_paths_are_url_quoted_and_bodies_keep_json_types():
    vals = {"key": "a/b c?", "value": [1, "x"], "expected": None, "new": 3}
    assert render_path("/kv/{key}/{new}", vals) == "/kv/a%2Fb%20c%3F/3"
    assert render_path("/x/{value}", vals) == "/x/%5B1%2C%20%22x%22%5D"
    body = {"v": "{value}", "s": "key={key}", "l": ["append", "{key}", "{new}"], "n": None,
            "lit": "{{value}}", "f": False}
    assert render_body(body, vals) == {"v": [1, "x"], "s": "key=a/b c?", "l": ["append", "a/b c?", 3],
                                       "n": None, "lit": "{value}", "f": False}


def test_dotted_paths_and_redirect_hints():
    doc = {"data": {"items": [{"v": 7}]}, "leader": "10.0.0.2:7071", "url": "http://h:80/x", "z": None}
    assert dotted(doc, "data.items.0.v") == 7
    assert dotted(doc, "z") is None
    assert dotted(doc, "data.items.1") is _MISSING and dotted(doc, "nope.x") is _MISSING
    assert redirect_target(doc, "leader") == ("10.0.0.2", 7071)
    assert redirect_target(doc, "url") == ("h", 80)
    assert redirect_target(doc, "z") is None
    assert redirect_target({"l": "10.0.0.2"}, "l") is None  # no port: not usable
    assert redirect_target({"l": "https://h:1"}, "l") is None


READ_OP = {"f": "read", "value": None, "process": 0}
WRITE_OP = {"f": "write", "value": 3, "process": 0}
CAS_OP = {"f": "cas", "value": [1, 2], "process": 0}


@pytest.mark.parametrize("op, spec, args, typ, value", [
    # ok statuses
    (READ_OP, "read", ("answer", 200, {"value": 5}), "ok", 5),
    (READ_OP, "read", ("answer", 200, {"value": None}), "ok", None),
    (READ_OP, "read", ("answer", 200, {"other": 1}), "fail", None),     # no value field
    (READ_OP, "read", ("answer", 200, _MISSING), "fail", None),         # not JSON
    (WRITE_OP, "write", ("answer", 200, None), "ok", 3),                # a write needs no body
    (CAS_OP, "cas", ("answer", 200, {"ok": True}), "ok", [1, 2]),
    (CAS_OP, "cas", ("answer", 200, {"ok": False}), "fail", [1, 2]),    # success false
    (CAS_OP, "cas", ("answer", 200, {}), "info", [1, 2]),               # success missing: unsure
    (CAS_OP, "cas", ("answer", 200, _MISSING), "info", [1, 2]),
    # not-found, fail, cas-failed
    (READ_OP, "read", ("answer", 404, {}), "ok", None),
    (CAS_OP, "cas", ("answer", 412, {}), "fail", [1, 2]),
    (WRITE_OP, "write", ("answer", 409, {}), "fail", 3),
    (READ_OP, "read", ("answer", 503, {}), "fail", None),
    # any other status: info, but a read changed nothing
    (WRITE_OP, "write", ("answer", 503, {"outcome": "unknown"}), "info", 3),
    (WRITE_OP, "write", ("answer", 404, {}), "info", 3),               # not listed for write
    (READ_OP, "read", ("answer", 500, {}), "fail", None),
    # transport
    (WRITE_OP, "write", ("notsent",), "fail", 3),
    (WRITE_OP, "write", ("doubt",), "info", 3),
    (READ_OP, "read", ("doubt",), "fail", None),
])
def test_answers_map_to_completions(op, spec, args, typ, value):
    done = completion(op, _spec(spec), *args)
    assert done["type"] == typ
    assert done["value"] == value
    assert ("error" in done) is (typ != "ok")
    assert done["process"] == 0 and done["f"] == op["f"]


def test_absent_values_read_as_the_workloads_empty_value():
    spec = _spec("read")
    assert completion(READ_OP, spec, "answer", 404, {}, workload="set")["value"] == []
    assert completion(READ_OP, spec, "answer", 200, {"value": None}, workload="counter")["value"] == 0
    assert completion(READ_OP, spec, "answer", 200, {"value": [1, 2]}, workload="set")["value"] == [1, 2]


# -- transport, against a real HTTP server on loopback ------------------------------------

class _KV(BaseHTTPRequestHandler):
    """A tiny KV: /kv/<key> GET/PUT; /kv/<key>/cas POST; /slow sleeps; /other/... redirects."""

    protocol_version = "HTTP/1.1"
    store: dict = {}
    seen: list = []

    def _answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n)) if n else None

    def do_GET(self):
        self.seen.append(("GET", self.path))
        if self.path.startswith("/slow"):
            threading.Event().wait(1)
        key = self.path.rsplit("/", 1)[1]
        if key not in self.store:
            return self._answer(404, {})
        self._answer(200, {"data": {"value": self.store[key]}})

    def do_PUT(self):
        doc = self._body()
        self.seen.append(("PUT", self.path, doc))
        leader = getattr(self.server, "leader", None)
        if leader is not None:  # a follower: "not done, ask the leader"
            return self._answer(409, {"leader": leader})
        self.store[self.path.rsplit("/", 1)[1]] = doc["value"]
        self._answer(200, {})

    def do_POST(self):
        doc = self._body()
        self.seen.append(("POST", self.path, doc))
        key = self.path.split("/")[-2]
        if self.store.get(key) != doc["from"]:
            return self._answer(200, {"ok": False})
        self.store[key] = doc["to"]
        self._answer(200, {"ok": True})

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that timed out and closed: the answer's write fails, as expected


@pytest.fixture
def server():
    _KV.store, _KV.seen = {}, []
    srv = _Server(("127.0.0.1", 0), _KV)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _client(port, url="http://{ip}:{port}", **over):
    opts = {"url": url, "port": port, "key": "k/1", "timeout_s": 1, "redirect": {"status": [409], "field": "leader"},
            "read": {**READ, "value": "data.value"}, "write": {**WRITE, "fail": []},
            "cas": {**CAS, "fail": []}, **over}
    f = HttpJsonClientFactory(opts)
    f.use_workload(SimpleNamespace(name="register"))
    return f.open(SimpleNamespace(name="n1", ip="127.0.0.1"))


def test_the_client_speaks_http_to_a_real_server(server):
    c = _client(server.server_address[1])
    assert c.invoke(READ_OP)["value"] is None                  # 404: absent
    assert c.invoke(WRITE_OP)["type"] == "ok"
    assert c.invoke(READ_OP) | {} == {**READ_OP, "type": "ok", "value": 3}
    assert c.invoke({**CAS_OP, "value": [3, 4]})["type"] == "ok"
    assert c.invoke({**CAS_OP, "value": [3, 5]})["type"] == "fail"
    assert c.invoke(READ_OP)["value"] == 4
    assert ("PUT", "/kv/k%2F1", {"value": 3}) in _KV.seen
    assert ("POST", "/kv/k%2F1/cas", {"from": 3, "to": 4}) in _KV.seen
    c.close()


def test_a_redirect_is_followed_to_the_named_node(server):
    follower = _Server(("127.0.0.1", 0), _KV)
    threading.Thread(target=follower.serve_forever, daemon=True).start()
    try:
        follower.leader = f"127.0.0.1:{server.server_address[1]}"
        done = _client(follower.server_address[1]).invoke({**WRITE_OP, "value": 9})
        assert done["type"] == "ok"
        assert _KV.store == {"k%2F1": 9}
        assert len(_KV.seen) == 2  # the follower's 409, then the leader's 200
        # A hint naming the follower itself is not followed: a definite fail.
        follower.leader = f"127.0.0.1:{follower.server_address[1]}"
        done = _client(follower.server_address[1]).invoke({**WRITE_OP, "value": 10})
        assert done["type"] == "fail" and "redirect" in done["error"]
        assert _KV.store == {"k%2F1": 9}
    finally:
        follower.shutdown()
        follower.server_close()


def test_refused_is_fail_and_a_timeout_after_sending_is_info(server):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    c = _client(free)
    assert c.invoke(WRITE_OP)["type"] == "fail"
    assert "not sent" in c.invoke(WRITE_OP)["error"]
    slow = _client(server.server_address[1], url="http://{ip}:{port}/slow", timeout_s=0.3,
                   write={**WRITE, "method": "GET", "body": None, "fail": []}, read={**READ, "value": "data.value"})
    assert slow.invoke(WRITE_OP)["type"] == "info"            # sent, no answer within 0.3 s
    assert slow.invoke(READ_OP)["type"] == "fail"             # a read changed nothing
