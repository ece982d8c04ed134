"""One test run, start to finish: the data flow of DESIGN.md in one function.

spec -> store run dir -> cluster -> db.setup -> nemesis.setup -> interpreter (history streamed to
disk) -> finally: heal faults, tear the db down, download node logs, stop the cluster ->
check -> results.json -> exit code.

The ``finally`` runs on success, on exceptions, on Ctrl-C and on SIGTERM; each teardown step runs
even when an earlier one failed, so a run never leaves a partition or a process behind.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from dataclasses import dataclass

from harness import exit_codes
from harness.config import TestSpec
from harness.errors import EnvironmentProblem, InputError
from harness.interrupts import InterruptGuard
from harness.run_log import attach_run_log
from harness.store import RunDir, open_run

log = logging.getLogger("splitbrain")


@dataclass
class Outcome:
    """What a run produced: where, the checker results, and the exit code."""

    run: RunDir
    results: dict
    exit_code: int


def make_backend(name: str, options: dict | None = None):
    """The control backend for ``--backend`` (``options``: the spec's ``backend-options``)."""
    if name == "local":
        from harness.control.local import LocalBackend

        return LocalBackend()
    if name == "docker":
        from harness.control.docker import DockerBackend

        return DockerBackend.from_options(options or {})
    if name == "ssh":
        from harness.control.ssh import SSHBackend

        return SSHBackend.from_options(options or {})
    raise InputError(f"--backend: unknown backend {name!r} (valid: local, docker, ssh)")


def build_generator(spec: TestSpec, workload, nemesis_package):
    """The whole run's generator: workload under faults for the time limit, then heal and a
    final phase (recovery wait + the workload's final reads, when it has them)."""
    from harness import generator as g

    client_gen = g.clients(g.stagger(1.0 / spec.rate, workload.generator(random.Random(spec.seed))))
    if nemesis_package is not None:
        main = g.nemesis(nemesis_package.generator, client_gen)
    else:
        main = client_gen
    phases = [g.time_limit(spec.time_limit, main)]
    if nemesis_package is not None:
        phases.append(g.nemesis(nemesis_package.final_generator))
    final = workload.final_generator()
    if final is not None:
        phases.append(g.sleep(nemesis_package.recovery_s if nemesis_package else 0))
        phases.append(g.clients(final))
    return g.phases(*phases)


def _step(what: str, fn, *args) -> None:
    """Run one teardown step; log its failure (even a second Ctrl-C) and go on."""
    try:
        fn(*args)
    except BaseException as e:  # noqa: BLE001 - teardown must go on whatever happened
        log.error("teardown: %s failed: %s: %s", what, type(e).__name__, e)


def run_test(spec: TestSpec, *, stop_event: threading.Event | None = None) -> Outcome:
    """Run the test ``spec`` describes and check it. Returns the outcome; raises SplitbrainError
    for bad input or an unusable environment (after cleaning up what was started)."""
    from harness.history.jsonl import HistoryWriter
    from harness.interpreter import Interpreter
    from harness.targets import make_target
    from nemesis.packages import make_nemesis_package
    from workloads import make_workload

    stop_event = stop_event or threading.Event()
    rng = random.Random(spec.seed)
    # Build everything that can fail on bad input before touching the machine.
    target = make_target(spec.db, dict(spec.db_options, bug=spec.bug) if spec.bug
                         else dict(spec.db_options))
    db, client_factory = target.db, target.client_factory
    workload = make_workload(spec.workload, dict(spec.workload_options, seed=spec.seed))
    nemesis_package = make_nemesis_package(spec.nemesis, spec.nemesis_options, rng)
    backend = make_backend(spec.backend, spec.backend_options)

    run = open_run(spec.store, spec.resolved_name(), spec.to_yaml())
    detach = attach_run_log(run.log)
    log.info("run %s: db=%s workload=%s nemesis=%s nodes=%s time-limit=%ss seed=%d",
             run.path, spec.db, spec.workload, ",".join(spec.nemesis) or "none",
             ",".join(spec.nodes), spec.time_limit, spec.seed)
    test = {
        "name": spec.resolved_name(), "spec": spec, "nodes": list(spec.nodes),
        "concurrency": spec.concurrency, "seed": spec.seed, "rng": rng, "run_dir": run.path,
    }
    writer = HistoryWriter(run.history)
    cluster = None
    guard = InterruptGuard(stop_event)
    interrupted = False
    started = time.monotonic()
    try:
        with guard:
            try:
                cluster = backend.start(list(spec.nodes), run.path)
                test["cluster"] = cluster
                log.info("cluster up: %s", ", ".join(f"{n.name}={n.ip}" for n in cluster.nodes))
                if nemesis_package is not None and hasattr(nemesis_package.nemesis, "prepare"):
                    # Before the db starts: e.g. the clock nemesis's libfaketime env.
                    nemesis_package.nemesis.prepare(cluster)
                db.setup(cluster)
                log.info("%s is up on %d nodes", spec.db, len(cluster.nodes))
                if nemesis_package is not None:
                    nemesis_package.nemesis.setup(cluster, db)
                gen = build_generator(spec, workload, nemesis_package)
                guard.draining = True
                from harness.report.progress import RunProgress

                with RunProgress(spec.time_limit) as progress:  # live display on a TTY only
                    Interpreter(
                        test, gen, client_factory,
                        nemesis_package.nemesis if nemesis_package else None,
                        concurrency=spec.concurrency, nodes=list(cluster.nodes),
                        writer=progress.track(writer), op_timeout_s=spec.op_timeout,
                        stop_event=stop_event, logger=log,
                    ).run()
                guard.draining = False
                interrupted = stop_event.is_set()
            except KeyboardInterrupt:
                interrupted = True
            finally:
                guard.draining = False
                _teardown(cluster, db, nemesis_package, run, writer)
        log.info("workload and teardown took %.1fs", time.monotonic() - started)
        results = _check_and_store(test, spec, workload, run, interrupted)
        code = exit_codes.for_verdict(results.get("valid"))
        from harness.report import finish_run  # plots, timeline, junit; the summary table

        summary = finish_run(spec, run, results, time.monotonic() - started)
        _print_summary(run, results, interrupted, summary)
        return Outcome(run, results, code)
    finally:
        detach()


def _teardown(cluster, db, nemesis_package, run: RunDir, writer) -> None:
    if cluster is not None:
        if nemesis_package is not None:
            _step("healing faults", nemesis_package.nemesis.heal_all)
            _step("nemesis teardown", nemesis_package.nemesis.teardown)
        _step("db teardown", db.teardown, cluster)
        _step("downloading node logs", cluster.download_logs, run.nodes)
        _step("stopping the cluster", cluster.stop)
    _step("closing the history", writer.close)
    log.info("teardown done")


def _check_and_store(test, spec, workload, run: RunDir, interrupted: bool) -> dict:
    from checkers.compose import run_checkers
    from harness.history.jsonl import read_jsonl

    history = read_jsonl(run.history, allow_truncated_tail=True)
    checkers = {"workload": workload.checker(dict(checker_timeout_s=spec.check_timeout))}
    log.info("checking %d history events", len(history))
    results = run_checkers(checkers, test, history,
                           {"open_as_info": True, "report_dir": str(run.path)})
    if not any(op.get("type") == "ok" and op.get("process") != "nemesis" for op in history):
        # Nothing the system did was observed: "valid" would be vacuous.
        results["valid"] = "unknown"
        results["cause"] = "no client operation completed ok"
        log.warning("no client operation completed ok; the verdict is unknown")
    results["interrupted"] = interrupted
    run.write_results(results)
    return results


def _print_summary(run: RunDir, results: dict, interrupted: bool, summary: str | None = None) -> None:
    word = exit_codes.verdict_word(results.get("valid"))
    note = " (interrupted)" if interrupted else ""
    if summary:  # harness.report.summary's table: ops, faults, verdicts, results path
        print(summary, file=sys.stderr)
        print(f"verdict: {word}{note}", flush=True)
        return
    lines = []
    for name, r in results.items():
        if isinstance(r, dict) and "valid" in r:
            lines.append(f"  {name}: {exit_codes.verdict_word(r['valid'])}")
            if r.get("explanation"):
                lines.append(f"    {r['explanation']}")
    note = " (interrupted)" if interrupted else ""
    print("\n".join(lines), file=sys.stderr)
    print(f"results: {run.path}", file=sys.stderr)
    print(f"verdict: {word}{note}", flush=True)
