"""The raft client's retries, against real HTTP servers on loopback (reference_impl.http_api
with scripted answers): definite "not done" answers are retried or followed to the leader; any
doubt ends the op at once as info."""

import asyncio
import socket
import threading

import pytest

from harness.targets.raft import RaftClient
from reference_impl import http_api


class ScriptedBackend:
    """Answers each request with the next scripted ``(status, doc)`` (the last one repeats)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0

    async def _next(self):
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]

    async def get(self, key):
        return await self._next()

    async def put(self, key, value):
        return await self._next()

    async def cas(self, key, old, new):
        return await self._next()

    async def txn(self, ops):
        return await self._next()

    def status(self):
        return {}


@pytest.fixture
def serve():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    servers = []

    def start(backend) -> int:
        async def go():
            srv = await asyncio.start_server(
                lambda r, w: http_api.serve_connection(backend, r, w), "127.0.0.1", 0)
            servers.append(srv)
            return srv.sockets[0].getsockname()[1]
        return asyncio.run_coroutine_threadsafe(go(), loop).result(5)

    yield start
    for srv in servers:
        loop.call_soon_threadsafe(srv.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


NO_LEADER = (409, {"error": "not the leader", "leader": None, "leader_http": None,
                   "outcome": "failed"})
OK = (200, {"ok": True})


def client(port, timeout=3.0):
    return RaftClient("127.0.0.1", port, op_timeout_s=timeout, connect_timeout_s=0.5)


def test_no_leader_yet_is_retried_until_one_answers(serve):
    b = ScriptedBackend([NO_LEADER, NO_LEADER, OK])
    done = client(serve(b)).invoke({"type": "invoke", "f": "write", "value": 3})
    assert done["type"] == "ok" and b.calls == 3


def test_a_leader_hint_is_followed(serve):
    leader = ScriptedBackend([OK])
    lport = serve(leader)
    follower = ScriptedBackend([(409, {"error": "not the leader", "leader": "n2",
                                       "leader_http": f"127.0.0.1:{lport}", "outcome": "failed"})])
    done = client(serve(follower)).invoke({"type": "invoke", "f": "cas", "value": [1, 2]})
    assert done["type"] == "ok" and (follower.calls, leader.calls) == (1, 1)


def test_an_unknown_outcome_is_info_at_once(serve):
    b = ScriptedBackend([(503, {"error": "not committed within 3 s", "outcome": "unknown"}), OK])
    done = client(serve(b)).invoke({"type": "invoke", "f": "write", "value": 3})
    assert done["type"] == "info" and b.calls == 1


def test_a_failed_outcome_is_retried(serve):
    b = ScriptedBackend([(503, {"error": "entry replaced", "outcome": "failed"}), OK])
    done = client(serve(b)).invoke({"type": "invoke", "f": "write", "value": 3})
    assert done["type"] == "ok" and b.calls == 2


def test_a_definite_error_is_not_retried(serve):
    b = ScriptedBackend([(400, {"error": "bad txn", "outcome": "failed"}), OK])
    done = client(serve(b)).invoke({"type": "invoke", "f": "write", "value": 3})
    assert done["type"] == "fail" and b.calls == 1


def test_no_leader_for_the_whole_op_is_a_fail_after_some_retries(serve):
    b = ScriptedBackend([NO_LEADER])
    done = client(serve(b), timeout=1.5).invoke({"type": "invoke", "f": "write", "value": 3})
    assert done["type"] == "fail" and "not the leader" in done["error"] and b.calls >= 2


def test_nothing_listening_is_a_fail():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    done = client(port, timeout=1.2).invoke({"type": "invoke", "f": "write", "value": 3})
    assert done["type"] == "fail" and "connect" in done["error"]
