"""VectorIndex: the FAISS index over chunk embeddings, derived from the store and rebuildable.

Vectors are L2-normalized, so FAISS's inner product is the cosine similarity.

Kinds: `flat` (exact), `ivf` (inverted lists: k-means cells, a query scans `nprobe`
of them) and `hnsw` (a navigable graph). `compress` stores IVF vectors as 8-bit
scalars (SQ8, a quarter of the bytes). `choose_kind` picks by size: exact search
costs a full scan per query, about 100 ms at a million 768-d vectors here, where
IVF answers in about 1 ms at recall@10 above 0.95 (see bench/RESULTS.md).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexCorrupt, InvalidQuery

VECTORS_FILE = "vectors.faiss"
FLAT, IVF, HNSW, AUTO = "flat", "ivf", "hnsw", "auto"
KINDS = (AUTO, FLAT, IVF, HNSW)
# Exact search below this many vectors: a scan of 50k 768-d vectors takes a few ms here.
EXACT_LIMIT = 50_000
DEFAULT_NPROBE = 32
# An IVF index's default nprobe is tuned at build time to reach this recall@10 against
# exact search, measured on TUNING_QUERIES of its own training vectors.
TARGET_RECALL = 0.95
TUNING_QUERIES = 200
TUNING_K = 10
DEFAULT_EF = 256
HNSW_NEIGHBOURS = 32
# Measured at 1M clustered vectors: efConstruction 40 (FAISS's default) reached recall@10
# 0.91 at efSearch 256 and 0.93 at 1024; 100 reaches 0.998 at 256, for twice the build time.
HNSW_BUILD_EF = 100
# FAISS parallelizes over queries; below this many, extra OpenMP threads only contend with
# torch's still-spinning threads (measured here: a whole dense query on 100k vectors with
# the tiny test encoder went from 8.0 to 2.5 ms).
PARALLEL_QUERIES = 16


# IVF needs data to learn its cells from; below this, an "ivf" index stays exact for now.
MIN_IVF_TRAINING = 1000
# An IVF index that has grown this many times past its training size should be retrained.
RETRAIN_GROWTH = 4


def choose_kind(setting: str, count: int) -> str:
    """The kind to build for `count` vectors under the index's setting (auto, flat, ivf, hnsw)."""
    if setting not in KINDS:
        raise InvalidQuery(f"index type must be one of {', '.join(KINDS)}, not {setting!r}")
    if setting == AUTO:
        return FLAT if count < EXACT_LIMIT else IVF
    if setting == IVF and count < MIN_IVF_TRAINING:
        return FLAT
    return setting


def cells_for(count: int) -> int:
    """IVF cell count: about 4 sqrt(n) (FAISS's guideline), with 39+ training points per cell."""
    return max(1, min(int(4 * math.sqrt(max(count, 1))), max(count // 39, 1), 65536))


class _RunningTopK:
    """Exact top-k ids of a few queries over vectors that arrive in batches."""

    def __init__(self, queries: np.ndarray, k: int) -> None:
        self.queries = np.ascontiguousarray(queries, dtype=np.float32)
        self.k = k
        self.scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        self._ids = np.zeros((len(queries), 0), dtype=np.int64)

    def update(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        scores = self.queries @ np.ascontiguousarray(vectors, dtype=np.float32).T
        all_scores = np.concatenate([self.scores, scores], axis=1)
        all_ids = np.concatenate([self._ids, np.broadcast_to(ids, scores.shape)], axis=1)
        k = min(self.k, all_scores.shape[1])
        keep = np.argpartition(-all_scores, k - 1, axis=1)[:, :k]
        self.scores = np.take_along_axis(all_scores, keep, axis=1)
        self._ids = np.take_along_axis(all_ids, keep, axis=1)

    def ids(self) -> np.ndarray:
        return self._ids


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
    """A FAISS index keyed by chunk id, of one kind; `trained_on` is the IVF training size."""

    def __init__(self, index: Any, kind: str = FLAT, trained_on: int = 0) -> None:
        self._index = index
        self.kind = kind
        self.trained_on = trained_on

    @property
    def compressed(self) -> bool:
        """Whether the index holds vectors in 8 bits (IVF SQ8), so its scores are approximate."""
        import faiss

        return isinstance(faiss.downcast_index(self._index), faiss.IndexIVFScalarQuantizer)

    @classmethod
    def create(cls, dim: int) -> VectorIndex:
        """An empty exact index."""
        import faiss

        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), FLAT)

    @classmethod
    def build(
        cls,
        kind: str,
        dim: int,
        batches: Iterable[tuple[np.ndarray, np.ndarray]],
        training: np.ndarray,
        count: int,
        compress: bool = False,
    ) -> VectorIndex:
        """Build an index of `kind` from (ids, vectors) batches; IVF is trained on `training`."""
        import faiss

        if kind == FLAT:
            index = cls.create(dim)
        elif kind == HNSW:
            graph = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = HNSW_BUILD_EF
            graph.hnsw.efSearch = DEFAULT_EF
            index = cls(faiss.IndexIDMap2(graph), HNSW)
        elif kind == IVF:
            cells = cells_for(max(count, len(training)))
            storage = "SQ8" if compress else "Flat"
            ivf = faiss.index_factory(dim, f"IVF{cells},{storage}", faiss.METRIC_INNER_PRODUCT)
            if len(training):
                ivf.train(np.ascontiguousarray(training, dtype=np.float32))
            else:  # nothing to learn cells from yet: one cell, trained on a zero vector
                ivf = faiss.index_factory(dim, f"IVF1,{storage}", faiss.METRIC_INNER_PRODUCT)
                ivf.train(np.zeros((1, dim), dtype=np.float32))
            faiss.extract_index_ivf(ivf).nprobe = DEFAULT_NPROBE
            index = cls(ivf, IVF, trained_on=len(training))
        else:
            raise InvalidQuery(f"index type must be one of {', '.join(KINDS)}, not {kind!r}")
        probes = training[:: max(1, len(training) // TUNING_QUERIES)][:TUNING_QUERIES]
        exact = _RunningTopK(probes, TUNING_K) if kind == IVF and len(probes) else None
        for ids, vectors in batches:
            index.add(ids, vectors)
            if exact is not None:
                exact.update(ids, vectors)
        if exact is not None:
            index.tune_nprobe(probes, exact.ids())
        return index

    def tune_nprobe(self, probes: np.ndarray, truth: np.ndarray) -> float:
        """Set the smallest default nprobe whose recall@10 against exact search reaches
        TARGET_RECALL on these probe vectors; returns the recall reached.

        Measured why: on the real architecture's anisotropic vectors a fixed nprobe of 32
        reached recall@10 0.68 where synthetic clusters reached 1.0 (bench/RESULTS.md).
        """
        import faiss

        ivf = faiss.extract_index_ivf(self._index)
        recall = 0.0
        nprobe = min(DEFAULT_NPROBE, ivf.nlist)
        while True:
            ivf.nprobe = nprobe
            with _threads_for(PARALLEL_QUERIES):
                _, found = self._index.search(np.ascontiguousarray(probes), truth.shape[1])
            recall = float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))
            if recall >= TARGET_RECALL or nprobe >= ivf.nlist:
                return recall
            nprobe = min(nprobe * 2, ivf.nlist)

    @property
    def nprobe(self) -> int:
        """The IVF cells a query scans by default (0 for other kinds)."""
        import faiss

        return int(faiss.extract_index_ivf(self._index).nprobe) if self.kind == IVF else 0

    @classmethod
    def load(cls, path: Path, mmap: bool = False, trained_on: int = 0) -> VectorIndex:
        """Read a saved index (memory-mapped if asked); IndexCorrupt if the file is unreadable."""
        import faiss

        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        try:
            index = faiss.read_index(str(path), flags)
        except RuntimeError as e:
            reason = str(e).strip().splitlines()[0] if str(e).strip() else "unreadable"
            raise IndexCorrupt(f"{path}: {reason}") from None
        return cls(index, _kind_of(index), trained_on)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def cells(self) -> int:
        """IVF cell count (0 for other kinds)."""
        return int(self._index.nlist) if self.kind == IVF else 0

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
            )

    @property
    def can_remove(self) -> bool:
        """HNSW graphs cannot drop vectors: the owner rebuilds from the store instead."""
        return self.kind != HNSW

    def remove(self, ids: np.ndarray) -> None:
        """Remove vectors by id (not for HNSW; see `can_remove`)."""
        import faiss

        if len(ids):
            self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        nprobe: int | None = None,
        ef: int | None = None,
        excluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query; ids of -1 mark missing results.

        With `allowed`, only those ids are considered, inside the search itself, so a
        filter never shortens the list while enough allowed vectors exist; `excluded`
        ids (removed since the file was saved) are never returned. `nprobe` (IVF cells
        scanned) and `ef` (HNSW candidate list) trade speed for recall.
        """
        import faiss

        if excluded is not None and len(excluded) and allowed is not None:
            allowed, excluded = np.setdiff1d(allowed, excluded), None
        k = max(1, min(k, len(self) if allowed is None else len(allowed)))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        selector = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        elif excluded is not None and len(excluded):
            inner = faiss.IDSelectorBatch(np.ascontiguousarray(excluded, dtype=np.int64))
            selector = faiss.IDSelectorNot(inner)  # `inner` lives until the search returns
        if self.kind == IVF:
            params: Any = faiss.SearchParametersIVF(
                sel=selector, nprobe=nprobe or faiss.extract_index_ivf(self._index).nprobe
            )
        elif self.kind == HNSW:
            # Per-query parameters: setting efSearch on the graph would be saved with it.
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=ef or DEFAULT_EF)
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
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


def _kind_of(index: Any) -> str:
    import faiss

    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexIVF):
        return IVF
    if isinstance(index, (faiss.IndexIDMap2, faiss.IndexIDMap)):
        inner = faiss.downcast_index(index.index)
        return HNSW if isinstance(inner, faiss.IndexHNSW) else FLAT
    return FLAT
