"""Every Knossos/Elle history in ../shared/data parses, with the op counts Knossos's EXPECTED.txt gives."""

import collections
import functools
import json
import re
from pathlib import Path

import pytest

from harness.history import detect_format, pair_ops, read_edn_history, read_history

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
if not DATA.is_dir():
    pytest.skip(f"test data not found at {DATA}", allow_module_level=True)

KNOSSOS = DATA / "knossos"
ELLE = DATA / "elle"

_EXPECTED_LINE = re.compile(
    r"(\S+) bytes=(\d+) invoke=(\d+) ok=(\d+) fail=(\d+) info=(\d+) procs=(\d+) f=(\S+) expected=")


def knossos_expected():
    rows = {}
    for line in (KNOSSOS / "EXPECTED.txt").read_text().splitlines():
        m = _EXPECTED_LINE.match(line)
        if m:
            name, size, inv, ok, fail, info, procs, fs = m.groups()
            rows[name] = dict(bytes=int(size), invoke=int(inv), ok=int(ok), fail=int(fail), info=int(info),
                              procs=int(procs), f=fs.split(","))
    return rows


EXPECTED = knossos_expected()


@functools.lru_cache(maxsize=None)
def _load(path: Path) -> tuple:
    return tuple(read_edn_history(path))


def load(path) -> list:
    """read_edn_history, parsed once per file for this module (the tests do not modify ops)."""
    return list(_load(Path(path).resolve()))
EDN_FILES = sorted(p for p in (list(KNOSSOS.rglob("*.edn")) + list(ELLE.rglob("*.edn"))))


def test_expected_covers_every_knossos_file():
    assert len(EXPECTED) == 122
    on_disk = {str(p.relative_to(KNOSSOS)) for p in KNOSSOS.rglob("*.edn")}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_knossos_counts_match_expected(name):
    path = KNOSSOS / name
    row = EXPECTED[name]
    assert path.stat().st_size == row["bytes"]
    ops = load(path)
    counts = collections.Counter(op["type"] for op in ops)
    assert {t: counts[t] for t in ("invoke", "ok", "fail", "info")} == {
        t: row[t] for t in ("invoke", "ok", "fail", "info")}
    assert len({op["process"] for op in ops}) == row["procs"]
    assert sorted({op["f"] for op in ops}) == row["f"]
    assert [op["index"] for op in ops] == list(range(len(ops))) or name == "mutex/bad/etcd.edn"
    # Knossos histories may end with invokes that never completed (crashed clients):
    # they pair once completed as info, and nemesis ops are left out.
    pairs = pair_ops(ops, open_as_info=True)
    assert len(pairs) == row["invoke"]
    assert all(inv["process"] != "nemesis" for inv, _ in pairs)


def test_knossos_open_invokes_are_what_the_files_say():
    # bad-analysis.edn: "; Value is 0, pending crashed read by process 6"
    ops = load(KNOSSOS / "cas-register/bad/bad-analysis.edn")
    open_ = [inv for inv, comp in pair_ops(ops, open_as_info=True) if comp.get("synthesized")]
    assert [(op["process"], op["f"]) for op in open_] == [(6, "read"), (20, "write")]
    assert ops[0] == {"index": 0, "process": 4, "type": "invoke", "f": "write", "value": 2}


def test_knossos_values():
    ops = read_edn_history(KNOSSOS / "cas-register/bad/cas-failure.edn")
    assert ops[8] == {"index": 8, "process": 78, "type": "invoke", "f": "cas", "value": [2, 1]}
    nemesis = [op for op in ops if op["process"] == "nemesis"]
    assert {op["type"] for op in nemesis} == {"info"}
    assert nemesis[-1]["value"] == "fully connected"
    multi = read_edn_history(KNOSSOS / "multi-register/good/multi-register.edn")
    assert multi[0] == {"index": 0, "type": "invoke", "f": "txn", "value": [["read", "x", None]],
                        "process": 3, "time": 7686455705}
    mutex = read_edn_history(KNOSSOS / "mutex/bad/etcd.edn")
    assert mutex[1]["error"] == "not-held"
    assert mutex[-1]["error"] == ["not-found", "etcdserver: requested lease not found"]


@pytest.mark.parametrize("path", EDN_FILES, ids=lambda p: str(p.relative_to(DATA)))
def test_every_edn_file_parses(path):
    assert detect_format(path) == "edn"
    ops = load(path)
    assert ops, path
    assert all(op["type"] in ("invoke", "ok", "fail", "info") for op in ops)


def test_elle_histories():
    huge = load(ELLE / "elle/huge-scc.edn")
    counts = collections.Counter(op["type"] for op in huge)
    assert len(huge) == 20602
    assert counts == {"invoke": 10254, "ok": 3036, "fail": 7070, "info": 242}  # as MANIFEST.txt says
    assert huge[2] == {"type": "ok", "f": "txn", "value": [["append", 11, 1], ["r", 11, [1]], ["r", 11, [1]]],
                       "process": 10, "time": 31076248, "index": 2}
    paper = read_edn_history(ELLE / "elle/paper-example.edn")
    assert all("process" not in op and "f" not in op for op in paper)  # as MANIFEST.txt notes
    assert paper[3]["value"] == [["append", 255, 8], ["r", 253, [1, 3, 4]]]
    si = read_edn_history(ELLE / "elle/si-without-g-single.edn")
    assert [op["index"] for op in si] == [10, 11, 20, 21, 30, 31, 40, 41]
    comments = read_edn_history(ELLE / "elle-cli/custom/comments.edn")
    assert comments[-1]["value"][:3] == [2, 10, 15] and len(comments[-1]["value"]) == 62
    bank = read_edn_history(ELLE / "elle-cli/jepsen/bank-neg.edn")
    assert bank[1]["value"] == {0: 10, 1: 10, 2: 10}
    tidb = load(ELLE / "elle-cli/jepsen/bank-tidb.edn")
    assert tidb[2]["value"] == {"from": 3, "to": 0, "amount": 1}


@pytest.mark.parametrize("name", [
    "elle/paper-example", "elle/rw-register", "jepsen/bank", "jepsen/counter", "jepsen/set_full",
    "knossos/cas-register/good/memstress3-9", "knossos/mutex/bad/etcd",
])
def test_elle_cli_json_equals_edn(name):
    base = ELLE / "elle-cli" / name
    as_json = read_history(base.with_suffix(".json"))
    as_edn = read_history(base.with_suffix(".edn"))
    assert detect_format(base.with_suffix(".json")) == "json"
    # EDN maps keep integer keys ({0 100}); JSON can only have strings ({"0": 100}).
    assert json.loads(json.dumps(as_edn)) == as_json


def test_elle_cli_knossos_copies_match_knossos():
    for p in (ELLE / "elle-cli/knossos").rglob("*.edn"):
        assert load(p) == load(KNOSSOS / p.relative_to(ELLE / "elle-cli/knossos"))


def test_elle_cases_jsonl():
    cases = json.loads((ELLE / "cases/INDEX.json").read_text())["cases"]
    assert len(cases) == 29
    for case in cases:
        ops = read_history(ELLE / "cases" / case["file"])
        assert len(ops) == case["ops"], case["file"]
