"""LoadedVectors: the vector index one `Index` searches and writes, held in memory.

It is the one owner of that copy and of the store generation it reflects: loaded from
the vector file on first use and after another process's write, rebuilt from the
stored embeddings when the file lags the store (a reader keeps the rebuilt copy in
memory, the writer-lock holder saves it), and changed by the write path only through
`mark_current`, `replace` and `save_if_current`.
"""

from __future__ import annotations

import threading

import numpy as np

from .locking import WriterLock
from .state import IndexState
from .store import DocumentStore
from .vectors import IVF, VectorIndex, choose_kind

# IVF cells are trained on up to this many stored embeddings (FAISS wants 39+ per cell).
TRAINING_ROWS = 200_000


class LoadedVectors:
    """The in-memory vector index of one open index, kept in step with its store."""

    def __init__(
        self, state: IndexState, store: DocumentStore, lock: WriterLock, mmap: bool = False
    ) -> None:
        self.state = state
        self.store = store
        self.mmap = mmap
        self._lock = lock
        self._vectors: VectorIndex | None = None
        self._generation = -1
        self._loading = threading.Lock()  # one load even when searching threads race
        # True when this process had to rebuild the vector file in memory (it lagged the
        # store after an interrupted write); a reader never writes, the next writer saves.
        self.rebuilt_in_memory = False

    def fresh(self) -> VectorIndex:
        """The vector index at the store's current generation, loaded or rebuilt as needed."""
        generation = self.store.generation
        vectors = self._vectors
        if vectors is not None and self._generation == generation:
            return vectors
        with self._loading:
            if self._vectors is not None and self._generation == generation:
                return self._vectors
            return self._load(generation)

    def current(self) -> VectorIndex | None:
        """The vectors held, if they match the store now; None otherwise."""
        if self._vectors is not None and self._generation == self.store.generation:
            return self._vectors
        return None

    def mark_current(self) -> None:
        """The held vectors were changed in place to match the store's new generation."""
        self._generation = self.store.generation

    def replace(self, vectors: VectorIndex | None = None) -> VectorIndex:
        """Hold `vectors` (by default a new build from the stored embeddings) as the store's
        current generation."""
        self._vectors = vectors if vectors is not None else self.build_from_store()
        self._generation = self.store.generation
        return self._vectors

    def save_if_current(self) -> None:
        """Save the held vectors if they match the store (writer lock only); else the next
        open rebuilds them."""
        vectors = self.current()
        if vectors is not None:
            self.state.save_vectors(vectors, self._generation)

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

    def _load(self, generation: int) -> VectorIndex:
        manifest = self.state.read()
        mmap = self.mmap and not self._lock.held
        vectors = self.state.load_vectors(manifest, generation, self.store.chunk_count(), mmap)
        if vectors is None:
            vectors = self.build_from_store()
            if self._lock.held:
                self.state.save_vectors(vectors, generation)
            else:
                self.rebuilt_in_memory = True
        self._vectors, self._generation = vectors, generation
        return vectors
