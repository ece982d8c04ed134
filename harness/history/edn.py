"""A small EDN reader, and Jepsen/Knossos/Elle EDN histories.

:func:`loads` / :func:`parse_forms` read EDN text into plain Python values:

=====================  =================================================================
EDN                    Python
=====================  =================================================================
``nil true false``     ``None True False``
``42 -7 42N 0x1F``     ``int`` (``0x`` hex as Clojure reads it)
``1.5 1e3 1.5M``       ``float``; ratios ``1/3`` -> ``float``; ``##Inf ##-Inf ##NaN``
``"a\\tb"``            ``str`` (escapes ``\\" \\\\ \\n \\t \\r \\b \\f \\uXXXX``)
``\\a \\newline``      one-character ``str``
``:read :a/b``         ``"read"``, ``"a/b"`` (keywords lose their colon)
``sym``                ``"sym"`` (symbols become strings)
``[..] (..)``          ``list``
``#{..}``              ``list`` (in file order)
``{..}``               ``dict`` (vector/set keys become tuples, map keys frozensets of items)
``#tag form``          ``form`` (``#inst "..."``, ``#jepsen.history.Op{...}``, ``#object[...]``)
``#_ form``            dropped; ``;`` comments are skipped
=====================  =================================================================

The parser keeps an explicit stack (no recursion), so deep nesting cannot overflow Python's
stack. Errors raise :class:`~harness.errors.InputError` with ``path:line:col``.

:func:`read_edn_history` reads a history: either one top-level vector (or list) of op maps,
or op maps one after another (usually one a line). Map keys become strings without the colon
and keyword values strings (``:type :invoke`` -> ``"type": "invoke"``, ``:process :nemesis``
-> ``"process": "nemesis"``, ``:error :timed-out`` -> ``"error": "timed-out"``). Each op must
have ``type``; ``process``, ``f``, ``time`` and ``index`` are checked when present (Elle's
paper example has no ``:process``). An op without ``:index`` gets its position.
"""

from __future__ import annotations

import os
import re
from typing import Any

from harness.errors import InputError

from .op import read_text, short, validate_op

# One token per match, after skipping blanks and commas on the same line. Newlines are tokens of
# their own (so the parser counts lines without knowing offsets); the last alternative takes any
# other single character, so that every character is matched and garbage cannot be skipped.
_SYM = r'[^\s,()\[\]{}"\\;]'
_TOKEN = re.compile(
    r"[ \t\r\f\v,]*("
    r'[^\s,()\[\]{}"\\;#]' + _SYM + r"*"          # atom: number, keyword, symbol, nil/true/false
    r"|[()\[\]{}]|\#\{"                              # delimiters
    r'|"[^"\\]*(?:\\.[^"\\]*)*"'                     # string
    r"|\n"                                           # newline
    r"|;[^\n]*"                                      # comment
    r"|\#_"                                          # discard
    r"|\#\#" + _SYM + r"+"                           # ##Inf ##NaN
    r"|\#[A-Za-z]" + _SYM + r"*"                     # tag
    r"|\\(?:newline|space|tab|return|backspace|formfeed|u[0-9A-Fa-f]{4}|o[0-7]{1,3}|.)"  # char
    r"|\Z|.)",                                       # end of text, or one unexpected character
    re.DOTALL,
)

_INT = re.compile(r"[+-]?\d+N?")
_HEX = re.compile(r"([+-]?)0[xX]([0-9A-Fa-f]+)N?")
_FLOAT = re.compile(r"[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?M?")
_RATIO = re.compile(r"([+-]?\d+)/(\d+)")
_STR_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/"}
_CHAR_NAMES = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r", "backspace": "\b", "formfeed": "\f"}
_SYMVALS = {"##Inf": float("inf"), "##-Inf": float("-inf"), "##NaN": float("nan")}
_CLOSER = {"[": "]", "(": ")", "{": "}", "#{": "}"}

#: Nesting deeper than this is refused (no recursion is involved; this only bounds memory).
MAX_DEPTH = 10_000

# Frame kinds on the parse stack.
_COLL, _TAGGED, _DISCARD = 0, 1, 2


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


_MISS = _Marker("miss")
_OPEN = _Marker("open")
_CLOSE = _Marker("close")
_NEWLINE = _Marker("newline")
_END = _Marker("end")


class _ParseError(Exception):
    """An error at token ``k`` (``delta`` characters into it); turned into path:line:col."""

    def __init__(self, k: int, msg: str, delta: int = 0):
        super().__init__(msg)
        self.k, self.msg, self.delta = k, msg, delta


def _linecol(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _token_pos(text: str, k: int) -> int:
    """Offset of token ``k`` (slow; only used to report an error)."""
    for i, m in enumerate(_TOKEN.finditer(text)):
        if i == k:
            return m.start(1)
    return len(text)


def _unescape(s: str, k: int) -> str:
    if "\\" not in s:
        return s

    def repl(m: re.Match) -> str:
        e = m.group(1)
        if e in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[e]
        if len(e) == 5 and e[0] == "u":
            return chr(int(e[1:], 16))
        raise _ParseError(k, f"unsupported escape \\{e[:1]} in string", m.start() + 1)

    return _STR_ESCAPE.sub(repl, s)


def _atom(tok: str, k: int) -> Any:
    if tok == "nil":
        return None
    if tok == "true":
        return True
    if tok == "false":
        return False
    c = tok[0]
    if c == ":":
        name = tok[1:]
        if not name or name.startswith(":") or name.endswith("/"):
            raise _ParseError(k, f"invalid keyword {short(tok)}")
        return name
    if c.isdigit() or (c in "+-" and len(tok) > 1 and tok[1].isdigit()):
        if _INT.fullmatch(tok):
            return int(tok.rstrip("N"))
        m = _HEX.fullmatch(tok)
        if m:
            v = int(m.group(2), 16)
            return -v if m.group(1) == "-" else v
        if _FLOAT.fullmatch(tok):
            return float(tok.rstrip("M"))
        m = _RATIO.fullmatch(tok)
        if m and int(m.group(2)) != 0:
            return int(m.group(1)) / int(m.group(2))
        raise _ParseError(k, f"invalid number {short(tok)}")
    return tok  # a symbol


def _scalar(tok: str, k: int) -> Any:
    """The value of a token that is not a delimiter, newline or the end (cache miss path)."""
    c = tok[0]
    if c == '"':
        if len(tok) < 2 or tok[-1] != '"':
            raise _ParseError(k, "unterminated string")
        return _unescape(tok[1:-1], k)
    if c == "\\":
        name = tok[1:]
        if not name:
            raise _ParseError(k, "unexpected \\ at end of input")
        if len(name) == 1:
            return name
        if name in _CHAR_NAMES:
            return _CHAR_NAMES[name]
        if name[0] == "u":
            return chr(int(name[1:], 16))
        return chr(int(name[1:], 8))
    if c == "#":
        if tok in _SYMVALS:
            return _SYMVALS[tok]
        if tok.startswith("##"):
            raise _ParseError(k, f"unknown symbolic value {short(tok)}")
        raise _ParseError(k, f"unexpected {short(tok)}")  # tags, #_ and #{ never get here
    if not (c.isalnum() or c in ":+-*!_?<>=./&%$'|"):
        raise _ParseError(k, f"unexpected character {short(c)}")
    return _atom(tok, k)


def _freeze(v: Any) -> Any:
    """A hashable stand-in for a value used as a map key or set element."""
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return frozenset((k, _freeze(x)) for k, x in v.items())
    return v


def _build_map(items: list, k: int) -> dict:
    if len(items) % 2:
        raise _ParseError(k, f"map has an odd number of forms ({len(items)})")
    d: dict = {}
    for i in range(0, len(items), 2):
        key = items[i]
        if isinstance(key, (list, dict)):
            key = _freeze(key)
        if key in d:
            raise _ParseError(k, f"map has duplicate key {short(key)}")
        d[key] = items[i + 1]
    return d


def parse_forms(text: str, name: str = "<edn>", child_lines: bool = False,
                first_line: int = 1) -> list[tuple]:
    """Parse every top-level form in ``text``.

    Returns a list of ``(value, line)`` (``line`` is where the form starts, 1-based). With
    ``child_lines`` each entry is ``(value, line, lines)``, where ``lines`` gives the start line
    of each element of a top-level collection (``None`` for scalars). ``name`` prefixes error
    messages (``name:line:col: problem``); ``first_line`` is the number of the text's first
    line (for text cut out of a larger file).
    """
    try:
        forms = _parse(text, child_lines)
    except _ParseError as e:
        pos = min(_token_pos(text, e.k) + e.delta, len(text))
        line, col = _linecol(text, pos)
        raise InputError(f"{name}:{line + first_line - 1}:{col}: {e.msg}") from None
    if first_line != 1:
        d = first_line - 1
        if child_lines:
            forms = [(v, ln + d, None if ch is None else [x + d for x in ch]) for v, ln, ch in forms]
        else:
            forms = [(v, ln + d) for v, ln in forms]
    return forms


def _parse(text: str, child_lines: bool) -> list[tuple]:
    tokens = _TOKEN.findall(text)
    out: list[tuple] = []
    # Frames: [kind, token index, items, opener, child start lines, start line].
    # The top collection's items / child lines also live in locals for the fast path.
    stack: list[list] = []
    items: list | None = None
    child: list | None = None
    top_coll = False
    line = 1
    cache: dict = {"(": _OPEN, "[": _OPEN, "{": _OPEN, "#{": _OPEN,
                   ")": _CLOSE, "]": _CLOSE, "}": _CLOSE, "\n": _NEWLINE, "": _END}
    get = cache.get
    for k, tok in enumerate(tokens):
        v = get(tok, _MISS)
        if v.__class__ is not _Marker:
            # a cached scalar (keywords, numbers, nil...): the common case
            if top_coll:
                items.append(v)
                if child is not None:
                    child.append(line)
                continue
            start = line
            own_child = None
        elif v is _NEWLINE:
            line += 1
            continue
        elif v is _OPEN:
            if len(stack) >= MAX_DEPTH:
                raise _ParseError(k, "nested too deeply")
            child = [] if (child_lines and not top_coll and not any(fr[0] == _COLL for fr in stack)) else None
            items = []
            stack.append([_COLL, k, items, tok, child, line])
            top_coll = True
            continue
        elif v is _CLOSE:
            if not top_coll:
                if stack:  # a tag or #_ with nothing after it
                    what = "#_" if stack[-1][0] == _DISCARD else f"tag {stack[-1][3]}"
                    raise _ParseError(k, f"unexpected {short(tok)}: {what} needs a form after it")
                raise _ParseError(k, f"unexpected {short(tok)}")
            _, ck, done, opener, done_child, start = stack.pop()
            if _CLOSER[opener] != tok:
                raise _ParseError(k, f"unexpected {short(tok)}: {short(opener)} opened at line {start} is not closed")
            v = _build_map(done, ck) if opener == "{" else done
            if stack and stack[-1][0] == _COLL:
                top = stack[-1]
                items, child = top[2], top[4]
                items.append(v)
                if child is not None:
                    child.append(start)
                continue
            top_coll = False
            items = child = None
            own_child = done_child
        elif v is _END:
            continue
        else:  # _MISS: a token not seen before
            c = tok[0]
            if c == ";":
                continue
            if c == "#" and (tok == "#_" or (len(tok) > 1 and tok[1].isalpha())):
                stack.append([_DISCARD if tok == "#_" else _TAGGED, k, None, tok, None, line])
                top_coll = False
                items = child = None
                continue
            v = _scalar(tok, k)
            own_child = None
            if "\n" in tok:
                start = line
                line += tok.count("\n")
            else:
                if len(cache) < 100_000:
                    cache[tok] = v
                start = line
            if top_coll:
                items.append(v)
                if child is not None:
                    child.append(start)
                continue
        # A complete value outside the fast path: pass it through tags, drop it after #_,
        # add it to the enclosing collection, or emit it as a top-level form.
        while stack:
            top = stack[-1]
            kind = top[0]
            if kind == _COLL:
                top[2].append(v)
                if top[4] is not None:
                    top[4].append(start)
                break
            stack.pop()
            if kind == _DISCARD:
                break
            start = top[5]  # a tagged value starts at its tag
        else:
            out.append((v, start, own_child) if child_lines else (v, start))
        if stack and stack[-1][0] == _COLL:
            top_coll = True
            items, child = stack[-1][2], stack[-1][4]
        else:
            top_coll = False
            items = child = None
    if stack:
        kind, ck, _, opener, _, _ = stack[-1]
        if kind == _COLL:
            raise _ParseError(ck, f"unexpected end of input: {short(opener)} is not closed")
        raise _ParseError(ck, f"unexpected end of input: {opener} needs a form after it")
    return out


def loads(text: str, name: str = "<edn>") -> Any:
    """Parse text holding exactly one EDN form (comments and whitespace around it allowed)."""
    forms = parse_forms(text, name)
    if len(forms) != 1:
        if not forms:
            raise InputError(f"{name}: no EDN form found")
        raise InputError(f"{name}:{forms[1][1]}: expected one EDN form, found {len(forms)}")
    return forms[0][0]


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "a map"
    if isinstance(v, list):
        return "a vector"
    return short(v)


def op_from_map(m: Any, where: str) -> dict:
    """Turn a parsed EDN map into an op dict (string keys), validated (``type`` required)."""
    if not isinstance(m, dict):
        raise InputError(f"{where}: expected an operation map, got {_kind(m)}")
    for k in m:
        if not isinstance(k, str):
            raise InputError(f"{where}: operation key {short(k)} is not a keyword")
    return validate_op(m, where, require=("type",))


def read_edn_history(path: str | os.PathLike) -> list[dict]:
    """Read a Jepsen/Knossos/Elle EDN history (see the module docstring)."""
    p = os.fspath(path)
    text = read_text(p)
    forms = parse_forms(text, p, child_lines=True)
    if len(forms) == 1 and isinstance(forms[0][0], list):
        value, _, lines = forms[0]
        pairs = zip(value, lines)
    else:
        pairs = ((v, line) for v, line, _ in forms)
    ops = []
    for i, (v, line) in enumerate(pairs):
        op = op_from_map(v, f"{p}:{line}")
        if "index" not in op:
            op = {"index": i, **op}
        ops.append(op)
    return ops
