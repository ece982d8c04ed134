"""Planted bugs of the reference stores (``--bug NAME``), so a user can watch splitbrain catch
a known fault. Without ``--bug`` the stores must pass every workload under every nemesis.

==============  ===========================================================  ==================================
name            what the store does wrong                                    what the harness should find
==============  ===========================================================  ==================================
``stale-read``  ``GET /kv/<key>`` answers from the node's local state         register: a read returns a value
                machine, on any node, without ReadIndex or forwarding.        older than a completed write
                                                                             (not linearizable), e.g. with
                                                                             ``partition=primaries``.
``no-fsync``    log, term and vote writes stay in process memory and reach   after ``kill -9`` of a majority:
                the OS only every second; nothing is fsynced.                 acknowledged writes vanish
                                                                             (lost update, non-linearizable).
``early-ack``   a ``PUT`` is acknowledged as soon as the entry is in the     an isolated leader acknowledges
                leader's log, before a majority has it.                       writes that are never committed:
                                                                             reads never see them.
``forget-vote`` votedFor is not persisted (term is): a node that restarts     two leaders in one term after
                can vote twice in one term.                                   kills during elections; lost
                                                                             writes (needs a kill nemesis).
==============  ===========================================================  ==================================
"""

from __future__ import annotations

BUGS = {
    "stale-read": "serve reads from local state (no ReadIndex, any node)",
    "no-fsync": "never fsync; hand writes to the OS only every second",
    "early-ack": "acknowledge a write before a majority has it",
    "forget-vote": "do not persist votedFor",
}


def check_bug(name: str | None) -> str | None:
    """``name`` if it is a known bug (or None); raises ValueError with the valid names."""
    if name is None or name in BUGS:
        return name
    raise ValueError(f"unknown bug {name!r} (valid: {', '.join(sorted(BUGS))})")
