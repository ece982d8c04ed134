"""``splitbrain serve``'s HTTP side, in-process: pages, files, filters and refused paths."""

import http.client
import json
import os
import threading

import pytest

from harness.report.synthetic import write_synthetic_run
from harness.web.safe_path import Refused, decode_segments
from harness.web.server import StoreServer

TRAVERSALS = [
    "/../../etc/passwd", "/file/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
    "/file/%2e%2e/%2e%2e/etc/passwd", "/file/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/file/..%2f..%2fetc%2fpasswd", "/file/%252e%252e/%252e%252e/etc/passwd",
    "/file/..\\..\\etc\\passwd", "/file/.%2e/.%2e/etc/passwd", "/run/../../../etc",
    "/file/outside/passwd", "/file/%2fetc%2fpasswd", "/file//etc/passwd",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    write_synthetic_run(root, "good-run", n_ops=300, seed=1, now=1_700_000_000)
    write_synthetic_run(root, "bad-run", n_ops=300, seed=2, stale_read_at=20, now=1_700_000_100)
    # An older run without plots or timeline: the UI draws them on the fly.
    write_synthetic_run(root, "old-run", n_ops=200, seed=3, now=1_600_000_000, reports=False)
    os.symlink("/etc", root / "outside")
    return root


@pytest.fixture(scope="module")
def server(store):
    srv = StoreServer(("127.0.0.1", 0), store)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def get(server, path, host=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", host or f"127.0.0.1:{server.server_address[1]}")
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type"), body


def run_rel(store, name):
    return (store / name / "latest").resolve().relative_to(store.resolve()).as_posix()


def test_run_list_shows_every_run_with_its_verdict(server):
    status, ctype, body = get(server, "/")
    assert status == 200 and ctype.startswith("text/html")
    page = body.decode()
    assert page.count('<tr class="run">') == 3
    for name in ("good-run", "bad-run", "old-run"):
        assert name in page
    assert 'class="v invalid"' in page and 'class="v valid"' in page


def test_filters(server):
    page = get(server, "/?verdict=invalid")[2].decode()
    assert page.count('<tr class="run">') == 1 and "bad-run" in page
    page = get(server, "/?q=old")[2].decode()
    assert page.count('<tr class="run">') == 1 and "old-run" in page
    assert get(server, "/?db=nope")[2].decode().count('<tr class="run">') == 0


def test_run_page_links_plots_timeline_logs_and_history(server, store):
    rel = run_rel(store, "bad-run")
    status, _, body = get(server, f"/run/{rel}")
    page = body.decode()
    assert status == 200
    for part in ("plot/latency.png", "plot/latency-quantiles.png", "plot/rate.png",
                 f"/run/{rel}/timeline", "checker/workload", "splitbrain.log", "nodes/n1/node.log",
                 "history.jsonl?download=1", "faults: partition"):
        assert part in page, part
    status, ctype, body = get(server, f"/file/{rel}/history.jsonl?download=1")
    assert status == 200 and json.loads(body.splitlines()[0])["index"] == 0


def test_history_as_edn(server, store):
    rel = run_rel(store, "good-run")
    status, ctype, body = get(server, f"/run/{rel}/history.edn")
    assert status == 200 and ctype.startswith("application/edn")
    assert body.startswith(b"{:index 0, :time ")


def test_counterexample_page_explains_and_links_the_timeline(server, store):
    rel = run_rel(store, "bad-run")
    status, _, body = get(server, f"/run/{rel}/checker/workload")
    page = body.decode()
    assert status == 200
    assert "no order of the operations" in page and "see it in the timeline" in page
    assert "Longest consistent order" in page
    assert get(server, f"/run/{rel}/checker/nope")[0] == 404


def test_plots_and_timeline_are_drawn_for_runs_that_lack_them(server, store):
    rel = run_rel(store, "old-run")
    assert not (store / rel / "rate.png").exists()
    status, ctype, body = get(server, f"/run/{rel}/plot/rate.png")
    assert status == 200 and ctype == "image/png" and body.startswith(b"\x89PNG")
    status, ctype, body = get(server, f"/run/{rel}/timeline")
    assert status == 200 and b'id="data"' in body
    assert not (store / rel / "timeline.html").exists()  # drawn in memory, the store untouched


@pytest.mark.parametrize("path", TRAVERSALS)
def test_paths_outside_the_store_are_refused(server, path):
    status, _, body = get(server, path)
    assert status in (400, 403, 404)
    assert b"root:" not in body


def test_requests_for_other_hosts_are_refused(server):
    assert get(server, "/", host="evil.example:80")[0] == 403
    assert get(server, "/", host="localhost")[0] == 200


def test_decode_segments_rules():
    assert decode_segments("/run/a%20b/c") == ["run", "a b", "c"]
    for bad in ("/a/../b", "/a/%2e%2e/b", "/a/%2F", "/a\\b", "/.hidden", "/a/%00"):
        with pytest.raises(Refused):
            decode_segments(bad)
