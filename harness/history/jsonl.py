"""The on-disk history format: JSON Lines, one op a line, append-only.

:class:`HistoryWriter` streams a run's history to disk (flushed per op, fsynced at least every
``fsync_interval`` seconds and on close). :func:`read_jsonl` reads it back;
:func:`read_jsonl_with_report` also tells how many lines a crash left truncated.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Callable, NamedTuple

from harness.errors import InputError

from .op import REQUIRED_FIELDS, read_text, validate_op

#: Keys written first, in this order; extra keys follow in their own order.
KEY_ORDER = ("index", "time", "type", "process", "f", "value")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset)):
        try:
            return sorted(obj)
        except TypeError:
            return list(obj)
    raise TypeError(f"value of type {type(obj).__name__} is not JSON-serialisable: {obj!r:.60}")


def encode_op(op: dict) -> str:
    """One op as one compact JSON line (no newline), keys in :data:`KEY_ORDER` then extras.

    Tuples become lists and sets sorted lists. Raises ``ValueError`` for values JSON cannot
    hold (NaN, infinities, arbitrary objects).
    """
    ordered = {k: op[k] for k in KEY_ORDER if k in op}
    for k, v in op.items():
        if k not in ordered:
            ordered[k] = v
    try:
        return _ENCODER.encode(ordered)
    except (TypeError, ValueError) as e:
        raise ValueError(f"op cannot be written as JSON: {e}") from None


# One encoder for all ops: json.dumps with non-default options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                            default=_json_default)


class HistoryWriter:
    """Thread-safe streaming writer of a JSON Lines history.

    ``HistoryWriter(path, fsync_interval=1.0, clock=time.monotonic)`` creates (truncates)
    ``path``. Each :meth:`append` writes one line and flushes it to the OS; the file is
    ``os.fsync``-ed when at least ``fsync_interval`` seconds (measured with ``clock``) have passed
    since the last fsync, and always on :meth:`close`. ``fsync_interval=0`` fsyncs every op;
    ``None`` only on :meth:`sync`/:meth:`close`. ``fsync_count`` counts the fsyncs done.
    Usable as a context manager.
    """

    def __init__(self, path: str | os.PathLike, fsync_interval: float | None = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.path = os.fspath(path)
        self.fsync_interval = fsync_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._file = open(self.path, "w", encoding="utf-8", newline="\n")
        self._next_index = 0
        self._last_fsync = clock()
        self.fsync_count = 0
        self.closed = False

    def append(self, op: dict) -> dict:
        """Write ``op`` (assigning ``index`` when missing or None) and return the op as written.

        The returned dict is the line read back: a new dict with ``index`` set and values as
        JSON holds them (tuples -> lists). ``op`` itself is not modified. Raises
        :class:`InputError` for a malformed op, ``ValueError`` for a value JSON cannot hold
        and when the writer is closed.
        """
        with self._lock:
            if self.closed:
                raise ValueError(f"{self.path}: HistoryWriter is closed")
            if op.get("index") is None:  # missing, or None as in a synthesized completion
                rec = {**op, "index": self._next_index}
            else:
                rec = op
            validate_op(rec, f"{self.path}: op {rec.get('index')}", REQUIRED_FIELDS)
            line = encode_op(rec)
            self._file.write(line + "\n")
            self._file.flush()
            self._next_index = max(self._next_index, rec["index"] + 1)
            if self.fsync_interval is not None:
                now = self._clock()
                if now - self._last_fsync >= self.fsync_interval:
                    self._fsync(now)
        return json.loads(line)

    def _fsync(self, now: float | None = None) -> None:
        os.fsync(self._file.fileno())
        self.fsync_count += 1
        self._last_fsync = self._clock() if now is None else now

    def sync(self) -> None:
        """Flush and fsync now."""
        with self._lock:
            if not self.closed:
                self._file.flush()
                self._fsync()

    def close(self) -> None:
        """Flush, fsync and close; calling it again does nothing."""
        with self._lock:
            if self.closed:
                return
            try:
                self._file.flush()
                self._fsync()
            finally:
                self.closed = True
                self._file.close()

    def __enter__(self) -> "HistoryWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JsonlResult(NamedTuple):
    """What :func:`read_jsonl_with_report` returns."""

    ops: list[dict]
    #: 0, or 1 when a truncated last line (a crash mid-write) was dropped.
    dropped_lines: int


def read_jsonl_with_report(path: str | os.PathLike, allow_truncated_tail: bool = False) -> JsonlResult:
    """Read a JSON Lines history; returns ``JsonlResult(ops, dropped_lines)``.

    Blank lines are skipped. Every other line must be a JSON object that passes
    :func:`~harness.history.op.validate_op` (type, process and f required). An op without
    ``index`` gets its position among the ops; extra keys are kept.

    A malformed line raises ``InputError("path:LINE: not valid JSON: <reason>")``. With
    ``allow_truncated_tail``, a malformed *last* line of a file that does not end with a
    newline is what a crash mid-write leaves: it is dropped and ``dropped_lines`` is 1.
    """
    p = os.fspath(path)
    text = read_text(p)
    lines = text.split("\n")
    # The last non-blank line, and whether the file ends without a newline after it.
    last = len(lines) - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    tail_unterminated = last == len(lines) - 1 and last >= 0
    ops: list[dict] = []
    dropped = 0
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        lineno = i + 1
        try:
            op = json.loads(line)
        except json.JSONDecodeError as e:
            if allow_truncated_tail and i == last and tail_unterminated:
                dropped = 1
                break
            raise InputError(f"{p}:{lineno}: not valid JSON: {e.msg} (column {e.colno})") from None
        except RecursionError:
            raise InputError(f"{p}:{lineno}: not valid JSON: nested too deeply") from None
        if not isinstance(op, dict):
            raise InputError(f"{p}:{lineno}: expected a JSON object, got {type(op).__name__}")
        validate_op(op, f"{p}:{lineno}")
        if "index" not in op:
            op = {"index": len(ops), **op}
        ops.append(op)
    return JsonlResult(ops, dropped)


def read_jsonl(path: str | os.PathLike, allow_truncated_tail: bool = False) -> list[dict]:
    """The ops of a JSON Lines history (see :func:`read_jsonl_with_report`, which also
    reports whether a truncated last line was dropped)."""
    return read_jsonl_with_report(path, allow_truncated_tail).ops
