"""Turning a request path into a file of the store, and refusing everything else.

The web UI serves files by their path relative to the store, so the one thing it must never do is
serve a file outside it. Checks, in order:

1. the *raw* path (before any decoding) has no ``..`` or ``.`` segment, no backslash, no NUL and no
   percent-encoded dot, slash, backslash or percent (``%2e``, ``%2f``, ``%5c``, ``%25``): a client
   has no legitimate reason to encode those, and refusing them closes the double-decoding tricks;
2. the decoded path has no ``..``/``.`` or hidden (``.name``) segment, no backslash, no NUL;
3. the resolved path (symlinks followed) is inside the resolved store: a symlink in the store that
   points outside is refused as well.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

_BAD_ENCODED = re.compile(r"%(2e|2f|5c|25|00)", re.IGNORECASE)


class Refused(Exception):
    """The path is not something the web UI will serve (the message says why)."""


def check_raw(raw: str) -> None:
    """Refuse a raw URL path (no query) that tries to leave its directory."""
    if "\\" in raw or "\x00" in raw:
        raise Refused("backslash or NUL in the path")
    if _BAD_ENCODED.search(raw):
        raise Refused("encoded '.', '/', '\\' or '%' in the path")
    for seg in raw.split("/"):
        if seg in (".", ".."):
            raise Refused("'.' or '..' in the path")


def decode_segments(raw: str) -> list[str]:
    """The decoded, non-empty segments of a raw path, after :func:`check_raw`."""
    check_raw(raw)
    segs = []
    for seg in raw.split("/"):
        if not seg:
            continue
        s = unquote(seg, errors="strict")
        if s in (".", "..") or s.startswith(".") or "/" in s or "\\" in s or "\x00" in s:
            raise Refused(f"segment {s!r} is not allowed")
        segs.append(s)
    return segs


def resolve_in(root: Path, segments: list[str]) -> Path:
    """``root/segments...`` resolved (symlinks followed); Refused if it does not exist or is not
    inside ``root`` once resolved."""
    base = root.resolve()
    try:
        p = base.joinpath(*segments).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        raise Refused("no such file") from None
    if not p.is_relative_to(base):
        raise Refused("outside the store")
    return p
