"""Dense retrieval over chunks, and how each search mode ranks documents.

A document's dense score is its best chunk's cosine; hybrid mode fuses the dense and
keyword rankings by reciprocal rank (see fusion.py), the keyword side weighted by how much
of the query the index's words cover (`keyword_weight`).
"""

from __future__ import annotations

import numpy as np

from .fusion import reciprocal_rank_fusion
from .store import DocumentStore
from .vectors import VectorIndex

# SQ8 scores are off by about 1e-3, enough to swap near neighbours at the cut: a compressed
# index's top 3 x limit chunks are rescored exactly (bench/RESULTS.md, "Goal 6").
RESCORED_DEPTH = 3


class DenseSearch:
    """Top documents by best chunk score over a vector index, with chunk owners from the store."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    def best_documents(
        self,
        vectors: VectorIndex,
        embedding: np.ndarray,
        limit: int,
        allowed: np.ndarray | None = None,
        nprobe: int | None = None,
        ef: int | None = None,
    ) -> list[tuple[int, float]]:
        """Top documents by best chunk score, fetching more chunks until `limit` documents.

        An approximate index searched under a filter can come back short (the allowed
        vectors sit in unprobed cells or unvisited graph regions); then the allowed
        chunks are scored exactly, so a filter never shortens the list. A compressed
        index's candidates (RESCORED_DEPTH times as many) are scored again from the stored
        embeddings, so its 8-bit rounding neither orders the hits nor drops true ones at
        the cut.
        """
        rescore = vectors.compressed
        fetch = limit * RESCORED_DEPTH if rescore else limit
        available = len(vectors) if allowed is None else len(allowed)
        while True:
            scores, ids = vectors.search(embedding[None, :], fetch, allowed, nprobe, ef)
            valid = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
            if allowed is not None and len(valid) < min(fetch, available):
                valid = self._exact_scores(embedding, allowed, fetch)
            elif rescore:
                valid = self._exact_scores(embedding, np.asarray([i for i, _ in valid]), fetch)
            best = self._by_document(valid)
            if len(best) >= limit or fetch >= available:
                return list(best.items())[:limit]
            fetch *= 4

    def _exact_scores(
        self, embedding: np.ndarray, allowed: np.ndarray, fetch: int
    ) -> list[tuple[int, float]]:
        ids, vectors = self.store.embeddings_of_chunks(allowed)
        scores = vectors @ embedding
        top = np.argsort(-scores, kind="stable")[:fetch]
        return [(int(ids[i]), float(scores[i])) for i in top]

    def _by_document(self, chunks: list[tuple[int, float]]) -> dict[int, float]:
        """Best score per document, in the order the chunks came (best first)."""
        owner = self.store.documents_for_chunks([i for i, _ in chunks])
        best: dict[int, float] = {}
        for chunk_id, score in chunks:
            doc_id = owner.get(chunk_id)
            if doc_id is not None and doc_id not in best:
                best[doc_id] = score
        return best


def best_chunk_cosines(
    store: DocumentStore, embedding: np.ndarray, doc_ids: list[int]
) -> dict[int, float]:
    """Exact cosine of each document's best chunk to a query embedding, from the stored
    embeddings (float16, within 2**-11 of float32; not the possibly compressed or
    approximate vector index)."""
    chunks = store.chunk_embeddings_of_documents(doc_ids)
    return {doc_id: float(np.max(vectors @ embedding)) for doc_id, vectors in chunks.items()}


def hybrid_candidates(limit: int) -> int:
    """How deep each side is read before fusion; see bench/RESULTS.md for the measurement."""
    return max(100, 10 * limit)


def keyword_weight(terms: list[str], held: set[str]) -> float:
    """The keyword side's weight in hybrid fusion: the square of the share of the query's
    words (`terms`) that the index holds (`held`).

    A query whose words the index mostly lacks (English over a Sinhala corpus: only a
    number or a name matches) gets keyword hits that are coincidences; at full weight they
    pushed the right passage out of first place (English -> Sinhala recall@1 0.917 against
    0.977 for dense alone; 0.954 with the share as weight, 0.970 with its square; the
    Sinhala-only tasks equal or better; bench/quality.py). A Sinhala query's words are
    nearly all held, so it keeps plain RRF.
    """
    if not terms:
        return 0.0
    share = sum(1 for term in terms if term in held) / len(terms)
    return share * share


def typed_words_first(
    fused: list[tuple[int, float, dict[str, int]]], holding_all: set[int]
) -> list[tuple[int, float, dict[str, int]]]:
    """A romanized query's fused ranking with the passages that hold every word it was
    read as moved first (1 added to their score, so scores still fall), each part in
    fused order.

    A romanized query names words; when the index holds them together in some passage,
    that passage is what was typed for. The dense side embeds a guessed spelling and its
    nearest sentence often lacks a typed word: on 3-word Singlish queries the top hybrid
    hit held all three words 0.773 of the time under plain fusion, against 0.947 for
    keywords alone (bench/quality.py, "singlish").
    """
    return sorted(
        ((d, s + 1.0 if d in holding_all else s, r) for d, s, r in fused),
        key=lambda hit: -hit[1],
    )


def rank_for_mode(
    mode: str,
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    lexical_weight: float = 1.0,
) -> list[tuple[int, float, dict[str, int]]]:
    """(doc id, score, ranks by side) best first, for one query in the given mode."""
    if mode == "dense":
        return [(d, s, {"dense": r}) for r, (d, s) in enumerate(dense, start=1)]
    if mode == "lexical":
        return [(d, s, {"lexical": r}) for r, (d, s) in enumerate(lexical, start=1)]
    return reciprocal_rank_fusion(
        {"dense": [d for d, _ in dense], "lexical": [d for d, _ in lexical]},
        weights={"lexical": lexical_weight},
    )
