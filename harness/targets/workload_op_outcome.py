"""How a target's workload op ends: ok, or fail/info with an error, shared by the raft (and paxos)
and etcd workload clients (:mod:`harness.targets.raft_workloads`,
:mod:`harness.targets.etcd_workloads`).

A handler returns the op's ok value, or raises :class:`OpEnded` (a definite ``fail`` or a doubtful
``info``) or :class:`UnsupportedOp`. :func:`complete_op` turns that into the completed op.
"""

from __future__ import annotations

from typing import Callable

#: ``f``s that observe a value: a failed one records that it saw nothing.
READ_FS = ("read", "dequeue", "generate", "txn")


class OpEnded(Exception):
    """Ends an op early with a completion type (``fail``/``info``) and an error text."""

    def __init__(self, typ: str, error: str):
        super().__init__(error)
        self.typ, self.error = typ, error


class UnsupportedOp(Exception):
    """The target cannot run this op of the workload."""


def unobserved(workload: str, value):
    """What a failed or unknown op that observes something records: nothing observed (``None``;
    ``[k, None]`` for a multi-register read; a txn keeps its invoke value)."""
    if workload == "multi-register" and isinstance(value, (list, tuple)) and len(value) == 2:
        return [value[0], None] if value[1] is None else list(value)
    if workload in ("list-append", "rw-register"):
        return value
    return None


def complete_op(op: dict, handler: Callable, deadline: float, workload: str, target: str,
                encode_errors: tuple[type[BaseException], ...] = ()) -> dict:
    """The completion of ``op``: ``handler(f, value, deadline)``'s value as ``ok``, or the
    ``fail``/``info`` it ended with. Exceptions in ``encode_errors`` (raised while encoding the op,
    before anything was sent) make a ``fail``."""
    f = op.get("f")
    done = dict(op)
    done.pop("error", None)
    try:
        value = handler(f, op.get("value"), deadline)
    except OpEnded as e:
        done.update(type=e.typ, error=e.error)
        if f in READ_FS:
            done["value"] = unobserved(workload, op.get("value"))
        return done
    except UnsupportedOp:
        done.update(type="fail", error=f"unsupported op f={f!r} ({workload} on {target})")
        return done
    except encode_errors as e:
        done.update(type="fail", error=f"cannot encode op: {type(e).__name__}: {e}")
        return done
    done.update(type="ok", value=value)
    return done
