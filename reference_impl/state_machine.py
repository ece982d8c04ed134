"""The replicated key-value state machine shared by the reference Raft and Paxos stores.

A protocol core decides the *order* of commands; this module says what a command *does*. It is
pure and deterministic: the same commands applied in the same order give the same state and the
same results on every replica, which is what state-machine safety means.

Commands are plain JSON-able dicts (they travel in log entries):

=====================================================  ==============================================
command                                                result
=====================================================  ==============================================
``{"op": "noop"}``                                     ``None`` (a new leader's first entry)
``{"op": "config", "voters": [...]}``                  ``None`` (a Raft membership change: the
                                                       core acts on it, the data is untouched)
``{"op": "get", "key": k}``                            ``{"value": v, "found": bool}``
``{"op": "put", "key": k, "value": v}``                ``{"ok": True}``
``{"op": "cas", "key": k, "from": a, "to": b}``        ``{"ok": bool, "value": current before}``;
                                                       ``from = None`` means "key absent"
``{"op": "txn", "ops": [[f, k, v], ...]}``             ``{"ops": [[f, k, v'], ...]}``: ``f`` is
                                                       ``"r"`` (``v'`` = value read, ``None`` if
                                                       absent), ``"w"`` (write ``v``) or ``"append"``
                                                       (append ``v`` to the list at ``k``; an absent
                                                       key is the empty list). All or nothing.
                                                       ``"cmp"`` (compare: ``k`` must hold ``v``,
                                                       ``None`` = absent) makes the txn conditional:
                                                       a false compare gives ``{"ok": False,
                                                       "failed": [i, k, current]}``, no change.
=====================================================  ==============================================

A command that is malformed yields ``{"error": "..."}`` and changes nothing; the front end
validates input first, so this only guards replicas against each other's bugs.
"""

from __future__ import annotations

import copy
import json
from typing import Any

MICRO_OPS = ("r", "w", "append", "cmp")


def validate_txn_ops(ops: Any) -> str | None:
    """Why ``ops`` is not a valid transaction body, or None when it is."""
    if not isinstance(ops, list) or not ops:
        return "ops must be a non-empty list of [f, key, value]"
    for i, mop in enumerate(ops):
        if not isinstance(mop, (list, tuple)) or len(mop) != 3:
            return f"ops[{i}]: expected [f, key, value], got {mop!r}"
        f, k, _v = mop
        if f not in MICRO_OPS:
            return f"ops[{i}]: unknown micro-op {f!r} (valid: r, w, append, cmp)"
        if not isinstance(k, (str, int)) or isinstance(k, bool):
            return f"ops[{i}]: key must be a string or an int, got {k!r}"
    return None


class KVStateMachine:
    """A dict of keys to JSON values, changed only by :meth:`apply`.

    ``applied_index`` is the log index of the last applied command: a replica that restarts from
    a snapshot resumes applying after it.
    """

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.applied_index = 0

    @staticmethod
    def _key(k: Any) -> str:
        # JSON object keys are strings: keep int and str keys apart after a snapshot round trip.
        return k if isinstance(k, str) else f"#int:{k}"

    def get(self, key: Any) -> tuple[bool, Any]:
        """``(found, value)`` of ``key`` in the local state (no consensus: callers decide when
        that is safe)."""
        k = self._key(key)
        if k in self.data:
            return True, self.data[k]
        return False, None

    def apply(self, index: int, cmd: Any) -> Any:
        """Apply the command at log ``index`` and return its result."""
        if index <= self.applied_index:
            raise ValueError(f"apply out of order: index {index} after {self.applied_index}")
        self.applied_index = index
        if not isinstance(cmd, dict):
            return {"error": f"not a command: {cmd!r}"}
        op = cmd.get("op")
        try:
            if op in ("noop", "config"):
                return None
            if op == "get":
                found, v = self.get(cmd["key"])
                return {"value": v, "found": found}
            if op == "put":
                self.data[self._key(cmd["key"])] = copy.deepcopy(cmd["value"])
                return {"ok": True}
            if op == "cas":
                found, cur = self.get(cmd["key"])
                expected = cmd.get("from")
                holds = (not found) if expected is None else (found and cur == expected)
                if holds:
                    self.data[self._key(cmd["key"])] = copy.deepcopy(cmd["to"])
                return {"ok": holds, "value": cur}
            if op == "txn":
                return self._txn(cmd["ops"])
        except (KeyError, TypeError) as e:
            return {"error": f"malformed {op} command: {e}"}
        return {"error": f"unknown command op {op!r}"}

    def _txn(self, ops: Any) -> dict:
        why = validate_txn_ops(ops)
        if why:
            return {"error": why}
        # Validate every append target before changing anything: all or nothing.
        staged: dict[str, Any] = {}
        out = []
        for f, k, v in ops:
            key = self._key(k)
            if key in staged:
                cur, found = staged[key], True
            else:
                found, cur = self.get(k)
            if f == "cmp":
                # A conditional txn (a multi-key compare-and-set, as etcd's txn compares).
                holds = (not found) if v is None else (found and cur == v)
                if not holds:
                    return {"ok": False, "failed": [len(out), k, copy.deepcopy(cur) if found else None]}
                out.append([f, k, v])
            elif f == "r":
                out.append([f, k, copy.deepcopy(cur) if found else None])
            elif f == "w":
                staged[key] = copy.deepcopy(v)
                out.append([f, k, v])
            else:  # append
                if found and not isinstance(cur, list):
                    return {"error": f"append to {k!r}: value {cur!r} is not a list"}
                staged[key] = (list(cur) if found else []) + [copy.deepcopy(v)]
                out.append([f, k, v])
        self.data.update(staged)
        return {"ops": out}

    # -- snapshots -----------------------------------------------------------------------
    def snapshot(self) -> str:
        """The state as JSON text, with the applied index."""
        return json.dumps({"applied": self.applied_index, "data": self.data},
                          separators=(",", ":"), sort_keys=True)

    def restore(self, blob: str) -> None:
        """Replace the state with a :meth:`snapshot`."""
        doc = json.loads(blob)
        self.data = doc["data"]
        self.applied_index = int(doc["applied"])

    def digest(self) -> str:
        """A stable text of the whole state, to compare replicas."""
        return json.dumps(self.data, sort_keys=True, separators=(",", ":"))
