"""Control backends: how the controller runs commands and daemons on the nodes.

``remote`` fixes the interface (:class:`Node`, :class:`CommandResult`, :class:`Remote`,
:class:`Cluster`); ``local`` is the embedded backend (network namespaces on this host).
Docker and ssh backends live next to it.
"""

from harness.control.remote import (
    PREFIX_RE,
    Cluster,
    CommandResult,
    Node,
    Remote,
    RemoteCommandError,
    RemoteTimeout,
)

__all__ = [
    "PREFIX_RE",
    "Cluster",
    "CommandResult",
    "Node",
    "Remote",
    "RemoteCommandError",
    "RemoteTimeout",
    "LocalBackend",
    "LocalCluster",
]


def __getattr__(name):  # lazy, so importing the interface does not import every backend
    if name in ("LocalBackend", "LocalCluster"):
        from harness.control import local

        return getattr(local, name)
    raise AttributeError(name)
