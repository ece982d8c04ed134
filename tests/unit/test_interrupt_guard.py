"""What a first and a second SIGINT/SIGTERM do in each phase of a run (harness.interrupts).

Real signals, raised in this (the main) thread: the guard's handlers run as they do in a run.
"""

from __future__ import annotations

import signal
import threading

import pytest

from harness.interrupts import CHECKING, SETUP, TEARDOWN, WORKLOAD, InterruptGuard

SIGNALS = [signal.SIGINT, signal.SIGTERM]


@pytest.mark.parametrize("sig", SIGNALS)
@pytest.mark.parametrize("phase", [SETUP, CHECKING])
def test_first_signal_in_setup_or_checking_raises_at_once(sig, phase):
    stop = threading.Event()
    with InterruptGuard(stop) as guard:
        guard.phase = phase
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(sig)
    assert stop.is_set() and guard.count == 1 and not guard.forced
    assert guard.signal_name == signal.Signals(sig).name


@pytest.mark.parametrize("sig", SIGNALS)
def test_first_signal_in_the_workload_only_drains(sig):
    stop = threading.Event()
    with InterruptGuard(stop) as guard:
        guard.start_workload()
        assert guard.draining
        signal.raise_signal(sig)  # no exception: the interpreter sees stop_event
        assert stop.is_set() and not guard.forced
        with pytest.raises(KeyboardInterrupt):  # the second one forces
            signal.raise_signal(sig)
        assert guard.forced


def test_first_signal_in_teardown_does_not_interrupt_it():
    stop = threading.Event()
    with InterruptGuard(stop) as guard:
        guard.phase = TEARDOWN
        signal.raise_signal(signal.SIGTERM)
        assert stop.is_set() and guard.count == 1 and not guard.forced


def test_shielded_steps_are_never_interrupted():
    with InterruptGuard(threading.Event()) as guard:
        guard.phase = SETUP
        with guard.shielded():
            signal.raise_signal(signal.SIGINT)
        assert guard.count == 1
        with pytest.raises(KeyboardInterrupt):  # outside the shield a signal raises again
            signal.raise_signal(signal.SIGINT)
        with guard.shielded():
            for _ in range(3):
                signal.raise_signal(signal.SIGTERM)
        assert guard.count == 5 and guard.forced


def test_only_the_forcing_signal_raises_later_ones_are_logged():
    with InterruptGuard(threading.Event()) as guard:
        guard.start_workload()
        signal.raise_signal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        for _ in range(3):  # e.g. while in-flight ops are being recorded as info
            signal.raise_signal(signal.SIGINT)
        assert guard.count == 5


def test_handlers_are_restored_on_exit():
    before = signal.getsignal(signal.SIGTERM)
    with InterruptGuard(threading.Event()):
        assert signal.getsignal(signal.SIGTERM) != before
    assert signal.getsignal(signal.SIGTERM) == before


def test_second_signal_in_teardown_only_cuts_short_an_interruptible_step():
    with InterruptGuard(threading.Event()) as guard:
        guard.phase = TEARDOWN
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)  # between steps: no exception, the exit is forced
        assert guard.forced
        with guard.interruptible():
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)
