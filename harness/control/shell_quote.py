"""Quoting for the rare places a shell string is really needed.

Commands are argv lists everywhere; when a backend or a target must hand a shell a string
(``sh -c``, ssh, ``commands`` target templates), every interpolated value goes through
:func:`quote`.
"""

from __future__ import annotations

import shlex
import string
from typing import Any, Sequence


def quote(value: Any) -> str:
    """Quote one value for a POSIX shell (``str()`` first)."""
    return shlex.quote(str(value))


def join(argv: Sequence[Any]) -> str:
    """A shell command line equivalent to ``argv`` (for logs, messages and ``sh -c``)."""
    return " ".join(quote(a) for a in argv)


class _Quoting(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        return quote(super().format_field(value, format_spec))


def format_command(template: str, /, **values: Any) -> str:
    """``template.format(**values)`` with every substituted value shell-quoted.

    >>> print(format_command("mkdir -p {d} && echo {msg} > {d}/x", d="/tmp/a b", msg="it's"))
    mkdir -p '/tmp/a b' && echo 'it'"'"'s' > '/tmp/a b'/x
    """
    return _Quoting().format(template, **values)
