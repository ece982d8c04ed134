"""The real Multi-Paxos node: the sans-I/O core wrapped in asyncio sockets, timers and fsync.

One event loop owns the :class:`~reference_impl.paxos.core.PaxosCore`. Peer messages (TCP, each
frame ``<u32 length><JSON>``) and client requests (HTTP, :mod:`reference_impl.http_api`) feed it;
the *Ready loop* takes its outputs and follows the Ready contract: append the records and fsync
(in a worker thread, so inputs keep arriving and pile up for the next batch: group commit), then
send the messages, then apply the chosen slots in order and answer the clients waiting for them.

Pipelining and batching: the leader assigns slots without waiting for earlier ones to be chosen;
each ``p2a`` carries every slot proposed since the last Ready (up to ``max_batch``).

Client semantics: every command, reads included, goes through a slot (``get`` is a command), so
reads are linearizable without clocks or leases. A node that is not the leader answers ``409
{"leader": id, "leader_http": "ip:port"}``. A command not seen chosen within ``commit_wait_s``
gets ``503 {"outcome": "unknown"}``; one whose slot was taken by another command gets ``503
{"outcome": "failed"}`` (a command is only ever proposed in its own slot, so it can never be
chosen).

Planted bugs (``--bug``, see :mod:`reference_impl.bugs`): ``stale-read`` here, ``no-fsync`` and
``forget-accepted`` in :mod:`reference_impl.paxos.storage`, ``skip-promise-check`` in the core.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import socket
import struct
import time
from typing import Any

from reference_impl import http_api
from reference_impl.paxos.core import Config, PaxosCore
from reference_impl.paxos.storage import PaxosStorage
from reference_impl.state_machine import KVStateMachine, validate_txn_ops

log = logging.getLogger("splitbrain.paxos")
_LEN = struct.Struct(">I")
MAX_FRAME = 64 << 20


def now_ms() -> float:
    return time.monotonic() * 1000.0


class PeerChannel:
    """Frames to one peer over one TCP connection, reconnected when it breaks.

    Paxos tolerates lost messages (the leader retransmits unacknowledged slots and heartbeats
    carry the commit index), so this never blocks the core: while the connection is down or
    stalled, frames are dropped.
    """

    def __init__(self, name: str, host: str, port: int):
        self.name, self.host, self.port = name, host, port
        self.queue: list[bytes] = []
        self.event = asyncio.Event()
        self.task: asyncio.Task | None = None

    def send(self, frame: bytes) -> None:
        if len(self.queue) > 5000:
            del self.queue[:2500]
        self.queue.append(frame)
        self.event.set()

    async def run(self) -> None:
        while True:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 0.5)
            except (OSError, asyncio.TimeoutError):
                self.queue.clear()
                await asyncio.sleep(0.1)
                continue
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                while True:
                    await self.event.wait()
                    self.event.clear()
                    if not self.queue:
                        continue
                    data, self.queue = b"".join(self.queue), []
                    w.write(data)
                    # A partition stalls the connection: drop it and reconnect after the heal
                    # rather than wait for TCP's exponential retransmission.
                    await asyncio.wait_for(w.drain(), 1.0)
            except (OSError, asyncio.TimeoutError, ConnectionError):
                pass
            finally:
                w.close()
                r.feed_eof()


class PaxosServer:
    """One node. ``peers`` maps every node id (this one included) to its peer ``(host, port)``;
    ``http`` is this node's client address. Peer messages carry the sender's client address so
    followers can point clients at the leader."""

    def __init__(self, node_id: str, peers: dict[str, tuple[str, int]], http: tuple[str, int],
                 data_dir: str, *, bug: str | None = None, config: Config | None = None,
                 commit_wait_s: float = 3.0):
        self.id = node_id
        self.peers = peers
        self.http = http
        self.http_offset = http[1] - peers[node_id][1]
        self.http_text = f"{http[0]}:{http[1]}"
        self.peer_http: dict[str, str] = {}
        self.bug = bug
        self.config = config or Config(election_timeout=500.0, heartbeat_interval=50.0)
        self.commit_wait_s = commit_wait_s
        self.storage = PaxosStorage(data_dir, bug=bug)
        self.sm = KVStateMachine()
        self.waiters: dict[int, tuple[str, asyncio.Future]] = {}
        self.nonce = os.urandom(4).hex()     # request ids are unique across restarts
        self.next_rid = 0
        self.channels: dict[str, PeerChannel] = {}
        self.core: PaxosCore | None = None
        self.wake: asyncio.Event | None = None
        self.last_role = None
        self.stats = {"readies": 0, "writes": 0}

    # ------------------------------------------------------------------ startup
    async def start(self) -> None:
        state = self.storage.load()
        seed = int.from_bytes(os.urandom(8), "big")
        core_bug = self.bug if self.bug == "skip-promise-check" else None
        self.core = PaxosCore(self.id, list(self.peers), config=self.config,
                              rng=random.Random(seed), now=now_ms(), state=state, bug=core_bug)
        self.wake = asyncio.Event()
        log.info("%s: recovered promised=%s accepted=%d chosen=%d (commit %d)", self.id,
                 list(state.promised), len(state.accepted), len(state.chosen), self.core.commit)
        host, port = self.peers[self.id]
        self.peer_server = await asyncio.start_server(self._peer_conn, host, port)
        self.http_server = await asyncio.start_server(
            lambda r, w: http_api.serve_connection(self, r, w), self.http[0], self.http[1])
        for pid, (h, p) in self.peers.items():
            if pid != self.id:
                ch = PeerChannel(pid, h, p)
                ch.task = asyncio.ensure_future(ch.run())
                self.channels[pid] = ch
        self.loop_task = asyncio.ensure_future(self._ready_loop())
        if self.bug == "no-fsync":
            asyncio.ensure_future(self._lazy_flusher())
        log.info("%s: peers on %s:%d, clients on %s:%d, bug=%s", self.id, host, port,
                 self.http[0], self.http[1], self.bug)

    async def _lazy_flusher(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.storage.flush_lazy()

    # ------------------------------------------------------------------ peers
    async def _peer_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (n,) = _LEN.unpack(await reader.readexactly(4))
                if n > MAX_FRAME:
                    return
                msg = json.loads(await reader.readexactly(n))
                if not isinstance(msg, dict) or msg.get("to") != self.id:
                    continue
                if isinstance(msg.get("http"), str) and msg.get("from") in self.peers:
                    self.peer_http[msg["from"]] = msg["http"]
                try:
                    self.core.receive(now_ms(), msg)
                except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
                    log.warning("%s: bad message from %s: %s", self.id, msg.get("from"), e)
                self.wake.set()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, OSError,
                RecursionError):
            pass
        finally:
            writer.close()

    def _send(self, msg: dict) -> None:
        ch = self.channels.get(msg["to"])
        if ch is not None:
            msg["http"] = self.http_text
            data = json.dumps(msg, separators=(",", ":")).encode()
            ch.send(_LEN.pack(len(data)) + data)

    # ------------------------------------------------------------------ the Ready loop
    async def _ready_loop(self) -> None:
        loop = asyncio.get_running_loop()
        core = self.core
        while True:
            delay = max(0.0, (core.next_wakeup() - now_ms()) / 1000.0)
            if not self.wake.is_set():
                try:
                    await asyncio.wait_for(self.wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass
            self.wake.clear()
            if now_ms() >= core.next_wakeup():
                core.tick(now_ms())
            r = core.take_ready()
            if r.empty():
                continue
            self.stats["readies"] += 1
            if r.writes or r.learned:
                if self.storage.needs_sync(r):
                    await loop.run_in_executor(None, self.storage.write, r)
                else:
                    self.storage.write(r)   # no fsync (or the no-fsync bug): stay on the loop
                self.stats["writes"] += 1
            core.persisted(now_ms(), r.seq)
            for m in r.messages:
                self._send(m)
            for slot, cmd in r.committed:
                result = self.sm.apply(slot, cmd)
                w = self.waiters.pop(slot, None)
                if w is not None and not w[1].done():
                    mine = isinstance(cmd, dict) and cmd.get("rid") == w[0]
                    w[1].set_result(("ok", result) if mine else ("lost", None))
            if core.role != self.last_role:
                log.info("%s: %s at ballot %s (leader %s, commit %d)", self.id, core.role,
                         list(core.ballot), core.leader, core.commit)
                self.last_role = core.role
            self.wake.set()  # persisted() may have produced more (our own acceptor's answers)

    # ------------------------------------------------------------------ client API
    def _not_leader(self) -> tuple[int, dict]:
        leader = self.core.leader if self.core.leader != self.id else None
        hint = self.peer_http.get(leader)
        if hint is None and leader in self.peers:
            h, p = self.peers[leader]
            hint = f"{h}:{p + self.http_offset}"
        return 409, {"error": "not the leader", "leader": leader, "leader_http": hint,
                     "outcome": "failed"}

    async def _run(self, cmd: dict) -> tuple[int, dict]:
        self.next_rid += 1
        cmd["rid"] = f"{self.id}.{self.nonce}.{self.next_rid}"
        slot = self.core.propose(now_ms(), cmd)
        if slot is None:
            return self._not_leader()
        fut = asyncio.get_running_loop().create_future()
        self.waiters[slot] = (cmd["rid"], fut)
        self.wake.set()
        try:
            what, result = await asyncio.wait_for(asyncio.shield(fut), self.commit_wait_s)
        except asyncio.TimeoutError:
            return 503, {"error": f"slot {slot} not chosen within {self.commit_wait_s:g} s",
                         "outcome": "unknown"}
        if what == "lost":
            return 503, {"error": f"slot {slot} was taken by another leader's command",
                         "outcome": "failed"}
        if isinstance(result, dict) and "error" in result:
            return 400, {"error": result["error"], "outcome": "failed"}
        return 200, dict(result or {}, slot=slot)

    async def get(self, key: str) -> tuple[int, dict]:
        if self.bug == "stale-read":
            # The bug: answer from local state, whatever this node's role and freshness.
            found, v = self.sm.get(key)
            return 200, {"value": v, "found": found}
        status, doc = await self._run({"op": "get", "key": key})
        if status == 503 and doc.get("outcome") == "unknown":
            doc["outcome"] = "failed"    # a read changes nothing: not done is a safe answer
        return status, doc

    async def put(self, key: str, value: Any) -> tuple[int, dict]:
        return await self._run({"op": "put", "key": key, "value": value})

    async def cas(self, key: str, old: Any, new: Any) -> tuple[int, dict]:
        return await self._run({"op": "cas", "key": key, "from": old, "to": new})

    async def txn(self, ops: Any) -> tuple[int, dict]:
        why = validate_txn_ops(ops)
        if why:
            return 400, {"error": why, "outcome": "failed"}
        return await self._run({"op": "txn", "ops": ops})

    def status(self) -> dict:
        st = self.core.status()
        leader = st["leader"]
        if leader == self.id:
            hint = self.http_text
        elif leader is not None:
            hint = self._not_leader()[1]["leader_http"]
        else:
            hint = None
        st.update(node=self.id, applied=self.sm.applied_index, bug=self.bug, leader_http=hint,
                  fsyncs=self.storage.fsyncs, protocol="paxos")
        return st


async def serve(server: PaxosServer) -> None:
    """Run ``server`` until SIGTERM/SIGINT."""
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("%s: stopping", server.id)
    # Everything acknowledged is already durable; a clean stop only hands the no-fsync bug's
    # buffer to the OS.
    server.storage.flush_lazy()
    logging.shutdown()
    os._exit(0)


def main(settings: dict, *, election_timeout_ms: float = 500.0, heartbeat_ms: float = 50.0,
         max_batch: int = 512, check_quorum: bool = True) -> int:
    """Run a node from :func:`reference_impl.node_args.resolve` settings until SIGTERM.
    ``check_quorum=False`` lets a leader that lost its majority go on leading (safe, but a
    deposed leader then keeps proposing: what the ``skip-promise-check`` bug needs to show)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    peers = dict(settings["peers"])
    peers[settings["id"]] = settings["listen"]
    server = PaxosServer(settings["id"], peers, settings["http"], settings["data"],
                         bug=settings["bug"],
                         config=Config(election_timeout=election_timeout_ms,
                                       heartbeat_interval=heartbeat_ms, max_batch=max_batch,
                                       check_quorum=check_quorum))
    asyncio.run(serve(server))
    return 0
