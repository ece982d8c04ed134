"""The paxos target: registry, options (one clear InputError per bad one), node command line,
and ``splitbrain node paxos`` input errors (one line, exit 254)."""

import subprocess
import sys
from types import SimpleNamespace

import pytest

from harness.errors import InputError
from harness.targets import make_target
from harness.targets.paxos import PaxosClientFactory, PaxosDB, normalize_options


def test_the_registry_builds_the_paxos_target():
    t = make_target("paxos", {"bug": "forget-accepted"})
    assert t.name == "paxos" and isinstance(t.db, PaxosDB)
    assert isinstance(t.client_factory, PaxosClientFactory)
    assert t.db.options["bug"] == "forget-accepted"


@pytest.mark.parametrize("options, words", [
    ({"nope": 1}, "unknown option 'nope'"),
    ({"peer_port": 0}, "peer_port"),
    ({"peer_port": 7071}, "must differ"),
    ({"heartbeat_ms": 300}, "half"),
    ({"max_batch": "x"}, "max_batch"),
    ({"bug": "early-ack"}, "unknown bug 'early-ack' for paxos"),
    ({"key": ""}, "key"),
])
def test_bad_options_are_one_clear_error(options, words):
    with pytest.raises(InputError) as e:
        normalize_options(options)
    assert words in str(e.value) and str(e.value).startswith("paxos:")


def test_every_paxos_bug_is_accepted_and_raft_only_bugs_are_not():
    for bug in ("stale-read", "no-fsync", "skip-promise-check", "forget-accepted"):
        assert normalize_options({"bug": bug})["bug"] == bug
    with pytest.raises(InputError):
        normalize_options({"bug": "forget-vote"})


def test_node_command_line(tmp_path):
    db = PaxosDB({"bug": "skip-promise-check", "max_batch": 64})
    nodes = [SimpleNamespace(name=f"n{i}", ip=f"10.0.0.{i}") for i in (1, 2, 3)]
    remote = SimpleNamespace(node_dir=str(tmp_path / "n1"))
    cluster = SimpleNamespace(nodes=nodes, remote=lambda name: remote)
    argv = db.argv(cluster, nodes[0])
    assert argv[1:6] == ["-m", "harness.cli", "node", "paxos", "--id"]
    joined = " ".join(argv)
    assert "--peers n1=10.0.0.1:7070,n2=10.0.0.2:7070,n3=10.0.0.3:7070" in joined
    assert "--max-batch 64" in joined and argv[-2:] == ["--bug", "skip-promise-check"]
    assert argv[argv.index("--data") + 1].endswith("/n1/data/paxos")


CLI = [sys.executable, "-m", "harness.cli", "node", "paxos"]
OK = ["--id", "n1", "--listen", "127.0.0.1:7000", "--peers", "n1=127.0.0.1:7000,n2=127.0.0.1:7010"]


@pytest.mark.parametrize("args, words", [
    (OK + ["--data", "d", "--bug", "forget-vote"], "unknown bug"),
    (OK + ["--data", "d", "--max-batch", "0"], "--max-batch"),
    (["--id", "n9"] + OK[2:] + ["--data", "d"], "not in the list"),
])
def test_node_bad_input_is_one_line_and_exit_254(tmp_path, args, words):
    p = subprocess.run(CLI + args, capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert p.returncode == 254, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in p.stderr
