"""Porcupine's kv histories (get/put/append): our verdict must match EXPECTED.txt, partitioned by
key (P-compositionality) and, for the ``kv-nopart`` lines, as one search over the whole map."""

from pathlib import Path

import pytest

from checkers.linearizable import check_history, make_model
from harness.history.formats import read_history

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "porcupine"


def _cases():
    expected = DATA / "EXPECTED.txt"
    if not expected.exists():
        return []
    cases = []
    for line in expected.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in ("kv", "kv-nopart"):
            cases.append(pytest.param(parts[0], parts[1] == "kv", parts[2].startswith("Ok"),
                                      id=f"{parts[0]}-{parts[1]}"))
    return cases


CASES = _cases()


def test_every_kv_history_is_listed():
    if not DATA.exists():
        pytest.skip(f"test data not found at {DATA}")
    on_disk = sorted(p.name for p in (DATA / "kv").glob("*.txt"))
    assert len(on_disk) == 6
    assert sorted({Path(c.values[0]).name for c in CASES if c.values[1]}) == on_disk


@pytest.mark.parametrize("path,partition,expected", CASES)
def test_kv_verdict(path, partition, expected):
    history = read_history(str(DATA / path), "porcupine-kv")
    r = check_history(history, make_model("kv"), timeout_s=120, partition=partition)
    assert r["valid"] is expected, r.get("explanation") or r
    if partition:
        assert r["partitions"] > 1  # one per key
    else:
        assert r["partitions"] == 1
    if expected is False:
        assert r["failed_op"]["f"] == "get" and r["failed_op"]["type"] == "ok"
        assert r["final_paths"] and r["states"]
