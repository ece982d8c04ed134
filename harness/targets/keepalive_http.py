"""Keep-alive HTTP connections for clients, keeping "never sent" apart from "in doubt".

A client must record an op as ``fail`` only when the server surely did not act on it, and as
``info`` otherwise. :class:`KeepAliveConnections` raises :class:`NotSent` whenever nothing left
this process (no connection, no time left); any error after the request was written propagates as
is (``OSError``, ``http.client.HTTPException``) and means doubt.
"""

from __future__ import annotations

import http.client
import select
import socket
import time


class NotSent(Exception):
    """Nothing reached the server: the request surely had no effect."""


class KeepAliveConnections:
    """One keep-alive ``HTTPConnection`` per ``(host, port)``, used by one worker at a time."""

    def __init__(self, connect_timeout_s: float):
        self.connect_timeout_s = connect_timeout_s
        self._conns: dict[tuple[str, int], http.client.HTTPConnection] = {}

    def close(self) -> None:
        """Close every connection."""
        for c in self._conns.values():
            try:
                c.close()
            except OSError:
                pass
        self._conns.clear()

    def _drop(self, addr: tuple[str, int]) -> None:
        conn = self._conns.pop(addr, None)
        if conn is not None:
            conn.close()

    def _connection(self, addr: tuple[str, int], deadline: float) -> http.client.HTTPConnection:
        conn = self._conns.get(addr)
        if conn is not None and conn.sock is not None:
            # An idle keep-alive connection the server closed reads as EOF: replace it before
            # sending, so its failure is not mistaken for a request that may have been applied.
            try:
                readable = select.select([conn.sock], [], [], 0)[0]
            except (OSError, ValueError):
                readable = [True]
            if readable:
                self._drop(addr)
                conn = None
        if conn is None or conn.sock is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NotSent("no time left to connect")
            conn = http.client.HTTPConnection(addr[0], addr[1],
                                              timeout=min(left, self.connect_timeout_s))
            try:
                conn.connect()
            except OSError as exc:
                conn.close()
                raise NotSent(f"connect {addr[0]}:{addr[1]}: {exc or type(exc).__name__}") from None
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conns[addr] = conn
        return conn

    def request(self, addr: tuple[str, int], method: str, path: str, data: bytes | None,
                headers: dict[str, str], deadline: float) -> tuple[int, bytes]:
        """Send one request and read the whole answer: ``(status, body bytes)``.

        Raises :class:`NotSent` when nothing was sent; anything else raised means doubt.
        """
        conn = self._connection(addr, deadline)
        left = deadline - time.monotonic()
        if left <= 0:
            raise NotSent("no time left to send")
        conn.sock.settimeout(left)
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except BaseException:
            self._drop(addr)
            raise
        if resp.will_close:
            self._drop(addr)
        return resp.status, raw
