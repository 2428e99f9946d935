"""VectorIndex: the FAISS index over chunk embeddings, derived from the store and rebuildable.

Vectors are L2-normalized, so FAISS's inner product is the cosine similarity.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexCorrupt

VECTORS_FILE = "vectors.faiss"
FLAT = "flat"
# FAISS parallelizes over queries; below this many, extra OpenMP threads only contend with
# torch's still-spinning threads (measured here: a whole dense query on 100k vectors with
# the tiny test encoder went from 8.0 to 2.5 ms).
PARALLEL_QUERIES = 16


@contextmanager
def _threads_for(queries: int) -> Iterator[None]:
    import faiss

    if queries >= PARALLEL_QUERIES:
        yield
        return
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class VectorIndex:
    """Exact inner-product search (`IndexIDMap2` over `IndexFlatIP`) keyed by chunk id."""

    def __init__(self, index: Any, kind: str = FLAT) -> None:
        self._index = index
        self.kind = kind

    @classmethod
    def create(cls, dim: int) -> VectorIndex:
        import faiss

        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        """Read a saved index; IndexCorrupt if the file is unreadable."""
        import faiss

        try:
            return cls(faiss.read_index(str(path)))
        except RuntimeError as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else "unreadable"
            raise IndexCorrupt(f"{path}: {reason}") from None

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )

    def remove(self, ids: np.ndarray) -> None:
        """Remove vectors by id."""
        import faiss

        if len(ids):
            self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query; ids of -1 mark missing results.

        With `allowed`, only those ids are considered, inside the search itself, so a
        filter never shortens the list while enough allowed vectors exist.
        """
        import faiss

        k = max(1, min(k, len(self) if allowed is None else len(allowed)))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        params = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            params = faiss.SearchParameters(sel=selector)
        with _threads_for(len(queries)):
            return self._index.search(queries, k, params=params)

    def save(self, path: Path) -> None:
        """Write atomically: a reader sees the old file or the new one, never half of one."""
        import faiss

        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            faiss.write_index(self._index, str(temporary))
            with open(temporary, "rb") as f:
                os.fsync(f.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
