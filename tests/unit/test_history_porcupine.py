"""Porcupine's etcd Jepsen logs and kv logs."""

import collections
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.history import pair_ops, read_porcupine_etcd, read_porcupine_kv

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
PORCUPINE = DATA / "porcupine"
needs_data = pytest.mark.skipif(not PORCUPINE.is_dir(), reason=f"test data not found at {DATA}")


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_etcd_line_shapes(tmp_path):
    p = write(tmp_path, "etcd.log", (
        "INFO  jepsen.util - 3\t:invoke\t:read\tnil\n"
        "INFO  jepsen.util - 3\t:ok\t:read\tnil\n"
        "INFO  jepsen.util - 1\t:invoke\t:cas\t[1 2]\n"
        "INFO  jepsen.util - 1\t:fail\t:cas\t[1 2]\n"
        "INFO  jepsen.util - 2   :invoke :write  4\n"    # some logs use spaces
        "INFO  jepsen.util - 2   :info   :write  :timed-out\n"
        "\n"
        "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
        "INFO  jepsen.util - 0\t:fail\t:read\t:timed-out\n"
        "INFO  jepsen.util - 4\t:invoke\t:cas\t[0 3]\n"
        "INFO  jepsen.util - 4\t:ok\t:cas\t[0 3]\n"
        "INFO  jepsen.util - 5\t:invoke\t:read\tnil\n"
        "INFO  jepsen.util - 5\t:ok\t:read\t3"             # no final newline
    ))
    assert read_porcupine_etcd(p) == [
        {"index": 0, "type": "invoke", "process": 3, "f": "read", "value": None},
        {"index": 1, "type": "ok", "process": 3, "f": "read", "value": None},
        {"index": 2, "type": "invoke", "process": 1, "f": "cas", "value": [1, 2]},
        {"index": 3, "type": "fail", "process": 1, "f": "cas", "value": [1, 2]},
        {"index": 4, "type": "invoke", "process": 2, "f": "write", "value": 4},
        {"index": 5, "type": "info", "process": 2, "f": "write", "value": None, "error": "timed-out"},
        {"index": 6, "type": "invoke", "process": 0, "f": "read", "value": None},
        {"index": 7, "type": "fail", "process": 0, "f": "read", "value": None, "error": "timed-out"},
        {"index": 8, "type": "invoke", "process": 4, "f": "cas", "value": [0, 3]},
        {"index": 9, "type": "ok", "process": 4, "f": "cas", "value": [0, 3]},
        {"index": 10, "type": "invoke", "process": 5, "f": "read", "value": None},
        {"index": 11, "type": "ok", "process": 5, "f": "read", "value": 3},
    ]


def test_etcd_open_invokes_complete_as_info_at_the_end(tmp_path):
    p = write(tmp_path, "etcd.log", (
        "INFO  jepsen.util - 1\t:invoke\t:write\t2\n"
        "INFO  jepsen.util - 7\t:invoke\t:read\tnil\n"
        "INFO  jepsen.util - 7\t:ok\t:read\t2\n"
        "INFO  jepsen.util - 8\t:invoke\t:cas\t[2 3]\n"
    ))
    ops = read_porcupine_etcd(p)
    assert ops[4:] == [
        {"index": 4, "type": "info", "process": 1, "f": "write", "value": None, "synthesized": True},
        {"index": 5, "type": "info", "process": 8, "f": "cas", "value": None, "synthesized": True},
    ]
    assert len(pair_ops(ops)) == 3


@pytest.mark.parametrize(
    "line, msg",
    [
        ("INFO  jepsen.util - 1\t:ok\t:read\tfoo",
         '{p}:2: not a Porcupine etcd log line: "INFO  jepsen.util - 1\\t:ok\\t:read\\tfoo"'),
        ("INFO  jepsen.util - 1\t:invoke\t:cas\t7", '{p}:2: :cas needs a value [from to], got "7"'),
        ("INFO  jepsen.util - 1\t:ok\t:write\t[1 2]", '{p}:2: :write needs nil or an integer, got "[1 2]"'),
        ("INFO  jepsen.util - 1\t:ok\t:write\tnil", "{p}:2: :write needs an integer value, got nil"),
        ("INFO  jepsen.util - 1\t:invoke\t:read\t3", "{p}:2: a read's invoke has value nil, got 3"),
        ("INFO  jepsen.util - 1\t:ok\t:write\t:timed-out",
         "{p}:2: :ok :write cannot time out (only :info and :fail do)"),
        ("WARN something else", '{p}:2: not a Porcupine etcd log line: "WARN something else"'),
    ],
)
def test_etcd_bad_lines(tmp_path, line, msg):
    p = write(tmp_path, "etcd.log", "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n" + line + "\n")
    with pytest.raises(InputError) as e:
        read_porcupine_etcd(p)
    assert str(e.value) == msg.format(p=p)


def test_kv_lines(tmp_path):
    p = write(tmp_path, "kv.txt", (
        '{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}\n'
        '{:process 0, :type :ok, :f :append, :key "0", :value "x 0 0 y"}\n'
        '{:process 1, :type :invoke, :f :get, :key "7", :value nil}\n'
        '{:process 2, :type :invoke, :f :put, :key "k", :value "v"}\n'
        '{:process 1, :type :ok, :f :get, :key "7", :value ""}\n'
    ))
    assert read_porcupine_kv(p) == [
        {"index": 0, "type": "invoke", "process": 0, "f": "append", "value": ["0", "x 0 0 y"]},
        {"index": 1, "type": "ok", "process": 0, "f": "append", "value": ["0", "x 0 0 y"]},
        {"index": 2, "type": "invoke", "process": 1, "f": "get", "value": ["7", None]},
        {"index": 3, "type": "invoke", "process": 2, "f": "put", "value": ["k", "v"]},
        {"index": 4, "type": "ok", "process": 1, "f": "get", "value": ["7", ""]},
        {"index": 5, "type": "info", "process": 2, "f": "put", "value": None, "synthesized": True},
    ]


@pytest.mark.parametrize(
    "line, msg",
    [
        ('{:process 0, :type :ok, :f :get, :value ""}', '{p}:2: field "key": missing'),
        ('{:process 0, :type :invoke, :f :cas, :key "7", :value "1"}',
         '{p}:2: field "f": expected one of get, put, append, got "cas"'),
        ('{:process 0, :type :ok, :f :get, :key 7, :value ""}', '{p}:2: field "key": expected a string, got 7'),
        ('{:process 0, :type :ok, :f :get, :key "7", :value 5}',
         '{p}:2: field "value": expected a string or nil, got 5'),
        ('{:process 0, :type :ok, :f :put, :key "7", :value nil}',
         '{p}:2: field "value": :ok :put needs a string, got nil'),
        ('{:process 0, :type :ok, :f :get, :key "7", :value "", :node "n1"}',
         '{p}:2: unexpected key "node" in a Porcupine kv op'),
        ('{:process 0, :type :ok, :f :get, :key "7", :value ""', '{p}:2:1: unexpected end of input: "{{" is not closed'),
        ("[1 2]", '{p}:2: not a Porcupine kv op (expected one map like {{:process 0, :type :invoke, '
                  ':f :get, :key "k", :value nil}})'),
        ('{:process :nemesis, :type :info, :f :get, :key "7", :value nil}',
         '{p}:2: field "process": expected an integer, got "nemesis"'),
    ],
)
def test_kv_bad_lines(tmp_path, line, msg):
    p = write(tmp_path, "kv.txt", '{:process 0, :type :invoke, :f :get, :key "7", :value nil}\n' + line + "\n")
    with pytest.raises(InputError) as e:
        read_porcupine_kv(p)
    assert str(e.value) == msg.format(p=p)


@needs_data
def test_every_etcd_log_parses_and_pairs():
    logs = sorted((PORCUPINE / "jepsen").glob("etcd_*.log"))
    assert len(logs) == 103
    totals = collections.Counter()
    for log in logs:
        ops = read_porcupine_etcd(log)
        # Every invoke in these logs has a completion line: nothing is synthesized.
        assert not any(op.get("synthesized") for op in ops), log
        pairs = pair_ops(ops)
        assert len(pairs) * 2 == len(ops), log
        for inv, comp in pairs:
            if inv["f"] == "read":
                assert inv["value"] is None
            if comp.get("error") == "timed-out":
                assert (comp["type"], comp["value"]) in {("info", None), ("fail", None)}
                assert comp["type"] == ("fail" if inv["f"] == "read" else "info")
            elif comp["type"] != "info" and inv["f"] in ("cas", "write"):
                assert comp["value"] == inv["value"]
        totals.update((op["type"], op["f"]) for op in ops)
    assert read_porcupine_etcd(PORCUPINE / "jepsen" / "etcd_095.log") == []  # etcd failed to start
    assert totals == {
        ("invoke", "read"): 2939, ("ok", "read"): 2922, ("fail", "read"): 17,
        ("invoke", "write"): 2748, ("ok", "write"): 2122, ("info", "write"): 626,
        ("invoke", "cas"): 2836, ("ok", "cas"): 431, ("fail", "cas"): 1748, ("info", "cas"): 657,
    }


@needs_data
def test_etcd_000_start():
    ops = read_porcupine_etcd(PORCUPINE / "jepsen" / "etcd_000.log")
    assert len(ops) == 170
    assert ops[:3] == [
        {"index": 0, "type": "invoke", "process": 0, "f": "read", "value": None},
        {"index": 1, "type": "invoke", "process": 3, "f": "read", "value": None},
        {"index": 2, "type": "invoke", "process": 2, "f": "write", "value": 4},
    ]
    assert ops[18] == {"index": 18, "type": "invoke", "process": 2, "f": "cas", "value": [3, 0]}


@needs_data
def test_space_separated_etcd_logs():
    ops = read_porcupine_etcd(PORCUPINE / "jepsen" / "etcd_100.log")
    assert len(ops) == 154
    assert ops[0] == {"index": 0, "type": "invoke", "process": 1, "f": "write", "value": 3}


@needs_data
@pytest.mark.parametrize("name, n_ops, n_keys", [
    ("c01-bad", 76, 8), ("c01-ok", 116, 10), ("c10-bad", 810, 10),
    ("c10-ok", 674, 10), ("c50-bad", 4048, 10), ("c50-ok", 3424, 10),
])
def test_every_kv_log_parses(name, n_ops, n_keys):
    ops = read_porcupine_kv(PORCUPINE / "kv" / f"{name}.txt")
    assert len(ops) == n_ops
    assert {op["value"][0] for op in ops} == {str(k) for k in range(n_keys)}
    pairs = pair_ops(ops)
    assert len(pairs) * 2 == n_ops
    for inv, comp in pairs:
        assert inv["value"][0] == comp["value"][0]  # same key
        if inv["f"] == "get":
            assert inv["value"][1] is None and isinstance(comp["value"][1], str)
        else:
            assert inv["value"] == comp["value"]
