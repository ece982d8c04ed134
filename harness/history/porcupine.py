"""Porcupine's test histories: the etcd Jepsen logs and the kv logs.

**etcd logs** (``test_data/jepsen/etcd_NNN.log``, from Jepsen's etcd test via
ahorn/linearizability-checker): one op a line, fields separated by tabs or spaces::

    INFO  jepsen.util - 3	:invoke	:read	nil
    INFO  jepsen.util - 3	:ok	:read	2
    INFO  jepsen.util - 1	:invoke	:cas	[1 2]
    INFO  jepsen.util - 1	:fail	:cas	[1 2]
    INFO  jepsen.util - 4	:info	:write	:timed-out
    INFO  jepsen.util - 0	:fail	:read	:timed-out

:func:`read_porcupine_etcd` maps them to our ops (``process`` int, ``type``, ``f``, ``value``):

- ``:invoke :read nil`` -> invoke with ``value`` None; ``:ok :read V`` -> ok with the value read
  (``nil`` -> None, the register's initial "absent" state).
- ``:invoke/:ok :write V`` and ``:invoke/:ok/:fail :cas [a b]`` keep their value (``[a, b]``).
  A ``:fail :cas`` is our ``fail`` (the compare did not match, nothing was written). Note that
  Porcupine's own etcd model checks more than that: it treats a failed cas as a cas that
  *returned false*, i.e. the register differed from ``a`` at its linearization point, while
  Jepsen/Knossos semantics (ours) only say the cas did not happen.
- ``:info :write|:cas :timed-out`` -> ``info`` with ``value`` None and ``"error": "timed-out"``.
  Porcupine's parser has no pattern for these lines, so the invoke stays open and is completed
  with an "unknown" output at the end of the history -- exactly what our ``info`` means (it may
  take effect at any point after its invoke).
- ``:fail :read :timed-out`` -> ``fail`` with ``value`` None and ``"error": "timed-out"``.
  A read that did not complete observed nothing and never changes the register, so it cannot
  constrain the history (Porcupine completes it in place with an "unknown" output, which its
  model accepts in any state); ``fail`` says the same thing in our vocabulary.
- An invoke with no completion at all is completed at the end of the history with a
  synthesized ``info`` (``value`` None, ``"synthesized": True``), as Porcupine does. None of
  the 103 logs in ``../shared/data/porcupine/jepsen`` has one (every invoke has a completion
  line; ``etcd_095.log`` is empty: the etcd cluster failed to start).

**kv logs** (``test_data/kv/*.txt``): one EDN map a line with a ``:key``::

    {:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}
    {:process 0, :type :invoke, :f :get, :key "7", :value nil}
    {:process 0, :type :ok, :f :get, :key "7", :value ""}

:func:`read_porcupine_kv` keeps the key in the value, as a pair ``[key, value]``:
``{"process": 0, "type": "invoke", "f": "append", "value": ["0", "x 0 0 y"]}``; a get's
invoke is ``["7", None]`` and its ok ``["7", ""]`` (the string read); ``put`` is like
``append``. ``f`` is one of ``get``, ``put``, ``append``. Open invokes get a synthesized
``info`` at the end as above.

Lines that do not match raise :class:`InputError` naming ``path:line``; blank lines are skipped.
"""

from __future__ import annotations

import os
import re

from harness.errors import InputError

from .edn import parse_forms
from .op import read_text, short, validate_op

_ETCD_LINE = re.compile(
    r"INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+"
    r"(nil|-?\d+|\[\s*(-?\d+)\s+(-?\d+)\s*\]|:timed-out)\s*"
)

KV_FUNCTIONS = ("get", "put", "append")


def _close_open_invokes(ops: list[dict], in_flight: dict) -> None:
    """Complete every invoke still in flight with a synthesized info at the end."""
    for p, f in in_flight.items():
        ops.append({"index": len(ops), "type": "info", "process": p, "f": f, "value": None,
                    "synthesized": True})


def read_porcupine_etcd(path: str | os.PathLike) -> list[dict]:
    """Read one of Porcupine's etcd Jepsen logs (see the module docstring)."""
    p = os.fspath(path)
    text = read_text(p)
    ops: list[dict] = []
    in_flight: dict[int, str] = {}
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        m = _ETCD_LINE.fullmatch(line.strip())
        if m is None:
            raise InputError(f"{p}:{lineno}: not a Porcupine etcd log line: {short(line.strip())}")
        proc, typ, f, raw, a, b = m.groups()
        process = int(proc)
        op: dict = {"index": len(ops), "type": typ, "process": process, "f": f}
        if raw == ":timed-out":
            if typ not in ("info", "fail"):
                raise InputError(f"{p}:{lineno}: :{typ} :{f} cannot time out (only :info and :fail do)")
            # :info :write/:cas -> info: the op may still take effect later.
            # :fail :read -> fail: a timed-out read observed nothing and a read never changes
            # the register, so it constrains nothing ("did not happen" is exact).
            op["value"] = None
            op["error"] = "timed-out"
        elif f == "cas":
            if a is None:
                raise InputError(f"{p}:{lineno}: :cas needs a value [from to], got {short(raw)}")
            op["value"] = [int(a), int(b)]
        elif a is not None:
            raise InputError(f"{p}:{lineno}: :{f} needs nil or an integer, got {short(raw)}")
        elif raw == "nil":
            if f != "read":
                raise InputError(f"{p}:{lineno}: :{f} needs an integer value, got nil")
            op["value"] = None
        else:
            if typ == "invoke" and f == "read":
                raise InputError(f"{p}:{lineno}: a read's invoke has value nil, got {raw}")
            op["value"] = int(raw)
        if typ == "invoke":
            in_flight[process] = f
        else:
            in_flight.pop(process, None)
        ops.append(op)
    _close_open_invokes(ops, in_flight)
    return ops


_KV_KEYS = {"process", "type", "f", "key", "value"}


def read_porcupine_kv(path: str | os.PathLike) -> list[dict]:
    """Read one of Porcupine's kv logs; values become ``[key, value]`` (see the module docstring)."""
    p = os.fspath(path)
    text = read_text(p)
    ops: list[dict] = []
    in_flight: dict[int, str] = {}
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        where = f"{p}:{lineno}"
        forms = parse_forms(line, p, first_line=lineno)
        if len(forms) != 1 or not isinstance(forms[0][0], dict):
            raise InputError(f"{where}: not a Porcupine kv op (expected one map like "
                             f'{{:process 0, :type :invoke, :f :get, :key "k", :value nil}})')
        m = forms[0][0]
        for k in ("process", "type", "f", "key", "value"):
            if k not in m:
                raise InputError(f'{where}: field "{k}": missing')
        for k in m:
            if k not in _KV_KEYS:
                raise InputError(f"{where}: unexpected key {short(k)} in a Porcupine kv op")
        validate_op(m, where)
        if m["f"] not in KV_FUNCTIONS:
            raise InputError(f'{where}: field "f": expected one of get, put, append, got {short(m["f"])}')
        if m["process"] == "nemesis":
            raise InputError(f'{where}: field "process": expected an integer, got "nemesis"')
        if not isinstance(m["key"], str):
            raise InputError(f'{where}: field "key": expected a string, got {short(m["key"])}')
        v = m["value"]
        if not (v is None or isinstance(v, str)):
            raise InputError(f'{where}: field "value": expected a string or nil, got {short(v)}')
        if v is None and not (m["f"] == "get" and m["type"] in ("invoke", "fail", "info")):
            raise InputError(f'{where}: field "value": :{m["type"]} :{m["f"]} needs a string, got nil')
        op = {"index": len(ops), "type": m["type"], "process": m["process"], "f": m["f"],
              "value": [m["key"], v]}
        if m["type"] == "invoke":
            in_flight[m["process"]] = m["f"]
        else:
            in_flight.pop(m["process"], None)
        ops.append(op)
    _close_open_invokes(ops, in_flight)
    return ops
