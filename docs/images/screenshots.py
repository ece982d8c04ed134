"""Regenerate the pictures in docs/images from a store, with the code that draws them.

    python docs/images/screenshots.py STORE RUN_REL

starts ``splitbrain serve --store STORE --port 0``, saves the three perf plots of the run
``RUN_REL`` (``<test>/<timestamp>``, relative to STORE) as the server draws them, and screenshots
the run list, the run's page, its counterexample page, its timeline and the newest suite
summary with headless Chromium.
The pictures in docs/ came from real etcd runs (see docs/results.md).
"""

import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def shoot(chromium, profile, url, out, size):
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    f"--user-data-dir={profile}", f"--window-size={size}",
                    "--virtual-time-budget=8000", f"--screenshot={out}", url],
                   check=True, capture_output=True, timeout=120)
    print(out)


def main(store: str, rel: str) -> None:
    chromium = shutil.which("chromium") or sys.exit("needs chromium (apt install chromium)")
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--store", store,
                             "--port", "0"], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        base = re.search(r"(http://127\.0\.0\.1:\d+)/", proc.stdout.readline()).group(1)
        for name in ("latency.png", "latency-quantiles.png", "rate.png"):
            data = urllib.request.urlopen(f"{base}/run/{rel}/plot/{name}", timeout=120).read()
            (HERE / name).write_bytes(data)
            print(HERE / name)
        with tempfile.TemporaryDirectory() as profile:
            shoot(chromium, profile, f"{base}/", HERE / "serve-runs.png", "1280,400")
            shoot(chromium, profile, f"{base}/run/{rel}", HERE / "serve-run.png", "1280,1500")
            shoot(chromium, profile, f"{base}/run/{rel}/checker/workload",
                  HERE / "serve-counterexample.png", "1280,1000")
            results = (Path(store) / rel / "results.json").read_text()
            m = re.search(r'"failed_op": \{[^}]*"index": (\d+)', results)
            anchor = f"#index={m.group(1)}" if m else ""
            shoot(chromium, profile, f"{base}/run/{rel}/timeline{anchor}", HERE / "timeline.png",
                  "1280,800")
            suites = sorted((Path(store) / "_suites").glob("*/*/suite.html"),
                            key=lambda p: p.stat().st_mtime)
            if suites:  # the newest suite summary, as serve shows it
                srel = suites[-1].relative_to(Path(store)).as_posix()
                shoot(chromium, profile, f"{base}/file/{srel}", HERE / "suite.png", "1280,330")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
