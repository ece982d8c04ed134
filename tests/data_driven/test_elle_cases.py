"""Every transcribed Elle test history in ../shared/data/elle/cases gives the anomaly types,
validity and ``not`` recorded in INDEX.json, with that case's options (and its "also" variants)."""

import json
from pathlib import Path

import pytest

from checkers.elle import ElleListAppendChecker, ElleRwRegisterChecker
from harness.history.formats import read_history

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "elle" / "cases"


def _options(o: dict) -> dict:
    # Elle's names ("consistency-models", "wfr-keys?") to ours.
    return {k.rstrip("?").replace("-", "_"): v for k, v in o.items()}


def _variants():
    index = DATA / "INDEX.json"
    if not index.exists():
        return []
    out = []
    for c in json.loads(index.read_text())["cases"]:
        out.append(pytest.param(c, c["options"], c["expected"], None, id=c["file"]))
        for i, a in enumerate(c.get("also", [])):
            e = a["expected"]
            if isinstance(e, str):  # "same as above"
                e = c["expected"]
            out.append(pytest.param(c, a["options"], e, a.get("history"),
                                    id=f"{c['file']}-also{i}"))
    return out


def _history(c, note):
    h = read_history(DATA / c["file"])
    if note is None:
        return h
    if note.startswith("first 4 ops only"):
        return h[:4]
    if note.startswith("first 2 completed txns only"):
        return [op for op in h if op["type"] == "ok"][:2]
    pytest.skip(f"history variant not transcribed: {note}")


@pytest.mark.parametrize("case,options,expected,note", _variants())
def test_elle_case(case, options, expected, note):
    cls = ElleListAppendChecker if case["workload"] == "list-append" else ElleRwRegisterChecker
    r = cls(_options(options)).check(None, _history(case, note), {})
    assert r["valid"] == expected["valid?"], r
    if "anomaly-types" in expected:
        assert r["anomaly_types"] == expected["anomaly-types"]
    if "not" in expected:
        assert r["not"] == expected["not"]


def test_index_has_all_29_cases():
    if not (DATA / "INDEX.json").exists():
        pytest.skip("no test data")
    assert len(json.loads((DATA / "INDEX.json").read_text())["cases"]) == 29


def test_snapshot_isolation_case_reports_no_g_single():
    """SI allows the G2-item here; a G-single (or SI violation) would be a false alarm."""
    path = DATA.parent / "elle" / "si-without-g-single.edn"
    r = ElleListAppendChecker({"consistency_models": ["snapshot-isolation", "repeatable-read"]}
                              ).check(None, read_history(path), {})
    assert r["anomaly_types"] == ["G2-item"]
    assert r["not"] == ["repeatable-read"]
    assert not any(t.startswith("G-single") for t in r["anomalies"])
