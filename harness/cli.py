"""The ``splitbrain`` command line: test, check, analyze, heal, serve, suite.

Exit codes: 0 valid, 1 invalid, 2 unknown, 3 harness/environment error, 254 bad usage or input.
A user mistake is reported on one line (``splitbrain: what: where``), never with a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from harness import exit_codes
from harness.errors import EnvironmentProblem, InputError, SplitbrainError


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one InputError line (exit 254), not exit 2."""

    def error(self, message):  # noqa: D401 - argparse API
        raise InputError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _positive_float(flag):
    def parse(s):
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a number, got {s!r}") from None
        if not v > 0 or v != v:
            raise argparse.ArgumentTypeError(f"{flag} must be > 0, got {s}")
        return v

    return parse


def _int_in(flag, lo, hi):
    def parse(s):
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer, got {s!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{flag} must be from {lo} to {hi}, got {v}")
        return v

    return parse


def _json_value(s):
    try:
        return json.loads(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--initial must be JSON (e.g. 0, null, \"x\"), got {s!r}") from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="splitbrain", description="Jepsen-style consistency testing.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    t = sub.add_parser("test", help="deploy a cluster, run a workload under faults, check it")
    t.add_argument("spec", nargs="?", metavar="TEST.yaml", help="test spec (flags override it)")
    t.add_argument("--name")
    t.add_argument("--db", help="raft|paxos|etcd|commands|module:Class (default: raft)")
    t.add_argument("--workload", help="workload name (default: register)")
    t.add_argument("--nemesis", help="comma-separated nemeses, or 'none' (default: partition)")
    t.add_argument("--backend", help="local|docker|ssh (default: local)")
    t.add_argument("--backend-option", action="append", default=[], metavar="KEY=VALUE",
                   help="backend option, e.g. hosts=[10.0.0.1] (repeatable; docs/backends.md)")
    t.add_argument("--ssh-user", help="ssh backend: login user (backend option user)")
    t.add_argument("--ssh-key", help="ssh backend: private key file (backend option key)")
    t.add_argument("--known-hosts", help="ssh backend: known_hosts file (backend option known_hosts)")
    t.add_argument("--nodes", help="a count (5) or names (n1,n2,n3)")
    t.add_argument("--concurrency", type=_int_in("--concurrency", 1, 1000))
    t.add_argument("--rate", type=_positive_float("--rate"), help="client ops per second, total")
    t.add_argument("--time-limit", type=_float_any("--time-limit"), help="seconds of workload")
    t.add_argument("--op-timeout", type=_positive_float("--op-timeout"),
                   help="seconds before an op with no answer is recorded as info")
    t.add_argument("--check-timeout", type=_positive_float("--check-timeout"),
                   help="seconds before a checker gives up with 'unknown'")
    t.add_argument("--seed", type=_int_in("--seed", 0, 2**63 - 1))
    t.add_argument("--store", help="store directory (default ./store)")
    t.add_argument("--bug", help="planted bug for reference targets")
    t.add_argument("--junit", help="write a JUnit XML report here")
    t.add_argument(
        "--db-option", action="append", default=[], metavar="KEY=VALUE",
        help="target option, e.g. serializable=true (repeatable; VALUE is YAML)",
    )
    t.add_argument(
        "--workload-option", action="append", default=[], metavar="KEY=VALUE",
        help="workload option, e.g. accounts=8 (repeatable; VALUE is YAML; docs/workloads.md)",
    )
    t.add_argument(
        "--nemesis-option", action="append", default=[], metavar="KEY=VALUE",
        help="nemesis option, e.g. partition=primaries or interval=5 (repeatable)",
    )

    c = sub.add_parser("check", help="check history files offline")
    c.add_argument("histories", nargs="+", metavar="HISTORY")
    c.add_argument("--checker", default="linearizable")
    c.add_argument("--model", default="cas-register")
    c.add_argument("--initial", type=_json_value, default=None, help="initial value as JSON")
    from harness.history.formats import FORMATS

    c.add_argument("--format", choices=FORMATS, default=None, help="default: detect")
    c.add_argument("--timeout", type=_positive_float("--timeout"), default=None)
    c.add_argument("--open-as-info", action="store_true",
                   help="treat invokes with no completion as indeterminate (info)")
    c.add_argument("--json", action="store_true", help="print the results objects")
    c.add_argument("--report", default=None, metavar="DIR",
                   help="write reports (the linearizability counterexample page) under DIR "
                        "(DIR/<history file name>/ when several histories are checked)")
    c.add_argument("--consistency-model", action="append", default=None, metavar="M",
                   help="elle: model expected to hold (repeatable; default strict-serializable; "
                        "'none' for none)")
    c.add_argument("--anomalies", action="append", default=None, metavar="A",
                   help="elle: anomaly to look for (repeatable or comma-separated; G1 = G1a,G1b,G1c)")
    c.add_argument("--sequential-keys", action="store_true",
                   help="elle-rw-register: infer versions from each process's order")
    c.add_argument("--linearizable-keys", action="store_true",
                   help="elle-rw-register: infer versions from the realtime order")
    c.add_argument("--wfr-keys", action="store_true",
                   help="elle-rw-register: writes follow reads within a transaction")

    a = sub.add_parser("analyze", help="re-check a stored run")
    a.add_argument("run_dir", metavar="RUN_DIR")
    a.add_argument("--timeout", type=_positive_float("--timeout"), default=None)

    sv = sub.add_parser("serve", help="browse the store's runs in a web browser")
    sv.add_argument("--store", default="store", help="store directory (default ./store)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=_int_in("--port", 0, 65535), default=8080,
                    help="port (default 8080; 0 picks a free one)")
    sv.add_argument("--verbose", action="store_true", help="log every request to stderr")

    su = sub.add_parser("suite", help="run a matrix of tests (targets x workloads x nemeses x seeds)")
    su.add_argument("suite", metavar="SUITE.yaml")
    su.add_argument("--store", help="store directory (overrides the suite file's)")
    su.add_argument("--dry-run", action="store_true", help="list the runs and exit")

    nd = sub.add_parser("node", help="run one reference store node (raft or paxos) in the foreground")
    nd.add_argument("protocol", choices=["raft", "paxos"])
    nd.add_argument("--id", required=True, help="this node's id, one of --peers")
    nd.add_argument("--listen", required=True, metavar="IP:PORT", help="peer (node-to-node) address")
    nd.add_argument("--peers", required=True, metavar="n1=IP:PORT,...",
                    help="every node's peer address, this one included")
    nd.add_argument("--http", metavar="IP:PORT",
                    help="client HTTP address (default: --listen's IP, port + 1)")
    nd.add_argument("--data", required=True, metavar="DIR", help="data directory (created)")
    nd.add_argument("--bug", help="planted bug: stale-read, no-fsync; raft: early-ack, forget-vote; "
                                  "paxos: skip-promise-check, forget-accepted")
    nd.add_argument("--election-timeout", type=_positive_float("--election-timeout"),
                    default=500.0, metavar="MS")
    nd.add_argument("--heartbeat", type=_positive_float("--heartbeat"), default=50.0, metavar="MS")
    nd.add_argument("--snapshot-every", type=_int_in("--snapshot-every", 2, 10**9), default=10000,
                    metavar="N", help="compact the log every N applied entries")
    nd.add_argument("--max-batch", type=_int_in("--max-batch", 1, 10**6), default=512,
                    metavar="N", help="paxos: most slots in one phase-2 message")
    nd.add_argument("--no-check-quorum", action="store_true",
                    help="paxos: a leader that lost its majority keeps leading (no check-quorum)")
    nd.add_argument("--no-pre-vote", action="store_true",
                    help="raft: elections without pre-vote (the paper's Raft; thesis 9.6 off)")

    ex = sub.add_parser("export", help="write a history as EDN (for knossos / elle-cli)")
    ex.add_argument("history", metavar="RUN_DIR|HISTORY")
    ex.add_argument("--output", "-o", help="file to write (default: stdout)")
    ex.add_argument("--format", choices=FORMATS, default=None, help="input format (default: detect)")

    h = sub.add_parser("heal", help="remove leftovers of crashed runs (namespaces, bridges, rules)")
    h.add_argument("--force", action="store_true",
                   help="also remove runs whose controller still seems alive")
    return p


def _float_any(flag):
    # Accept any number here so the spec validator gives the one message for bad values.
    def parse(s):
        try:
            return float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a number, got {s!r}") from None

    return parse


def _key_values(items, flag) -> dict:
    import yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"{flag}: expected KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = yaml.safe_load(v) if v else None
        except yaml.YAMLError:
            out[k.strip()] = v
    return out


def cmd_test(args) -> int:
    from harness.config import load_spec
    from harness.runner import run_test

    overrides = {
        "name": args.name, "db": args.db, "workload": args.workload, "nemesis": args.nemesis,
        "backend": args.backend, "nodes": args.nodes, "concurrency": args.concurrency,
        "rate": args.rate, "time_limit": args.time_limit, "op_timeout": args.op_timeout,
        "check_timeout": args.check_timeout,
        "seed": args.seed, "store": args.store, "bug": args.bug, "junit": args.junit,
    }
    if args.db_option:
        overrides["db_options"] = _key_values(args.db_option, "--db-option")
    if args.nemesis_option:
        overrides["nemesis_options"] = _key_values(args.nemesis_option, "--nemesis-option")
    if args.workload_option:
        overrides["workload_options"] = _key_values(args.workload_option, "--workload-option")
    backend_options = _key_values(args.backend_option, "--backend-option")
    for flag, key in (("ssh_user", "user"), ("ssh_key", "key"), ("known_hosts", "known_hosts")):
        if getattr(args, flag) is not None:
            backend_options[key] = getattr(args, flag)
    if backend_options:
        overrides["backend_options"] = backend_options
    spec = load_spec(args.spec, overrides)
    from harness.plugin_settings import check_plugin_settings

    try:
        # db/workload/nemesis option errors with the file:line (or flag) that set them
        check_plugin_settings(spec, args.spec, overrides)
        from harness.control import rootless

        if rootless.needed(spec.backend):  # not root: the same run inside a user namespace
            return rootless.run_outer(spec.store)
        outcome = run_test(spec)
    except SplitbrainError as e:
        if spec.junit:  # CI still gets a report: the run itself as an <error>
            from harness.report.junit import write_junit

            try:
                write_junit(spec.junit, spec.resolved_name(),
                            {"valid": "unknown", "run": {"valid": "unknown", "error": str(e)}})
            except OSError:
                pass  # the run's own error is the one to report
        raise
    if outcome.check_abandoned:  # a signal ended the check: do not wait for its threads
        from harness.interrupts import exit_now

        exit_now(outcome.exit_code)
    return outcome.exit_code


def cmd_check(args) -> int:
    from harness.history_check import CheckRequest, check_file

    req = CheckRequest(
        checker=args.checker, model=args.model, initial=args.initial,
        timeout_s=args.timeout, open_as_info=args.open_as_info,
        elle_options=_elle_options(args),
    )
    codes = []
    for path in args.histories:
        try:
            if args.report:
                import dataclasses
                import os.path
                where = (args.report if len(args.histories) == 1
                         else os.path.join(args.report, os.path.basename(path)))
                req = dataclasses.replace(req, report_dir=where)
            result, seconds = check_file(path, args.format, req)
        except InputError as e:
            print(f"splitbrain: {e}", file=sys.stderr)
            codes.append(exit_codes.BAD_INPUT)
            continue
        code = exit_codes.for_verdict(result.get("valid"))
        codes.append(code)
        if args.json:
            out = dict(result)
            if len(args.histories) > 1:
                out["file"] = path
            print(json.dumps(out, default=str))
        else:
            print(f"{path}\t{exit_codes.verdict_word(result.get('valid'))}\t{seconds:.3f}")
        sys.stdout.flush()
    return exit_codes.worst(codes)


def _elle_options(args) -> dict:
    """The Elle checkers' options from ``check`` flags (models/anomalies may be comma-separated)."""
    def split(items):
        return [x.strip() for item in items for x in item.split(",") if x.strip()]

    opts = {"sequential_keys": args.sequential_keys, "linearizable_keys": args.linearizable_keys,
            "wfr_keys": args.wfr_keys}
    if args.consistency_model is not None:
        models = split(args.consistency_model)
        opts["consistency_models"] = [] if models == ["none"] else models
    if args.anomalies is not None:
        opts["anomalies"] = split(args.anomalies)
    return opts


def cmd_analyze(args) -> int:
    from harness.analyze import analyze_run

    return analyze_run(args.run_dir, timeout_s=args.timeout)


def cmd_node(args) -> int:
    from reference_impl.node_args import resolve

    settings = resolve(args)
    if args.heartbeat * 2 >= args.election_timeout:
        raise InputError("--heartbeat: must be less than half of --election-timeout")
    if args.protocol == "paxos":
        if args.no_pre_vote:
            raise InputError("--no-pre-vote: only raft has pre-vote")
        from reference_impl.paxos.server import main as paxos_main

        return paxos_main(settings, election_timeout_ms=args.election_timeout,
                          heartbeat_ms=args.heartbeat, max_batch=args.max_batch,
                          check_quorum=not args.no_check_quorum)
    from reference_impl.raft.server import main as raft_main

    return raft_main(settings, election_timeout_ms=args.election_timeout,
                     heartbeat_ms=args.heartbeat, snapshot_every=args.snapshot_every,
                     pre_vote=not args.no_pre_vote)


def cmd_heal(args) -> int:
    from harness.heal import heal

    if os.geteuid() != 0:
        raise EnvironmentProblem("heal needs root to remove namespaces, bridges and iptables rules")
    report = heal(force=args.force)
    print(report)
    return exit_codes.VALID if report.ok else exit_codes.HARNESS_ERROR


def cmd_serve(args) -> int:
    from harness.web.server import serve

    return serve(args.store, host=args.host, port=args.port, verbose=args.verbose)


def cmd_suite(args) -> int:
    from harness.suite import load_suite, run_suite

    suite = load_suite(args.suite, store=args.store)
    if args.dry_run:
        for spec in suite.specs:
            print(suite.describe(spec))
        return exit_codes.VALID
    return run_suite(suite).exit_code


def cmd_export(args) -> int:
    from pathlib import Path

    from harness.history.edn_writer import op_to_edn
    from harness.history.formats import read_history

    path = Path(args.history)
    if path.is_dir():  # a run directory (or a store's latest link)
        from harness.store import find_run

        path = find_run(path).history
    history = read_history(str(path), args.format)
    lines = "".join(op_to_edn(op) + "\n" for op in history)
    if args.output:
        try:
            Path(args.output).write_text(lines, encoding="utf-8")
        except OSError as e:
            raise InputError(f"--output: {args.output}: {e.strerror}") from None
    else:
        sys.stdout.write(lines)
    return exit_codes.VALID


COMMANDS = {"test": cmd_test, "check": cmd_check, "analyze": cmd_analyze, "heal": cmd_heal,
            "serve": cmd_serve, "suite": cmd_suite, "node": cmd_node, "export": cmd_export}


def main(argv=None) -> int:
    """Entry point of the ``splitbrain`` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return exit_codes.BAD_INPUT
        return COMMANDS[args.command](args)
    except SplitbrainError as e:
        print(f"splitbrain: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("splitbrain: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return exit_codes.HARNESS_ERROR


if __name__ == "__main__":
    sys.exit(main())
