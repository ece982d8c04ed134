"""Perf plots of a run, drawn with matplotlib (Agg, no display needed), as Jepsen draws them.

- ``latency.png``: every client op as a point, time of invocation against latency, coloured by
  outcome (ok / fail / info) with one marker per op type (``f``).
- ``latency-quantiles.png``: latency quantiles (0.5, 0.95, 0.99, max) per time bucket and op type.
- ``rate.png``: completed ops per second per time bucket, by op type and outcome.

Each shades the nemesis periods and writes the fault's name on the band, so a latency spike can
be read against the partition that caused it.
"""

from __future__ import annotations

import io
from pathlib import Path

from harness.report.operations import ClientOp, NemesisPeriod, client_ops, nemesis_periods

OUTCOME_COLORS = {"ok": "#2e9e4f", "fail": "#d62728", "info": "#f0a020"}
MARKERS = ["o", "^", "s", "D", "v", "P", "X", "*"]
NEMESIS_COLORS = ["#888888", "#7b68ee", "#d2691e", "#20b2aa", "#c71585"]
QUANTILES = (0.5, 0.95, 0.99, 1.0)
PLOT_FILES = ("latency.png", "latency-quantiles.png", "rate.png")
NS = 1e9


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)  # files only: never a display, works headless and in CI
    import matplotlib.pyplot as plt

    return plt


def _bucket_s(span_s: float) -> float:
    """Bucket width: about 100 buckets over the run, at least 0.1 s, rounded to a nice value."""
    raw = max(span_s / 100.0, 0.1)
    for nice in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600):
        if raw <= nice:
            return float(nice)
    return float(int(raw))


def _shade(ax, periods: list[NemesisPeriod], span_s: float) -> None:
    """Nemesis periods as translucent bands with their names at the top of the axes."""
    names = sorted({p.name for p in periods})
    color = {n: NEMESIS_COLORS[i % len(NEMESIS_COLORS)] for i, n in enumerate(names)}
    labelled = set()
    for p in periods:
        s, e = p.start / NS, p.end / NS
        if e - s < span_s / 500:  # a one-off fault: a line, not an invisible band
            ax.axvline(s, color=color[p.name], alpha=0.6, linewidth=1)
        else:
            ax.axvspan(s, e, color=color[p.name], alpha=0.15, linewidth=0,
                       label=None if p.name in labelled else f"nemesis: {p.name}")
            labelled.add(p.name)
        ax.text(s, 1.0, f" {p.name}", transform=ax.get_xaxis_transform(), fontsize=7,
                va="top", ha="left", color=color[p.name], clip_on=True)


def _finish(fig, ax, title: str, ylabel: str, path: Path | None) -> bytes | None:
    ax.set_xlabel("time since start (s)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0, frameon=False)
    ax.grid(True, alpha=0.25)
    fig.tight_layout()
    if path is None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        _pyplot().close(fig)
        return buf.getvalue()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return None


def _fs(ops: list[ClientOp]) -> list[str]:
    return sorted({o.f for o in ops})


def latency_plot(ops, periods, span_s, title="", path=None):
    """Point latencies by f and outcome (``latency.png``); PNG bytes when ``path`` is None."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    _shade(ax, periods, span_s)
    for i, f in enumerate(_fs(ops)):
        for outcome in ("ok", "fail", "info"):
            sel = [o for o in ops if o.f == f and o.type == outcome and o.completed]
            if not sel:
                continue
            ax.scatter([o.start / NS for o in sel], [max(o.latency_ns, 1000) / 1e6 for o in sel],
                       s=6, marker=MARKERS[i % len(MARKERS)], alpha=0.7, linewidths=0,
                       color=OUTCOME_COLORS.get(outcome, "#444"), label=f"{f} {outcome}")
    ax.set_yscale("log")
    ax.set_xlim(0, max(span_s, 1e-3))
    return _finish(fig, ax, title or "latency", "latency (ms)", path)


def _quantile(sorted_vals: list[int], q: float) -> int:
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def quantiles_plot(ops, periods, span_s, title="", path=None):
    """Latency quantiles over time per f (``latency-quantiles.png``); ok ops only, since a
    timeout's latency is the timeout, not the system's."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    _shade(ax, periods, span_s)
    width = _bucket_s(span_s)
    styles = {0.5: "-", 0.95: "--", 0.99: "-.", 1.0: ":"}
    for i, f in enumerate(_fs(ops)):
        buckets: dict[int, list[int]] = {}
        for o in ops:
            if o.f == f and o.type == "ok":
                buckets.setdefault(int(o.start / NS / width), []).append(o.latency_ns)
        if not buckets:
            continue
        # Every bucket from the first to the last: an empty one is a gap in the line (no ok op
        # then, often a partition), not a straight line drawn across it.
        keys = range(min(buckets), max(buckets) + 1)
        sorted_buckets = {k: sorted(v) for k, v in buckets.items()}
        color = f"C{i}"
        for q in QUANTILES:
            ys = [max(_quantile(sorted_buckets[k], q) / 1e6, 1e-3) if k in sorted_buckets
                  else float("nan") for k in keys]
            ax.plot([(k + 0.5) * width for k in keys], ys,
                    linestyle=styles[q], color=color, linewidth=1, marker=".", markersize=2,
                    label=f"{f} {'max' if q == 1.0 else f'p{int(q * 100)}'}")
    ax.set_yscale("log")
    ax.set_xlim(0, max(span_s, 1e-3))
    return _finish(fig, ax, title or f"latency quantiles ({width:g} s buckets, ok ops)",
                   "latency (ms)", path)


def rate_plot(ops, periods, span_s, title="", path=None):
    """Throughput by f and outcome (``rate.png``): completions per second per bucket."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    _shade(ax, periods, span_s)
    width = _bucket_s(span_s)
    nb = int(span_s / width) + 1
    styles = {"ok": "-", "fail": "--", "info": ":"}
    for i, f in enumerate(_fs(ops)):
        for outcome in ("ok", "fail", "info"):
            counts = [0] * nb
            any_ = False
            for o in ops:
                if o.f == f and o.type == outcome and o.completed:
                    counts[min(nb - 1, int(o.end / NS / width))] += 1
                    any_ = True
            if any_:
                ax.plot([(k + 0.5) * width for k in range(nb)], [c / width for c in counts],
                        linestyle=styles[outcome], color=f"C{i}", linewidth=1,
                        label=f"{f} {outcome}")
    ax.set_xlim(0, max(span_s, 1e-3))
    ax.set_ylim(bottom=0)
    return _finish(fig, ax, title or f"throughput ({width:g} s buckets)", "ops / s", path)


PLOTTERS = {"latency.png": latency_plot, "latency-quantiles.png": quantiles_plot,
            "rate.png": rate_plot}


def _inputs(history):
    ops = client_ops(history)
    periods = nemesis_periods(history)
    last = max([o.end for o in ops] + [p.end for p in periods] + [0])
    return ops, periods, last / NS


def render_plot(name: str, history: list[dict], title: str = "") -> bytes:
    """One plot (``latency.png``, ...) as PNG bytes: the web UI draws runs that have none."""
    ops, periods, span_s = _inputs(history)
    return PLOTTERS[name](ops, periods, span_s, title=title)


def write_plots(run_path, history: list[dict], title: str = "") -> list[Path]:
    """Write the three plots into ``run_path``; returns their paths."""
    ops, periods, span_s = _inputs(history)
    out = []
    for name, plot in PLOTTERS.items():
        path = Path(run_path) / name
        sub = f"{title}: {name[:-4]}" if title else ""
        plot(ops, periods, span_s, title=sub, path=path)
        out.append(path)
    return out
