"""The userspace packet holder: delay, jitter, duplicate and reorder packets from an NFQUEUE.

The kernel here has no netem, so :mod:`nemesis.packet` sends a node's outbound packets to other
nodes into an NFQUEUE (``--queue-bypass``: if this process is gone, packets flow normally) and
runs this program inside the node's network namespace::

    python -m nemesis.packet_holder --queue 4242 --delay-ms 100 --jitter-ms 20 \
        --duplicate 0.1 --reorder 0.2 --reorder-ms 30 --mark 0x5b1 --seed 7

Each packet gets a release time ``now + delay +- jitter`` (+ ``reorder-ms`` for a ``reorder``
fraction of them, so later packets overtake it); a single loop releases packets when due
(``accept`` verdicts may be given after the callback returns). A ``duplicate`` fraction is
also sent a second time through a raw socket whose packets carry ``--mark``, which the
nemesis's rules let through without queueing them again. On SIGTERM every held packet is
released before exiting, so stopping the holder loses nothing.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import select
import signal
import socket
import sys
import time


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="packet_holder", description=__doc__.splitlines()[0])
    p.add_argument("--queue", type=int, required=True)
    p.add_argument("--delay-ms", type=float, default=0.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--duplicate", type=float, default=0.0, help="fraction of packets sent twice")
    p.add_argument("--reorder", type=float, default=0.0, help="fraction of packets held longer")
    p.add_argument("--reorder-ms", type=float, default=20.0, help="extra hold of a reordered packet")
    p.add_argument("--mark", type=lambda s: int(s, 0), default=0x5B1)
    p.add_argument("--seed", type=int, default=None)
    return p.parse_args(argv)


def main(argv=None) -> int:
    from netfilterqueue import NetfilterQueue

    a = parse_args(argv)
    rng = random.Random(a.seed)
    held: list = []  # heap of (release time, seq, packet, duplicate payload or None)
    seq = itertools.count()
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, a.mark)
    stats = {"held": 0, "duplicated": 0, "reordered": 0}

    def on_packet(pkt) -> None:
        d = a.delay_ms + (rng.uniform(-a.jitter_ms, a.jitter_ms) if a.jitter_ms else 0.0)
        if a.reorder and rng.random() < a.reorder:
            d += a.reorder_ms
            stats["reordered"] += 1
        dup = pkt.get_payload() if a.duplicate and rng.random() < a.duplicate else None
        if d <= 0 and dup is None:
            pkt.accept()
            return
        stats["held"] += 1
        heapq.heappush(held, (time.monotonic() + max(0.0, d) / 1000, next(seq), pkt, dup))

    def release(pkt, dup) -> None:
        pkt.accept()
        if dup is not None:
            try:
                raw.sendto(dup, (socket.inet_ntoa(dup[16:20]), 0))
                stats["duplicated"] += 1
            except OSError as e:
                print(f"duplicate not sent: {e}", file=sys.stderr, flush=True)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    q = NetfilterQueue()
    q.bind(a.queue, on_packet, max_len=8192)
    fd = q.get_fd()
    print(f"holding queue {a.queue}: delay {a.delay_ms} ms +- {a.jitter_ms}, duplicate "
          f"{a.duplicate}, reorder {a.reorder} (+{a.reorder_ms} ms)", flush=True)
    try:
        while not stopping:
            timeout = max(0.0, held[0][0] - time.monotonic()) if held else 0.5
            try:
                ready, _, _ = select.select([fd], [], [], timeout)
            except InterruptedError:
                continue
            if ready:
                q.run(block=False)
            now = time.monotonic()
            while held and held[0][0] <= now:
                _, _, pkt, dup = heapq.heappop(held)
                release(pkt, dup)
    finally:
        while held:
            _, _, pkt, dup = heapq.heappop(held)
            release(pkt, None)
        q.unbind()
        print(f"stopped: {stats}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
