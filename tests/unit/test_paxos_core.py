"""The sans-I/O Multi-Paxos core, driven by hand: phase 1 once per ballot, phase 2 per slot,
adopting the highest-ballot value, no-ops in holes, promises, learning and catch-up,
check-quorum, sticky leaders, and the durability contract of the Ready.

A tiny synchronous pump (:class:`Net`) persists every Ready at once and delivers its messages in
order, except to nodes cut off with ``net.down``; everything else is the real core.
"""

import random

import pytest

from reference_impl.paxos.core import (
    CANDIDATE, FOLLOWER, LEADER, NOOP, Config, PaxosCore, PersistentState, replay,
)
from tests.unit.sync_pump import SyncNet, elect

CFG = Config(election_timeout=100.0, heartbeat_interval=10.0, max_batch=4)


class Net(SyncNet):
    leader_role = LEADER

    def __init__(self, ids, states=None, cfg=CFG, bug=None):
        super().__init__({i: PaxosCore(i, ids, config=cfg, rng=random.Random(sum(map(ord, i))),
                                       now=0.0, state=(states or {}).get(i), bug=bug)
                          for i in ids}, pump_rounds=200)
        self.cfg = cfg
        self.ids = ids
        self.applied = {i: [] for i in ids}
        self.disk = {i: [] for i in ids}

    def on_ready(self, i, node, ready):
        self.disk[i] += ready.writes + ready.learned
        node.persisted(self.now, ready.seq)
        self.applied[i] += ready.committed

    def restart(self, i):
        """Rebuild node ``i`` from what its disk holds."""
        self.nodes[i] = PaxosCore(i, self.ids, config=self.cfg, rng=random.Random(7),
                                  now=self.now, state=replay(self.disk[i]))
        self.applied[i] = []


IDS = ["a", "b", "c"]


def put(i):
    return {"op": "put", "key": "x", "value": i, "id": i}


def test_a_leader_runs_phase_1_once_and_commits_pipelined_slots():
    net = Net(IDS)
    lead = elect(net)
    core = net.nodes[lead]
    assert core.ballot[1] == lead and core.promised == core.ballot
    p1a_before = sum(1 for m in net.sent if m["type"] == "p1a")
    slots = [core.propose(net.now, put(i)) for i in range(10)]
    assert slots == list(range(1, 11))   # assigned without waiting: pipelining
    net.pump()
    assert core.commit == 10
    # Batching: 10 slots went out in 3 p2a per follower (max_batch 4), not 10.
    p2a = [m for m in net.sent if m["type"] == "p2a" and m["entries"] and m["to"] != lead]
    assert len(p2a) == 3 * 2
    net.advance(50)
    for i in IDS:
        assert [c["value"] for _s, c in net.applied[i]] == list(range(10)), i
    assert sum(1 for m in net.sent if m["type"] == "p1a") == p1a_before  # no new phase 1


def test_followers_refuse_proposals_and_phase_1_while_a_leader_is_alive():
    net = Net(IDS)
    lead = elect(net)
    f = next(i for i in IDS if i != lead)
    assert net.nodes[f].propose(net.now, put(1)) is None
    assert net.nodes[f].role == FOLLOWER and net.nodes[f].leader == lead
    other = next(i for i in IDS if i not in (lead, f))
    # A node that lost contact (e.g. healed from a partition) tries phase 1: refused (sticky).
    net.nodes[other]._start_phase1(net.now)
    net.pump()
    assert net.leaders() == [lead]
    nacks = [m for m in net.sent if m["type"] == "p1b" and m["to"] == other and not m["ok"]]
    assert nacks


def test_new_leader_adopts_the_highest_ballot_value_and_fills_holes_with_noops():
    # Slot 2 was accepted with two ballots; slot 4 by one acceptor; slots 1 and 3 nowhere.
    states = {
        "a": PersistentState(promised=(3, "b"), accepted={2: ((2, "b"), put("old")),
                                                         4: ((3, "b"), put("four"))}),
        "b": PersistentState(promised=(3, "b"), accepted={2: ((3, "b"), put("new"))}),
        "c": PersistentState(promised=(1, "a")),
    }
    net = Net(IDS, states)
    net.down = {"b"}
    lead = elect(net)
    assert lead in ("a", "c")
    core = net.nodes[lead]
    assert core.ballot > (3, "b")
    net.advance(30)
    chosen = {s: net.nodes[lead].chosen[s] for s in range(1, 5)}
    assert chosen[1] == NOOP and chosen[3] == NOOP
    assert chosen[4] == put("four")
    # a (down: b) only reports ballot (2, b) for slot 2, so "old" is chosen; had b answered,
    # the higher ballot's "new" would have been.
    assert chosen[2] == put("old")
    assert core.next_slot == 5 and core.propose(net.now, put(5)) == 5


def test_highest_ballot_wins_when_both_acceptors_answer():
    states = {
        "a": PersistentState(promised=(3, "b"), accepted={1: ((2, "b"), put("old"))}),
        "b": PersistentState(promised=(3, "b"), accepted={1: ((3, "b"), put("new"))}),
        "c": PersistentState(promised=(3, "b")),
    }
    net = Net(IDS, states)
    net.down = {"c"}
    lead = elect(net)
    net.advance(30)
    assert net.nodes[lead].chosen[1] == put("new")


def test_acceptor_nacks_a_lower_ballot_and_the_bug_accepts_it():
    for bug, accepts in ((None, False), ("skip-promise-check", True)):
        acc = PaxosCore("b", IDS, config=CFG, rng=random.Random(1),
                        state=PersistentState(promised=(5, "c")), bug=bug)
        acc.receive(0.0, {"type": "p2a", "from": "a", "to": "b", "ballot": [4, "a"],
                          "entries": [[1, put(1)]], "commit": 0})
        r = acc.take_ready()
        (reply,) = r.messages
        assert reply["type"] == "p2b" and reply["ok"] is accepts
        assert (1 in acc.accepted) is accepts
        assert acc.promised == (5, "c")          # the bug does not even raise the promise
        assert bool(r.writes) is accepts


def test_promise_and_acceptance_are_written_in_the_ready_that_reveals_them():
    acc = PaxosCore("b", IDS, config=CFG, rng=random.Random(1))
    acc.receive(0.0, {"type": "p1a", "from": "a", "to": "b", "ballot": [1, "a"], "from_slot": 1})
    r = acc.take_ready()
    assert r.writes == [["promise", [1, "a"]]]
    assert [m["type"] for m in r.messages] == ["p1b"] and r.messages[0]["ok"]
    acc.receive(0.0, {"type": "p2a", "from": "a", "to": "b", "ballot": [1, "a"],
                      "entries": [[1, put(1)]], "commit": 0})
    r = acc.take_ready()
    assert r.writes == [["accept", 1, [1, "a"], put(1)]]
    assert r.messages[0]["slots"] == [1]
    # A retransmission is acknowledged again without a second write.
    acc.receive(0.0, {"type": "p2a", "from": "a", "to": "b", "ballot": [1, "a"],
                      "entries": [[1, put(1)]], "commit": 1})
    r = acc.take_ready()
    assert r.writes == []                       # nothing new to make durable before replying
    assert r.learned == [["chosen", 1, put(1)]]   # accepted at the leader's ballot: chosen
    assert r.committed == [(1, put(1))]


def test_own_votes_count_only_after_persisted():
    core = PaxosCore("a", ["a"], config=CFG, rng=random.Random(1))
    core.tick(500.0)
    assert core.role == CANDIDATE
    r = core.take_ready()
    # Our acceptor took our p1a at once: its promise is in this Ready, its p1b is held.
    assert r.writes == [["promise", [1, "a"]]] and r.holds_loopback and not r.messages
    assert core.role == CANDIDATE
    core.persisted(500.0, r.seq)              # the promise is durable: the p1b counts
    assert core.role == LEADER
    slot = core.propose(500.0, put(1))
    r = core.take_ready()
    assert r.writes == [["accept", 1, [1, "a"], put(1)]] and core.commit == 0
    core.persisted(500.0, r.seq)              # our acceptance is durable: chosen (quorum 1)
    r = core.take_ready()
    assert r.learned == [["chosen", 1, put(1)]] and r.committed == [(1, put(1))]
    assert core.commit == slot == 1


def test_a_node_that_missed_slots_catches_up_through_learn():
    net = Net(IDS)
    lead = elect(net)
    lag = next(i for i in IDS if i != lead)
    net.down = {lag}
    for i in range(9):
        net.nodes[lead].propose(net.now, put(i))
    net.pump()
    assert net.nodes[lead].commit == 9 and net.nodes[lag].commit == 0
    net.down = set()
    net.advance(60)
    assert net.nodes[lag].commit == 9
    assert net.applied[lag] == net.applied[lead]
    assert any(m["type"] == "learn" and m["to"] == lag for m in net.sent)


def test_an_isolated_leader_steps_down_and_the_majority_elects_another():
    net = Net(IDS)
    lead = elect(net)
    others = [i for i in IDS if i != lead]
    net.down = set(others)
    net.advance(150)   # no answers for an election timeout: check-quorum
    assert net.nodes[lead].role != LEADER
    net.down = {lead}
    net.advance(400)
    (new,) = net.leaders()
    assert new in others and net.nodes[new].ballot > net.nodes[lead].ballot


def test_restart_recovers_promise_accepted_and_chosen_from_records():
    net = Net(IDS)
    lead = elect(net)
    for i in range(5):
        net.nodes[lead].propose(net.now, put(i))
    net.advance(50)
    f = next(i for i in IDS if i != lead)
    before = net.nodes[f]
    net.restart(f)
    after = net.nodes[f]
    assert after.promised == before.promised and after.commit == before.commit == 5
    assert after.chosen == before.chosen
    net.advance(30)
    assert [c for _s, c in net.applied[f]] == [c for _s, c in net.applied[lead]]


def test_replay_keeps_the_latest_promise_and_acceptance():
    st = replay([["promise", [1, "a"]], ["accept", 1, [1, "a"], put(1)], ["promise", [2, "b"]],
                 ["accept", 1, [2, "b"], put(2)], ["accept", 2, [2, "b"], put(3)],
                 ["chosen", 2, put(3)], ["promise", [1, "c"]]])
    assert st.promised == (2, "b")
    assert st.accepted == {1: ((2, "b"), put(2))}
    assert st.chosen == {2: put(3)}
    with pytest.raises(ValueError):
        replay([["vote", 1]])


def test_unknown_senders_are_ignored():
    core = PaxosCore("a", IDS, config=CFG, rng=random.Random(1))
    core.receive(0.0, {"type": "p1a", "from": "zz", "to": "a", "ballot": [9, "zz"],
                       "from_slot": 1})
    assert core.take_ready().empty() and core.promised == (0, "")
