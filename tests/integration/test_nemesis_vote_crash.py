"""The vote-crash nemesis on 5 real reference Raft nodes (network namespaces of the local
backend; root): armed, it kills a voter right after the voter logs its granted vote and restarts
it on its data; disarmed, elections go on without crashes.

- ``start-vote-crash`` crashes the leader (the kick) and so starts an election; a node that
  logs ``voted for X in term T`` is killed a few milliseconds later: its log shows the vote line
  followed by the ``recovered term=`` line of its restart, which recovered that vote (the store
  fsyncs a vote before granting it), its pid changed and it answers ``/status`` again;
- ``stop-vote-crash`` lists those crashes; afterwards every node runs and answers, and an
  election provoked by killing the leader logs new votes but crashes nobody.
"""

import random
import re
import time

import pytest

from tests.integration.nemesis_tools import raft_cluster, raft_statuses, skip_reasons, wait_for

_skip = skip_reasons()
pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(_skip), reason="; ".join(_skip))]

from nemesis.vote_crash import START, STOP, VoteCrashNemesis  # noqa: E402

NODES = ["n1", "n2", "n3", "n4", "n5"]
RECOVERED = re.compile(r": recovered term=(\d+) vote=(\S+)")


@pytest.fixture
def raft():
    # Short timeouts keep each election well under a second; no pre-vote: a restarted node's
    # term bump is a real election, as in the paper.
    with raft_cluster(NODES, {"election_timeout_ms": 300, "heartbeat_ms": 30,
                              "op_timeout_s": 3.0, "pre_vote": False}) as cd:
        yield cd


def pids(cluster, db):
    return {n: cluster.remote(n).daemon_pid(db.daemon) for n in NODES}


def answering(cluster, db):
    """The nodes whose ``/status`` answers."""
    return set(raft_statuses(cluster, db))


def crash_leader(cluster, db):
    """Kill the current leader and restart it at once: the others elect a new one."""
    leader = wait_for("a leader", lambda: db.primaries(cluster))[0]
    db.kill(cluster, leader)
    db.start(cluster, leader)
    return leader


def log_of(cluster, node):
    return cluster.remote(node).read_log("raft")


def test_armed_nemesis_kills_a_voter_after_its_vote_and_disarmed_none(raft):
    cluster, db = raft
    nem = VoteCrashNemesis(random.Random(4)).setup(cluster, db)
    before = pids(cluster, db)
    sizes = {n: len(log_of(cluster, n)) for n in NODES}

    op = nem.invoke({"type": "info", "f": START, "value": None})
    assert op["value"] == NODES and op["kicked"] in NODES
    assert "error" not in op

    last_kick = [time.monotonic()]

    def crashed():
        with nem.lock:
            if nem.crashes or nem.down:
                return bool(nem.crashes)
        # No crash yet a while after the last election began (say its votes were logged before
        # the watcher read the logs' sizes): start another one.
        if time.monotonic() - last_kick[0] > 3 and db.primaries(cluster):
            crash_leader(cluster, db)
            last_kick[0] = time.monotonic()
        return False

    wait_for("a crash after a vote", crashed, timeout=30)
    stop = nem.invoke({"type": "info", "f": STOP, "value": None})
    assert "error" not in stop, stop["error"]
    crashes = stop["value"]
    assert crashes
    after = pids(cluster, db)
    # Every node runs and answers (a restart does not wait for the node to serve), and they
    # agree on a leader again.
    assert all(after.values()), after
    assert wait_for("every node answering", lambda: answering(cluster, db) == set(NODES))
    db.wait_ready(cluster)
    for c in crashes:
        assert set(c) == {"node", "voted_for", "term", "delay_ms", "down_ms"}
        node, voted_for, term = c["node"], c["voted_for"], c["term"]
        assert voted_for in NODES and voted_for != node
        text = log_of(cluster, node)[sizes[node]:]
        vote = text.find(f"{node}: voted for {voted_for} in term {term}\n")
        assert vote >= 0, f"{node}'s log has no vote for {voted_for} in term {term}: {text[-2000:]}"
        m = RECOVERED.search(text, vote)
        assert m, f"{node} did not restart after its vote: {text[vote:][:2000]}"
        # The vote was on disk before it was sent, so the restart recovered it (or a later term).
        assert int(m.group(1)) > term or (int(m.group(1)), m.group(2)) == (term, voted_for), m.group(0)
        assert after[node] is not None and after[node] != before[node]

    # Disarmed: a new election logs votes but nobody is crashed.
    sizes = {n: len(log_of(cluster, n)) for n in NODES}
    before = pids(cluster, db)
    leader = crash_leader(cluster, db)
    db.wait_ready(cluster)
    new_votes = {n: log_of(cluster, n)[sizes[n]:].count(": voted for ") for n in NODES}
    assert sum(new_votes.values()) >= 2, new_votes   # a new leader of 5 needs 2 votes besides its own
    after = pids(cluster, db)
    assert after[leader] != before[leader]
    assert {n: after[n] for n in NODES if n != leader} == {n: before[n] for n in NODES if n != leader}
    restarted = [n for n in NODES if RECOVERED.search(log_of(cluster, n)[sizes[n]:])]
    assert restarted == [leader]
    stop = nem.invoke({"type": "info", "f": STOP, "value": None})
    assert stop["value"] == [] and "error" not in stop
    assert answering(cluster, db) == set(NODES)
