"""TestSpec loading and validation: good specs build, bad ones give one line naming file:line."""

import pytest

from harness.config import TestSpec, build_spec, load_spec
from harness.errors import InputError


def write(tmp_path, text, name="t.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_defaults_and_node_count():
    spec = build_spec({"nodes": 3, "seed": 7})
    assert spec.nodes == ("n1", "n2", "n3")
    assert spec.seed == 7
    assert spec.resolved_name() == "raft-register-partition"


def test_yaml_with_hyphen_keys_and_flag_override(tmp_path):
    path = write(tmp_path, "db: etcd\ntime-limit: 12\nnemesis: [partition]\n"
                           "db-options: {serializable: true}\nnodes: [a1, b2, c3]\n")
    spec = load_spec(path, {"time_limit": 5.0, "concurrency": None})
    assert spec.time_limit == 5.0
    assert spec.db_options == {"serializable": True}
    assert spec.nodes == ("a1", "b2", "c3")
    assert spec.concurrency == TestSpec().concurrency


def test_spec_roundtrips_through_its_yaml(tmp_path):
    spec = build_spec({"nodes": 3, "seed": 11, "rate": 20, "nemesis": "partition"})
    path = write(tmp_path, spec.to_yaml())
    again = load_spec(path)
    assert again == spec.__class__(**{**spec.__dict__, "name": spec.resolved_name()})


@pytest.mark.parametrize(
    "text, message",
    [
        ("db: etcd\ntime-limit: -3\n", "t.yaml:2: time-limit: must be > 0, got -3"),
        ("db: etcd\nworkload: [\n", "t.yaml:3:1: YAML syntax error:"),
        ("db: etcd\nbogus: 1\n", "t.yaml:2: bogus: unknown setting (valid:"),
        ("- a\n- b\n", "t.yaml:1: expected a mapping of settings, got list"),
        ("nodes: 0\n", "t.yaml:1: nodes: must be from 1 to 50 nodes, got 0"),
        ("nodes: [n1, n1]\n", "t.yaml:1: nodes: node 'n1' is listed twice"),
        ("nodes: ['a b']\n", "t.yaml:1: nodes: node name 'a b' must be a lowercase letter"),
        ("concurrency: 2.5\n", "t.yaml:1: concurrency: must be an integer from 1 to 1000, got 2.5"),
        ("rate: fast\n", "t.yaml:1: rate: must be a number, got 'fast'"),
        ("backend: vm\n", "t.yaml:1: backend: unknown backend 'vm' (valid: local, docker, ssh)"),
        ("db-options: 3\n", "t.yaml:1: db-options: must be a mapping, got int"),
        ("name: '../x'\n", "t.yaml:1: name: must be letters, digits"),
    ],
)
def test_bad_yaml_gives_one_line_with_location(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_spec(path)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(str(tmp_path / "t.yaml")[: -len("t.yaml")] + message.split(":", 1)[0])
    assert message.split(":", 1)[1] in msg


def test_missing_file_and_bad_flag_source(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_spec(str(tmp_path / "nope.yaml"))
    path = write(tmp_path, "time-limit: 10\n")
    with pytest.raises(InputError, match=r"^command line: time-limit: must be > 0, got -1"):
        load_spec(path, {"time_limit": -1.0})
