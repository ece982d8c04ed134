"""The native core and the pure-Python search give the same verdicts (and report the same failed
op) on every Porcupine etcd log and every Knossos cas-register history."""

import re
from pathlib import Path

import pytest

from checkers.linearizable import check_history, make_model
from checkers.linearizable.native import AVAILABLE
from harness.history.formats import read_history

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="native core not built (no C compiler?)")


def _files():
    out = []
    etcd = SHARED / "porcupine" / "jepsen"
    out += [pytest.param(str(p), "porcupine-etcd", None, id=p.name) for p in sorted(etcd.glob("etcd_*.log"))]
    kn = SHARED / "knossos" / "cas-register"
    out += [pytest.param(str(p), "edn", 0, id=f"{p.parent.name}/{p.name}") for p in sorted(kn.rglob("*.edn"))]
    return out


@pytest.mark.parametrize("path,fmt,initial", _files())
def test_native_and_pure_agree(path, fmt, initial):
    history = read_history(path, fmt)
    model = make_model("cas-register", initial)
    fast = check_history(history, model, timeout_s=60, native=True)
    slow = check_history(history, model, timeout_s=60, native=False)
    assert fast["native"] is True and slow["native"] is False
    assert fast["valid"] is slow["valid"]
    if fast["valid"] is False:
        assert fast["failed_op"] == slow["failed_op"]
        assert sorted(map(repr, fast["states"])) == sorted(map(repr, slow["states"]))
        assert fast["final_paths"] and slow["final_paths"]


KV = sorted((SHARED / "porcupine" / "kv").glob("c[01]*.txt")) + [SHARED / "porcupine" / "kv" / "c50-bad.txt"]


@pytest.mark.parametrize("path", [pytest.param(p, id=p.name) for p in KV])
def test_native_callback_and_pure_agree_on_kv(path):
    """kv has no integer encoding: the core asks the model through a cached callback."""
    history = read_history(str(path), "porcupine-kv")
    fast = check_history(history, make_model("kv"), timeout_s=60, native=True)
    slow = check_history(history, make_model("kv"), timeout_s=60, native=False)
    # (with several invalid keys, the time slices may let either path find a different key first)
    assert fast["valid"] is slow["valid"]
