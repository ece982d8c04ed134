"""timeline.html: data layout, escaping, and a self-contained page (no network)."""

import json
import re

from harness.report.synthetic import synthetic_history
from harness.report.timeline import render_timeline, timeline_data, write_timeline


def _embedded(page: str) -> dict:
    m = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
    assert m
    return json.loads(m.group(1))


def test_one_column_per_process_and_one_row_per_op():
    h = synthetic_history(300, concurrency=3, seed=2)
    d = timeline_data(h, "t")
    procs = {str(o["process"]) for o in h if o["process"] != "nemesis"}
    assert sorted(d["procs"], key=int) == sorted(procs, key=int)
    assert len(d["ops"]) == 300
    col, start, end, typ, f, index = d["ops"][0][:6]
    assert 0 <= col < len(d["procs"]) and start <= end and typ in (0, 1, 2)
    assert d["fs"][f] in ("read", "write", "cas") and h[index]["type"] == "invoke"
    assert d["nemesis"] and d["nemesis"][0][0] == "partition"


def test_values_cannot_break_out_of_the_script_element(tmp_path):
    h = [{"index": 0, "time": 0, "type": "invoke", "process": 0, "f": "write",
          "value": "</script><script>alert(1)</script>"},
         {"index": 1, "time": 5, "type": "ok", "process": 0, "f": "write",
          "value": "</script><script>alert(1)</script>"}]
    page = write_timeline(tmp_path / "t.html", h, title="<b>x</b>").read_text()
    assert "</script><script>alert" not in page
    assert "<b>x</b>" not in page
    assert _embedded(page)["ops"][0][7] == json.dumps("</script><script>alert(1)</script>")


def test_page_is_self_contained():
    page = render_timeline(synthetic_history(50, seed=1), "t")
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "fetch(" not in page and "XMLHttpRequest" not in page
