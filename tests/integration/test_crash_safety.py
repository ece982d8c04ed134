"""kill -9 of the controller, then `splitbrain heal` and `splitbrain analyze` (issue 11).

Three of bench/crash_safety.py's kill points (a partition in force, teardown, checking), run by
the bench's own `one_kill` so CI covers what the 20-kill bench measures: after each SIGKILL,
heal leaves nothing with the run's prefix on the machine (checked from the raw system state),
and analyze gives a verdict on the recorded history without a traceback.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("iptables") is None,
                       reason="needs iproute2 and iptables"),
]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "crash_safety.py"


@pytest.fixture(scope="module")
def crash_safety():
    spec = importlib.util.spec_from_file_location("crash_safety", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("phase", ["nemesis-active", "teardown", "checking"])
def test_kill_9_then_heal_leaves_nothing_and_analyze_checks_the_history(tmp_path, crash_safety,
                                                                       phase):
    row = crash_safety.one_kill(phase, random.Random(7), tmp_path / "store")
    print(f"\n[crash] aimed at {phase}, landed in {row['phase']}: {row}")
    assert row["phase"] != "(ended before the kill)"
    assert row["prefix"] != "-", "the cluster was up when killed"
    if row["phase"] in ("workload", "nemesis-active", "teardown"):
        assert row["left_before_heal"] > 0, "a killed controller leaves its cluster behind"
    assert row["heal_rc"] == 0
    assert row["left_after_heal"] == 0, row["left_detail"]
    assert row["analyze_rc"] in (0, 1, 2) and not row["traceback"], row["analyze"]
    assert row["truncated_tail"] <= 1  # at most the one line being written at the kill
    assert row["invokes"] > 0
