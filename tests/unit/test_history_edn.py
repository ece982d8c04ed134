"""The EDN reader and EDN histories."""

import math

import pytest

from harness.errors import InputError
from harness.history import parse_edn, parse_edn_forms, read_edn_history
from harness.history.edn import MAX_DEPTH


@pytest.mark.parametrize(
    "text, value",
    [
        ("nil", None),
        ("true", True),
        ("false", False),
        ("42", 42),
        ("-7", -7),
        ("+3", 3),
        ("42N", 42),
        ("0x1F", 31),
        ("1.5", 1.5),
        ("-1e3", -1000.0),
        ("1.5M", 1.5),
        ("1/4", 0.25),
        ('"a\\tb\\"c\\\\d\\ne\\u0041"', 'a\tb"c\\d\neA'),
        ('"multi\nline"', "multi\nline"),
        ("\\a", "a"),
        ("\\newline", "\n"),
        ("\\u0042", "B"),
        (":read", "read"),
        (":jepsen.history/op", "jepsen.history/op"),
        (":can't-join", "can't-join"),
        ("some.sym$x", "some.sym$x"),
        ("[1 [2 3] ()]", [1, [2, 3], []]),
        ("(1, 2, 3)", [1, 2, 3]),
        ("#{3 1 2}", [3, 1, 2]),
        ("{:a 1, :b [:c nil]}", {"a": 1, "b": ["c", None]}),
        ("{0 10, 1 10}", {0: 10, 1: 10}),
        ("{[1 2] :x, #{3} :y, {:k 1} :z}", {(1, 2): "x", (3,): "y", frozenset({("k", 1)}): "z"}),
        ("#inst \"2020-01-01T00:00:00Z\"", "2020-01-01T00:00:00Z"),
        ("#jepsen.history.Op{:type :ok, :f :read}", {"type": "ok", "f": "read"}),
        ("#object[clojure.core$future 0x4bd07fe5 {:status :pending}]",
         ["clojure.core$future", 0x4BD07FE5, {"status": "pending"}]),
        ("[1 #_ 2 3 #_ #_ 4 5 6]", [1, 3, 6]),
        ("[1 #_ [2 [3]] 4]", [1, 4]),
        ("; comment\n[1 ; inner comment\n 2] ; trailing", [1, 2]),
        ("[##-Inf]", [-math.inf]),
    ],
)
def test_parse_values(text, value):
    assert parse_edn(text) == value


def test_nan_and_inf():
    v = parse_edn("[##NaN ##Inf]")
    assert math.isnan(v[0]) and v[1] == math.inf


def test_parse_forms_reports_lines():
    text = '; header\n{:a 1}\n\n  {:b\n "x\ny" :c 2}\n[1\n 2]\n#tag\n{:d 4}'
    forms = parse_edn_forms(text, "f.edn", child_lines=True)
    assert [(v, line) for v, line, _ in forms] == [
        ({"a": 1}, 2), ({"b": "x\ny", "c": 2}, 4), ([1, 2], 7), ({"d": 4}, 9)]
    assert forms[2][2] == [7, 8]
    assert parse_edn_forms("1 2", "x") == [(1, 1), (2, 1)]


def test_deep_nesting_is_iterative():
    depth = MAX_DEPTH - 1
    v = parse_edn("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        v = v[0]
    assert v == []
    with pytest.raises(InputError) as e:
        parse_edn("[" * (MAX_DEPTH + 5), "deep.edn")
    assert str(e.value) == f"deep.edn:1:{MAX_DEPTH + 1}: nested too deeply"


@pytest.mark.parametrize(
    "text, msg",
    [
        ("[1 2", 'f.edn:1:1: unexpected end of input: "[" is not closed'),
        ("{:a}", "f.edn:1:1: map has an odd number of forms (1)"),
        ("{:a 1\n :a 2}", 'f.edn:1:1: map has duplicate key "a"'),
        ("[1\n (2]", 'f.edn:2:4: unexpected "]": "(" opened at line 2 is not closed'),
        ('[1 "abc', "f.edn:1:4: unterminated string"),
        ("[1 2]\n 3)", 'f.edn:2:3: unexpected ")"'),
        (":", 'f.edn:1:1: invalid keyword ":"'),
        ("[1 2x]", 'f.edn:1:4: invalid number "2x"'),
        ("#", 'f.edn:1:1: unexpected "#"'),
        ("[#_]", 'f.edn:1:4: unexpected "]": #_ needs a form after it'),
        ("#foo", "f.edn:1:1: unexpected end of input: #foo needs a form after it"),
        ('"a\\qb"', "f.edn:1:3: unsupported escape \\q in string"),
        ("@x", 'f.edn:1:1: unexpected character "@"'),
        ("\n\n  ##Foo", 'f.edn:3:3: unknown symbolic value "##Foo"'),
        ("1 2", "f.edn:1: expected one EDN form, found 2"),
        ("; nothing", "f.edn: no EDN form found"),
    ],
)
def test_parse_errors(text, msg):
    with pytest.raises(InputError) as e:
        parse_edn(text, "f.edn")
    assert str(e.value) == msg


def test_read_edn_history_vector(tmp_path):
    path = tmp_path / "h.edn"
    path.write_text(
        "; a history\n"
        "[{:process 0, :type :invoke, :f :read, :value nil}\n"
        " {:process 0, :type :ok, :f :read, :value 3, :time 17}\n"
        " {:process :nemesis, :type :info, :f :start, :value \"Cut off [:n1 #{:n2}]\"}\n"
        " {:process 1, :type :fail, :f :cas, :value [1 2], :error :timed-out}\n"
        " #jepsen.history.Op{:index 9, :process 2, :type :invoke, :f :write, :value 4}]\n"
    )
    assert read_edn_history(path) == [
        {"index": 0, "process": 0, "type": "invoke", "f": "read", "value": None},
        {"index": 1, "process": 0, "type": "ok", "f": "read", "value": 3, "time": 17},
        {"index": 2, "process": "nemesis", "type": "info", "f": "start", "value": "Cut off [:n1 #{:n2}]"},
        {"index": 3, "process": 1, "type": "fail", "f": "cas", "value": [1, 2], "error": "timed-out"},
        {"index": 9, "process": 2, "type": "invoke", "f": "write", "value": 4},
    ]


def test_read_edn_history_one_map_per_line(tmp_path):
    path = tmp_path / "h.edn"
    path.write_text(
        "{:index 10, :type :invoke, :process 2, :f :txn, :value [[:append 9 2] [:r 9 nil]]}\n"
        "; comment between ops\n"
        "{:index 11, :type :ok, :process 2, :f :txn, :value [[:append 9 2] [:r 9 [1 2]]]}\n"
        "{:type :ok, :value #{1 2}}\n"
    )
    assert read_edn_history(path) == [
        {"index": 10, "type": "invoke", "process": 2, "f": "txn", "value": [["append", 9, 2], ["r", 9, None]]},
        {"index": 11, "type": "ok", "process": 2, "f": "txn", "value": [["append", 9, 2], ["r", 9, [1, 2]]]},
        {"index": 2, "type": "ok", "value": [1, 2]},  # no process or f: allowed for Elle's examples
    ]


def test_read_edn_history_empty_file(tmp_path):
    path = tmp_path / "h.edn"
    path.write_text("; nothing here\n")
    assert read_edn_history(path) == []
    path.write_text("[]")
    assert read_edn_history(path) == []


@pytest.mark.parametrize(
    "text, msg",
    [
        ("[{:type :invoke, :process 1, :f :read}\n {:type :ok :process 1 :f :read :value [1 2}]\n",
         '{p}:2:44: unexpected "}}": "[" opened at line 2 is not closed'),
        ('{:type :invoke, :process 1, :f :read}\n{:type :ok, :process 1, :f :read, :value "abc}\n',
         "{p}:2:42: unterminated string"),
        ("{:type :invoke, :process true, :f :read}\n",
         '{p}:1: field "process": expected an integer or "nemesis", got true'),
        ("[{:type :invoke :process 1 :f :read}\n 42]\n", "{p}:2: expected an operation map, got 42"),
        ("[{:type :invoke :process 1 :f :read}] [{:type :ok}]", "{p}:1: expected an operation map, got a vector"),
        ("{:type :invoke}\n{:process 1, :f :read}\n", '{p}:2: field "type": missing'),
        ("{:type :ok, 3 4}\n", "{p}:1: operation key 3 is not a keyword"),
        ("{:type :invoke, :process 1, :f :read, :time 1.5}\n", '{p}:1: field "time": expected an integer, got 1.5'),
    ],
)
def test_read_edn_history_errors(tmp_path, text, msg):
    path = tmp_path / "h.edn"
    path.write_text(text)
    with pytest.raises(InputError) as e:
        read_edn_history(path)
    assert str(e.value) == msg.format(p=path)
