"""The counterexample page opens in a real headless browser (Debian chromium) without script
errors, and draws the ops: for Porcupine's kv c10-bad and one etcd log."""

import shutil
import subprocess
from pathlib import Path

import pytest

from checkers.linearizable import check_history, make_model
from harness.history.formats import read_history

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "porcupine"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

CASES = [
    pytest.param("kv/c10-bad.txt", "porcupine-kv", "kv", id="kv-c10-bad"),
    pytest.param("jepsen/etcd_000.log", "porcupine-etcd", "cas-register", id="etcd_000"),
]


def _chromium(tmp_path, *args):
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", *args],
        capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian: apt install chromium)")
@pytest.mark.parametrize("path,fmt,model", CASES)
def test_counterexample_page_draws_ops(tmp_path, path, fmt, model):
    if not (DATA / path).exists():
        pytest.skip("test data not found")
    r = check_history(read_history(str(DATA / path), fmt), make_model(model),
                      report_dir=str(tmp_path / "linearizable"))
    assert r["valid"] is False
    page = Path(r["counterexample"])
    assert page == tmp_path / "linearizable" / "counterexample.html"
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # self-contained
    url = page.as_uri()
    shot = tmp_path / "shot.png"
    res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,900", url)
    assert shot.exists() and shot.stat().st_size > 5000, res.stderr[-2000:]
    dom = _chromium(tmp_path, "--dump-dom", url)
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    html = dom.stdout
    drawn = html.count('class="op')
    assert drawn >= 10
    assert 'class="op failed"' in html
    assert html.count("linearized") >= 1  # the longest partial linearization is shown
    assert f'data-drawn="{drawn}"' in html
