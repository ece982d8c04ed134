"""The anomalies visible without a cycle, gathered per workload.

Each pass lives with its data model (:mod:`.list_append`, :mod:`.rw_register`); this module
names them the way Elle's results do and returns only the non-empty ones.
"""

from __future__ import annotations

from . import list_append as la
from . import rw_register as rw


def list_append_anomalies(txns, possible, orders_all, svs=None):
    """G1a, G1b, internal, future-read, dirty-update, duplicate-elements, incompatible-order,
    lost-update for a list-append history (``svs``: ``sorted_values(possible)`` if known)."""
    if svs is None:
        svs = la.sorted_values(possible)
    # G1b, internal, future-read and lost-update in one pass over the txns that touch a key
    # twice (the others cannot show them).
    own = la.self_cases(txns, la.repeated_key_txns(txns))
    found = {
        "G1a": la.g1a_cases(txns),
        "G1b": own["G1b"],
        "internal": own["internal"],
        "future-read": own["future-read"],
        "dirty-update": la.dirty_update_cases(orders_all, txns),
        "duplicate-elements": la.duplicate_cases(possible, svs),
        "incompatible-order": la.incompatible_orders(svs),
        "lost-update": own["lost-update"],
    }
    return {k: v for k, v in found.items() if v}


def rw_register_anomalies(txns):
    """G1a, G1b, internal, lost-update for a rw-register history."""
    found = {
        "G1a": rw.g1a_cases(txns),
        "G1b": rw.g1b_cases(txns),
        "internal": rw.internal_cases(txns),
        "lost-update": la.lost_update_cases(txns, "w"),
    }
    return {k: v for k, v in found.items() if v}
