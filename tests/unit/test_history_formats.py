"""read_history: formats, autodetection and bad inputs."""

import json

import pytest

from harness.errors import InputError
from harness.history import FORMATS, HistoryWriter, detect_format, read_history, read_json_history
from harness.history import op as op_mod


def test_formats():
    assert FORMATS == ("jsonl", "edn", "json", "porcupine-etcd", "porcupine-kv")


@pytest.mark.parametrize(
    "text, fmt",
    [
        ('{"index":0,"type":"invoke","process":0,"f":"read"}\n', "jsonl"),
        ('\n\n  {"type": "invoke", "process": 0, "f": "read"}', "jsonl"),
        ("", "jsonl"),
        ("   \n", "jsonl"),
        ("{:type :invoke, :process 0, :f :read}\n", "edn"),
        ("[{:type :invoke, :process 0, :f :read}]", "edn"),
        ("[\n {:type :invoke}]", "edn"),
        ("; comment\n[]", "edn"),
        ("#jepsen.history.Op{:type :ok}", "edn"),
        ('[{"type": "invoke"}]', "json"),
        ('[\n  {\n  "type": "invoke"}]', "json"),
        ("[]", "json"),
        ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n", "porcupine-etcd"),
        ('{:process 0, :type :invoke, :f :get, :key "7", :value nil}\n', "porcupine-kv"),
    ],
)
def test_detect_format(tmp_path, text, fmt):
    p = tmp_path / "h"
    p.write_text(text)
    assert detect_format(p) == fmt
    read_history(p)  # and it reads without error


def test_json_keys_and_values_lose_leading_colons(tmp_path):
    p = tmp_path / "h.json"
    p.write_text(json.dumps([
        {":type": ":invoke", ":f": ":read", ":process": 0, ":value": None},
        {"type": "ok", "f": "read", "process": 0, "value": ":kw-stays", "error": ":kept"},
        {":type": ":info", ":f": ":kill", ":process": ":nemesis"},
    ]))
    assert read_history(p) == [
        {"index": 0, "type": "invoke", "f": "read", "process": 0, "value": None},
        {"index": 1, "type": "ok", "f": "read", "process": 0, "value": ":kw-stays", "error": ":kept"},
        {"index": 2, "type": "info", "f": "kill", "process": "nemesis"},
    ]


def test_read_history_round_trips_the_writer(tmp_path):
    p = tmp_path / "history.jsonl"
    with HistoryWriter(p) as w:
        written = [w.append({"type": "invoke", "process": i, "f": "write", "value": i}) for i in range(3)]
    assert read_history(p) == written == read_history(p, "jsonl")


def test_truncated_tail_passes_through(tmp_path):
    p = tmp_path / "history.jsonl"
    p.write_text('{"type":"invoke","process":0,"f":"read"}\n{"type":"ok","pro')
    with pytest.raises(InputError):
        read_history(p)
    assert len(read_history(p, allow_truncated_tail=True)) == 1


BAD_INPUTS = [
    # (file name, content, format or None, expected message; {p} is the path)
    ("h.jsonl", b'{"type":"invoke","process":1,"f":"read","value":null}\n{"type":"okk","process":1,"f":"read","value":1}\n',
     None, '{p}:2: field "type": expected one of invoke, ok, fail, info, got "okk"'),
    ("h.jsonl", b'{"type":"invoke","process":1,"f":"read"}\n{"type":"ok","process":1,"f":"read",\n{"type":"ok"}\n',
     None, "{p}:2: not valid JSON: Expecting property name enclosed in double quotes (column 37)"),
    ("h.jsonl", b'{"type":"invoke","process":"n1","f":"read"}\n',
     None, '{p}:1: field "process": expected an integer or "nemesis", got "n1"'),
    ("h.jsonl", b'{"type":"invoke","process":1}\n', "jsonl", '{p}:1: field "f": missing'),
    ("h.jsonl", b"[1,2]\n", "jsonl", "{p}:1: expected a JSON object, got list"),
    ("h.edn", b"[{:type :invoke, :process 1, :f :read}\n {:type :ok :process 1 :f :read :value [1 2}]\n",
     None, '{p}:2:44: unexpected "}}": "[" opened at line 2 is not closed'),
    ("h.edn", b'{:type :invoke, :process 1, :f :read}\n{:type :ok, :process 1, :f :read, :value "abc}\n',
     None, "{p}:2:42: unterminated string"),
    ("h.edn", b"{:type :invoke, :process 1, :f :read :value}\n", "edn", "{p}:1:1: map has an odd number of forms (7)"),
    ("h.json", b'[{"type": "invoke", "process": 1, "f": "read"}, {"type": "ok", "process": 1, "f": "read"',
     None, "{p}:1:89: not valid JSON: Expecting ',' delimiter"),
    ("h.json", b'[{":type": ":invoke", ":process": 1, ":f": "read"},\n {":type": ":ok", ":process": 1, ":f": 5}]',
     None, '{p}:2: field "f": expected a string, got 5'),
    ("h.json", b"[1]", "json", "{p}:1: expected an operation object, got 1"),
    ("h.json", b'{"type": "invoke"}', "json", "{p}: expected a JSON array of operations, got dict"),
    ("h.json", b"[] []", "json", "{p}:1: not valid JSON: extra data after the array"),
    ("h.log", b"INFO  jepsen.util - 1\t:invoke\t:read\tnil\nINFO  jepsen.util - 1\t:ok\t:read\tfoo\n",
     None, '{p}:2: not a Porcupine etcd log line: "INFO  jepsen.util - 1\\t:ok\\t:read\\tfoo"'),
    ("h.txt", b'{:process 0, :type :invoke, :f :get, :key "7", :value nil}\n{:process 0, :type :ok, :f :get, :value ""}\n',
     None, '{p}:2: field "key": missing'),
    ("h.txt", b'{:process 0, :type :invoke, :f :get, :key "7", :value nil}\n', "porcupine-etcd",
     '{p}:1: not a Porcupine etcd log line: "{{:process 0, :type :invoke, :f :get, :key \\"7\\", :value ...'),
    ("h.bin", b"\x00\x01\x02garbage", None, "{p}: binary data (NUL byte at offset 0), not a history file"),
    ("h.bin", b"\x7fELF\x02\x01\x01\x00\x00\x00", "edn", "{p}: binary data (NUL byte at offset 7), not a history file"),
    ("h.jsonl", b'{"type":"invoke","process":1,"f":"r\xe9ad"}\n', None, "{p}:1: not UTF-8 text (bad byte at offset 35)"),
    ("h.xml", b"<history/>", None,
     '{p}: cannot tell the history format (it starts with "<history/>"); '
     "give one of jsonl, edn, json, porcupine-etcd, porcupine-kv"),
    ("h.jsonl", b"{}", "yaml", 'unknown history format "yaml"; expected one of jsonl, edn, json, porcupine-etcd, porcupine-kv'),
]


@pytest.mark.parametrize("name, content, fmt, msg", BAD_INPUTS)
def test_bad_inputs(tmp_path, name, content, fmt, msg):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError) as e:
        read_history(p, fmt)
    assert str(e.value) == msg.format(p=p)
    assert "\n" not in str(e.value)


def test_missing_file_and_directory(tmp_path):
    missing = tmp_path / "nope.jsonl"
    for fmt in (None,) + FORMATS:
        with pytest.raises(InputError) as e:
            read_history(missing, fmt)
        assert str(e.value) == f"{missing}: no such file"
    with pytest.raises(InputError) as e:
        read_history(tmp_path)
    assert str(e.value) == f"{tmp_path}: is a directory, not a history file"


def test_large_files_are_refused_without_reading_them(tmp_path, monkeypatch):
    p = tmp_path / "big.jsonl"
    p.write_text('{"type":"invoke","process":0,"f":"read"}\n' * 10)
    monkeypatch.setattr(op_mod, "MAX_FILE_BYTES", 100)
    with pytest.raises(InputError) as e:
        read_history(p, "jsonl")
    assert str(e.value) == f"{p}: file too large (410 bytes; the limit is 1 GiB)"


def test_random_garbage_never_tracebacks(tmp_path):
    import random

    rnd = random.Random(1234)
    alphabet = '{}[]()#_:;"\\ \n,abc01-+.^@~`\'INFO'
    p = tmp_path / "g"
    for _ in range(150):
        p.write_text("".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 40))))
        for fmt in (None,) + FORMATS:
            try:
                read_history(p, fmt)
            except InputError as e:
                assert "\n" not in str(e)
    # random bytes, including invalid UTF-8
    for _ in range(50):
        p.write_bytes(bytes(rnd.randrange(1, 256) for _ in range(rnd.randint(1, 40))))
        for fmt in (None,) + FORMATS:
            try:
                read_history(p, fmt)
            except InputError:
                pass


def test_json_reader_direct(tmp_path):
    p = tmp_path / "h.json"
    p.write_text('[\n{"type":"invoke","process":0,"f":"read"},\n{"type":"ok","process":0,"f":"read","value":1}\n]\n')
    assert read_json_history(p) == [
        {"index": 0, "type": "invoke", "process": 0, "f": "read"},
        {"index": 1, "type": "ok", "process": 0, "f": "read", "value": 1},
    ]
