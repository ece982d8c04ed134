"""The raft target's ``pre_vote`` option (``--no-pre-vote`` on the node): validated, and the
core then starts elections without a pre-vote round."""

import random
import subprocess
import sys

import pytest

from harness.errors import InputError
from harness.targets.raft import normalize_options
from reference_impl.raft.core import CANDIDATE, PRE_CANDIDATE, Config, RaftCore


def test_pre_vote_is_on_by_default_and_must_be_a_bool():
    assert normalize_options({})["pre_vote"] is True
    assert normalize_options({"pre_vote": False})["pre_vote"] is False
    with pytest.raises(InputError, match="pre_vote: expected true or false"):
        normalize_options({"pre_vote": "no"})


@pytest.mark.parametrize("pre_vote, role, term, sent", [
    (True, PRE_CANDIDATE, 0, "prevote"),   # asks first, without raising its term
    (False, CANDIDATE, 1, "vote"),         # the paper: a new term and a vote for itself at once
])
def test_election_timeout_with_and_without_pre_vote(pre_vote, role, term, sent):
    core = RaftCore("n1", ["n1", "n2", "n3"], config=Config(pre_vote=pre_vote),
                    rng=random.Random(1))
    core.tick(core.next_wakeup())
    assert core.role == role and core.term == term
    assert {m["type"] for m in core.take_ready().messages} == {sent}


def test_paxos_node_refuses_no_pre_vote(tmp_path):
    p = subprocess.run([sys.executable, "-m", "harness.cli", "node", "paxos", "--id", "n1",
                        "--listen", "127.0.0.1:7000", "--peers", "n1=127.0.0.1:7000",
                        "--data", "d", "--no-pre-vote"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=30)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert p.returncode == 254 and len(lines) == 1 and "only raft has pre-vote" in lines[0], p.stderr
