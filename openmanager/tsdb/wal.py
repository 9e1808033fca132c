"""Write-ahead log: numbered segments of CRC-framed records, replayed and repaired on open.

Layout under the WAL directory: segments `00000000`, `00000001`, ... and at most one
`checkpoint.NNNNNNNN` holding the live head state that replaces every segment below NNNNNNNN.
A torn or corrupted tail is cut at the last good record, with a warning saying what was lost.

Group commit: `append(record, sync=False)` writes a record and returns its sequence number;
`sync(seq)` returns once that record is on disk. Concurrent writers waiting in `sync` share
one fdatasync (whoever syncs covers every record written before it started).
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from openmanager.errors import InvalidInput, Unavailable
from openmanager.observability.metrics import WAL_FSYNC_SECONDS
from openmanager.tsdb import wal_records
from openmanager.tsdb.wal_records import RecordType, WalRecord

log = logging.getLogger(__name__)

SEGMENT_SIZE = 64 * 1024 * 1024
MAX_RECORD = 1 << 31
HEADER = struct.Struct("<BBII")
"""type, flags, payload length, CRC32 of (type, flags, length, payload)."""

_SEGMENT_RE = re.compile(r"^\d{8}$")
_CHECKPOINT_RE = re.compile(r"^checkpoint\.(\d{8})$")
_VALID_TYPES = frozenset(int(t) for t in RecordType)


def frame(rtype: int, flags: int, payload: bytes) -> bytes:
    """One record as it sits on disk: header then payload."""
    crc = zlib.crc32(payload, zlib.crc32(HEADER.pack(rtype, flags, len(payload), 0)[:6]))
    return HEADER.pack(rtype, flags, len(payload), crc) + payload


@dataclass
class ScanResult:
    """Records read from one file and where the good prefix ends."""

    records: list[WalRecord]
    good_bytes: int
    total_bytes: int
    error: str = ""


def scan(data: bytes) -> ScanResult:
    """Read records until the end or the first torn/corrupted one (a loop per record)."""
    pos, records = 0, list[WalRecord]()
    while pos < len(data):
        if len(data) - pos < HEADER.size:
            return ScanResult(records, pos, len(data), "partial record header")
        rtype, flags, length, crc = HEADER.unpack_from(data, pos)
        if rtype not in _VALID_TYPES:
            return ScanResult(records, pos, len(data), f"unknown record type {rtype}")
        end = pos + HEADER.size + length
        if length > MAX_RECORD or end > len(data):
            return ScanResult(records, pos, len(data), "record runs past the end of the file")
        payload = data[pos + HEADER.size : end]
        expect = zlib.crc32(payload, zlib.crc32(data[pos : pos + 6]))
        if expect != crc:
            return ScanResult(records, pos, len(data), "CRC mismatch")
        try:
            records.append(wal_records.decode(rtype, flags, payload))
        except InvalidInput as exc:
            return ScanResult(records, pos, len(data), exc.message)
        pos = end
    return ScanResult(records, pos, len(data))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class WriteAheadLog:
    """Append records durably; replay (and repair) what a previous process left behind."""

    def __init__(self, directory: Path, *, fsync: bool = True, segment_size: int = SEGMENT_SIZE):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.segment_size = segment_size
        self._fd: int | None = None
        self._segment = -1
        self._segment_bytes = 0
        self._replayed = False
        self._written = 0
        """Sequence number of the last record written (appends hold the caller's lock)."""
        self._synced = 0
        """Sequence number up to which every record is known to be on disk."""
        self._sync_lock = threading.Lock()
        """Held while syncing or swapping the segment file, so an fd is never synced closed."""

    # -- files -------------------------------------------------------------------------------

    def segments(self) -> list[int]:
        """Numbers of the segment files present, ascending."""
        return sorted(int(p.name) for p in self.dir.iterdir() if _SEGMENT_RE.match(p.name))

    def _checkpoints(self) -> list[int]:
        found = []
        for p in self.dir.iterdir():
            m = _CHECKPOINT_RE.match(p.name)
            if m:
                found.append(int(m.group(1)))
        return sorted(found)

    def _seg_path(self, n: int) -> Path:
        return self.dir / f"{n:08d}"

    def size_bytes(self) -> int:
        """Bytes the WAL occupies on disk (segments and checkpoint)."""
        return sum(p.stat().st_size for p in self.dir.iterdir() if p.is_file())

    # -- replay --------------------------------------------------------------------------------

    def replay(self) -> Iterator[WalRecord]:
        """Yield every record of the checkpoint and later segments, repairing torn tails.

        Must be consumed fully before the first `append`; appends then go to a fresh segment.
        """
        for tmp in self.dir.glob("*.tmp"):
            tmp.unlink()
        checkpoints = self._checkpoints()
        first = checkpoints[-1] if checkpoints else 0
        for old in checkpoints[:-1]:
            (self.dir / f"checkpoint.{old:08d}").unlink()
        for seg in self.segments():
            if seg < first:
                self._seg_path(seg).unlink()
        if checkpoints:
            cp = self.dir / f"checkpoint.{first:08d}"
            res = scan(cp.read_bytes())
            if res.error:
                self._cut(cp, res, [])
            yield from res.records
        segs = self.segments()
        for i, seg in enumerate(segs):
            path = self._seg_path(seg)
            res = scan(path.read_bytes())
            yield from res.records
            if res.error:
                self._cut(path, res, [self._seg_path(s) for s in segs[i + 1 :]])
                break
        self._replayed = True
        self._open_segment((segs[-1] + 1) if segs else first)

    def _cut(self, path: Path, res: ScanResult, later: list[Path]) -> None:
        """Truncate a file at its last good record and drop the segments after it."""
        dropped = res.total_bytes - res.good_bytes
        later_bytes = later_records = 0
        for p in later:
            data = p.read_bytes()
            later_bytes += len(data)
            later_records += len(scan(data).records)
            p.unlink()
        with open(path, "r+b") as f:
            f.truncate(res.good_bytes)
            f.flush()
            os.fsync(f.fileno())
        log.warning(
            "WAL %s: %s at byte %d; cut there, dropping %d bytes (the damaged record and "
            "everything after it); kept %d records before it%s",
            path,
            res.error,
            res.good_bytes,
            dropped,
            len(res.records),
            f"; also removed {len(later)} later segment(s) ({later_bytes} bytes, "
            f"{later_records} readable records)"
            if later
            else "",
        )

    # -- append --------------------------------------------------------------------------------

    def _open_segment(self, n: int) -> None:
        with self._sync_lock:
            if self._fd is not None:
                if self.fsync and self._synced < self._written:
                    os.fdatasync(self._fd)  # records still waiting for a group sync
                self._synced = self._written
                os.close(self._fd)
            path = self._seg_path(n)
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._segment = n
            self._segment_bytes = os.fstat(self._fd).st_size
            if self.fsync:
                _fsync_dir(self.dir)

    def append(self, record: WalRecord, *, sync: bool = True) -> int:
        """Write one record; returns its sequence number. With `sync` (the default) it survives
        a crash of the process and (fsync on) of the machine once this returns; without, it
        does once `sync(seq)` returns. Callers serialise appends (the storage's head lock)."""
        if not self._replayed:
            raise Unavailable("WAL must be replayed before it is appended to")
        data = frame(*wal_records.encode(record))
        if self._segment_bytes and self._segment_bytes + len(data) > self.segment_size:
            self._open_segment(self._segment + 1)
        if self._fd is None:
            raise Unavailable("WAL is closed")
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            # Never leave a half-written record in front of later ones.
            os.ftruncate(self._fd, self._segment_bytes)
            raise Unavailable(f"cannot write the WAL in {self.dir}: {exc}") from exc
        self._segment_bytes += len(data)
        self._written += 1
        seq = self._written
        if sync:
            self.sync(seq)
        return seq

    def sync(self, seq: int) -> None:
        """Return once record `seq` (and every one before it) is on disk; one fdatasync covers
        all records written by the time it starts, so concurrent callers share it."""
        if not self.fsync or self._synced >= seq:
            return
        with self._sync_lock:
            if self._synced >= seq:
                return  # another caller's sync covered it
            if self._fd is None:
                raise Unavailable("WAL is closed")
            upto = self._written
            try:
                with WAL_FSYNC_SECONDS.time():
                    os.fdatasync(self._fd)
            except OSError as exc:
                raise Unavailable(f"cannot sync the WAL in {self.dir}: {exc}") from exc
            self._synced = upto

    def checkpoint(self, records: Iterable[WalRecord]) -> None:
        """Replace every segment written so far by `records` (the live head state)."""
        if not self._replayed:
            raise Unavailable("WAL must be replayed before it is checkpointed")
        self._open_segment(self._segment + 1)
        upto = self._segment
        final = self.dir / f"checkpoint.{upto:08d}"
        tmp = final.with_name(final.name + ".tmp")
        with open(tmp, "wb") as f:
            for rec in records:
                f.write(frame(*wal_records.encode(rec)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.dir)
        for old in self._checkpoints():
            if old < upto:
                (self.dir / f"checkpoint.{old:08d}").unlink()
        for seg in self.segments():
            if seg < upto:
                self._seg_path(seg).unlink()

    def close(self) -> None:
        """Flush and close the current segment."""
        with self._sync_lock:
            if self._fd is not None:
                if self.fsync:
                    os.fsync(self._fd)
                self._synced = self._written
                os.close(self._fd)
                self._fd = None
