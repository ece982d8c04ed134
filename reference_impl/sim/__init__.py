"""Deterministic simulation of the reference protocol cores (see :mod:`reference_impl.sim.world`
for the seeded world and :mod:`reference_impl.sim.raft` for the Raft driver and invariants)."""
