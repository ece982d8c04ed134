"""The partition nemesis: network partitions as iptables DROP rules inside each node.

Each node gets a chain ``<prefix>-part`` in its filter table, jumped to from the top of INPUT
(the jump carries ``-m comment --comment <prefix>``). A grudge ``{n1: [n2, n3]}`` becomes, on n1,
``-A <prefix>-part -s <ip of n2> -j DROP`` and the same for n3: a node drops what comes *from*
the nodes it holds a grudge against (Jepsen's model). A new grudge replaces the chain's rules
atomically (one ``iptables-restore --noflush`` per node); healing flushes the chain.

Commands go through ``cluster.remote(node).run(argv)``, so this works on every backend whose
nodes have iptables and let the controller use it (local namespaces, docker with NET_ADMIN,
ssh as root). The controller's own address is never in a grudge: it always reaches the nodes.

Ops (all ``type: info``, ``process: nemesis``):

- ``{"f": "start-partition"}``: computes a grudge by ``kind``; ``value`` may carry an explicit
  grudge (a mapping) instead. The completion's ``value`` is the grudge applied (node names).
- ``{"f": "stop-partition"}``: heals; ``value`` becomes ``"network-healed"``.
"""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from harness.errors import EnvironmentProblem
from nemesis import grudge as G

log = logging.getLogger("splitbrain.nemesis.partition")

START = "start-partition"
STOP = "stop-partition"
KINDS = G.KINDS
CHAIN_SUFFIX = "-part"
# iptables messages meaning "nothing of ours there": nothing to heal.
_ABSENT = ("no chain/target/match", "chain does not exist", "doesn't exist",
           "cannot open network namespace", "no such file or directory")


class PartitionNemesis:
    """Applies grudges with iptables. ``kind`` is how ``start-partition`` picks one when the op
    does not carry it: ``random-halves`` (default), ``halves``, ``one``, ``majorities-ring``,
    ``bridge`` (random bridge node), ``one-way`` (half B drops half A), ``random`` (2 or more
    random groups), ``primaries`` (isolate ``db.primaries(cluster)``; falls
    back to one random node when the db cannot say, and the op's ``error`` says so) or
    ``primary-bridge`` (a bridge whose bridge node is the primary; a random bridge node when
    the db cannot say, and the op's ``error`` says so)."""

    fs = frozenset({START, STOP})

    def __init__(self, kind: str = "random-halves", rng: random.Random | None = None,
                 command_timeout: float = 10.0):
        if kind not in KINDS:
            raise ValueError(f"unknown partition kind {kind!r} (one of {', '.join(KINDS)})")
        self.kind = kind
        self.rng = rng if rng is not None else random.Random()
        self.command_timeout = command_timeout
        self.cluster = None
        self.db = None
        self.chain: str | None = None
        self.grudge: G.Grudge = {}  # what is applied now, as far as we know

    # ------------------------------------------------------------------ lifecycle

    @property
    def node_names(self) -> list[str]:
        return [n.name for n in self.cluster.nodes] if self.cluster is not None else []

    def setup(self, cluster, db=None) -> "PartitionNemesis":
        """Create the (empty) chain and the INPUT jump on every node."""
        self.cluster = cluster
        self.db = db
        self.chain = f"{cluster.prefix}{CHAIN_SUFFIX}"
        if len(self.chain) > 28:
            raise ValueError(f"iptables chain name {self.chain!r} is longer than 28 characters")
        self._each(self._setup_node)
        self.grudge = {}
        return self

    def teardown(self) -> None:
        """Heal, then remove the jump and the chain from every node (best effort; a node that is
        already gone is fine)."""
        if self.cluster is None:
            return
        try:
            self.heal_all()
        finally:
            self._each(self._teardown_node, raise_errors=False)

    def heal_all(self) -> None:
        """Flush the partition chain on every node. Safe to call any number of times, before
        :meth:`setup` (does nothing), and after partial failures: every node is tried; a node
        whose chain or namespace no longer exists has nothing to heal. Raises
        :class:`EnvironmentProblem` only if a node that still has the chain could not be healed."""
        if self.cluster is None or self.chain is None:
            return
        self._each(self._heal_node)
        self.grudge = {}

    # ------------------------------------------------------------------ ops

    def invoke(self, op: dict) -> dict:
        f = op.get("f")
        out = dict(op)
        out["type"] = "info"
        if f == START:
            return self._start(op, out)
        if f == STOP:
            self.heal_all()
            out["value"] = "network-healed"
            return out
        raise ValueError(f"partition nemesis: unknown f {f!r} (expected {START} or {STOP})")

    def _start(self, op: dict, out: dict) -> dict:
        if self.cluster is None:
            raise RuntimeError("partition nemesis: invoke before setup")
        nodes = self.node_names
        note = None
        value = op.get("value")
        if isinstance(value, dict) and value:
            grudge = G.validate(nodes, value)
        elif self.kind == "primaries":
            prim, why = self._primaries()
            if prim:
                grudge = G.isolate(nodes, prim)
            else:
                grudge = G.one(nodes, self.rng)
                note = f"primaries unknown ({why}); isolated a random node instead"
        elif self.kind == "primary-bridge":
            prim, why = self._primaries()
            if prim:
                grudge = G.bridge_at(nodes, prim[0], self.rng)
            else:
                grudge = G.random_bridge(nodes, self.rng)
                note = f"primaries unknown ({why}); a random bridge node instead"
        else:
            grudge = G.for_kind(self.kind, nodes, self.rng)
        failures = self.apply(grudge)
        out["value"] = grudge
        errors = [note] if note else []
        if failures:
            errors.append("partition not applied on " + "; ".join(f"{n}: {e}" for n, e in failures.items()))
        if errors:
            out["error"] = "; ".join(errors)
        return out

    def _primaries(self) -> tuple[list[str], str]:
        fn = getattr(self.db, "primaries", None)
        if fn is None:
            return [], "the db has no primaries()"
        try:
            prim = list(fn(self.cluster) or [])
        except Exception as e:  # noqa: BLE001 - a failing probe is not fatal for the nemesis
            return [], f"primaries() failed: {e}"
        prim = [p for p in prim if p in self.node_names]
        if not prim:
            return [], "primaries() returned none"
        if len(prim) == len(self.node_names):
            return [], "every node claims to be a primary"
        return prim, ""

    def apply(self, grudge: G.Grudge) -> dict[str, str]:
        """Replace the rules on every node with ``grudge``. Returns ``{node: error}`` for nodes
        where that failed (empty when all went well)."""
        grudge = G.normalize(grudge)
        ips = {n.name: n.ip for n in self.cluster.nodes}
        failures: dict[str, str] = {}

        def one(name: str) -> None:
            lines = ["*filter", f":{self.chain} - [0:0]"]  # declaring the chain flushes it
            lines += [f"-A {self.chain} -s {ips[d]}/32 -j DROP" for d in grudge.get(name, [])]
            lines += ["COMMIT", ""]
            self._remote(name).run(["iptables-restore", "-w", "--noflush"],
                                   input="\n".join(lines), timeout=self.command_timeout)

        for name, err in self._each(one, raise_errors=False).items():
            failures[name] = err
        self.grudge = grudge
        return failures

    # ------------------------------------------------------------------ per node

    def _remote(self, name: str):
        return self.cluster.remote(name)

    def _ipt(self, name: str, *args: str, check: bool = True):
        return self._remote(name).run(["iptables", "-w", *args], check=check,
                                      timeout=self.command_timeout)

    def _jump(self) -> list[str]:
        return ["-j", self.chain, "-m", "comment", "--comment", self.cluster.prefix]

    def _setup_node(self, name: str) -> None:
        self._remote(name).run(["iptables-restore", "-w", "--noflush"],
                               input=f"*filter\n:{self.chain} - [0:0]\nCOMMIT\n",
                               timeout=self.command_timeout)
        if self._ipt(name, "-C", "INPUT", *self._jump(), check=False).returncode != 0:
            self._ipt(name, "-I", "INPUT", "1", *self._jump())

    def _heal_node(self, name: str) -> None:
        r = self._ipt(name, "-F", self.chain, check=False)
        if r.returncode != 0 and not any(s in r.stderr.lower() for s in _ABSENT):
            raise EnvironmentProblem(f"{name}: iptables -F {self.chain} failed: {r.stderr.strip()}")

    def _teardown_node(self, name: str) -> None:
        while self._ipt(name, "-D", "INPUT", *self._jump(), check=False).returncode == 0:
            pass
        self._ipt(name, "-F", self.chain, check=False)
        self._ipt(name, "-X", self.chain, check=False)

    def _each(self, fn: Callable[[str], Any], raise_errors: bool = True) -> dict[str, str]:
        """Run ``fn(node)`` on every node in parallel; collect errors per node."""
        names = self.node_names
        errors: dict[str, str] = {}
        if not names:
            return errors
        with ThreadPoolExecutor(max_workers=min(16, len(names))) as ex:
            futs = {name: ex.submit(fn, name) for name in names}
            for name, fut in futs.items():
                try:
                    fut.result()
                except Exception as e:  # noqa: BLE001
                    errors[name] = str(e)
        if errors and raise_errors:
            raise EnvironmentProblem("partition nemesis: " + "; ".join(f"{n}: {e}" for n, e in errors.items()))
        return errors


def partition_schedule(interval_s: float) -> list[dict]:
    """One period of Jepsen's classic partition schedule, as plain data: sleep ``interval_s``,
    start a partition, sleep ``interval_s``, heal.

    The list is itself a valid :mod:`harness.generator` generator (``{"type": "sleep"}`` is what
    ``gen.sleep`` makes); :func:`partition_generator` repeats it for the whole run. Nemesis ops
    are recorded as ``info`` (DESIGN.md).
    """
    if interval_s <= 0:
        raise ValueError("partition_schedule: interval_s must be > 0")
    return [
        {"type": "sleep", "value": interval_s},
        {"type": "info", "f": START, "value": None},
        {"type": "sleep", "value": interval_s},
        {"type": "info", "f": STOP, "value": None},
    ]


def partition_generator(interval_s: float):
    """``gen.cycle(partition_schedule(interval_s))``: partitions on and off for the whole run
    (wrap it in ``gen.nemesis(...)`` and a ``time_limit``)."""
    from harness import generator as gen

    return gen.cycle(partition_schedule(interval_s))


def final_generator() -> list[dict]:
    """The final (heal) generator of a partition package: one ``stop-partition``."""
    return [{"type": "info", "f": STOP, "value": None}]
