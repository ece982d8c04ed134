"""Porcupine's 103 etcd Jepsen logs: our verdict (Jepsen semantics, cas-register, initial None)
must match Porcupine's (EXPECTED.txt: Ok -> valid, Illegal -> invalid).

Porcupine's own etcd model treats a ``:fail :cas`` as an observation (the compare did not match
the state at some point in the op's interval); Jepsen semantics drop failed ops. Both give the
same verdict on every one of these logs.
"""

from pathlib import Path

import pytest

from checkers.linearizable import LinearizableChecker, make_model
from harness.history.formats import read_history

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "porcupine"
TIMEOUT_S = 60


def _cases():
    cases = []
    expected = DATA / "EXPECTED.txt"
    if not expected.exists():
        return cases
    for line in expected.read_text().splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[1] != "etcd":
            continue
        path, verdict = parts[0], parts[2]
        if verdict.startswith("Ok"):
            cases.append(pytest.param(path, True, id=path))
        elif verdict.startswith("Illegal"):
            cases.append(pytest.param(path, False, id=path))
        else:
            raise AssertionError(f"unexpected verdict in EXPECTED.txt: {line!r}")
    return cases


CASES = _cases()


def test_all_etcd_logs_are_covered():
    if not DATA.exists():
        pytest.skip(f"test data not found at {DATA}")
    logs = sorted(p.name for p in (DATA / "jepsen").glob("etcd_*.log"))
    assert len(logs) == 103
    assert sorted(Path(c.values[0]).name for c in CASES) == logs


@pytest.mark.parametrize("path,expected", CASES)
def test_etcd_log_verdict(path, expected):
    history = read_history(str(DATA / path), "porcupine-etcd")
    checker = LinearizableChecker(make_model("cas-register", None), timeout_s=TIMEOUT_S)
    result = checker.check(None, history, None)
    assert result["valid"] is expected, result.get("explanation") or result
    if expected is False:
        assert result["failed_op"]["type"] == "ok"
        assert result["explanation"]
