"""Workload options from the command line (``--workload-option``) and YAML (``workload-options``):
bad ones are one line on stderr and exit 254, before anything starts; good ones reach the spec."""

import subprocess
import sys

import pytest

from harness.config import load_spec


def splitbrain(*args):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, fragment", [
    (["--workload", "bank", "--workload-option", "accounts=1"],
     "command line: --workload-option: bank workload: option accounts: expected at least 2 accounts, got 1"),
    (["--workload", "queue", "--workload-option", "dequeue_ratio=2"],
     "queue workload: option dequeue_ratio: expected a number between 0 and 1, got 2"),
    (["--workload", "multi-register", "--workload-option", "ops_per_key=0"],
     "multi-register workload: option ops_per_key: expected an int >= 1, got 0"),
    (["--workload", "bank", "--workload-option", "nope"], "--workload-option: expected KEY=VALUE"),
])
def test_bad_workload_option_is_one_line_and_exit_254(tmp_path, args, fragment):
    p = splitbrain("test", *args, "--store", str(tmp_path))
    assert p.returncode == 254, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert fragment in p.stderr


def test_yaml_workload_options_bad_value_names_the_file(tmp_path):
    spec = tmp_path / "t.yaml"
    spec.write_text("workload: bank\nworkload-options: {total: -5}\n")
    p = splitbrain("test", str(spec), "--store", str(tmp_path))
    assert p.returncode == 254 and "Traceback" not in p.stderr
    assert f"{spec.name}:2: workload-options: total:" in p.stderr
    assert "bank workload: option total: expected an int >= 0, got -5" in p.stderr


def test_options_reach_the_spec(tmp_path):
    spec = tmp_path / "t.yaml"
    spec.write_text("workload: bank\nworkload-options: {accounts: 8, total: 200}\n")
    assert load_spec(str(spec)).workload_options == {"accounts": 8, "total": 200}
