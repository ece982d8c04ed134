"""`splitbrain check` on the published histories gives each its expected verdict.

One CLI call per data set checks every file and prints `path<TAB>verdict<TAB>seconds` lines,
which are compared with the verdicts the data sets ship (Porcupine's EXPECTED.txt, Knossos's).
"""

import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def expected_porcupine():
    out = {}
    for line in (DATA / "porcupine" / "EXPECTED.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith("jepsen/etcd_"):
            # etcd_095 is empty ("Ok-untested"): an empty history is trivially linearizable.
            verdict = "invalid" if parts[2] == "Illegal" else "valid"
            out[str(DATA / "porcupine" / parts[0])] = verdict
    return out


def expected_knossos():
    out = {}
    for line in (DATA / "knossos" / "EXPECTED.txt").read_text().splitlines():
        if line.startswith("cas-register/") and "expected=" in line:
            path = line.split()[0]
            verdict = line.split("expected=")[1].split()[0]
            if (DATA / "knossos" / path).exists():
                out[str(DATA / "knossos" / path)] = verdict
    return out


def run_check(files, *extra):
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "check", *extra, *files],
        capture_output=True, text=True, timeout=1800,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    got = {}
    for line in proc.stdout.splitlines():
        path, verdict, seconds = line.split("\t")
        float(seconds)
        got[path] = verdict
    return proc.returncode, got


@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data (the published histories)")
def test_porcupine_etcd_logs_all_get_their_expected_verdict():
    expected = expected_porcupine()
    assert len(expected) == 103
    files = sorted(expected)
    code, got = run_check(files, "--format", "porcupine-etcd", "--model", "cas-register")
    assert got == expected
    assert code == 1  # the worst verdict among them is invalid


@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data (the published histories)")
def test_knossos_cas_register_histories_all_get_their_expected_verdict():
    expected = expected_knossos()
    assert len(expected) > 30
    files = sorted(expected)
    code, got = run_check(files, "--model", "cas-register", "--initial", "0")
    assert got == expected
    assert code == 1
