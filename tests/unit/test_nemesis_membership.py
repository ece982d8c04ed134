"""The membership nemesis against a fake target: which nodes it removes, that a majority of
the nodes always stays voters, that stop and heal_all add everything back, and the one-line
error for a target without the capability. The real store:
tests/integration/test_raft_membership_cluster.py."""

import random
from types import SimpleNamespace

import pytest

from nemesis.membership import START, STOP, MembershipNemesis
from nemesis.packages import ALL, make_nemesis_package


def cluster(n):
    return SimpleNamespace(nodes=[SimpleNamespace(name=f"n{i + 1}") for i in range(n)])


class FakeDB:
    def __init__(self, names, fail=()):
        self.voters = set(names)
        self.calls = []
        self.fail = set(fail)

    def remove_member(self, cluster, node):
        self.calls.append(("remove", node))
        if node in self.fail:
            raise RuntimeError(f"no leader took {node}")
        self.voters.discard(node)
        return sorted(self.voters)

    def add_member(self, cluster, node):
        self.calls.append(("add", node))
        self.voters.add(node)
        return sorted(self.voters)


@pytest.mark.parametrize("n", [3, 5, 7])
def test_a_majority_of_the_nodes_always_stays_voters(n):
    c = cluster(n)
    db = FakeDB([x.name for x in c.nodes])
    nem = MembershipNemesis(random.Random(n)).setup(c, db)
    sizes = set()
    for _ in range(30):
        out = nem.invoke({"type": "info", "f": START, "value": None})
        assert out["type"] == "info" and "error" not in out
        removed = out["value"]["removed"]
        sizes.add(len(removed))
        assert out["value"]["voters"] == sorted(db.voters)
        assert len(db.voters) >= n // 2 + 1
        more = nem.invoke({"type": "info", "f": START, "value": None})   # nothing left to take
        assert len(db.voters) >= n // 2 + 1
        back = nem.invoke({"type": "info", "f": STOP, "value": None})
        assert sorted(back["value"]["added"]) == sorted(removed + more["value"]["removed"])
        assert db.voters == {x.name for x in c.nodes}
    assert sizes == set(range(1, n - (n // 2 + 1) + 1))


def test_explicit_nodes_are_capped_and_heal_all_adds_them_back():
    c = cluster(5)
    db = FakeDB([x.name for x in c.nodes])
    nem = MembershipNemesis(random.Random(1)).setup(c, db)
    out = nem.invoke({"type": "info", "f": START, "value": ["n4", "n5", "n3"]})
    assert out["value"]["removed"] == ["n4", "n5"]
    assert "only 2 more node(s) may be removed" in out["error"] and "n3" in out["error"]
    assert db.voters == {"n1", "n2", "n3"}
    with pytest.raises(ValueError, match="unknown node"):
        nem.invoke({"type": "info", "f": START, "value": ["n9"]})
    nem.heal_all()
    assert db.voters == {"n1", "n2", "n3", "n4", "n5"} and nem.removed == []
    nem.heal_all()   # repeatable
    MembershipNemesis().heal_all()   # before setup


def test_a_failed_removal_is_reported_and_undone_on_stop():
    c = cluster(5)
    db = FakeDB([x.name for x in c.nodes], fail={"n2"})
    nem = MembershipNemesis(random.Random(1)).setup(c, db)
    out = nem.invoke({"type": "info", "f": START, "value": ["n2", "n3"]})
    assert out["value"]["removed"] == [] and out["error"] == "remove n2: no leader took n2"
    back = nem.invoke({"type": "info", "f": STOP, "value": None})
    assert back["value"]["added"] == ["n2"] and ("add", "n2") in db.calls


def test_a_target_without_the_capability_gets_one_error_line():
    c = cluster(3)
    nem = MembershipNemesis(random.Random(1)).setup(c, SimpleNamespace(kill=lambda *a: None))
    for f in (START, STOP):
        out = nem.invoke({"type": "info", "f": f, "value": None})
        assert out["error"] == ("the target cannot change membership: its db has no "
                                "remove_member() or add_member() capability; nothing was done")
        assert "\n" not in out["error"] and out["value"] is None
    nem.heal_all()


def test_the_package_is_registered_by_name_and_not_in_all():
    assert "membership" not in ALL
    pkg = make_nemesis_package(["membership"], {}, random.Random(1))
    assert isinstance(pkg.nemesis, MembershipNemesis)
    assert {START, STOP} <= set(pkg.nemesis.fs)
    assert pkg.final_generator == [{"type": "info", "f": STOP, "value": None}]
    both = make_nemesis_package(["membership", "partition"], {}, random.Random(1))
    assert {START, STOP, "start-partition"} <= set(both.nemesis.fs)
