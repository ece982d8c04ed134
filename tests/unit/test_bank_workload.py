"""Bank workload and checker: op shapes, options, and a hand-made invalid history for each anomaly
kind the checker reports (wrong-total, nil-balance, unexpected-key, negative-value)."""

import random

import pytest

from checkers.bank import BankChecker
from harness.errors import InputError
from workloads import make_workload


def h(*ops):
    out = []
    for i, (t, typ, p, f, v) in enumerate(ops):
        out.append({"index": i, "time": t, "type": typ, "process": p, "f": f, "value": v})
    return out


def read(t, p, balances):
    return [(t, "invoke", p, "read", None), (t + 5, "ok", p, "read", balances)]


def transfer(t, p, a, b, n, typ="ok"):
    v = {"from": a, "to": b, "amount": n}
    return [(t, "invoke", p, "transfer", v), (t + 5, typ, p, "transfer", v)]


CHECKER = BankChecker([0, 1, 2], 30)


def test_conserved_totals_are_valid():
    r = CHECKER.check({}, h(*read(0, 0, {"0": 10, "1": 10, "2": 10}),
                            *transfer(10, 1, 0, 2, 4),
                            *read(20, 0, {"0": 6, "1": 10, "2": 14})))
    assert r["valid"] is True and r["read-count"] == 2 and r["transfers"]["ok"] == 1
    assert r["explanation"] == ["every read of the 3 accounts summed to 30"]


def test_wrong_total_is_invalid_and_explained():
    r = CHECKER.check({}, h(*transfer(0, 1, 0, 2, 4, typ="info"),
                            *read(10, 0, {"0": 6, "1": 10, "2": 10})))
    assert r["valid"] is False and r["error-kinds"] == {"wrong-total": 1}
    e = r["errors"][0]
    assert e["type"] == "wrong-total" and e["op"] == 3
    assert "sum to 26" in e["explanation"] and "initial total 30" in e["explanation"]
    assert e["explanation"].startswith("read op #3 (process 0) saw")


def test_missing_or_null_balance_is_nil_balance():
    r = CHECKER.check({}, h(*read(0, 0, {"0": 15, "1": 15}), *read(10, 1, {"0": 15, "1": 15, "2": None})))
    assert r["valid"] is False and r["error-kinds"] == {"nil-balance": 2}
    assert all("accounts 2 have no balance" in e["explanation"] for e in r["errors"])


def test_unknown_account_is_unexpected_key():
    r = CHECKER.check({}, h(*read(0, 0, {"0": 10, "1": 10, "2": 10, "7": 0})))
    assert r["valid"] is False and r["error-kinds"] == {"unexpected-key": 1}
    assert "accounts 7 do not exist" in r["explanation"][0]


def test_negative_balance_is_invalid_unless_allowed():
    hist = h(*read(0, 0, {"0": -2, "1": 12, "2": 20}))
    r = CHECKER.check({}, hist)
    assert r["valid"] is False and r["error-kinds"] == {"negative-value": 1}
    assert "negative balances 0=-2" in r["explanation"][0]
    assert BankChecker([0, 1, 2], 30, negative_balances=True).check({}, hist)["valid"] is True


def test_failed_and_info_reads_constrain_nothing():
    r = CHECKER.check({}, h((0, "invoke", 0, "read", None), (5, "fail", 0, "read", None),
                            (6, "invoke", 1, "read", None), (9, "info", 1, "read", None)))
    assert r["valid"] is True and r["read-count"] == 0


def test_plot_is_written_into_the_report_dir(tmp_path):
    hist = h(*read(0, 0, {"0": 10, "1": 10, "2": 10}), *read(10, 0, {"0": 1, "1": 10, "2": 10}))
    r = CHECKER.check({}, hist, {"report_dir": str(tmp_path)})
    assert r["valid"] is False
    png = tmp_path / "bank.png"
    assert r["plot"] == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_generator_ops_and_determinism():
    w = make_workload("bank", {"accounts": 4, "max_transfer": 3})
    ops = w.generator(random.Random(7)).take(200)
    assert ops == w.generator(random.Random(7)).take(200)
    ts = [o["value"] for o in ops if o["f"] == "transfer"]
    reads = [o for o in ops if o["f"] == "read"]
    assert ts and reads and all(o["value"] is None for o in reads)
    assert all(t["from"] != t["to"] and {t["from"], t["to"]} <= {0, 1, 2, 3}
               and 1 <= t["amount"] <= 3 for t in ts)
    assert w.options["accounts"] == [0, 1, 2, 3]
    assert w.checker().total == 100


@pytest.mark.parametrize("options, needle", [
    ({"accounts": 1}, "at least 2"), ({"accounts": [1, 1]}, "distinct"), ({"total": -1}, "total"),
    ({"max_transfer": 0}, "max_transfer"), ({"negative_balances": "yes"}, "negative_balances"),
    ({"bogus": 1}, "unknown option 'bogus'"),
])
def test_bad_options(options, needle):
    with pytest.raises(InputError, match=needle):
        make_workload("bank", options)
