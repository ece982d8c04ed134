"""Ctrl-C and SIGTERM during a run: stop cleanly, heal the faults, keep the history.

The first SIGINT/SIGTERM during the workload sets ``stop_event``: the interpreter stops issuing
operations, in-flight ones complete (or time out as ``info``), and the run tears down as usual.
Outside the workload (during setup) there is nothing to drain, so the first signal raises
``KeyboardInterrupt`` straight away and the runner's ``finally`` tears down.
A second signal raises ``KeyboardInterrupt`` wherever the run is; the teardown steps each
catch it and go on, so the network is still healed.
"""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger("splitbrain")


class InterruptGuard:
    """Installs the run's signal handlers for the duration of a ``with`` block."""

    def __init__(self, stop_event: threading.Event):
        self.stop_event = stop_event
        self.count = 0
        self.draining = False  # True while the workload runs: first signal only drains
        self._old = {}

    def _handle(self, signum, frame):
        self.count += 1
        name = signal.Signals(signum).name
        if self.count == 1 and self.draining:
            log.warning("%s: stopping the workload, then healing faults and tearing down "
                        "(Ctrl-C again to force)", name)
            self.stop_event.set()
            return
        self.stop_event.set()
        if self.count >= 2:
            log.warning("%s again: forcing the exit; faults are still healed", name)
        else:
            log.warning("%s: tearing down", name)
        raise KeyboardInterrupt(name)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False
