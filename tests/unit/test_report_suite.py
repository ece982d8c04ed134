"""``splitbrain suite``: the matrix, its validation, and the summary (runs faked)."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import runner
from harness.cli import main
from harness.errors import EnvironmentProblem, InputError
from harness.report.synthetic import write_synthetic_run
from harness.runner import Outcome
from harness.suite import load_suite, run_suite

SUITE = """\
name: nightly
defaults: {nodes: 3, time-limit: 5}
targets:
  - etcd
  - {label: etcd-ser, db: etcd, db-options: {serializable: true}}
workloads: [register]
nemeses: [none, partition]
seeds: [1, 2]
"""


def write(tmp_path, text, name="suite.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_matrix_is_targets_x_workloads_x_nemeses_x_seeds_in_order(tmp_path):
    s = load_suite(write(tmp_path, SUITE), store=str(tmp_path / "store"))
    assert s.name == "nightly" and len(s.specs) == 8
    got = [(x.resolved_name(), x.db_options, x.nemesis, x.seed) for x in s.specs]
    assert got[:4] == [("etcd-register-none", {}, (), 1), ("etcd-register-none", {}, (), 2),
                       ("etcd-register-partition", {}, ("partition",), 1),
                       ("etcd-register-partition", {}, ("partition",), 2)]
    assert got[4] == ("etcd-ser-register-none", {"serializable": True}, (), 1)
    assert all(x.nodes == ("n1", "n2", "n3") and x.time_limit == 5 for x in s.specs)


@pytest.mark.parametrize("text, message", [
    ("targets: etcd\n", "suite.yaml:1: targets: must be a non-empty list"),
    ("bogus: 1\n", "suite.yaml:1: bogus: unknown suite setting"),
    ("parallelism: 4\n", "parallelism: only 1 is supported"),
    ("seeds: [-1]\n", "seeds: must be a non-empty list"),
    ("defaults: {time-limit: -3}\n", "time-limit: must be > 0, got -3"),
    ("targets: [{label: x, db: etcd, rate: fast}]\n", "rate: must be a number"),
])
def test_bad_suites_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(InputError) as e:
        load_suite(write(tmp_path, text))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_run_suite_writes_html_json_junit_and_exits_with_the_worst(tmp_path, monkeypatch, capsys):
    store = tmp_path / "store"
    calls = []

    def fake_run_test(spec, **kw):
        calls.append(spec)
        if spec.seed == 3:
            raise EnvironmentProblem("etcd: binary not found")
        run = write_synthetic_run(store, spec.resolved_name(), n_ops=120, seed=spec.seed,
                                  stale_read_at=5 if spec.seed == 2 else None,
                                  reports=False)
        results = json.loads(run.results.read_text())
        return Outcome(run, results, 1 if results["valid"] is False else 0)

    monkeypatch.setattr(runner, "run_test", fake_run_test)
    path = write(tmp_path, "name: four\ntargets: [etcd]\nseeds: [1, 2, 3, 4]\n")
    code = main(["suite", path, "--store", str(store)])
    assert code == 3  # a harness error is worse than an invalid run
    assert [s.seed for s in calls] == [1, 2, 3, 4]
    out = capsys.readouterr().out
    table = out.splitlines()
    assert table[0].split()[:4] == ["#", "verdict", "code", "test"]
    assert [line.split()[1] for line in table[1:5]] == ["valid", "invalid", "error", "valid"]
    assert table[-1] == "suite verdict: error"
    sdir = Path(table[-2].split(": ", 1)[1]).parent
    data = json.loads((sdir / "suite.json").read_text())
    assert [r["verdict"] for r in data["runs"]] == ["valid", "invalid", "error", "valid"]
    assert data["runs"][2]["reason"] == "etcd: binary not found"
    html = (sdir / "suite.html").read_text()
    assert html.count('<tr class="suite-run">') == 4 and "/run/" in html
    junit = ET.parse(sdir / "junit.xml").getroot().find("testsuite")
    assert junit.get("tests") == "4" and junit.get("failures") == "1" and junit.get("errors") == "1"


def test_invalid_beats_valid(tmp_path, monkeypatch):
    store = tmp_path / "store"

    def fake_run_test(spec, **kw):
        run = write_synthetic_run(store, spec.resolved_name(), n_ops=80, seed=spec.seed,
                                  stale_read_at=3 if spec.seed == 2 else None, reports=False)
        results = json.loads(run.results.read_text())
        return Outcome(run, results, 1 if results["valid"] is False else 0)

    monkeypatch.setattr(runner, "run_test", fake_run_test)
    s = load_suite(write(tmp_path, "targets: [etcd]\nseeds: [1, 2]\n"), store=str(store))
    outcome = run_suite(s)
    assert outcome.exit_code == 1 and outcome.verdict == "invalid"


def test_dry_run_lists_the_runs(tmp_path, capsys):
    assert main(["suite", write(tmp_path, SUITE), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8 and lines[0].startswith("etcd-register-none\tdb=etcd")
