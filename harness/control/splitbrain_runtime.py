"""How to run splitbrain's own code (``splitbrain node raft``, the reference stores) on a node.

The reference stores are splitbrain itself, so a node must be able to import it. Each backend
knows how, and says so through an optional remote capability, ``splitbrain_runtime()``, which
returns ``(interpreter argv, extra environment)``:

- local: the controller's own interpreter (``sys.executable``): the nodes are namespaces of this
  host and see the same installed splitbrain. This is also the answer for a remote without the
  capability.
- docker: ``python3`` of the node image, whose ``/opt/splitbrain`` is on ``PYTHONPATH``
  (:mod:`harness.control.docker_image` copies the source in; a change rebuilds that layer).
- ssh: ``python3`` of the host, with splitbrain's source copied by SFTP into the run's directory
  on the host (:func:`source_archive`, unpacked once per node) and put on ``PYTHONPATH``. The
  reference stores use only the standard library, so nothing is installed with pip and the
  hosts need no network access; the copy is removed with the run's directory.

A target's ``python`` option (raft) overrides the interpreter, for hosts that have splitbrain
installed already; the environment is then left alone.
"""

from __future__ import annotations

import io
import sys
import tarfile
from typing import Mapping

#: Directory (relative to a node's directory) the ssh backend unpacks splitbrain's source into.
SOURCE_DIR = "splitbrain-src"


def splitbrain_command(remote, python: str | None = None) -> tuple[list[str], dict[str, str]]:
    """``(argv prefix, env)`` that runs splitbrain's Python code on ``remote``'s node.

    ``python``, when given, is the interpreter to use instead (no extra environment). A remote
    without ``splitbrain_runtime`` runs on this host (the local backend): ``sys.executable``.
    """
    if python:
        return [python], {}
    fn = getattr(remote, "splitbrain_runtime", None)
    if callable(fn):
        argv, env = fn()
        return list(argv), dict(env)
    return [sys.executable], {}


def source_archive() -> bytes:
    """A tar (uncompressed) of splitbrain's packages, laid out as in the node image's
    ``/opt/splitbrain``: put its root on ``PYTHONPATH``. Only ``.py`` files (no caches, no
    compiled extensions: the node-side code is pure Python)."""
    from harness.control.docker_image import _source_files

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, rel in _source_files():
            data = path.read_bytes()
            ti = tarfile.TarInfo(rel)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def merged_env(*parts: Mapping[str, str] | None) -> dict[str, str]:
    """The mappings merged left to right (later wins); None parts are skipped."""
    out: dict[str, str] = {}
    for p in parts:
        if p:
            out.update({str(k): str(v) for k, v in p.items()})
    return out
