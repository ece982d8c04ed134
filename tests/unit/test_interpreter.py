"""The interpreter with real threads and fake clients: the shape of the history it records."""

import json
import threading

import pytest

import harness.generator as gen
from harness.interpreter import Interpreter

READ = {"f": "read"}


class ListWriter:
    """An in-memory stand-in for HistoryWriter."""

    def __init__(self):
        self.ops = []
        self.lock = threading.Lock()

    def append(self, op):
        with self.lock:
            self.ops.append(dict(op))
        return op


class FakeClient:
    def __init__(self, factory, node):
        self.factory, self.node = factory, node
        self.calls = []

    def setup(self):
        self.calls.append("setup")

    def teardown(self):
        self.calls.append("teardown")

    def close(self):
        self.calls.append("close")

    def invoke(self, op):
        return self.factory.behave(self, op)


class FakeClients:
    """A client factory; ``behave(client, op)`` decides each op's outcome (default: ok)."""

    def __init__(self, behave=None, fail_open=0):
        self.behave = behave or (lambda client, op: {"type": "ok"})
        self.opened = []
        self.fail_open = fail_open
        self.lock = threading.Lock()

    def open(self, node):
        with self.lock:
            if self.fail_open:
                self.fail_open -= 1
                raise ConnectionRefusedError("node down")
            c = FakeClient(self, node)
            self.opened.append(c)
            return c


class FakeNemesis:
    def __init__(self, release=None):
        self.ops = []
        self.release = release

    def invoke(self, op):
        self.ops.append(op["f"])
        if op["f"] == "explode":
            raise RuntimeError("iptables failed")
        if op["f"] == "hang":
            self.release.wait(10)
        return {**op, "value": "done"}


def run(g, clients=None, nemesis=None, concurrency=3, nodes=("n1", "n2"), writer=None,
        client_factory="fake", **kw):
    writer = writer if writer is not None else ListWriter()
    if client_factory == "fake":
        client_factory = clients or FakeClients()
    interp = Interpreter({"seed": 1}, g, client_factory, nemesis,
                         concurrency=concurrency, nodes=list(nodes), writer=writer, **kw)
    return interp.run(), writer


def check_shape(history, concurrency):
    """Every invoke has exactly one completion from its process, after it; processes are
    renumbered by +concurrency after info and never reused."""
    assert [o["index"] for o in history] == list(range(len(history)))
    assert all(a["time"] <= b["time"] for a, b in zip(history, history[1:]))
    open_ops, retired = {}, set()
    nemesis_open = None
    for o in history:
        p = o["process"]
        if p == "nemesis":
            assert o["type"] == "info"
            if nemesis_open is None:
                nemesis_open = o
            else:
                assert o["f"] == nemesis_open["f"]
                nemesis_open = None
            continue
        assert p not in retired
        if o["type"] == "invoke":
            assert p not in open_ops
            open_ops[p] = o
        else:
            inv = open_ops.pop(p)
            assert o["f"] == inv["f"] and o["type"] in ("ok", "fail", "info")
            if o["type"] == "info":
                retired.add(p)
    assert not open_ops and nemesis_open is None


def test_runs_generator_to_exhaustion_and_records_everything():
    clients = FakeClients()
    h, writer = run(gen.clients(gen.limit(30, gen.repeat(READ))), clients)
    assert writer.ops == h
    assert len(h) == 60
    check_shape(h, 3)
    for o in h:
        assert o["node"] == ["n1", "n2"][o["process"] % 3 % 2]
    # setup/teardown once per node on clients of their own; every client closed.
    setups = [c for c in clients.opened if "setup" in c.calls]
    assert sorted(c.node for c in setups) == ["n1", "n2"]
    assert all(c.calls == ["setup", "teardown", "close"] for c in setups)
    assert all(c.calls[-1] == "close" for c in clients.opened)


def test_partial_and_whole_op_answers_are_completed():
    def behave(client, op):
        if op["f"] == "read":
            return {"type": "ok", "value": 3}
        op["type"] = "fail"  # Jepsen style: the op itself, changed
        op["error"] = "cas mismatch"
        return op
    h, _ = run(gen.clients([READ, {"f": "cas", "value": [1, 2]}]), FakeClients(behave),
               concurrency=1)
    assert [{k: o[k] for k in ("type", "process", "f", "value")} for o in h] == [
        {"type": "invoke", "process": 0, "f": "read", "value": None},
        {"type": "ok", "process": 0, "f": "read", "value": 3},
        {"type": "invoke", "process": 0, "f": "cas", "value": [1, 2]},
        {"type": "fail", "process": 0, "f": "cas", "value": [1, 2]}]
    assert h[3]["error"] == "cas mismatch" and h[3]["node"] == "n1"


def test_exception_is_info_and_the_process_is_renumbered_with_a_fresh_client():
    def behave(client, op):
        if op["f"] == "boom":
            raise ValueError("boom")
        return {"type": "ok"}
    clients = FakeClients(behave)
    h, _ = run(gen.clients(gen.each_thread([{"f": "boom"}, READ])), clients, concurrency=2,
               client_setup=False)
    check_shape(h, 2)
    booms = [o for o in h if o["f"] == "boom" and o["type"] != "invoke"]
    assert [(o["type"], o["error"]) for o in booms] == [("info", "ValueError: boom")] * 2
    reads = sorted(o["process"] for o in h if o["f"] == "read" and o["type"] == "invoke")
    assert reads == [2, 3]
    assert len(clients.opened) == 4  # one per process
    assert all(c.calls == ["close"] for c in clients.opened)


def test_client_open_failure_is_fail_and_keeps_the_process():
    clients = FakeClients(fail_open=1)
    h, _ = run(gen.clients([READ, READ]), clients, concurrency=1, client_setup=False)
    assert [(o["type"], o["process"]) for o in h] == [("invoke", 0), ("fail", 0),
                                                      ("invoke", 0), ("ok", 0)]
    assert h[1]["error"] == "no client: ConnectionRefusedError: node down"


def test_op_timeout_abandons_the_hung_thread_and_continues_with_a_new_process():
    release = threading.Event()

    def behave(client, op):
        if op["f"] == "hang":
            release.wait(10)
            return {"type": "ok"}
        return {"type": "ok"}
    clients = FakeClients(behave)
    try:
        h, writer = run(gen.clients([{"f": "hang", "process": 0}, gen.each_thread(READ)]),
                        clients, concurrency=2, op_timeout_s=0.2, client_setup=False)
        check_shape(h, 2)
        hang = [o for o in h if o["f"] == "hang"]
        assert [(o["type"], o["process"]) for o in hang] == [("invoke", 0), ("info", 0)]
        assert hang[1]["error"] == "timeout"
        assert sorted(o["process"] for o in h if o["f"] == "read" and o["type"] == "invoke") \
            == [1, 2]
        n = len(writer.ops)
    finally:
        release.set()
    hung = clients.opened[0]
    for _ in range(100):  # the abandoned worker closes its client once its op returns
        if "close" in hung.calls:
            break
        threading.Event().wait(0.01)
    assert hung.calls == ["close"]
    assert len(writer.ops) == n  # its late answer is not recorded


def test_nemesis_ops_are_recorded_as_info_on_both_ends():
    nemesis = FakeNemesis()
    g = gen.nemesis([{"f": "start-partition", "value": {"n1": ["n2"]}}, {"f": "explode"}],
                    gen.limit(4, gen.repeat(READ)))
    h, _ = run(g, nemesis=nemesis)
    check_shape(h, 3)
    nem = [o for o in h if o["process"] == "nemesis"]
    assert [(o["type"], o["f"], o["value"]) for o in nem] == [
        ("info", "start-partition", {"n1": ["n2"]}), ("info", "start-partition", "done"),
        ("info", "explode", None), ("info", "explode", None)]
    assert nem[3]["error"] == "RuntimeError: iptables failed"
    assert "node" not in nem[0]
    assert nemesis.ops == ["start-partition", "explode"]


def test_nemesis_timeout_gives_up_on_a_hung_nemesis_op():
    release = threading.Event()
    try:
        h, _ = run(gen.nemesis([{"f": "hang"}, {"f": "heal"}]), nemesis=FakeNemesis(release),
                   client_factory=None, nemesis_timeout_s=0.1)
    finally:
        release.set()
    assert [(o["f"], o["value"], o.get("error")) for o in h] == [
        ("hang", None, None), ("hang", None, "timeout"), ("heal", None, None),
        ("heal", "done", None)]


def test_stop_event_ends_an_infinite_run_with_every_invoke_completed():
    stop = threading.Event()
    count = [0]

    def behave(client, op):
        count[0] += 1
        if count[0] == 50:
            stop.set()
        return {"type": "ok"}
    h, _ = run(gen.clients(gen.repeat(READ)), FakeClients(behave), stop_event=stop)
    check_shape(h, 3)
    assert 50 <= sum(o["type"] == "invoke" for o in h) <= 53


def test_stop_with_a_hung_op_records_info_after_the_grace_period():
    stop = threading.Event()
    release = threading.Event()

    def behave(client, op):
        if op["f"] == "hang":
            stop.set()
            release.wait(10)
        return {"type": "ok"}
    try:
        h, _ = run(gen.clients([{"f": "hang"}, gen.repeat(READ)]), FakeClients(behave),
                   concurrency=1, stop_event=stop, stop_grace_s=0.1)
    finally:
        release.set()
    assert [(o["type"], o["f"]) for o in h] == [("invoke", "hang"), ("info", "hang")]
    assert h[1]["error"] == "interrupted: run stopped"


class Explodes(gen.Generator):
    """Emits ``n`` reads, then raises."""

    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n

    def op(self, test, ctx):
        if self.n == 0:
            raise KeyError("generator bug")
        o = gen.fill_in_op(READ, ctx)
        return (o, self) if o is gen.PENDING else (o, Explodes(self.n - 1))


def test_generator_exception_propagates_after_in_flight_ops_complete():
    writer = ListWriter()
    with pytest.raises(KeyError, match="generator bug"):
        run(gen.clients(Explodes(5)), writer=writer)
    check_shape(writer.ops, 3)
    assert sum(o["type"] == "invoke" for o in writer.ops) == 5


def test_sleep_is_not_recorded_and_future_ops_wait():
    h, _ = run(gen.clients([READ, gen.sleep(0.05), {"f": "read", "time": 100_000_000}]),
               concurrency=1)
    assert [o["type"] for o in h] == ["invoke", "ok", "invoke", "ok"]
    assert h[2]["time"] >= 100_000_000


def test_same_seed_same_op_sequence():
    def g():
        return gen.clients(gen.limit(200, gen.mix([
            gen.repeat(READ),
            lambda test, ctx: {"f": "write", "value": ctx.rng.randrange(100)}])))
    seq = lambda h: [(o["f"], o["value"]) for o in h if o["type"] == "invoke"]
    a, _ = run(g())
    b, _ = run(g())
    assert seq(a) == seq(b)


def test_setup_failure_closes_clients_and_raises():
    class BadSetup(FakeClients):
        def open(self, node):
            c = super().open(node)
            if node == "n2":
                c.setup = lambda: (_ for _ in ()).throw(OSError("no table"))
            return c
    clients = BadSetup()
    with pytest.raises(OSError, match="no table"):
        run(gen.clients(READ), clients)
    assert [c.calls for c in clients.opened] == [["setup", "close"], ["close"]]


def test_writes_through_the_history_writer(tmp_path):
    from harness.history.jsonl import HistoryWriter, read_jsonl
    path = tmp_path / "history.jsonl"
    with HistoryWriter(path) as writer:
        h, _ = run(gen.nemesis({"f": "kill", "value": ("n1",)},
                               gen.limit(10, gen.repeat({"f": "cas", "value": (1, 2)}))),
                   nemesis=FakeNemesis(), writer=writer)
    assert read_jsonl(path) == h
    assert h[0]["value"] in (None, [1, 2], ["n1"])  # tuples are lists, as in the file
    assert json.loads(path.read_text().splitlines()[0])["index"] == 0


def test_an_answer_the_writer_refuses_is_info(tmp_path):
    from harness.history.jsonl import HistoryWriter
    clients = FakeClients(lambda client, op: {"type": "ok", "value": object()})
    with HistoryWriter(tmp_path / "h.jsonl") as writer:
        h, _ = run(gen.clients([READ, READ]), clients, concurrency=1, writer=writer)
    assert [o["type"] for o in h] == ["invoke", "info", "invoke", "info"]
    assert h[1]["error"].startswith("answer not recordable: op cannot be written as JSON")
    assert [o["process"] for o in h] == [0, 0, 1, 1]
