"""One test run, start to finish: the data flow of DESIGN.md in one function.

spec -> store run dir -> cluster -> db.setup -> nemesis.setup -> interpreter (history streamed to
disk) -> finally: heal faults, tear the db down, download node logs, stop the cluster ->
check -> results.json -> exit code.

The ``finally`` runs on success, on exceptions, on Ctrl-C and on SIGTERM; each teardown step runs
even when an earlier one failed, so a run never leaves a partition or a process behind.
What a signal does in each phase (setup, workload, teardown, checking) and what a second one
forces is in :mod:`harness.interrupts`; the steps that heal the network are never interrupted.
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
from harness.interrupts import CHECKING, TEARDOWN, InterruptGuard
from harness.run_log import attach_run_log
from harness.store import RunDir, open_run

log = logging.getLogger("splitbrain")


@dataclass
class Outcome:
    """What a run produced: where, the checker results, and the exit code."""

    run: RunDir
    results: dict
    exit_code: int
    #: True when a signal abandoned the check: its thread (and a checker's worker threads or
    #: processes) may still run, so the CLI exits at once instead of waiting for them.
    check_abandoned: bool = False


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
    from harness.interpreter import ClientSetupTimeout, Interpreter
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
    if hasattr(client_factory, "use_workload"):
        # Its clients speak this workload's ops (InputError when the target cannot express it).
        client_factory.use_workload(workload)
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
    setup_error = None
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
                from harness.report.progress import RunProgress

                with RunProgress(spec.time_limit) as progress:  # live display on a TTY only
                    Interpreter(
                        test, gen, client_factory,
                        nemesis_package.nemesis if nemesis_package else None,
                        concurrency=spec.concurrency, nodes=list(cluster.nodes),
                        writer=progress.track(writer), op_timeout_s=spec.op_timeout,
                        stop_event=stop_event, logger=log,
                        # Ctrl-C aborts client setup, and only drains once ops run.
                        on_workload_start=guard.start_workload,
                        keep_history=False,  # streamed to disk: memory stays flat
                    ).run()
                interrupted = stop_event.is_set()
            except KeyboardInterrupt:
                interrupted = True
            except ClientSetupTimeout as e:  # recorded as the run's result, then exit 3
                setup_error = e
            finally:
                guard.phase = TEARDOWN
                _teardown(cluster, db, nemesis_package, run, writer, guard)
            log.info("workload and teardown took %.1fs", time.monotonic() - started)
            if setup_error is not None:
                run.write_results({"valid": "unknown", "error": str(setup_error),
                                   "interrupted": False})
                raise setup_error
            guard.phase = CHECKING
            interrupted = interrupted or guard.count > 0
            if guard.forced:
                results, abandoned = _unchecked(run, interrupted=True,
                                                cause="forced exit before checking"), True
            else:
                results, abandoned = _check_interruptibly(test, spec, workload, run, interrupted)
            code = exit_codes.for_verdict(results.get("valid"))
            if abandoned:
                _print_summary(run, results, True)
                return Outcome(run, results, code, check_abandoned=True)
            from harness.report import finish_run  # plots, timeline, junit; the summary table

            try:
                # Interrupted: the user wants out; the plots can be drawn later by analyze.
                summary = finish_run(spec, run, results, time.monotonic() - started,
                                     plots=not interrupted)
            except KeyboardInterrupt:  # results.json is written; the pages are extras
                log.warning("reports skipped (interrupted)")
                summary = None
            _print_summary(run, results, interrupted, summary)
            return Outcome(run, results, code)
    finally:
        detach()


def _healing_step(guard: InterruptGuard | None, what: str, fn, *args) -> None:
    """A step that heals the network: signals do not interrupt it (see InterruptGuard)."""
    done = False
    for _ in range(3):  # a signal may land just before the shield goes up: then run it again
        try:
            if guard is None:
                fn(*args)
            else:
                with guard.shielded():
                    fn(*args)
                    done = True
            return
        except KeyboardInterrupt:
            if done:
                return
        except BaseException as e:  # noqa: BLE001 - teardown must go on whatever happened
            log.error("teardown: %s failed: %s: %s", what, type(e).__name__, e)
            return


def _interruptible_step(guard: InterruptGuard | None, what: str, fn, *args) -> None:
    """A teardown step a second signal may cut short (it is logged, and teardown goes on)."""
    if guard is None:
        _step(what, fn, *args)
        return
    with guard.interruptible():
        _step(what, fn, *args)


def _teardown(cluster, db, nemesis_package, run: RunDir, writer,
              guard: InterruptGuard | None = None) -> None:
    log.info("tearing down")
    if cluster is not None:
        if nemesis_package is not None:
            _healing_step(guard, "healing faults", nemesis_package.nemesis.heal_all)
            _healing_step(guard, "nemesis teardown", nemesis_package.nemesis.teardown)
        if guard is not None and guard.forced:
            log.warning("teardown: skipping the db teardown (forced exit); stopping the cluster "
                        "ends its processes")
        else:
            _interruptible_step(guard, "db teardown", db.teardown, cluster)
        _interruptible_step(guard, "downloading node logs", cluster.download_logs, run.nodes)
        _healing_step(guard, "stopping the cluster", cluster.stop)
    _healing_step(guard, "closing the history", writer.close)
    log.info("teardown done")


def _unchecked(run: RunDir, interrupted: bool, cause: str) -> dict:
    """results.json for a run whose history was not checked (``splitbrain analyze`` can)."""
    results = {"valid": "unknown", "cause": f"{cause}; run 'splitbrain analyze {run.path}' "
                                            "to check the recorded history",
               "interrupted": interrupted}
    run.write_results(results)
    log.warning("verdict unknown: %s", cause)
    return results


def _check_interruptibly(test, spec, workload, run: RunDir, interrupted: bool) -> tuple[dict, bool]:
    """(results, abandoned): the check runs in a daemon thread while this (the main) thread
    waits in short slices, so a signal is handled at once even while a checker is busy in C
    code; the guard's KeyboardInterrupt abandons the check with the verdict ``unknown``."""
    box: dict = {}
    done = threading.Event()

    def check() -> None:
        try:
            box["results"] = _check(test, spec, workload, run)
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            box["error"] = e
        finally:
            done.set()

    threading.Thread(target=check, name="splitbrain check", daemon=True).start()
    try:
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt as e:
        by = e.args[0] if e.args else "a signal"
        return _unchecked(run, True, f"checking interrupted by {by}"), True
    if "error" in box:
        raise box["error"]
    results = box["results"]
    results["interrupted"] = interrupted
    run.write_results(results)
    return results, False


def _check(test, spec, workload, run: RunDir) -> dict:
    """The checkers' results for the stored history (not yet written)."""
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
