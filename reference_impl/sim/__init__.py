"""Deterministic simulation of the reference protocol cores (see :mod:`reference_impl.sim.world`
for the seeded world, :mod:`reference_impl.sim.cluster` for the cluster driver both protocols
share, and :mod:`reference_impl.sim.raft` / :mod:`reference_impl.sim.paxos` for each protocol's
driver and invariants)."""
