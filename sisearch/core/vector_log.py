"""The vector log: a write appends the vectors it added and the ids it removed, instead of
saving the whole vector file again.

Why: saving the vector file costs O(n) a write (0.2 s at 100k passages, about 2 s at
1M), so an API adding three passages at a time paid for the whole index each time, and a
reader that saw a newer store rebuilt its vectors from SQLite. The log makes both cost
what the write added: the writer appends one record and fsyncs it before the manifest
names it (`log_bytes`), and a reader reads only the records past the ones it holds.

Layout: a header (magic, dimension, the token of the vector file it extends, that file's
store generation), then records (tag, first and last store generation, counts, added ids,
added vectors as float32, removed ids, CRC32 of all of it). A record's removals apply
before its additions. The manifest's `vectors_token` ties the log to the one vector file
it extends: when the vector file is saved again, a new log with a new token replaces this
one, and a reader that finds tokens disagreeing loads again or rebuilds.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LOG_FILE = "vectors.log"
_MAGIC = b"SISVLOG1"
_HEADER = struct.Struct("<8sI16sq")  # magic, dim, token, base generation
_TAG = b"SVR1"
_RECORD = struct.Struct("<4sqqII")  # tag, from generation, to generation, added, removed
_CRC = struct.Struct("<I")
HEADER_BYTES = _HEADER.size


class LogUnreadable(Exception):
    """The log does not extend the vector file the manifest names, or is damaged."""


@dataclass(frozen=True)
class LogRecord:
    """One write's changes to the vectors: store generations `start` -> `end`."""

    start: int
    end: int
    added_ids: np.ndarray
    added: np.ndarray
    removed: np.ndarray

    def encode(self, dim: int) -> bytes:
        added_ids = np.ascontiguousarray(self.added_ids, dtype="<i8")
        added = np.ascontiguousarray(self.added, dtype="<f4").reshape(len(added_ids), dim)
        removed = np.ascontiguousarray(self.removed, dtype="<i8")
        head = _RECORD.pack(_TAG, self.start, self.end, len(added_ids), len(removed))
        body = head + added_ids.tobytes() + added.tobytes() + removed.tobytes()
        return body + _CRC.pack(zlib.crc32(body))


@dataclass(frozen=True)
class LogHeader:
    dim: int
    token: bytes
    base_generation: int


def new_token() -> bytes:
    return os.urandom(16)


def start_log(folder: Path, dim: int, token: bytes, base_generation: int) -> int:
    """Replace the log with an empty one extending the vector file of `token`, atomically;
    returns its size in bytes."""
    file = folder / LOG_FILE
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as out:
            out.write(_HEADER.pack(_MAGIC, dim, token, base_generation))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, file)
    finally:
        temporary.unlink(missing_ok=True)
    return HEADER_BYTES


def append(folder: Path, token: bytes, valid_bytes: int, record: LogRecord, dim: int) -> int:
    """Append `record` after the first `valid_bytes` (what the manifest names; anything
    past it is a write that never finished) and fsync; returns the new valid size.
    LogUnreadable if the log is not the one of `token`."""
    with open(folder / LOG_FILE, "r+b") as log:
        header = _read_header(log.read(HEADER_BYTES))
        if header.token != token or header.dim != dim:
            raise LogUnreadable("the vector log belongs to another vector file")
        log.truncate(valid_bytes)
        log.seek(valid_bytes)
        log.write(record.encode(dim))
        log.flush()
        os.fsync(log.fileno())
        return log.tell()


def log_intact(folder: Path, token: bytes, dim: int, valid_bytes: int) -> bool:
    """Whether the log is the one of `token` and holds at least `valid_bytes` (a cheap
    check, reading the header only)."""
    try:
        with open(folder / LOG_FILE, "rb") as log:
            header = _read_header(log.read(HEADER_BYTES))
            size = os.fstat(log.fileno()).st_size
    except (OSError, LogUnreadable):
        return False
    return header.token == token and header.dim == dim and size >= valid_bytes


def read_records(
    folder: Path, token: bytes, dim: int, start: int, end: int
) -> tuple[LogHeader, list[LogRecord]]:
    """The header and the records between byte offsets `start` (HEADER_BYTES or where an
    earlier read stopped) and `end`; LogUnreadable if the log is another vector file's,
    shorter than `end`, or damaged."""
    try:
        with open(folder / LOG_FILE, "rb") as log:
            header = _read_header(log.read(HEADER_BYTES))
            if header.token != token or header.dim != dim:
                raise LogUnreadable("the vector log belongs to another vector file")
            log.seek(max(start, HEADER_BYTES))
            data = log.read(max(0, end - max(start, HEADER_BYTES)))
    except OSError as e:
        raise LogUnreadable(f"the vector log cannot be read: {e}") from None
    if len(data) != max(0, end - max(start, HEADER_BYTES)):
        raise LogUnreadable("the vector log is shorter than the manifest says")
    records = []
    offset = 0
    while offset < len(data):
        record, offset = _decode(data, offset, dim)
        records.append(record)
    return header, records


def _read_header(data: bytes) -> LogHeader:
    if len(data) != HEADER_BYTES:
        raise LogUnreadable("the vector log has no header")
    magic, dim, token, base_generation = _HEADER.unpack(data)
    if magic != _MAGIC:
        raise LogUnreadable("not a vector log")
    return LogHeader(dim, token, base_generation)


def _decode(data: bytes, offset: int, dim: int) -> tuple[LogRecord, int]:
    if offset + _RECORD.size > len(data):
        raise LogUnreadable("a vector log record is cut short")
    tag, start, end, added, removed = _RECORD.unpack_from(data, offset)
    if tag != _TAG:
        raise LogUnreadable("a vector log record is damaged")
    size = _RECORD.size + added * 8 + added * dim * 4 + removed * 8
    if offset + size + _CRC.size > len(data):
        raise LogUnreadable("a vector log record is cut short")
    body = data[offset : offset + size]
    (crc,) = _CRC.unpack_from(data, offset + size)
    if zlib.crc32(body) != crc:
        raise LogUnreadable("a vector log record fails its checksum")
    at = offset + _RECORD.size
    added_ids = np.frombuffer(data, dtype="<i8", count=added, offset=at).astype(np.int64)
    at += added * 8
    vectors = np.frombuffer(data, dtype="<f4", count=added * dim, offset=at)
    vectors = vectors.astype(np.float32).reshape(added, dim)
    at += added * dim * 4
    removed_ids = np.frombuffer(data, dtype="<i8", count=removed, offset=at).astype(np.int64)
    return LogRecord(start, end, added_ids, vectors, removed_ids), offset + size + _CRC.size


class PendingChanges:
    """What one write has added and removed so far, for its log record.

    A removal of a vector this write added drops the addition (it never reaches the
    log); any other removal is recorded, and a record's removals apply before its
    additions, so an id removed and added again in one write ends up added."""

    def __init__(self, generation: int) -> None:
        self.start = self.end = generation
        self._added: dict[int, np.ndarray] = {}
        self._removed: set[int] = set()

    @property
    def rows(self) -> int:
        return len(self._added) + len(self._removed)

    def add(self, ids: np.ndarray, vectors: np.ndarray, generation: int) -> None:
        for chunk_id, vector in zip(np.asarray(ids).tolist(), vectors):
            self._added[chunk_id] = vector
        self.end = generation

    def remove(self, ids: np.ndarray, generation: int) -> None:
        for chunk_id in np.asarray(ids).tolist():
            if self._added.pop(chunk_id, None) is None:
                self._removed.add(chunk_id)
        self.end = generation

    def record(self, dim: int) -> LogRecord:
        ids = np.fromiter(self._added, dtype=np.int64, count=len(self._added))
        vectors = (
            np.vstack(list(self._added.values())).astype(np.float32)
            if self._added
            else np.zeros((0, dim), dtype=np.float32)
        )
        removed = np.fromiter(sorted(self._removed), dtype=np.int64, count=len(self._removed))
        return LogRecord(self.start, self.end, ids, vectors, removed)
