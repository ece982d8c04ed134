"""Reading a history in any supported format, with autodetection.

``read_history(path, fmt=None)`` reads one of :data:`FORMATS`:

- ``jsonl``: our own format (:func:`~harness.history.jsonl.read_jsonl`).
- ``edn``: Jepsen/Knossos/Elle EDN (:func:`~harness.history.edn.read_edn_history`).
- ``json``: one JSON array of op objects, as elle-cli reads them. Keys and the values of
  ``type``, ``f`` and ``process`` may carry Clojure's leading colon (``":type": ":invoke"``);
  it is dropped. Only ``type`` is required (as for EDN).
- ``porcupine-etcd``, ``porcupine-kv``: Porcupine's logs (:mod:`harness.history.porcupine`).

With ``fmt=None`` the format is guessed from the first non-blank, non-comment text:
``INFO`` -> porcupine-etcd; ``;`` -> edn; a first line that is a ``{:...}`` map with a ``:key``
-> porcupine-kv; ``{:`` -> edn; ``{"`` -> jsonl; ``[`` followed by ``{"`` (or ``]``) -> json,
by ``{:`` -> edn; an empty file -> jsonl (no ops). Anything else raises :class:`InputError`.
Every failure (missing file, binary data, bad UTF-8, files over 1 GiB, syntax) is a one-line
:class:`InputError`.
"""

from __future__ import annotations

import json
import os
import re

from harness.errors import InputError

from .edn import read_edn_history
from .jsonl import read_jsonl
from .op import read_head, read_text, short, validate_op
from .porcupine import read_porcupine_etcd, read_porcupine_kv

FORMATS = ("jsonl", "edn", "json", "porcupine-etcd", "porcupine-kv")

_KV_FIRST_LINE = re.compile(r"\{\s*:process\b.*:key\s", re.DOTALL)


def _first_meaningful(text: str) -> str:
    """The text from its first character that is not blank."""
    return text.lstrip(" \t\r\n,\ufeff")


def detect_format(path: str | os.PathLike, text: str | None = None) -> str:
    """Guess the format of ``path`` from its first 64 KiB, or from ``text`` when given (see the
    module docstring); raises :class:`InputError`."""
    p = os.fspath(path)
    if text is None:
        text = read_head(p)
    head = _first_meaningful(text)
    if not head:
        return "jsonl"
    if head.startswith("INFO"):
        return "porcupine-etcd"
    if head.startswith(";") or head.startswith("#"):
        return "edn"
    if head.startswith("{"):
        rest = head[1:].lstrip(" \t\r\n,")
        if rest.startswith(":"):
            first_line = head.split("\n", 1)[0]
            if _KV_FIRST_LINE.match(first_line):
                return "porcupine-kv"
            return "edn"
        if rest.startswith('"') or rest.startswith("}"):
            return "jsonl"
    if head.startswith("[") or head.startswith("("):
        rest = head[1:].lstrip(" \t\r\n,")
        if head.startswith("(") or rest.startswith(":") or rest.startswith(";") or rest.startswith("#"):
            return "edn"
        if rest.startswith("{"):
            inner = rest[1:].lstrip(" \t\r\n,")
            if inner.startswith('"') or inner.startswith("}"):
                return "json"
            return "edn"
        if rest.startswith("]"):
            return "json"
    raise InputError(f"{p}: cannot tell the history format (it starts with {short(head[:20])}); "
                     f"give one of {', '.join(FORMATS)}")


def _strip_colon(s: str) -> str:
    return s[1:] if s.startswith(":") else s


def _json_error(p: str, e: json.JSONDecodeError) -> InputError:
    return InputError(f"{p}:{e.lineno}:{e.colno}: not valid JSON: {e.msg}")


def read_json_history(path: str | os.PathLike) -> list[dict]:
    """Read a JSON array of op objects (elle-cli style; see the module docstring).

    Errors name the line where the offending op starts (``path:LINE: ...``).
    """
    p = os.fspath(path)
    text = read_text(p)
    decoder = json.JSONDecoder()
    ws = re.compile(r"[ \t\r\n]*")
    pos = ws.match(text, 0).end()
    if not text.startswith("[", pos):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise _json_error(p, e) from None
        except RecursionError:
            raise InputError(f"{p}: not valid JSON: nested too deeply") from None
        raise InputError(f"{p}: expected a JSON array of operations, got {type(data).__name__}")
    pos = ws.match(text, pos + 1).end()
    ops: list[dict] = []
    line = text.count("\n", 0, pos) + 1
    last = pos
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            line += text.count("\n", last, pos)
            last = pos
            try:
                raw, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as e:
                raise _json_error(p, e) from None
            except RecursionError:
                raise InputError(f"{p}:{line}: not valid JSON: nested too deeply") from None
            ops.append(_json_op(raw, f"{p}:{line}", len(ops)))
            pos = ws.match(text, pos).end()
            if text.startswith(",", pos):
                pos = ws.match(text, pos + 1).end()
                continue
            if text.startswith("]", pos):
                pos += 1
                break
            try:
                json.loads(text)
            except json.JSONDecodeError as e:
                raise _json_error(p, e) from None
            raise InputError(f"{p}: not valid JSON")  # pragma: no cover - loads must fail here
    if text[pos:].strip():
        raise InputError(f"{p}:{text.count(chr(10), 0, pos) + 1}: not valid JSON: extra data after the array")
    return ops


def _json_op(raw: object, where: str, i: int) -> dict:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected an operation object, got {short(raw)}")
    op = {}
    for k, v in raw.items():
        key = _strip_colon(k)
        if key in op:
            raise InputError(f'{where}: key "{key}" given twice')
        if key in ("type", "f", "process") and isinstance(v, str):
            v = _strip_colon(v)
        op[key] = v
    validate_op(op, where, require=("type",))
    if "index" not in op:
        op = {"index": i, **op}
    return op


_READERS = {
    "edn": read_edn_history,
    "json": read_json_history,
    "porcupine-etcd": read_porcupine_etcd,
    "porcupine-kv": read_porcupine_kv,
}


def read_history(path: str | os.PathLike, fmt: str | None = None,
                 allow_truncated_tail: bool = False) -> list[dict]:
    """Read the history at ``path`` in format ``fmt`` (one of :data:`FORMATS`), or guess it.

    ``allow_truncated_tail`` applies to ``jsonl`` only (see
    :func:`~harness.history.jsonl.read_jsonl`). Returns a list of op dicts, each with ``index``.
    """
    p = os.fspath(path)
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown history format {short(fmt)}; expected one of {', '.join(FORMATS)}")
    if fmt is None:
        fmt = detect_format(p)
    if fmt == "jsonl":
        return read_jsonl(p, allow_truncated_tail=allow_truncated_tail)
    return _READERS[fmt](p)
