"""Membership changes on 5 real reference Raft nodes (network namespaces of the local backend;
root), through the raft target's ``remove_member``/``add_member`` and the membership nemesis:

- with 5 voters, the 2 nodes left after killing n3, n4 and n5 cannot commit a write;
- after removing n4 and n5 (3 voters), the same 2 live nodes n1 and n2 commit writes;
- once n3, n4 and n5 are back and added again, every node applies up to the leader's commit.
"""

import random
import time

import pytest

from tests.integration.nemesis_tools import raft_cluster, raft_statuses, skip_reasons, wait_for

_skip = skip_reasons()
pytestmark = [pytest.mark.root, pytest.mark.skipif(bool(_skip), reason="; ".join(_skip))]

from nemesis.membership import START, STOP, MembershipNemesis  # noqa: E402

NODES = ["n1", "n2", "n3", "n4", "n5"]


@pytest.fixture
def raft():
    with raft_cluster(NODES, {"election_timeout_ms": 300, "heartbeat_ms": 30,
                              "op_timeout_s": 3.0}) as cd:
        yield cd


def statuses(cluster, db, names=NODES):
    return raft_statuses(cluster, db, names)


def write(cluster, db, node, value):
    c = db.client_for(next(n for n in cluster.nodes if n.name == node), timeout_s=3.0)
    try:
        return c.invoke({"f": "write", "value": value, "type": "invoke", "process": 0})
    finally:
        c.close()


def test_fewer_voters_commit_with_fewer_live_nodes_and_added_nodes_catch_up(raft):
    cluster, db = raft
    # 5 voters, n3-n5 down: n1 and n2 are 2 of 5, no majority; the write cannot commit.
    for n in ("n3", "n4", "n5"):
        db.kill(cluster, n)
    time.sleep(0.5)   # let messages of the killed nodes that were in flight land
    commits = {n: st["commit"] for n, st in statuses(cluster, db).items()}
    assert sorted(commits) == ["n1", "n2"]
    before = write(cluster, db, "n1", 1)
    assert before["type"] != "ok", before
    after = statuses(cluster, db)
    assert {n: st["commit"] for n, st in after.items()} == commits
    assert all(st["voters"] == NODES for st in after.values())
    for n in ("n3", "n4", "n5"):
        db.start(cluster, n)
    db.wait_ready(cluster)

    # Remove n4 and n5 through the nemesis: 3 voters.
    nem = MembershipNemesis(random.Random(1)).setup(cluster, db)
    op = nem.invoke({"type": "info", "f": START, "value": ["n4", "n5"]})
    assert "error" not in op, op
    assert op["value"] == {"removed": ["n4", "n5"], "voters": ["n1", "n2", "n3"]}
    wait_for("every node sees 3 voters", lambda: all(
        st["voters"] == ["n1", "n2", "n3"] for st in statuses(cluster, db).values())
        and len(statuses(cluster, db)) == 5)
    more = nem.invoke({"type": "info", "f": START, "value": ["n3"]})
    assert more["value"]["removed"] == [] and "majority" in more["error"]

    # n3, n4, n5 down again: n1 and n2 are 2 of 3 voters and commit writes.
    for n in ("n3", "n4", "n5"):
        db.kill(cluster, n)
    done = [write(cluster, db, "n1", v) for v in (2, 3, 4)]
    assert [d["type"] for d in done] == ["ok"] * 3, done
    sts = statuses(cluster, db, ["n1", "n2"])
    leader = next(st for st in sts.values() if st["role"] == "leader")
    assert leader["node"] in ("n1", "n2") and leader["voters"] == ["n1", "n2", "n3"]

    # Back up, added again (the nemesis's stop op), and caught up.
    for n in ("n3", "n4", "n5"):
        db.start(cluster, n)
    back = nem.invoke({"type": "info", "f": STOP, "value": None})
    assert "error" not in back, back
    assert sorted(back["value"]["added"]) == ["n4", "n5"] and back["value"]["voters"] == NODES
    assert write(cluster, db, "n2", 5)["type"] == "ok"

    def caught_up():
        sts = statuses(cluster, db)
        leaders = [st for st in sts.values() if st["role"] == "leader"]
        if len(sts) < 5 or len(leaders) != 1:
            return None
        top = leaders[0]["commit"]
        ok = all(st["applied"] >= top and st["voters"] == NODES for st in sts.values())
        return sts if ok else None

    sts = wait_for("every node applied up to the leader's commit", caught_up)
    assert {n: st["voters"] for n, st in sts.items()} == {n: NODES for n in NODES}
    # The last write reached n3 (killed before it was made) through the log, not a guess.
    c = db.client_for(next(n for n in cluster.nodes if n.name == "n3"))
    try:
        assert c.invoke({"f": "read", "type": "invoke", "process": 0})["value"] == 5
    finally:
        c.close()
