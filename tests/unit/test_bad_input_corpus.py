"""A corpus of hand-written bad inputs (``tests/bad_inputs/``), each with the exact message the
CLI must print (issue 11).

Each case runs the real command line (``python -m harness.cli``) from inside the corpus
directory, so messages carry the short relative file name. The contract: exit 254, exactly one
line on stderr, that line equals the expected one, and never a traceback. Nothing here starts a
cluster: every input is refused before the machine is touched (the store must stay absent).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "bad_inputs"
FORMATS = "jsonl, edn, json, porcupine-etcd, porcupine-kv"
SETTINGS = ("backend, backend-options, bug, check-timeout, concurrency, db, db-options, junit, "
            "name, nemesis, nemesis-options, nodes, op-timeout, rate, seed, store, time-limit, "
            "workload, workload-options")
NODE_RULE = "must be a lowercase letter then up to 7 letters/digits"

# (argv after "splitbrain", the exact stderr line). "STORE" is replaced by a temporary store.
CASES = [
    # --- histories (check) ---
    (["check", "jsonl-unclosed-object.jsonl"],
     "jsonl-unclosed-object.jsonl:2: not valid JSON: Expecting ',' delimiter (column 77)"),
    (["check", "jsonl-unknown-type.jsonl"],
     'jsonl-unknown-type.jsonl:2: field "type": expected one of invoke, ok, fail, info, got "done"'),
    (["check", "jsonl-missing-type.jsonl"], 'jsonl-missing-type.jsonl:2: field "type": missing'),
    (["check", "jsonl-two-invokes-one-process.jsonl"],
     "jsonl-two-invokes-one-process.jsonl: index 1: invoke of process 0 (f=write) while its "
     "invoke at index 0 (f=write) is still in flight"),
    (["check", "jsonl-completion-without-invoke.jsonl"],
     "jsonl-completion-without-invoke.jsonl: index 0: ok completion of process 0 (f=write) has "
     "no invoke in flight"),
    (["check", "jsonl-open-invoke.jsonl"],
     "jsonl-open-invoke.jsonl: index 0: invoke of process 0 (f=write) has no completion"),
    (["check", "jsonl-float-process.jsonl"],
     'jsonl-float-process.jsonl:1: field "process": expected an integer or "nemesis", got 1.5'),
    (["check", "jsonl-f-not-string.jsonl"],
     'jsonl-f-not-string.jsonl:1: field "f": expected a string, got 7'),
    (["check", "jsonl-time-not-int.jsonl"],
     'jsonl-time-not-int.jsonl:1: field "time": expected an integer, got "soon"'),
    (["check", "jsonl-array-line.jsonl"],
     'jsonl-array-line.jsonl: cannot tell the history format (it starts with "[1, 2, 3]\\n"); '
     f"give one of {FORMATS}"),
    (["check", "jsonl-bad-utf8.jsonl"],
     "jsonl-bad-utf8.jsonl:2: not UTF-8 text (bad byte at offset 59)"),
    (["check", "binary-file.bin"],
     "binary-file.bin: binary data (NUL byte at offset 0), not a history file"),
    (["check", "unknown-format.txt"],
     'unknown-format.txt: cannot tell the history format (it starts with "hello world\\n"); '
     f"give one of {FORMATS}"),
    (["check", "edn-unclosed-vector.edn"],
     'edn-unclosed-vector.edn:1:1: unexpected end of input: "[" is not closed'),
    (["check", "edn-mismatched-brace.edn"],
     'edn-mismatched-brace.edn:2:42: unexpected "}": "[" opened at line 1 is not closed'),
    (["check", "edn-unterminated-string.edn"], "edn-unterminated-string.edn:1:43: unterminated string"),
    (["check", "edn-odd-map.edn"], "edn-odd-map.edn:1:1: map has an odd number of forms (7)"),
    (["check", "edn-missing-type.edn"], 'edn-missing-type.edn:1: field "type": missing'),
    (["check", "edn-tag-without-form.edn"],
     'edn-tag-without-form.edn:1:48: unexpected "}": tag #inst needs a form after it'),
    (["check", "json-trailing-comma.json"],
     "json-trailing-comma.json:2:56: not valid JSON: Expecting value"),
    (["check", "json-not-an-object.json"],
     "json-not-an-object.json:1: expected an operation object, got 42"),
    (["check", "json-extra-data.json"],
     "json-extra-data.json:1: not valid JSON: extra data after the array"),
    (["check", "porcupine-etcd-bad-process.log"],
     'porcupine-etcd-bad-process.log:2: not a Porcupine etcd log line: '
     '"INFO  jepsen.util - zero\\t:ok\\t:read\\t1"'),
    (["check", "porcupine-etcd-missing-field.log"],
     'porcupine-etcd-missing-field.log:1: not a Porcupine etcd log line: '
     '"INFO  jepsen.util - 0\\t:invoke\\t:read"'),
    (["check", "porcupine-kv-missing-key.txt"],
     'porcupine-kv-missing-key.txt:2: field "key": missing'),
    (["check", "--format", "edn", "jsonl-open-invoke.jsonl"],
     'jsonl-open-invoke.jsonl:1:8: invalid keyword ":"'),
    (["check", "no-such-file.jsonl"], "no-such-file.jsonl: no such file"),
    # --- test specs ---
    (["test", "spec-node-metachar.yaml", "--store", "STORE"],
     f"spec-node-metachar.yaml:2: nodes: node name 'n2;rm -rf /' {NODE_RULE}"),
    (["test", "spec-negative-time-limit.yaml", "--store", "STORE"],
     "spec-negative-time-limit.yaml:2: time-limit: must be > 0, got -3"),
    (["test", "spec-zero-nodes.yaml", "--store", "STORE"],
     "spec-zero-nodes.yaml:2: nodes: must be from 1 to 50 nodes, got 0"),
    (["test", "spec-unknown-key.yaml", "--store", "STORE"],
     f"spec-unknown-key.yaml:2: worklaod: unknown setting (valid: {SETTINGS})"),
    (["test", "spec-duplicate-nodes.yaml", "--store", "STORE"],
     "spec-duplicate-nodes.yaml:2: nodes: node 'n1' is listed twice"),
    (["test", "spec-bad-indent.yaml", "--store", "STORE"],
     "spec-bad-indent.yaml:2:8: YAML syntax error: mapping values are not allowed here"),
    (["test", "spec-list-not-mapping.yaml", "--store", "STORE"],
     "spec-list-not-mapping.yaml:1: expected a mapping of settings, got list"),
    (["test", "spec-concurrency-not-int.yaml", "--store", "STORE"],
     "spec-concurrency-not-int.yaml:2: concurrency: must be an integer from 1 to 1000, got 'many'"),
    (["test", "spec-rate-nan.yaml", "--store", "STORE"],
     "spec-rate-nan.yaml:2: rate: must be a number, got nan"),
    (["test", "spec-unknown-db.yaml", "--store", "STORE"],
     "spec-unknown-db.yaml:1: db: unknown target 'nosuchdb' (valid: commands, etcd, paxos, raft)"),
    (["test", "spec-unknown-nemesis.yaml", "--store", "STORE"],
     "spec-unknown-nemesis.yaml:2: nemesis: unknown nemesis 'meteor' (valid: partition, kill, pause, "
     "clock, packet, files, lost-writes, vote-crash, membership, all, none)"),
    (["test", "spec-billion-laughs.yaml", "--store", "STORE"],
     "spec-billion-laughs.yaml:3: workload-options: a: register workload: unknown option 'a' "
     "(valid: checker_timeout_s, max_value, seed, weights)"),
    (["test", "spec-python-tag.yaml", "--store", "STORE"],
     "spec-python-tag.yaml:2:7: YAML syntax error: could not determine a constructor for the tag "
     "'tag:yaml.org,2002:python/object/apply:os.system'"),
    (["test", "no-such-spec.yaml", "--store", "STORE"], "no-such-spec.yaml: no such file"),
    # --- suite files ---
    (["suite", "suite-parallelism.yaml", "--dry-run"],
     "suite-parallelism.yaml:4: parallelism: only 1 is supported (runs share the machine), got 4"),
    (["suite", "suite-negative-seed.yaml", "--dry-run"],
     "suite-negative-seed.yaml:3: seeds: must be a non-empty list of non-negative integers"),
    # --- flag combinations ---
    (["check"], "splitbrain check: the following arguments are required: HISTORY "
                "(see 'splitbrain check --help')"),
    (["check", "--format", "xml", "x.jsonl"],
     "splitbrain check: argument --format: invalid choice: 'xml' (choose from 'jsonl', 'edn', "
     "'json', 'porcupine-etcd', 'porcupine-kv') (see 'splitbrain check --help')"),
    (["check", "--timeout", "-1", "x.jsonl"],
     "splitbrain check: argument --timeout: --timeout must be > 0, got -1 "
     "(see 'splitbrain check --help')"),
    (["check", "--initial", "{bad", "x.jsonl"],
     "splitbrain check: argument --initial: --initial must be JSON (e.g. 0, null, \"x\"), "
     "got '{bad' (see 'splitbrain check --help')"),
    (["check", "--checker", "nosuch", "jsonl-open-invoke.jsonl"],
     "--checker: unknown checker 'nosuch' (valid: linearizable, elle-list-append, elle-rw-register, "
     "set, counter, unique-ids, bank, queue)"),
    (["analyze", "no-such-run"], "no-such-run: no such run directory"),
    (["test", "--nodes", "0", "--store", "STORE"],
     "command line: nodes: must be from 1 to 50 nodes, got 0"),
    (["test", "--nodes", "n1,$(reboot)", "--store", "STORE"],
     f"command line: nodes: node name '$(reboot)' {NODE_RULE}"),
    (["test", "--nodes", "n1,`id`", "--store", "STORE"],
     f"command line: nodes: node name '`id`' {NODE_RULE}"),
    (["test", "--concurrency", "0", "--store", "STORE"],
     "splitbrain test: argument --concurrency: --concurrency must be from 1 to 1000, got 0 "
     "(see 'splitbrain test --help')"),
    (["test", "--time-limit", "0", "--store", "STORE"],
     "command line: time-limit: must be > 0, got 0.0"),
    (["test", "--db-option", "novalue", "--store", "STORE"],
     "--db-option: expected KEY=VALUE, got 'novalue'"),
    (["test", "--backend", "carrier-pigeon", "--store", "STORE"],
     "command line: backend: unknown backend 'carrier-pigeon' (valid: local, docker, ssh)"),
    (["test", "--nemesis-option", "interval=-1", "--store", "STORE"],
     "command line: --nemesis-option: interval: must be a number > 0, got -1"),
    (["test", "--db", "os:system", "--store", "STORE"], "command line: --db: os:system: os has no class system"),
    (["test", "--db", "1bad:X", "--store", "STORE"],
     "command line: --db: '1bad:X' is not module:Class (e.g. mypkg.mydb:MyTarget)"),
    (["test", "--db", "no_such_mod_xyz:X", "--store", "STORE"],
     "command line: --db: no_such_mod_xyz:X: cannot import no_such_mod_xyz: "
     "No module named 'no_such_mod_xyz'"),
    (["frobnicate"],
     "splitbrain: argument COMMAND: invalid choice: 'frobnicate' (choose from 'test', 'check', "
     "'analyze', 'serve', 'suite', 'node', 'export', 'heal') (see 'splitbrain --help')"),
]


def test_corpus_has_at_least_30_files_and_each_is_used():
    files = sorted(p.name for p in CORPUS.iterdir() if p.is_file())
    assert len(files) >= 30
    used = {a for argv, _ in CASES for a in argv}
    assert [f for f in files if f not in used] == []


@pytest.mark.parametrize("argv,expected", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input_gives_one_exact_line_and_exit_254(tmp_path, argv, expected):
    store = tmp_path / "store"
    argv = [str(store) if a == "STORE" else a for a in argv]
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *argv], cwd=CORPUS,
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines() == [f"splitbrain: {expected}"]
    assert proc.returncode == 254
    assert not store.exists(), "bad input must be refused before a run starts"
