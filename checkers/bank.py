"""Bank checker, after Jepsen's bank checker: every ``ok`` read of all accounts must show

- ``wrong-total``: the balances sum to the initial total (transfers conserve money);
- ``nil-balance``: every account has a balance (none missing, none ``null``);
- ``unexpected-key``: no account that the test does not have;
- ``negative-value``: no negative balance, unless ``negative_balances`` is allowed.

Any of them makes the history invalid; each error names the read op and what it saw. Reads are
the only observations: transfers are counted (ok / fail / info) but need no check of their own,
since a lost or doubled transfer shows up as a wrong total in a later read.

With ``opts["report_dir"]``, ``bank.png`` (:mod:`checkers.bank_plot`) draws each read's total
over time against the expected total, with the nemesis periods shaded.
"""

from __future__ import annotations

import os

from harness.history.pairing import pair_ops

ERROR_KINDS = ("wrong-total", "nil-balance", "unexpected-key", "negative-value")


class BankChecker:
    """``check(test, history, opts)`` for the bank workload (see the module docstring)."""

    def __init__(self, accounts, total: int, negative_balances: bool = False, max_listed: int = 20):
        self.accounts = [str(a) for a in accounts]
        self.total = total
        self.negative_balances = negative_balances
        self.max_listed = max_listed

    def read_errors(self, value) -> list[tuple[str, str]]:
        """``[(kind, what)]`` wrong with one read's value (a pure function of the value)."""
        if not isinstance(value, dict):
            return [("nil-balance", f"it read {value!r}, not a map of account -> balance")]
        bal = {str(k): v for k, v in value.items()}
        out = []
        extra = sorted(k for k in bal if k not in self.accounts)
        if extra:
            out.append(("unexpected-key", f"accounts {', '.join(extra)} do not exist"))
        nil = [a for a in self.accounts if bal.get(a) is None]
        if nil:
            out.append(("nil-balance", f"accounts {', '.join(nil)} have no balance"))
        nums = {k: v for k, v in bal.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        bad = [k for k, v in bal.items() if v is not None and k not in nums]
        if bad:
            out.append(("nil-balance", f"accounts {', '.join(bad)} have a non-numeric balance"))
        if not nil and not bad:
            t = sum(nums.values())
            if t != self.total:
                out.append(("wrong-total", f"the balances sum to {t}, but transfers conserve the "
                                           f"initial total {self.total}"))
        if not self.negative_balances:
            neg = [f"{k}={v}" for k, v in nums.items() if v < 0]
            if neg:
                out.append(("negative-value", f"negative balances {', '.join(neg)}, but transfers "
                                              f"that would overdraw must fail"))
        return out

    def check(self, test, history, opts=None) -> dict:
        reads = []       # (completion time ns, total or None, ok?)
        errors = []
        transfers = {"ok": 0, "fail": 0, "info": 0}
        n_reads = 0
        for inv, comp in pair_ops(history, open_as_info=True):
            f = inv.get("f")
            if f == "transfer":
                transfers[comp["type"]] = transfers.get(comp["type"], 0) + 1
            elif f == "read" and comp["type"] == "ok":
                n_reads += 1
                value = comp.get("value")
                errs = self.read_errors(value)
                total = None
                if isinstance(value, dict):
                    vs = [v for v in value.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
                    total = sum(vs) if vs else None
                reads.append((comp.get("time", 0), total, not errs))
                for kind, what in errs:
                    errors.append({"type": kind, "op": comp.get("index"), "value": value,
                                   "explanation": f"read op #{comp.get('index')} (process "
                                                  f"{comp.get('process')}) saw {value!r}: {what}"})
        by_kind = {k: sum(1 for e in errors if e["type"] == k) for k in ERROR_KINDS}
        out = {
            "valid": not errors,
            "read-count": n_reads,
            "error-count": len(errors),
            "error-kinds": {k: n for k, n in by_kind.items() if n},
            "first-error": errors[0] if errors else None,
            "errors": errors[: self.max_listed],
            "transfers": transfers,
            "total": self.total,
            "explanation": [e["explanation"] for e in errors[: self.max_listed]]
            or [f"every read of the {len(self.accounts)} accounts summed to {self.total}"],
        }
        report_dir = (opts or {}).get("report_dir")
        if report_dir and reads:
            try:
                from checkers.bank_plot import write_bank_plot
                path = os.path.join(report_dir, "bank.png")
                write_bank_plot(path, reads, self.total, history)
                out["plot"] = path
            except Exception as e:  # noqa: BLE001 - a plot must not hide the verdict
                out["plot-error"] = f"{type(e).__name__}: {e}"
        return out
