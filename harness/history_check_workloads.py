"""The workload checkers that ``splitbrain check --checker NAME`` offers besides linearizability
and Elle: ``set``, ``counter``, ``unique-ids``, ``bank`` and ``queue`` (each workload's own
checker, docs/workloads.md). The multi-register check is the linearizability checker with
``--model independent-cas-register``.

``--initial`` gives what a checker needs to know about the start: for ``bank``, the initial
balances (``{"0": 50, "1": 50}``: the accounts are its keys, the total is their sum); the other
checkers take none.
"""

from __future__ import annotations

from harness.errors import InputError

WORKLOAD_CHECKERS = ("set", "counter", "unique-ids", "bank", "queue")


def make_workload_checker(name: str, initial=None):
    """The checker called ``name`` (InputError for a bad ``initial``)."""
    if name == "bank":
        if not (isinstance(initial, dict) and len(initial) >= 2 and all(
                isinstance(v, int) and not isinstance(v, bool) for v in initial.values())):
            raise InputError('--initial: the bank checker needs the initial balances, e.g. '
                             '--initial \'{"0": 50, "1": 50}\' (at least 2 accounts, int balances), '
                             f'got {initial!r}')
        from checkers.bank import BankChecker
        return BankChecker(list(initial), sum(initial.values()))
    if initial is not None:
        raise InputError(f"--initial: the {name} checker takes no initial value, got {initial!r}")
    if name == "set":
        from checkers.set import SetChecker
        return SetChecker()
    if name == "counter":
        from checkers.counter import CounterChecker
        return CounterChecker()
    if name == "unique-ids":
        from checkers.unique_ids import UniqueIdsChecker
        return UniqueIdsChecker()
    if name == "queue":
        from checkers.queue import QueueChecker
        return QueueChecker()
    raise InputError(f"--checker: unknown workload checker {name!r}")
