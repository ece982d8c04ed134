"""Multi-Paxos as a pure state machine (sans-I/O): inputs in, a :class:`Ready` of outputs out.

The protocol is the one of "Paxos Made Simple" (Lamport) organised as in "Paxos Made Moderately
Complex" (van Renesse & Altinbuken): every node is an acceptor, a learner (replica) and a
potential leader (distinguished proposer).

- **Ballots** are ``(round, node_id)`` pairs, compared as tuples, so two nodes never share one.
- **Phase 1, once per ballot.** A node that heard from no leader for a random time in
  ``[election_timeout, 2 * election_timeout)`` picks a ballot above every ballot it saw and sends
  ``p1a(ballot, from_slot)`` to every acceptor, itself included. An acceptor whose promise is not
  higher promises (durably) and answers ``p1b`` with what it accepted and what it learned at
  ``from_slot`` and after. With a majority of promises the node becomes leader; for every slot
  up to the highest one reported it re-proposes the value of the highest ballot, or a **no-op** in
  a hole, so the new leader's log has no gaps.
- **Phase 2, per slot, pipelined and batched.** The leader gives each client command the next
  slot and, once per :meth:`PaxosCore.take_ready`, sends every acceptor one ``p2a`` with all the
  slots proposed since the last one. An acceptor whose promise is not higher accepts (durably) and
  answers ``p2b``. A majority of ``p2b`` for a slot means its value is **chosen**.
- **Learning.** Every ``p2a`` and heartbeat carries the leader's commit index (every slot up to it
  is chosen). An acceptor that accepted a slot at that very ballot learns it from that; a replica
  that lacks values gets them from the leader in ``learn`` messages. Replicas apply chosen slots
  strictly in order (:attr:`Ready.committed`).
- **Failure detection.** The leader sends heartbeats every ``heartbeat_interval``; it steps down
  when a majority has not answered for an election timeout (check-quorum). Acceptors refuse
  ``p1a`` while they hear from a live leader, so a node that comes back from a partition does not
  depose a working leader; together with the randomized timeouts this lets duelling proposers
  settle.
- **Reads** are commands too (``get`` goes through a slot): linearizable without any clock.

Durability contract: an acceptor's promise and accepted values are in :attr:`Ready.writes`, and
the messages that reveal them leave in the same Ready, which the driver sends only after the
writes are durable. A node's own acceptor takes its proposer's ``p1a``/``p2a`` at once, but its
answers are held inside the core and delivered by :meth:`PaxosCore.persisted`, so the leader's
own vote also counts only once it is on disk.

Planted bug ``skip-promise-check`` (see :mod:`reference_impl.bugs`): the acceptor accepts a
``p2a`` whose ballot is below its promise.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

FOLLOWER = "follower"
CANDIDATE = "candidate"
LEADER = "leader"

NOOP = {"op": "noop"}
ZERO = (0, "")


def ballot_of(value: Any) -> tuple[int, str]:
    """A ballot from its JSON form ``[round, node]``."""
    return (int(value[0]), str(value[1]))


@dataclass(frozen=True)
class Config:
    """Timing and batching knobs (times in milliseconds).

    ``election_timeout``: a node that hears no leader for a random time in
    ``[election_timeout, 2 * election_timeout)`` runs phase 1 (also the candidate's retry
    period). ``heartbeat_interval``: how often a leader sends heartbeats and retransmits
    unacknowledged slots. ``max_batch``: most slots per message. ``check_quorum``: a leader
    that has not heard from a majority for an election timeout steps down. ``sticky_leader``:
    acceptors refuse ``p1a`` while they hear from a live leader.
    """

    election_timeout: float = 1000.0
    heartbeat_interval: float = 100.0
    max_batch: int = 512
    check_quorum: bool = True
    sticky_leader: bool = True


@dataclass
class PersistentState:
    """What a node recovers from disk: its promise, what it accepted and what it learned."""

    promised: tuple = ZERO
    accepted: dict = field(default_factory=dict)   # slot -> (ballot, command)
    chosen: dict = field(default_factory=dict)     # slot -> command


@dataclass
class Ready:
    """Outputs of the core since the last :meth:`PaxosCore.take_ready`.

    Contract for the driver, in this order:

    1. append ``writes`` (acceptor records: ``["promise", ballot]``,
       ``["accept", slot, ballot, command]``) to durable storage and fsync; append ``learned``
       (``["chosen", slot, command]``) too, but those need no fsync of their own: they only
       save a restarted replica from learning the slots again (see :func:`replay`).
    2. report the completion with :meth:`PaxosCore.persisted` (``seq``), also when
       ``writes`` is empty (the core may hold messages to itself for this Ready).
    3. send ``messages``.
    4. apply ``committed`` (``(slot, command)``, consecutive slots) in order.
    """

    seq: int = 0
    writes: list = field(default_factory=list)
    learned: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    committed: list = field(default_factory=list)
    holds_loopback: bool = False

    def empty(self) -> bool:
        return not (self.writes or self.learned or self.messages or self.committed
                    or self.holds_loopback)


def replay(records) -> PersistentState:
    """The state a sequence of durable records describes (later records win)."""
    st = PersistentState()
    for rec in records:
        kind = rec[0]
        if kind == "promise":
            b = ballot_of(rec[1])
            if b > st.promised:
                st.promised = b
        elif kind == "accept":
            slot, b = int(rec[1]), ballot_of(rec[2])
            old = st.accepted.get(slot)
            if old is None or b >= old[0]:
                st.accepted[slot] = (b, rec[3])
        elif kind == "chosen":
            st.chosen.setdefault(int(rec[1]), rec[2])
        else:
            raise ValueError(f"unknown record kind {kind!r}")
    for slot in st.chosen:
        st.accepted.pop(slot, None)
    return st


class PaxosCore:
    """One Multi-Paxos node (acceptor + learner + potential leader). One driver feeds it."""

    def __init__(self, node_id: str, peers: list[str], *, config: Config | None = None,
                 rng: random.Random | None = None, now: float = 0.0,
                 state: PersistentState | None = None, bug: str | None = None):
        if node_id not in peers:
            raise ValueError(f"node {node_id!r} is not among the peers {peers!r}")
        self.id = node_id
        self.peers = sorted(peers)
        self.others = [p for p in self.peers if p != node_id]
        self.config = config or Config()
        self.rng = rng or random.Random()
        self.bug = bug
        state = state or PersistentState()
        # acceptor
        self.promised: tuple = tuple(state.promised)
        self.accepted: dict[int, tuple] = dict(state.accepted)
        # learner
        self.chosen: dict[int, Any] = dict(state.chosen)
        self.commit = 0
        self._advance_commit()
        self.applied = 0
        # proposer
        self.role = FOLLOWER
        self.ballot: tuple = ZERO
        self.max_round = self.promised[0]
        self.leader: str | None = None
        self.last_leader_contact = -1e18
        self.p1_from = 0
        self.p1_replies: dict[str, dict] = {}
        self.next_slot = self.commit + 1
        self.inflight: dict[int, list] = {}       # slot -> [command, acks]
        self.new_slots: list[int] = []            # proposed, not yet sent
        self.active: set[str] = set()
        self.peer_commit: dict[str, int] = {}
        self.learn_sent_at: dict[str, float] = {}
        self.commit_at_heartbeat = 0
        self.heartbeat_at = 0.0
        self.quorum_check_at = 0.0
        self.election_at = 0.0
        # output
        self._seq = 0
        self._held: list[tuple[int, dict]] = []
        self._ready = Ready()
        self.now = now
        self._reset_election_timer(now)

    # ------------------------------------------------------------------ helpers
    def quorum(self) -> int:
        return len(self.peers) // 2 + 1

    def _reset_election_timer(self, now: float) -> None:
        et = self.config.election_timeout
        self.election_at = now + et + self.rng.random() * et

    def _write(self, record: list) -> None:
        self._ready.writes.append(record)

    def _send(self, msg: dict) -> None:
        msg["from"] = self.id
        if msg["to"] == self.id:
            if msg["type"] in ("p1a", "p2a"):
                # A proposer's request reveals no acceptor state: our acceptor takes it now
                # (its promise or acceptance goes into this Ready's writes).
                self.receive(self.now, msg)
                return
            # Our acceptor's answer: delivered by persisted() once this Ready is durable.
            self._held.append((self._seq, msg))
            self._ready.holds_loopback = True
        else:
            self._ready.messages.append(msg)

    def _see_ballot(self, b: tuple) -> None:
        if b[0] > self.max_round:
            self.max_round = b[0]

    def _promise(self, b: tuple) -> None:
        """Raise our promise to ``b`` (durably); a higher ballot than ours deposes us."""
        if b > self.promised:
            self.promised = b
            self._write(["promise", list(b)])
            self._see_ballot(b)
            if self.role != FOLLOWER and b > self.ballot:
                self._become_follower(self.now, None)

    def _advance_commit(self) -> None:
        while self.commit + 1 in self.chosen:
            self.commit += 1

    def _learn(self, slot: int, cmd: Any) -> None:
        """``cmd`` is chosen at ``slot``."""
        if slot in self.chosen:
            return
        self.chosen[slot] = cmd
        self.accepted.pop(slot, None)
        self.inflight.pop(slot, None)
        self._ready.learned.append(["chosen", slot, cmd])
        if slot == self.commit + 1:
            self._advance_commit()

    # ------------------------------------------------------------------ timers
    def next_wakeup(self) -> float:
        """When :meth:`tick` has something to do next (ms, same clock as ``now``)."""
        if self.role == LEADER:
            t = self.heartbeat_at
            if self.config.check_quorum and len(self.peers) > 1:
                t = min(t, self.quorum_check_at)
            return t
        return self.election_at

    def tick(self, now: float) -> None:
        """Time passed: heartbeat, check the quorum, or run phase 1 when due."""
        self.now = now
        if self.role == LEADER:
            if self.config.check_quorum and len(self.peers) > 1 and now >= self.quorum_check_at:
                if len(self.active) + 1 < self.quorum():
                    self._become_follower(now, None)
                    return
                self.active = set()
                self.quorum_check_at = now + self.config.election_timeout
            if now >= self.heartbeat_at:
                self._heartbeat(now)
        elif now >= self.election_at:
            self._start_phase1(now)

    # ------------------------------------------------------------------ roles
    def _become_follower(self, now: float, leader: str | None) -> None:
        self.role = FOLLOWER
        self.leader = leader
        self.inflight = {}
        self.new_slots = []
        self.p1_replies = {}
        self._reset_election_timer(now)

    def _start_phase1(self, now: float) -> None:
        self.max_round = max(self.max_round, self.promised[0], self.ballot[0])
        self.ballot = (self.max_round + 1, self.id)
        self.max_round = self.ballot[0]
        self.role = CANDIDATE
        self.leader = None
        self.inflight = {}
        self.new_slots = []
        self.p1_from = self.commit + 1
        self.p1_replies = {}
        self._reset_election_timer(now)   # the retry time: a random back-off
        for p in self.peers:
            self._send({"type": "p1a", "to": p, "ballot": list(self.ballot),
                        "from_slot": self.p1_from})

    def _become_leader(self, now: float) -> None:
        self.role = LEADER
        self.leader = self.id
        best: dict[int, tuple] = {}
        top = self.commit
        for reply in self.p1_replies.values():
            for slot, cmd in reply["chosen"]:
                self._learn(slot, cmd)
                top = max(top, slot)
            for slot, b, cmd in reply["accepted"]:
                b = ballot_of(b)
                top = max(top, slot)
                if slot not in best or b > best[slot][0]:
                    best[slot] = (b, cmd)
        self.p1_replies = {}
        self.inflight = {}
        self.new_slots = []
        for slot in range(self.commit + 1, top + 1):
            if slot in self.chosen:
                continue
            cmd = best[slot][1] if slot in best else NOOP   # a hole: fill it with a no-op
            self.inflight[slot] = [cmd, set()]
            self.new_slots.append(slot)
        self.next_slot = top + 1
        self.active = set()
        self.peer_commit = {}
        self.learn_sent_at = {}
        self.commit_at_heartbeat = self.commit
        self.quorum_check_at = now + self.config.election_timeout
        self._heartbeat(now)

    # ------------------------------------------------------------------ client input
    def propose(self, now: float, command: Any) -> int | None:
        """Give ``command`` the next slot if we lead; returns the slot or None.

        The command took effect when a later Ready lists that slot in ``committed`` with this
        command; another command there means it was lost for sure.
        """
        self.now = now
        if self.role != LEADER:
            return None
        slot = self.next_slot
        self.next_slot += 1
        self.inflight[slot] = [command, set()]
        self.new_slots.append(slot)
        return slot

    # ------------------------------------------------------------------ disk input
    def persisted(self, now: float, seq: int) -> None:
        """Disk completion: the writes of the Ready numbered ``seq`` (and before) are durable."""
        self.now = now
        if not self._held:
            return
        due = [m for s, m in self._held if s <= seq]
        self._held = [(s, m) for s, m in self._held if s > seq]
        for m in due:
            self.receive(now, m)

    # ------------------------------------------------------------------ messages
    def receive(self, now: float, msg: dict) -> None:
        """Handle one message (duplicates, reorders and stale ones are fine)."""
        self.now = now
        src = msg.get("from")
        if src not in self.peers:
            return
        t = msg.get("type")
        if t == "p1a":
            self._on_p1a(now, msg)
        elif t == "p1b":
            self._on_p1b(now, msg)
        elif t == "p2a":
            self._on_p2a(now, msg)
        elif t == "p2b":
            self._on_p2b(now, msg)
        elif t == "learn":
            self._on_learn(now, msg)
        elif t == "learn_ack":
            self._on_learn_ack(now, msg)

    def _hears_live_leader(self, now: float) -> bool:
        return self.role == LEADER or (
            self.leader is not None
            and now - self.last_leader_contact < self.config.election_timeout)

    def _on_p1a(self, now: float, msg: dict) -> None:
        src, b = msg["from"], ballot_of(msg["ballot"])
        self._see_ballot(b)
        sticky = (self.config.sticky_leader and src != self.id and src != self.leader
                  and self._hears_live_leader(now))
        if sticky or b < self.promised:
            self._send({"type": "p1b", "to": src, "ballot": list(b), "ok": False,
                        "promised": list(self.promised)})
            return
        if b > self.promised:
            self._promise(b)
            if src != self.id:
                self.leader = None
                self._reset_election_timer(now)
        start = int(msg["from_slot"])
        accepted = [[s, list(ab), cmd] for s, (ab, cmd) in sorted(self.accepted.items())
                    if s >= start]
        chosen = [[s, cmd] for s, cmd in sorted(self.chosen.items()) if s >= start]
        self._send({"type": "p1b", "to": src, "ballot": list(b), "ok": True,
                    "accepted": accepted, "chosen": chosen, "commit": self.commit})

    def _on_p1b(self, now: float, msg: dict) -> None:
        b = ballot_of(msg["ballot"])
        if not msg["ok"]:
            promised = ballot_of(msg["promised"])
            self._see_ballot(promised)
            if self.role == CANDIDATE and promised > self.ballot:
                self._become_follower(now, None)
            return
        if self.role != CANDIDATE or b != self.ballot:
            return
        self.p1_replies[msg["from"]] = msg
        if len(self.p1_replies) >= self.quorum():
            self._become_leader(now)

    def _on_p2a(self, now: float, msg: dict) -> None:
        src, b = msg["from"], ballot_of(msg["ballot"])
        self._see_ballot(b)
        if b < self.promised and self.bug != "skip-promise-check":
            self._send({"type": "p2b", "to": src, "ballot": list(b), "ok": False,
                        "promised": list(self.promised), "commit": self.commit})
            return
        if b >= self.promised:
            self._promise(b)
            if src != self.id:
                self.leader = src
                self.last_leader_contact = now
                self._reset_election_timer(now)
        # else: the skip-promise-check bug accepts a ballot below its promise.
        acked = []
        for slot, cmd in msg["entries"]:
            slot = int(slot)
            acked.append(slot)
            if slot in self.chosen:
                continue
            old = self.accepted.get(slot)
            if old is not None and old[0] == b:
                continue     # a retransmission: already accepted (and written)
            self.accepted[slot] = (b, cmd)
            self._write(["accept", slot, list(b), cmd])
        # Slots up to the leader's commit are chosen; those we accepted at this very ballot
        # hold the leader's (unique) proposal for them, which is the chosen value.
        upto = int(msg["commit"])
        s = self.commit + 1
        while s <= upto:
            a = self.accepted.get(s)
            if s not in self.chosen and a is not None and a[0] == b:
                self._learn(s, a[1])
            s += 1
        self._send({"type": "p2b", "to": src, "ballot": list(b), "ok": True, "slots": acked,
                    "commit": self.commit})

    def _on_p2b(self, now: float, msg: dict) -> None:
        src, b = msg["from"], ballot_of(msg["ballot"])
        if not msg["ok"]:
            promised = ballot_of(msg["promised"])
            self._see_ballot(promised)
            if self.role == LEADER and b == self.ballot and promised > self.ballot:
                self._become_follower(now, None)
            return
        if self.role != LEADER or b != self.ballot:
            return
        if src != self.id:
            self.active.add(src)
            self.peer_commit[src] = int(msg["commit"])   # the latest word (it may restart)
        for slot in msg["slots"]:
            e = self.inflight.get(slot)
            if e is None:
                continue
            e[1].add(src)
            if len(e[1]) >= self.quorum():
                self._learn(slot, e[0])

    def _maybe_send_learn(self, now: float, dst: str, *, upto: int | None = None) -> None:
        """Send ``dst`` the chosen values it lacks (from its last reported commit on), up to
        ``upto`` (default: our commit)."""
        have = self.peer_commit.get(dst, 0)
        upto = self.commit if upto is None else upto
        if have >= upto:
            return
        self.learn_sent_at[dst] = now
        end = min(self.commit, have + self.config.max_batch)
        entries = [[s, self.chosen[s]] for s in range(have + 1, end + 1)]
        self._send({"type": "learn", "to": dst, "ballot": list(self.ballot), "entries": entries})

    def _on_learn(self, now: float, msg: dict) -> None:
        for slot, cmd in msg["entries"]:
            self._learn(int(slot), cmd)
        self._send({"type": "learn_ack", "to": msg["from"], "ballot": msg["ballot"],
                    "commit": self.commit})

    def _on_learn_ack(self, now: float, msg: dict) -> None:
        src = msg["from"]
        if self.role != LEADER or ballot_of(msg["ballot"]) != self.ballot:
            return
        self.active.add(src)
        self.peer_commit[src] = int(msg["commit"])
        self._maybe_send_learn(now, src)   # pipelined catch-up

    # ------------------------------------------------------------------ phase 2 output
    def _heartbeat(self, now: float) -> None:
        """Every follower gets the commit index, and again every slot it has not acknowledged
        (lost messages are retransmitted here)."""
        self.heartbeat_at = now + self.config.heartbeat_interval
        # Catch-up: a replica still short of what was chosen one heartbeat ago did not learn it
        # from the commit index (it missed the slots): it gets the values themselves. (Normal
        # pipelined lag, a few slots behind the latest commit, does not trigger this.)
        for p in self.others:
            if p in self.peer_commit:
                self._maybe_send_learn(now, p, upto=self.commit_at_heartbeat)
        self.commit_at_heartbeat = self.commit
        fresh = set(self.new_slots)
        pending = sorted(s for s in self.inflight if s not in fresh)
        for p in self.others:
            missing = [s for s in pending if p not in self.inflight[s][1]]
            entries = [[s, self.inflight[s][0]] for s in missing[:self.config.max_batch]]
            self._send({"type": "p2a", "to": p, "ballot": list(self.ballot), "entries": entries,
                        "commit": self.commit})

    def _flush_new_slots(self) -> None:
        if not self.new_slots:
            return
        slots, self.new_slots = self.new_slots, []
        step = self.config.max_batch
        for i in range(0, len(slots), step):
            entries = [[s, self.inflight[s][0]] for s in slots[i:i + step] if s in self.inflight]
            for p in self.peers:
                self._send({"type": "p2a", "to": p, "ballot": list(self.ballot),
                            "entries": entries, "commit": self.commit})

    # ------------------------------------------------------------------ output
    def take_ready(self) -> Ready:
        """All outputs since the last call (see :class:`Ready` for what the driver must do)."""
        if self.role == LEADER:
            self._flush_new_slots()
        r = self._ready
        r.seq = self._seq
        self._seq += 1
        self._ready = Ready()
        if self.commit > self.applied:
            r.committed = [(s, self.chosen[s]) for s in range(self.applied + 1, self.commit + 1)]
            self.applied = self.commit
        return r

    def status(self) -> dict:
        """A JSON-able summary for ``/status`` and the simulator's checks."""
        return {"id": self.id, "role": self.role, "ballot": list(self.ballot),
                "promised": list(self.promised), "leader": self.leader, "commit": self.commit,
                "applied": self.applied, "next_slot": self.next_slot,
                "inflight": len(self.inflight), "term": self.promised[0]}
