"""``splitbrain check --checker elle-*``: flags, --json fields, exit codes, bad micro-ops."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "elle"


def _run(*args):
    return subprocess.run([sys.executable, "-m", "harness.cli", "check", *map(str, args)],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])


@pytest.fixture(autouse=True)
def _data():
    if not DATA.exists():
        pytest.skip("no test data")


def test_json_fields_and_exit_code():
    r = _run("--checker", "elle-list-append", "--json", "--consistency-model", "strict-serializable",
             DATA / "cases" / "la-G-single-realtime.jsonl")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["anomaly_types"] == ["G-single-item-realtime"]
    assert out["not"] == ["strong-snapshot-isolation"]


def test_anomalies_flag_and_key_flags():
    r = _run("--checker", "elle-rw-register", "--json", "--consistency-model", "none",
             "--anomalies", "G0", "--sequential-keys", DATA / "cases" / "rw-G0-sequential-keys.jsonl")
    assert json.loads(r.stdout)["anomaly_types"] == ["G0"]
    r = _run("--checker", "elle-rw-register", "--consistency-model", "serializable",
             DATA / "cases" / "rw-G-single-wfr.jsonl")
    assert r.returncode == 0
    r = _run("--checker", "elle-rw-register", "--consistency-model", "serializable", "--wfr-keys",
             DATA / "cases" / "rw-G-single-wfr.jsonl")
    assert r.returncode == 1


def test_bad_micro_op_is_one_line(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_text('{"index": 0, "type": "ok", "process": 0, "f": "txn", "value": [["r", "x", 3]]}\n')
    r = _run("--checker", "elle-list-append", p)
    assert r.returncode == 254
    assert r.stderr.count("\n") == 1 and "op 0: micro-op 0" in r.stderr
