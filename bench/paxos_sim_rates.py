"""Benchmark: how many simulated Multi-Paxos seeds break an invariant, without a bug and with each
bug the simulator can plant.

Seeds ``0 .. N-1`` with the options of tests/sim/test_paxos_sim.py (3 nodes for odd seeds, 5 for
even ones, 700 virtual ms of faults then 500 quiet ms). Prints, per bug, the count of seeds that
broke an invariant, the first violation and the wall time.

    python bench/paxos_sim_rates.py [--seeds 1000] [--bugs none,skip-promise-check,...]

A benchmark measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time

from reference_impl.sim.paxos import SIM_BUGS, InvariantViolation, SimOptions, run_seed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="paxos_sim_rates")
    p.add_argument("--seeds", type=int, default=1000)
    p.add_argument("--bugs", default=",".join(("none",) + SIM_BUGS),
                   help="comma-separated: none and/or " + ", ".join(SIM_BUGS))
    a = p.parse_args(argv)
    bugs = [b.strip() for b in a.bugs.split(",") if b.strip()]
    for b in bugs:
        if b != "none" and b not in SIM_BUGS:
            p.error(f"--bugs: {b!r} is not one of none, {', '.join(SIM_BUGS)}")
    for b in bugs:
        bug = None if b == "none" else b
        t0 = time.monotonic()
        bad, first = 0, None
        for seed in range(a.seeds):
            opts = SimOptions(nodes=3 if seed % 2 else 5, duration=700.0, quiet=500.0, bug=bug)
            try:
                run_seed(seed, opts)
            except InvariantViolation as e:
                bad += 1
                first = first or str(e)
        print(f"{b}: {bad} of {a.seeds} seeds broke an invariant "
              f"({time.monotonic() - t0:.1f} s); first: {first}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
