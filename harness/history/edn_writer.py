"""Writing histories as EDN, so Jepsen's tools (knossos, elle-cli) can check our runs too.

One op map a line, as Jepsen writes ``history.edn``::

    {:index 0, :time 312196, :type :invoke, :process 1, :f :write, :value 4, :node "n2"}
    {:index 9, :time 3456789, :type :info, :process :nemesis, :f :start-partition, :value {"n1" ["n2"]}}

Map keys become keywords; ``type`` and ``f`` become keywords, and so does ``process`` when it is
``nemesis``; ``error`` keeps Jepsen's habit of a keyword when it is a simple word. Transaction
micro-ops (``f`` = ``txn``) get their first element as a keyword (``[:append "x" 3]``), which is
what elle-cli reads. Everything else is plain EDN data: ints, floats, strings, ``nil``, booleans,
vectors and maps. :func:`harness.history.edn.read_edn_history` reads the result back to the same
ops.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

_KEYWORD = re.compile(r"^[A-Za-z*+!_?<>=-][A-Za-z0-9*+!_?<>=./-]*$")
_KEYWORD_FIELDS = ("type", "f")


def keyword(name: str) -> str:
    """``:name`` when ``name`` can be a keyword, else a string literal."""
    return f":{name}" if _KEYWORD.match(name) and "/" not in name[:1] else string(name)


def string(s: str) -> str:
    """An EDN string literal (JSON's escapes are EDN's, except that EDN has no ``\\/``)."""
    return json.dumps(s, ensure_ascii=False)


def dumps(v: Any) -> str:
    """One value as EDN."""
    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "##NaN"
        if math.isinf(v):
            return "##Inf" if v > 0 else "##-Inf"
        return repr(v)
    if isinstance(v, str):
        return string(v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{dumps(k)} {dumps(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + " ".join(dumps(x) for x in v) + "]"
    if isinstance(v, (set, frozenset)):
        return "#{" + " ".join(dumps(x) for x in v) + "}"
    return string(str(v))


def _mop(m: Any) -> str:
    if isinstance(m, (list, tuple)) and m and isinstance(m[0], str):
        return "[" + " ".join([keyword(m[0])] + [dumps(x) for x in m[1:]]) + "]"
    return dumps(m)


def op_to_edn(op: dict) -> str:
    """One op as one EDN map (no newline)."""
    parts = []
    for k, v in op.items():
        if k in _KEYWORD_FIELDS and isinstance(v, str):
            val = keyword(v)
        elif k == "process" and v == "nemesis":
            val = ":nemesis"
        elif k == "error" and isinstance(v, str) and _KEYWORD.match(v):
            val = keyword(v)
        elif k == "value" and op.get("f") == "txn" and isinstance(v, list):
            val = "[" + " ".join(_mop(m) for m in v) + "]"
        else:
            val = dumps(v)
        parts.append(f"{keyword(str(k))} {val}")
    return "{" + ", ".join(parts) + "}"


def write_edn_history(path: str | os.PathLike, history: list[dict]) -> None:
    """Write ``history`` to ``path`` as EDN, one op map a line."""
    with open(path, "w", encoding="utf-8") as f:
        for op in history:
            f.write(op_to_edn(op) + "\n")
