"""``splitbrain check --checker set|counter|unique-ids|bank|queue``: a workload's checker on a
history file, with exit codes 0/1 and bad ``--initial`` as one line and exit 254."""

import json
import subprocess
import sys

import pytest

from harness.errors import InputError
from harness.history_check import CheckRequest, check_file


def write(tmp_path, ops, name="h.jsonl"):
    path = tmp_path / name
    lines = []
    for i, (p, typ, f, v) in enumerate(ops):
        lines.append(json.dumps({"index": i, "time": i * 1000, "type": typ, "process": p, "f": f, "value": v}))
    path.write_text("\n".join(lines) + "\n")
    return str(path)


LOST_ITEM = [(0, "invoke", "enqueue", 1), (0, "ok", "enqueue", 1),
             (1, "invoke", "dequeue", None), (1, "ok", "dequeue", None)]
BANK_READ = [(0, "invoke", "read", None), (0, "ok", "read", {"0": 5, "1": 4})]


def test_queue_checker_on_a_file(tmp_path):
    result, _ = check_file(write(tmp_path, LOST_ITEM), None, CheckRequest(checker="queue"))
    assert result["valid"] is False and result["lost"] == [1]


@pytest.mark.parametrize("initial, valid", [({"0": 5, "1": 4}, True), ({"0": 5, "1": 5}, False)])
def test_bank_checker_takes_the_initial_balances(tmp_path, initial, valid):
    result, _ = check_file(write(tmp_path, BANK_READ), None, CheckRequest(checker="bank", initial=initial))
    assert result["valid"] is valid


@pytest.mark.parametrize("checker, initial, message", [
    ("bank", None, "the bank checker needs the initial balances"),
    ("bank", {"0": 1}, "at least 2 accounts"),
    ("set", 0, "the set checker takes no initial value"),
])
def test_bad_initial(tmp_path, checker, initial, message):
    with pytest.raises(InputError, match=message):
        check_file(write(tmp_path, BANK_READ), None, CheckRequest(checker=checker, initial=initial))


def test_cli_exit_codes(tmp_path):
    bad = write(tmp_path, LOST_ITEM, "bad.jsonl")
    ok = write(tmp_path, [(0, "invoke", "generate", None), (0, "ok", "generate", 1),
                          (1, "invoke", "generate", None), (1, "ok", "generate", 2)], "ok.jsonl")
    run = lambda *a: subprocess.run([sys.executable, "-m", "harness.cli", "check", *a],
                                    capture_output=True, text=True, timeout=120)
    p = run(bad, "--checker", "queue")
    assert p.returncode == 1 and p.stdout.startswith(f"{bad}\tinvalid\t")
    p = run(ok, "--checker", "unique-ids")
    assert p.returncode == 0 and p.stdout.startswith(f"{ok}\tvalid\t")
    p = run(ok, "--checker", "bank")
    assert p.returncode == 254 and len(p.stderr.strip().splitlines()) == 1
    assert "Traceback" not in p.stderr and "--initial: the bank checker needs" in p.stderr
