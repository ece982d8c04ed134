"""Running a generator for real: one scheduling loop, one worker thread per client thread and the nemesis.

The loop (in the caller's thread) asks the generator for ops, hands each to the worker of its
thread, and records invocations and completions through the history writer, in the order it sees
them; workers only execute ops. As in Jepsen's interpreter:

- completions are handled before new ops are asked for, so an op never looks concurrent with one
  that had in fact already finished;
- an op whose ``time`` is in the future waits (the loop keeps taking completions meanwhile);
- an ``info`` completion (an exception, a timeout, or the client's own answer) retires the process:
  its thread continues as process ``old + concurrency`` with a freshly opened client;
- ``sleep`` and ``log`` ops occupy a worker but are not recorded.

What it adds: ``op_timeout_s`` gives up on an op that does not return in time (``info``, error
``"timeout"``), leaves its worker thread behind (a daemon, its client never reused) and starts a
new one; ``stop_event`` (Ctrl-C) stops issuing ops, lets in-flight ops finish for a grace period,
and records an ``info`` for any still out. Every invoke in the history has its completion unless
the controller process itself dies.

Clients (docs/architecture.md): ``client_factory.open(node)``, ``client.setup()``,
``client.invoke(op) -> completion``, ``client.teardown()``, ``client.close()``. Thread ``t`` talks
to ``nodes[t % len(nodes)]``. ``setup``/``teardown`` run once per node on a client of their own
before/after the ops (Jepsen's way). The nemesis: ``nemesis.invoke(op) -> op``; its ops are
recorded with process ``"nemesis"`` and type ``info`` on both ends.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.errors import EnvironmentProblem
from harness.generator.completion import complete_op, crashed_op
from harness.generator.context import NEMESIS, Context
from harness.generator.core import (LOG, PENDING, SLEEP, UNRECORDED_TYPES, check_invoke, lift)

# How long the loop blocks on completions while the generator is PENDING before asking again
# (Jepsen's max-pending-interval). A completion wakes it at once.
PENDING_WAIT_S = 0.001
# Longest block without looking at the stop event and the time.
MAX_WAIT_S = 0.05
# How long a stop waits for in-flight ops when there is no op_timeout_s.
DEFAULT_STOP_GRACE_S = 10.0
# Per-node client open+setup (and teardown) is given up on after this long, or after
# CLIENT_SETUP_OP_TIMEOUTS op timeouts when that is longer: a hung setup must not stall the run.
MIN_CLIENT_SETUP_S = 10.0
CLIENT_SETUP_OP_TIMEOUTS = 4

_EXIT = object()


def test_seed(test: Any) -> int | None:
    """The seed of a test (a mapping with ``seed`` or an object with a ``seed`` attribute)."""
    if isinstance(test, Mapping):
        return test.get("seed")
    return getattr(test, "seed", None)


def node_name(node: Any) -> Any:
    """What the history records as ``node``: a node's ``name`` if it has one, else the node."""
    return getattr(node, "name", node)


def error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


class ClientSetupTimeout(EnvironmentProblem):
    """A client's ``open``/``setup`` on a node gave no answer within the setup timeout
    (exit 3: the node or its client library hangs; the run ends after its teardown)."""


def _call_with_timeout(fn: Callable[[], Any], timeout_s: float | None, what: str,
                       stop_event: threading.Event | None) -> Any:
    """``fn()`` in a daemon thread; its result, or its exception re-raised. Raises
    :class:`ClientSetupTimeout` when it takes longer than ``timeout_s`` (the thread is left
    behind: a daemon, never joined) and ``KeyboardInterrupt`` when ``stop_event`` is set
    meanwhile. The caller's thread waits in short slices, so signal handlers run at once."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e
        finally:
            done.set()

    threading.Thread(target=target, name=f"splitbrain {what}", daemon=True).start()
    end = None if timeout_s is None else time.monotonic() + timeout_s
    while not done.wait(MAX_WAIT_S):
        if stop_event is not None and stop_event.is_set():
            raise KeyboardInterrupt(f"stopped during {what}")
        if end is not None and time.monotonic() >= end:
            raise ClientSetupTimeout(f"{what} gave no answer in {timeout_s:g}s "
                                     f"(the node or its client library hangs)")
    if "error" in box:
        raise box["error"]
    return box.get("result")


class _Worker:
    """A thread that executes the ops of one logical thread (a client thread or the nemesis).

    It posts ``(self, invoke, answer, error)`` to the loop's completion queue. Once abandoned
    (its op timed out), it posts nothing more, closes its client when its op returns, and ends.
    """

    def __init__(self, interp: Interpreter, thread: Any, generation: int):
        self.interp = interp
        self.thread = thread
        nodes = interp.nodes
        self.node = None if thread == NEMESIS or not nodes else nodes[thread % len(nodes)]
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.abandoned = False
        name = f"splitbrain worker {thread}" + (f" #{generation}" if generation else "")
        self.t = threading.Thread(target=self._loop, name=name, daemon=True)
        self.t.start()

    def _loop(self) -> None:
        interp = self.interp
        client = None
        client_process = None
        try:
            while True:
                o = self.inbox.get()
                if o is _EXIT:
                    return
                answer, error = None, None
                typ = o["type"]
                try:
                    if typ == SLEEP:
                        interp._halt.wait(o["value"])
                    elif typ == LOG:
                        interp.logger.info("%s", o["value"])
                    elif self.thread == NEMESIS:
                        if interp.nemesis is None:
                            error = "no nemesis configured"
                        else:
                            answer = interp.nemesis.invoke(dict(o))
                    elif interp.client_factory is None:
                        error = "no client factory configured"
                    else:
                        if client is None or client_process != o["process"]:
                            # A new process gets a new client: the old one may be in any state.
                            self._close(client)
                            client = None
                            try:
                                client = interp.client_factory.open(self.node)
                                client_process = o["process"]
                            except Exception as e:  # noqa: BLE001 - reported as the op's outcome
                                interp.logger.warning("opening a client for %s failed: %s",
                                                      node_name(self.node), error_text(e))
                                answer = {"type": "fail", "error": f"no client: {error_text(e)}"}
                        if client is not None:
                            answer = client.invoke(dict(o))
                except BaseException as e:  # noqa: BLE001 - any crash is an indefinite outcome
                    error = error_text(e)
                    interp.logger.warning("process %s crashed during %s: %s",
                                          o.get("process"), o.get("f"), error)
                    interp.logger.debug("crash details", exc_info=True)
                if self.abandoned:
                    return
                interp._completions.put((self, o, answer, error))
        finally:
            self._close(client)

    def _close(self, client: Any) -> None:
        if client is not None:
            try:
                client.close()
            except Exception as e:  # noqa: BLE001 - a client that will not close is only logged
                self.interp.logger.warning("closing a client failed: %s", error_text(e))


class Interpreter:
    """Runs ``generator`` against real clients and a nemesis; :meth:`run` returns the history.

    - ``test``: passed to generators; its ``seed`` seeds ``ctx.rng``.
    - ``concurrency``: client threads (processes ``0..concurrency-1`` at first).
    - ``nodes``: thread ``t`` opens its clients on ``nodes[t % len(nodes)]``.
    - ``writer``: every recorded op goes through ``writer.append(op)`` (a
      :class:`harness.history.jsonl.HistoryWriter` or anything with ``append``).
    - ``op_timeout_s``: give up on a client op after this long (``info``, error ``"timeout"``).
    - ``nemesis_timeout_s``: the same for nemesis ops (default: wait as long as they take).
    - ``stop_event``: when set, stop issuing ops and wind down (see the module docstring).
    - ``stop_grace_s``: how long winding down waits for in-flight ops (default ``op_timeout_s``,
      or 10 s).
    - ``clock``: monotonic nanoseconds; history times are ns since :meth:`run` started.
    - ``client_setup``: run ``setup``/``teardown`` once per node (default ``True``).
    - ``client_setup_timeout_s``: give up on a node's client open+setup (or teardown) after this
      long (:class:`ClientSetupTimeout`); default the longer of MIN_CLIENT_SETUP_S and
      CLIENT_SETUP_OP_TIMEOUTS op timeouts.
    - ``on_workload_start``: called once client setup is done, just before the first op (the
      runner switches Ctrl-C from "abort setup" to "drain the workload" there).
    - ``keep_history``: keep every recorded op in memory and return them from :meth:`run`
      (default ``True``). A long run that streams its history to disk passes ``False`` so the
      controller's memory stays flat; :meth:`run` then returns an empty list.
    """

    def __init__(self, test: Any, generator: Any, client_factory: Any, nemesis: Any, *,
                 concurrency: int, nodes: Sequence[Any], writer: Any,
                 op_timeout_s: float | None = None, stop_event: threading.Event | None = None,
                 clock: Callable[[], int] = time.monotonic_ns,
                 logger: logging.Logger | None = None, nemesis_timeout_s: float | None = None,
                 stop_grace_s: float | None = None, client_setup: bool = True,
                 client_setup_timeout_s: float | None = None,
                 on_workload_start: Callable[[], None] | None = None, keep_history: bool = True):
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.test = test
        self.generator = generator
        self.client_factory = client_factory
        self.nemesis = nemesis
        self.concurrency = concurrency
        self.nodes = list(nodes)
        self._node_names = [node_name(n) for n in self.nodes]
        self.writer = writer
        self.op_timeout_s = op_timeout_s
        self.nemesis_timeout_s = nemesis_timeout_s
        self.stop_event = stop_event
        self.stop_grace_s = (stop_grace_s if stop_grace_s is not None else
                             op_timeout_s if op_timeout_s is not None else DEFAULT_STOP_GRACE_S)
        self.clock = clock
        self.logger = logger or logging.getLogger("splitbrain.interpreter")
        self.client_setup = client_setup
        self.client_setup_timeout_s = (
            client_setup_timeout_s if client_setup_timeout_s is not None else
            max(MIN_CLIENT_SETUP_S, CLIENT_SETUP_OP_TIMEOUTS * (op_timeout_s or 0)))
        self.on_workload_start = on_workload_start
        self.keep_history = keep_history
        self._recorded = 0
        self._halt = threading.Event()  # wakes sleeping workers when the run winds down
        self._completions: queue.SimpleQueue = queue.SimpleQueue()

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> list[dict]:
        """Runs the generator to exhaustion (or until stopped); returns the recorded history."""
        if self.generator is None:
            raise ValueError("an Interpreter runs once; make a new one")
        gen = lift(self.generator)
        # Forget the generator: holding the head of a lazy infinite sequence keeps every
        # op it ever produced alive.
        self.generator = None
        setup_clients = (self._setup_clients()
                         if self.client_setup and self.client_factory is not None else [])
        self.ctx = Context(self.concurrency, rng=random.Random(test_seed(self.test)))
        self.gen = gen
        self.history: list[dict] = []
        self.in_flight: dict[Any, tuple[dict, int | None]] = {}
        self._next_deadline: int | None = None
        self._deadline_dirty = False
        self._generations = 0
        self.workers = {t: _Worker(self, t, 0) for t in self.ctx.all_threads()}
        self._t0 = self.clock()
        # Lets a post-mortem (bench/crash_safety.py) put history times on the machine's clock.
        self.logger.debug("history time 0 is clock %d ns", self._t0)
        try:
            if self.on_workload_start is not None:
                self.on_workload_start()
            try:
                self._loop()
            except KeyboardInterrupt as e:
                # A forced stop (second Ctrl-C): no grace period, in-flight ops become info now.
                self.logger.warning("run interrupted (%s); recording in-flight ops as info",
                                    error_text(e))
                self._wind_down(f"interrupted: {error_text(e)}", grace=False)
                raise
            except BaseException as e:
                self.logger.warning("run interrupted by %s; completing in-flight ops", error_text(e))
                self._wind_down(f"interrupted: {error_text(e)}")
                raise
            try:
                self._wind_down("interrupted: run stopped")
            except KeyboardInterrupt as e:  # forced while waiting for in-flight ops
                self._wind_down(f"interrupted: {error_text(e)}", grace=False)
                raise
        finally:
            self._halt.set()
            self._stop_workers()
            self._teardown_clients(setup_clients)
        return self.history

    def _now(self) -> int:
        return self.clock() - self._t0

    def _loop(self) -> None:
        completions = self._completions
        stop = self.stop_event
        test = self.test
        wait = 0.0
        while True:
            # Completions first: they free threads and may change what the generator wants.
            try:
                item = completions.get(timeout=wait) if wait > 0 else completions.get_nowait()
            except queue.Empty:
                item = None
            if item is not None:
                self._complete(*item)
                wait = 0.0
                continue
            now = self._now()
            if self._expire(now):
                continue
            if stop is not None and stop.is_set():
                self.logger.info("stop requested: no new ops")
                return
            self.ctx = ctx = self.ctx.with_time(now)
            res = self.gen.op(test, ctx)
            if res is None:
                if not self.in_flight:
                    return
                wait = self._wait_s(now, None)
                continue
            o, gen2 = res
            if o is PENDING:
                wait = min(PENDING_WAIT_S, self._wait_s(now, None))
                continue
            if o["time"] > now:
                wait = self._wait_s(now, o["time"])
                continue
            self._invoke(o, gen2, now)
            wait = 0.0

    def _wait_s(self, now: int, until: int | None) -> float:
        """How long to block on completions: until ``until``, the next deadline, or MAX_WAIT_S."""
        w = MAX_WAIT_S
        for t in (until, self._deadline()):
            if t is not None:
                w = min(w, max(t - now, 0) / 1e9)
        return w

    # -- ops -------------------------------------------------------------------------------

    def _record(self, o: dict) -> dict:
        """Appends ``o`` to the history; returns the op as written (what everyone sees from now)."""
        idx = self._recorded
        if "index" in o:
            o["index"] = idx
        else:
            o = {"index": idx, **o}
        written = self.writer.append(o)
        # HistoryWriter returns the line as read back (tuples become lists): keeping that makes
        # the history in memory the same as the file an `analyze` reads later.
        if isinstance(written, dict):
            o = written
        self._recorded += 1
        if self.keep_history:
            self.history.append(o)
        return o

    def _invoke(self, o: dict, gen2: Any, now: int) -> None:
        thread = check_invoke(o, self.ctx)
        o["time"] = now  # when it really started (never earlier than the generator asked)
        typ = o["type"]
        if typ not in UNRECORDED_TYPES:
            if thread == NEMESIS:
                o["type"] = "info"
            elif "node" not in o and self.nodes:
                o["node"] = self._node_names[thread % len(self.nodes)]
            o = self._record(o)
        timeout = (None if typ in UNRECORDED_TYPES else
                   self.nemesis_timeout_s if thread == NEMESIS else self.op_timeout_s)
        deadline = None if timeout is None else now + int(timeout * 1e9)
        # In flight before anything else can fail, so a recorded invoke always gets completed.
        self.in_flight[thread] = (o, deadline)
        if deadline is not None and (self._next_deadline is None or deadline < self._next_deadline):
            self._next_deadline = deadline
        self.workers[thread].inbox.put(o)
        self.ctx = ctx = self.ctx.busy_thread(now, thread)
        self.gen = gen2.update(self.test, ctx, o)

    def _complete(self, worker: _Worker, inv: dict, answer: Any, error: str | None) -> None:
        thread = worker.thread
        current = self.in_flight.get(thread)
        if worker is not self.workers.get(thread) or current is None or current[0] is not inv:
            return  # a late answer for an op we already gave up on
        now = self._now()
        typ = inv["type"]
        if typ in UNRECORDED_TYPES:
            c = dict(inv)
            c["time"] = now
        else:
            if error is not None:
                c = crashed_op(inv, error)
            elif thread == NEMESIS:
                # Whatever the nemesis answered, its ops are info: faults have no ok/fail.
                c = complete_op(inv, {**(answer if isinstance(answer, dict) else {}),
                                      "type": "info"})
            else:
                c = complete_op(inv, answer)
            c["time"] = now
            try:
                c = self._record(c)
            except ValueError as e:
                # The writer refused the answer (a value JSON cannot hold): the op's outcome
                # is unknown to the history, which is what info says. The run goes on.
                self.logger.warning("process %s: answer to %s not recordable: %s",
                                    inv.get("process"), inv.get("f"), e)
                c = crashed_op(inv, f"answer not recordable: {e}")
                c["time"] = now
                c = self._record(c)
        self._finish(thread, c, now)

    def _finish(self, thread: Any, c: dict, now: int) -> None:
        """Bookkeeping once ``thread``'s op has its completion ``c``."""
        _, deadline = self.in_flight.pop(thread)
        if deadline is not None and deadline == self._next_deadline:
            self._deadline_dirty = True
        self.ctx = ctx = self.ctx.free_thread(now, thread)
        self.gen = self.gen.update(self.test, ctx, c)
        if c["type"] == "info" and thread != NEMESIS:
            self.ctx = self.ctx.with_next_process(thread)

    def _deadline(self) -> int | None:
        if self._deadline_dirty:
            ds = [d for _, d in self.in_flight.values() if d is not None]
            self._next_deadline = min(ds) if ds else None
            self._deadline_dirty = False
        return self._next_deadline

    def _expire(self, now: int) -> bool:
        """Gives up on every op past its deadline; True if there was one."""
        d = self._deadline()
        if d is None or now < d:
            return False
        for thread, (inv, deadline) in list(self.in_flight.items()):
            if deadline is not None and deadline <= now:
                self._abandon(thread, inv, "timeout", now)
        return True

    def _abandon(self, thread: Any, inv: dict, error: str, now: int) -> None:
        """Records ``inv`` as ``info`` with ``error`` and replaces the worker stuck on it."""
        self.logger.warning("process %s: %s %s gave no answer (%s); continuing as a new process",
                            inv.get("process"), inv.get("f"), inv.get("value"), error)
        old = self.workers[thread]
        old.abandoned = True
        old.inbox.put(_EXIT)
        self._generations += 1
        self.workers[thread] = _Worker(self, thread, self._generations)
        if inv["type"] in UNRECORDED_TYPES:
            c = dict(inv)
            c["time"] = now
        else:
            c = crashed_op(inv, error)
            c["time"] = now
            c = self._record(c)
        self._finish(thread, c, now)

    # -- winding down ----------------------------------------------------------------------

    def _wind_down(self, reason: str, grace: bool = True) -> None:
        """Waits up to the grace period (none when not ``grace``) for in-flight ops, then
        records ``info`` for the rest."""
        if not self.in_flight:
            return
        self._halt.set()
        try:
            end = self._now() + (int(self.stop_grace_s * 1e9) if grace else 0)
            while self.in_flight:
                now = self._now()
                if now >= end:
                    break
                if self._expire(now):
                    continue
                try:
                    item = self._completions.get(timeout=self._wait_s(now, end))
                except queue.Empty:
                    continue
                self._complete(*item)
            for thread, (inv, _) in list(self.in_flight.items()):
                self._abandon(thread, inv, reason, self._now())
        except Exception as e:  # noqa: BLE001 - e.g. the writer itself failed; nothing more to do
            self.logger.error("could not complete in-flight ops: %s", error_text(e))

    def _stop_workers(self) -> None:
        workers = list(getattr(self, "workers", {}).values())
        for w in workers:
            w.inbox.put(_EXIT)
        for w in workers:
            if not w.abandoned:
                w.t.join(timeout=self.stop_grace_s)

    # -- per-node client setup -------------------------------------------------------------

    def _setup_clients(self) -> list:
        """Open a client on each node and run its ``setup``, each bounded by the client setup
        timeout; a stop (Ctrl-C) or a timeout ends the setup and closes what was opened."""
        clients = []
        try:
            for node in self.nodes:
                c = _call_with_timeout(lambda node=node: self.client_factory.open(node),
                                       self.client_setup_timeout_s,
                                       f"opening a client on {node_name(node)}", self.stop_event)
                clients.append(c)
                _call_with_timeout(c.setup, self.client_setup_timeout_s,
                                   f"client setup on {node_name(node)}", self.stop_event)
        except BaseException as e:
            self.logger.error("client setup failed: %s", error_text(e))
            self._teardown_clients(clients, teardown=False)
            raise
        return clients

    def _teardown_clients(self, clients: list, teardown: bool = True) -> None:
        for c in clients:
            if teardown:
                try:
                    _call_with_timeout(c.teardown, self.client_setup_timeout_s,
                                       "client teardown", None)
                except Exception as e:  # noqa: BLE001 - teardown problems must not hide results
                    self.logger.warning("client teardown failed: %s", error_text(e))
            try:
                _call_with_timeout(c.close, self.client_setup_timeout_s, "closing a client", None)
            except Exception as e:  # noqa: BLE001
                self.logger.warning("closing a client failed: %s", error_text(e))
