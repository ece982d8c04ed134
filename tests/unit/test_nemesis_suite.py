"""Pure parts of the nemesis suite: node picks, new grudges, packet rules, clock offsets,
packages and the composite nemesis (no I/O)."""

import random

import pytest

from harness.errors import EnvironmentProblem, InputError
from harness.generator import Simulator
from nemesis import grudge as G
from nemesis.clock import format_offset, random_delta
from nemesis.packages import CompositeNemesis, expand, make_nemesis_package
from nemesis.packet import chain_rules, needs_holder, validate
from nemesis.process import ProcessNemesis, pick_nodes

N5 = ["n1", "n2", "n3", "n4", "n5"]


@pytest.mark.parametrize("seed", range(30))
def test_pick_nodes_sizes(seed):
    rng = random.Random(seed)
    assert len(pick_nodes("one", N5, rng)) == 1
    assert 1 <= len(pick_nodes("minority", N5, rng)) <= 2
    assert len(pick_nodes("majority", N5, rng)) == 3
    assert pick_nodes("all", N5, rng) == N5
    assert pick_nodes("primaries", N5, rng, ["n4", "x", "n4"]) == ["n4"]
    assert len(pick_nodes("minority", N5[:3], rng)) == 1


def test_pick_nodes_unknown_spec():
    with pytest.raises(ValueError, match="unknown target"):
        pick_nodes("most", N5, random.Random())


@pytest.mark.parametrize("seed", range(50))
def test_one_way_is_asymmetric_and_random_cuts_components(seed):
    g = G.one_way(N5, random.Random(seed))
    droppers = set(g)
    dropped = {d for v in g.values() for d in v}
    assert len(droppers) == 3 and len(dropped) == 2 and not droppers & dropped
    assert all(a not in g for a in dropped)          # the dropped side hears everyone
    r = G.random_components(N5, random.Random(seed))
    comps = G.components(N5, r)
    assert 2 <= len(comps) <= 3 and sorted(n for c in comps for n in c) == N5
    assert G.complete_grudge(comps) == r
    assert G.for_kind("one-way", N5, random.Random(seed)) == g


def test_random_components_covers_several_shapes():
    shapes = {tuple(len(c) for c in G.components(N5, G.random_components(N5, random.Random(s))))
              for s in range(200)}
    assert {(4, 1), (3, 2), (3, 1, 1), (2, 2, 1)} <= shapes


def test_packet_validate_and_rules():
    assert validate({"loss": 0.5, "nodes": ["n1"]}) == {"loss": 0.5, "nodes": ["n1"]}
    for bad in ({"loss": 2}, {"delay_ms": -1}, {"rate": "fast"}, {"bogus": 1}):
        with pytest.raises(ValueError):
            validate(bad)
    assert not needs_holder({"loss": 0.1, "rate": "1mbit"})
    assert needs_holder({"reorder": 0.1})
    lines = chain_rules("sbx-pkt", ["10.0.0.2", "10.0.0.3"], {"loss": 0.25, "delay_ms": 5})
    assert "-A sbx-pktin -s 10.0.0.2/32 -m statistic --mode random --probability 0.2500 -j DROP" in lines
    assert "-A sbx-pkt -d 10.0.0.3/32 -j NFQUEUE --queue-num 4242 --queue-bypass" in lines
    assert lines[3] == "-A sbx-pkt -m mark --mark 0x5b1 -j RETURN"   # holder's own packets pass
    assert lines[-2:] == ["COMMIT", ""]


def test_clock_offsets():
    assert format_offset(0) == "+0" and format_offset(-0.0) == "+0"
    assert format_offset(12.5) == "+12.5" and format_offset(-3) == "-3"
    rng = random.Random(1)
    ds = [random_delta(rng, 30) for _ in range(500)]
    assert all(0.003 <= abs(d) <= 30 for d in ds)
    assert any(d < 0 for d in ds) and any(d > 0 for d in ds)
    assert any(abs(d) < 0.1 for d in ds) and any(abs(d) > 10 for d in ds)


def test_expand_all():
    assert expand(["all"]) == ["partition", "kill", "pause", "clock", "packet"]
    assert expand(["kill", "all", "none", "files"]) == ["kill", "partition", "pause", "clock",
                                                        "packet", "files"]
    assert make_nemesis_package(["none"], {}, random.Random()) is None


def test_package_errors_name_the_problem():
    with pytest.raises(InputError, match="unknown nemesis 'fire'"):
        make_nemesis_package(["fire"], {}, random.Random())
    with pytest.raises(InputError, match="unknown option 'speed'"):
        make_nemesis_package(["kill"], {"speed": 1}, random.Random())
    with pytest.raises(InputError, match="kill-targets: unknown value 'most'"):
        make_nemesis_package(["kill"], {"kill-targets": "most"}, random.Random())
    with pytest.raises(InputError, match="partition: unknown value 'pie'"):
        make_nemesis_package(["partition"], {"partition": "pie"}, random.Random())
    with pytest.raises(InputError, match="interval: must be a number > 0"):
        make_nemesis_package(["all"], {"interval": 0}, random.Random())


def test_all_package_routes_every_scheduled_op_and_heals_every_kind():
    pkg = make_nemesis_package(["all"], {"interval": 1}, random.Random(3))
    nem = pkg.nemesis
    assert isinstance(nem, CompositeNemesis)
    from harness import generator as gen

    ops = Simulator(concurrency=1).run(gen.limit(200, gen.nemesis(pkg.generator)))
    fs = {o["f"] for o in ops if o.get("f")}
    assert fs <= nem.fs
    for name in ("partition", "kill", "pause", "clock", "packet"):
        assert f"start-{name}" in fs and f"stop-{name}" in fs
    assert [o["f"] for o in pkg.final_generator] == ["stop-partition", "stop-kill", "stop-pause",
                                                     "stop-clock", "stop-packet"]


class Recorder:
    def __init__(self, fs, fail=False):
        self.fs = frozenset(fs)
        self.calls = []
        self.fail = fail

    def setup(self, cluster, db=None):
        self.calls.append("setup")

    def invoke(self, op):
        self.calls.append(op["f"])
        return dict(op, type="info")

    def heal_all(self):
        self.calls.append("heal")
        if self.fail:
            raise RuntimeError("boom")

    def teardown(self):
        self.calls.append("teardown")


def test_composite_routes_by_f_and_heals_all_parts_despite_failures():
    a, b = Recorder({"start-a", "stop-a"}, fail=True), Recorder({"start-b", "stop-b"})
    c = CompositeNemesis({"a": a, "b": b}).setup(None, None)
    c.invoke({"f": "start-b"})
    c.invoke({"f": "stop-a"})
    with pytest.raises(ValueError, match="no nemesis handles"):
        c.invoke({"f": "start-c"})
    with pytest.raises(EnvironmentProblem, match="a: boom"):
        c.heal_all()
    assert a.calls == ["setup", "stop-a", "heal"] and b.calls == ["setup", "start-b", "heal"]
    with pytest.raises(ValueError, match="two nemeses"):
        CompositeNemesis({"a": a, "a2": Recorder({"start-a"})})


def test_process_heal_all_is_safe_before_setup():
    ProcessNemesis().heal_all()
