"""Workloads: each gives ``generator(opts)``, ``final_generator(opts)`` (may return None),
``checker(opts)`` and the op shapes (``ops``, ``op_shapes``) its clients must support.

``make_workload(name, options)`` builds one from :data:`WORKLOADS`; an unknown name raises
:class:`~harness.errors.InputError` listing the valid names.
"""

from __future__ import annotations

from harness.errors import InputError
from workloads.list_append import ListAppendWorkload
from workloads.register import RegisterWorkload
from workloads.rw_register import RwRegisterWorkload
from workloads.set import SetWorkload
from workloads.counter import CounterWorkload
from workloads.unique_ids import UniqueIdsWorkload
from workloads.bank import BankWorkload
from workloads.queue import QueueWorkload
from workloads.multi_register import MultiRegisterWorkload

#: name -> workload class (constructed with the workload's options dict).
WORKLOADS = {
    "register": RegisterWorkload,
    "list-append": ListAppendWorkload,
    "rw-register": RwRegisterWorkload,
    "set": SetWorkload,
    "counter": CounterWorkload,
    "unique-ids": UniqueIdsWorkload,
    "bank": BankWorkload,
    "queue": QueueWorkload,
    "multi-register": MultiRegisterWorkload,
}


def make_workload(name: str, options: dict | None = None):
    """A workload instance for ``name`` (InputError for unknown names or bad options)."""
    try:
        cls = WORKLOADS[name]
    except (KeyError, TypeError):
        raise InputError(f"workload: unknown workload {name!r} (valid: {', '.join(sorted(WORKLOADS))})") from None
    return cls(options)


__all__ = ["WORKLOADS", "make_workload", "RegisterWorkload"]
