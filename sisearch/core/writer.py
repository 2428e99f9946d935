"""The write path of an index: add, sync, delete, rebuild and re-normalize, under its writer lock.

Add: normalize -> skip known documents -> chunk -> reuse stored embeddings of equal
chunks -> encode the rest -> commit a group to SQLite -> add to FAISS; the FAISS file is
saved (atomically) at the end and the manifest then records its generation. If the
process dies anywhere, SQLite holds whole groups only, and the next open sees the FAISS
file lag the store and rebuilds it from the stored embeddings.

An `IndexWriter` exists only inside `Index._writing()`, which holds the lock, re-reads
the manifest, upgrades the database schema and migrates old source spellings first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np

from ..documents.corpus import STDIN_SOURCE, Document, source_name
from ..encoders.onnx import (
    MIN_COSINE,
    MIN_MEAN_COSINE,
    agreement,
    build_engine,
    with_export_files,
)
from ..encoders.recorded import remember_engine
from ..errors import CorpusError, DocumentNotFound, IndexCorrupt, InvalidQuery
from ..language.text import (
    NORMALIZATION_VERSION,
    chunk_spans,
    has_content,
    lone_surrogate,
    normalize,
    repair_mojibake,
)
from .filters import fits_int64
from .store import NewChunk, NewDocument, content_hash
from .vectors import IVF, RETRAIN_GROWTH, choose_kind

if TYPE_CHECKING:
    from ..documents.reading import ReadReport
    from ..encoders.encoder import TextEncoder
    from ..index import Index

GROUP_SIZE = 256
# Past this many added and removed texts, a write rescans the vocabulary (seconds at a
# million passages) rather than hold the texts in memory and count them again.
TRACKED_TEXTS = 20_000
SAMPLE_CHECK = 64
ProgressCallback = Callable[[int], None]
# Sources written before sisearch recorded resolved paths (stdin was "<stdin>").
_OLD_STDIN_SOURCE = "<stdin>"


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
    imported: int = 0  # chunks whose embeddings came with them (an import), not encoded
    documents_removed: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class NormalizeResult:
    """What `Index.renormalize` did: documents whose text changed, duplicates that merged
    into an equal document of the same source, and chunks encoded anew."""

    changed: int = 0
    merged: int = 0
    chunks_encoded: int = 0
    version: str = NORMALIZATION_VERSION


def chunk_texts(encoder: TextEncoder, texts: list[str]) -> list[list[Any]]:
    """The chunk spans of each normalized passage, as every write cuts them (and as
    `sisearch encode` workers cut them, so their shards import as indexed passages)."""
    max_tokens = encoder.max_passage_tokens
    offsets = encoder.token_offsets(texts)
    return [
        chunk_spans(text, token_offsets, max_tokens, max_tokens // 8)
        for text, token_offsets in zip(texts, offsets, strict=True)
    ]


class IndexWriter:
    """Changes one index; every method assumes the caller holds the index's writer lock."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.store = index.store
        # Texts that entered and left the keyword table in this write, so the saved
        # vocabulary can be updated by the difference instead of rescanning the table;
        # None once a write is so large that rescanning is cheaper than keeping them.
        self.texts_added: list[str] | None = []
        self.texts_removed: list[str] | None = []
        # Embeddings given with the passages (an import), by chunk hash; used, not encoded.
        self.given_vectors: dict[str, np.ndarray] | None = None
        self.imported = 0

    # Adding

    def add(
        self,
        items: Iterable[str | Document],
        batch_size: int | None,
        progress: ProgressCallback | None,
        seen: set[tuple[str, str]] | None = None,
        atomic: bool = False,
    ) -> AddResult:
        result = AddResult()
        documents = _as_documents(items)
        group_size = GROUP_SIZE
        if atomic:
            documents = iter(whole := list(documents))
            group_size = max(1, len(whole))
        if self.index.manifest.normalization != NORMALIZATION_VERSION:
            result.notes.append(
                f"this index normalizes text by rule {self.index.manifest.normalization};"
                f" `sisearch rebuild --normalize` moves it to {NORMALIZATION_VERSION}"
                " (re-encoding only the passages that change)"
            )
        held = self.index.vectors
        held.begin_write()
        start_generation = self.store.generation
        try:
            for group in _groups(documents, group_size):
                ids, embeddings = self._add_group(group, batch_size, result, seen)
                if self.given_vectors is not None:  # an import: skipped rows' vectors go too
                    self.given_vectors.clear()
                held.add(ids, embeddings)
                if progress is not None:
                    progress(len(group))
        finally:
            if self.store.generation != start_generation:
                self._refit_vectors(result)
                self.save_vectors_if_current()
        return result

    def sync(
        self,
        items: Iterable[Document],
        source: str | None,
        batch_size: int | None,
        progress: ProgressCallback | None,
        folder: str | os.PathLike[str] | None = None,
        report: ReadReport | None = None,
    ) -> AddResult:
        """Add `items`, then delete what each synced source no longer holds: `source`, or
        (None) every source the items came from; and, for a folder's read, every passage
        of its files that are gone or now empty (see `Index.sync`)."""

        def checked() -> Iterator[Document]:
            for item in items:
                if item.source != source:
                    raise InvalidQuery(f"sync of {source!r} got a passage from {item.source!r}")
                yield item

        seen: set[tuple[str, str]] = set()
        result = self.add(items if source is None else checked(), batch_size, progress, seen)
        sources = {source} if source is not None else {s for s, _ in seen}
        if folder is not None:
            sources |= self._gone_or_emptied(folder, report, sources)
        stale = [
            doc_id
            for synced in sorted(sources)
            for doc_id, digest in self.store.documents_of_source(synced)
            if (synced, digest) not in seen
        ]
        result.documents_removed = self.delete_ids(stale)
        return result

    def _gone_or_emptied(
        self, folder: str | os.PathLike[str], report: ReadReport | None, read: set[str]
    ) -> set[str]:
        """Sources under `folder` that gave no passage now: deleted files, and files read
        empty; not those that failed to read (a transient error must not delete)."""
        prefix = os.path.join(source_name(os.fspath(folder)), "")
        failed = _sources(report.failed_files) if report else set()
        return {
            s
            for s, _ in self.store.sources()
            if s.startswith(prefix)
            and s not in read
            and s not in failed
            and (not os.path.exists(s) or report is None or s in _sources(report.empty))
        }

    def _add_group(
        self,
        group: list[Document],
        batch_size: int | None,
        result: AddResult,
        seen: set[tuple[str, str]] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        result.passages += len(group)
        prepared: dict[tuple[str, str], NewDocument] = {}
        for document in group:
            text, repaired = repair_mojibake(document.text)
            result.repaired += repaired
            text = self.index.normalize(text)
            if not has_content(text):
                continue
            digest = content_hash(text)
            prepared.setdefault(
                (document.source, digest),
                NewDocument(
                    text,
                    document.source,
                    document.line,
                    dict(document.metadata),
                    digest,
                    origin=dict(document.origin),
                ),
            )
        if seen is not None:
            seen.update(prepared)
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
            dim = self.index.manifest.model.dim
            return np.zeros(0, dtype=np.int64), np.zeros((0, dim), np.float32)
        self._chunk(new)
        result.chunks_encoded += self._embed(new, batch_size, result.notes)
        ids, embeddings = self.store.add(new)
        self._changed(added=[doc.text for doc in new])
        result.documents_added += len(new)
        result.chunks_added += len(ids)
        return ids, embeddings

    def _chunk(self, documents: list[NewDocument]) -> None:
        spans = chunk_texts(self.index.encoder, [d.text for d in documents])
        for document, document_spans in zip(documents, spans, strict=True):
            document.chunks = [
                NewChunk(s.start, s.end, content_hash(document.text[s.start : s.end]))
                for s in document_spans
            ]

    def _embed(self, documents: list[NewDocument], batch_size: int | None, notes: list[str]) -> int:
        """Give every chunk its vector, encoding only text not stored yet; returns how many."""
        chunks = [(d, c) for d in documents for c in d.chunks]
        vectors = self.store.embeddings_by_hash(c.content_hash for _, c in chunks)
        missing: dict[str, str] = {}
        for document, chunk in chunks:
            if chunk.content_hash not in vectors:
                missing.setdefault(chunk.content_hash, document.text[chunk.start : chunk.end])
        if missing and self.given_vectors is not None:  # an import: vectors come with the rows
            given = {h: self.given_vectors.pop(h) for h in missing if h in self.given_vectors}
            vectors.update(given)
            self.imported += len(given)
            missing = {h: t for h, t in missing.items() if h not in given}
        if missing and self._first_int8_encoding():
            self._check_int8_on(list(missing.values())[:SAMPLE_CHECK], notes)
        if missing:
            encoded = self.index.encoder.encode_documents(list(missing.values()), batch_size)
            vectors.update(zip(missing, encoded))
        for _, chunk in chunks:
            chunk.vector = vectors[chunk.content_hash]
        return len(missing)

    def _first_int8_encoding(self) -> bool:
        spec = self.index.manifest.encoder
        return (
            spec.engine == "onnx"
            and spec.precision == "int8"
            and (self.index.encoders.reference or self.index.encoders.yardstick) is not None
            and self.store.chunk_count() == 0
        )

    def _check_int8_on(self, sample: list[str], notes: list[str]) -> None:
        """Check int8 against fp32 on the user's own first passages; fall back to fp32 if
        it drifts (trained weights can have outlier activations that random ones lack)."""
        index, encoders = self.index, self.index.encoders
        reference, yardstick = encoders.reference, encoders.yardstick
        fp32 = reference or yardstick
        assert fp32 is not None
        mean, low = agreement(index.encoder.encode_documents(sample), fp32.encode_documents(sample))
        if mean >= MIN_MEAN_COSINE and low >= MIN_COSINE:
            spec = replace(index.manifest.encoder, agreement=round(mean, 6))
        else:
            folder = index.path / index.encoder_folder
            if reference is not None:
                engine, spec = build_engine(reference, folder, "fp32", sample)
            else:
                engine, spec = yardstick.fp32_engine(folder)
            encoders.hold(engine, reference)
            spec = replace(
                spec,
                note=f"int8 embeddings of the first {len(sample)} passages were too far from fp32"
                f" (mean cosine {mean:.4f}, minimum {low:.4f}); using fp32",
            )
            notes.append(spec.note)
        spec = with_export_files(spec, index.path / index.encoder_folder)
        index.state.update(lambda m: m.with_encoder(spec))
        remember_engine(index.model_source, index.manifest.model, spec)
        encoders.drop_reference()  # checked: the PyTorch model is not needed again

    # Deleting

    def delete(self, doc_ids: Iterable[int], source: str | None) -> int:
        wanted = set(doc_ids)
        storable = sorted(d for d in wanted if fits_int64(d))  # past 64 bits: no such id
        found = set(self.store.get_documents(storable))
        if wanted - found:
            missing = ", ".join(map(str, sorted(wanted - found)))
            raise DocumentNotFound(f"No document with id {missing} in {self.index.path}")
        if source is not None:
            spellings = {source, source_name(source)}
            from_source = {d for s in spellings for d, _ in self.store.documents_of_source(s)}
            if not from_source:
                raise DocumentNotFound(f"No documents from source {source!r} in {self.index.path}")
            found |= from_source
        return self.delete_ids(sorted(found))

    def delete_ids(self, doc_ids: Sequence[int]) -> int:
        if not doc_ids:
            return 0
        held = self.index.vectors
        held.begin_write()
        removed = []
        if self._tracking(len(doc_ids)):
            removed = [d.text for d in self.store.get_documents(doc_ids).values()]
        chunk_ids = self.store.delete_documents(doc_ids)
        self._changed(removed=removed)
        try:
            held.remove(np.asarray(chunk_ids, dtype=np.int64))
        finally:
            self.save_vectors_if_current()
        return len(doc_ids)

    def _tracking(self, more: int) -> bool:
        """Whether the texts of `more` changed documents are still worth keeping (see
        __init__); stops tracking for good once the write outgrows TRACKED_TEXTS."""
        if self.texts_added is None or self.texts_removed is None:
            return False
        if len(self.texts_added) + len(self.texts_removed) + more > TRACKED_TEXTS:
            self.texts_added = self.texts_removed = None
            return False
        return True

    def _changed(self, added: Sequence[str] = (), removed: Sequence[str] = ()) -> None:
        """Note texts this write put in or took out of the keyword table."""
        if self._tracking(len(added) + len(removed)):
            assert self.texts_added is not None and self.texts_removed is not None
            self.texts_added.extend(added)
            self.texts_removed.extend(removed)

    def save_vocabulary(self, start: int) -> None:
        """Save the vocabulary after a write: this write's changes appended to the saved
        one (milliseconds, see vocabulary_file.py), or the saved one at `start` with them
        applied, rewritten whole; without one, or after a write too large to track, read
        whole from the keyword table (1.8 s at 1M passages)."""
        state, generation = self.index.state, self.store.generation
        if self.texts_added is None or self.texts_removed is None:
            state.save_vocabulary(generation, self.store.vocabulary())
            return
        changes = dict(self.store.term_counts(self.texts_added))
        for word, count in self.store.term_counts(self.texts_removed).items():
            changes[word] = changes.get(word, 0) - count
        if state.append_vocabulary(start, generation, changes):
            return
        saved = state.load_vocabulary(start)
        if saved is None:
            state.save_vocabulary(generation, self.store.vocabulary())
            return
        counts = dict(saved)
        for word, change in changes.items():
            counts[word] = counts.get(word, 0) + change
        state.save_vocabulary(generation, sorted((w, c) for w, c in counts.items() if c > 0))

    # The vector file

    def save_vectors_if_current(self) -> None:
        """Save the in-memory vectors if they match the store; else the next open rebuilds."""
        self.index.vectors.save_if_current()

    def _refit_vectors(self, result: AddResult) -> None:
        """Switch the vector index's kind when growth calls for it (auto: exact to IVF), and
        warn when an IVF index has outgrown the data its cells were trained on."""
        held = self.index.vectors
        shape = held.kind()
        if shape is None:
            return
        kind, trained_on = shape
        count = self.store.chunk_count()
        if choose_kind(self.index.manifest.index_type, count) != kind:
            held.replace()
        elif kind == IVF and count > RETRAIN_GROWTH * trained_on:
            result.notes.append(
                f"the index has {count} vectors, over {RETRAIN_GROWTH}x the"
                f" {trained_on} its IVF cells were trained on; run"
                " `sisearch rebuild` to retrain them (no re-encoding)"
            )

    def rebuild(self, index_type: str | None, compress: bool | None) -> int:
        index = self.index
        if index_type is not None or compress is not None:
            choose_kind(index_type or index.manifest.index_type, 0)
            index.state.update(
                lambda m: m.with_vectors(
                    index_type or m.index_type, m.compress if compress is None else compress
                )
            )
        vectors = index.vectors.replace()
        self.save_vectors_if_current()
        return len(vectors)

    # Upgrades of what older versions wrote

    def renormalize(self, batch_size: int | None) -> NormalizeResult:
        """Bring every stored text to the current normalization rule, re-encoding only the
        chunks whose text is new; the manifest records the rule at the end, so an
        interrupted run is finished by running it again."""
        result = NormalizeResult()
        changed: list[tuple[int, NewDocument]] = []
        previous: dict[int, str] = {}
        duplicates: list[int] = []
        claimed: set[tuple[str, str]] = set()
        for doc_id, text, source, line, metadata in self.store.iter_documents():
            canonical = normalize(text)
            if canonical == text:
                continue
            key = (source, content_hash(canonical))
            if key in claimed or self.store.known_documents([key]):
                duplicates.append(doc_id)
                continue
            claimed.add(key)
            changed.append((doc_id, NewDocument(canonical, source, line, metadata, key[1])))
            previous[doc_id] = text
        result.merged = self.delete_ids(duplicates)
        for start in range(0, len(changed), GROUP_SIZE):
            group = changed[start : start + GROUP_SIZE]
            documents = [document for _, document in group]
            self._chunk(documents)
            result.chunks_encoded += self._embed(documents, batch_size, [])
            self.store.replace_documents(group)
            self._changed(
                added=[d.text for d in documents], removed=[previous[i] for i, _ in group]
            )
            result.changed += len(group)
        if changed:
            self.rebuild(None, None)
        index = self.index
        index.state.update(lambda m: m.with_normalization(NORMALIZATION_VERSION))
        return result

    def migrate_sources(self) -> None:
        """Record every source as its file's resolved path, as this version does; merge
        documents that the same file contributed under two spellings.

        Done once, at the first write by this version: a relative source is resolved
        against the current folder if that file exists there; one that does not stays as
        it is (and `delete --source` still matches it as typed).
        """
        renames: dict[str, str] = {}
        for source in self.store.unresolved_sources():
            if source == _OLD_STDIN_SOURCE:
                renames[source] = STDIN_SOURCE
            elif source != STDIN_SOURCE and os.path.exists(source):
                resolved = source_name(source)
                if resolved != source:
                    renames[source] = resolved
        for old, new in renames.items():
            self.delete_ids(self.store.documents_also_in(old, new))
            self.store.rename_source(old, new)
        self.store.mark_sources_resolved()

    def migrate_model_path(self) -> None:
        """Record a local model folder that older versions kept as typed (relative) resolved,
        if it exists from here."""
        name = self.index.manifest.model.name
        if not os.path.isabs(name) and os.path.isdir(os.path.expanduser(name)):
            resolved = os.path.realpath(os.path.expanduser(name))
            self.index.state.update(lambda m: m.with_model_name(resolved))

    def check_encoder_kind(self, engine: str, note: str) -> None:
        """Refuse an encoder export whose engine differs from the one that made the vectors."""
        if engine != self.index.manifest.encoder.engine and self.store.chunk_count():
            raise IndexCorrupt(
                f"Cannot re-export the encoder of {self.index.path}: {note}; the stored"
                " vectors were made another way. Build a new index."
            )


def _as_documents(items: Iterable[str | Document]) -> Iterator[Document]:
    """Documents, each checked for what SQLite cannot store (CorpusError names which)."""
    for number, item in enumerate(items, start=1):
        document = Document(text=item) if isinstance(item, str) else item
        found = lone_surrogate(document.text) or lone_surrogate(document.source)
        found = found or lone_surrogate(document.metadata) or lone_surrogate(document.origin)
        if found:
            where = f"{document.source}:{document.line}" if document.line else f"passage {number}"
            raise CorpusError(
                f"{where}: holds a lone surrogate ({found}), which is not text; nothing was added"
                " from this passage on"
            )
        yield document


def _sources(labels: Iterable[str]) -> set[str]:
    return {source_name(label) for label in labels}


def _groups(documents: Iterator[Document], size: int) -> Iterator[list[Document]]:
    while group := list(islice(documents, size)):
        yield group
