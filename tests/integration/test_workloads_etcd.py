"""Every workload's ops on a real etcd 3.4 (one member on loopback, no root needed): the etcd
client does what each workload's op shapes promise, including the read-modify-write loops
noticing another client's write (a false compare) and retrying."""

import os
import shutil
import signal
import socket
import subprocess
import time
from types import SimpleNamespace

import pytest

from harness.targets.etcd_client import EtcdClient
from harness.targets.etcd_workloads import EtcdWorkloadOps, prefix_end
from workloads import make_workload

pytestmark = [
    pytest.mark.etcd,
    pytest.mark.skipif(shutil.which("etcd") is None,
                       reason="needs the etcd binary (apt install etcd-server)"),
]


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def etcd_port(tmp_path_factory):
    d = tmp_path_factory.mktemp("etcd")
    cport, pport = free_ports(2)
    log = open(d / "etcd.log", "wb")
    proc = subprocess.Popen(
        ["etcd", "--name", "sbtest", "--data-dir", str(d / "data"),
         "--listen-client-urls", f"http://127.0.0.1:{cport}",
         "--advertise-client-urls", f"http://127.0.0.1:{cport}",
         "--listen-peer-urls", f"http://127.0.0.1:{pport}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{pport}",
         "--initial-cluster", f"sbtest=http://127.0.0.1:{pport}"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        probe = EtcdClient("127.0.0.1", cport, op_timeout_s=2)
        while probe.invoke({"f": "read", "value": None})["type"] != "ok":
            assert proc.poll() is None and time.monotonic() < deadline, (d / "etcd.log").read_text()[-2000:]
            time.sleep(0.2)
        yield cport
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)


def client(port, workload, options=None):
    w = make_workload(workload, options)
    return EtcdClient("127.0.0.1", port, op_timeout_s=3, workload=w.name, workload_options=w.options)


def run(c, f, value=None):
    done = c.invoke({"f": f, "value": value, "type": "invoke", "process": 0})
    return done["type"], done.get("value")


def test_set_counter_unique_ids(etcd_port):
    s = client(etcd_port, "set")
    assert [run(s, "add", e)[0] for e in (3, 1, 2)] == ["ok"] * 3
    assert run(s, "read") == ("ok", [1, 2, 3])
    c = client(etcd_port, "counter")
    assert run(c, "read") == ("ok", 0)
    assert run(c, "add", 5)[0] == "ok" and run(c, "add", -2)[0] == "ok"
    assert run(c, "read") == ("ok", 3)
    u = client(etcd_port, "unique-ids")
    ids = [run(u, "generate")[1] for _ in range(5)]
    assert len(set(ids)) == 5 and ids == sorted(ids)


def test_txn_workloads(etcd_port):
    la = client(etcd_port, "list-append")
    assert run(la, "txn", [["r", 1, None], ["append", 1, 7], ["r", 1, None], ["r", 2, None]]) == \
        ("ok", [["r", 1, []], ["append", 1, 7], ["r", 1, [7]], ["r", 2, []]])
    assert run(la, "txn", [["append", 1, 8], ["r", 1, None]]) == ("ok", [["append", 1, 8], ["r", 1, [7, 8]]])
    rw = client(etcd_port, "rw-register")
    assert run(rw, "txn", [["r", 10, None], ["w", 10, 1], ["r", 10, None]]) == \
        ("ok", [["r", 10, None], ["w", 10, 1], ["r", 10, 1]])
    assert run(rw, "txn", [["w", 10, 2], ["w", 10, 3]])[0] == "ok"  # one put per key
    assert run(rw, "txn", [["r", 10, None]]) == ("ok", [["r", 10, 3]])


def test_bank(etcd_port):
    opts = {"accounts": 3, "total": 10}
    a, b = client(etcd_port, "bank", opts), client(etcd_port, "bank", opts)
    a.setup()
    b.setup()
    assert run(a, "read") == ("ok", {"0": 4, "1": 3, "2": 3})
    assert run(b, "transfer", {"from": 0, "to": 2, "amount": 4})[0] == "ok"
    assert run(a, "transfer", {"from": 0, "to": 1, "amount": 1})[0] == "fail"
    assert run(b, "read") == ("ok", {"0": 0, "1": 3, "2": 7})


def test_queue_fifo(etcd_port):
    q1, q2 = client(etcd_port, "queue"), client(etcd_port, "queue")
    assert run(q1, "dequeue") == ("ok", None)
    for i in range(4):
        assert run(q1 if i % 2 else q2, "enqueue", i)[0] == "ok"
    assert [run(q, "dequeue")[1] for q in (q2, q1, q2, q1, q2)] == [0, 1, 2, 3, None]


def test_multi_register(etcd_port):
    m = client(etcd_port, "multi-register")
    assert run(m, "read", [4, None]) == ("ok", [4, None])
    assert run(m, "write", [4, 2])[0] == "ok" and run(m, "cas", [4, [2, 3]])[0] == "ok"
    assert run(m, "cas", [4, [2, 0]])[0] == "fail"
    assert run(m, "read", [4, None]) == ("ok", [4, 3])


def test_a_concurrent_write_makes_the_compare_false_and_the_loop_retries(etcd_port):
    c, other = client(etcd_port, "counter"), client(etcd_port, "counter")
    ops: EtcdWorkloadOps = c.workload_ops
    real_range = ops._range
    calls = []

    def racing_range(key, deadline, **kw):
        kvs = real_range(key, deadline, **kw)
        if not calls:  # another client increments between our read and our txn, once
            assert run(other, "add", 10)[0] == "ok"
        calls.append(kvs)
        return kvs

    before = run(c, "read")[1]
    ops._range = racing_range
    assert run(c, "add", 1)[0] == "ok"
    ops._range = real_range
    assert len(calls) == 2  # the first attempt's compare was false: it read again
    assert run(c, "read") == ("ok", before + 11)


def test_unsupported_workload_is_an_input_error():
    from harness.errors import InputError
    from harness.targets.etcd_client import EtcdClientFactory

    with pytest.raises(InputError, match="etcd: workload 'mutex' is not supported"):
        EtcdClientFactory().use_workload(SimpleNamespace(name="mutex", options={}))


def test_prefix_end():
    assert prefix_end("set/") == "set0" and prefix_end("a") == "b"
