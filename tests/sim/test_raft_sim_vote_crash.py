"""The simulator's targeted "crash right after a vote" fault (``SimOptions.vote_crash_p``): it
catches the planted ``forget-vote`` bug (two leaders in one term), the same seed fails the same
way again, and the correct store keeps every invariant under the same fault."""

import pytest

from reference_impl.sim.raft import InvariantViolation, SimOptions, run_seed


def _opts(bug=None) -> SimOptions:
    return SimOptions(bug=bug, vote_crash_p=1.0)


@pytest.mark.parametrize("seed", [25, 27])
def test_vote_crash_catches_forget_vote_and_replays(seed):
    for _ in range(2):
        with pytest.raises(InvariantViolation) as e:
            run_seed(seed, _opts("forget-vote"))
        assert f"seed {seed} at t=" in str(e.value) and "election safety" in str(e.value)
        assert "both lead term" in str(e.value)
    # The same seeds, same faults, without the bug: every invariant holds.
    out = run_seed(seed, _opts())
    assert out["vote_crashes"] > 0


def test_correct_store_survives_vote_crashes():
    crashes = 0
    for seed in range(30):
        crashes += run_seed(seed, _opts())["vote_crashes"]
    assert crashes > 30
