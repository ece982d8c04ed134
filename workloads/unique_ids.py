"""Unique-ids workload: ``generate`` ops (invoke value ``None``, ok value: the id the target
handed out); checked by :class:`checkers.unique_ids.UniqueIdsChecker` (no duplicates, id range)."""

from __future__ import annotations

from harness.errors import InputError

OPS = ("generate",)
OP_SHAPES = {"generate": ("null", "int | str (a new id)")}


class UniqueIdsWorkload:
    """Only ``generate`` ops; no options (``seed`` is accepted: the runner passes it to every
    workload, and these ops are not random)."""

    name = "unique-ids"
    ops = OPS
    op_shapes = OP_SHAPES

    def __init__(self, options: dict | None = None):
        unknown = sorted(set(options or {}) - {"seed"})
        if unknown:
            raise InputError(f"unique-ids workload: unknown option {unknown[0]!r} (it takes only seed)")
        self.options = {}

    def generator(self, opts=None):
        return lambda test=None, ctx=None: {"f": "generate", "value": None}

    def final_generator(self, opts=None):
        return None

    def checker(self, opts=None):
        from checkers.unique_ids import UniqueIdsChecker
        return UniqueIdsChecker()
