"""The elle and elle-cli list-append / rw-register histories give their MANIFEST.txt results."""

from pathlib import Path

import pytest

from checkers.elle import ElleListAppendChecker, ElleRwRegisterChecker
from harness.history.formats import read_history

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "elle"
LA, RW = ElleListAppendChecker, ElleRwRegisterChecker

# (file, checker, options, valid, anomaly types or None, not or None), from MANIFEST.txt.
CASES = [
    ("elle-cli/elle/paper-example.edn", LA, {}, False, ["G-single-item"], None),
    ("elle-cli/elle/paper-example.json", LA, {}, False, ["G-single-item"], None),
    ("elle/paper-example.edn", LA, {}, False, ["G-single-item"], None),
    ("elle-cli/elle/list-append-gh-30.edn", LA, {"consistency_models": ["serializable"]},
     False, ["G2-item"], None),
    ("elle-cli/elle/rw-register.edn", RW, {}, True, [], None),
    ("elle-cli/elle/rw-register.json", RW, {}, True, [], None),
    ("elle/si-without-g-single.edn", LA,
     {"consistency_models": ["snapshot-isolation", "repeatable-read"]},
     False, ["G2-item"], ["repeatable-read"]),
]


@pytest.mark.parametrize("path,cls,opts,valid,types,nots", CASES, ids=[c[0] for c in CASES])
def test_manifest_history(path, cls, opts, valid, types, nots):
    if not (DATA / path).exists():
        pytest.skip("no test data")
    r = cls(opts).check(None, read_history(DATA / path), {})
    assert r["valid"] is valid
    if types is not None:
        assert r["anomaly_types"] == types
    if nots is not None:
        assert r["not"] == nots


def test_huge_scc_is_invalid():
    """MANIFEST: valid? false (Elle also times out in this 1,161-transaction SCC); the verdict
    stands whatever the search finishes, and the timeout is reported."""
    path = DATA / "elle" / "huge-scc.edn"
    if not path.exists():
        pytest.skip("no test data")
    r = LA({"cycle_search_timeout": 0.5}).check(None, read_history(path), {})
    assert r["valid"] is False
    assert any(t.endswith("-realtime") or t.startswith("G") for t in r["anomaly_types"])
    assert "strict-serializable" in r["not"] + r["also_not"]
