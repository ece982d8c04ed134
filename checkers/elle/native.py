"""The optional native core of the Elle checkers (``_elle.c``) and the switch between it and
pure Python.

The C functions run the hot loops of :mod:`.history` (pairing, micro-op parsing),
:mod:`.list_append` (unique appends, self cases, G1b, the dependency graph) and :mod:`.graph`
(realtime edges, Kahn trimming) on the same Python objects, so they give the same results in the
same order. ``pip install -e .`` builds the extension when a C compiler and the Python headers are
there; without them :data:`core` is None and the Python code runs (same results, slower).

:func:`python_only` switches the C core off for a block, to compare the two paths (tests) or to
time the Python one (``bench/elle_list_append.py --pure-python``).
"""

from __future__ import annotations

from contextlib import contextmanager

try:
    from . import _elle
except ImportError:  # not built (no compiler at install time): pure Python only
    _elle = None

AVAILABLE = _elle is not None

#: The module the checkers call, or None: read at each call, so :func:`python_only` applies.
core = _elle


@contextmanager
def python_only():
    """Run the block with the pure-Python code (the C core, if built, is switched off)."""
    global core
    saved = core
    core = None
    try:
        yield
    finally:
        core = saved


__all__ = ["AVAILABLE", "core", "python_only"]
