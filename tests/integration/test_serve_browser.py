"""``splitbrain serve`` driven by headless Chromium: the run list, a run with its plots and
timeline, a counterexample page, a 100,000-op timeline, and refused traversal requests.

The store is synthetic (harness.report.synthetic): the UI is what is under test, not a cluster.
Screenshots go to the test's tmp dir (docs/images/screenshots.py makes the docs' pictures the
same way, from real runs).
"""

import http.client
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.report.synthetic import write_synthetic_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt install chromium)")

REPO = Path(__file__).resolve().parents[2]
BIG = 100_000


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    write_synthetic_run(root, "etcd-register-partition", n_ops=1000, seed=11, now=1_790_000_000)
    write_synthetic_run(root, "etcd-register-partition", n_ops=1000, seed=12, stale_read_at=150,
                        now=1_790_000_100)
    write_synthetic_run(root, "etcd-register-none", n_ops=600, seed=13, now=1_790_000_200)
    write_synthetic_run(root, "big-register-partition", n_ops=BIG, seed=14, now=1_790_000_300,
                        reports=False, check=False, timeline=True)
    return root


@pytest.fixture(scope="module")
def server(store):
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--store", str(store),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, f"serve printed {line!r}, stderr: {proc.stderr.read() if proc.poll() else ''}"
        yield f"http://127.0.0.1:{m.group(1)}", int(m.group(1))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def chromium(tmp_path, url, *, dom=False, screenshot=None, size="1280,900", budget=8000):
    """Run headless Chromium on ``url``: its DOM after scripts ran, or a screenshot."""
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-extensions", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--window-size={size}",
            f"--virtual-time-budget={budget}"]
    if dom:
        argv.append("--dump-dom")
    if screenshot:
        argv.append(f"--screenshot={screenshot}")
    r = subprocess.run(argv + [url], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    if screenshot:
        assert Path(screenshot).stat().st_size > 10_000, "a blank screenshot"
    return r.stdout


def run_rel(store, name, n=0):
    runs = sorted(p for p in (store / name).iterdir() if not p.is_symlink())
    return runs[n].relative_to(store).as_posix()


def test_run_list_shows_the_runs(server, store, tmp_path):
    base, _ = server
    dom = chromium(tmp_path, base + "/", dom=True)
    assert dom.count('<tr class="run">') == 4
    assert dom.count('class="v invalid"') == 1
    chromium(tmp_path, base + "/", screenshot=str(tmp_path / "serve-runs.png"), size="1280,420")


def test_run_page_shows_plots_and_timeline(server, store, tmp_path):
    base, _ = server
    url = f"{base}/run/{run_rel(store, 'etcd-register-partition', 1)}"
    dom = chromium(tmp_path, url, dom=True)
    assert re.search(r'<body[^>]*data-plots-loaded="3"', dom), "all three plots loaded"
    assert 'class="v invalid"' in dom and "counterexample" in dom
    assert '<iframe src="/run/' in dom
    chromium(tmp_path, url, screenshot=str(tmp_path / "serve-run.png"), size="1280,1400")


def test_counterexample_page(server, store, tmp_path):
    base, _ = server
    url = f"{base}/run/{run_rel(store, 'etcd-register-partition', 1)}/checker/workload"
    dom = chromium(tmp_path, url, dom=True)
    assert "returned 99" in dom and "see it in the timeline" in dom
    chromium(tmp_path, url, screenshot=str(tmp_path / "serve-counterexample.png"), size="1280,900")


def test_timeline_of_a_run_draws_ops_and_jumps_to_an_index(server, store, tmp_path):
    base, _ = server
    rel = run_rel(store, "etcd-register-partition", 1)
    dom = chromium(tmp_path, f"{base}/run/{rel}/timeline#index=400", dom=True)
    m = re.search(r'data-visible-ops="(\d+)"', dom)
    assert m and int(m.group(1)) > 0
    chromium(tmp_path, f"{base}/run/{rel}/timeline#index=400",
             screenshot=str(tmp_path / "timeline.png"), size="1280,800")


def test_a_100k_op_timeline_loads_and_shows_ops(server, store, tmp_path):
    base, _ = server
    rel = run_rel(store, "big-register-partition")
    dom = chromium(tmp_path, f"{base}/run/{rel}/timeline", dom=True, budget=20000)
    m = re.search(r'data-visible-ops="(\d+)"', dom)
    assert m and int(m.group(1)) > 0, "the page drew ops"
    assert f"{BIG} ops" in dom


@pytest.mark.parametrize("path", ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                                  "/file/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                                  "/file/..%252f..%252fetc/passwd", "/run/..%2F..%2Fetc"])
def test_traversal_is_refused(server, path):
    _, port = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    assert r.status in (400, 403, 404) and b"root:" not in body
