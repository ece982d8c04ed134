"""Operations: plain dicts, and the checks every reader and writer applies to them.

An operation (docs/architecture.md, "Operations and histories") is a ``dict``:

``index`` (int >= 0, position in the history), ``time`` (int, monotonic ns since the run
started), ``type`` (one of :data:`OP_TYPES`), ``process`` (an int for clients, ``"nemesis"``
for the nemesis), ``f`` (a str), ``value`` (any JSON value) and any extra keys (``node``,
``error``, ``latency``, ...), which are kept as they are.

This module also holds :func:`read_text`, the one place that turns a history file into text:
it refuses missing files, directories, files over :data:`MAX_FILE_BYTES`, binary data and
non-UTF-8 bytes with a one-line :class:`~harness.errors.InputError`.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

from harness.errors import InputError

OP_TYPES = ("invoke", "ok", "fail", "info")
COMPLETION_TYPES = ("ok", "fail", "info")
NEMESIS = "nemesis"

#: The fields every op must have (our own JSONL format and the writer).
REQUIRED_FIELDS = ("type", "process", "f")

#: Histories larger than this are refused rather than read into memory.
MAX_FILE_BYTES = 1 << 30

_TYPES_TEXT = ", ".join(OP_TYPES)


def short(value: Any, limit: int = 60) -> str:
    """``value`` rendered on one line (JSON where possible), cut to about ``limit`` chars."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def validate_op(op: Any, where: str, require: Iterable[str] = REQUIRED_FIELDS) -> dict:
    """Check one op's fields and return it unchanged.

    ``where`` names the op in messages (``"history.jsonl:12"``). Checks: ``type`` is one of
    invoke/ok/fail/info; ``process`` is an int or ``"nemesis"``; ``f`` is a str; ``time`` and
    ``index`` (when present) are ints, ``index`` >= 0. ``require`` lists the fields that must be
    present (default: type, process and f); fields not required are checked only when present
    (the EDN/JSON readers require only ``type``: Elle's and Jepsen's examples omit ``process``
    or ``f``).

    Raises :class:`InputError` with one line, e.g.
    ``history.jsonl:12: field "type": expected one of invoke, ok, fail, info, got "okk"``.
    """
    if not isinstance(op, dict):
        raise InputError(f"{where}: expected an operation object, got {short(op)}")
    for field in require:
        if field not in op:
            raise InputError(f'{where}: field "{field}": missing')
    if "type" in op:
        t = op["type"]
        if t not in OP_TYPES or not isinstance(t, str):
            raise InputError(f'{where}: field "type": expected one of {_TYPES_TEXT}, got {short(t)}')
    if "process" in op:
        p = op["process"]
        if not (_is_int(p) or p == NEMESIS):
            raise InputError(f'{where}: field "process": expected an integer or "nemesis", got {short(p)}')
    if "f" in op:
        f = op["f"]
        if not isinstance(f, str):
            raise InputError(f'{where}: field "f": expected a string, got {short(f)}')
    if "time" in op:
        tm = op["time"]
        if not _is_int(tm):
            raise InputError(f'{where}: field "time": expected an integer, got {short(tm)}')
    if "index" in op:
        ix = op["index"]
        if not _is_int(ix) or ix < 0:
            raise InputError(f'{where}: field "index": expected a non-negative integer, got {short(ix)}')
    return op


def read_text(path: str | os.PathLike) -> str:
    """The whole file as text, or a one-line :class:`InputError` naming ``path``.

    Refuses: a missing file (``path: no such file``), a directory, an unreadable file, a file
    over :data:`MAX_FILE_BYTES`, binary data (a NUL byte) and bytes that are not UTF-8.
    A leading UTF-8 byte-order mark is dropped.
    """
    p = os.fspath(path)
    try:
        with open(p, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise InputError(f"{p}: file too large ({size} bytes; the limit is 1 GiB)")
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory, not a history file") from None
    except PermissionError:
        raise InputError(f"{p}: cannot read: permission denied") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{p}: file too large (more than 1 GiB)")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(f"{p}: binary data (NUL byte at offset {nul}), not a history file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(f"{p}:{line}: not UTF-8 text (bad byte at offset {e.start})") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def read_head(path: str | os.PathLike, limit: int = 65536) -> str:
    """The first ``limit`` bytes of ``path`` as text (for format detection).

    Raises the same one-line errors as :func:`read_text` for a missing, unreadable or binary
    file; bytes that are not UTF-8 are replaced here (the full read reports them).
    """
    p = os.fspath(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(limit)
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{p}: is a directory, not a history file") from None
    except PermissionError:
        raise InputError(f"{p}: cannot read: permission denied") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e.strerror or e}") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(f"{p}: binary data (NUL byte at offset {nul}), not a history file")
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")

