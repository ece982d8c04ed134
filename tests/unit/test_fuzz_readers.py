"""Hostile input: every history reader, the test-spec loader and the suite loader, fed random
bytes and structure-aware mutations of real histories (issue 11).

The contract under test (DESIGN.md, docs/architecture.md): a reader either returns a list of op
dicts or raises :class:`InputError` whose message is one line. Any other exception (a
``KeyError``, ``RecursionError``, ``MemoryError``, ``UnicodeDecodeError`` ...) is a bug, and so
would be a hang: examples are kept small (a few KiB) so each one runs in milliseconds, and a
reader that loops would make the test never finish rather than pass.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.config import load_spec
from harness.errors import InputError
from harness.history.formats import FORMATS, read_history

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"

# Bounded: hypothesis' own deadline is off (first calls import modules), sizes are small.
# SB_FUZZ_EXAMPLES=5000 for a longer hunt than CI's.
FUZZ = settings(max_examples=int(os.environ.get("SB_FUZZ_EXAMPLES", "150")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_TMP = tempfile.mkdtemp(prefix="sb-fuzz-")


def _write(data: bytes, name: str = "input") -> str:
    path = os.path.join(_TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _head(rel: str, n_bytes: int = 1500) -> bytes:
    """The first lines of a real history (whole lines, about ``n_bytes``)."""
    p = DATA / rel
    if not p.is_file():
        return b""
    raw = p.read_bytes()
    if raw.startswith(b"[{\""):  # one-line JSON array: keep whole ops, close the array
        cut = raw.find(b"},{", n_bytes)
        return raw if cut < 0 else raw[: cut + 1] + b"]\n"
    raw = raw[:n_bytes]
    raw = raw[: raw.rfind(b"\n") + 1] or raw
    return raw + b"]\n" if raw.startswith(b"[") else raw


def _seeds() -> list[bytes]:
    seeds = [
        _head("porcupine/jepsen/" + sorted(os.listdir(DATA / "porcupine/jepsen"))[0])
        if (DATA / "porcupine/jepsen").is_dir() else b"",
        _head("porcupine/kv/c01-ok.txt"),
        _head("knossos/cas-register/bad/cas-failure.edn"),
        _head("elle/elle-cli/knossos/cas-register/good/memstress3-9.json"),
        _head("elle/cases/la-G-nonadjacent-process.jsonl"),
    ]
    own = (b'{"index": 0, "time": 1, "type": "invoke", "process": 0, "f": "write", "value": 1}\n'
           b'{"index": 1, "time": 2, "type": "ok", "process": 0, "f": "write", "value": 1}\n'
           b'{"index": 2, "time": 3, "type": "info", "process": "nemesis", '
           b'"f": "start-partition", "value": {"n1": ["n2"]}}\n')
    seeds.append(own)
    return [s for s in seeds if s]


SEEDS = _seeds()

# Fragments that tend to break parsers: delimiters, escapes, huge/odd numbers, tags, NULs,
# bad UTF-8, BOMs, CRs, deep nesting, keys that shadow required ones.
TOKENS = [
    b"{", b"}", b"[", b"]", b"(", b")", b"#{", b'"', b"\\", b"\\u", b"\\ud800", b'"\\u00', b":",
    b",", b"\n", b"\r", b"\r\n", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3", b"#_", b"#inst",
    b"##NaN", b"##Inf", b"1e999999", b"-0", b"99999999999999999999999999999", b"0x", b"1/0",
    b"1/3", b"NaN", b"Infinity", b"null", b"nil", b":type", b":invoke", b":ok", b":info",
    b'"type"', b'"invoke"', b'"process"', b'"nemesis"', b":process", b":nemesis", b":key",
    b"INFO  jepsen.util - ", b"\t:invoke\t:read\tnil", b"\t", b";", b"#", b"[" * 50, b"{" * 50,
    b'{"a":' * 40, b"true", b"false", b"-", b"+", b"N", b"M", b"\\newline", b"\\o777",
]


@st.composite
def mutated(draw) -> bytes:
    """A real history, cut short, then hit by a few mutations."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "dup", "swap-lines", "truncate"]))
        n = len(data)
        i = draw(st.integers(0, n))
        if kind == "insert":
            data[i:i] = draw(st.sampled_from(TOKENS))
        elif kind == "delete" and n:
            j = draw(st.integers(i, min(n, i + 40)))
            del data[i:j]
        elif kind == "replace" and i < n:
            data[i] = draw(st.integers(0, 255))
        elif kind == "dup":
            j = draw(st.integers(i, min(n, i + 200)))
            data[i:i] = data[i:j]
        elif kind == "swap-lines":
            lines = bytes(data).split(b"\n")
            if len(lines) > 2:
                a = draw(st.integers(0, len(lines) - 1))
                b = draw(st.integers(0, len(lines) - 1))
                lines[a], lines[b] = lines[b], lines[a]
                data = bytearray(b"\n".join(lines))
        elif kind == "truncate":
            del data[i:]
    return bytes(data)


def _assert_clean(fn, *args):
    try:
        result = fn(*args)
    except InputError as e:
        msg = str(e)
        assert msg, "an InputError must say what is wrong"
        assert "\n" not in msg and "\r" not in msg, f"InputError is not one line: {msg!r}"
        return None
    return result


def _read_all_formats(data: bytes) -> None:
    path = _write(data)
    for fmt in (None, *FORMATS):
        ops = _assert_clean(read_history, path, fmt)
        if ops is not None:
            assert isinstance(ops, list)
            assert all(isinstance(op, dict) and "type" in op for op in ops)
    _assert_clean(read_history, path, "jsonl", True)


@FUZZ
@given(st.binary(max_size=2048))
@example(b"\xff\xfe\x00")
@example(b"[" * 20000)
@example(b"{" * 20000)
@example(b"(" * 20000 + b")" * 20000)
@example(b'[{"type":' * 5000)
@example(b"\n\n\n")
@example(b"{}\n")
@example(b"[]")
@example(b'[{"type": "invoke"}, 1]')
@example(b'{"type": "ok", "process": 1e999}\n')
@example(b'{"type": "ok", "process": 0, "index": -1}\n')
@example(b"INFO  jepsen.util - 0\t:invoke\t:read\n")
@example(b"{:process 0, :type :invoke, :f :get, :key}\n")
def test_random_bytes_never_crash_a_reader(data):
    _read_all_formats(data)


@FUZZ
@given(mutated())
def test_mutated_real_histories_never_crash_a_reader(data):
    _read_all_formats(data)


def test_seeds_are_real_histories_that_parse():
    """The mutation seeds must be valid, or the structure-aware fuzzing only tests the errors."""
    if len(SEEDS) < 5:
        pytest.skip("../shared/data is not available")
    for seed in SEEDS:
        assert read_history(_write(seed)), seed[:80]


# --- YAML test specs and suite files --------------------------------------------------------

SPEC_SEED = b"""name: fuzz
db: etcd
workload: register
nemesis: [partition]
nemesis-options: {partition: primaries, interval: 5}
backend: local
nodes: 5
concurrency: 10
rate: 50
time-limit: 30
op-timeout: 5
seed: 42
"""

SUITE_SEED = b"""name: nightly
defaults: {time-limit: 10, nodes: 3}
dbs: [etcd]
workloads: [register]
nemeses: [[partition], none]
seeds: [1, 2]
"""

YAML_TOKENS = [
    b": ", b"- ", b"&a ", b"*a", b"!!python/object:os.system", b"!!binary", b"<<: ", b"{", b"[",
    b"'", b'"', b"|", b">", b"\t", b"? ", b"---", b"...", b"%YAML 1.1", b"~", b".nan", b".inf",
    b"-.inf", b"1e999", b"0x10", b"0o7", b"2001-12-14", b"yes", b"no", b"on", b"null",
    b"nodes: [n1, 'n;rm -rf /', n3]", b"nodes: 0", b"nodes: 300", b"time-limit: -1",
    b"rate: .nan", b"concurrency: 1e9", b"seed: -1", b"db: ../../etc/passwd", b"\xff", b"\x00",
    b"[" * 200, b"{a: " * 100,
]


@st.composite
def yaml_mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        if kind == "insert":
            data[i:i] = draw(st.sampled_from(YAML_TOKENS))
        elif kind == "delete":
            del data[i:i + draw(st.integers(0, 30))]
        elif i < len(data):
            data[i] = draw(st.integers(0, 255))
    return bytes(data)


BILLION_LAUGHS = b"""a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
db-options: {x: *g}
"""


def _load_spec_clean(data: bytes) -> None:
    spec = _assert_clean(load_spec, _write(data, "spec.yaml"))
    if spec is not None:
        assert spec.time_limit > 0 and spec.nodes
        spec.to_yaml()  # a loaded spec is written to the run dir: it must serialise


def _load_suite_clean(data: bytes) -> None:
    from harness.suite import load_suite

    _assert_clean(load_suite, _write(data, "suite.yaml"))


@FUZZ
@given(st.one_of(yaml_mutated(SPEC_SEED), st.binary(max_size=1024)))
@example(BILLION_LAUGHS)
@example(b"[" * 5000)
@example(b"a: " + b"{a: " * 3000)
@example(b"!!python/object/apply:os.system ['true']")
@example(b"nodes: !!binary aGVsbG8=")
@example(b"\xef\xbb\xbfdb: etcd\n")
def test_specs_never_crash_the_loader(data):
    _load_spec_clean(data)


@FUZZ
@given(st.one_of(yaml_mutated(SUITE_SEED), st.binary(max_size=1024)))
@example(BILLION_LAUGHS)
@example(b"dbs: " + b"[" * 3000)
def test_suite_files_never_crash_the_loader(data):
    _load_suite_clean(data)


def test_spec_seed_is_valid():
    """The mutation seed loads, so mutations explore near-valid specs, not only syntax errors."""
    spec = load_spec(_write(SPEC_SEED, "spec.yaml"))
    assert spec.db == "etcd" and len(spec.nodes) == 5
