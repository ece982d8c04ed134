"""The commands target's pure parts: template rendering and quoting, YAML validation with
file:line:field messages, placeholder values, and client selection (no cluster needed)."""

import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.config import load_spec
from harness.errors import InputError
from harness.targets import make_target
from harness.targets.commands_clients import make_client_factory
from harness.targets.commands_options import (
    normalize_options,
    placeholder_values,
    placeholders_of,
    render,
)

HOSTILE = ["n1;touch pwned", "$(touch pwned)", "`touch pwned`", "a b", "it's", '"', "\\", "*",
           "x\ny", "&& touch pwned", "| touch pwned", "$HOME", "${IFS}touch${IFS}pwned", "-rf", "#", ""]

MINIMAL = {"start": "exec sleep 1000", "client": "redis", "port": 6379}


def _nodes(n=3):
    return [SimpleNamespace(name=f"n{i}", ip=f"10.0.0.{i}") for i in range(1, n + 1)]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_stays_one_word_and_runs_nothing(value, tmp_path):
    cmd = render("printf '%s\\n' {v} {node}", {"v": value, "node": value})
    res = subprocess.run(["sh", "-c", cmd], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{value}\n{value}\n"  # each value came back as exactly one argument
    assert not (tmp_path / "pwned").exists()
    assert list(tmp_path.iterdir()) == []


def test_vars_with_metacharacters_reach_the_command_as_data(tmp_path):
    o = normalize_options({**MINIMAL, "vars": {"token": "n1;touch pwned"},
                           "start": "echo {token} > {data_dir}/token"})
    node = _nodes(1)[0]
    values = placeholder_values(o, [node], node, str(tmp_path), "sb123456")
    (tmp_path / "data" / "db").mkdir(parents=True)
    subprocess.run(["sh", "-c", render(o["start"], values)], cwd=tmp_path, check=True)
    assert (tmp_path / "data" / "db" / "token").read_text() == "n1;touch pwned\n"
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("template, problem", [
    ("echo {node.__class__}", "plain name"),
    ("echo {node[0]}", "plain name"),
    ("echo {0}", "plain name"),
    ("echo {}", "plain name"),
    ("echo {node!r}", "conversions"),
    ("echo {node", "bad template"),
    ("echo node}", "bad template"),
])
def test_templates_only_take_plain_placeholders(template, problem):
    with pytest.raises(InputError, match=problem):
        normalize_options({**MINIMAL, "start": template})


def test_placeholders_of_lists_names_and_ignores_escaped_braces():
    assert placeholders_of("awk '{{print $1}}' {data_dir}/x {node}") == ["data_dir", "node"]
    assert render("awk '{{print $1}}' {f}", {"f": "a b"}) == "awk '{print $1}' 'a b'"


def test_placeholder_values_build_peers_and_primary():
    o = normalize_options({**MINIMAL, "vars": {"peer_port": 2380}, "primary": "n2",
                           "peer_format": "{node}=http://{ip}:{peer_port}"})
    nodes = _nodes()
    v = placeholder_values(o, nodes, nodes[0], "/run/sb/n1/", "sbabcdef")
    assert v["peers"] == ("n1=http://10.0.0.1:2380,n2=http://10.0.0.2:2380,"
                          "n3=http://10.0.0.3:2380")
    assert v["data_dir"] == "/run/sb/n1/data/db" and v["log_dir"] == "/run/sb/n1/logs"
    assert (v["primary"], v["primary_ip"], v["nodes"], v["prefix"]) == (
        "n2", "10.0.0.2", "n1,n2,n3", "sbabcdef")
    o2 = normalize_options({**MINIMAL, "primary": "n9"})
    with pytest.raises(InputError, match="primary: 'n9' is not one of the nodes"):
        placeholder_values(o2, nodes, nodes[0], "/x", "sbabcdef")


@pytest.mark.parametrize("options, message", [
    ({"client": "redis", "port": 1}, "db-options: start: missing"),
    ({**MINIMAL, "start": "exec x --dir {dir}"}, r"db-options: start: unknown placeholder \{dir\}"),
    ({**MINIMAL, "status": "true {primary}"}, r"unknown placeholder \{primary\}"),  # no primary set
    ({**MINIMAL, "strat": "x"}, "db-options: strat: unknown field"),
    ({**MINIMAL, "client": "mongo"}, "db-options: client: must be one of redis, etcd, raft"),
    ({**MINIMAL, "client": None}, "db-options: client: missing"),
    ({"start": "x", "client": "etcd"}, "db-options: port: missing"),
    ({**MINIMAL, "port": 70000}, "db-options: port: must be a port number"),
    ({**MINIMAL, "name": "a/b"}, "db-options: name: must be"),
    ({**MINIMAL, "vars": {"node": "x"}}, "db-options: vars: node: 'node' is a built-in placeholder"),
    ({**MINIMAL, "vars": {"x": [1]}}, "db-options: vars: x: must be a string or a number"),
    ({**MINIMAL, "log_files": {"../x": "/tmp/x"}}, r"db-options: log-files: \.\./x: log name"),
    ({**MINIMAL, "log_files": ["{nope}/x"]}, r"db-options: log-files: 0: unknown placeholder"),
    ({**MINIMAL, "peer_format": "{node}={data_dir}"}, r"peer-format: unknown placeholder \{data_dir\}"),
    ({**MINIMAL, "start_timeout": -1}, "db-options: start-timeout: must be"),
    ({**MINIMAL, "kill": ""}, "db-options: kill: must be a non-empty string"),
    ({**MINIMAL, "bug": "stale-read"}, "no planted bugs"),
])
def test_bad_options_name_the_field(options, message):
    with pytest.raises(InputError, match=message):
        normalize_options(options)


def test_yaml_errors_name_file_line_and_field(tmp_path):
    spec = tmp_path / "audit.yaml"
    spec.write_text(textwrap.dedent("""\
        db: commands
        db-options:
          port: 6379
          client: redis
          start: "exec redis-server --port {port}"
          status: "redis-cli -h {host} ping"
        workload: set
        """))
    with pytest.raises(InputError) as e:
        load_spec(str(spec))
    assert str(e.value).startswith(f"{spec}:6: db-options: status: unknown placeholder {{host}}")

    spec.write_text("db: commands\ndb-options:\n  port: 1\n  client: redis\n"
                    "  start: x\n  log-files:\n    - /a\n    - 7\n")
    with pytest.raises(InputError) as e:
        load_spec(str(spec))
    assert str(e.value).startswith(f"{spec}:8: db-options: log-files: 1: must be a path")


def test_the_cli_refuses_a_bad_block_in_one_line_with_exit_254(tmp_path):
    spec = tmp_path / "audit.yaml"
    spec.write_text("db: commands\ndb-options:\n  port: 6379\n  client: redis\n"
                    "  start: 'exec redis-server {node.__init__}'\n")
    res = subprocess.run([sys.executable, "-m", "harness.cli", "test", str(spec),
                          "--store", str(tmp_path / "store")], capture_output=True, text=True)
    assert res.returncode == 254
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert f"{spec}:5: db-options: start: bad template: placeholder {{node.__init__}} must be a plain name" in lines[0]
    assert not (tmp_path / "store").exists()  # refused before anything ran


def test_make_target_builds_a_db_and_a_client_factory():
    t = make_target("commands", {**MINIMAL, "primary": "n1", "client-options": {"key": "k:set"}})
    assert t.name == "commands"
    assert t.db.log_files() == {"db.log": "logs/db.log"}
    assert callable(t.db.kill) and callable(t.db.pause) and callable(t.db.primaries)
    assert t.client_factory.key == "k:set" and t.client_factory.port == 6379
    with pytest.raises(InputError, match="client-options: unknown option 'keys'"):
        make_target("commands", {**MINIMAL, "client-options": {"keys": "k"}})


class EchoClient:
    """A user client class (no setup/teardown/close): the smallest thing a user can write."""

    def __init__(self, node, options):
        self.node, self.options = node, options

    def invoke(self, op):
        return dict(op, type="ok", node=self.node.name, port=self.options["port"])


class EchoFactory:
    def __init__(self, options):
        self.options = options

    def open(self, node):
        return EchoClient(node, self.options)


@pytest.mark.parametrize("cls", ["EchoClient", "EchoFactory"])
def test_a_user_client_class_or_factory_gets_the_whole_client_interface(cls):
    factory = make_client_factory(f"{__name__}:{cls}", 7000, {"x": 1})
    client = factory.open(_nodes(1)[0])
    client.setup()
    assert client.invoke({"f": "read", "value": None}) == {
        "f": "read", "value": None, "type": "ok", "node": "n1", "port": 7000}
    client.teardown()
    client.close()


def test_a_user_client_that_cannot_be_imported_is_an_input_error():
    with pytest.raises(InputError, match="cannot import no_such_module_sb"):
        make_client_factory("no_such_module_sb:Client", 1, {})
    with pytest.raises(InputError, match="has no class Nope"):
        make_client_factory(f"{__name__}:Nope", 1, {})
    with pytest.raises(InputError, match="neither open"):
        make_client_factory(f"{__name__}:_NotAClient", 1, {})


class _NotAClient:
    pass


def test_the_redis_client_picks_its_key_from_the_workload_and_refuses_others():
    from workloads import make_workload

    def factory(**client_options):
        return make_target("commands", {**MINIMAL, "client-options": client_options}).client_factory

    f = factory()
    f.use_workload(make_workload("set", {}))
    assert f.key == "sb:set"
    f = factory()
    f.use_workload(make_workload("register", {}))
    assert f.key == "sb"
    with pytest.raises(InputError, match="key ending in ':set' for the set workload"):
        factory(key="plain").use_workload(make_workload("set", {}))
    with pytest.raises(InputError, match="cannot run the 'list-append' workload"):
        factory().use_workload(make_workload("list-append", {}))


AUDITS = sorted((Path(__file__).resolve().parents[2] / "docs" / "audits").glob("*.yaml"))


@pytest.mark.parametrize("path", AUDITS, ids=lambda p: p.name)
def test_the_shipped_audits_load_and_build_their_target(path):
    spec = load_spec(str(path))
    assert spec.db == "commands"
    t = make_target(spec.db, spec.db_options)
    nodes = _nodes(len(spec.nodes))
    for node in nodes:  # every template renders for every node
        for step in ("start", "status", "primaries"):
            values = placeholder_values(t.db.options, nodes, node, f"/run/sb/{node.name}", "sb000000")
            assert render(t.db.options[step], values)


@pytest.mark.parametrize("text, line, what", [
    # a YAML syntax error inside the block: the parser's line and column
    ('db: commands\ndb-options:\n  port: 6379\n  client: redis\n  start: "exec x\n', 6,
     "YAML syntax error"),
    # the block is not a mapping
    ("db: commands\ndb-options: [start, client]\n", 2, "db-options: must be a mapping"),
    # a wrong type deep in the block
    ("db: commands\ndb-options:\n  port: 6379\n  client: redis\n  start: x\n"
     "  vars:\n    peer_port: [2380]\n", 7, "db-options: vars: peer_port: must be a string or a number"),
    # a client option the built-in client does not know
    ("db: commands\ndb-options:\n  port: 6379\n  client: redis\n  start: x\n"
     "  client-options: {keys: 1}\n", 6, "db-options: client-options: unknown option 'keys'"),
])
def test_the_cli_names_file_line_and_field_for_a_bad_block(tmp_path, text, line, what):
    spec = tmp_path / "audit.yaml"
    spec.write_text(text)
    res = subprocess.run([sys.executable, "-m", "harness.cli", "test", str(spec),
                          "--store", str(tmp_path / "store")], capture_output=True, text=True)
    assert res.returncode == 254, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith(f"splitbrain: {spec}:{line}"), lines[0]
    assert what in lines[0], lines[0]
    assert not (tmp_path / "store").exists()
