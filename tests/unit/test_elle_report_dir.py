"""The runner hands every checker the run directory as ``report_dir``; the Elle checkers write
their cycle explanations and drawings there (``<run>/elle/``)."""

from pathlib import Path

import pytest

from checkers.elle import ElleListAppendChecker
from harness.history.formats import read_history

CASE = (Path(__file__).resolve().parents[2].parent / "shared" / "data" / "elle" / "cases"
        / "la-G-single-realtime.jsonl")


@pytest.mark.skipif(not CASE.exists(), reason=f"needs the shared test data ({CASE})")
def test_cycles_land_in_the_run_directory(tmp_path):
    history = read_history(CASE)
    result = ElleListAppendChecker().check({}, history, {"open_as_info": True,
                                                          "report_dir": str(tmp_path)})
    assert result["valid"] is False and "G-single-item-realtime" in result["anomaly_types"]
    written = sorted(p.name for p in (tmp_path / "elle").iterdir())
    assert written == ["G-single-item-realtime-0.dot", "G-single-item-realtime-0.svg",
                       "G-single-item-realtime.txt"]
    text = (tmp_path / "elle" / "G-single-item-realtime.txt").read_text()
    assert "a contradiction" in text
    assert (tmp_path / "elle" / "G-single-item-realtime-0.svg").read_text().startswith("<svg")


def test_a_valid_history_writes_nothing(tmp_path):
    history = [{"index": 0, "type": "invoke", "process": 0, "f": "txn", "value": [["append", 1, 1]]},
               {"index": 1, "type": "ok", "process": 0, "f": "txn", "value": [["append", 1, 1]]},
               {"index": 2, "type": "invoke", "process": 1, "f": "txn", "value": [["r", 1, None]]},
               {"index": 3, "type": "ok", "process": 1, "f": "txn", "value": [["r", 1, [1]]]}]
    result = ElleListAppendChecker().check({}, history, {"report_dir": str(tmp_path)})
    assert result["valid"] is True and not (tmp_path / "elle").exists()
