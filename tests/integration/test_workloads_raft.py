"""Every workload against the reference Raft store.

- On 3 real raft nodes on loopback (no root): the raft client's ops for each workload do what
  their op shapes promise (bank setup and transfers, FIFO dequeues, unique ids, list reads...).
- ``splitbrain test --db raft --workload W --nemesis partition --time-limit 12`` on 3
  network-namespace nodes (root; 25-60 s each, depending on the machine's load) is valid, with
  a fair number of ok ops of every kind (not a vacuous pass). docs/workloads.md has 30-s runs on
  5 nodes.
"""

import json
import os
import subprocess
import sys
from collections import Counter
from types import SimpleNamespace

import pytest

from harness.targets.raft import RaftClient
from tests.integration.loopback_cluster import raft_cluster
from workloads import make_workload

CLI = [sys.executable, "-m", "harness.cli"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = raft_cluster(tmp_path_factory.mktemp("raft"))
    for i in c.ids:
        c.start(i)
    c.wait_leader()
    yield c
    c.stop()


def client(cluster, workload, options=None, node="n2"):
    w = make_workload(workload, options)
    c = RaftClient("127.0.0.1", cluster.http[node], op_timeout_s=3.0, node_name=node,
                   workload=w.name, workload_options=w.options)
    return c


def run(c, f, value=None):
    return c.invoke({"f": f, "value": value, "type": "invoke", "process": 0})


def test_set_counter_and_unique_ids_ops(cluster):
    s = client(cluster, "set")
    assert [run(s, "add", e)["type"] for e in (3, 1, 2)] == ["ok"] * 3
    assert run(s, "read") == {"f": "read", "value": [1, 2, 3], "type": "ok", "process": 0}
    c = client(cluster, "counter", node="n3")
    assert run(c, "read")["value"] == 0
    assert run(c, "add", 5)["type"] == "ok" and run(c, "add", -2)["type"] == "ok"
    assert run(c, "read")["value"] == 3
    u1, u2 = client(cluster, "unique-ids", node="n1"), client(cluster, "unique-ids", node="n3")
    ids = [run(u, "generate")["value"] for _ in range(5) for u in (u1, u2)]
    assert sorted(ids) == list(range(1, 11))


def test_txn_workloads_ops(cluster):
    la = client(cluster, "list-append")
    done = run(la, "txn", [["r", 1, None], ["append", 1, 7], ["r", 1, None], ["r", 2, None]])
    assert done["type"] == "ok"
    assert done["value"] == [["r", 1, []], ["append", 1, 7], ["r", 1, [7]], ["r", 2, []]]
    rw = client(cluster, "rw-register")
    assert run(rw, "txn", [["w", 10, 1], ["r", 10, None]])["value"] == [["w", 10, 1], ["r", 10, 1]]


def test_bank_setup_transfers_and_reads(cluster):
    opts = {"accounts": 3, "total": 10}
    a, b = client(cluster, "bank", opts, node="n1"), client(cluster, "bank", opts, node="n2")
    a.setup()
    b.setup()  # a second setup finds the accounts initialized and changes nothing
    assert run(a, "read")["value"] == {"0": 4, "1": 3, "2": 3}
    assert run(b, "transfer", {"from": 0, "to": 2, "amount": 4})["type"] == "ok"
    over = run(a, "transfer", {"from": 0, "to": 1, "amount": 1})
    assert over["type"] == "fail" and "insufficient funds" in over["error"]
    assert run(b, "read")["value"] == {"0": 0, "1": 3, "2": 7}


def test_queue_is_fifo_and_reports_empty(cluster):
    q1, q2 = client(cluster, "queue", node="n1"), client(cluster, "queue", node="n3")
    assert run(q1, "dequeue") == {"f": "dequeue", "value": None, "type": "ok", "process": 0}
    for i in range(4):
        assert run(q1 if i % 2 else q2, "enqueue", i)["type"] == "ok"
    assert [run(q, "dequeue")["value"] for q in (q2, q1, q2, q1, q2)] == [0, 1, 2, 3, None]


def test_multi_register_ops(cluster):
    m = client(cluster, "multi-register")
    assert run(m, "read", [4, None])["value"] == [4, None]
    assert run(m, "write", [4, 2])["type"] == "ok"
    assert run(m, "cas", [4, [2, 3]])["type"] == "ok"
    assert run(m, "cas", [4, [2, 0]])["type"] == "fail"
    assert run(m, "read", [4, None])["value"] == [4, 3] and run(m, "read", [5, None])["value"] == [5, None]


def test_unsupported_workload_is_an_input_error():
    from harness.errors import InputError
    from harness.targets.raft import RaftClientFactory

    with pytest.raises(InputError, match="raft: workload 'mutex' is not supported"):
        RaftClientFactory().use_workload(SimpleNamespace(name="mutex", options={}))


ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and iptables")

#: workload -> the (f, type) pairs that must each be ok at least this many times.
#: (``register`` is covered by test_raft_cluster.py's partition run.)
EXPECTED_OK = {
    "multi-register": {"read": 20, "write": 20},
    "set": {"add": 50, "read": 5},
    "counter": {"add": 20, "read": 20},
    "unique-ids": {"generate": 50},
    "list-append": {"txn": 50},
    "rw-register": {"txn": 50},
    "bank": {"transfer": 20, "read": 20},
    "queue": {"enqueue": 20, "dequeue": 20},
}


@ROOT
@pytest.mark.slow
@pytest.mark.root
@pytest.mark.parametrize("workload", sorted(EXPECTED_OK))
def test_workload_is_valid_on_raft_under_partitions(workload, tmp_path):
    p = subprocess.run(CLI + ["test", "--db", "raft", "--workload", workload, "--nemesis",
                              "partition", "--time-limit", "12", "--nodes", "3",
                              "--store", str(tmp_path)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert "verdict: valid" in p.stdout
    run_dir = tmp_path / f"raft-{workload}-partition" / "latest"
    oks = Counter()
    for line in (run_dir / "history.jsonl").read_text().splitlines():
        op = json.loads(line)
        if op.get("process") != "nemesis" and op.get("type") == "ok":
            oks[op["f"]] += 1
    for f, n in EXPECTED_OK[workload].items():
        assert oks[f] >= n, (f, oks)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["valid"] is True and results["workload"]["valid"] is True
    if workload == "bank":
        assert (run_dir / "bank.png").stat().st_size > 1000


def test_a_concurrent_write_makes_the_cas_false_and_the_loop_retries(cluster):
    c, other = client(cluster, "counter", node="n1"), client(cluster, "counter", node="n2")
    ops = c.workload_ops
    real_get = ops._get
    calls = []

    def racing_get(key, deadline):
        v = real_get(key, deadline)
        if not calls:  # another client increments between our read and our cas, once
            assert run(other, "add", 10)["type"] == "ok"
        calls.append(v)
        return v

    before = run(c, "read")["value"]
    ops._get = racing_get
    assert run(c, "add", 1)["type"] == "ok"
    ops._get = real_get
    assert calls == [before, before + 10]  # the first cas compared against a stale value
    assert run(c, "read")["value"] == before + 11
