"""Planted bugs of the reference stores (``--bug NAME``), so a user can watch splitbrain catch
a known fault. Without ``--bug`` the stores must pass every workload under every nemesis.

Some bugs are shared (both stores have them, with the same meaning), the others belong to one
protocol: :func:`bugs_for` lists a protocol's bugs and :func:`check_bug` validates a name.

Reference Raft (``splitbrain node raft``, :mod:`reference_impl.raft`):

==============  ===========================================================  ==================================
name            what the store does wrong                                    what the harness should find
==============  ===========================================================  ==================================
``stale-read``  ``GET /kv/<key>`` answers from the node's local state         register: a read returns a value
                machine, on any node, without ReadIndex or forwarding;        older than a completed write
                ``POST /txn`` takes its ``r`` micro-ops from local state      (not linearizable), e.g. with
                at once and sends only the rest through the log.              ``partition=primaries``;
                                                                             list-append: G-single, G2
                                                                             cycles (not serializable).
``no-fsync``    log, term and vote writes stay in process memory and reach   after ``kill -9`` of a majority:
                the OS only every second; nothing is fsynced.                 acknowledged writes vanish
                                                                             (lost update, non-linearizable).
``early-ack``   a ``PUT`` is acknowledged as soon as the entry is in the     an isolated leader acknowledges
                leader's log, before a majority has it.                       writes that are never committed:
                                                                             reads never see them.
``forget-vote`` votedFor is not persisted (term is): a node that restarts     two leaders in one term, when a
                can vote twice in one term.                                   voter crashes right after its vote
                                                                             and a rival candidate of that term
                                                                             asks it again: the ``vote-crash``
                                                                             nemesis with
                                                                             ``vote-crash-bridge`` on real
                                                                             processes, the simulator's
                                                                             ``--vote-crash``; random kills do
                                                                             not (docs/nemeses.md).
==============  ===========================================================  ==================================

Reference Multi-Paxos (``splitbrain node paxos``, :mod:`reference_impl.paxos`;
docs/reference-paxos.md has the measured detection rates):

======================  ===================================================  ==================================
name                    what the store does wrong                            what the harness should find
======================  ===================================================  ==================================
``stale-read``          ``GET /kv/<key>`` answers from the node's local      register: stale reads, e.g. with
                        state machine instead of going through a slot.       ``partition=primaries``.
``no-fsync``            promises, accepted values and learned slots stay     after ``kill -9`` of a majority:
                        in process memory and reach the OS only every        acknowledged writes vanish.
                        second; nothing is fsynced.
``skip-promise-check``  an acceptor accepts a ``p2a`` whose ballot is below  two values chosen for one slot:
                        its promise.                                         a deposed leader answers stale
                                                                             reads and replicas diverge
                                                                             (needs a deposed leader still
                                                                             proposing: ``partition=
                                                                             primaries`` with the target
                                                                             option ``check_quorum: false``).
``forget-accepted``     accepted values are not persisted (promises are):    after a power cut (``lost-writes``)
                        a restarted acceptor forgets what it accepted.       a new leader misses chosen values
                                                                             and fills their slots with others:
                                                                             acknowledged writes vanish.
======================  ===================================================  ==================================
"""

from __future__ import annotations

SHARED_BUGS = {
    "stale-read": "serve reads from local state (no ReadIndex / no slot, any node)",
    "no-fsync": "never fsync; hand writes to the OS only every second",
}

PROTOCOL_BUGS = {
    "raft": {
        "early-ack": "acknowledge a write before a majority has it",
        "forget-vote": "do not persist votedFor",
    },
    "paxos": {
        "skip-promise-check": "accept a p2a whose ballot is below the promise",
        "forget-accepted": "do not persist accepted values",
    },
}

#: Raft's bugs (the first reference store), kept under the old name.
BUGS = {**SHARED_BUGS, **PROTOCOL_BUGS["raft"]}


def bugs_for(protocol: str) -> dict[str, str]:
    """The bugs ``protocol`` (``raft`` or ``paxos``) can plant: name -> what it does."""
    return {**SHARED_BUGS, **PROTOCOL_BUGS[protocol]}


def check_bug(name: str | None, protocol: str = "raft") -> str | None:
    """``name`` if it is a known bug of ``protocol`` (or None); raises ValueError with the valid
    names."""
    valid = bugs_for(protocol)
    if name is None or name in valid:
        return name
    raise ValueError(f"unknown bug {name!r} for {protocol} (valid: {', '.join(sorted(valid))})")
