"""Client setup is bounded and interruptible; a long run need not keep its history in memory
(issue 11). Real threads, fake clients that hang the way a stuck library does."""

from __future__ import annotations

import threading

import pytest

import harness.generator as gen
from harness.errors import EnvironmentProblem
from harness.interpreter import ClientSetupTimeout, Interpreter

from test_interpreter import FakeClients, ListWriter, check_shape  # tests/unit, on sys.path


class HangingSetupClients(FakeClients):
    """Clients whose ``setup`` blocks until ``release`` is set (never, unless a test does)."""

    def __init__(self, hang_open=False):
        super().__init__()
        self.release = threading.Event()
        self.hang_open = hang_open

    def open(self, node):
        if self.hang_open:
            self.release.wait()
        c = super().open(node)
        c.setup = lambda: self.release.wait()
        return c


def interp(clients, **kw):
    return Interpreter({"seed": 1}, gen.limit(5, gen.repeat({"f": "read"})), clients, None,
                       concurrency=2, nodes=["n1", "n2"], writer=ListWriter(), **kw)


@pytest.mark.parametrize("hang_open", [False, True])
def test_hung_client_setup_ends_with_a_timeout_error(hang_open):
    clients = HangingSetupClients(hang_open=hang_open)
    started = []
    i = interp(clients, client_setup_timeout_s=0.3, on_workload_start=lambda: started.append(1))
    with pytest.raises(ClientSetupTimeout) as e:
        i.run()
    what = "opening a client on n1" if hang_open else "client setup on n1"
    assert str(e.value) == f"{what} gave no answer in 0.3s (the node or its client library hangs)"
    assert isinstance(e.value, EnvironmentProblem) and e.value.exit_code == 3
    assert started == [] and i.writer.ops == []  # no op was issued
    if not hang_open:  # the client that was opened is closed again
        assert clients.opened[0].calls == ["close"]
    clients.release.set()


def test_stop_event_interrupts_a_hung_client_setup():
    clients = HangingSetupClients()
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    with pytest.raises(KeyboardInterrupt):
        interp(clients, client_setup_timeout_s=60, stop_event=stop).run()
    clients.release.set()


def test_setup_timeout_default_scales_with_the_op_timeout():
    assert interp(FakeClients()).client_setup_timeout_s == 10.0
    assert interp(FakeClients(), op_timeout_s=5).client_setup_timeout_s == 20.0


def test_workload_start_is_signalled_after_setup_and_before_the_first_op():
    clients = FakeClients()
    seen = []
    i = interp(clients, on_workload_start=lambda: seen.append(
        ([c.calls[:] for c in clients.opened], len(i.writer.ops))))
    i.run()
    setup_calls, ops_before = seen[0]
    assert setup_calls == [["setup"], ["setup"]] and ops_before == 0
    assert len(seen) == 1


def test_without_keep_history_nothing_is_kept_but_everything_is_written():
    writer = ListWriter()
    i = Interpreter({"seed": 1}, gen.limit(40, gen.repeat({"f": "read"})), FakeClients(), None,
                    concurrency=3, nodes=["n1"], writer=writer, keep_history=False)
    assert i.run() == []
    assert len(writer.ops) == 80
    check_shape(writer.ops, 3)  # indices 0..79 in order, every invoke completed
