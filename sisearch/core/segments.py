"""SegmentedVectors: a saved vector index with the vector log's changes beside it.

Why not apply the log to the loaded index: a reader (a server) searches one vector index
from many threads at once, and a FAISS index that grows in place can move its arrays
under a running search. So the loaded file stays read-only, the log's additions sit in a
small exact segment and its removals in an exclusion list; catching up on a write makes
a new SegmentedVectors (the file shared, the small parts copied: O(what the log holds))
and the holder swaps it in whole.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .vector_log import LogRecord
from .vectors import VectorIndex


class SegmentedVectors:
    """A read-only VectorIndex (the saved file) plus the log records applied after it."""

    def __init__(
        self,
        base: VectorIndex,
        tail_ids: np.ndarray | None = None,
        tail: np.ndarray | None = None,
        removed: np.ndarray | None = None,
        log_offset: int = 0,
        token: bytes = b"",
        base_removed: int = 0,
    ) -> None:
        self.base = base
        self.tail_ids = tail_ids if tail_ids is not None else np.zeros(0, dtype=np.int64)
        self.tail = tail if tail is not None else np.zeros((0, base.dim), dtype=np.float32)
        # Ids taken out of the base since it was saved (sorted, unique).
        self.removed = removed if removed is not None else np.zeros(0, dtype=np.int64)
        self.log_offset = log_offset
        self.token = token
        # How many of `removed` the base holds: a removed id not in the tail was in the base
        # (writers remove only ids the store has, and drop their own unsaved additions).
        self.base_removed = base_removed

    @property
    def compressed(self) -> bool:
        return self.base.compressed

    def applied(self, records: Sequence[LogRecord], log_offset: int) -> SegmentedVectors:
        """A new SegmentedVectors with `records` applied (this one is left as it is)."""
        tail_ids, tail, removed = self.tail_ids, self.tail, self.removed
        base_removed = self.base_removed
        for record in records:
            if len(record.removed):
                gone = np.unique(record.removed)
                in_tail = np.isin(tail_ids, gone)
                from_base = np.setdiff1d(gone, tail_ids[in_tail], assume_unique=True)
                from_base = np.setdiff1d(from_base, removed, assume_unique=True)
                base_removed += len(from_base)
                removed = np.union1d(removed, from_base)
                tail_ids, tail = tail_ids[~in_tail], tail[~in_tail]
            if len(record.added_ids):
                tail_ids = np.concatenate([tail_ids, record.added_ids])
                tail = np.concatenate([tail, record.added.astype(np.float32)])
        return SegmentedVectors(
            self.base, tail_ids, tail, removed, log_offset, self.token, base_removed
        )

    def materialized(self) -> VectorIndex | None:
        """The base with the removals and the tail applied in place: one whole VectorIndex
        (for a writer; the base must not be shared, nor memory-mapped, and this view is
        spent after). None where the base cannot drop vectors (an HNSW graph)."""
        if len(self.removed):
            if not self.base.can_remove:
                return None
            self.base.remove(self.removed)
        self.base.add(self.tail_ids, self.tail)
        return self.base

    # What callers read of a VectorIndex

    @property
    def kind(self) -> str:
        return self.base.kind

    @property
    def trained_on(self) -> int:
        return self.base.trained_on

    @property
    def dim(self) -> int:
        return self.base.dim

    def __len__(self) -> int:
        return len(self.base) - self.base_removed + len(self.tail_ids)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        nprobe: int | None = None,
        ef: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query over the file less its removed ids, and the tail
        scored exactly; as VectorIndex.search (ids of -1 mark missing results)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, k)
        if len(self.base):
            scores, ids = self.base.search(queries, k, allowed, nprobe, ef, self.removed)
        else:
            scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
            ids = np.full((len(queries), 0), -1, dtype=np.int64)
        if not len(self.tail_ids):
            return scores, ids
        tail_ids, tail = self.tail_ids, self.tail
        if allowed is not None:
            keep = np.isin(tail_ids, allowed)
            tail_ids, tail = tail_ids[keep], tail[keep]
        tail_scores = queries @ tail.T
        all_scores = np.concatenate([np.where(ids >= 0, scores, -np.inf), tail_scores], axis=1)
        all_ids = np.concatenate([ids, np.broadcast_to(tail_ids, tail_scores.shape)], axis=1)
        width = min(k, all_scores.shape[1])
        order = np.argsort(-all_scores, axis=1, kind="stable")[:, :width]
        best_scores = np.take_along_axis(all_scores, order, axis=1)
        best_ids = np.take_along_axis(all_ids, order, axis=1)
        best_ids[~np.isfinite(best_scores)] = -1
        return best_scores.astype(np.float32), best_ids
