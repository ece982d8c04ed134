"""Grudges: which nodes each node refuses to hear from. Pure functions, no I/O.

A grudge is ``{node: sorted list of nodes it drops}``; ``{"n1": ["n2", "n3"]}`` means n1 drops
every packet coming from n2 and n3 (as in Jepsen, partitions drop *inbound* traffic, so a
two-way cut needs both directions in the grudge). Nodes absent from a grudge drop nothing.

Randomized functions take a seeded :class:`random.Random`, so a run's seed replays its partitions.
The algorithms follow Jepsen's ``jepsen.nemesis``: ``bisect`` puts the smaller half first,
``bridge`` keeps the first node of the second half connected to everyone, ``majorities_ring``
gives every node a different majority.
"""

from __future__ import annotations

import random
from typing import Iterable, Mapping, Sequence

Grudge = dict[str, list[str]]


def majority(n: int) -> int:
    """The smallest number of nodes that is more than half of ``n``."""
    return n // 2 + 1


def normalize(grudge: Mapping[str, Iterable[str]]) -> Grudge:
    """Sorted keys, sorted and de-duplicated drop lists, no empty entries, no self-drops."""
    out: Grudge = {}
    for node in sorted(grudge):
        drops = sorted({d for d in grudge[node] if d != node})
        if drops:
            out[node] = drops
    return out


def bisect(nodes: Sequence[str]) -> tuple[list[str], list[str]]:
    """Cut ``nodes`` in two, in order; the smaller half first (Jepsen's ``bisect``)."""
    nodes = list(nodes)
    k = len(nodes) // 2
    return nodes[:k], nodes[k:]


def complete_grudge(components: Iterable[Iterable[str]]) -> Grudge:
    """Every node drops every node outside its own component."""
    comps = [set(c) for c in components]
    universe = set().union(*comps) if comps else set()
    grudge: dict[str, set[str]] = {}
    for comp in comps:
        for node in comp:
            grudge.setdefault(node, set()).update(universe - comp)
    return normalize(grudge)


def halves(nodes: Sequence[str]) -> Grudge:
    """Two halves in the given order, the smaller first: n1 n2 | n3 n4 n5."""
    return complete_grudge(bisect(nodes))


def random_halves(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Two randomly chosen halves (the minority has ``len(nodes) // 2`` nodes)."""
    shuffled = list(nodes)
    rng.shuffle(shuffled)
    return complete_grudge(bisect(shuffled))


def one(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Isolate one random node from all the others."""
    nodes = list(nodes)
    loner = rng.choice(nodes)
    return isolate(nodes, [loner])


def isolate(nodes: Sequence[str], isolated: Iterable[str]) -> Grudge:
    """Cut each node of ``isolated`` off from every other node (isolated nodes are also cut from
    each other: each is alone). Used to isolate the current primaries."""
    nodes = list(nodes)
    isolated = [n for n in dict.fromkeys(isolated)]
    unknown = [n for n in isolated if n not in nodes]
    if unknown:
        raise ValueError(f"cannot isolate unknown node(s) {unknown}; nodes are {nodes}")
    rest = [n for n in nodes if n not in isolated]
    return complete_grudge([[n] for n in isolated] + ([rest] if rest else []))


def bridge(nodes: Sequence[str]) -> Grudge:
    """Two halves that cannot talk to each other, plus one *bridge* node (the first of the
    second half) that talks to everyone: n1 n2 | n3 | n4 n5 for five nodes. Callers wanting a
    random bridge shuffle ``nodes`` first."""
    first, second = bisect(nodes)
    if not second:
        return {}
    b = second[0]
    grudge = complete_grudge([first, second])
    grudge.pop(b, None)
    return normalize({n: [d for d in drops if d != b] for n, drops in grudge.items()})


def random_bridge(nodes: Sequence[str], rng: random.Random) -> Grudge:
    shuffled = list(nodes)
    rng.shuffle(shuffled)
    return bridge(shuffled)


def bridge_at(nodes: Sequence[str], node: str, rng: random.Random) -> Grudge:
    """A bridge whose bridge node is ``node`` (e.g. the primary: the one node that still
    reaches both halves), the other nodes split at random into the two halves."""
    others = [n for n in nodes if n != node]
    rng.shuffle(others)
    half = len(others) // 2
    return bridge([*others[:half], node, *others[half:]])


def invert(nodes: Iterable[str], conns: Mapping[str, Iterable[str]]) -> Grudge:
    """From ``{node: nodes it IS connected to}`` to a grudge (nodes it is NOT connected to)."""
    universe = set(nodes)
    return normalize({n: universe - set(conns.get(n, ())) - {n} for n in universe})


def connections(nodes: Iterable[str], grudge: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """The inverse of :func:`invert`: ``{node: nodes it hears from}`` (itself included)."""
    universe = set(nodes)
    return {n: sorted(universe - set(grudge.get(n, ()))) for n in sorted(universe)}


def _majorities_ring_perfect(nodes: Sequence[str], rng: random.Random) -> Grudge:
    # A random ring; node i hears the majority window centred on it.
    ring = list(nodes)
    rng.shuffle(ring)
    n, m = len(ring), majority(len(ring))
    conns: dict[str, set[str]] = {}
    for start in range(n):
        window = [ring[(start + k) % n] for k in range(m)]
        conns[window[m // 2]] = set(window)
    return invert(ring, conns)


def _majorities_ring_stochastic(nodes: Sequence[str], rng: random.Random) -> Grudge:
    # Grow a connection graph by repeatedly linking a least-connected node to another
    # least-connected node it is not linked to yet, until every node hears a majority.
    nodes = list(nodes)
    m = majority(len(nodes))
    conns: dict[str, set[str]] = {n: {n} for n in nodes}
    while True:
        order = list(nodes)
        rng.shuffle(order)
        order.sort(key=lambda x: len(conns[x]))  # stable: random among equal degrees
        a = order[0]
        if len(conns[a]) >= m:
            return invert(nodes, conns)
        b = next(x for x in order if x not in conns[a])
        conns[a].add(b)
        conns[b].add(a)


def majorities_ring(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Every node hears a majority (itself included), but no two nodes hear the same majority
    (Jepsen's ``majorities-ring``). Exact ring for up to 5 nodes; for larger clusters Jepsen's
    stochastic construction, which guarantees the majorities but not that they all differ.
    The grudge may be asymmetric (a hears b while b drops a): that is the point."""
    nodes = list(nodes)
    if len(nodes) <= 5:
        return _majorities_ring_perfect(nodes, rng)
    return _majorities_ring_stochastic(nodes, rng)


def components(nodes: Iterable[str], grudge: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Groups of nodes that all hear each other in both directions, when the grudge is a
    clean split (as from :func:`complete_grudge`); otherwise groups of nodes with the same view.
    """
    view = connections(nodes, grudge)
    groups: dict[tuple[str, ...], list[str]] = {}
    for n, heard in view.items():
        groups.setdefault(tuple(heard), []).append(n)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g))


def describe(nodes: Iterable[str], grudge: Mapping[str, Iterable[str]]) -> str:
    """A short human description: ``n1 n2 | n3 n4 n5`` for a clean split, else per-node drops
    ``n1 -x n2,n3; n4 -x n1``; ``fully connected`` for an empty grudge."""
    nodes = sorted(set(nodes) | set(grudge))
    g = normalize(grudge)
    if not g:
        return "fully connected"
    comps = components(nodes, g)
    if complete_grudge(comps) == g:
        return " | ".join(" ".join(c) for c in comps)
    return "; ".join(f"{n} -x {','.join(d)}" for n, d in g.items())


def validate(nodes: Sequence[str], grudge: object) -> Grudge:
    """Check an explicit grudge (e.g. from an op's value) names only known nodes; normalized."""
    nodes = list(nodes)
    if not isinstance(grudge, Mapping):
        raise ValueError(f"a grudge is a mapping node -> [nodes it drops], got {grudge!r}")
    for k, v in grudge.items():
        if k not in nodes:
            raise ValueError(f"grudge names unknown node {k!r}; nodes are {nodes}")
        if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
            raise ValueError(f"grudge[{k!r}] must be a list of nodes, got {v!r}")
        bad = [d for d in v if d not in nodes]
        if bad:
            raise ValueError(f"grudge[{k!r}] names unknown node(s) {bad}; nodes are {nodes}")
    return normalize(grudge)


def one_way(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """An asymmetric cut: random halves A (the smaller) and B; every node of B drops what A
    sends, while A still hears B. Packets flow B -> A only, so a leader in A can send
    heartbeats that B never receives, and B's answers still reach A."""
    shuffled = list(nodes)
    rng.shuffle(shuffled)
    a, b = bisect(shuffled)
    return normalize({n: a for n in b})


def random_components(nodes: Sequence[str], rng: random.Random) -> Grudge:
    """Nodes shuffled and cut into 2 to ``max(2, ceil(len(nodes) / 2))`` non-empty groups of random
    sizes, each cut off from the others (for 5 nodes: 2 groups like 1|4 or 2|3, or up to
    3 groups like 1|1|3, 1|2|2). Unlike ``random-halves``, there may be no majority anywhere."""
    shuffled = list(nodes)
    if len(shuffled) < 2:
        return {}
    rng.shuffle(shuffled)
    k = rng.randint(2, max(2, (len(shuffled) + 1) // 2))
    cuts = sorted(rng.sample(range(1, len(shuffled)), k - 1))
    bounds = [0, *cuts, len(shuffled)]
    return complete_grudge(shuffled[bounds[i]:bounds[i + 1]] for i in range(k))


KINDS = ("random-halves", "halves", "one", "majorities-ring", "bridge", "primaries",
         "primary-bridge", "one-way", "random")


def for_kind(kind: str, nodes: Sequence[str], rng: random.Random) -> Grudge:
    """The grudge of a partition kind (``primaries`` and ``primary-bridge`` need the primaries:
    use :func:`isolate` and :func:`bridge_at`)."""
    if kind == "random-halves":
        return random_halves(nodes, rng)
    if kind == "halves":
        return halves(nodes)
    if kind == "one":
        return one(nodes, rng)
    if kind == "majorities-ring":
        return majorities_ring(nodes, rng)
    if kind == "bridge":
        return random_bridge(nodes, rng)
    if kind == "one-way":
        return one_way(nodes, rng)
    if kind == "random":
        return random_components(nodes, rng)
    raise ValueError(f"unknown partition kind {kind!r} (one of {', '.join(KINDS)})")
