"""A tiny synchronous pump for the sans-I/O consensus cores (Raft and Multi-Paxos) in unit tests.

:class:`SyncNet` holds real core objects keyed by node id, persists every Ready at once (what
"persisting" records is up to a subclass, in :meth:`SyncNet.on_ready`) and delivers its messages
in order, except to and from nodes cut off with ``net.down``. :func:`elect` runs a fresh net
until it has exactly one leader.
"""


class SyncNet:
    """Drive ``nodes`` (id -> core) by hand; subclasses record what each Ready carries.

    ``pump_rounds`` bounds one :meth:`pump` call when the nodes never go quiet; a subclass sets
    ``leader_role`` to its core's LEADER constant.
    """

    leader_role = None

    def __init__(self, nodes, pump_rounds):
        self.now = 0.0
        self.nodes = nodes
        self.pump_rounds = pump_rounds
        self.down: set = set()
        self.sent = []

    def on_ready(self, i, node, ready):
        """Persist ``ready`` of node ``i`` (call ``node.persisted``) and record what it carries."""
        raise NotImplementedError

    def observe(self, i, node):
        """Called after node ``i`` took a Ready, received a message or ticked; no-op here."""

    def pump(self, rounds=None):
        """Hand Readies and messages around until nothing moves (at most ``rounds`` rounds)."""
        for _ in range(self.pump_rounds if rounds is None else rounds):
            moved = False
            for i, n in self.nodes.items():
                if i in self.down:
                    continue
                r = n.take_ready()
                self.observe(i, n)
                if r.empty():
                    continue
                moved = True
                self.on_ready(i, n, r)
                for m in r.messages:
                    self.sent.append(m)
                    if m["to"] not in self.down:
                        self.nodes[m["to"]].receive(self.now, m)
                        self.observe(m["to"], self.nodes[m["to"]])
            if not moved:
                return

    def advance(self, ms, step=5.0):
        """Move the clock ``ms`` forward in ``step`` steps, ticking due nodes and pumping."""
        end = self.now + ms
        while self.now < end:
            self.now += step
            for i, n in self.nodes.items():
                if i not in self.down and self.now >= n.next_wakeup():
                    n.tick(self.now)
                    self.observe(i, n)
            self.pump()

    def leaders(self):
        """The nodes that are up and believe they lead."""
        return [i for i, n in self.nodes.items()
                if n.role == self.leader_role and i not in self.down]


def elect(net):
    """Let ``net`` run 400 ms and return its only leader (asserting there is exactly one)."""
    net.advance(400)
    leaders = net.leaders()
    assert len(leaders) == 1
    return leaders[0]
