"""``bank.png``: the total each bank read saw, over time, against the expected total (Jepsen's
bank plot). Good reads are green dots on the line; reads with any anomaly are red crosses.
Nemesis periods are shaded as on the other perf plots."""

from __future__ import annotations

from harness.report.operations import nemesis_periods
from harness.report.plots import _finish, _pyplot, _shade

NS = 1e9


def write_bank_plot(path, reads: list[tuple], total: int, history: list[dict]) -> None:
    """``reads``: ``(completion time ns, total seen or None, valid?)`` per ok read."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    periods = nemesis_periods(history)
    span = max([t for t, _, _ in reads] + [p.end for p in periods] + [1]) / NS
    _shade(ax, periods, span)
    ax.axhline(total, color="#555555", linewidth=1, linestyle="--", label=f"expected total {total}")
    good = [(t / NS, v) for t, v, ok in reads if ok and v is not None]
    bad = [(t / NS, v if v is not None else 0) for t, v, ok in reads if not ok]
    if good:
        ax.scatter([x for x, _ in good], [y for _, y in good], s=8, color="#2e9e4f",
                   label=f"read, valid ({len(good)})")
    if bad:
        ax.scatter([x for x, _ in bad], [y for _, y in bad], s=24, marker="x", color="#d62728",
                   label=f"read with an anomaly ({len(bad)})")
    _finish(fig, ax, "bank: total of each read", "total of all balances", path)
