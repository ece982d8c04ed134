"""The Elle checkers' C core (``checkers/elle/_elle.c``) gives exactly what the pure-Python code
gives: the same transactions, the same edges in the same order, the same anomaly cases and
verdicts, on the shared Elle histories and on generated ones full of anomalies and oddities."""

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from checkers.elle import ElleListAppendChecker, ElleRwRegisterChecker, native
from checkers.elle import list_append as la
from checkers.elle.graph import WW, Graph, _trim, add_realtime_edges, sccs
from checkers.elle.history import transactions
from harness.errors import InputError
from harness.history.formats import read_history

needs_c = pytest.mark.skipif(not native.AVAILABLE,
                             reason="needs the _elle extension (pip install -e . with gcc)")

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "elle"
MODELS = (["strict-serializable"], ["serializable"], ["snapshot-isolation"], ["read-committed"])


def _both(fn):
    """fn() with the C core, then with pure Python."""
    got_c = fn()
    with native.python_only():
        got_py = fn()
    return got_c, got_py


def _txn_rows(txns):
    return [(t.id, t.index, t.type, t.process, t.mops, t.invoke_pos, t.complete_pos)
            for t in txns]


def _graph_rows(history):
    """Transactions, the dependency graph with realtime edges (each vertex's edges in insertion
    order), the inference passes and the trimmed vertex set."""
    txns = transactions(history, la.KINDS)
    writers: dict = {}
    dup = la.unique_append_errors(txns, writers)
    possible = [t for t in txns if t.type in ("ok", "info")]
    svs = la.sorted_values(possible)
    orders = la.version_orders(svs)
    multi = la.repeated_key_txns(txns)
    own = la.self_cases(txns, multi)
    g, an = la.dependency_graph(txns, possible, orders)
    add_realtime_edges(g, txns)
    return {"txns": _txn_rows(txns), "dup": dup, "writers": list(writers.items()),
            "svs": list(svs.items()), "orders": [(k, vs, list(ix.items()))
                                                 for k, (vs, ix) in orders.items()],
            "dup_at": list(la._first_duplicate_at(svs).items()),
            "incompatible": la.incompatible_orders(svs),
            "multi": [t.id for t in multi], "own": own, "reads": list(an.reads.items()),
            "edges": [list(d.items()) for d in g.out], "trim": _trim(g), "sccs": sccs(g)}


def _check(cls, history, opts):
    try:
        r = cls(opts).check(None, history, {})
    except InputError as e:
        return ("InputError", str(e))
    # Order-sensitive: every list, and the order of each dict's keys.
    return json.dumps(r, default=repr)


def _shared_histories():
    if not DATA.exists():
        return []
    out = []
    for p in sorted(DATA.rglob("*")):
        if p.suffix in (".edn", ".json", ".jsonl") and p.name != "INDEX.json":
            out.append(pytest.param(p, id=str(p.relative_to(DATA))))
    return out


@needs_c
@pytest.mark.parametrize("path", _shared_histories())
def test_shared_histories_same_in_c_and_python(path):
    try:
        history = read_history(path)
    except (InputError, ValueError) as e:
        pytest.skip(f"not a history we read: {e}")
    if not isinstance(history, list) or not history:
        pytest.skip("empty history")
    # The huge SCC's cycle search runs out of time, so its cycles depend on the clock: compare
    # everything up to the search there, and whole results elsewhere.
    if path.name != "huge-scc.edn":
        for models in MODELS:
            for cls in (ElleListAppendChecker, ElleRwRegisterChecker):
                opts = {"consistency_models": models, "cycle_search_timeout": 60}
                c, py = _both(lambda: _check(cls, history, opts))
                assert c == py, (cls.__name__, models)
    try:
        c, py = _both(lambda: _graph_rows(history))
    except InputError:
        return  # not a list-append history (both paths said so in the checks above)
    assert c == py


def _random_history(rng, n_txns):
    """A list-append history from a store that misbehaves: lost, duplicated, reordered and
    garbage elements, failed and indeterminate txns, txns touching a key twice, completions
    with no invoke, two invokes in flight on one process, nemesis ops and malformed micro-ops."""
    keys = rng.choice([[0, 1, 2], ["x", "y"], list(range(8)), [1.5, "k", True]])
    procs = rng.randrange(1, 8)
    db: dict = {}
    pending: dict = {}
    history = []
    nxt = 0

    def emit(**op):
        op.setdefault("f", "txn")
        op["index"] = len(history)
        history.append(op)

    started = 0
    while started < n_txns or pending:
        p = rng.randrange(procs)
        if rng.random() < 0.03:
            emit(type="info", process="nemesis", f="start-partition", value=None)
        if p in pending and (started >= n_txns or rng.random() < 0.6):
            mops = pending[p].pop(rng.randrange(len(pending[p])))
            if not pending[p]:
                del pending[p]
            kind = rng.choices(["ok", "fail", "info"], [0.8, 0.1, 0.1])[0]
            done = []
            for f, k, v in mops:
                if f == "append":
                    # Mostly: ok and info appends take effect, failed ones do not.
                    if (kind != "fail") == (rng.random() < 0.97):
                        db.setdefault(k, []).append(v)
                    done.append([f, k, v])
                else:
                    r = list(db.get(k, []))
                    later = [m[2] for m in mops if m[0] == "append" and m[1] == k]
                    if later and rng.random() < 0.1:
                        r.append(later[-1])  # its own future append
                    x = rng.random()
                    if r and x < 0.03:
                        r.pop(rng.randrange(len(r)))
                    elif r and x < 0.06:
                        r.append(r[rng.randrange(len(r))])
                    elif len(r) > 1 and x < 0.09:
                        i = rng.randrange(len(r) - 1)
                        r[i], r[i + 1] = r[i + 1], r[i]
                    elif x < 0.11:
                        r.append(10_000 + rng.randrange(5))
                    done.append([f, k, r if (r or rng.random() < 0.7) else None])
            emit(type=kind, process=p, value=done if kind == "ok" or rng.random() < 0.8
                 else [list(m) for m in mops])
            continue
        if started >= n_txns:
            continue
        mops = []
        for _ in range(rng.randrange(1, 6) if rng.random() < 0.95 else 40):  # C: > 32 slots
            k = rng.choice(keys)
            if rng.random() < 0.5:
                mops.append(["r", k, None])
            else:
                nxt += 1
                mops.append(["append", k, nxt if rng.random() < 0.995 else nxt - 1])
        started += 1
        if rng.random() < 0.02:  # a completion with no invoke
            emit(type="ok", process=p, value=[[f, k, v if f == "append" else []]
                                              for f, k, v in mops])
            continue
        if p in pending and rng.random() < 0.98:
            continue
        pending.setdefault(p, []).append(mops)  # sometimes a second invoke in flight on p
        emit(type="invoke", process=p, value=[list(m) for m in mops])
    if rng.random() < 0.2:  # a malformed micro-op somewhere (the slow path, or an InputError)
        op = rng.choice([o for o in history if isinstance(o.get("value"), list)] or [None])
        if op is not None and op["value"]:
            op["value"][0] = rng.choice([["r", "x"], ["r", [1, 2], None], ["append", "x", [3]],
                                         ["r", "x", [[1], 2]], ("append", "x", 4)])
    return history


@needs_c
def test_generated_histories_same_in_c_and_python():
    rng = random.Random(7)
    invalid = 0
    for i in range(150):
        history = _random_history(rng, rng.randrange(1, 120))
        for models in MODELS[:2]:
            opts = {"consistency_models": models, "cycle_search_timeout": 60}
            c, py = _both(lambda: _check(ElleListAppendChecker, history, opts))
            assert c == py, i
            invalid += '"valid": false' in c
        try:
            c, py = _both(lambda: _graph_rows(history))
        except InputError:
            continue
        assert c == py, i
    assert invalid > 50  # the generator does make anomalies


@needs_c
def test_trim_same_in_c_and_python():
    rng = random.Random(3)
    for _ in range(300):
        n = rng.randrange(0, 40)
        g = Graph(n)
        for _ in range(rng.randrange(0, 3 * n + 1)):
            g.link(rng.randrange(n), rng.randrange(n), WW)
        c, py = _both(lambda: _trim(g))
        assert c == py


@needs_c
def test_python_only_switches_the_core_off_and_back():
    assert native.core is not None
    with native.python_only():
        assert native.core is None
    assert native.core is not None


def test_without_the_extension_the_checker_runs_in_python():
    """As when no compiler was there at install time: importing ``_elle`` fails, the checker
    says so through ``native.AVAILABLE`` and gives the same result in pure Python."""
    rng = random.Random(11)
    history = json.loads(json.dumps(_random_history(rng, 60)))  # as the subprocess reads it
    prog = (
        "import json, sys\n"
        "sys.modules['checkers.elle._elle'] = None  # import fails, like a missing build\n"
        "from checkers.elle import ElleListAppendChecker, native\n"
        "h = json.loads(sys.stdin.read())\n"
        "r = ElleListAppendChecker({'cycle_search_timeout': 60}).check(None, h, {})\n"
        "print(json.dumps([native.AVAILABLE, native.core is None, r], default=repr))\n")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", prog], input=json.dumps(history), text=True,
                          capture_output=True, cwd=root, timeout=60)
    assert proc.returncode == 0, proc.stderr
    available, no_core, got = json.loads(proc.stdout)
    assert available is False and no_core is True
    want = json.loads(_check(ElleListAppendChecker, history, {"cycle_search_timeout": 60}))
    assert got == want
    assert want["valid"] is False  # a history with anomalies to find


@needs_c
def test_realtime_edges_of_odd_txns_same_in_c_and_python():
    """Txns built by hand, with ids that are not 0..n-1 or positions that are not ints: the C
    core hands them to the Python code, so the edges are the same."""
    from checkers.elle.history import Txn

    def edges(txns, n):
        g = Graph(n)
        add_realtime_edges(g, txns)
        return [list(d.items()) for d in g.out]

    def outcome(txns):
        try:
            return edges(txns, 6)
        except TypeError as e:  # float positions: the Python code cannot sort them either
            return ("TypeError", str(e))

    rng = random.Random(5)
    for ids, pos in [(range(6), float), ([0, 2, 2, 3, 4, 5], int), ([5, 4, 3, 2, 1, 0], int),
                     (range(6), int)]:
        txns = []
        for i, tid in enumerate(ids):
            a = rng.randrange(20)
            txns.append(Txn(tid, i, "ok", i % 2, [], pos(a), pos(a + rng.randrange(1, 5)), None))
        c, py = _both(lambda: outcome(txns))
        assert c == py
        assert pos is float or any(c)
