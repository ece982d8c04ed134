"""db/workload/nemesis option errors name the file:line (or the flag) that set them (issue 11)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.config import load_spec
from harness.errors import InputError
from harness.plugin_settings import check_plugin_settings, nested_key_lines


def check(tmp_path, text: str, flags: dict | None = None) -> str:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    flags = flags or {}
    spec = load_spec(str(path), flags)
    with pytest.raises(InputError) as e:
        check_plugin_settings(spec, str(path), flags)
    return str(e.value).replace(str(path), "t.yaml")


def test_unknown_db_option_names_its_line(tmp_path):
    msg = check(tmp_path, "db: raft\nnodes: 3\ndb-options:\n  heartbeat_ms: 50\n  bogus: 1\n")
    assert msg.startswith("t.yaml:5: db-options: bogus: raft: unknown option 'bogus' (valid: ")


def test_bad_db_option_value_names_its_line(tmp_path):
    msg = check(tmp_path, "db: etcd\ndb-options:\n  serializable: maybe\n")
    assert msg == ("t.yaml:3: db-options: serializable: etcd: option serializable: "
                   "wrong type str ('maybe')")


def test_bad_nemesis_option_names_its_line_once(tmp_path):
    msg = check(tmp_path, "nemesis: [partition]\nnemesis-options:\n  partition: halves\n"
                          "  interval: -3\n")
    assert msg == "t.yaml:4: nemesis-options: interval: must be a number > 0, got -3"


def test_unknown_nemesis_names_the_nemesis_line(tmp_path):
    msg = check(tmp_path, "db: raft\nnemesis: [partition, meteor]\n")
    assert msg.startswith("t.yaml:2: nemesis: unknown nemesis 'meteor' (valid: ")


def test_bug_in_file_names_the_bug_line(tmp_path):
    msg = check(tmp_path, "db: raft\nbug: nosuch\n")
    assert msg.startswith("t.yaml:2: bug: raft: option bug: unknown bug 'nosuch'")


def test_a_flag_is_blamed_on_the_flag_not_the_file(tmp_path):
    msg = check(tmp_path, "db: raft\n", {"nemesis_options": {"interval": 0}})
    assert msg == "command line: --nemesis-option: interval: must be a number > 0, got 0"


def test_valid_settings_pass(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("db: raft\ndb-options: {heartbeat_ms: 50}\nnemesis: [kill]\n"
                    "nemesis-options: {interval: 2}\n")
    check_plugin_settings(load_spec(str(path)), str(path), {})


def test_nested_key_lines_either_spelling():
    assert nested_key_lines("a: 1\ndb_options:\n  x: 1\n  y: 2\n", "db_options") == {"x": 3, "y": 4}
    assert nested_key_lines("db-options: 3\n", "db_options") == {}
    assert nested_key_lines("[1, 2", "db_options") == {}


def test_cli_prints_one_line_and_exits_254(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("db: raft\nnodes: 3\ndb-options:\n  bogus: 1\n")
    r = subprocess.run([sys.executable, "-m", "harness.cli", "test", str(path), "--store",
                        str(tmp_path / "store")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 254
    assert r.stderr.startswith(f"splitbrain: {path}:4: db-options: bogus: raft: unknown option")
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "store").exists()
