"""``splitbrain suite`` end to end: 4 short etcd runs, two with a planted bug, one summary; and
the ``--junit`` file of an invalid run.

The planted bug must fail every time, so it cannot be a real etcd anomaly (serializable reads
under a partition show one only sometimes). It is a client that lies: every read that etcd
answers is reported as having returned 99, a value no one wrote. The target is registered for
this test only (``etcd-lying`` in ``harness.targets.TARGETS``); the suite runs in-process so it
sees it. Once the reference Raft store's ``--bug stale-read`` lands, a suite entry
``{db: raft, bug: stale-read}`` is the real-world version of this.
"""

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import targets
from harness.cli import main

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and iptables"),
    pytest.mark.skipif(shutil.which("etcd") is None,
                       reason="needs the etcd binary (apt install etcd-server)"),
    pytest.mark.root, pytest.mark.etcd, pytest.mark.slow,
]


class LyingClient:
    """Wraps a real client; a read that completed ok claims it saw 99."""

    def __init__(self, inner):
        self.inner = inner

    def invoke(self, op):
        done = self.inner.invoke(op)
        if op.get("f") == "read" and done.get("type") == "ok":
            done = {**done, "value": 99}
        return done

    def __getattr__(self, name):
        return getattr(self.inner, name)


class LyingClientFactory:
    def __init__(self, inner):
        self.inner = inner

    def open(self, node):
        return LyingClient(self.inner.open(node))


def lying_etcd(options):
    real = targets.make_target("etcd", options)
    return targets.Target("etcd-lying", real.db, LyingClientFactory(real.client_factory))


SUITE = """\
name: four
defaults: {nodes: 3, time-limit: 4, rate: 40, concurrency: 4}
targets:
  - etcd
  - {label: planted-bug, db: etcd-lying, junit: JUNIT}
workloads: [register]
nemeses:
  - none
  - {label: partition, nemesis: partition, nemesis-options: {interval: 1.5}}
seeds: [7]
"""


def test_suite_of_four_runs_writes_its_summary_and_exits_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(targets.TARGETS, "etcd-lying", lying_etcd)
    suite = tmp_path / "four.yaml"
    junit_file = tmp_path / "reports" / "junit.xml"
    suite.write_text(SUITE.replace("JUNIT", str(junit_file)))
    store = tmp_path / "store"
    code = main(["suite", str(suite), "--store", str(store)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1, out
    head = next(i for i, line in enumerate(out) if line.startswith("#  verdict"))
    rows = [line.split() for line in out[head + 1:head + 5]]
    verdicts = {r[3]: r[1] for r in rows}
    assert verdicts == {"etcd-register-none": "valid", "etcd-register-partition": "valid",
                        "planted-bug-register-none": "invalid",
                        "planted-bug-register-partition": "invalid"}, out
    assert out[-1] == "suite verdict: invalid"
    sdir = Path(out[-2].split(": ", 1)[1]).parent
    data = json.loads((sdir / "suite.json").read_text())
    assert data["exit_code"] == 1 and len(data["runs"]) == 4
    html = (sdir / "suite.html").read_text()
    assert html.count('<tr class="suite-run">') == 4 and "returned 99" in html
    junit = ET.parse(sdir / "junit.xml").getroot().find("testsuite")
    assert junit.get("tests") == "4" and junit.get("failures") == "2"
    # --junit of an invalid run (the planted-bug runs write it; the last one wins): valid XML,
    # one testcase per checker, the one checker failing with its explanation.
    suite_el = ET.parse(junit_file).getroot().find("testsuite")
    cases = suite_el.findall("testcase")
    failing = [c for c in cases if c.find("failure") is not None]
    assert len(cases) == 1 and len(failing) == 1
    assert "returned 99" in failing[0].find("failure").get("message")
    # Each run has its own reports.
    for r in data["runs"]:
        run = Path(r["run"])
        for f in ("latency.png", "latency-quantiles.png", "rate.png", "timeline.html"):
            assert (run / f).exists(), (run, f)
