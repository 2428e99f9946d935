"""IndexState: the one owner of an index's mutable state, `manifest.json` and `vectors.faiss`.

Anyone may read them. Only the holder of the writer lock changes them, and always by
read-modify-write from a fresh read of the manifest, so a long-lived process never
writes back a stale copy over another process's `rebuild --index-type` or new encoder.
The vector file is in place before the manifest records its generation, so the
recorded generation can lag the store but never lead it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import IndexCorrupt
from .locking import WriterLock
from .manifest import Manifest
from .vectors import VECTORS_FILE, VectorIndex


class IndexState:
    """Reads and (under the writer lock) changes an index folder's manifest and vector file."""

    def __init__(self, path: Path, lock: WriterLock) -> None:
        self.path = path
        self._lock = lock

    def read(self) -> Manifest:
        """The manifest as it is on disk now."""
        return Manifest.read(self.path)

    def update(self, change: Callable[[Manifest], Manifest]) -> Manifest:
        """Apply `change` to a fresh read of the manifest and write it; returns the result."""
        self._require_lock()
        manifest = change(self.read())
        manifest.write(self.path)
        return manifest

    def load_vectors(
        self, manifest: Manifest, generation: int, count: int, mmap: bool
    ) -> VectorIndex | None:
        """The saved vector file if it matches the store (`generation`, `count` chunks),
        else None: missing, stale (an interrupted write) or unreadable."""
        file = self.path / VECTORS_FILE
        if manifest.vectors_generation != generation or not file.exists():
            return None
        try:
            vectors = VectorIndex.load(file, mmap, manifest.trained_on)
        except IndexCorrupt:
            return None
        return vectors if len(vectors) == count else None

    def save_vectors(self, vectors: VectorIndex, generation: int) -> Manifest:
        """Write the vector file, then record in the manifest what it is and which store
        generation it holds; returns the new manifest."""
        self._require_lock()
        vectors.save(self.path / VECTORS_FILE)
        return self.update(
            lambda m: m.with_generation(
                generation, vectors.kind, vectors.cells, vectors.nprobe, vectors.trained_on
            )
        )

    def _require_lock(self) -> None:
        if not self._lock.held:
            raise RuntimeError("the index's state changes only under its writer lock")
