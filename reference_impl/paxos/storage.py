"""Durable Multi-Paxos state on a real disk: one append-only file of acceptor and learner records.

``<data dir>/paxos.log`` holds records ``<u32 length><u32 crc32><JSON record>``, each one of
``["promise", ballot]``, ``["accept", slot, ballot, command]`` or ``["chosen", slot, command]``
(:class:`~reference_impl.paxos.core.Ready`). :meth:`PaxosStorage.write` appends everything a
Ready produced and makes it durable with one ``fdatasync`` (group commit: the server hands it
every record produced since the last write). On recovery a torn or corrupt tail (a crash in the
middle of a write) is cut off: it was never synced, so nothing that depends on it was ever sent.
:func:`~reference_impl.paxos.core.replay` turns the records into the core's state.

Planted bugs: ``no-fsync`` keeps records in process memory and hands them to the OS only every
second, never syncing (a ``kill -9`` loses recent promises and acceptances);
``forget-accepted`` never writes ``accept`` records (promises and learned slots are written).
"""

from __future__ import annotations

import json
import os
import struct
import zlib

from reference_impl.paxos.core import PersistentState, Ready, replay

_HEADER = struct.Struct(">II")


def encode_record(record: list) -> bytes:
    """One framed record: length, CRC-32 of the payload, JSON payload."""
    payload = json.dumps(record, separators=(",", ":")).encode()
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode_records(data: bytes) -> tuple[list, int]:
    """The records at the start of ``data`` and the length of the good prefix (a torn or corrupt
    record ends it)."""
    records, pos = [], 0
    while pos + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if end > len(data):
            break
        payload = data[pos + _HEADER.size:end]
        if zlib.crc32(payload) != crc:
            break
        try:
            records.append(json.loads(payload))
        except ValueError:
            break
        pos = end
    return records, pos


class PaxosStorage:
    """The durable state of one node in ``directory`` (created when missing)."""

    def __init__(self, directory: str, *, bug: str | None = None):
        self.dir = directory
        self.bug = bug
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "paxos.log")
        self.lazy: list[bytes] = []       # no-fsync bug: records not yet handed to the OS
        self.fsyncs = 0
        self.records_written = 0
        self._file = None

    def load(self) -> PersistentState:
        """Read what is durable, cut a torn tail, and return the state to build a core from."""
        records: list = []
        if os.path.exists(self.path):
            with open(self.path, "rb") as f:
                data = f.read()
            records, good = decode_records(data)
            if good != len(data):
                with open(self.path, "r+b") as f:
                    f.truncate(good)
                    f.flush()
                    os.fsync(f.fileno())
        self.records_written = len(records)
        self._file = open(self.path, "ab")
        return replay(records)

    def write(self, r: Ready) -> None:
        """Append the Ready's records; one fdatasync when it has acceptor records (``writes``).
        Learned slots alone are only handed to the OS (see the Ready contract)."""
        blobs = [encode_record(rec) for rec in r.writes
                 if not (self.bug == "forget-accepted" and rec[0] == "accept")]
        must_sync = bool(blobs)
        blobs += [encode_record(rec) for rec in r.learned]
        if not blobs:
            return
        if self.bug == "no-fsync":
            self.lazy.extend(blobs)
            return
        self._file.write(b"".join(blobs))
        self._file.flush()
        if must_sync:
            os.fdatasync(self._file.fileno())
            self.fsyncs += 1
        self.records_written += len(blobs)

    def needs_sync(self, r: Ready) -> bool:
        """Whether :meth:`write` of ``r`` will fsync (the server runs those in a thread)."""
        return bool(r.writes) and self.bug != "no-fsync"

    def flush_lazy(self) -> None:
        """no-fsync bug: hand buffered records to the OS (still no fsync)."""
        if not self.lazy or self._file is None:
            return
        blobs, self.lazy = self.lazy, []
        self._file.write(b"".join(blobs))
        self._file.flush()
        self.records_written += len(blobs)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
