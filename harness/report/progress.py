"""The live progress display of ``splitbrain test``: elapsed and remaining time, ops/s, the faults
active right now and the errors so far (ops that ended ``info``: timeouts, lost connections),
redrawn a few times a second with ``rich``.

It is fed by the history itself: :meth:`RunProgress.track` wraps the run's history writer, and
every op the interpreter records updates the counters on its way to disk. So the display shows
exactly what the history will hold, and needs no hook in the interpreter.

It turns itself off (and costs one attribute check per op) when stdout or stderr is not a
terminal, when ``TERM=dumb``, or when ``SPLITBRAIN_NO_PROGRESS`` is set: CI logs get the plain
controller log, never cursor movements. While it is on, the controller's log lines are printed
above the display instead of through it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque

RATE_WINDOW_S = 5.0
MAX_SHOWN_ERRORS = 2


def progress_wanted() -> bool:
    """Whether a live display makes sense here: both streams are terminals and nobody said no."""
    if os.environ.get("SPLITBRAIN_NO_PROGRESS") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _TrackingWriter:
    """A history writer that also tells the progress display about each op it writes."""

    def __init__(self, writer, progress: "RunProgress"):
        self._writer = writer
        self._progress = progress

    def append(self, op: dict) -> dict:
        written = self._writer.append(op)
        self._progress.observe(written)
        return written

    def __getattr__(self, name):  # close, sync, path, ... go to the real writer
        return getattr(self._writer, name)


class RunProgress:
    """Counters over the ops of a running test, and (when enabled) their live display.

    ``RunProgress(time_limit_s, enabled=None)``: ``enabled=None`` asks :func:`progress_wanted`.
    Use as a context manager around the workload; :meth:`snapshot` gives the numbers shown.
    """

    def __init__(self, time_limit_s: float | None = None, *, enabled: bool | None = None,
                 clock=time.monotonic, logger_name: str = "splitbrain"):
        self.time_limit_s = time_limit_s
        self.enabled = progress_wanted() if enabled is None else enabled
        self._clock = clock
        self._lock = threading.Lock()
        self._started: float | None = None
        self._completions: deque[float] = deque()
        self.counts = {"invoke": 0, "ok": 0, "fail": 0, "info": 0}
        self.faults: dict[str, str] = {}      # fault name -> what it is doing
        self.fault_count = 0
        self.errors: deque[str] = deque(maxlen=MAX_SHOWN_ERRORS)
        self.error_count = 0
        self._live = None
        self._logger_name = logger_name
        self._swapped: list[logging.Handler] = []
        self._log_handler: logging.Handler | None = None

    # -- counting (pure bookkeeping, always on) ---------------------------------------------

    def track(self, writer):
        """``writer`` wrapped so each appended op updates the counters (``writer`` itself when
        the display is off, so a CI run pays nothing)."""
        return _TrackingWriter(writer, self) if self.enabled else writer

    def observe(self, op: dict) -> None:
        """Count one recorded op."""
        from harness.report.operations import describe_fault

        now = self._clock()
        with self._lock:
            if self._started is None:
                self._started = now
            typ = op.get("type")
            if op.get("process") == "nemesis":
                f = str(op.get("f", ""))
                if f.startswith("start-"):
                    name = f[len("start-"):]
                    if name not in self.faults:
                        self.fault_count += 1
                    self.faults[name] = describe_fault(op.get("value")) or self.faults.get(name, "")
                elif f.startswith("stop-"):
                    self.faults.pop(f[len("stop-"):], None)
                return
            if typ in self.counts:
                self.counts[typ] += 1
            if typ in ("ok", "fail", "info"):
                self._completions.append(now)
            # An info op is the trouble worth showing (a timeout, a dropped connection): a fail
            # is a definite, often expected answer (a cas whose compare did not hold).
            if typ == "info":
                self.error_count += 1
                self.errors.append(f"p{op.get('process')} {op.get('f')}: "
                                   f"{op.get('error') or 'unknown outcome'}")

    def snapshot(self) -> dict:
        """The numbers on the display: elapsed, remaining, ops/s (last 5 s), counts, faults."""
        now = self._clock()
        with self._lock:
            while self._completions and self._completions[0] < now - RATE_WINDOW_S:
                self._completions.popleft()
            elapsed = 0.0 if self._started is None else now - self._started
            window = min(RATE_WINDOW_S, elapsed) or 1.0
            remaining = (None if self.time_limit_s is None
                         else max(0.0, self.time_limit_s - elapsed))
            return {"elapsed_s": elapsed, "remaining_s": remaining,
                    "ops_per_s": len(self._completions) / window, "counts": dict(self.counts),
                    "faults": dict(self.faults), "fault_count": self.fault_count,
                    "errors": list(self.errors), "error_count": self.error_count}

    def render_text(self) -> str:
        """The display as plain text (also what the rich renderable shows)."""
        s = self.snapshot()
        c = s["counts"]
        rem = "" if s["remaining_s"] is None else f"  remaining {s['remaining_s']:5.1f}s"
        lines = [f"elapsed {s['elapsed_s']:6.1f}s{rem}  {s['ops_per_s']:7.1f} ops/s  "
                 f"ok {c['ok']}  fail {c['fail']}  info {c['info']}"]
        if s["faults"]:
            lines.append("faults now: " + "; ".join(
                f"{n}" + (f" ({d[:70]})" if d else "") for n, d in s["faults"].items()))
        else:
            lines.append(f"faults now: none ({s['fault_count']} so far)")
        if s["error_count"]:
            lines.append(f"errors (info ops): {s['error_count']}, last: " + " | ".join(
                e[:50] for e in s["errors"]))
        return "\n".join(lines)

    # -- the live display ---------------------------------------------------------------------

    def __enter__(self) -> "RunProgress":
        if self.enabled:
            try:
                self._start_live()
            except Exception:  # noqa: BLE001 - a display problem must never stop a run
                self.enabled = False
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start_live(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        console = Console(file=sys.stderr)
        progress = self

        class _Renderable:
            def __rich__(self):
                return Text(progress.render_text(), style="bold")

        self._live = Live(_Renderable(), console=console, refresh_per_second=4, transient=True,
                          redirect_stdout=False, redirect_stderr=False)
        self._live.start()
        # Log lines go above the display (through the live console), not through it.
        logger = logging.getLogger(self._logger_name)
        for h in list(logger.handlers):
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) \
                    and getattr(h, "stream", None) in (sys.stderr, sys.__stderr__):
                logger.removeHandler(h)
                self._swapped.append(h)
        if self._swapped:
            live = self._live
            fmt = self._swapped[0].formatter
            level = self._swapped[0].level

            class _AboveLive(logging.Handler):
                def emit(self, record):
                    try:
                        live.console.print(self.format(record), markup=False, highlight=False,
                                           soft_wrap=True)
                    except Exception:  # noqa: BLE001
                        self.handleError(record)

            self._log_handler = _AboveLive(level)
            self._log_handler.setFormatter(fmt)
            logger.addHandler(self._log_handler)

    def close(self) -> None:
        """Stop the display and give the log its stderr handler back (idempotent)."""
        logger = logging.getLogger(self._logger_name)
        if self._log_handler is not None:
            logger.removeHandler(self._log_handler)
            self._log_handler = None
        for h in self._swapped:
            logger.addHandler(h)
        self._swapped = []
        if self._live is not None:
            try:
                self._live.stop()
            finally:
                self._live = None
