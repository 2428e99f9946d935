"""Index: a folder holding a manifest, the SQLite store and the FAISS file, kept consistent.

Write path: normalize -> skip known documents -> chunk -> reuse stored embeddings of
equal chunks -> encode the rest -> commit a group to SQLite -> add to FAISS; the FAISS
file is saved (atomically) at the end and the manifest then records its generation.
If the process dies anywhere, SQLite holds whole groups only, and the next open sees
the FAISS file lag the store and rebuilds it from the stored embeddings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from .corpus import Document
from .encoder import DEFAULT_MODEL, Encoder, TextEncoder, load_encoder
from .errors import DocumentNotFound, IndexCorrupt, IndexExists, InvalidQuery, ModelMismatch
from .filters import Filter, as_filter
from .lexical import fts_query
from .locking import WriterLock
from .manifest import MANIFEST_FILE, EncoderSpec, Manifest
from .onnx_encoder import (
    MIN_COSINE,
    MIN_MEAN_COSINE,
    PRECISIONS,
    OnnxEncoder,
    agreement,
    build_engine,
)
from .search import DenseSearch, best_chunk_cosines, hybrid_candidates, rank_for_mode
from .store import DATABASE_FILE, DocumentStore, NewChunk, NewDocument, content_hash
from .text import (
    NORMALIZATION_VERSION,
    NORMALIZATION_VERSIONS,
    chunk_spans,
    has_content,
    normalize,
    repair_mojibake,
)
from .vectors import (
    AUTO,
    IVF,
    RETRAIN_GROWTH,
    VECTORS_FILE,
    VectorIndex,
    choose_kind,
)

GROUP_SIZE = 256
# IVF cells are trained on up to this many stored embeddings (FAISS wants 39+ per cell).
TRAINING_ROWS = 200_000
SAMPLE_CHECK = 64
ENCODER_FOLDER = "encoder"
MODES = ("hybrid", "dense", "lexical")
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class Hit:
    """One search result: a document and where each side of the search ranked it.

    `score` is the cosine of the document's best chunk in dense mode, the BM25 score
    in lexical mode and the reciprocal-rank-fusion score in hybrid mode. `cosine` is
    always the exact cosine of the document's best chunk to the query (None in
    lexical mode when no model was loaded to embed the query).
    `dense_rank` / `lexical_rank` are the document's ranks on each side (None where
    that side did not find it or was not asked).
    """

    rank: int
    score: float
    cosine: float | None
    doc_id: int
    text: str
    source: str
    line: int | None
    metadata: dict[str, Any] = field(default_factory=dict)
    dense_rank: int | None = None
    lexical_rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AddResult:
    """What `Index.add` or `Index.sync` did: passages seen, documents and chunks added,
    encodings done, documents removed (sync only), mojibake repairs, and notes."""

    passages: int = 0
    documents_added: int = 0
    documents_skipped: int = 0
    chunks_added: int = 0
    chunks_encoded: int = 0
    repaired: int = 0
    documents_removed: int = 0
    notes: list[str] = field(default_factory=list)


class Index:
    """A searchable collection of Sinhala passages stored in one folder.

    >>> index = Index.create("indexes/news", model="path/or/hub-id")
    >>> index.add(["ශ්‍රී ලංකාව දිවයිනකි.", "කොළඹ වරාය"])
    >>> index.search("දිවයින", limit=5)
    """

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = path
        self.manifest = manifest
        self.store = DocumentStore(path / DATABASE_FILE, manifest.model.dim)
        self._encoder: TextEncoder | None = None
        self._reference: Encoder | None = None
        self._vectors: VectorIndex | None = None
        self._vectors_generation = -1
        self._lock = WriterLock(path)
        self._mmap = False

    @classmethod
    def create(
        cls,
        path: str | Path,
        model: str = DEFAULT_MODEL,
        *,
        precision: str = "int8",
        index_type: str = AUTO,
        compress: bool = False,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        encoder: Encoder | None = None,
    ) -> Index:
        """Create an empty index at `path` for `model` (hub id or local folder).

        The model is loaded now: its fingerprint is what the index records. It is
        exported to ONNX at `precision` ("int8", the default, indexing 5.25x as fast as
        PyTorch fp32 here, or "fp32", 2.25x and exact); int8 is kept only where
        its embeddings stay within cosine 0.99 of fp32, else fp32 is used, and an
        export that fails leaves PyTorch. The choice is recorded and used for every
        query. Raises IndexExists if an index is already there, ModelLoadError if the
        model cannot be loaded. index_type: "auto" (exact search below 50,000 chunks, IVF
        above), "flat", "ivf" or "hnsw"; compress stores IVF vectors in 8 bits.
        query_prompt / document_prompt: text put before every query / passage (e5's
        "query: " and "passage: "); None takes the model's own named prompts. They are
        part of the recorded fingerprint and applied automatically at query time.
        """
        path = Path(path)
        if precision not in PRECISIONS:
            raise InvalidQuery(f"precision must be one of {', '.join(PRECISIONS)}")
        choose_kind(index_type, 0)  # validates the name
        if (path / MANIFEST_FILE).exists():
            raise IndexExists(f"An index already exists at {path}")
        reference = encoder or load_encoder(model, query_prompt, document_prompt)
        fingerprint = reference.fingerprint()
        path.mkdir(parents=True, exist_ok=True)
        with WriterLock(path):
            if (path / MANIFEST_FILE).exists():
                raise IndexExists(f"An index already exists at {path}")
            engine, spec = build_engine(reference, path / ENCODER_FOLDER, precision)
            manifest = Manifest.new(fingerprint, NORMALIZATION_VERSION, index_type, spec)
            manifest = manifest.with_vectors(index_type, compress, trained_on=0)
            DocumentStore(path / DATABASE_FILE, manifest.model.dim).close()
            manifest.write(path)
        index = cls(path, manifest)
        index._encoder, index._reference = engine, reference
        return index

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        model: str | None = None,
        encoder: Encoder | None = None,
        mmap: bool = False,
    ) -> Index:
        """Open an existing index. The model is loaded on first use unless given here.

        mmap: map the vector file into memory instead of reading it (large indexes;
        searches only: a write reads it normally).

        A model given here (by name or as a loaded Encoder) is checked against the
        index's fingerprint at once: ModelMismatch if it would embed differently.
        """
        path = Path(path)
        manifest = Manifest.read(path)
        if manifest.normalization not in NORMALIZATION_VERSIONS:
            raise IndexCorrupt(
                f"Index {path} was built with text normalization {manifest.normalization!r},"
                " unknown to this sisearch; upgrade sisearch"
            )
        index = cls(path, manifest)
        index._mmap = mmap
        if encoder is not None or model is not None:
            index._reference = index._checked_reference(model, encoder)
        return index

    def normalize(self, text: str) -> str:
        """`text` in the canonical form of this index's normalization rule."""
        return normalize(text, self.manifest.normalization)

    @staticmethod
    def exists(path: str | Path) -> bool:
        return (Path(path) / MANIFEST_FILE).exists()

    @property
    def encoder(self) -> TextEncoder:
        """The engine that encodes for this index (ONNX or PyTorch), loaded on first use.

        An ONNX export must still reproduce its recorded probe embedding, and a
        PyTorch model the index's fingerprint: ModelMismatch otherwise.
        """
        if self._encoder is None:
            spec, fingerprint = self.manifest.encoder, self.manifest.model
            if spec.engine == "onnx":
                engine = OnnxEncoder(
                    self.path / ENCODER_FOLDER,
                    fingerprint.name,
                    fingerprint.query_prompt,
                    fingerprint.document_prompt,
                )
                _check_probe(spec.probe, engine.probe(), self.path)
                self._encoder = engine
            else:
                self._encoder = self._reference = self._checked_reference()
        self._encoder.normalization = self.manifest.normalization
        return self._encoder

    def _checked_reference(
        self, model: str | None = None, encoder: Encoder | None = None
    ) -> Encoder:
        """The PyTorch encoder (given, already loaded, or loaded from `model`, by default the
        index's own), after checking it against the index's fingerprint."""
        fingerprint = self.manifest.model
        reference = (
            encoder
            or self._reference
            or load_encoder(
                model or fingerprint.name, fingerprint.query_prompt, fingerprint.document_prompt
            )
        )
        fingerprint.check(reference.fingerprint(), str(self.path))
        return reference

    def export_encoder(self, model: str | None = None) -> EncoderSpec:
        """Export the model to ONNX again at the index's precision (after damage or loss).

        The model (the recorded one unless given) must match the index's fingerprint.
        """
        with self._lock:
            reference = self._checked_reference(model)
            engine, spec = build_engine(
                reference, self.path / ENCODER_FOLDER, self.manifest.encoder.precision
            )
            if spec.engine != self.manifest.encoder.engine and self.store.chunk_count():
                raise IndexCorrupt(
                    f"Cannot re-export the encoder of {self.path}: {spec.note}; the stored"
                    " vectors were made another way. Build a new index."
                )
            self.manifest = Manifest.read(self.path).with_encoder(spec)
            self.manifest.write(self.path)
            self._encoder, self._reference = engine, reference
            return spec

    # Writing

    def add(
        self,
        items: Iterable[str | Document],
        *,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> AddResult:
        """Add passages (strings or Documents); returns what was added.

        A passage already in the index from the same source is skipped (its line
        number updated if it moved), and a chunk whose text is already stored reuses
        its embedding, so re-adding a corpus encodes nothing. Holds the index's write
        lock throughout (IndexBusy if another process has it). `progress` is called
        with the number of passages handled after each group.
        """
        with self._lock:
            return self._add(items, batch_size, progress, None)

    def sync(
        self,
        items: Iterable[Document],
        source: str,
        *,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> AddResult:
        """Make the index hold exactly `items` for `source` (say, a file's current passages).

        New passages are added, passages no longer there are deleted, unchanged ones
        are left alone and not re-encoded. Every item must come from `source`.
        Interrupted, it leaves extra passages at worst; running it again finishes it.
        """

        def checked() -> Iterator[Document]:
            for item in items:
                if item.source != source:
                    raise InvalidQuery(f"sync of {source!r} got a passage from {item.source!r}")
                yield item

        seen: set[str] = set()
        with self._lock:
            result = self._add(checked(), batch_size, progress, seen)
            stale = [
                d for d, digest in self.store.documents_of_source(source) if digest not in seen
            ]
            result.documents_removed = self._delete(stale)
        return result

    def delete(self, doc_ids: Iterable[int] = (), *, source: str | None = None) -> int:
        """Delete documents by id and/or every document from `source`; returns how many.

        Raises DocumentNotFound if nothing matches.
        """
        with self._lock:
            wanted = set(doc_ids)
            found = set(self.store.get_documents(sorted(wanted)))
            if wanted - found:
                missing = ", ".join(map(str, sorted(wanted - found)))
                raise DocumentNotFound(f"No document with id {missing} in {self.path}")
            if source is not None:
                from_source = {d for d, _ in self.store.documents_of_source(source)}
                if not from_source:
                    raise DocumentNotFound(f"No documents from source {source!r} in {self.path}")
                found |= from_source
            return self._delete(sorted(found))

    def _delete(self, doc_ids: Sequence[int]) -> int:
        if not doc_ids:
            return 0
        vectors = self._fresh_vectors()
        chunk_ids = self.store.delete_documents(doc_ids)
        try:
            if vectors.can_remove:
                vectors.remove(chunk_ids)
            else:  # an HNSW graph cannot drop nodes: rebuild it from the stored embeddings
                self._vectors = self._build_from_store()
            self._vectors_generation = self.store.generation
        finally:
            self._save_vectors_if_current()
        return len(doc_ids)

    def _save_vectors_if_current(self) -> None:
        """Save the in-memory vectors if they match the store; else the next open rebuilds."""
        if self._vectors is not None and self._vectors_generation == self.store.generation:
            self._save_vectors()

    def _add(
        self,
        items: Iterable[str | Document],
        batch_size: int | None,
        progress: ProgressCallback | None,
        seen: set[str] | None,
    ) -> AddResult:
        result = AddResult()
        vectors = self._fresh_vectors()
        start_generation = self.store.generation
        try:
            for group in _groups(_as_documents(items), GROUP_SIZE):
                ids, embeddings = self._add_group(group, batch_size, result, seen)
                vectors.add(ids, embeddings)
                self._vectors_generation = self.store.generation
                if progress is not None:
                    progress(len(group))
        finally:
            if self.store.generation != start_generation:
                self._refit_vectors(result)
                self._save_vectors_if_current()
        return result

    def _refit_vectors(self, result: AddResult) -> None:
        """Switch the vector index's kind when growth calls for it (auto: exact to IVF), and
        warn when an IVF index has outgrown the data its cells were trained on."""
        if self._vectors is None or self._vectors_generation != self.store.generation:
            return
        count = self.store.chunk_count()
        if choose_kind(self.manifest.index_type, count) != self._vectors.kind:
            self._vectors = self._build_from_store()
        elif self._vectors.kind == IVF and count > RETRAIN_GROWTH * self.manifest.trained_on:
            result.notes.append(
                f"the index has {count} vectors, over {RETRAIN_GROWTH}x the"
                f" {self.manifest.trained_on} its IVF cells were trained on; run"
                " `sisearch rebuild` to retrain them (no re-encoding)"
            )

    def _add_group(
        self,
        group: list[Document],
        batch_size: int | None,
        result: AddResult,
        seen: set[str] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        result.passages += len(group)
        prepared: dict[tuple[str, str], NewDocument] = {}
        for document in group:
            text, repaired = repair_mojibake(document.text)
            result.repaired += repaired
            text = self.normalize(text)
            if not has_content(text):
                continue
            digest = content_hash(text)
            prepared.setdefault(
                (document.source, digest),
                NewDocument(text, document.source, document.line, dict(document.metadata), digest),
            )
        if seen is not None:
            seen.update(digest for _, digest in prepared)
        known = self.store.known_documents(prepared)
        self.store.update_lines(
            [
                (doc.line, known[key][0])
                for key, doc in prepared.items()
                if key in known and known[key][1] != doc.line and doc.line is not None
            ]
        )
        new = [doc for key, doc in prepared.items() if key not in known]
        result.documents_skipped += len(group) - len(new)
        if not new:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.manifest.model.dim), np.float32)
        self._chunk(new)
        self._embed(new, batch_size, result)
        ids, embeddings = self.store.add(new)
        result.documents_added += len(new)
        result.chunks_added += len(ids)
        return ids, embeddings

    def _chunk(self, documents: list[NewDocument]) -> None:
        encoder = self.encoder
        max_tokens = encoder.max_passage_tokens
        offsets = encoder.token_offsets([d.text for d in documents])
        for document, token_offsets in zip(documents, offsets):
            spans = chunk_spans(document.text, token_offsets, max_tokens, max_tokens // 8)
            document.chunks = [
                NewChunk(s.start, s.end, content_hash(document.text[s.start : s.end]))
                for s in spans
            ]

    def _embed(
        self, documents: list[NewDocument], batch_size: int | None, result: AddResult
    ) -> None:
        chunks = [(d, c) for d in documents for c in d.chunks]
        vectors = self.store.embeddings_by_hash(c.content_hash for _, c in chunks)
        missing: dict[str, str] = {}
        for document, chunk in chunks:
            if chunk.content_hash not in vectors:
                missing.setdefault(chunk.content_hash, document.text[chunk.start : chunk.end])
        if missing and self._first_int8_encoding():
            self._check_int8_on(list(missing.values())[:SAMPLE_CHECK], result)
        if missing:
            encoded = self.encoder.encode_documents(list(missing.values()), batch_size)
            vectors.update(zip(missing, encoded))
            result.chunks_encoded += len(missing)
        for _, chunk in chunks:
            chunk.vector = vectors[chunk.content_hash]

    def _first_int8_encoding(self) -> bool:
        spec = self.manifest.encoder
        return (
            spec.engine == "onnx"
            and spec.precision == "int8"
            and self._reference is not None
            and self.store.chunk_count() == 0
        )

    def _check_int8_on(self, sample: list[str], result: AddResult) -> None:
        """Check int8 against fp32 on the user's own first passages; fall back to fp32 if
        it drifts (trained weights can have outlier activations that random ones lack)."""
        assert self._reference is not None
        mean, low = agreement(
            self.encoder.encode_documents(sample), self._reference.encode_documents(sample)
        )
        if mean >= MIN_MEAN_COSINE and low >= MIN_COSINE:
            spec = replace(self.manifest.encoder, agreement=round(mean, 6))
        else:
            self._encoder, spec = build_engine(
                self._reference, self.path / ENCODER_FOLDER, "fp32", sample
            )
            spec = replace(
                spec,
                note=f"int8 embeddings of the first {len(sample)} passages were too far from fp32"
                f" (mean cosine {mean:.4f}, minimum {low:.4f}); using fp32",
            )
            result.notes.append(spec.note)
        self.manifest = self.manifest.with_encoder(spec)
        self.manifest.write(self.path)

    def rebuild(self, index_type: str | None = None, compress: bool | None = None) -> int:
        """Rebuild the FAISS file from the stored embeddings (retraining IVF cells), optionally
        as another index type; returns the vector count. Never re-encodes."""
        with self._lock:
            if index_type is not None or compress is not None:
                choose_kind(index_type or self.manifest.index_type, 0)
                self.manifest = self.manifest.with_vectors(
                    index_type or self.manifest.index_type,
                    self.manifest.compress if compress is None else compress,
                    self.manifest.trained_on,
                )
            self._vectors = self._build_from_store()
            self._vectors_generation = self.store.generation
            self._save_vectors()
            return len(self._vectors)

    # Reading

    def search(
        self,
        query: str,
        limit: int = 10,
        *,
        mode: str = "hybrid",
        where: str | Mapping[str, Any] | Filter | None = None,
        raw_fts: bool = False,
        nprobe: int | None = None,
        ef: int | None = None,
        cosine: bool | None = None,
    ) -> list[Hit]:
        """The `limit` best documents for `query`, best first; see `search_many`."""
        return self.search_many(
            [query],
            limit,
            mode=mode,
            where=where,
            raw_fts=raw_fts,
            nprobe=nprobe,
            ef=ef,
            cosine=cosine,
        )[0]

    def search_many(
        self,
        queries: Sequence[str],
        limit: int = 10,
        *,
        mode: str = "hybrid",
        where: str | Mapping[str, Any] | Filter | None = None,
        raw_fts: bool = False,
        nprobe: int | None = None,
        ef: int | None = None,
        cosine: bool | None = None,
    ) -> list[list[Hit]]:
        """Search several queries (dense side encoded in one batch); a list of hits per query.

        mode: "dense" (cosine of the best chunk), "lexical" (BM25 over whole Sinhala
        words) or "hybrid" (both, fused by reciprocal rank). where: a filter such as
        "topic = 'health'" or {"topic": "health"}, applied inside each search, so
        `limit` hits come back whenever that many documents pass it. raw_fts: pass
        the query to FTS5 as an expression (operators and all) instead of as words.
        nprobe / ef: IVF cells scanned / HNSW candidate list size (more is slower and
        finds more of the exact neighbours). cosine: give each hit the exact cosine of
        its best chunk; by default yes, except in lexical mode before a model is loaded
        (lexical search needs none). Raises InvalidQuery for a bad limit, mode, filter
        or empty query.
        """
        if limit < 1:
            raise InvalidQuery(f"limit must be at least 1, not {limit}")
        if mode not in MODES:
            raise InvalidQuery(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        queries = list(queries)
        for query in queries:
            if not has_content(self.normalize(query)):
                raise InvalidQuery("the query is empty")
        if not queries:
            return []
        if cosine is None:
            cosine = mode != "lexical" or self._encoder is not None
        condition = as_filter(where)
        allowed = self.store.chunk_ids_where(condition) if condition else None
        depth = limit if mode != "hybrid" else hybrid_candidates(limit)
        dense: list[list[tuple[int, float]]] = [[] for _ in queries]
        lexical: list[list[tuple[int, float]]] = [[] for _ in queries]
        embeddings = self.encoder.encode_queries(queries) if cosine else None
        if mode in ("dense", "hybrid") and (allowed is None or len(allowed)):
            vectors = self._fresh_vectors()
            if len(vectors):
                if embeddings is None:
                    embeddings = self.encoder.encode_queries(queries)
                dense_search = DenseSearch(self.store)
                dense = [
                    dense_search.best_documents(vectors, e, depth, allowed, nprobe, ef)
                    for e in embeddings
                ]
        if mode in ("lexical", "hybrid"):
            for i, query in enumerate(queries):
                match = query if raw_fts else fts_query(query)
                if match:
                    lexical[i] = self.store.keyword_search(match, depth, condition)
        ranked = [rank_for_mode(mode, d, lx)[:limit] for d, lx in zip(dense, lexical)]
        documents = self.store.get_documents([r[0] for hits in ranked for r in hits])
        cosines: list[dict[int, float]] = [{} for _ in queries]
        if embeddings is not None:
            cosines = [
                best_chunk_cosines(self.store, e, [r[0] for r in hits])
                for e, hits in zip(embeddings, ranked)
            ]
        return [
            [
                Hit(
                    rank,
                    score,
                    found.get(doc_id),
                    doc_id,
                    documents[doc_id].text,
                    documents[doc_id].source,
                    documents[doc_id].line,
                    documents[doc_id].metadata,
                    ranks.get("dense"),
                    ranks.get("lexical"),
                )
                for rank, (doc_id, score, ranks) in enumerate(
                    (r for r in hits if r[0] in documents), start=1
                )
            ]
            for hits, found in zip(ranked, cosines)
        ]

    # Keeping FAISS in step with the store

    def _fresh_vectors(self) -> VectorIndex:
        """The vector index at the store's current generation, loaded or rebuilt as needed."""
        generation = self.store.generation
        if self._vectors is not None and self._vectors_generation == generation:
            return self._vectors
        manifest = Manifest.read(self.path)
        vectors = None
        file = self.path / VECTORS_FILE
        if manifest.vectors_generation == generation and file.exists():
            try:
                mmap = self._mmap and not self._lock.held
                vectors = VectorIndex.load(file, mmap, manifest.trained_on)
            except IndexCorrupt:
                vectors = None
            if vectors is not None and len(vectors) != self.store.chunk_count():
                vectors = None
        rebuilt = vectors is None
        self._vectors = self._build_from_store() if rebuilt else vectors
        self._vectors_generation = generation
        if rebuilt:
            self._repair_file()
        return self._vectors

    def _repair_file(self) -> None:
        """Save a rebuilt vector index if no other process is writing (else that writer will)."""
        if self._lock.held:
            self._save_vectors()
        elif self._lock.try_acquire():
            try:
                if self.store.generation == self._vectors_generation:
                    self._save_vectors()
            finally:
                self._lock.release()

    def _build_from_store(self) -> VectorIndex:
        """A vector index of the kind the index's size calls for, from the stored embeddings."""
        count = self.store.chunk_count()
        kind = choose_kind(self.manifest.index_type, count)
        dim = self.manifest.model.dim
        training = self.store.training_sample(TRAINING_ROWS) if kind == IVF else np.zeros((0, dim))
        vectors = VectorIndex.build(
            kind, dim, self.store.iter_embeddings(), training, count, self.manifest.compress
        )
        self.manifest = self.manifest.with_vectors(
            self.manifest.index_type, self.manifest.compress, vectors.trained_on
        )
        return vectors

    def _save_vectors(self) -> None:
        assert self._vectors is not None
        self._vectors.save(self.path / VECTORS_FILE)
        self.manifest = self.manifest.with_generation(
            self._vectors_generation, self._vectors.kind, self._vectors.cells, self._vectors.nprobe
        )
        self.manifest.write(self.path)

    # Describing

    def info(self) -> dict[str, Any]:
        """Counts, model, normalization, index type and sizes on disk."""
        fingerprint = self.manifest.model
        sizes = {
            name: sum(p.stat().st_size for p in self.path.glob(f"{name}*") if p.is_file())
            for name in (DATABASE_FILE, VECTORS_FILE)
        }
        return {
            "path": str(self.path),
            "documents": self.store.document_count(),
            "chunks": self.store.chunk_count(),
            "sources": len(self.store.sources()),
            "model": fingerprint.name,
            "model_revision": fingerprint.revision,
            "dim": fingerprint.dim,
            "max_seq_length": fingerprint.max_seq_length,
            "pooling": fingerprint.pooling,
            "query_prompt": fingerprint.query_prompt,
            "document_prompt": fingerprint.document_prompt,
            "normalization": self.manifest.normalization,
            "index_type": self.manifest.index_type,
            "vectors_kind": self.manifest.vectors_kind,
            "ivf_cells": self.manifest.ivf_cells,
            "ivf_nprobe": self.manifest.ivf_nprobe,
            "trained_on": self.manifest.trained_on,
            "compress": self.manifest.compress,
            "engine": self.manifest.encoder.engine,
            "precision": self.manifest.encoder.precision,
            "fp32_agreement": self.manifest.encoder.agreement,
            "generation": self.store.generation,
            "vectors_generation": self.manifest.vectors_generation,
            "created": self.manifest.created,
            "database_bytes": sizes[DATABASE_FILE],
            "vectors_bytes": sizes[VECTORS_FILE],
        }

    def close(self) -> None:
        self._lock.release()
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_probe(recorded: Sequence[float], current: np.ndarray, path: Path) -> None:
    cosine = float(np.dot(np.asarray(recorded, dtype=np.float32), current))
    if cosine < 0.999:
        raise ModelMismatch(
            f"The ONNX encoder in {path / ENCODER_FOLDER} no longer reproduces the embeddings"
            f" the index was built with (probe cosine {cosine:.4f}). Fix: sisearch rebuild"
            " --encoder, with the index's model available."
        )


def _as_documents(items: Iterable[str | Document]) -> Iterator[Document]:
    for item in items:
        yield Document(text=item) if isinstance(item, str) else item


def _groups(documents: Iterator[Document], size: int) -> Iterator[list[Document]]:
    while group := list(islice(documents, size)):
        yield group
