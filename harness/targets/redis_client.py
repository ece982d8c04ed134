"""A tiny Redis-protocol (RESP2) client over a stdlib socket, and the workload ops it expresses.

Ops (all single Redis commands, so each is atomic on the server it reaches):

=============  =====================  ==============================================
workload       ``f``                  command
=============  =====================  ==============================================
register       read / write / cas     GET / SET / a Lua ``EVAL`` compare-and-set
set            add / read             ``SADD key e`` / ``SMEMBERS key``
counter        add / read             ``INCRBY key d`` / ``GET key``
unique-ids     generate               ``INCR key``
=============  =====================  ==============================================

Error rules (DESIGN.md): a Redis error reply (``-ERR``/``-READONLY``...) is a definite ``fail``;
a timeout or a dropped connection after sending is ``info`` (reads: ``fail``, they change nothing).
"""

from __future__ import annotations

import socket

CAS_SCRIPT = ("local v = redis.call('GET', KEYS[1]) "
              "if v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 else return 0 end")


class RespError(Exception):
    """An error reply from the server (a definite failure)."""


def encode(*args) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def parse(f):
    """Read one reply from a binary file-like ``f``; error replies raise :class:`RespError`."""
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed mid-reply")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RespError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        if len(data) != n + 2:
            raise ConnectionError("connection closed mid-reply")
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [parse(f) for _ in range(n)]
    raise ConnectionError(f"bad RESP reply line {line!r}")


class RedisClient:
    """One connection to one node; ``invoke(op) -> completion`` for the ops in the module table."""

    def __init__(self, host: str, port: int = 6379, key: str = "sb", timeout_s: float = 2.0):
        self.host, self.port, self.key, self.timeout_s = host, port, key, timeout_s
        self.sock = None
        self.file = None

    def _connect(self):
        if self.sock is None:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
            self.file = self.sock.makefile("rb")

    def call(self, *args):
        """Send one command and return its reply (raises RespError, OSError, ConnectionError)."""
        self._connect()
        try:
            self.sock.sendall(encode(*args))
            return parse(self.file)
        except (OSError, ConnectionError):
            self.close()
            raise

    def invoke(self, op: dict) -> dict:
        f, v = op.get("f"), op.get("value")
        done = dict(op)
        key = op.get("key", self.key)
        try:
            self._connect()
        except OSError as e:  # nothing was sent: the op certainly did not happen
            done.update(type="fail", error=f"connect: {e}")
            if f == "read":
                done["value"] = None
            return done
        try:
            if f == "read":
                if op.get("kind") == "set" or self.key.endswith(":set"):
                    r = self.call("SMEMBERS", key)
                    done["value"] = sorted(int(x) for x in r)
                else:
                    r = self.call("GET", key)
                    done["value"] = None if r is None else int(r)
            elif f == "write":
                self.call("SET", key, v)
            elif f == "cas":
                if self.call("EVAL", CAS_SCRIPT, 1, key, v[0], v[1]) != 1:
                    done.update(type="fail", error="cas: compare did not hold")
                    return done
            elif f == "add" and self.key.endswith(":set"):
                self.call("SADD", key, v)
            elif f == "add":
                self.call("INCRBY", key, v)
            elif f == "generate":
                done["value"] = self.call("INCR", key)
            else:
                done.update(type="fail", error=f"unsupported op f={f!r} (redis client)")
                return done
        except RespError as e:
            done.update(type="fail", error=str(e))
            if f == "read":
                done["value"] = None
            return done
        except (OSError, ConnectionError) as e:
            done.update(type="fail" if f == "read" else "info", error=f"{type(e).__name__}: {e}")
            if f == "read":
                done["value"] = None
            return done
        done["type"] = "ok"
        return done

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = self.file = None
