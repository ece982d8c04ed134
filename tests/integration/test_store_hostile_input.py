"""The reference stores (raft, paxos) under hostile input on their own ports (issue 11).

A real one-node store (`splitbrain node raft|paxos`) on loopback. Its client HTTP API must answer
oversized bodies, malformed JSON, JSON of the wrong shape and broken headers with a 4xx, never a
5xx and never by dying; its peer port, fed random bytes, broken frames and well-framed nonsense,
must drop them. Afterwards the node still answers ``/status`` and still serves a write and a read.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import struct
import subprocess
import sys
import time

import pytest

CLI = [sys.executable, "-m", "harness.cli", "node"]


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(params=["raft", "paxos"])
def node(request, tmp_path):
    peer, http_port = free_ports(2)
    log = open(tmp_path / "node.log", "wb")
    proc = subprocess.Popen(CLI + [request.param, "--id", "n1", "--listen", f"127.0.0.1:{peer}",
                                   "--http", f"127.0.0.1:{http_port}",
                                   "--peers", f"n1=127.0.0.1:{peer}",
                                   "--data", str(tmp_path / "d")],
                            stdout=log, stderr=log)
    try:
        end = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "node.log").read_text()
            try:
                if request_json(http_port, "PUT", "/kv/ready", b'{"value": 1}')[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < end, "the node never became ready"
            time.sleep(0.1)
        yield proc, peer, http_port, tmp_path / "node.log"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def request_json(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def raw_http(port, data: bytes) -> bytes:
    """Send raw bytes, return whatever comes back before the node closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (socket.timeout, ConnectionResetError):
            pass
        return out


def status_of(raw: bytes) -> int:
    assert raw.startswith(b"HTTP/1.1 "), raw[:100]
    return int(raw.split()[1])


def assert_still_serving(proc, http_port, log):
    assert proc.poll() is None, log.read_text()[-3000:]
    status, body = request_json(http_port, "GET", "/status")
    assert status == 200 and "role" in json.loads(body)
    assert request_json(http_port, "PUT", "/kv/after", b'{"value": 42}')[0] == 200
    status, body = request_json(http_port, "GET", "/kv/after")
    assert status == 200 and json.loads(body)["value"] == 42


BAD_BODIES = [
    b"{not json", b"\xff\xfe\x00garbage", b"[" * 100_000 + b"]" * 100_000,  # nesting bomb
    b"[1, 2, 3]", b'"just a string"', b'{"val": 1}', b"null", b'{"value": 1',
]


def test_http_api_rejects_bad_bodies_with_4xx(node):
    proc, _peer, http_port, log = node
    for body in BAD_BODIES:
        status, _ = request_json(http_port, "PUT", "/kv/x", body,
                                 {"Content-Type": "application/json"})
        assert 400 <= status < 500, (body[:20], status)
    for path in ("/kv/x/cas", "/txn"):
        for body in BAD_BODIES:
            status, _ = request_json(http_port, "POST", path, body)
            assert 400 <= status < 500, (path, body[:20], status)
    assert_still_serving(proc, http_port, log)


def test_http_api_rejects_an_oversized_body_with_413(node):
    proc, _peer, http_port, log = node
    big = b'{"value": "' + b"x" * (2 << 20) + b'"}'  # 2 MiB, over the 1 MiB bound
    with socket.create_connection(("127.0.0.1", http_port), timeout=10) as s:
        s.sendall(b"PUT /kv/x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(big))
        answer = s.recv(65536)  # the node answers from the header, before reading the body
    assert status_of(answer) == 413
    # A lying Content-Length alone (no body sent) is refused the same way.
    lying = b"PUT /kv/x HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"
    assert status_of(raw_http(http_port, lying)) == 413
    assert_still_serving(proc, http_port, log)


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"PUT /kv/x HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"PUT /kv/x HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"GET /nowhere HTTP/1.1\r\n\r\n",
    b"DELETE /kv/x HTTP/1.1\r\n\r\n",
])
def test_http_api_answers_broken_requests_with_4xx(node, raw):
    proc, _peer, http_port, log = node
    assert 400 <= status_of(raw_http(http_port, raw)) < 500
    assert_still_serving(proc, http_port, log)


def test_peer_port_survives_garbage(node):
    proc, peer, http_port, log = node
    rng = random.Random(11)
    frames = [
        bytes(rng.getrandbits(8) for _ in range(65536)),                   # random bytes
        struct.pack(">I", 0xFFFFFFFF) + b"x" * 100,                        # absurd frame length
        struct.pack(">I", 10) + b"{not json}",                             # framed non-JSON
        struct.pack(">I", 3) + b"[1]",                                     # framed non-object
        struct.pack(">I", 200_000) + b"[" * 100_000 + b"]" * 100_000,      # framed nesting bomb
    ]
    nonsense = [{"to": "n1"}, {"to": "n1", "from": "n1", "term": "x", "type": "append"},
                {"to": "n1", "from": "n9", "term": 10**30, "type": "vote"},
                {"to": "n1", "from": "n1", "term": 1, "type": "append", "entries": "zz",
                 "prev_index": -7, "http": "evil:1"},
                {"to": "n1", "from": "n1", "type": "prepare", "ballot": [None, {}]},
                {"to": "n1", "from": "n1", "type": "accept", "slot": "x", "value": []}]
    for doc in nonsense:
        data = json.dumps(doc).encode()
        frames.append(struct.pack(">I", len(data)) + data)
    for frame in frames:
        try:
            with socket.create_connection(("127.0.0.1", peer), timeout=5) as s:
                s.sendall(frame)
        except OSError:
            pass  # the node may close on us mid-send: fine
    time.sleep(0.5)
    assert_still_serving(proc, http_port, log)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
