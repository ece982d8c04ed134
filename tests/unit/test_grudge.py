import itertools
import random

import pytest

from nemesis import grudge as G

N5 = ["n1", "n2", "n3", "n4", "n5"]


def hears(nodes, grudge):
    return {n: set(v) for n, v in G.connections(nodes, grudge).items()}


def test_complete_grudge_is_symmetric_cut():
    g = G.complete_grudge([["n1", "n2"], ["n3", "n4", "n5"]])
    assert g == {"n1": ["n3", "n4", "n5"], "n2": ["n3", "n4", "n5"],
                 "n3": ["n1", "n2"], "n4": ["n1", "n2"], "n5": ["n1", "n2"]}
    for a, drops in g.items():
        for b in drops:
            assert a in g[b]


def test_complete_grudge_single_component_is_empty():
    assert G.complete_grudge([N5]) == {}
    assert G.complete_grudge([]) == {}


def test_halves_smaller_first():
    assert G.bisect(N5) == (["n1", "n2"], ["n3", "n4", "n5"])
    assert G.halves(N5) == G.complete_grudge([["n1", "n2"], ["n3", "n4", "n5"]])
    assert G.describe(N5, G.halves(N5)) == "n3 n4 n5 | n1 n2"


def test_random_halves_is_a_minority_majority_split_and_seeded():
    for seed in range(20):
        g = G.random_halves(N5, random.Random(seed))
        comps = G.components(N5, g)
        assert sorted(len(c) for c in comps) == [2, 3]
        assert G.complete_grudge(comps) == g
        assert g == G.random_halves(N5, random.Random(seed))
    seen = {tuple(G.components(N5, G.random_halves(N5, random.Random(s)))[1]) for s in range(50)}
    assert len(seen) > 3


def test_one_isolates_exactly_one_node():
    for seed in range(10):
        g = G.one(N5, random.Random(seed))
        comps = G.components(N5, g)
        assert sorted(len(c) for c in comps) == [1, 4]
        (loner,) = [c[0] for c in comps if len(c) == 1]
        assert g[loner] == sorted(set(N5) - {loner})


def test_isolate_each_alone():
    g = G.isolate(N5, ["n2", "n4"])
    assert g["n2"] == ["n1", "n3", "n4", "n5"]
    assert g["n4"] == ["n1", "n2", "n3", "n5"]
    assert g["n1"] == ["n2", "n4"]
    assert G.components(N5, g) == [["n1", "n3", "n5"], ["n2"], ["n4"]]
    with pytest.raises(ValueError):
        G.isolate(N5, ["n9"])


def test_bridge():
    g = G.bridge(N5)
    # n1 n2 | n3 | n4 n5 with n3 the bridge
    assert "n3" not in g
    assert g == {"n1": ["n4", "n5"], "n2": ["n4", "n5"], "n4": ["n1", "n2"], "n5": ["n1", "n2"]}
    view = hears(N5, g)
    assert view["n3"] == set(N5)
    assert all("n3" in view[n] for n in N5)
    assert G.bridge(["n1"]) == {}


@pytest.mark.parametrize("seed", range(20))
def test_bridge_at_makes_the_given_node_the_only_link(seed):
    g = G.bridge_at(N5, "n4", random.Random(seed))
    view = hears(N5, g)
    assert view["n4"] == set(N5)                    # the bridge hears everyone
    others = [n for n in N5 if n != "n4"]
    halves = {frozenset(view[n] - {"n4"}) for n in others}
    assert len(halves) == 2 and all(len(h) == 2 for h in halves)   # two halves of two
    assert set().union(*halves) == set(others)     # which do not hear each other


@pytest.mark.parametrize("n", range(3, 10))
def test_majorities_ring_every_node_sees_a_majority(n):
    nodes = [f"n{i}" for i in range(1, n + 1)]
    for seed in range(30):
        g = G.majorities_ring(nodes, random.Random(seed))
        view = hears(nodes, g)
        assert set(view) == set(nodes)
        for node, seen in view.items():
            assert node in seen
            assert len(seen) >= G.majority(n), (node, seen)
        assert g != {}  # it is a partition, not full connectivity
        if n <= 5:
            # the perfect ring: exactly a majority each, all different
            assert all(len(s) == G.majority(n) for s in view.values())
            assert len({frozenset(s) for s in view.values()}) == n


def test_majorities_ring_five_is_a_ring():
    g = G.majorities_ring(N5, random.Random(7))
    view = hears(N5, g)
    # In a ring each node hears itself and its two neighbours; neighbour relation is symmetric
    # and forms a single 5-cycle.
    nbrs = {n: s - {n} for n, s in view.items()}
    assert all(len(v) == 2 for v in nbrs.values())
    assert all(a in nbrs[b] for a in N5 for b in nbrs[a])
    start = "n1"
    prev, cur, seen = None, start, []
    for _ in range(5):
        seen.append(cur)
        nxt = [x for x in nbrs[cur] if x != prev][0]
        prev, cur = cur, nxt
    assert cur == start and sorted(seen) == N5


def test_majorities_ring_deterministic():
    nodes = [f"n{i}" for i in range(1, 8)]
    assert G.majorities_ring(nodes, random.Random(3)) == G.majorities_ring(nodes, random.Random(3))


def test_invert_and_connections_roundtrip():
    for seed in range(10):
        g = G.random_halves(N5, random.Random(seed))
        assert G.invert(N5, G.connections(N5, g)) == g


def test_normalize_and_validate():
    assert G.normalize({"n2": ["n1", "n1", "n2"], "n1": []}) == {"n2": ["n1"]}
    assert G.validate(N5, {"n1": ["n2"]}) == {"n1": ["n2"]}
    for bad in ({"n9": ["n1"]}, {"n1": ["n9"]}, {"n1": "n2"}, ["n1"]):
        with pytest.raises(ValueError):
            G.validate(N5, bad)


def test_describe():
    assert G.describe(N5, {}) == "fully connected"
    assert G.describe(["n1", "n2", "n3"], {"n1": ["n2"]}) == "n1 -x n2"


@pytest.mark.parametrize("kind", ["random-halves", "halves", "one", "majorities-ring", "bridge"])
def test_for_kind(kind):
    g = G.for_kind(kind, N5, random.Random(1))
    assert g and set(g) <= set(N5)
    assert all(set(v) <= set(N5) for v in g.values())
    with pytest.raises(ValueError):
        G.for_kind("nope", N5, random.Random(1))


def test_no_self_drops_anywhere():
    rng = random.Random(0)
    for n, kind in itertools.product(range(2, 9), ["random-halves", "halves", "one", "majorities-ring", "bridge"]):
        nodes = [f"n{i}" for i in range(1, n + 1)]
        g = G.for_kind(kind, nodes, rng)
        assert all(k not in v for k, v in g.items())
