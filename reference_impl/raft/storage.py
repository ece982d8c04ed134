"""Durable Raft state on a real disk: term and vote, the log, and the latest snapshot.

Files in the node's data directory:

- ``state.json``: ``{"term": t, "vote": id|null}``, replaced atomically (write a temporary
  file, fsync it, rename it over, fsync the directory).
- ``log``: append-only records ``<u32 length><u32 crc32><JSON [index, term, command]>``. A
  conflicting suffix is cut with ``ftruncate``. On recovery a torn or corrupt tail (a crash in the
  middle of a write) is cut off: it was never fsynced, so it was never acknowledged. What
  recovery keeps is fsynced before the node acts on it (a killed process may have left unfsynced
  writes in the page cache).
- ``snapshot.json``: ``{"index", "term", "data", "voters"}`` (``voters``: the Raft voter set as
  of ``index``; absent in snapshots taken before any membership change), replaced atomically;
  after it is durable the log is rewritten (atomically) without the entries it covers. Records
  at or below the snapshot index that survive a crash between the two steps are skipped on
  recovery.

:meth:`RaftStorage.write` takes a core :class:`~reference_impl.raft.core.Ready` and makes it
durable with one fsync of the log (group commit: everything the core produced since the last
write goes in one fsync).

Planted bugs: ``no-fsync`` keeps writes in process memory and hands them to the OS only every
``lazy_flush_s`` seconds, never fsyncing (so a ``kill -9`` loses recently acknowledged writes:
what a store that trusts an unflushed buffer loses on a power cut); ``forget-vote`` stores
``vote`` as null.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from typing import Any

from reference_impl.raft.core import HardState, PersistentState, Ready, Snapshot

_HEADER = struct.Struct(">II")


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: str, data: bytes, fsync: bool = True) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        if fsync:
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if fsync:
        _fsync_dir(os.path.dirname(path) or ".")


def encode_record(index: int, term: int, command: Any) -> bytes:
    payload = json.dumps([index, term, command], separators=(",", ":")).encode()
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


class RaftStorage:
    """The durable state of one node in ``directory`` (created when missing)."""

    def __init__(self, directory: str, *, bug: str | None = None):
        self.dir = directory
        self.bug = bug
        os.makedirs(directory, exist_ok=True)
        self.state_path = os.path.join(directory, "state.json")
        self.log_path = os.path.join(directory, "log")
        self.snap_path = os.path.join(directory, "snapshot.json")
        self.start = 0                     # snapshot index: the log holds start+1 ...
        self.records: list[bytes] = []     # encoded records, for compaction rewrites
        self.offsets: list[int] = []       # file offset of each record
        self.size = 0
        self.lazy: list[Ready] = []        # no-fsync bug: writes not yet handed to the OS
        self.fsyncs = 0
        self._log = None

    # ------------------------------------------------------------------ recovery
    def load(self) -> PersistentState:
        """Read what is durable; cut a torn log tail. Returns the state to build a core from."""
        st = PersistentState()
        if os.path.exists(self.state_path):
            with open(self.state_path, "rb") as f:
                doc = json.loads(f.read())
            st.term, st.vote = int(doc["term"]), doc.get("vote")
        if os.path.exists(self.snap_path):
            with open(self.snap_path, "rb") as f:
                doc = json.loads(f.read())
            voters = doc.get("voters")
            st.snapshot = Snapshot(int(doc["index"]), int(doc["term"]), doc["data"],
                                   list(voters) if isinstance(voters, list) else None)
            self.start = st.snapshot.index
        good = 0
        entries = []
        if os.path.exists(self.log_path):
            with open(self.log_path, "rb") as f:
                data = f.read()
            pos = 0
            expect = self.start + 1
            while pos + _HEADER.size <= len(data):
                length, crc = _HEADER.unpack_from(data, pos)
                end = pos + _HEADER.size + length
                if end > len(data):
                    break
                payload = data[pos + _HEADER.size:end]
                if zlib.crc32(payload) != crc:
                    break
                index, term, cmd = json.loads(payload)
                if index > self.start:
                    if index != expect:
                        break
                    self.offsets.append(self.size)
                    rec = data[pos:end]
                    self.records.append(rec)
                    self.size += len(rec)
                    entries.append((term, cmd))
                    expect += 1
                pos = end
            good = pos
            if good != len(data) or len(self.records) != len(entries) or self.size != good:
                # Torn tail, or records covered by the snapshot: rewrite exactly what we keep.
                self._rewrite_log()
        st.entries = entries
        self._log = open(self.log_path, "ab")
        if self.bug != "no-fsync":
            self._make_recovered_state_durable()
        return st

    def _make_recovered_state_durable(self) -> None:
        """fsync every file just read, and the directory. After a ``kill -9`` the files may hold
        writes the dead process never fsynced (the page cache survived it); this node is about
        to act on them (vote, acknowledge entries), so they must be durable first, or a later
        power cut could take back what was promised."""
        for path in (self.log_path, self.state_path, self.snap_path):
            if os.path.exists(path):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        _fsync_dir(self.dir)

    def _rewrite_log(self) -> None:
        blob = b"".join(self.records)
        _write_atomic(self.log_path, blob)
        self.offsets, pos = [], 0
        for rec in self.records:
            self.offsets.append(pos)
            pos += len(rec)
        self.size = pos

    # ------------------------------------------------------------------ writes
    def write(self, r: Ready) -> None:
        """Make the Ready's snapshot, hard state and entries durable (one log fsync)."""
        if self.bug == "no-fsync":
            self.lazy.append(r)
            return
        self._apply(r, fsync=True)

    def flush_lazy(self) -> None:
        """no-fsync bug: hand buffered writes to the OS (still no fsync)."""
        lazy, self.lazy = self.lazy, []
        for r in lazy:
            self._apply(r, fsync=False)

    def _apply(self, r: Ready, fsync: bool) -> None:
        if r.snapshot is not None:
            self.save_snapshot(r.snapshot, fsync=fsync)
            self.records = []
            self.start = r.snapshot.index
            self._rewrite_log_file(fsync)
        if r.hard_state is not None:
            self.save_hard_state(r.hard_state, fsync=fsync)
        if r.truncate_from is not None:
            keep = r.truncate_from - self.start - 1
            if keep < len(self.records):
                cut = self.offsets[keep] if keep >= 0 else 0
                del self.records[max(keep, 0):]
                del self.offsets[max(keep, 0):]
                self._log.flush()
                os.ftruncate(self._log.fileno(), cut)
                self.size = cut
            chunks = []
            for index, term, cmd in r.entries:
                rec = encode_record(index, term, cmd)
                self.offsets.append(self.size)
                self.records.append(rec)
                self.size += len(rec)
                chunks.append(rec)
            if chunks:
                self._log.write(b"".join(chunks))
            self._log.flush()
            if fsync:
                os.fdatasync(self._log.fileno())
                self.fsyncs += 1

    def save_hard_state(self, hs: HardState, fsync: bool = True) -> None:
        vote = None if self.bug == "forget-vote" else hs.vote
        _write_atomic(self.state_path, json.dumps({"term": hs.term, "vote": vote}).encode(),
                      fsync=fsync)

    def save_snapshot(self, snap: Snapshot, fsync: bool = True) -> None:
        doc = {"index": snap.index, "term": snap.term, "data": snap.data}
        if snap.voters is not None:
            doc["voters"] = list(snap.voters)
        _write_atomic(self.snap_path, json.dumps(doc, separators=(",", ":")).encode(), fsync=fsync)

    def compact(self, snap: Snapshot) -> None:
        """Store ``snap`` durably, then drop the log records it covers."""
        self.flush_lazy() if self.bug == "no-fsync" else None
        self.save_snapshot(snap, fsync=self.bug != "no-fsync")
        drop = min(len(self.records), snap.index - self.start)
        if drop <= 0:
            return
        self.records = self.records[drop:]
        self.start = snap.index
        self._rewrite_log_file(self.bug != "no-fsync")

    def _rewrite_log_file(self, fsync: bool) -> None:
        if self._log is not None:
            self._log.close()
        _write_atomic(self.log_path, b"".join(self.records), fsync=fsync)
        self.offsets, pos = [], 0
        for rec in self.records:
            self.offsets.append(pos)
            pos += len(rec)
        self.size = pos
        self._log = open(self.log_path, "ab")

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
