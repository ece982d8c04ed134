"""Single-server membership changes in the sans-I/O Raft core (thesis 4.1), driven by hand.

A synchronous pump (sync_pump.SyncNet, as in test_raft_core.py) persists every Ready at once
and delivers its messages in order, except to and from nodes cut off with ``net.down``; the rest
is the real core.
"""

import random

import pytest

from reference_impl.raft.core import (
    CANDIDATE, FOLLOWER, LEADER, PRE_CANDIDATE, Config, ConfigChangeRefused, PersistentState,
    RaftCore, Snapshot,
)
from reference_impl.raft.storage import RaftStorage
from tests.unit.sync_pump import SyncNet

CFG = Config(election_timeout=100.0, heartbeat_interval=10.0, max_batch=4, max_inflight=100)
IDS = ["a", "b", "c", "d", "e"]


class Net(SyncNet):
    leader_role = LEADER

    def __init__(self, ids, states=None, cfg=CFG):
        super().__init__({i: RaftCore(i, ids, config=cfg, rng=random.Random(sum(map(ord, i))),
                                      now=0.0, state=(states or {}).get(i)) for i in ids},
                         pump_rounds=60)
        self.cfg = cfg
        self.ids = ids
        self.committed = {i: [] for i in ids}
        self.roles = {i: set() for i in ids}   # every role each node took

    def on_ready(self, i, node, ready):
        node.persisted(self.now, ready.last_index, ready.last_term)
        self.committed[i] += [(idx, t, c) for idx, t, c in ready.committed]

    def observe(self, i, node):
        self.roles[i].add(node.role)

    def leader(self):
        leaders = self.leaders()
        assert len(leaders) == 1, leaders
        return leaders[0]

    def change(self, voters):
        """Propose ``voters`` at the leader and run until it commits; returns the index."""
        lead = self.nodes[self.leader()]
        index, term = lead.propose_config(self.now, voters)
        self.advance(50)
        assert lead.commit >= index and lead.term_at(index) == term
        return index


def elected(ids=IDS, **kw):
    net = Net(ids, **kw)
    net.advance(400)
    net.leader()
    return net


def test_a_change_commits_and_every_node_follows_it():
    net = elected()
    lead = net.leader()
    gone = next(i for i in IDS if i != lead)
    rest = [i for i in IDS if i != gone]
    index = net.change(rest)
    for i, n in net.nodes.items():
        assert n.voters == tuple(rest), i
        assert n.status()["voters"] == rest
        assert n.config_index() == index
        assert (index, net.nodes[lead].term, {"op": "config", "voters": rest}) in net.committed[i]
    # The removed node still gets the log: it is a learner, current when added back.
    net.nodes[lead].propose(net.now, "after")
    net.advance(30)
    assert net.nodes[gone].commit == net.nodes[lead].commit
    net.change(IDS)
    assert all(n.voters == tuple(IDS) for n in net.nodes.values())


def test_quorums_count_the_current_voters_only():
    # 5 voters: three down, the two left cannot commit.
    net = elected()
    lead = net.leader()
    others = [i for i in IDS if i != lead]
    net.down = set(others[:3])
    index, _ = net.nodes[lead].propose(net.now, "five")
    net.advance(30)
    assert net.nodes[lead].quorum() == 3
    assert net.nodes[lead].commit < index
    # 3 voters (the two down ones removed): the same two live voters commit.
    net = elected()
    lead = net.leader()
    others = [i for i in IDS if i != lead]
    net.change([i for i in IDS if i != others[3]])
    net.change([i for i in IDS if i not in others[2:]])   # voters: lead, others[0], others[1]
    assert net.nodes[lead].quorum() == 2
    net.down = set(others[1:])
    index, _ = net.nodes[lead].propose(net.now, "three")
    net.advance(30)
    assert net.nodes[lead].commit >= index
    assert net.nodes[others[0]].commit >= index
    # Check-quorum counts voters too: the leader stays, with one of two other voters.
    net.advance(500)
    assert net.nodes[lead].role == LEADER


def test_elections_need_a_majority_of_the_voters_only():
    net = elected()
    lead = net.leader()
    others = [i for i in IDS if i != lead]
    net.change([i for i in IDS if i != others[3]])
    net.change([i for i in IDS if i not in others[2:]])   # voters: lead, others[0], others[1]
    net.down = {lead, others[2], others[3]}
    net.advance(600)
    new = net.leader()
    assert new in others[:2]
    assert net.nodes[new].votes & net.nodes[new].voter_set <= {others[0], others[1]}


def test_a_removed_leader_steps_down_and_never_campaigns():
    net = elected()
    lead = net.leader()
    rest = [i for i in IDS if i != lead]
    old = net.nodes[lead]
    index, _ = old.propose_config(net.now, rest)
    assert old.voters == tuple(rest)          # in force at once, before it commits
    assert old.role == LEADER
    net.advance(20)
    assert old.commit >= index and old.role == FOLLOWER
    net.roles[lead] = set()
    net.advance(1000)
    new = net.leader()
    assert new != lead and net.nodes[new].voters == tuple(rest)
    assert net.roles[lead] == {FOLLOWER}      # no pre-vote, no candidacy
    net.nodes[new].propose(net.now, "x")
    net.advance(30)
    assert old.commit == net.nodes[new].commit


def test_one_change_at_a_time_and_only_after_an_entry_of_the_term_committed():
    net = elected()
    lead = net.nodes[net.leader()]
    others = [i for i in IDS if i != lead.id]
    net.down = set(others)                    # nothing can commit
    lead.propose_config(net.now, [i for i in IDS if i != others[0]])
    with pytest.raises(ConfigChangeRefused, match="not committed yet"):
        lead.propose_config(net.now, [i for i in IDS if i not in others[:2]])
    with pytest.raises(ConfigChangeRefused, match="exactly one voter"):
        lead.propose_config(net.now, [lead.id])
    with pytest.raises(ConfigChangeRefused, match="unknown"):
        lead.propose_config(net.now, IDS + ["z"])
    with pytest.raises(ValueError):
        lead.propose(net.now, {"op": "config", "voters": IDS})
    assert net.nodes[others[0]].propose_config(net.now, IDS[:4]) is None   # not the leader
    # A new leader whose no-op has not committed refuses too.
    core = RaftCore("a", IDS, config=CFG, rng=random.Random(1))
    core.tick(1000.0)
    core.receive(1000.0, {"type": "prevote_resp", "from": "b", "to": "a", "term": 1,
                          "granted": True})
    core.receive(1000.0, {"type": "prevote_resp", "from": "c", "to": "a", "term": 1,
                          "granted": True})
    assert core.role == CANDIDATE
    for p in ("b", "c"):
        core.receive(1000.0, {"type": "vote_resp", "from": p, "to": "a", "term": 1,
                              "granted": True})
    assert core.role == LEADER
    with pytest.raises(ConfigChangeRefused, match="not committed an entry of its term"):
        core.propose_config(1000.0, IDS[:4])


def test_a_truncated_config_entry_reverts_to_the_previous_config():
    core = RaftCore("b", IDS, config=CFG, state=PersistentState(1, None, None, [(1, "x")]))
    core.receive(0.0, {"type": "append", "from": "a", "to": "b", "term": 1, "prev_index": 1,
                       "prev_term": 1, "entries": [[1, {"op": "config", "voters": IDS[:4]}]],
                       "commit": 1})
    assert core.voters == tuple(IDS[:4]) and core.commit == 1   # in force before it commits
    core.receive(0.0, {"type": "append", "from": "c", "to": "b", "term": 2, "prev_index": 1,
                       "prev_term": 1, "entries": [[2, "y"]], "commit": 1})
    assert core.last_index() == 2 and core.term_at(2) == 2
    assert core.voters == tuple(IDS)


def test_a_non_voter_campaigns_only_while_its_removal_is_not_known_committed():
    entries = [(1, "x"), (1, {"op": "config", "voters": ["a", "b", "c", "d"]})]
    unknown = RaftCore("e", IDS, config=CFG, rng=random.Random(2),
                       state=PersistentState(1, None, None, entries))
    assert unknown.voters == ("a", "b", "c", "d") and unknown.commit == 0
    unknown.tick(unknown.next_wakeup())
    # Thesis 4.2.2: it may hold the only log the voters can accept, so it still campaigns,
    # asking the voters only and not counting itself.
    assert unknown.role == PRE_CANDIDATE
    assert sorted(m["to"] for m in unknown.take_ready().messages) == ["a", "b", "c", "d"]
    known = RaftCore("e", IDS, config=CFG, rng=random.Random(2),
                     state=PersistentState(1, None, Snapshot(2, 1, "{}", ["a", "b", "c", "d"]),
                                           []))
    assert known.voters == ("a", "b", "c", "d") and known.commit == 2
    for _ in range(5):
        known.tick(known.next_wakeup())
        assert known.role == FOLLOWER
    assert known.take_ready().messages == []


def test_the_config_survives_compaction_snapshot_install_and_restart(tmp_path):
    net = elected()
    lead = net.leader()
    gone = next(i for i in IDS if i != lead)
    rest = [i for i in IDS if i != gone]
    index = net.change(rest)
    net.nodes[lead].propose(net.now, "y")
    net.advance(30)
    leader = net.nodes[lead]
    top = leader.commit
    assert leader.config_at(index - 1) == IDS and leader.config_at(top) == rest
    for n in net.nodes.values():
        n.compact(top, "{}")
        assert n.snap.voters == rest and n.voters == tuple(rest) and n.config_log == []
    # Restart from the snapshot alone: the voters come from it.
    again = RaftCore(lead, IDS, config=CFG, state=PersistentState(
        leader.term, leader.vote, leader.snap, []))
    assert again.voters == tuple(rest) and again.commit == top
    # ... and from the storage files.
    st = RaftStorage(str(tmp_path))
    st.load()
    st.compact(Snapshot(top, leader.term_at(top), "{}", leader.config_at(top)))
    st.close()
    loaded = RaftStorage(str(tmp_path)).load()
    assert loaded.snapshot.voters == rest
    # A follower far behind gets the snapshot with its voters.
    fresh = RaftCore(gone, IDS, config=CFG)
    fresh.receive(net.now, {"type": "snapshot", "from": lead, "to": gone, "term": leader.term,
                            "index": top, "snap_term": leader.term_at(top), "data": "{}",
                            "voters": rest, "seq": 1})
    assert fresh.voters == tuple(rest) and fresh.take_ready().snapshot.voters == rest


def test_the_config_survives_a_restart_from_the_log():
    net = elected()
    lead = net.leader()
    rest = [i for i in IDS if i != "e"] if lead != "e" else IDS[1:]
    index = net.change(rest)
    n = net.nodes[lead]
    entries = [n.entry(i) for i in range(n.log_start + 1, n.last_index() + 1)]
    again = RaftCore(lead, IDS, config=CFG, state=PersistentState(n.term, n.vote, None, entries))
    assert again.voters == tuple(rest) and again.config_index() == index


def test_a_new_leader_with_a_log_longer_than_the_window_reaches_its_followers():
    # The window (max_inflight) bounds what is in flight while replicating; a probe after an
    # election must go out even when the log is longer than the window.
    cfg = Config(election_timeout=100.0, heartbeat_interval=10.0, max_batch=4, max_inflight=3)
    entries = [(1, f"v{i}") for i in range(10)]
    net = Net(["a", "b", "c"], cfg=cfg,
              states={i: PersistentState(1, None, None, list(entries)) for i in "abc"})
    net.advance(400)
    lead = net.nodes[net.leader()]
    assert lead.commit == 11
    assert all(n.commit == 11 for n in net.nodes.values())
