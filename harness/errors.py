"""Errors that end a splitbrain command with a clear one-line message and a fixed exit code.

Exit codes (DESIGN.md): 0 valid, 1 invalid, 2 unknown, 3 harness/environment error,
254 bad usage or input. Code that detects a user mistake raises :class:`InputError` with a
message that says what is wrong and where (``file:line: field: problem``); the CLI prints
``splitbrain: <message>`` on one line and exits with the code. No traceback is shown for these.
"""


class SplitbrainError(Exception):
    """Base class: a failure the CLI reports in one line with :attr:`exit_code`."""

    exit_code = 3


class InputError(SplitbrainError):
    """Bad user input: a YAML spec, a history file, a CLI flag, node output. Exit 254."""

    exit_code = 254


class EnvironmentProblem(SplitbrainError):
    """The machine cannot do what the run needs (no root, no etcd binary, ...). Exit 3."""

    exit_code = 3
