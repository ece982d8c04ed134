"""A minimal inotify reader (Linux, through libc with ctypes): which files were written to,
closed after writing or renamed into a set of watched directories. The vote-crash nemesis uses
it to react within a millisecond to a line in a node's log (:mod:`nemesis.vote_crash`)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")   # wd, mask, cookie, len (then len bytes of name)


class InotifyWatch:
    """Watches directories for files written to, closed after writing or renamed into them.

    ``add(directory, key)`` watches one directory; :meth:`read` waits up to ``timeout_s`` and
    returns ``[(key, file name), ...]``. Close it with :meth:`close` (or use ``with``).
    """

    def __init__(self):
        name = ctypes.util.find_library("c") or "libc.so.6"
        self._libc = ctypes.CDLL(name, use_errno=True)
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"inotify_init1: {os.strerror(e)}")
        self.fd = fd
        self._keys: dict[int, object] = {}

    def add(self, directory: str, key: object) -> None:
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(directory),
                                          IN_MODIFY | IN_MOVED_TO | IN_CLOSE_WRITE)
        if wd < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"inotify_add_watch {directory}: {os.strerror(e)}")
        self._keys[wd] = key

    def read(self, timeout_s: float) -> list[tuple[object, str]]:
        if self.fd < 0:
            return []
        ready, _, _ = select.select([self.fd], [], [], timeout_s)
        if not ready:
            return []
        try:
            buf = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        out, pos = [], 0
        while pos + _EVENT.size <= len(buf):
            wd, _mask, _cookie, length = _EVENT.unpack_from(buf, pos)
            raw = buf[pos + _EVENT.size:pos + _EVENT.size + length]
            pos += _EVENT.size + length
            if wd in self._keys:
                out.append((self._keys[wd], raw.split(b"\0", 1)[0].decode(errors="replace")))
        return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> "InotifyWatch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
