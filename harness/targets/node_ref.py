"""A node as the targets' capabilities receive it: its name or the cluster's node object."""

from __future__ import annotations

from harness.errors import InputError


def node_name(node) -> str:
    """The name of a node given as a name or a node."""
    return node if isinstance(node, str) else node.name


def resolve_node(cluster, node, who: str):
    """The cluster's node object for ``node`` (a name or the node itself); an unknown name is
    an InputError naming ``who`` (the target) and the name."""
    if not isinstance(node, str):
        return node
    for n in cluster.nodes:
        if n.name == node:
            return n
    raise InputError(f"{who}: unknown node {node!r}")
