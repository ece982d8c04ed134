"""The real Raft node: the sans-I/O core wrapped in asyncio sockets, timers and fsync.

One event loop owns the :class:`~reference_impl.raft.core.RaftCore`. Peer messages (TCP, each
frame ``<u32 length><JSON>``) and client requests (HTTP, :mod:`reference_impl.http_api`) feed it;
the *Ready loop* takes its outputs and follows the Ready contract: write and fsync (in a worker
thread, so inputs keep arriving and pile up for the next batch: group commit), then send the
messages, apply committed entries and answer the clients waiting for them.

Pipelining: the leader sends new entries to a follower without waiting for the previous batch's
acknowledgement (up to ``max_inflight`` entries); each AppendEntries carries every entry produced
since the last Ready, up to ``max_batch``.

Client semantics: writes, cas and transactions go through the log; reads use ReadIndex. A node
that is not the leader answers ``409 {"leader": id, "leader_http": "ip:port"}``. A request whose
fate this node cannot know (its entry was not seen committed within ``commit_wait_s``) gets
``503 {"outcome": "unknown"}``; an entry replaced by another leader's gets ``503
{"outcome": "failed"}`` (it can never commit).

Membership (:meth:`RaftServer.members`, ``POST /admin/members {"remove": id}`` or ``{"add": id}``):
the leader appends a config entry and answers once it committed, like a write; ``GET /status``
lists the ``voters``. Every peer stays in ``--peers``; a removed node keeps receiving the log.

Planted bugs (``--bug``, see :mod:`reference_impl.bugs`) change behaviour at the marked places.
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
from reference_impl.raft.core import LEADER, Config, ConfigChangeRefused, RaftCore, Snapshot
from reference_impl.raft.storage import RaftStorage
from reference_impl.state_machine import KVStateMachine, validate_txn_ops

log = logging.getLogger("splitbrain.raft")
_LEN = struct.Struct(">I")
#: A peer connection whose sent data stays unacknowledged this long is dropped and reconnected.
USER_TIMEOUT_MS = 1000
MAX_FRAME = 64 << 20


def now_ms() -> float:
    return time.monotonic() * 1000.0


class PeerLink:
    """Outgoing messages to one peer over one TCP connection, reconnected when it breaks.

    Raft tolerates lost messages, so this never blocks the core: when the connection is down
    or stalled, messages are dropped (the leader's heartbeat retransmits what matters).
    """

    def __init__(self, name: str, host: str, port: int):
        self.name, self.host, self.port = name, host, port
        self.queue: list[bytes] = []
        self.event = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None
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
                if hasattr(socket, "TCP_USER_TIMEOUT"):
                    # Small messages never fill the send buffer, so drain() below does not
                    # notice a partition: the kernel keeps retransmitting with exponential
                    # back-off, and after the heal the link stayed silent until the next
                    # retransmission (about 23 s once, measured). Unacknowledged data for 1 s now
                    # aborts the connection, and the loop reconnects.
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT_MS)
            self.writer = w
            try:
                while True:
                    await self.event.wait()
                    self.event.clear()
                    if not self.queue:
                        continue
                    data, self.queue = b"".join(self.queue), []
                    w.write(data)
                    # A partition stalls the connection: give up on it and reconnect, rather
                    # than wait for TCP's exponential retransmission after the heal.
                    await asyncio.wait_for(w.drain(), 1.0)
            except (OSError, asyncio.TimeoutError, ConnectionError):
                pass
            finally:
                self.writer = None
                w.close()
                r.feed_eof()


class RaftServer:
    """One node. ``peers`` maps every node id (this one included) to its peer ``(host, port)``;
    ``http`` is this node's client address. Every peer message carries the sender's client
    address, so a follower can point clients at the leader (``leader_http``); before it heard
    from the leader it assumes the leader's client port has the same offset from its peer port
    as its own."""

    def __init__(self, node_id: str, peers: dict[str, tuple[str, int]], http: tuple[str, int],
                 data_dir: str, *, bug: str | None = None, config: Config | None = None,
                 commit_wait_s: float = 3.0, snapshot_every: int = 10000):
        self.id = node_id
        self.peers = peers
        self.http = http
        self.http_offset = http[1] - peers[node_id][1]
        self.http_text = f"{http[0]}:{http[1]}"
        self.peer_http: dict[str, str] = {}   # client addresses peers told us about
        self.bug = bug
        self.config = config or Config(election_timeout=500.0, heartbeat_interval=50.0)
        self.commit_wait_s = commit_wait_s
        self.snapshot_every = snapshot_every
        self.storage = RaftStorage(data_dir, bug=bug)
        self.sm = KVStateMachine()
        self.waiters: dict[int, tuple[int, asyncio.Future]] = {}
        self.read_waiters: dict[int, asyncio.Future] = {}
        self.apply_waiters: list[tuple[int, asyncio.Future]] = []
        self.next_ctx = 0
        self.links: dict[str, PeerLink] = {}
        self.core: RaftCore | None = None
        self.wake: asyncio.Event | None = None
        self.last_role = None
        self.last_leader: str | None = None   # for leader hints while no leader is known
        self.stats = {"readies": 0, "fsyncs": 0, "applied": 0}

    # ------------------------------------------------------------------ startup
    async def start(self) -> None:
        state = self.storage.load()
        seed = int.from_bytes(os.urandom(8), "big")
        self.core = RaftCore(self.id, list(self.peers), config=self.config,
                             rng=random.Random(seed), now=now_ms(), state=state)
        if state.snapshot is not None:
            self.sm.restore(state.snapshot.data)
        self.wake = asyncio.Event()
        log.info("%s: recovered term=%d vote=%s snapshot=%d entries=%d", self.id, state.term,
                 state.vote, state.snapshot.index if state.snapshot else 0, len(state.entries))
        host, port = self.peers[self.id]
        self.peer_server = await asyncio.start_server(self._peer_conn, host, port)
        self.http_server = await asyncio.start_server(
            lambda r, w: http_api.serve_connection(self, r, w), self.http[0], self.http[1])
        for pid, (h, p) in self.peers.items():
            if pid != self.id:
                link = PeerLink(pid, h, p)
                link.task = asyncio.ensure_future(link.run())
                self.links[pid] = link
        self.loop_task = asyncio.ensure_future(self._ready_loop())
        if self.bug == "no-fsync":
            asyncio.ensure_future(self._lazy_flusher())
        log.info("%s: peers on %s:%d, clients on %s:%d, bug=%s", self.id, host, port,
                 self.http[0], self.http[1], self.bug)

    async def _lazy_flusher(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.storage.flush_lazy()  # on the loop thread: no race with write()

    # ------------------------------------------------------------------ peers
    async def _peer_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(4)
                (n,) = _LEN.unpack(head)
                if n > MAX_FRAME:
                    return
                msg = json.loads(await reader.readexactly(n))
                # Anyone can reach the peer port: drop what is not a message from a peer.
                if not isinstance(msg, dict) or msg.get("to") != self.id \
                        or msg.get("from") not in self.peers:
                    continue
                if isinstance(msg.get("http"), str):
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
        if msg["type"] == "vote_resp" and msg["granted"]:
            # Like etcd's "cast MsgVote": who voted for whom, to read elections off the logs.
            log.info("%s: voted for %s in term %d", self.id, msg["to"], msg["term"])
        link = self.links.get(msg["to"])
        if link is not None:
            msg["http"] = self.http_text  # so followers can point clients at the leader
            data = json.dumps(msg, separators=(",", ":")).encode()
            link.send(_LEN.pack(len(data)) + data)

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
            if r.hard_state or r.truncate_from is not None or r.snapshot:
                await loop.run_in_executor(None, self.storage.write, r)
                self.stats["fsyncs"] += 1
            core.persisted(now_ms(), r.last_index, r.last_term)
            for m in r.messages:
                self._send(m)
            if r.apply_snapshot is not None:
                self.sm.restore(r.apply_snapshot.data)
            for index, term, cmd in r.committed:
                result = self.sm.apply(index, cmd)
                w = self.waiters.pop(index, None)
                if w is not None and not w[1].done():
                    w[1].set_result(("ok", result) if w[0] == term else ("lost", None))
            self.stats["applied"] = self.sm.applied_index
            for ctx, index in r.reads:
                fut = self.read_waiters.pop(ctx, None)
                if fut is not None and not fut.done():
                    self.apply_waiters.append((index, fut))
            for ctx in r.failed_reads:
                fut = self.read_waiters.pop(ctx, None)
                if fut is not None and not fut.done():
                    fut.set_result(False)
            if self.apply_waiters:
                keep = []
                for index, fut in self.apply_waiters:
                    if self.sm.applied_index >= index:
                        if not fut.done():
                            fut.set_result(True)
                    else:
                        keep.append((index, fut))
                self.apply_waiters = keep
            if core.leader is not None and core.leader != self.id:
                self.last_leader = core.leader
            if core.role != self.last_role:
                log.info("%s: %s in term %d (leader %s, commit %d)", self.id, core.role,
                         core.term, core.leader, core.commit)
                self.last_role = core.role
            if self.sm.applied_index - core.log_start >= self.snapshot_every:
                await self._snapshot(loop)
            self.wake.set()  # persisted() may have produced more (e.g. the commit)

    async def _snapshot(self, loop) -> None:
        idx = self.sm.applied_index
        snap = Snapshot(idx, self.core.term_at(idx), self.sm.snapshot(), self.core.config_at(idx))
        await loop.run_in_executor(None, self.storage.compact, snap)
        self.core.compact(idx, snap.data)
        log.info("%s: snapshot at %d", self.id, idx)

    # ------------------------------------------------------------------ client API
    def _not_leader(self) -> tuple[int, dict]:
        """409 naming the leader. While no leader is known (an election is going on, or this
        node is cut off), ``leader`` is null and ``leader_http`` names the last leader this node
        heard of: often still the leader, and a wrong hint costs the client one more 409."""
        leader = self.core.leader if self.core.leader != self.id else None
        if leader is not None:
            self.last_leader = leader
        hint = self.peer_http.get(leader or self.last_leader)
        if hint is None and (leader or self.last_leader) in self.peers:
            h, p = self.peers[leader or self.last_leader]
            hint = f"{h}:{p + self.http_offset}"
        return 409, {"error": "not the leader", "leader": leader, "leader_http": hint,
                     "outcome": "failed"}

    async def _commit(self, cmd: dict) -> tuple[int, dict]:
        return await self._await_entry(self.core.propose(now_ms(), cmd), cmd)

    async def _await_entry(self, res: tuple[int, int] | None, cmd: dict) -> tuple[int, dict]:
        """Answer for a proposed entry ``res`` (``(index, term)``, None: not the leader) once it
        committed, was replaced, or ``commit_wait_s`` passed."""
        if res is None:
            return self._not_leader()
        index, term = res
        fut = asyncio.get_running_loop().create_future()
        self.waiters[index] = (term, fut)
        self.wake.set()
        if self.bug == "early-ack" and cmd.get("op") == "put":
            # The bug: acknowledge as soon as the entry is in the leader's log.
            return 200, {"ok": True, "index": index}
        try:
            what, result = await asyncio.wait_for(asyncio.shield(fut), self.commit_wait_s)
        except asyncio.TimeoutError:
            return 503, {"error": f"not committed within {self.commit_wait_s:g} s "
                                  f"(index {index}, term {term})", "outcome": "unknown"}
        if what == "lost":
            return 503, {"error": f"entry {index} of term {term} was replaced by another "
                                  "leader's", "outcome": "failed"}
        if isinstance(result, dict) and "error" in result:
            return 400, {"error": result["error"], "outcome": "failed"}
        return 200, dict(result or {}, index=index)

    async def members(self, doc: Any) -> tuple[int, dict]:
        """``{"add": id}`` or ``{"remove": id}``: a single-server membership change. 200
        ``{"voters": [...], "changed": bool, "index": i}`` once the config entry committed (or
        at once when ``id`` already is / is not a voter in a committed config); 409 naming the
        leader elsewhere; 503 ``failed`` when the leader cannot start a change now (an earlier
        one is not committed yet, or its own term has no committed entry yet); 400 when
        malformed."""
        if not isinstance(doc, dict) or len(doc) != 1 or next(iter(doc)) not in ("add", "remove"):
            return 400, {"error": 'expected {"add": id} or {"remove": id}', "outcome": "failed"}
        verb, node = next(iter(doc.items()))
        if not isinstance(node, str) or node not in self.peers:
            return 400, {"error": f"{verb}: unknown node {node!r} (peers: "
                                  f"{', '.join(sorted(self.peers))})", "outcome": "failed"}
        core = self.core
        if core.role != LEADER:
            return self._not_leader()
        voters = set(core.voters)
        new = voters | {node} if verb == "add" else voters - {node}
        if new == voters:
            # Nothing to change; answer once the config saying so is committed.
            deadline = time.monotonic() + self.commit_wait_s
            while core.config_index() > core.commit and core.role == LEADER \
                    and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if core.role != LEADER:
                return self._not_leader()
            if core.config_index() > core.commit:
                return 503, {"error": f"config entry {core.config_index()} not committed within "
                                      f"{self.commit_wait_s:g} s", "outcome": "unknown"}
            return 200, {"voters": list(core.voters), "changed": False}
        try:
            res = core.propose_config(now_ms(), sorted(new))
        except ConfigChangeRefused as e:
            return 503, {"error": f"membership change refused: {e}", "outcome": "failed"}
        status, body = await self._await_entry(res, {"op": "config", "voters": sorted(new)})
        if status == 200:
            body.update(voters=sorted(new), changed=True)
        return status, body

    async def get(self, key: str) -> tuple[int, dict]:
        if self.bug == "stale-read":
            # The bug: answer from local state, whatever this node's role and freshness.
            found, v = self.sm.get(key)
            return 200, {"value": v, "found": found}
        self.next_ctx += 1
        ctx = self.next_ctx
        fut = asyncio.get_running_loop().create_future()
        self.read_waiters[ctx] = fut
        if not self.core.read_index(now_ms(), ctx):
            del self.read_waiters[ctx]
            return self._not_leader()
        self.wake.set()
        try:
            ok = await asyncio.wait_for(asyncio.shield(fut), self.commit_wait_s)
        except asyncio.TimeoutError:
            self.read_waiters.pop(ctx, None)
            return 503, {"error": "read not confirmed by a majority in time", "outcome": "failed"}
        if not ok:
            return 503, {"error": "lost leadership before the read was confirmed",
                         "outcome": "failed"}
        found, v = self.sm.get(key)
        return 200, {"value": v, "found": found}

    async def put(self, key: str, value: Any) -> tuple[int, dict]:
        return await self._commit({"op": "put", "key": key, "value": value})

    async def cas(self, key: str, old: Any, new: Any) -> tuple[int, dict]:
        return await self._commit({"op": "cas", "key": key, "from": old, "to": new})

    async def txn(self, ops: Any) -> tuple[int, dict]:
        why = validate_txn_ops(ops)
        if why:
            return 400, {"error": why, "outcome": "failed"}
        if self.bug == "stale-read":
            # The bug, for transactions too: the txn's reads come from this node's local state
            # now; only its other micro-ops go through the log.
            local = [[f, k, self.sm.get(k)[1]] if f == "r" else [f, k, v] for f, k, v in ops]
            rest = [op for op in ops if op[0] != "r"]
            if not rest:
                return 200, {"ops": local}
            status, doc = await self._commit({"op": "txn", "ops": rest})
            return status, (dict(doc, ops=local) if status == 200 and "ops" in doc else doc)
        return await self._commit({"op": "txn", "ops": ops})

    def status(self) -> dict:
        st = self.core.status()
        st.update(node=self.id, applied=self.sm.applied_index, bug=self.bug,
                  leader_http=self._not_leader()[1]["leader_http"]
                  if st["leader"] not in (None, self.id) else
                  (f"{self.http[0]}:{self.http[1]}" if st["leader"] == self.id else None),
                  fsyncs=self.storage.fsyncs)
        return st


async def serve(server: RaftServer) -> None:
    """Run ``server`` until SIGTERM/SIGINT."""
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("%s: stopping", server.id)
    # Everything acknowledged is already durable; a clean stop only hands the no-fsync bug's
    # buffer to the OS. Exit at once rather than wait for open client connections and threads.
    server.storage.flush_lazy()
    logging.shutdown()
    os._exit(0)


def main(settings: dict, *, election_timeout_ms: float = 500.0, heartbeat_ms: float = 50.0,
         snapshot_every: int = 10000, pre_vote: bool = True) -> int:
    """Run a node from :func:`reference_impl.node_args.resolve` settings until SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    peers = dict(settings["peers"])
    peers[settings["id"]] = settings["listen"]
    server = RaftServer(settings["id"], peers, settings["http"], settings["data"],
                        bug=settings["bug"], snapshot_every=snapshot_every,
                        config=Config(election_timeout=election_timeout_ms,
                                      heartbeat_interval=heartbeat_ms, pre_vote=pre_vote))
    asyncio.run(serve(server))
    return 0
