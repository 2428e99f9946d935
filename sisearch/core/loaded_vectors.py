"""LoadedVectors: the vector index one `Index` searches and writes, held in memory.

It is the one owner of that copy and of the store generation it reflects. Searches get
the saved vectors: the vector file with the vector log's records beside it
(SegmentedVectors), loaded on first use and caught up on another process's write by
reading only the new records; rebuilt from the stored embeddings when the saved vectors
lag the store (a reader keeps the rebuilt copy in memory, the writer-lock holder saves
it). A write records what it adds and removes and appends that to the log at the end
(`begin_write`, `add`, `remove`, `save_if_current`): it costs what it adds, not the
index's size. A write that replaces the vectors (a rebuild, a change of kind) or that
grows the log past COMPACT_ROWS works on a whole in-memory index and saves the file.
"""

from __future__ import annotations

import threading

import numpy as np

from .locking import WriterLock
from .manifest import Manifest
from .segments import SegmentedVectors
from .state import IndexState
from .store import DocumentStore
from .vector_log import LogUnreadable, PendingChanges, log_intact
from .vectors import IVF, VECTORS_FILE, VectorIndex, choose_kind

# IVF cells are trained on up to this many stored embeddings (FAISS wants 39+ per cell).
TRAINING_ROWS = 200_000
# The log is folded into the vector file once it holds this many rows (added or removed):
# a reader copies the log's vectors on each catch-up and scores them exactly, so the log
# stays small (20,000 768-d rows: 60 MB, about 2 ms a query), and a save of the whole file
# (2 s at 1M vectors) comes at most once per COMPACT_ROWS rows written.
COMPACT_ROWS = 20_000
MIN_COMPACT_ROWS = 2_000

Searchable = VectorIndex | SegmentedVectors


def compact_rows(count: int) -> int:
    """Log rows past which the log is folded into the file, for an index of `count`."""
    return max(MIN_COMPACT_ROWS, min(COMPACT_ROWS, count // 20))


class LoadedVectors:
    """The in-memory vector index of one open index, kept in step with its store."""

    def __init__(
        self, state: IndexState, store: DocumentStore, lock: WriterLock, mmap: bool = False
    ) -> None:
        self.state = state
        self.store = store
        self.mmap = mmap
        self._lock = lock
        self._vectors: Searchable | None = None
        self._generation = -1
        self._loading = threading.Lock()  # one load even when searching threads race
        # This write's changes while they go to the log; None when a write works on a
        # whole in-memory VectorIndex (which it then saves whole).
        self._pending: PendingChanges | None = None
        self._log_limit = 0  # the log rows past which this write folds the log into the file
        # True when this process had to rebuild the vector file in memory (it lagged the
        # store after an interrupted write); a reader never writes, the next writer saves.
        self.rebuilt_in_memory = False

    # Searching

    def fresh(self) -> Searchable:
        """The vector index at the store's current generation, loaded or rebuilt as needed."""
        generation = self.store.generation
        vectors = self._vectors
        if vectors is not None and self._generation == generation:
            return vectors
        with self._loading:
            if self._vectors is not None and self._generation == generation:
                return self._vectors
            return self._load(generation)

    def current(self) -> Searchable | None:
        """The vectors held, if they match the store now; None otherwise."""
        if self._vectors is not None and self._generation == self.store.generation:
            return self._vectors
        return None

    # Writing (writer lock held)

    def begin_write(self) -> None:
        """Start a write: its changes go to the log where the saved vectors match the
        store now (the usual case), else the saved vectors are repaired first (rebuilt
        from the store and saved: an interrupted write, a lost or damaged file)."""
        manifest = self.state.read()
        generation = self.store.generation
        if manifest.vectors_generation == generation and self._saved_intact(manifest):
            self._pending = PendingChanges(generation)
            self._log_limit = compact_rows(manifest.vectors_rows + manifest.log_rows)
            return
        self._pending = None
        self.state.save_vectors(self.whole(), generation)

    def _saved_intact(self, manifest: Manifest) -> bool:
        """Whether the vector file is there at the size its save recorded and the log is
        its own and long enough: cheap checks (loading the file costs O(n)); a file of
        unknown size, saved by an older sisearch, is loaded once and saved again."""
        try:
            size = (self.state.path / VECTORS_FILE).stat().st_size
        except OSError:
            return False
        if not manifest.vectors_bytes or size != manifest.vectors_bytes:
            return False
        token = self.state.token(manifest)
        return bool(token) and log_intact(self.state.path, token, self.dim, manifest.log_bytes)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """This write added `vectors` under chunk `ids` (already in the store)."""
        pending = self._pending
        if pending is not None:
            pending.add(ids, vectors, self.store.generation)
            if pending.rows > self._log_limit:
                self.whole()  # the log would outgrow its limit: fold it in now
            return
        self._whole_held().add(ids, vectors)
        self._generation = self.store.generation

    def remove(self, ids: np.ndarray) -> None:
        """This write removed chunk `ids` (already gone from the store)."""
        if self._pending is not None:
            self._pending.remove(ids, self.store.generation)
            return
        vectors = self._whole_held()
        if vectors.can_remove:
            vectors.remove(ids)
            self._generation = self.store.generation
        else:  # an HNSW graph cannot drop nodes: rebuild it from the stored embeddings
            self.replace()

    def kind(self) -> tuple[str, int] | None:
        """(kind, rows its IVF cells were trained on) of the vectors this write keeps, None
        if they no longer match the store."""
        if self._pending is not None:
            if self._pending.end != self.store.generation:
                return None
            manifest = self.state.manifest
            return manifest.vectors_kind, manifest.trained_on
        vectors = self.current()
        return None if vectors is None else (vectors.kind, vectors.trained_on)

    def replace(self, vectors: VectorIndex | None = None) -> VectorIndex:
        """Hold `vectors` (by default a new build from the stored embeddings) as the store's
        current generation; the write then saves the whole file."""
        self._pending = None
        held = vectors if vectors is not None else self.build_from_store()
        self._vectors, self._generation = held, self.store.generation
        return held

    def save_if_current(self) -> None:
        """Save this write (writer lock only): append its changes to the log, or save the
        whole index; nothing if the vectors no longer match the store (a group failed
        midway): the next open rebuilds them."""
        pending, generation = self._pending, self.store.generation
        if pending is not None:
            if pending.end != generation:
                return
            if self.state.read().log_rows + pending.rows <= self._log_limit:
                try:
                    self.state.append_vectors(pending.record(self.dim), self.dim)
                    self._pending = None
                    return
                except (ValueError, LogUnreadable):  # no log to extend: save the file
                    pass
            self.whole()
        vectors = self.current()
        if isinstance(vectors, VectorIndex):
            self.state.save_vectors(vectors, self._generation)

    @property
    def dim(self) -> int:
        return self.state.manifest.model.dim

    def _whole_held(self) -> VectorIndex:
        """The whole VectorIndex this write works on (made by `whole` at its start or when
        it left the log), one store generation behind while a group is being applied."""
        held = self._vectors
        if not isinstance(held, VectorIndex):
            raise RuntimeError("a write changes the vectors only after begin_write")
        return held

    def whole(self) -> VectorIndex:
        """A whole VectorIndex of the saved vectors and this write's changes, private to
        this process and held from now on (the write then saves the file): the held one
        if it is already that, else the file with the log applied, else a rebuild."""
        generation = self.store.generation
        held = self._vectors
        pending, self._pending = self._pending, None
        if pending is None and isinstance(held, VectorIndex) and self._generation == generation:
            return held
        start = pending.start if pending is not None else generation
        saved = self.state.load_vectors(self.state.read(), start, -1, mmap=False)
        if saved is not None and pending is not None:
            saved = saved.applied([pending.record(self.dim)], saved.log_offset)
        vectors = saved.materialized() if saved is not None else None
        if vectors is None or len(vectors) != self.store.chunk_count():
            vectors = self.build_from_store()
        self._vectors, self._generation = vectors, generation
        return vectors

    def build_from_store(self) -> VectorIndex:
        """A vector index of the kind the index's size calls for, from the stored embeddings."""
        manifest = self.state.manifest
        count = self.store.chunk_count()
        kind = choose_kind(manifest.index_type, count)
        dim = manifest.model.dim
        training = self.store.training_sample(TRAINING_ROWS) if kind == IVF else np.zeros((0, dim))
        return VectorIndex.build(
            kind, dim, self.store.iter_embeddings(), training, count, manifest.compress
        )

    def _load(self, generation: int) -> Searchable:
        if self._lock.held:
            return self.whole()
        manifest = self.state.read()
        count = self.store.chunk_count()
        held = self._vectors
        vectors: Searchable | None = None
        if isinstance(held, SegmentedVectors):
            vectors = self.state.caught_up(held, self._generation, manifest, generation)
            if vectors is not None and len(vectors) != count:
                vectors = None
        if vectors is None:
            vectors = self.state.load_vectors(manifest, generation, count, self.mmap)
        if vectors is None:
            vectors = self.build_from_store()
            self.rebuilt_in_memory = True
        self._vectors, self._generation = vectors, generation
        return vectors
