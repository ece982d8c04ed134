"""Perf plots: three PNG files with nemesis periods drawn, from a synthetic history."""

import pytest

pytest.importorskip("matplotlib")

from harness.report.plots import PLOT_FILES, _bucket_s, render_plot, write_plots  # noqa: E402
from harness.report.synthetic import synthetic_history  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_write_plots_writes_the_three_files(tmp_path):
    h = synthetic_history(800, seed=1)
    paths = write_plots(tmp_path, h, title="synthetic")
    assert [p.name for p in paths] == list(PLOT_FILES)
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(PNG) and len(data) > 5000


def test_plots_of_an_empty_or_nemesis_only_history_still_render():
    assert render_plot("rate.png", []).startswith(PNG)
    only_nemesis = [{"index": 0, "time": 0, "type": "info", "process": "nemesis",
                     "f": "start-partition", "value": None}]
    assert render_plot("latency.png", only_nemesis).startswith(PNG)


def test_bucket_width_is_a_round_number_giving_about_100_buckets():
    assert _bucket_s(1) == 0.1
    assert _bucket_s(30) == 0.5
    assert _bucket_s(600) == 10
