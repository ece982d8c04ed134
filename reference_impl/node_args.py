"""Validation of ``splitbrain node raft|paxos`` arguments: addresses, peer lists, data dir.

Every mistake becomes one :class:`~harness.errors.InputError` line (exit 254) naming the flag.
"""

from __future__ import annotations

import ipaddress
import os
import re

from harness.errors import InputError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def parse_addr(text: str, flag: str) -> tuple[str, int]:
    """``IP:PORT`` -> ``(ip, port)``; the IP must be a literal address."""
    host, sep, port = (text or "").rpartition(":")
    if not sep or not host:
        raise InputError(f"{flag}: expected IP:PORT, got {text!r}")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise InputError(f"{flag}: {host!r} is not an IP address (in {text!r})") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(f"{flag}: port must be 1-65535, got {port!r} (in {text!r})")
    return host, int(port)


def parse_peers(text: str) -> dict[str, tuple[str, int]]:
    """``n1=IP:PORT,n2=IP:PORT,...`` -> ``{id: (ip, port)}``."""
    peers: dict[str, tuple[str, int]] = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, addr = item.partition("=")
        if not sep:
            raise InputError(f"--peers: expected ID=IP:PORT, got {item!r}")
        if not _ID.match(name):
            raise InputError(f"--peers: bad node id {name!r}")
        if name in peers:
            raise InputError(f"--peers: node {name!r} listed twice")
        peers[name] = parse_addr(addr, f"--peers {name}")
    if not peers:
        raise InputError("--peers: empty peer list (expected n1=IP:PORT,n2=IP:PORT,...)")
    return peers


def resolve(args) -> dict:
    """Check a parsed ``node`` command line; returns the node's settings as a dict."""
    from reference_impl.bugs import check_bug

    if not args.id or not _ID.match(args.id):
        raise InputError(f"--id: bad node id {args.id!r}")
    listen = parse_addr(args.listen, "--listen")
    peers = parse_peers(args.peers)
    if args.id not in peers:
        raise InputError(f"--peers: this node's id {args.id!r} is not in the list "
                         f"({', '.join(peers)})")
    if peers[args.id][1] != listen[1]:
        raise InputError(f"--peers: {args.id} is at {peers[args.id][0]}:{peers[args.id][1]} "
                         f"but --listen says port {listen[1]}")
    http = parse_addr(args.http, "--http") if args.http else (listen[0], listen[1] + 1)
    if http == listen:
        raise InputError("--http: the client address must differ from --listen")
    try:
        bug = check_bug(args.bug, getattr(args, "protocol", "raft"))
    except ValueError as e:
        raise InputError(f"--bug: {e}") from None
    if not args.data:
        raise InputError("--data: a data directory is required")
    if os.path.exists(args.data) and not os.path.isdir(args.data):
        raise InputError(f"--data: {args.data} exists and is not a directory")
    return {"id": args.id, "listen": listen, "peers": peers, "http": http, "bug": bug,
            "data": args.data}
