"""Raft as a pure state machine (sans-I/O): inputs in, a :class:`Ready` of outputs out.

This is the protocol of the Raft paper (Ongaro & Ousterhout, sections 5.1-5.4 and 7-8) with the
thesis's pre-vote (9.6) and check-quorum, ReadIndex reads (thesis 6.4) and single-server
membership changes (thesis 4.1, see :meth:`RaftCore.propose_config`). It does no I/O and
reads no clock: every input carries ``now`` (milliseconds, any origin) and randomness comes from
the ``random.Random`` it is given, so the deterministic simulator (:mod:`reference_impl.sim`)
and the real server (:mod:`reference_impl.raft.server`) drive the very same code.

Inputs:
    :meth:`RaftCore.receive` (a message from a peer), :meth:`RaftCore.tick` (time passed; call it
    at or after :meth:`RaftCore.next_wakeup`), :meth:`RaftCore.propose` (a client command),
    :meth:`RaftCore.read_index` (a linearizable read request), :meth:`RaftCore.propose_config`
    (a membership change), :meth:`RaftCore.persisted` (the disk
    completion: the log up to an index is durable), :meth:`RaftCore.compact` (the state machine
    was snapshotted at an index).

Outputs, collected by :meth:`RaftCore.take_ready` (see :class:`Ready` for the contract):
    the hard state, entries and snapshot to make durable, the messages to send, the committed
    entries to apply, and the reads that may now be served.

Messages are plain dicts (JSON on the wire), ``{"type": ..., "from": id, "to": id, "term": t, ...}``:
``prevote``/``prevote_resp``, ``vote``/``vote_resp``, ``append``/``append_resp``,
``snapshot``/``snapshot_resp``.

Membership: every peer's id is known from the start (``peers``); what changes is the set of
*voters*, through log entries ``{"op": "config", "voters": [...]}``. A server uses the latest
config entry in its log as soon as it has appended it, committed or not (thesis 4.1); when a
conflicting suffix is truncated away, the config before it is back in force. Quorums (commit,
elections, pre-votes, ReadIndex, check-quorum) count voters only. A non-voter still receives the
log from the leader (it is a learner: current when it is added back) and starts no election once
it knows the config that removed it is committed (before that it may, without counting its own
vote: thesis 4.2.2; otherwise a removed node holding the only up-to-date log could leave the
remaining voters without a leader forever).
A leader accepts one change at a time, adding or removing a single voter, and only once an entry
of its own term has committed; a leader removed by a config steps down once that config commits.
The voters as of a snapshot's index travel in the snapshot (:attr:`Snapshot.voters`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

FOLLOWER = "follower"
PRE_CANDIDATE = "pre-candidate"
CANDIDATE = "candidate"
LEADER = "leader"

NOOP = {"op": "noop"}
CONFIG_OP = "config"


class ConfigChangeRefused(ValueError):
    """The leader cannot start this membership change now; the message says why."""


def config_voters(command: Any) -> tuple[str, ...] | None:
    """The voters a ``{"op": "config", "voters": [...]}`` log command sets, or None when the
    command is not a config entry."""
    if isinstance(command, dict) and command.get("op") == CONFIG_OP:
        return tuple(sorted(set(command.get("voters") or ())))
    return None


@dataclass(frozen=True)
class Config:
    """Timing and batching knobs (times in milliseconds).

    ``election_timeout``: a follower that hears no leader for a random time in
    ``[election_timeout, 2 * election_timeout)`` starts an election. ``heartbeat_interval``: how
    often a leader sends AppendEntries to every follower (also the retransmission period, and
    how often a candidate asks again the peers that have not answered its vote request: the
    paper's RPCs are retried until answered, section 5.5).
    ``max_batch``: most entries per AppendEntries. ``max_inflight``: most entries sent to a follower
    beyond what it acknowledged (pipelining window). ``pre_vote``/``check_quorum``: thesis 9.6 and
    6.2; ``check_quorum`` makes a leader that has not heard from a majority for an election
    timeout step down.
    """

    election_timeout: float = 1000.0
    heartbeat_interval: float = 100.0
    max_batch: int = 512
    max_inflight: int = 8192
    pre_vote: bool = True
    check_quorum: bool = True


@dataclass
class Snapshot:
    """A state machine image covering the log up to ``index`` (whose entry had ``term``)."""

    index: int
    term: int
    data: str  # the state machine's own text (JSON for the KV store)
    voters: list | None = None  # the voters as of ``index``; None: every peer (no change yet)


@dataclass
class HardState:
    """What must be durable before any message of the same Ready leaves: term and vote."""

    term: int
    vote: str | None


@dataclass
class Ready:
    """Outputs of the core since the last :meth:`RaftCore.take_ready`.

    Contract for the driver, in this order:

    1. make durable: ``snapshot`` (when set: replaces the log up to its index), then ``hard_state``
       (when set), then the log: when ``truncate_from`` is set, drop every stored entry at or
       after it and append ``entries`` (each ``(index, term, command)``, from ``truncate_from``
       on). fsync.
    2. report the completion with :meth:`RaftCore.persisted` (``last_index``, ``last_term``).
    3. send ``messages`` (only now: a vote or an acknowledgement promises durable state).
    4. restore the state machine from ``apply_snapshot`` when set, then apply ``committed``
       in order (they are already durable by step 1 or earlier).
    5. serve ``reads`` ``(ctx, index)`` once the state machine has applied ``index``; answer
       ``failed_reads`` (ctxs) with an error.
    """

    hard_state: HardState | None = None
    entries: list = field(default_factory=list)
    snapshot: Snapshot | None = None
    messages: list = field(default_factory=list)
    committed: list = field(default_factory=list)
    apply_snapshot: Snapshot | None = None
    reads: list = field(default_factory=list)
    failed_reads: list = field(default_factory=list)
    truncate_from: int | None = None
    last_index: int = 0
    last_term: int = 0

    def empty(self) -> bool:
        return not (self.hard_state or self.entries or self.snapshot or self.messages
                    or self.truncate_from is not None
                    or self.committed or self.apply_snapshot or self.reads or self.failed_reads)


@dataclass
class PersistentState:
    """What a node recovers from disk on restart."""

    term: int = 0
    vote: str | None = None
    snapshot: Snapshot | None = None
    entries: list = field(default_factory=list)  # [(term, command)] from snapshot.index + 1


class _Peer:
    __slots__ = ("next", "match", "probing", "active", "acked_seq", "last_sent", "match_at_hb")

    def __init__(self, next_index: int):
        self.next = next_index
        self.match = 0
        self.probing = True
        self.active = False
        self.acked_seq = 0
        self.last_sent = -1e18
        self.match_at_hb = -1


class RaftCore:
    """One Raft node's protocol state. Not thread-safe: one driver feeds it."""

    def __init__(self, node_id: str, peers: list[str], *, config: Config | None = None,
                 rng: random.Random | None = None, now: float = 0.0,
                 state: PersistentState | None = None):
        if node_id not in peers:
            raise ValueError(f"node {node_id!r} is not among the peers {peers!r}")
        self.id = node_id
        self.peers = sorted(peers)
        self.others = [p for p in self.peers if p != node_id]
        self.config = config or Config()
        self.rng = rng or random.Random()
        state = state or PersistentState()
        self.term = state.term
        self.vote = state.vote
        snap = state.snapshot
        self.snap = snap
        self.log_start = snap.index if snap else 0        # index of the last compacted entry
        self.log_start_term = snap.term if snap else 0
        self.log: list[tuple[int, Any]] = list(state.entries)  # log[i] has index log_start+1+i
        # Membership: the voters as of log_start, and every config entry after it (index, voters).
        self.base_voters = tuple(sorted(snap.voters)) if snap and snap.voters is not None \
            else tuple(self.peers)
        self.config_log: list[tuple[int, tuple[str, ...]]] = []
        for i, (_t, cmd) in enumerate(self.log):
            v = config_voters(cmd)
            if v is not None:
                self.config_log.append((self.log_start + 1 + i, v))
        self.voters: tuple[str, ...] = ()
        self.voter_set: frozenset = frozenset()
        self._config_changed()
        self.commit = self.log_start
        self.applied = self.log_start                     # handed out in Ready.committed
        self.stable = self.last_index()                   # durable on our own disk
        self.role = FOLLOWER
        self.leader: str | None = None
        self.votes: set[str] = set()
        self.answered: set[str] = set()                   # peers that answered this campaign
        self.vote_retry_at = 0.0
        self.progress: dict[str, _Peer] = {}
        self.hb_seq = 0
        self.pending_reads: list[tuple[Any, int, int]] = []  # (ctx, index, seq needed)
        self.waiting_reads: list[Any] = []                # before the leader's no-op commits
        self.read_round = False
        self.last_leader_contact = -1e18
        self.quorum_check_at = 0.0
        self.heartbeat_at = 0.0
        self.election_at = 0.0
        self._ready = Ready()
        self._hard_dirty = False
        self._unstable_from: int | None = None
        self._pending_apply_snapshot: Snapshot | None = None
        self.now = now
        self._reset_election_timer(now)

    # ------------------------------------------------------------------ log helpers
    def last_index(self) -> int:
        return self.log_start + len(self.log)

    def last_term(self) -> int:
        return self.log[-1][0] if self.log else self.log_start_term

    def term_at(self, index: int) -> int | None:
        """Term of the entry at ``index``; None when unknown (compacted away or beyond the end)."""
        if index == self.log_start:
            return self.log_start_term
        if index < self.log_start or index > self.last_index():
            return None
        return self.log[index - self.log_start - 1][0]

    def entry(self, index: int) -> tuple[int, Any]:
        return self.log[index - self.log_start - 1]

    def _truncate_and_append(self, from_index: int, entries: list[tuple[int, Any]]) -> None:
        del self.log[from_index - self.log_start - 1:]
        self.log.extend(entries)
        changed = False
        if self.config_log and self.config_log[-1][0] >= from_index:
            # A truncated config entry: the config before it is in force again.
            self.config_log = [c for c in self.config_log if c[0] < from_index]
            changed = True
        for k, (_t, cmd) in enumerate(entries):
            v = config_voters(cmd)
            if v is not None:
                self.config_log.append((from_index + k, v))
                changed = True
        if changed:
            self._config_changed()
        if self._unstable_from is None or from_index < self._unstable_from:
            self._unstable_from = from_index
        if self.stable >= from_index:
            self.stable = from_index - 1

    def quorum(self) -> int:
        """Votes or acknowledgements that make a majority of the current voters."""
        return len(self.voters) // 2 + 1

    # ------------------------------------------------------------------ membership
    def _config_changed(self) -> None:
        self.voters = self.config_log[-1][1] if self.config_log else self.base_voters
        self.voter_set = frozenset(self.voters)

    def config_index(self) -> int:
        """Index of the config in force (its entry, or ``log_start`` when it came with the
        snapshot or is the initial one)."""
        return self.config_log[-1][0] if self.config_log else self.log_start

    def config_at(self, index: int) -> list[str]:
        """The voters as of log ``index`` (>= ``log_start``): what a snapshot at ``index`` keeps."""
        voters = self.base_voters
        for i, v in self.config_log:
            if i > index:
                break
            voters = v
        return list(voters)

    def _majority_value(self, mine, of_peer) -> Any:
        """The largest value that a majority of the voters has reached: ``mine`` for this node,
        ``of_peer(progress)`` for the others (a voter without progress counts as 0)."""
        values = []
        for p in self.voters:
            if p == self.id:
                values.append(mine)
            else:
                pr = self.progress.get(p)
                values.append(of_peer(pr) if pr is not None else 0)
        values.sort(reverse=True)
        return values[self.quorum() - 1]

    def _voter_others(self) -> list[str]:
        return [p for p in self.voters if p != self.id and p in self.others]

    # ------------------------------------------------------------------ timers
    def _reset_election_timer(self, now: float) -> None:
        et = self.config.election_timeout
        self.election_at = now + et + self.rng.random() * et

    def next_wakeup(self) -> float:
        """When :meth:`tick` has something to do next (ms, same clock as ``now``)."""
        if self.role == LEADER:
            t = self.heartbeat_at
            if self.config.check_quorum:
                t = min(t, self.quorum_check_at)
            return t
        if self.role == CANDIDATE:
            return min(self.election_at, self.vote_retry_at)
        return self.election_at

    def tick(self, now: float) -> None:
        """Time has passed: start an election, send heartbeats, or check the quorum when due."""
        self.now = now
        if self.role == LEADER:
            if self.config.check_quorum and now >= self.quorum_check_at:
                active = (self.id in self.voter_set) + sum(
                    1 for p in self._voter_others() if self.progress[p].active)
                if active < self.quorum():
                    self._become_follower(now, self.term, None)
                    return
                for p in self.others:
                    self.progress[p].active = False
                self.quorum_check_at = now + self.config.election_timeout
            if now >= self.heartbeat_at:
                self._broadcast(now, heartbeat=True)
        elif self.role == CANDIDATE and now >= self.vote_retry_at and now < self.election_at:
            self._request_votes(now, [p for p in self._voter_others() if p not in self.answered])
        elif now >= self.election_at:
            if self.id not in self.voter_set and self.config_index() <= self.commit:
                # Not a voter, and the config that says so is committed: it never campaigns
                # (it would only disturb the voters). While that config is not known to be
                # committed it still may, without counting its own vote (thesis 4.2.2): it
                # may hold the only log a voter can accept.
                self._reset_election_timer(now)
                return
            if self.voters == (self.id,):
                self._become_candidate(now)
            elif self.config.pre_vote:
                self._become_pre_candidate(now)
            else:
                self._become_candidate(now)

    # ------------------------------------------------------------------ role changes
    def _set_term(self, term: int, vote: str | None) -> None:
        if term != self.term or vote != self.vote:
            self.term, self.vote = term, vote
            self._hard_dirty = True

    def _become_follower(self, now: float, term: int, leader: str | None) -> None:
        was_leader = self.role == LEADER
        if term > self.term:
            self._set_term(term, None)
        self.role = FOLLOWER
        self.leader = leader
        self.votes = set()
        if was_leader:
            self._fail_reads()
        self._reset_election_timer(now)

    def _become_pre_candidate(self, now: float) -> None:
        self.role = PRE_CANDIDATE
        self.leader = None
        self.votes = {self.id}
        self._reset_election_timer(now)
        for p in self._voter_others():
            self._send({"type": "prevote", "to": p, "term": self.term + 1,
                        "last_index": self.last_index(), "last_term": self.last_term()})

    def _become_candidate(self, now: float) -> None:
        self.role = CANDIDATE
        self.leader = None
        self._set_term(self.term + 1, self.id)
        self.votes = {self.id}
        self.answered = set()
        self._reset_election_timer(now)
        if len(self.votes & self.voter_set) >= self.quorum():
            self._become_leader(now)
            return
        self._request_votes(now, self._voter_others())

    def _request_votes(self, now: float, peers) -> None:
        self.vote_retry_at = now + self.config.heartbeat_interval
        for p in peers:
            self._send({"type": "vote", "to": p, "term": self.term,
                        "last_index": self.last_index(), "last_term": self.last_term()})

    def _become_leader(self, now: float) -> None:
        self.role = LEADER
        self.leader = self.id
        self.progress = {p: _Peer(self.last_index() + 1) for p in self.others}
        self.quorum_check_at = now + self.config.election_timeout
        # A no-op of our own term: committing it commits everything before it (section 5.4.2)
        # and tells ReadIndex what the commit index is (thesis 6.4).
        self._append(NOOP)
        self._broadcast(now, heartbeat=True)

    # ------------------------------------------------------------------ client inputs
    def propose(self, now: float, command: Any) -> tuple[int, int] | None:
        """Append ``command`` if we are the leader; returns its ``(index, term)`` or None.

        The command is committed when a later Ready lists it in ``committed`` with the same
        term; if that index is committed with another term, this command was lost for sure.
        """
        if config_voters(command) is not None:
            raise ValueError("a config entry goes through propose_config, not propose")
        if self.role != LEADER:
            return None
        self.now = now
        index = self._append(command)
        return index, self.term

    def propose_config(self, now: float, voters) -> tuple[int, int] | None:
        """Append a config entry making ``voters`` the voter set, if we are the leader; returns
        its ``(index, term)`` (committed like :meth:`propose`'s entries) or None.

        Single-server changes only (thesis 4.1): ``voters`` must add or remove exactly one
        voter. Raises :class:`ConfigChangeRefused` when the change is malformed, when an earlier
        change is not committed yet, or when no entry of this leader's term has committed yet
        (without that rule a leader could overwrite a concurrent change of a deposed leader).
        The new config is in force here at once; a removed leader steps down once it commits.
        """
        if self.role != LEADER:
            return None
        new = tuple(sorted(set(voters)))
        unknown = [v for v in new if v not in self.peers]
        if unknown:
            raise ConfigChangeRefused(f"unknown node(s) {unknown}; the peers are {self.peers}")
        diff = set(new) ^ self.voter_set
        if len(diff) != 1:
            raise ConfigChangeRefused(
                f"a change adds or removes exactly one voter: {list(self.voters)} -> {list(new)}")
        if not new:
            raise ConfigChangeRefused("cannot remove the last voter")
        if self.config_index() > self.commit:
            raise ConfigChangeRefused(f"the change at index {self.config_index()} is not "
                                      "committed yet (one change at a time)")
        if self.term_at(self.commit) != self.term:
            raise ConfigChangeRefused("this leader has not committed an entry of its term yet")
        self.now = now
        index = self._append({"op": CONFIG_OP, "voters": list(new)})
        return index, self.term

    def _append(self, command: Any) -> int:
        self._truncate_and_append(self.last_index() + 1, [(self.term, command)])
        self._maybe_commit()
        return self.last_index()

    def read_index(self, now: float, ctx: Any) -> bool:
        """Ask for a linearizable read; False when we are not the leader.

        The read is released in ``Ready.reads`` as ``(ctx, index)`` after a majority confirmed
        our leadership after the request: serving it from a state machine that applied ``index``
        is linearizable. It fails (``Ready.failed_reads``) if we lose leadership first.
        """
        self.now = now
        if self.role != LEADER:
            return False
        if self.term_at(self.commit) != self.term:
            self.waiting_reads.append(ctx)  # our no-op is not committed yet
            return True
        self._queue_read(ctx)
        return True

    def _queue_read(self, ctx: Any) -> None:
        if self.voters == (self.id,):
            self._ready.reads.append((ctx, self.commit))
            return
        if not self.read_round:
            self.read_round = True
            self.hb_seq += 1
        self.pending_reads.append((ctx, self.commit, self.hb_seq))

    def _fail_reads(self) -> None:
        self._ready.failed_reads.extend(ctx for ctx, _i, _s in self.pending_reads)
        self._ready.failed_reads.extend(self.waiting_reads)
        self.pending_reads = []
        self.waiting_reads = []
        self.read_round = False

    def _release_reads(self) -> None:
        if not self.pending_reads:
            return
        confirmed = self._majority_value(self.hb_seq, lambda pr: pr.acked_seq)
        keep = []
        for ctx, index, seq in self.pending_reads:
            if seq <= confirmed:
                self._ready.reads.append((ctx, index))
            else:
                keep.append((ctx, index, seq))
        self.pending_reads = keep

    # ------------------------------------------------------------------ disk inputs
    def persisted(self, now: float, index: int, term: int) -> None:
        """Disk completion: our log up to ``index`` (whose entry has ``term``) is durable."""
        self.now = now
        if self.term_at(index) == term and index > self.stable:
            self.stable = index
            if self.role == LEADER:
                self._maybe_commit()

    def compact(self, index: int, data: str) -> None:
        """The state machine was snapshotted at ``index`` (<= what was applied): drop the log
        up to there. The driver has already made the snapshot durable."""
        if index <= self.log_start or index > self.applied:
            return
        term = self.term_at(index)
        voters = self.config_at(index)
        del self.log[:index - self.log_start]
        self.log_start, self.log_start_term = index, term
        self.base_voters = tuple(voters)
        self.config_log = [c for c in self.config_log if c[0] > index]
        self.snap = Snapshot(index, term, data, voters)

    # ------------------------------------------------------------------ messages
    def _send(self, msg: dict) -> None:
        msg["from"] = self.id
        self._ready.messages.append(msg)

    def receive(self, now: float, msg: dict) -> None:
        """Handle one message from a peer (duplicates, reorders and stale ones are fine)."""
        self.now = now
        t = msg.get("type")
        term = msg["term"]
        src = msg["from"]
        if src not in self.progress and src not in self.others:
            return
        if t == "prevote":
            self._on_prevote(now, msg)
            return
        if t == "prevote_resp":
            if term > self.term and not msg["granted"]:
                self._become_follower(now, term, None)
            elif self.role == PRE_CANDIDATE and msg["granted"] and term == self.term + 1:
                self.votes.add(src)
                if len(self.votes & self.voter_set) >= self.quorum():
                    self._become_candidate(now)
            return
        if term > self.term:
            leader = src if t in ("append", "snapshot") else None
            self._become_follower(now, term, leader)
        if t == "vote":
            self._on_vote(now, msg)
        elif t == "vote_resp":
            if self.role == CANDIDATE and term == self.term:
                self.answered.add(src)
            if self.role == CANDIDATE and term == self.term and msg["granted"]:
                self.votes.add(src)
                if len(self.votes & self.voter_set) >= self.quorum():
                    self._become_leader(now)
        elif t == "append":
            self._on_append(now, msg)
        elif t == "append_resp":
            self._on_append_resp(now, msg)
        elif t == "snapshot":
            self._on_snapshot(now, msg)
        elif t == "snapshot_resp":
            self._on_snapshot_resp(now, msg)

    def _log_ok(self, last_index: int, last_term: int) -> bool:
        """Is a candidate's log at least as up-to-date as ours (section 5.4.1)?"""
        return (last_term, last_index) >= (self.last_term(), self.last_index())

    def _on_prevote(self, now: float, msg: dict) -> None:
        # Grant only if we would vote for it in its next term and we have not heard from a
        # live leader within the minimum election timeout: a node coming back from a partition
        # cannot then disrupt a working cluster (thesis 9.6).
        heard_recently = (self.role == LEADER or
                          (self.leader is not None and
                           now - self.last_leader_contact < self.config.election_timeout))
        granted = (msg["term"] > self.term and not heard_recently
                   and self._log_ok(msg["last_index"], msg["last_term"]))
        self._send({"type": "prevote_resp", "to": msg["from"],
                    "term": msg["term"] if granted else self.term, "granted": granted})

    def _on_vote(self, now: float, msg: dict) -> None:
        src = msg["from"]
        granted = (msg["term"] == self.term and self.vote in (None, src)
                   and self._log_ok(msg["last_index"], msg["last_term"]))
        if granted:
            self._set_term(self.term, src)
            self._reset_election_timer(now)
        self._send({"type": "vote_resp", "to": src, "term": self.term, "granted": granted})

    def _on_append(self, now: float, msg: dict) -> None:
        src = msg["from"]
        if msg["term"] < self.term:
            self._send({"type": "append_resp", "to": src, "term": self.term, "success": False,
                        "match": 0, "prev": msg["prev_index"], "seq": msg.get("seq", 0),
                        "hint": self.last_index() + 1, "hint_term": None})
            return
        # Same term: the sender is the leader of this term.
        if self.role != FOLLOWER:
            self._become_follower(now, self.term, src)
        self.leader = src
        self.last_leader_contact = now
        self._reset_election_timer(now)
        prev, prev_term = msg["prev_index"], msg["prev_term"]
        entries = msg["entries"]  # [[term, command], ...] at prev+1, prev+2, ...
        if prev < self.log_start:
            # The start is inside our snapshot: those entries are committed and match.
            skip = self.log_start - prev
            if skip > len(entries):
                self._ack(src, msg, self.log_start)
                return
            entries = entries[skip:]
            prev, prev_term = self.log_start, self.log_start_term
        if prev > self.last_index():
            self._send({"type": "append_resp", "to": src, "term": self.term, "success": False,
                        "match": 0, "prev": msg["prev_index"], "seq": msg.get("seq", 0),
                        "hint": self.last_index() + 1, "hint_term": None})
            return
        my_prev_term = self.term_at(prev)
        if my_prev_term != prev_term:
            # Fast back-off: tell the leader the conflicting term and where it starts here.
            first = prev
            while first - 1 > self.log_start and self.term_at(first - 1) == my_prev_term:
                first -= 1
            self._send({"type": "append_resp", "to": src, "term": self.term, "success": False,
                        "match": 0, "prev": msg["prev_index"], "seq": msg.get("seq", 0),
                        "hint": first, "hint_term": my_prev_term})
            return
        # Log matching: skip entries we already have, truncate at the first conflict only.
        index = prev
        for i, (eterm, cmd) in enumerate(entries):
            index = prev + 1 + i
            mine = self.term_at(index)
            if mine is None:
                self._truncate_and_append(index, [(e[0], e[1]) for e in entries[i:]])
                break
            if mine != eterm:
                if index <= self.commit:
                    raise AssertionError(f"{self.id}: leader {src} overwrites committed {index}")
                self._truncate_and_append(index, [(e[0], e[1]) for e in entries[i:]])
                break
        last_new = prev + len(entries)
        if msg["commit"] > self.commit:
            self._commit_to(min(msg["commit"], last_new))
        self._ack(src, msg, last_new)

    def _ack(self, src: str, msg: dict, match: int) -> None:
        self._send({"type": "append_resp", "to": src, "term": self.term, "success": True,
                    "match": match, "prev": msg["prev_index"], "seq": msg.get("seq", 0)})

    def _on_append_resp(self, now: float, msg: dict) -> None:
        if self.role != LEADER or msg["term"] != self.term:
            return
        pr = self.progress[msg["from"]]
        pr.active = True
        if msg["seq"] > pr.acked_seq:
            pr.acked_seq = msg["seq"]
        if msg["success"]:
            if msg["match"] > pr.match:
                pr.match = msg["match"]
                self._maybe_commit()
            pr.next = max(pr.next, pr.match + 1)
            pr.probing = False
        elif msg["prev"] >= pr.match and msg["prev"] < pr.next:
            # Rejected: back off using the follower's hint (one round trip per term).
            nxt = msg["hint"]
            hint_term = msg.get("hint_term")
            if hint_term is not None:
                last = None
                i = min(msg["prev"], self.last_index())
                while i > self.log_start:
                    t = self.term_at(i)
                    if t == hint_term:
                        last = i
                        break
                    if t < hint_term:
                        break
                    i -= 1
                if last is not None:
                    nxt = last + 1
            pr.next = max(pr.match + 1, min(nxt, msg["prev"]))
            pr.probing = True
            self._send_append(now, msg["from"])
        self._release_reads()

    def _on_snapshot(self, now: float, msg: dict) -> None:
        src = msg["from"]
        if msg["term"] < self.term:
            self._send({"type": "snapshot_resp", "to": src, "term": self.term, "match": 0,
                        "seq": msg.get("seq", 0)})
            return
        if self.role != FOLLOWER:
            self._become_follower(now, self.term, src)
        self.leader = src
        self.last_leader_contact = now
        self._reset_election_timer(now)
        index, term = msg["index"], msg["snap_term"]
        if index <= self.commit:
            self._send({"type": "snapshot_resp", "to": src, "term": self.term,
                        "match": self.commit, "seq": msg.get("seq", 0)})
            return
        voters = msg.get("voters")
        snap = Snapshot(index, term, msg["data"],
                        sorted(voters) if isinstance(voters, list) else None)
        if self.term_at(index) == term:
            del self.log[:index - self.log_start]   # keep the matching suffix
            self.config_log = [c for c in self.config_log if c[0] > index]
        else:
            self.log = []
            self.config_log = []
        self.base_voters = tuple(snap.voters) if snap.voters is not None else tuple(self.peers)
        self._config_changed()
        self.log_start, self.log_start_term = index, term
        self.snap = snap
        self._ready.snapshot = snap
        self._unstable_from = index + 1    # the log after the snapshot is rewritten whole
        self.stable = index
        self.commit = index
        self.applied = index
        self._pending_apply_snapshot = snap
        self._send({"type": "snapshot_resp", "to": src, "term": self.term, "match": index,
                    "seq": msg.get("seq", 0)})

    def _on_snapshot_resp(self, now: float, msg: dict) -> None:
        if self.role != LEADER or msg["term"] != self.term:
            return
        pr = self.progress[msg["from"]]
        pr.active = True
        pr.acked_seq = max(pr.acked_seq, msg.get("seq", 0))
        if msg["match"] > pr.match:
            pr.match = msg["match"]
            self._maybe_commit()
        pr.next = max(pr.next, pr.match + 1)
        pr.probing = False
        self._release_reads()

    # ------------------------------------------------------------------ replication
    def _broadcast(self, now: float, *, heartbeat: bool) -> None:
        """Heartbeat (``heartbeat``) or read round: an AppendEntries with the current ``seq`` to
        every follower; new entries go out in :meth:`take_ready` (one batch per Ready)."""
        if heartbeat:
            self.heartbeat_at = now + self.config.heartbeat_interval
        if not self.read_round:
            self.hb_seq += 1
        self.read_round = False
        for p in self.others:
            pr = self.progress[p]
            if pr.probing or pr.next <= self.log_start:
                self._send_append(now, p)
            elif heartbeat and pr.match == pr.match_at_hb and pr.next > pr.match + 1:
                # No progress for a whole interval with entries in flight: assume they were
                # lost and send them again.
                pr.next = pr.match + 1
                self._send_append(now, p)
            else:
                # prev = match always matches: the follower acknowledged it (durably) in this
                # term, and only a later term's leader could make it truncate.
                self._send({"type": "append", "to": p, "term": self.term,
                            "prev_index": pr.match, "prev_term": self.term_at(pr.match),
                            "entries": [], "commit": min(self.commit, pr.match),
                            "seq": self.hb_seq})
            if heartbeat:
                pr.match_at_hb = pr.match

    def _send_append(self, now: float, p: str) -> None:
        """Send follower ``p`` what it lacks from ``next`` on: a snapshot when compacted away,
        else up to ``max_batch`` entries (advancing ``next`` unless probing)."""
        pr = self.progress[p]
        if pr.next <= self.log_start:
            self._send({"type": "snapshot", "to": p, "term": self.term, "index": self.snap.index,
                        "snap_term": self.snap.term, "data": self.snap.data, "seq": self.hb_seq,
                        "voters": self.snap.voters})
            pr.last_sent = now
            # Wait for the answer (or the next heartbeat) before sending anything else.
            pr.next = self.snap.index + 1
            pr.probing = True
            return
        prev = pr.next - 1
        # The window bounds what is in flight while replicating; a probe (one append, next
        # does not advance) always goes out, or a new leader whose log is longer than the
        # window (match starts at 0) could never reach its followers.
        if not pr.probing and prev > pr.match + self.config.max_inflight:
            return
        end = min(self.last_index(), prev + self.config.max_batch)
        prev_term = self.term_at(prev)
        if prev_term is None:  # compacted meanwhile: the next round sends the snapshot
            pr.next = self.log_start
            return
        entries = [list(self.entry(i)) for i in range(prev + 1, end + 1)]
        self._send({"type": "append", "to": p, "term": self.term, "prev_index": prev,
                    "prev_term": prev_term, "entries": entries,
                    "commit": self.commit, "seq": self.hb_seq})
        pr.last_sent = now
        if not pr.probing:
            pr.next = end + 1

    def _flush_appends(self, now: float) -> None:
        """Pipelining: send every follower in replicate mode the entries it was not sent yet."""
        if self.role != LEADER:
            return
        for p in self.others:
            pr = self.progress[p]
            while not pr.probing and pr.next <= self.last_index() \
                    and pr.next - 1 <= pr.match + self.config.max_inflight:
                before = pr.next
                self._send_append(now, p)
                if pr.next == before:
                    break

    def _maybe_commit(self) -> None:
        if self.role != LEADER:
            return
        n = self._majority_value(self.stable, lambda pr: pr.match)
        # Only entries of the current term are committed by counting (section 5.4.2).
        if n > self.commit and self.term_at(n) == self.term:
            self._commit_to(n)
            if self.waiting_reads:
                waiting, self.waiting_reads = self.waiting_reads, []
                for ctx in waiting:
                    self._queue_read(ctx)
            if self.id not in self.voter_set and self.config_index() <= self.commit:
                # Removed by a committed config (thesis 4.2.2): tell the others the commit
                # index, then step down; a voter will time out and take over.
                self._broadcast(self.now, heartbeat=False)
                self._become_follower(self.now, self.term, None)

    def _commit_to(self, index: int) -> None:
        index = min(index, self.last_index())
        if index > self.commit:
            self.commit = index

    # ------------------------------------------------------------------ output
    def take_ready(self) -> Ready:
        """All outputs since the last call (see :class:`Ready` for what the driver must do)."""
        if self.role == LEADER:
            if self.read_round:
                self._broadcast(self.now, heartbeat=False)
            self._flush_appends(self.now)
        r = self._ready
        self._ready = Ready()
        if self._hard_dirty:
            r.hard_state = HardState(self.term, self.vote)
            self._hard_dirty = False
        if self._unstable_from is not None:
            start = max(self._unstable_from, self.log_start + 1)
            r.truncate_from = start
            r.entries = [(i, *self.entry(i)) for i in range(start, self.last_index() + 1)]
            self._unstable_from = None
        if self._pending_apply_snapshot is not None:
            r.apply_snapshot = self._pending_apply_snapshot
            self._pending_apply_snapshot = None
        if self.commit > self.applied:
            r.committed = [(i, *self.entry(i)) for i in range(self.applied + 1, self.commit + 1)]
            self.applied = self.commit
        r.last_index, r.last_term = self.last_index(), self.last_term()
        return r

    def status(self) -> dict:
        """A JSON-able summary for ``/status`` and the simulator's checks."""
        return {"id": self.id, "role": self.role, "term": self.term, "leader": self.leader,
                "commit": self.commit, "applied": self.applied, "last_index": self.last_index(),
                "snapshot_index": self.log_start, "vote": self.vote,
                "voters": list(self.voters), "config_index": self.config_index()}
