"""Simulated Raft runs with membership changes among the faults (``SimOptions.membership_p``):
every invariant of reference_impl.sim.raft.RaftInvariants holds while leaders remove and add
back voters under crashes, partitions and a lossy network."""

import os
from multiprocessing import Pool

from reference_impl.sim.raft import InvariantViolation, RaftSimulation, SimOptions

SEEDS = int(os.environ.get("SPLITBRAIN_SIM_SEEDS", "1000")) // 2


def _run(seed: int):
    sim = RaftSimulation(seed, SimOptions(nodes=5, membership_p=0.5))
    try:
        out = sim.run()
    except InvariantViolation as e:
        return seed, str(e), None, None
    voters = {len(n.core.voters) for n in sim.nodes.values() if n.core is not None}
    return seed, None, out, min(voters)


def test_membership_changes_keep_every_invariant():
    with Pool(min(2, os.cpu_count() or 1)) as pool:
        results = pool.map(_run, range(SEEDS), chunksize=20)
    failures = [(s, e) for s, e, _o, _v in results if e]
    assert not failures, f"{len(failures)} seeds broke an invariant, first: {failures[0]}"
    changes = sum(o.get("config_changes", 0) for _s, _e, o, _v in results)
    # Not vacuous: leaders did change the voters, and many runs ended with fewer than 5.
    assert changes > SEEDS
    assert sum(1 for *_r, v in results if v < 5) > SEEDS / 4
