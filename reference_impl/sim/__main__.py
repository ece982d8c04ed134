"""Run simulated seeds: ``python -m reference_impl.sim [--protocol raft|paxos] [--seeds N |
--seed S] [--nodes 5] [--bug NAME] [--trace]``. Prints one line per failing seed and a summary;
exit 1 when some seed broke an invariant. ``--seed S --trace`` replays one seed and prints its
event trace (the same every time). Bugs: raft ``no-fsync``, ``forget-vote``; paxos
``skip-promise-check``, ``forget-accepted``, ``no-fsync``. ``--vote-crash P`` (raft) adds the
targeted fault that crashes a node right after it granted a vote (see SimOptions).
``--membership P`` (raft) makes a fault event a membership change with probability P."""

from __future__ import annotations

import argparse
import sys
import time


def _protocol(name: str):
    if name == "paxos":
        from reference_impl.sim import paxos as mod
        return mod.SIM_BUGS, mod.InvariantViolation, mod.PaxosSimulation, mod.SimOptions
    from reference_impl.sim import raft as mod
    return mod.SIM_BUGS, mod.InvariantViolation, mod.RaftSimulation, mod.SimOptions


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m reference_impl.sim")
    p.add_argument("--protocol", choices=("raft", "paxos"), default="raft")
    p.add_argument("--seeds", type=int, default=200)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--seed", type=int)
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--bug")
    p.add_argument("--trace", action="store_true")
    p.add_argument("--vote-crash", type=float, default=0.0, metavar="P",
                   help="raft: a node crashes right after granting a vote with probability P "
                        "and restarts 0.1-3 ms later (the fault that catches forget-vote)")
    p.add_argument("--membership", type=float, default=0.0, metavar="P",
                   help="raft: a fault event asks the leader to remove or add back one voter "
                        "with probability P")
    a = p.parse_args(argv)
    sim_bugs, violation, simulation, options = _protocol(a.protocol)
    if a.bug is not None and a.bug not in sim_bugs:
        p.error(f"--bug: {a.protocol} simulates {', '.join(sim_bugs)}, not {a.bug!r}")
    extra = {}
    if a.vote_crash:
        if a.protocol != "raft" or not 0 < a.vote_crash <= 1:
            p.error("--vote-crash: a probability in (0, 1], raft only")
        extra["vote_crash_p"] = a.vote_crash
    if a.membership:
        if a.protocol != "raft" or not 0 < a.membership <= 1:
            p.error("--membership: a probability in (0, 1], raft only")
        extra["membership_p"] = a.membership
    seeds = [a.seed] if a.seed is not None else range(a.first, a.first + a.seeds)
    bad = 0
    t0 = time.monotonic()
    totals: dict = {}
    for seed in seeds:
        sim = simulation(seed, options(nodes=a.nodes, bug=a.bug, **extra), trace=a.trace)
        try:
            out = sim.run()
            for k, v in out.items():
                if k not in ("seed", "time") and isinstance(v, int):
                    totals[k] = totals.get(k, 0) + v
        except violation as e:
            bad += 1
            print(f"FAIL {e}")
        if a.trace:
            for ev in sim.world.trace:
                print(*ev)
    n = len(seeds)
    print(f"{n} seeds, {bad} failed, {time.monotonic() - t0:.1f}s; totals {totals}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
