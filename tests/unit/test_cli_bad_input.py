"""Bad input on the command line: one line on stderr, exit 254, never a traceback."""

import json
import subprocess
import sys

import pytest


def splitbrain(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True, text=True, cwd=cwd, timeout=120,
    )


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 254, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])


def test_yaml_syntax_error(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("db: etcd\nnemesis: [partition\n")
    assert_one_line_error(splitbrain("test", str(spec)), f"{spec}:", "YAML syntax error")


def test_unknown_workload(tmp_path):
    proc = splitbrain("test", "--workload", "nope", "--store", str(tmp_path))
    assert_one_line_error(proc, "workload", "'nope'", "register")


def test_negative_time_limit(tmp_path):
    proc = splitbrain("test", "--time-limit", "-5", "--store", str(tmp_path))
    assert_one_line_error(proc, "command line: time-limit: must be > 0, got -5")


def test_unknown_flag():
    assert_one_line_error(splitbrain("test", "--frobnicate"), "unrecognized arguments: --frobnicate")


def test_truncated_history_line(tmp_path):
    h = tmp_path / "h.jsonl"
    h.write_text('{"type":"invoke","process":0,"f":"read","value":null}\n{"type":"ok","proc')
    assert_one_line_error(splitbrain("check", str(h), "--format", "jsonl"), f"{h}:2")


def test_invoke_without_completion(tmp_path):
    h = tmp_path / "h.jsonl"
    ops = [
        {"type": "invoke", "process": 0, "f": "write", "value": 1},
        {"type": "ok", "process": 0, "f": "write", "value": 1},
        {"type": "invoke", "process": 1, "f": "read", "value": None},
    ]
    h.write_text("".join(json.dumps(o) + "\n" for o in ops))
    assert_one_line_error(splitbrain("check", str(h)), str(h), "no completion")


def test_missing_history_file(tmp_path):
    assert_one_line_error(splitbrain("check", str(tmp_path / "none.jsonl")), "no such file")


def test_bad_initial_json(tmp_path):
    h = tmp_path / "h.jsonl"
    h.write_text("")
    assert_one_line_error(splitbrain("check", str(h), "--initial", "{oops"), "--initial must be JSON")


@pytest.mark.parametrize("model", ["bogus"])
def test_unknown_model(tmp_path, model):
    h = tmp_path / "h.jsonl"
    h.write_text('{"type":"invoke","process":0,"f":"read","value":null}\n'
                 '{"type":"ok","process":0,"f":"read","value":null}\n')
    assert_one_line_error(splitbrain("check", str(h), "--model", model), "bogus")


def test_check_valid_and_invalid_histories_exit_codes(tmp_path):
    good = tmp_path / "good.jsonl"
    bad = tmp_path / "bad.jsonl"
    w = [{"type": "invoke", "process": 0, "f": "write", "value": 1},
         {"type": "ok", "process": 0, "f": "write", "value": 1}]
    good.write_text("".join(json.dumps(o) + "\n" for o in w + [
        {"type": "invoke", "process": 1, "f": "read", "value": None},
        {"type": "ok", "process": 1, "f": "read", "value": 1}]))
    bad.write_text("".join(json.dumps(o) + "\n" for o in w + [
        {"type": "invoke", "process": 1, "f": "read", "value": None},
        {"type": "ok", "process": 1, "f": "read", "value": 2}]))
    p = splitbrain("check", str(good))
    assert p.returncode == 0, p.stderr
    path, verdict, seconds = p.stdout.strip().split("\t")
    assert (path, verdict) == (str(good), "valid") and float(seconds) >= 0
    p = splitbrain("check", str(good), str(bad))
    assert p.returncode == 1
    assert [l.split("\t")[1] for l in p.stdout.strip().splitlines()] == ["valid", "invalid"]
    p = splitbrain("check", "--json", str(bad))
    assert p.returncode == 1
    assert json.loads(p.stdout)["valid"] is False
