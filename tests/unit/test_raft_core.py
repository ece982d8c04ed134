"""The sans-I/O Raft core, driven by hand: elections, pre-vote, log matching, fast back-off,
the commit rule of the paper's Figure 8, ReadIndex, snapshots.

A tiny synchronous pump (:class:`Net`) persists every Ready at once and delivers its messages in
order, except to nodes cut off with ``net.down``; everything else is the real core.
"""

import random

import pytest

from reference_impl.raft.core import (
    CANDIDATE, FOLLOWER, LEADER, PRE_CANDIDATE, Config, PersistentState, RaftCore, Snapshot,
)
from tests.unit.sync_pump import SyncNet, elect

CFG = Config(election_timeout=100.0, heartbeat_interval=10.0, max_batch=4, max_inflight=100)


class Net(SyncNet):
    leader_role = LEADER

    def __init__(self, ids, states=None, cfg=CFG):
        super().__init__({i: RaftCore(i, ids, config=cfg, rng=random.Random(sum(map(ord, i))),
                                      now=0.0, state=(states or {}).get(i)) for i in ids},
                         pump_rounds=50)
        self.applied = {i: [] for i in ids}
        self.reads = {i: [] for i in ids}
        self.failed_reads = {i: [] for i in ids}

    def on_ready(self, i, node, ready):
        node.persisted(self.now, ready.last_index, ready.last_term)
        self.applied[i] += [(idx, t) for idx, t, _c in ready.committed]
        self.reads[i] += ready.reads
        self.failed_reads[i] += ready.failed_reads


IDS = ["a", "b", "c"]


def test_a_leader_is_elected_and_commits_its_noop():
    net = Net(IDS)
    lead = elect(net)
    core = net.nodes[lead]
    assert core.term >= 1
    assert core.commit == 1 and core.term_at(1) == core.term
    for i in IDS:
        assert net.nodes[i].leader == lead
        assert net.applied[i] == [(1, core.term)]


def test_single_node_cluster_elects_itself_and_commits():
    net = Net(["solo"])
    net.advance(300)
    core = net.nodes["solo"]
    assert core.role == LEADER
    idx, term = core.propose(net.now, {"op": "put", "key": "k", "value": 1})
    net.pump()
    assert (idx, term) in net.applied["solo"]


def test_proposals_replicate_and_commit_everywhere():
    net = Net(IDS)
    lead = elect(net)
    got = [net.nodes[lead].propose(net.now, {"op": "put", "key": "k", "value": v})
           for v in range(10)]
    net.pump()
    net.advance(30)
    for i in IDS:
        assert [x for x in net.applied[i] if x in got] == got
    assert net.nodes[[i for i in IDS if i != lead][0]].propose(net.now, {}) is None


def test_prevote_keeps_an_isolated_node_from_raising_its_term():
    net = Net(IDS)
    lead = elect(net)
    term = net.nodes[lead].term
    lonely = [i for i in IDS if i != lead][0]
    net.down.add(lonely)
    # The isolated node cannot deliver, but it still runs its timers: fake it by ticking it.
    core = net.nodes[lonely]
    for _ in range(20):
        net.now += 100
        core.tick(net.now)
        core.take_ready()  # its pre-votes are lost
    assert core.term == term, "pre-vote: no term inflation while cut off"
    assert core.role == PRE_CANDIDATE
    net.down.discard(lonely)
    net.advance(100)
    assert net.leaders() == [lead] and net.nodes[lead].term == term, "no disruption on heal"


def test_without_prevote_an_isolated_node_inflates_its_term():
    cfg = Config(election_timeout=100.0, heartbeat_interval=10.0, pre_vote=False)
    net = Net(IDS, cfg=cfg)
    lead = elect(net)
    lonely = [i for i in IDS if i != lead][0]
    core = net.nodes[lonely]
    t0 = core.term
    for _ in range(5):
        net.now += 300
        core.tick(net.now)
        core.take_ready()
    assert core.term > t0 and core.role == CANDIDATE


def test_vote_is_granted_once_per_term_and_only_to_up_to_date_logs():
    st = PersistentState(term=2, entries=[(1, "x"), (2, "y")])
    core = RaftCore("a", IDS, config=CFG, state=st)
    # b's log is behind (last term 1): refused.
    core.receive(0, {"type": "vote", "from": "b", "to": "a", "term": 3, "last_index": 5,
                     "last_term": 1})
    r = core.take_ready()
    assert [m["granted"] for m in r.messages] == [False]
    assert core.term == 3 and core.vote is None
    # c's log is as up to date: granted, and persisted in the same Ready.
    core.receive(0, {"type": "vote", "from": "c", "to": "a", "term": 3, "last_index": 2,
                     "last_term": 2})
    r = core.take_ready()
    assert [m["granted"] for m in r.messages] == [True]
    assert r.hard_state.term == 3 and r.hard_state.vote == "c"
    # b again, same term: already voted for c.
    core.receive(0, {"type": "vote", "from": "b", "to": "a", "term": 3, "last_index": 9,
                     "last_term": 2})
    assert [m["granted"] for m in core.take_ready().messages] == [False]


def _append(src, term, prev, prev_term, entries, commit=0, to="b"):
    return {"type": "append", "from": src, "to": to, "term": term, "prev_index": prev,
            "prev_term": prev_term, "entries": [list(e) for e in entries], "commit": commit,
            "seq": 1}


def test_append_rejects_a_gap_with_a_hint_at_the_end_of_the_log():
    core = RaftCore("b", IDS, config=CFG, state=PersistentState(1, None, None, [(1, "x")]))
    core.receive(0, _append("a", 1, 5, 1, [(1, "z")]))
    (m,) = core.take_ready().messages
    assert not m["success"] and m["hint"] == 2 and m["hint_term"] is None


def test_append_conflict_gives_the_first_index_of_the_conflicting_term():
    st = PersistentState(3, None, None, [(1, "a"), (2, "b"), (2, "c"), (2, "d")])
    core = RaftCore("b", IDS, config=CFG, state=st)
    core.receive(0, _append("a", 3, 4, 3, [(3, "e")]))
    (m,) = core.take_ready().messages
    assert not m["success"] and m["hint_term"] == 2 and m["hint"] == 2


def test_log_matching_truncates_only_from_the_first_conflict():
    st = PersistentState(3, None, None, [(1, "a"), (2, "b"), (2, "c")])
    core = RaftCore("b", IDS, config=CFG, state=st)
    core.receive(0, _append("a", 3, 1, 1, [(2, "b"), (3, "X"), (3, "Y")], commit=2))
    r = core.take_ready()
    assert r.truncate_from == 3
    assert [(i, t) for i, t, _c in r.entries] == [(3, 3), (4, 3)]
    assert [core.entry(i) for i in (1, 2, 3, 4)] == [(1, "a"), (2, "b"), (3, "X"), (3, "Y")]
    assert r.messages[0]["success"] and r.messages[0]["match"] == 4
    assert [i for i, _t, _c in r.committed] == [1, 2]
    # A stale, shorter duplicate of an older append must not truncate anything.
    core.receive(0, _append("a", 3, 1, 1, [(2, "b")], commit=2))
    r = core.take_ready()
    assert core.last_index() == 4 and r.truncate_from is None


def test_follower_commit_is_capped_by_what_the_leader_sent():
    core = RaftCore("b", IDS, config=CFG, state=PersistentState(1, None, None, [(1, "old")] * 3))
    # Leader of term 2 says commit=10 but only proves a match up to index 1.
    core.receive(0, _append("a", 2, 1, 1, [], commit=10))
    r = core.take_ready()
    assert core.commit == 1 and [i for i, _t, _c in r.committed] == [1]


def test_fast_backoff_repairs_a_divergent_follower():
    # a: leader-to-be with term 1..3 entries; c has a long tail of term-2 garbage.
    a = PersistentState(3, None, None, [(1, "x"), (3, "p"), (3, "q")])
    b = PersistentState(3, None, None, [(1, "x"), (3, "p")])
    c = PersistentState(2, None, None, [(1, "x")] + [(2, f"junk{i}") for i in range(20)])
    net = Net(IDS, states={"a": a, "b": b, "c": c})
    net.down.add("c")
    net.advance(400)
    assert net.leaders() == ["a"]
    net.down.discard("c")
    before = len(net.sent)
    net.advance(50)
    ca, cc = net.nodes["a"], net.nodes["c"]
    assert [cc.entry(i) for i in range(1, cc.last_index() + 1)] == \
        [ca.entry(i) for i in range(1, ca.last_index() + 1)]
    rejects = [m for m in net.sent[before:] if m["type"] == "append_resp" and not m["success"]]
    assert len(rejects) <= 2, "one round trip per conflicting term, not per entry"


def test_figure8_old_term_entries_are_not_committed_by_counting():
    """Paper Figure 8 (c): leader S1 of term 4 has replicated the term-2 entry at index 2 on a
    majority; it must not commit it until an entry of term 4 is on a majority too."""
    ids = ["s1", "s2", "s3", "s4", "s5"]
    s1 = PersistentState(4, "s1", None, [(1, "x"), (2, "two")])
    core = RaftCore("s1", ids, config=CFG, state=s1)
    # Make it leader of term 5 (its term-4 no-op goes at index 3) by hand.
    core.term = 4
    core._become_candidate(0)
    for v in ("s2", "s3"):
        core.receive(0, {"type": "vote_resp", "from": v, "to": "s1", "term": 5, "granted": True})
    assert core.role == LEADER and core.term_at(3) == 5
    core.take_ready()
    core.persisted(0, 3, 5)
    # s2 and s3 acknowledge index 2 only (a majority with s1 holds the term-2 entry).
    for v in ("s2", "s3"):
        core.receive(0, {"type": "append_resp", "from": v, "to": "s1", "term": 5,
                         "success": True, "match": 2, "prev": 1, "seq": 1})
    assert core.commit == 0, "a term-2 entry is not committed by counting in term 5"
    core.receive(0, {"type": "append_resp", "from": "s2", "to": "s1", "term": 5,
                     "success": True, "match": 3, "prev": 2, "seq": 1})
    assert core.commit == 0
    core.receive(0, {"type": "append_resp", "from": "s3", "to": "s1", "term": 5,
                     "success": True, "match": 3, "prev": 2, "seq": 1})
    assert core.commit == 3, "the current-term entry commits, and index 2 with it"


def test_figure8_a_stale_leader_cannot_overwrite_a_committed_entry():
    """Figure 8 (d)-(e): once an entry is committed, a node missing it cannot be elected."""
    ids = ["s1", "s2", "s3", "s4", "s5"]
    states = {
        "s1": PersistentState(4, None, None, [(1, "x"), (2, "two"), (4, "four")]),
        "s2": PersistentState(4, None, None, [(1, "x"), (2, "two"), (4, "four")]),
        "s3": PersistentState(4, None, None, [(1, "x"), (2, "two"), (4, "four")]),
        "s4": PersistentState(4, None, None, [(1, "x")]),
        "s5": PersistentState(4, None, None, [(1, "x"), (3, "three")]),
    }
    net = Net(ids, states=states)
    net.down.update({"s1", "s2"})  # s5 needs s3's vote, which it cannot get
    net.advance(1000)
    assert "s5" not in net.leaders()
    assert net.leaders() == ["s3"]
    assert net.nodes["s3"].entry(3) == (4, "four")


def test_read_index_waits_for_a_majority_round_and_fails_on_step_down():
    net = Net(IDS)
    lead = elect(net)
    core = net.nodes[lead]
    others = [i for i in IDS if i != lead]
    net.down.update(others)
    assert core.read_index(net.now, "r1")
    net.pump()
    assert net.reads[lead] == [], "not released without a majority"
    net.down.clear()
    net.advance(20)  # the round's messages were lost: the next heartbeat round confirms
    assert net.reads[lead] == [("r1", 1)]
    # Lose leadership: a higher term arrives; a pending read fails.
    net.down.update(others)
    assert core.read_index(net.now, "r2")
    net.pump()
    core.receive(net.now, {"type": "append", "from": others[0], "to": lead, "term": core.term + 1,
                           "prev_index": 0, "prev_term": 0, "entries": [], "commit": 0, "seq": 1})
    net.pump()
    assert net.failed_reads[lead] == ["r2"]
    assert not core.read_index(net.now, "r3")


def test_check_quorum_makes_an_isolated_leader_step_down():
    net = Net(IDS)
    lead = elect(net)
    net.down.update(i for i in IDS if i != lead)
    core = net.nodes[lead]
    for _ in range(25):
        net.now += 10
        core.tick(net.now)
        core.take_ready()
        if core.role != LEADER:
            break
    assert core.role == FOLLOWER and core.leader is None


def test_snapshot_compacts_and_a_lagging_follower_installs_it():
    net = Net(IDS)
    lead = elect(net)
    lag = [i for i in IDS if i != lead][0]
    net.down.add(lag)
    for v in range(12):
        net.nodes[lead].propose(net.now, {"op": "put", "key": "k", "value": v})
    net.pump()
    net.advance(20)
    core = net.nodes[lead]
    assert core.applied == core.commit == core.last_index()
    core.compact(core.applied, '{"applied": %d, "data": {}}' % core.applied)
    assert core.log == [] and core.log_start == core.applied
    net.down.discard(lag)
    net.advance(50)
    f = net.nodes[lag]
    assert f.log_start == core.log_start and f.commit == core.commit
    assert any(m["type"] == "snapshot" for m in net.sent)


def test_recovery_from_persistent_state_keeps_term_vote_and_log():
    st = PersistentState(7, "c", Snapshot(3, 2, "{}"), [(2, "d"), (7, "e")])
    core = RaftCore("a", IDS, config=CFG, state=st)
    assert (core.term, core.vote, core.last_index(), core.last_term()) == (7, "c", 5, 7)
    assert core.commit == 3 and core.term_at(3) == 2 and core.term_at(2) is None


def test_peer_list_must_contain_self():
    with pytest.raises(ValueError):
        RaftCore("z", IDS)
