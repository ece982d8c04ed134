"""List-append workload: transactions of reads and appends over rotating integer keys, checked
by Elle's list-append checker (:class:`checkers.elle.ElleListAppendChecker`).

Op shapes (DESIGN.md): ``{"f": "txn", "value": [["r", 3, null], ["append", 3, 7]]}``; the
``ok`` completion has each read filled in with the list read (``[]`` for a key never appended
to). A txn that certainly did not commit is ``fail``; any doubt is ``info``.

Options: ``key_count`` (10), ``min_txn_length`` (1), ``max_txn_length`` (4),
``max_writes_per_key`` (32; keys retire after that many appends), ``key_dist``
(``exponential``|``uniform``), ``key_dist_base`` (2), ``seed`` (0), and for the checker
``consistency_models`` (default strict-serializable) and ``anomalies``.
"""

from __future__ import annotations

from workloads.txn_ops import TxnOps, normalize_options, rng_from

OPS = ("txn",)
OP_SHAPES = {"txn": ('[["r", k, null] | ["append", k, v], ...]',
                     '[["r", k, [v, ...]] | ["append", k, v], ...]')}


class ListAppendWorkload:
    """Elle list-append: generator + checker."""

    name = "list-append"
    ops = OPS
    op_shapes = OP_SHAPES
    write_f = "append"

    def __init__(self, options: dict | None = None):
        self.options = normalize_options(self.name, options)

    def generator(self, opts=None) -> TxnOps:
        """An infinite op source; ``opts`` is a ``random.Random``, a seed, or a dict with ``rng``
        or ``seed`` (default: the ``seed`` option)."""
        return TxnOps(rng_from(opts, self.options["seed"]), self.options, self.write_f)

    def final_generator(self, opts=None):
        return None

    def checker_options(self) -> dict:
        o = {}
        if self.options["consistency_models"] is not None:
            o["consistency_models"] = self.options["consistency_models"]
        if self.options["anomalies"] is not None:
            o["anomalies"] = self.options["anomalies"]
        return o

    def checker(self, opts=None):
        from checkers.elle import ElleListAppendChecker

        return ElleListAppendChecker({**self.checker_options(), **(opts or {})})
