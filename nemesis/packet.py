"""Packet faults between the run's nodes: loss, rate limits, delay, jitter, duplication, reorder.

The kernel here has no ``tc netem``, so each fault uses what does exist (DESIGN.md):

- **loss**: ``iptables -m statistic --mode random --probability p -j DROP`` on *inbound*
  packets from the other nodes (a DROP on output would make the sender's ``sendto`` fail with
  EPERM, which no real network does);
- **rate**: a ``tbf`` root qdisc on the node's ``eth0`` (egress);
- **delay, jitter, duplication, reorder**: an ``NFQUEUE`` rule sends the packets to
  :mod:`nemesis.packet_holder`, a userspace holder (PyPI ``NetfilterQueue``) started as a daemon
  inside the node's namespace, which releases each packet when due and re-sends duplicates.

Why NFQUEUE and not a TCP proxy: a proxy only sees TCP streams it terminates, so it cannot
duplicate or reorder *packets* (TCP hides both), it changes the peers' addresses, and every
target would need its peers pointed at the proxy. NFQUEUE works on any IP traffic (UDP too), needs
no change to the target, and with ``--queue-bypass`` fails open: if the holder dies, packets flow.

Scope: rules live in chains ``<prefix>-pkt`` (jumped to from OUTPUT: the NFQUEUE rules) and
``<prefix>-pktin`` (from INPUT: the loss rules) in each affected node's own namespace, and match
only packets *to/from the other nodes' addresses*: traffic between the
controller and the nodes (client requests) is not touched by loss/delay/duplication/reorder.
``tbf`` shapes everything the node sends on ``eth0`` (clients' answers too); it has no filter.
Packets sent by the holder itself carry mark ``0x5b1`` and skip the chain.

Ops (``process: nemesis``, type ``info``):

- ``start-packet``: ``value`` = ``{"loss": p, "delay_ms": d, "jitter_ms": j, "duplicate": p,
  "reorder": p, "reorder_ms": g, "rate": "1mbit", "nodes": [...]}`` (every key optional;
  ``None`` picks one random fault from the nemesis's defaults on all nodes). The completion's
  ``value`` is what was applied, per node. A new start replaces the previous fault.
- ``stop-packet``: removes the rules, the qdiscs and the holders; ``value`` = ``"packets-healed"``.
"""

from __future__ import annotations

import logging
import random
import sys
from concurrent.futures import ThreadPoolExecutor

from harness.errors import EnvironmentProblem

log = logging.getLogger("splitbrain.nemesis.packet")

START, STOP = "start-packet", "stop-packet"
CHAIN_SUFFIX = "-pkt"
HOLDER = "packet-holder"
QUEUE = 4242
MARK = 0x5B1
KEYS = ("loss", "delay_ms", "jitter_ms", "duplicate", "reorder", "reorder_ms", "rate", "nodes")
#: what a random ``start-packet`` picks from (one of these, Jepsen-like magnitudes)
DEFAULT_BEHAVIOURS = (
    {"loss": 0.2},
    {"delay_ms": 50, "jitter_ms": 20},
    {"duplicate": 0.2},
    {"delay_ms": 5, "reorder": 0.25, "reorder_ms": 20},
    {"rate": "1mbit"},
)
_ABSENT = ("no chain/target/match", "chain does not exist", "doesn't exist",
           "cannot open network namespace", "no such file or directory", "cannot find device")


def validate(value: dict) -> dict:
    """Check a ``start-packet`` value; returns it normalised (ValueError names the bad key)."""
    unknown = sorted(set(value) - set(KEYS))
    if unknown:
        raise ValueError(f"packet fault: unknown key {unknown[0]!r} (valid: {', '.join(KEYS)})")
    out = dict(value)
    for k in ("loss", "duplicate", "reorder"):
        if k in out and not (isinstance(out[k], (int, float)) and 0 <= out[k] <= 1):
            raise ValueError(f"packet fault: {k} must be a fraction in [0, 1], got {out[k]!r}")
    for k in ("delay_ms", "jitter_ms", "reorder_ms"):
        if k in out and not (isinstance(out[k], (int, float)) and out[k] >= 0):
            raise ValueError(f"packet fault: {k} must be >= 0 ms, got {out[k]!r}")
    if "rate" in out and not (isinstance(out["rate"], str) and out["rate"][:1].isdigit()):
        raise ValueError(f"packet fault: rate must be a tc rate like '1mbit', got {out['rate']!r}")
    return out


def needs_holder(fault: dict) -> bool:
    return any(fault.get(k) for k in ("delay_ms", "jitter_ms", "duplicate", "reorder"))


def chain_rules(chain: str, peers: list[str], fault: dict, queue: int = QUEUE,
                mark: int = MARK) -> list[str]:
    """The ``iptables-restore`` lines that fill ``chain`` (output) and ``chain``+``in`` (input)
    for one node (pure)."""
    lines = ["*filter", f":{chain} - [0:0]", f":{chain}in - [0:0]",
             f"-A {chain} -m mark --mark {mark:#x} -j RETURN"]
    for ip in peers:
        if fault.get("loss"):
            lines.append(f"-A {chain}in -s {ip}/32 -m statistic --mode random "
                         f"--probability {float(fault['loss']):.4f} -j DROP")
        if needs_holder(fault):
            lines.append(f"-A {chain} -d {ip}/32 -j NFQUEUE --queue-num {queue} --queue-bypass")
    return lines + ["COMMIT", ""]


class PacketNemesis:
    """Applies packet faults inside the nodes' namespaces (module docstring)."""

    fs = frozenset({START, STOP})

    def __init__(self, rng: random.Random | None = None, behaviours=DEFAULT_BEHAVIOURS,
                 command_timeout: float = 10.0):
        self.rng = rng if rng is not None else random.Random()
        self.behaviours = [validate(dict(b)) for b in behaviours]
        self.command_timeout = command_timeout
        self.cluster = None
        self.chain = None
        self.active: dict[str, dict] = {}
        self.touched: set[str] = set()   # nodes that ever got a fault: heal_all covers them all

    def setup(self, cluster, db=None) -> "PacketNemesis":
        self.cluster = cluster
        self.chain = f"{cluster.prefix}{CHAIN_SUFFIX}"
        self._each(self._setup_node, self._names())
        return self

    def teardown(self) -> None:
        if self.cluster is None:
            return
        try:
            self.heal_all()
        finally:
            self._each(self._teardown_node, self._names(), raise_errors=False)

    def heal_all(self) -> None:
        """Flush the chain, delete the qdisc and stop the holder on every node (all of them:
        a fault applied by a crashed op is healed too). Repeatable; safe before setup."""
        if self.cluster is None or self.chain is None:
            return
        self._each(self._heal_node, self._names())
        self.active = {}

    def invoke(self, op: dict) -> dict:
        if self.cluster is None:
            raise RuntimeError("packet nemesis: invoke before setup")
        f = op.get("f")
        out = dict(op, type="info")
        if f == STOP:
            self.heal_all()
            out["value"] = "packets-healed"
            return out
        if f != START:
            raise ValueError(f"packet nemesis: unknown f {f!r} (expected {START} or {STOP})")
        value = op.get("value")
        fault = validate(dict(value)) if isinstance(value, dict) and value else \
            dict(self.rng.choice(self.behaviours))
        names = self._names()
        nodes = fault.pop("nodes", None) or names
        bad = [n for n in nodes if n not in names]
        if bad:
            raise ValueError(f"packet nemesis: unknown node(s) {bad}; nodes are {names}")
        self.heal_all()
        seed = self.rng.randrange(2**31)
        errors = self._each(lambda n: self._apply_node(n, fault, seed), nodes, raise_errors=False)
        self.active = {n: fault for n in nodes if n not in errors}
        self.touched.update(nodes)
        out["value"] = {"fault": fault, "nodes": sorted(self.active)}
        if errors:
            out["error"] = "packet fault not applied on " + "; ".join(f"{n}: {e}" for n, e in errors.items())
        return out

    # ------------------------------------------------------------------ per node

    def _names(self) -> list[str]:
        return [n.name for n in self.cluster.nodes] if self.cluster is not None else []

    def _ipt(self, name, *args, check=True):
        return self.cluster.remote(name).run(["iptables", "-w", *args], check=check,
                                             timeout=self.command_timeout)

    def _jump(self, chain: str) -> list[str]:
        return ["-j", chain, "-m", "comment", "--comment", self.cluster.prefix]

    def _setup_node(self, name: str) -> None:
        r = self.cluster.remote(name)
        r.run(["iptables-restore", "-w", "--noflush"],
              input=f"*filter\n:{self.chain} - [0:0]\n:{self.chain}in - [0:0]\nCOMMIT\n",
              timeout=self.command_timeout)
        for hook, chain in (("OUTPUT", self.chain), ("INPUT", self.chain + "in")):
            if self._ipt(name, "-C", hook, *self._jump(chain), check=False).returncode != 0:
                self._ipt(name, "-I", hook, "1", *self._jump(chain))

    def _apply_node(self, name: str, fault: dict, seed: int) -> None:
        r = self.cluster.remote(name)
        if needs_holder(fault):
            # The holder first: with --queue-bypass, packets flow until it binds the queue.
            argv = [sys.executable, "-m", "nemesis.packet_holder", "--queue", str(QUEUE),
                    "--delay-ms", str(fault.get("delay_ms", 0)),
                    "--jitter-ms", str(fault.get("jitter_ms", 0)),
                    "--duplicate", str(fault.get("duplicate", 0)),
                    "--reorder", str(fault.get("reorder", 0)),
                    "--reorder-ms", str(fault.get("reorder_ms", 20)),
                    "--mark", hex(MARK), "--seed", str(seed)]
            r.start_daemon(HOLDER, argv, env={"LD_PRELOAD": ""})
            self._wait_holder(r)
        peers = [n.ip for n in self.cluster.nodes if n.name != name]
        r.run(["iptables-restore", "-w", "--noflush"],
              input="\n".join(chain_rules(self.chain, peers, fault)), timeout=self.command_timeout)
        if fault.get("rate"):
            r.run(["tc", "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", fault["rate"],
                   "burst", "32kbit", "latency", "400ms"], timeout=self.command_timeout)

    def _wait_holder(self, r, timeout_s: float = 10.0) -> None:
        """Until the holder has bound its queue (it prints ``holding`` then)."""
        import time

        deadline = time.monotonic() + timeout_s
        log_text = getattr(r, "read_log", None)
        while time.monotonic() < deadline:
            if r.daemon_pid(HOLDER) is None:
                raise EnvironmentProblem(f"packet holder exited: {(log_text(HOLDER) if log_text else '')[-300:]}")
            if log_text is None or "holding queue" in log_text(HOLDER).rsplit("stopped:", 1)[-1]:
                return
            time.sleep(0.02)
        raise EnvironmentProblem("packet holder did not bind its queue within 10 s")

    def _heal_node(self, name: str) -> None:
        r = self.cluster.remote(name)
        for chain in (self.chain, self.chain + "in"):
            res = self._ipt(name, "-F", chain, check=False)
            if res.returncode != 0 and not any(s in res.stderr.lower() for s in _ABSENT):
                raise EnvironmentProblem(f"{name}: iptables -F {chain}: {res.stderr.strip()}")
        # Rules first, then the holder: nothing is queued once the chain is empty.
        if r.daemon_pid(HOLDER) is not None:
            r.stop_daemon(HOLDER, timeout=5)
        res = r.run(["tc", "qdisc", "del", "dev", "eth0", "root"], check=False,
                    timeout=self.command_timeout)
        err = res.stderr.lower()
        if res.returncode != 0 and not (any(s in err for s in _ABSENT) or "no such file" in err
                                        or "invalid handle" in err or "cannot delete qdisc with handle of zero" in err):
            raise EnvironmentProblem(f"{name}: tc qdisc del: {res.stderr.strip()}")

    def _teardown_node(self, name: str) -> None:
        for hook, chain in (("OUTPUT", self.chain), ("INPUT", self.chain + "in")):
            while self._ipt(name, "-D", hook, *self._jump(chain), check=False).returncode == 0:
                pass
            self._ipt(name, "-F", chain, check=False)
            self._ipt(name, "-X", chain, check=False)

    def _each(self, fn, names, raise_errors=True) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not names:
            return errors
        with ThreadPoolExecutor(max_workers=min(16, len(names))) as ex:
            futs = {n: ex.submit(fn, n) for n in names}
            for n, fut in futs.items():
                try:
                    fut.result()
                except Exception as e:  # noqa: BLE001
                    errors[n] = str(e)
        if errors and raise_errors:
            raise EnvironmentProblem("packet nemesis: " + "; ".join(f"{n}: {e}" for n, e in errors.items()))
        return errors


def packet_schedule(interval_s: float) -> list[dict]:
    """One period: sleep, ``start-packet`` (a random behaviour), sleep, ``stop-packet``."""
    return [{"type": "sleep", "value": interval_s}, {"type": "info", "f": START, "value": None},
            {"type": "sleep", "value": interval_s}, {"type": "info", "f": STOP, "value": None}]
