"""P-compositionality (Herlihy & Wing; Horn & Kroening): a history over independent objects is
linearizable iff each object's sub-history is. Ops that touch a common key land in one partition
(union-find over keys), so a multi-key txn joins its keys. Each partition keeps the real-time order
of the whole history (positions are history indices) and gets op ids 0..k-1.
"""

from __future__ import annotations



def partition_ops(model, ops):
    """Split ``ops`` into independent partitions; ``[ops]`` when the model is not partitionable."""
    if not ops:
        return [ops]
    keysets = []
    for op in ops:
        ks = model.partition_keys(op.f, op.invoke_value)
        if ks is None:
            return [ops]
        keysets.append(ks)
    if all(len(ks) == 1 for ks in keysets):  # one key per op (kv, independent): group by it
        groups: dict = {}
        for op, ks in zip(ops, keysets):
            for k in ks:
                groups.setdefault(k, []).append(op)
        return _renumbered(ops, groups)
    parent: dict = {}

    def find(k):
        root = k
        while parent[root] != root:
            root = parent[root]
        while parent[k] != root:
            parent[k], k = root, parent[k]
        return root

    for ks in keysets:
        first = None
        for k in ks:
            if k not in parent:
                parent[k] = k
            if first is None:
                first = find(k)
            else:
                r = find(k)
                if r != first:
                    parent[r] = first
    groups: dict = {}
    for op, ks in zip(ops, keysets):
        root = find(next(iter(ks))) if ks else None
        groups.setdefault(root, []).append(op)
    return _renumbered(ops, groups)


def _renumbered(ops, groups):
    if len(groups) == 1:
        return [ops]
    return [[op.evolve(id=i) for i, op in enumerate(g)] for g in groups.values()]
