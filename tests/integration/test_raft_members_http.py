"""``POST /admin/members`` on 3 real reference Raft nodes on loopback (no root): answers of the
leader and of a follower, bad requests, ``GET /status`` voters, and the voter set after a
``kill -9`` and restart of every node. The 5-node scenario with kills:
tests/integration/test_raft_membership_cluster.py."""

import asyncio
import time

from reference_impl import http_api
from tests.integration.loopback_cluster import http_json, raft_cluster

import pytest

ALL = ["n1", "n2", "n3"]


@pytest.fixture
def cluster(tmp_path):
    c = raft_cluster(tmp_path)
    for i in c.ids:
        c.start(i)
    yield c
    c.stop()


def voters(cluster):
    return {i: cluster.status(i)["voters"] for i in cluster.ids}


def test_members_admin_api_and_the_voters_survive_a_restart(cluster):
    leader = cluster.wait_leader()
    follower, other = [i for i in ALL if i != leader]
    lp = cluster.http[leader]
    st, doc = http_json(cluster.http[follower], "POST", "/admin/members", {"remove": other})
    assert st == 409 and doc["leader"] == leader and doc["outcome"] == "failed"
    for bad in ({"drop": other}, {"remove": "n9"}, {"remove": other, "add": other}, [other],
                {"add": [other]}, None):
        st, doc = http_json(lp, "POST", "/admin/members", bad)
        assert st == 400 and doc["outcome"] == "failed", (bad, doc)
    assert http_json(lp, "GET", "/admin/members")[0] == 405

    st, doc = http_json(lp, "POST", "/admin/members", {"remove": other})
    assert st == 200 and doc["changed"] is True
    rest = sorted([leader, follower])
    assert doc["voters"] == rest
    st, doc = http_json(lp, "POST", "/admin/members", {"remove": other})   # again: a no-op
    assert st == 200 and doc == {"voters": rest, "changed": False, "outcome": "ok"}
    # Writes still commit; the removed node still gets them (it is a learner).
    assert cluster.client(follower).invoke({"f": "write", "value": 7, "key": "k"})["type"] == "ok"

    cluster.kill9_all()
    for i in cluster.ids:
        cluster.start(i)
    cluster.wait_leader()
    assert voters(cluster) == {i: rest for i in ALL}
    assert cluster.client(other).invoke({"f": "read", "key": "k"})["value"] == 7

    leader = cluster.wait_leader()
    st, doc = http_json(cluster.http[leader], "POST", "/admin/members", {"add": other})
    assert st == 200 and doc["voters"] == ALL and doc["changed"] is True
    # Committed on a majority; the last node appends it a moment later.
    deadline = time.monotonic() + 10
    while voters(cluster) != {i: ALL for i in ALL} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert voters(cluster) == {i: ALL for i in ALL}


def test_a_store_without_membership_changes_answers_404():
    class Plain:
        def status(self):
            return {}

    st, doc = asyncio.run(http_api.route(Plain(), "POST", "/admin/members", b'{"add": "n1"}'))
    assert st == 404 and "cannot change its membership" in doc["error"]
