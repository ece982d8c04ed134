"""EDN export: what we write, our EDN reader (and so knossos / elle-cli) reads back unchanged."""

from harness.cli import main
from harness.history.edn import read_edn_history
from harness.history.edn_writer import dumps, op_to_edn, write_edn_history
from harness.history.jsonl import read_jsonl
from harness.report.synthetic import synthetic_history, write_synthetic_run


def test_round_trip_of_a_register_history_with_nemesis_ops(tmp_path):
    h = synthetic_history(300, seed=6)
    write_edn_history(tmp_path / "h.edn", h)
    assert read_edn_history(tmp_path / "h.edn") == h


def test_keywords_where_jepsen_has_them():
    line = op_to_edn({"index": 3, "time": 9, "type": "info", "process": "nemesis",
                      "f": "start-partition", "value": {"n1": ["n2"]}, "error": "timeout"})
    assert line == ('{:index 3, :time 9, :type :info, :process :nemesis, :f :start-partition, '
                    ':value {"n1" ["n2"]}, :error :timeout}')
    txn = op_to_edn({"type": "ok", "process": 0, "f": "txn",
                     "value": [["append", "x", 3], ["r", "y", [1, 2]]]})
    assert txn.endswith(':value [[:append "x" 3] [:r "y" [1 2]]]}')


def test_scalars_and_strings_that_need_escaping():
    assert dumps([None, True, 1.5, "a\"b\n"]) == '[nil true 1.5 "a\\"b\\n"]'
    assert op_to_edn({"type": "fail", "error": "cas: compare failed"}).endswith(
        ':error "cas: compare failed"}')


def test_export_command_writes_a_run_as_edn(tmp_path, capsys):
    run = write_synthetic_run(tmp_path / "store", n_ops=50, seed=1, reports=False, check=False)
    assert main(["export", str(run.path), "-o", str(tmp_path / "out.edn")]) == 0
    assert read_edn_history(tmp_path / "out.edn") == read_jsonl(run.history)
    assert main(["export", str(tmp_path / "nope.jsonl")]) == 254
