"""How the raft client's workload ops turn transport results into ok/fail/info (pure logic: the
HTTP exchange is replaced by a script of answers; the real exchange is covered by
tests/integration/test_workloads_raft.py)."""

from harness.targets.raft_workloads import RaftWorkloadOps


class ScriptedTransport:
    """Stands in for RaftClient's HTTP exchange: returns the scripted answers in order."""

    op_timeout_s = 1.0
    node_name = "n1"

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []

    def _call(self, method, path, body, deadline=None):
        self.sent.append((method, path, body))
        return self.answers.pop(0)


def invoke(workload, op, *answers, options=None):
    t = ScriptedTransport(*answers)
    done = RaftWorkloadOps(t, workload, options).invoke(dict(op, type="invoke", process=0))
    return done, t


OK_TXN = ("answer", 200, {"ops": [], "outcome": "ok"})


def test_not_sent_is_fail_and_doubt_is_info_for_a_write():
    assert invoke("set", {"f": "add", "value": 1}, ("notsent", None, "refused"))[0]["type"] == "fail"
    done, _ = invoke("set", {"f": "add", "value": 1}, ("doubt", None, "timeout"))
    assert done["type"] == "info" and done["error"] == "timeout"


def test_a_read_in_doubt_is_fail_with_no_observation():
    done, _ = invoke("set", {"f": "read", "value": None}, ("doubt", None, "timeout"))
    assert done["type"] == "fail" and done["value"] is None


def test_http_statuses():
    unknown = ("answer", 503, {"error": "not committed", "outcome": "unknown"})
    assert invoke("queue", {"f": "enqueue", "value": 1}, unknown)[0]["type"] == "info"
    replaced = ("answer", 503, {"error": "replaced", "outcome": "failed"})
    assert invoke("queue", {"f": "enqueue", "value": 1}, replaced)[0]["type"] == "fail"
    leader = ("answer", 409, {"error": "not the leader", "outcome": "failed"})
    done, _ = invoke("queue", {"f": "enqueue", "value": 1}, leader)
    assert done["type"] == "fail" and done["error"] == "HTTP 409: not the leader"


def test_counter_retries_a_false_cas_then_succeeds():
    done, t = invoke("counter", {"f": "add", "value": 2},
                     ("answer", 200, {"value": 1}), ("answer", 200, {"ok": False, "value": 5}),
                     ("answer", 200, {"value": 5}), ("answer", 200, {"ok": True, "value": 5}))
    assert done["type"] == "ok" and done["value"] == 2
    assert [b for _m, _p, b in t.sent if b] == [{"from": 1, "to": 3}, {"from": 5, "to": 7}]


def test_a_cas_in_doubt_makes_the_increment_info():
    done, _ = invoke("unique-ids", {"f": "generate", "value": None},
                     ("answer", 200, {"value": 3}), ("doubt", None, "timeout"))
    assert done["type"] == "info" and done["value"] is None


def test_a_failed_read_after_a_false_compare_is_fail():
    done, _ = invoke("counter", {"f": "add", "value": 1},
                     ("answer", 200, {"value": 1}), ("answer", 200, {"ok": False, "value": 2}),
                     ("notsent", None, "refused"))
    assert done["type"] == "fail"


def test_queue_dequeue_claims_the_head_or_reports_empty():
    read = ("answer", 200, {"ops": [["r", "queue-head", 1], ["r", "queue-items", [4, 5]]]})
    done, t = invoke("queue", {"f": "dequeue", "value": None}, read, OK_TXN)
    assert done["type"] == "ok" and done["value"] == 5
    assert t.sent[1][2] == {"ops": [["cmp", "queue-head", 1], ["w", "queue-head", 2]]}
    empty = ("answer", 200, {"ops": [["r", "queue-head", 2], ["r", "queue-items", [4, 5]]]})
    assert invoke("queue", {"f": "dequeue", "value": None}, empty)[0]["value"] is None


def test_bank_transfer_refuses_to_overdraw_without_writing():
    read = ("answer", 200, {"ops": [["r", "account-0", 1], ["r", "account-1", 9]]})
    done, t = invoke("bank", {"f": "transfer", "value": {"from": 0, "to": 1, "amount": 3}}, read,
                     options={"accounts": [0, 1], "total": 10})
    assert done["type"] == "fail" and "insufficient funds" in done["error"] and len(t.sent) == 1


def test_unsupported_op_is_fail():
    done, t = invoke("set", {"f": "generate", "value": None})
    assert done["type"] == "fail" and "unsupported op" in done["error"] and not t.sent
