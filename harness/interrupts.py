"""Ctrl-C and SIGTERM during a run: stop cleanly, heal the faults, keep the history.

What the first SIGINT/SIGTERM does depends on the run's phase (:attr:`InterruptGuard.phase`):

- ``setup`` (cluster, db, nemesis and client setup): raises ``KeyboardInterrupt`` at once; the
  runner's ``finally`` tears down what was started.
- ``workload``: sets ``stop_event``; the interpreter stops issuing operations, in-flight ones
  complete (or time out as ``info``), and the run tears down and checks as usual.
- ``teardown``: nothing is interrupted (a half-done teardown is what leaves partitions behind);
  the teardown goes on and the message says so. A second signal only cuts short the step that
  may hang and is not needed for healing (the db teardown, the node-log download: steps run
  inside :meth:`InterruptGuard.interruptible`); between steps it only marks the exit forced.
- ``checking``: raises ``KeyboardInterrupt``; the runner abandons the check, records the verdict
  as ``unknown`` (``splitbrain analyze`` checks the stored history again later) and exits.

A second signal *forces* the exit wherever the run is: ``KeyboardInterrupt`` is raised (once;
later signals are only logged), in-flight operations are recorded as ``info`` without waiting,
and the db teardown and the check are skipped. The steps that heal the network (nemesis
``heal_all``, stopping the cluster, closing the history) run inside
:meth:`InterruptGuard.shielded`, where further signals are only counted, so even a forced exit
leaves no partition, namespace or process behind.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading

log = logging.getLogger("splitbrain")

SETUP, WORKLOAD, TEARDOWN, CHECKING = "setup", "workload", "teardown", "checking"


class InterruptGuard:
    """Installs the run's signal handlers for the duration of a ``with`` block."""

    def __init__(self, stop_event: threading.Event):
        self.stop_event = stop_event
        self.count = 0
        self.phase = SETUP
        self.signal_name: str | None = None  # the first signal's name, once one came
        self._shield_depth = 0
        self._interruptible = 0  # > 0 inside a teardown step a forced exit may cut short
        self._old = {}

    @property
    def forced(self) -> bool:
        """True once a second signal asked to force the exit."""
        return self.count >= 2

    @property
    def draining(self) -> bool:
        """True while the workload runs (the first signal only drains it)."""
        return self.phase == WORKLOAD

    def start_workload(self) -> None:
        """Enter the workload phase (the interpreter calls this after client setup)."""
        self.phase = WORKLOAD

    def _handle(self, signum, frame):
        self.count += 1
        name = signal.Signals(signum).name
        self.signal_name = self.signal_name or name
        self.stop_event.set()
        if self._shield_depth and (self.count >= 2 or self.phase != TEARDOWN):
            log.warning("%s: forcing the exit once the network is healed", name)
            return
        if self.phase == TEARDOWN:
            if self.count >= 2 and self._interruptible:
                log.warning("%s again: cutting this teardown step short; the network is "
                            "still healed", name)
                raise KeyboardInterrupt(name)
            if self.count >= 2:
                # Between teardown steps: raising here would skip the healing steps to come.
                log.warning("%s again: forcing the exit; skipping what can be skipped", name)
            else:
                log.warning("%s: already tearing down; Ctrl-C again to skip the db teardown "
                            "(the network is still healed)", name)
            return
        if self.count >= 3:  # the exit is already being forced: raising again only hurts
            log.warning("%s: the exit is already being forced", name)
            return
        if self.count == 2:
            log.warning("%s again: forcing the exit; faults are still healed", name)
            raise KeyboardInterrupt(name)
        if self.phase == WORKLOAD:
            log.warning("%s: stopping the workload, then healing faults and tearing down "
                        "(Ctrl-C again to force)", name)
            return
        if self.phase == CHECKING:
            log.warning("%s: abandoning the check; the verdict is unknown", name)
        else:
            log.warning("%s: tearing down", name)
        raise KeyboardInterrupt(name)

    @contextlib.contextmanager
    def interruptible(self):
        """A teardown step a second signal may cut short (the db teardown, log download)."""
        self._interruptible += 1
        try:
            yield
        finally:
            self._interruptible -= 1

    @contextlib.contextmanager
    def shielded(self):
        """A block no signal interrupts (signals are counted and logged): for healing steps."""
        self._shield_depth += 1
        try:
            yield
        finally:
            self._shield_depth -= 1

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


def exit_now(code: int) -> None:
    """End the process with ``code`` without waiting for threads: after an abandoned check a
    checker thread may be busy in C code and a process pool may still be working. Our own
    worker processes (``multiprocessing`` children of this process) are killed by PID first;
    stdout, stderr and the logs are flushed. The run's files are already closed and fsynced."""
    import multiprocessing
    import os
    import sys

    for child in multiprocessing.active_children():
        try:
            child.kill()
        except (OSError, AttributeError):
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    logging.shutdown()
    os._exit(code)
