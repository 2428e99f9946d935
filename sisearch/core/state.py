"""IndexState: the one owner of an index's mutable state: `manifest.json`, `vectors.faiss` and
the derived `vocabulary.tsv`.

Anyone may read them. Only the holder of the writer lock changes them, and always by
read-modify-write from a fresh read of the manifest, so a long-lived process never
writes back a stale copy over another process's `rebuild --index-type` or new encoder.
The vector file is in place before the manifest records its generation, so the
recorded generation can lag the store but never lead it. Most writes append to the vector
log instead of saving the vector file (vector_log.py): the record is fsynced before the
manifest names it, so the same holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..errors import IndexCorrupt
from . import vocabulary_file
from .locking import WriterLock
from .manifest import Manifest
from .segments import SegmentedVectors
from .vector_log import (
    LogRecord,
    LogUnreadable,
    append,
    new_token,
    read_records,
    start_log,
)
from .vectors import VECTORS_FILE, VectorIndex


class IndexState:
    """Reads and (under the writer lock) changes an index folder's manifest and vector file.

    `manifest` is the last one read or written here: the copy every part of an `Index`
    uses, replaced only by this class."""

    def __init__(self, path: Path, lock: WriterLock, manifest: Manifest | None = None) -> None:
        self.path = path
        self._lock = lock
        self._manifest = manifest

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = Manifest.read(self.path)
        return self._manifest

    def read(self) -> Manifest:
        """The manifest as it is on disk now (kept as `manifest`)."""
        self._manifest = Manifest.read(self.path)
        return self._manifest

    def update(self, change: Callable[[Manifest], Manifest]) -> Manifest:
        """Apply `change` to a fresh read of the manifest and write it; returns the result."""
        self._require_lock()
        manifest = change(self.read())
        manifest.write(self.path)
        self._manifest = manifest
        return manifest

    def load_vectors(
        self, manifest: Manifest, generation: int, count: int, mmap: bool
    ) -> SegmentedVectors | None:
        """The saved vectors (the file, and the log's records after it, kept beside it) if
        they match the store (`generation`, `count` chunks; -1: any), else None: missing,
        stale (an interrupted write) or unreadable."""
        file = self.path / VECTORS_FILE
        if manifest.vectors_generation != generation or not file.exists():
            return None
        try:
            base = VectorIndex.load(file, mmap, manifest.trained_on)
            vectors = SegmentedVectors(base, token=self.token(manifest))
            if manifest.vectors_token:
                header, records = read_records(
                    self.path, vectors.token, base.dim, 0, manifest.log_bytes
                )
                if not chained(records, header.base_generation, generation):
                    return None
                vectors = vectors.applied(records, manifest.log_bytes)
        except (IndexCorrupt, LogUnreadable, ValueError):
            return None
        return vectors if count < 0 or len(vectors) == count else None

    def saved_vectors(self) -> SegmentedVectors | None:
        """What the vector file and log hold now, whatever the store says; None if
        unreadable (for checks and tools: searches use `load_vectors`)."""
        manifest = self.read()
        return self.load_vectors(manifest, manifest.vectors_generation, -1, False)

    def caught_up(
        self, held: SegmentedVectors, held_generation: int, manifest: Manifest, generation: int
    ) -> SegmentedVectors | None:
        """`held` (the saved vectors at `held_generation`) brought to `generation` by
        reading only the log records past it; None where the log cannot do that (the file
        was saved again since, or the log does not reach `generation`)."""
        if (
            manifest.vectors_generation != generation
            or not manifest.vectors_token
            or held.token != self.token(manifest)
            or not held.log_offset <= manifest.log_bytes
        ):
            return None
        try:
            _, records = read_records(
                self.path, held.token, held.dim, held.log_offset, manifest.log_bytes
            )
        except LogUnreadable:
            return None
        if not chained(records, held_generation, generation):
            return None
        return held.applied(records, manifest.log_bytes)

    @staticmethod
    def token(manifest: Manifest) -> bytes:
        return bytes.fromhex(manifest.vectors_token) if manifest.vectors_token else b""

    def save_vectors(self, vectors: VectorIndex, generation: int) -> Manifest:
        """Write the vector file and a new empty log extending it, then record in the
        manifest what they are and which store generation they hold; returns the new
        manifest. The log goes first: a reader that meets the new log with the old
        manifest finds their tokens disagree and rebuilds, never applying the old
        records twice."""
        self._require_lock()
        token = new_token()
        size = start_log(self.path, vectors.dim, token, generation)
        file = self.path / VECTORS_FILE
        vectors.save(file)
        saved = file.stat().st_size
        return self.update(
            lambda m: m.with_generation(
                generation, vectors.kind, vectors.cells, vectors.nprobe, vectors.trained_on
            ).with_log(saved, len(vectors), token.hex(), size)
        )

    def append_vectors(self, record: LogRecord, dim: int) -> Manifest:
        """Append a write's changes to the vector log (the vector file stays as it is);
        returns the new manifest. The manifest's generation must be the record's start."""
        self._require_lock()
        manifest = self.read()
        if manifest.vectors_generation != record.start:
            raise ValueError("the vector log does not reach the write's first generation")
        token = self.token(manifest)
        if not token:
            raise ValueError("the vector file has no log (saved by an older sisearch)")
        size = append(self.path, token, manifest.log_bytes, record, dim)
        rows = manifest.log_rows + len(record.added_ids) + len(record.removed)
        return self.update(lambda m: m.with_logged(record.end, size, rows))

    def load_vocabulary(self, generation: int) -> list[tuple[str, int]] | None:
        """The saved vocabulary (word, document count) at `generation`, None if the saved
        files do not reach it (vocabulary_file.py)."""
        return vocabulary_file.load(self.path, generation)

    def save_vocabulary(self, generation: int, counts: Sequence[tuple[str, int]]) -> None:
        """Write the keyword table's whole vocabulary as of `generation`, atomically:
        reading it from SQLite costs 0.4 s at 100k passages and 1.8 s at 1M
        (bench/romanized.py), where loading this file costs 26 and 144 ms."""
        self._require_lock()
        vocabulary_file.save(self.path, generation, counts)

    def append_vocabulary(self, start: int, end: int, changes: Mapping[str, int]) -> bool:
        """Record one write's changes to the vocabulary (generations `start` -> `end`)
        without rewriting it; False where the whole file is due instead."""
        self._require_lock()
        return vocabulary_file.append(self.path, start, end, changes)

    def _require_lock(self) -> None:
        if not self._lock.held:
            raise RuntimeError("the index's state changes only under its writer lock")


def chained(records: list[LogRecord], start: int, end: int) -> bool:
    """Whether `records` lead, each from where the last stopped, from `start` to `end`."""
    at = start
    for record in records:
        if record.start != at:
            return False
        at = record.end
    return at == end
