"""Run simulated seeds: ``python -m reference_impl.sim [--seeds N | --seed S] [--nodes 5]
[--bug no-fsync|forget-vote] [--trace]``. Prints one line per failing seed and a summary;
exit 1 when some seed broke an invariant. ``--seed S --trace`` replays one seed and prints its
event trace (the same every time)."""

from __future__ import annotations

import argparse
import sys
import time

from reference_impl.sim.raft import SIM_BUGS, InvariantViolation, RaftSimulation, SimOptions


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m reference_impl.sim")
    p.add_argument("--seeds", type=int, default=200)
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--seed", type=int)
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--bug", choices=SIM_BUGS)
    p.add_argument("--trace", action="store_true")
    a = p.parse_args(argv)
    seeds = [a.seed] if a.seed is not None else range(a.first, a.first + a.seeds)
    bad = 0
    t0 = time.monotonic()
    totals: dict = {}
    for seed in seeds:
        sim = RaftSimulation(seed, SimOptions(nodes=a.nodes, bug=a.bug), trace=a.trace)
        try:
            out = sim.run()
            for k, v in out.items():
                if k not in ("seed", "time") and isinstance(v, int):
                    totals[k] = totals.get(k, 0) + v
        except InvariantViolation as e:
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
