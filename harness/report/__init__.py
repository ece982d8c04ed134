"""Reports a person or a machine reads after a run: perf plots, the timeline, the printed summary,
the live progress display and JUnit XML.

Everything here reads a history (a list of op dicts) and checker results (plain dicts) and writes
files; nothing here changes a verdict. :func:`finish_run` is what the runner calls once the
history is checked (plots, timeline, JUnit, the summary table); :func:`write_run_reports` draws
the plots and the timeline alone (``analyze`` uses it). The pieces: ``operations`` (a history as
intervals), ``plots``, ``timeline``, ``summary``, ``progress``, ``junit``, and ``synthetic``
(histories for tests and demos).
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("splitbrain")


def write_run_reports(run_path, history: list[dict], title: str = "") -> list[Path]:
    """Write latency.png, latency-quantiles.png, rate.png and timeline.html into ``run_path``.

    A report that cannot be drawn (matplotlib missing, a broken history) is logged and skipped:
    reports must never cost the run its verdict. Returns the files written.
    """
    from harness.report.timeline import write_timeline

    run_path = Path(run_path)
    written: list[Path] = []
    try:
        from harness.report.plots import write_plots

        written += write_plots(run_path, history, title=title)
    except Exception as e:  # noqa: BLE001 - a plot is a convenience, the verdict is not
        log.warning("perf plots skipped: %s: %s", type(e).__name__, e)
    try:
        written.append(write_timeline(run_path / "timeline.html", history, title=title))
    except Exception as e:  # noqa: BLE001
        log.warning("timeline skipped: %s: %s", type(e).__name__, e)
    return written


def finish_run(spec, run, results: dict, duration_s: float | None = None,
               plots: bool = True) -> str | None:
    """After a run is checked: write its plots and timeline (unless ``plots`` is False: an
    interrupted run exits without drawing them; ``splitbrain analyze`` does), its JUnit file when
    ``spec.junit`` asks for one (also copied to ``junit.xml`` in the run), and return the summary
    table to print. Never raises: a report that fails is logged; None means "no summary"."""
    from harness.history.jsonl import read_jsonl
    from harness.report.summary import format_summary

    title = spec.resolved_name()
    try:
        history = read_jsonl(run.history, allow_truncated_tail=True)
    except Exception as e:  # noqa: BLE001 - the history was already checked; only reports suffer
        log.warning("reports skipped: cannot read the history: %s", e)
        return None
    if plots:
        write_run_reports(run.path, history, title=title)
    else:
        log.info("plots and timeline skipped (interrupted); 'splitbrain analyze %s' draws them",
                 run.path)
    if getattr(spec, "junit", None):
        from harness.report.junit import junit_xml

        try:
            xml = junit_xml(title, results, run_path=run.path, seed=spec.seed,
                            duration_s=duration_s)
            (run.path / "junit.xml").write_text(xml, encoding="utf-8")
            out = Path(spec.junit)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(xml, encoding="utf-8")
            log.info("JUnit report: %s", out)
        except OSError as e:
            log.error("JUnit report %s not written: %s", spec.junit, e.strerror or e)
    try:
        return format_summary(history, results, run.path)
    except Exception as e:  # noqa: BLE001
        log.warning("summary skipped: %s: %s", type(e).__name__, e)
        return None
