"""What the tests of the local network-namespace backend share: the marks that skip them without
root, ``ip`` or ``iptables``, and a tiny TCP echo server (:data:`ECHO`) and probe (:data:`PROBE`)
that run on the nodes with ``python -c``."""

import os
import shutil

import pytest

NETNS_MARKS = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(shutil.which("ip") is None or shutil.which("iptables") is None,
                       reason="needs iproute2 and iptables"),
]

# ECHO HOST PORT: listens on HOST:PORT, prints "listening", echoes up to 64 bytes per connection.
ECHO = ("import socket,sys\n"
        "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        "s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)\n"
        "print('listening', flush=True)\n"
        "while True:\n"
        "    c,_=s.accept(); c.settimeout(2)\n"
        "    try: c.sendall(c.recv(64))\n"
        "    except OSError: pass\n"
        "    c.close()\n")
# PROBE HOST PORT TIMEOUT_S: exits 0 when HOST:PORT echoes b'ping' back, non-zero otherwise.
PROBE = ("import socket,sys\n"
         "s=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))\n"
         "s.sendall(b'ping'); sys.exit(0 if s.recv(4)==b'ping' else 2)\n")
PORT = 7000
