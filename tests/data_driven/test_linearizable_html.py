"""The counterexample page opens in a real headless browser (Debian chromium) without script
errors, and draws the ops: for Porcupine's kv c10-bad and one etcd log."""

import shutil
import struct
import subprocess
import zlib
from collections import Counter
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


# The fills the page's stylesheet gives an op, a linearized op and the failed op (html.py).
OP_FILL, LINEARIZED_FILL, FAILED_FILL = (0xcf, 0xe0, 0xf5), (0x9f, 0xd4, 0x9f), (0xf7, 0xc6, 0xc6)


def png_colors(path) -> Counter:
    """How many pixels of each RGB colour an 8-bit, non-interlaced RGB/RGBA PNG (what chromium
    writes) has; a small decoder so the test needs no imaging library."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 3 if ctype == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    prev, counts = bytearray(stride), Counter()
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):  # undo the row filter (PNG spec, section 9)
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        counts.update(zip(line[0::bpp], line[1::bpp], line[2::bpp]))
        prev = line
    return counts


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
    colors = png_colors(shot)  # the screenshot shows drawn op bars, linearized ones, the failed one
    assert colors[OP_FILL] + colors[LINEARIZED_FILL] > 2000, colors.most_common(8)
    assert colors[LINEARIZED_FILL] > 0 and colors[FAILED_FILL] > 0, colors.most_common(8)
    dom = _chromium(tmp_path, "--dump-dom", url)
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    html = dom.stdout
    drawn = html.count('class="op')
    assert drawn >= 10
    assert 'class="op failed"' in html
    assert html.count("linearized") >= 1  # the longest partial linearization is shown
    assert f'data-drawn="{drawn}"' in html
