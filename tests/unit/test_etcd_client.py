"""The etcd client's error classification (pure) and its transport behaviour against a fake
gateway on 127.0.0.1 (no etcd needed)."""

import base64
import json
import socket
import threading
import time

import pytest

from harness.errors import InputError
from harness.targets import TARGETS, make_target
from harness.targets.etcd import EtcdDB, normalize_options
from harness.targets.etcd_client import (EtcdClient, EtcdClientFactory, classify_error,
                                         decode_value, encode_value, parse_grpc_error)


def grpc_body(code, message):
    return json.dumps({"error": message, "message": message, "code": code})


# --------------------------------------------------------------------------- classification

@pytest.mark.parametrize("f", ["read", "write", "cas"])
def test_not_sent_is_fail(f):
    typ, err = classify_error(f, sent=False, exc=ConnectionRefusedError(111, "Connection refused"))
    assert typ == "fail" and err.startswith("not sent")


@pytest.mark.parametrize("exc", [socket.timeout("timed out"), TimeoutError(),
                                 ConnectionResetError(104, "reset"), BrokenPipeError(32, "pipe"),
                                 "unparsable 200 answer"])
def test_after_sending_write_and_cas_are_info_read_is_fail(exc):
    assert classify_error("write", sent=True, exc=exc)[0] == "info"
    assert classify_error("cas", sent=True, exc=exc)[0] == "info"
    assert classify_error("read", sent=True, exc=exc)[0] == "fail"


def test_timeout_text():
    assert classify_error("write", exc=socket.timeout("timed out")) == ("info", "timeout")


@pytest.mark.parametrize("status, code, message", [
    (503, 14, "etcdserver: request timed out"),
    (503, 14, "etcdserver: leader changed"),
    (503, 14, "etcdserver: no leader"),
    (504, 4, "context deadline exceeded"),
    (500, 2, "context deadline exceeded"),
    (408, 1, "context canceled"),
    (409, 10, "aborted"),
    (500, 13, "internal"),
])
def test_ambiguous_server_errors_are_info(status, code, message):
    typ, err = classify_error("write", status=status, body=grpc_body(code, message))
    assert typ == "info" and message in err
    assert classify_error("cas", status=status, body=grpc_body(code, message))[0] == "info"
    assert classify_error("read", status=status, body=grpc_body(code, message))[0] == "fail"


@pytest.mark.parametrize("status, code, message", [
    (400, 3, "etcdserver: duplicate key given in txn request"),
    (400, 3, "json: cannot unmarshal number into Go value of type []uint8"),
    (429, 8, "etcdserver: too many requests"),
    (429, 8, "etcdserver: mvcc: database space exceeded"),
    (400, 11, "etcdserver: mvcc: required revision is a future revision"),
    (403, 7, "etcdserver: permission denied"),
    (401, 16, "etcdserver: invalid auth token"),
    (501, 12, "unimplemented"),
])
def test_definite_rejections_are_fail(status, code, message):
    for f in ("write", "cas", "read"):
        typ, err = classify_error(f, status=status, body=grpc_body(code, message))
        assert typ == "fail" and message in err


@pytest.mark.parametrize("status, body, expected", [
    (404, "Not Found\n", "fail"),       # no such route: nothing ran
    (405, "", "fail"),
    (502, "Bad Gateway", "info"),
    (500, "", "info"),
    (503, None, "info"),
    (200, "[]", "info"),                # not an error object: unknown
])
def test_http_errors_without_grpc_code(status, body, expected):
    assert classify_error("write", status=status, body=body)[0] == expected
    assert classify_error("read", status=status, body=body)[0] == "fail"


def test_parse_grpc_error():
    assert parse_grpc_error(grpc_body(14, "etcdserver: leader changed")) == (14, "etcdserver: leader changed")
    assert parse_grpc_error(b"Not Found\n") == (None, "Not Found")
    assert parse_grpc_error(None) == (None, None)
    assert parse_grpc_error('{"code": true}') == (None, None)


def test_value_encoding_roundtrip():
    assert base64.b64decode(encode_value(3)) == b"3"
    assert decode_value(encode_value([1, 2])) == [1, 2]
    assert decode_value(base64.b64encode(b"not json").decode()) == "not json"


# --------------------------------------------------------------------------- options / registry

def test_options_are_validated():
    assert normalize_options(None)["client_port"] == 2379
    assert "bug" not in normalize_options({"bug": None})
    for bad, needle in [({"serializble": True}, "serializble"), ({"client_port": "x"}, "client_port"),
                        ({"client_port": 70000}, "client_port"), ({"op_timeout_s": 0}, "op_timeout_s"),
                        ({"serializable": "yes"}, "serializable"), ({"extra_args": "--x"}, "extra_args"),
                        ({"client_port": 2380}, "differ"), ({"op_timeout_s": True}, "op_timeout_s"),
                        ({"bug": "stale-read"}, "no planted bugs")]:
        with pytest.raises(InputError) as e:
            normalize_options(bad)
        assert needle in str(e.value)


def test_target_registry():
    assert "etcd" in TARGETS
    t = make_target("etcd", {"serializable": True})
    assert isinstance(t.db, EtcdDB) and isinstance(t.client_factory, EtcdClientFactory)
    with pytest.raises(InputError) as e:
        make_target("etdc", {})
    assert "etdc" in str(e.value) and "etcd" in str(e.value)


def test_argv():
    class R:
        node_dir = "/run/x/n1"

    class N:
        def __init__(self, name, ip):
            self.name, self.ip = name, ip

    class C:
        prefix = "sb123abc"
        nodes = [N("n1", "10.0.0.1"), N("n2", "10.0.0.2")]

        def remote(self, name):
            return R()

    argv = EtcdDB({"snapshot_count": 100}).argv(C(), C.nodes[0], "existing")
    s = " ".join(argv)
    assert argv[0] == "etcd"
    assert "--initial-cluster n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380" in s
    assert "--listen-client-urls http://10.0.0.1:2379" in s
    assert "--data-dir /run/x/n1/data/etcd" in s
    assert "--initial-cluster-state existing" in s and "--initial-cluster-token sb123abc" in s
    assert "--pre-vote" in argv and "--snapshot-count 100" in s


# --------------------------------------------------------------------------- transport, fake gateway

class FakeGateway:
    """A tiny HTTP/1.1 server on 127.0.0.1. ``behave(request_path, body) -> bytes | None``
    returns the raw answer; None closes the connection without answering; the string "hang"
    never answers."""

    def __init__(self, behave):
        self.behave = behave
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.conns = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode().split("\r\n")
                path = lines[0].split()[1]
                length = 0
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v)
                while len(buf) < length:
                    buf += conn.recv(65536)
                body, buf = buf[:length], buf[length:]
                self.requests.append((path, json.loads(body or b"{}")))
                answer = self.behave(path, json.loads(body or b"{}"))
                if answer == "hang":
                    self.stopped.wait(10)
                    return
                if answer is None:
                    return
                conn.sendall(answer)
        except OSError:
            pass
        finally:
            conn.close()

    def close_all_client_conns(self):
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def stop(self):
        self.stopped.set()
        self.sock.close()
        self.close_all_client_conns()


def http_answer(status, body, reason="X"):
    body = body.encode() if isinstance(body, str) else body
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def ok(doc):
    return http_answer(200, json.dumps(doc), "OK")


@pytest.fixture
def gateway():
    made = []

    def make(behave):
        g = FakeGateway(behave)
        made.append(g)
        return g
    yield make
    for g in made:
        g.stop()


def client_for(g, **kw):
    kw.setdefault("op_timeout_s", 0.5)
    return EtcdClient("127.0.0.1", g.port, **kw)


def test_refused_is_fail_for_writes():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    c = EtcdClient("127.0.0.1", port, op_timeout_s=0.5)
    out = c.invoke({"f": "write", "value": 1, "process": 3})
    assert out["type"] == "fail" and "not sent" in out["error"] and out["process"] == 3
    assert c.invoke({"f": "cas", "value": [1, 2]})["type"] == "fail"


def test_request_encoding_and_ok_paths(gateway):
    store = {}

    def behave(path, body):
        key = base64.b64decode(body["key"] if "key" in body else body["compare"][0]["key"]).decode()
        if path == "/v3/kv/range":
            kvs = [{"key": body["key"], "value": store[key]}] if key in store else []
            return ok({"header": {}, "kvs": kvs, "count": str(len(kvs))} if kvs else {"header": {}})
        if path == "/v3/kv/put":
            store[key] = body["value"]
            return ok({"header": {}})
        cmp_ = body["compare"][0]
        if key in store and cmp_["target"] == "VALUE" and store[key] == cmp_["value"]:
            store[key] = body["success"][0]["requestPut"]["value"]
            return ok({"header": {}, "succeeded": True})
        return ok({"header": {}})
    g = gateway(behave)
    c = client_for(g, key="reg", serializable=True)
    assert c.invoke({"f": "read", "value": None}) == {"f": "read", "value": None, "type": "ok"}
    assert c.invoke({"f": "write", "value": 3})["type"] == "ok"
    assert c.invoke({"f": "read", "value": None})["value"] == 3
    assert c.invoke({"f": "cas", "value": [3, 4]})["type"] == "ok"
    out = c.invoke({"f": "cas", "value": [3, 1]})
    assert out["type"] == "fail" and "compare" in out["error"]
    assert c.invoke({"f": "read", "value": None})["value"] == 4
    paths = [p for p, _ in g.requests]
    assert paths == ["/v3/kv/range", "/v3/kv/put", "/v3/kv/range", "/v3/kv/txn", "/v3/kv/txn", "/v3/kv/range"]
    assert g.requests[0][1] == {"key": base64.b64encode(b"reg").decode(), "serializable": True}
    assert len(g.conns) == 1  # one kept-alive connection
    c.close()


def test_bad_ops_fail_without_traffic(gateway):
    g = gateway(lambda p, b: ok({}))
    c = client_for(g)
    assert c.invoke({"f": "append", "value": 1})["type"] == "fail"
    assert c.invoke({"f": "cas", "value": 3})["type"] == "fail"
    assert g.requests == []


def test_closed_without_answer_is_info_for_writes(gateway):
    g = gateway(lambda p, b: None)
    c = client_for(g)
    assert c.invoke({"f": "write", "value": 1})["type"] == "info"
    assert c.invoke({"f": "cas", "value": [1, 2]})["type"] == "info"
    r = c.invoke({"f": "read", "value": None})
    assert r["type"] == "fail" and r["value"] is None


def test_hang_is_info_timeout(gateway):
    g = gateway(lambda p, b: "hang")
    c = client_for(g, op_timeout_s=0.3)
    t = time.monotonic()
    out = c.invoke({"f": "write", "value": 1})
    assert out == {"f": "write", "value": 1, "type": "info", "error": "timeout"}
    assert time.monotonic() - t < 2


def test_server_errors(gateway):
    answers = iter([
        http_answer(503, grpc_body(14, "etcdserver: leader changed")),
        http_answer(429, grpc_body(8, "etcdserver: too many requests")),
    ])
    g = gateway(lambda p, b: next(answers))
    c = client_for(g)
    out = c.invoke({"f": "write", "value": 1})
    assert out["type"] == "info" and "leader changed" in out["error"]
    out = c.invoke({"f": "write", "value": 1})
    assert out["type"] == "fail" and "too many requests" in out["error"]


def test_unparsable_200_is_info_for_writes(gateway):
    g = gateway(lambda p, b: http_answer(200, "{nope", "OK"))
    c = client_for(g)
    assert c.invoke({"f": "write", "value": 1})["type"] == "info"
    assert c.invoke({"f": "read", "value": None})["type"] == "fail"


def test_stale_keepalive_connection_is_replaced_not_info(gateway):
    g = gateway(lambda p, b: ok({"header": {}}))
    c = client_for(g)
    assert c.invoke({"f": "write", "value": 1})["type"] == "ok"
    g.close_all_client_conns()      # the server drops the idle connection (restart, idle timeout)
    time.sleep(0.1)
    assert c.invoke({"f": "write", "value": 2})["type"] == "ok"
    assert len(g.conns) == 2


def test_factory_binds_node_ip():
    class N:
        name, ip = "n2", "10.9.9.2"
    c = EtcdClientFactory({"client_port": 1234, "serializable": True, "key": "k"}).open(N())
    assert (c.host, c.port, c.node_name, c.serializable, c.key) == ("10.9.9.2", 1234, "n2", True, "k")
    c2 = EtcdClientFactory().open("127.0.0.1")
    assert (c2.host, c2.port) == ("127.0.0.1", 2379)
