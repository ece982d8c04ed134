"""Read-write register workload: transactions of reads and unique writes over rotating integer
keys, checked by Elle's rw-register checker (:class:`checkers.elle.ElleRwRegisterChecker`).

Op shapes (DESIGN.md): ``{"f": "txn", "value": [["r", 3, null], ["w", 3, 7]]}``; the ``ok``
completion has each read filled in (``null`` for a key never written). Options as for
:mod:`workloads.list_append` (``max_writes_per_key`` retires a key after that many writes).
"""

from __future__ import annotations

from workloads.list_append import ListAppendWorkload

OPS = ("txn",)
OP_SHAPES = {"txn": ('[["r", k, null] | ["w", k, v], ...]', '[["r", k, v | null] | ["w", k, v], ...]')}


class RwRegisterWorkload(ListAppendWorkload):
    """Elle rw-register: generator + checker."""

    name = "rw-register"
    op_shapes = OP_SHAPES
    write_f = "w"

    def checker(self, opts=None):
        from checkers.elle import ElleRwRegisterChecker

        return ElleRwRegisterChecker({**self.checker_options(), **(opts or {})})
