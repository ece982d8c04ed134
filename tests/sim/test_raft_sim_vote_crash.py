"""The simulator's targeted "crash right after a vote" fault (``SimOptions.vote_crash_p``): it
catches the planted ``forget-vote`` bug (two leaders in one term), the failing seed fails the
same way again, and the correct store keeps every invariant under the same fault."""

from reference_impl.sim.raft import InvariantViolation, SimOptions, run_seed


def _opts(bug=None) -> SimOptions:
    return SimOptions(bug=bug, vote_crash_p=1.0)


def _failure(seed, bug):
    try:
        run_seed(seed, _opts(bug))
    except InvariantViolation as e:
        return str(e)
    return None


def test_vote_crash_catches_forget_vote_and_the_seed_replays():
    # About 9 % of seeds fail (18 of seeds 0-199 since candidates retry their vote requests).
    found = next(((s, f) for s in range(150) if (f := _failure(s, "forget-vote"))), None)
    assert found is not None, "no seed in 0-149 caught forget-vote under the vote-crash fault"
    seed, failure = found
    assert f"seed {seed} at t=" in failure and "election safety" in failure
    assert "both lead term" in failure
    assert _failure(seed, "forget-vote") == failure      # replays exactly
    assert _failure(seed, None) is None                  # the same faults, no bug: all holds


def test_correct_store_survives_vote_crashes():
    crashes = 0
    for seed in range(30):
        crashes += run_seed(seed, _opts())["vote_crashes"]
    assert crashes > 30
