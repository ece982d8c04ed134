"""Checking a history file offline: what ``splitbrain check`` and ``splitbrain analyze`` share.

A history is read in any supported format, then handed to a checker built by name. Reading
errors are :class:`~harness.errors.InputError` (exit 254); the checker's verdict maps to exit
codes 0/1/2.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.errors import InputError
from harness.history.formats import detect_format, read_history
from harness.history.pairing import pair_ops
from harness.history_check_workloads import WORKLOAD_CHECKERS, make_workload_checker

CHECKERS = ("linearizable", "elle-list-append", "elle-rw-register") + WORKLOAD_CHECKERS
ELLE_CHECKERS = ("elle-list-append", "elle-rw-register")


@dataclass(frozen=True)
class CheckRequest:
    """What to check a history for (the ``check`` command's flags)."""

    checker: str = "linearizable"
    model: str = "cas-register"
    initial: object = None
    timeout_s: float | None = None
    open_as_info: bool = False
    #: Elle checkers' options (consistency_models, anomalies, *_keys), see checkers.elle.
    elle_options: dict | None = None
    #: where checkers write their reports (the linearizability counterexample page), if anywhere
    report_dir: str | None = None


def make_checker(req: CheckRequest):
    """Build the checker object a request names; unknown names are bad input."""
    if req.checker not in CHECKERS:
        raise InputError(
            f"--checker: unknown checker {req.checker!r} (valid: {', '.join(CHECKERS)})"
        )
    if req.checker in ELLE_CHECKERS:
        from checkers.elle import CHECKERS as ELLE

        return ELLE[req.checker](req.elle_options or {})
    if req.checker in WORKLOAD_CHECKERS:
        return make_workload_checker(req.checker, req.initial)
    from checkers.linearizable import LinearizableChecker
    from checkers.linearizable.models import make_model

    return LinearizableChecker(make_model(req.model, req.initial), timeout_s=req.timeout_s)


# Formats written by other tools follow those tools' convention for an invoke that never
# completed (Knossos/Jepsen: a crashed op, indeterminate; Porcupine: returns "unknown" at the end).
# Our own JSONL writer always records a completion, so there an open invoke is an error unless the
# user says otherwise (--open-as-info; `analyze` does this for crashed runs).
OPEN_INVOKES_ARE_INFO = {"edn", "json", "porcupine-etcd", "porcupine-kv"}


def load_checked_history(path: str, fmt: str | None, open_as_info: bool) -> list[dict]:
    """Read a history and make sure every invoke is paired (raising InputError otherwise)."""
    fmt = fmt or detect_format(path)
    history = read_history(path, fmt)
    open_as_info = open_as_info or fmt in OPEN_INVOKES_ARE_INFO
    try:
        pair_ops(history, open_as_info=open_as_info)
    except InputError as e:
        raise InputError(f"{path}: {e}") from None
    return history


def check_file(path: str, fmt: str | None, req: CheckRequest) -> tuple[dict, float]:
    """Check one file: (results, seconds spent checking, parsing excluded)."""
    checker = make_checker(req)
    if req.checker in ELLE_CHECKERS:
        # Elle pairs its own, tolerant way (ok-only ops, overlapping invokes): no strict pairing.
        history = read_history(path, fmt or detect_format(path))
    else:
        history = load_checked_history(path, fmt, req.open_as_info)
    t0 = time.perf_counter()
    try:
        result = checker.check(None, history, {"open_as_info": True, "report_dir": req.report_dir})
    except InputError as e:
        if req.checker not in ELLE_CHECKERS:
            raise
        raise InputError(f"{path}: {e}") from None
    return result, time.perf_counter() - t0
