"""DocumentStore: the SQLite database that is the index's source of truth.

It holds documents, their chunks and every chunk's embedding, so no crash, upgrade
or change of vector index ever forces re-encoding. Each write is one transaction
that also bumps `generation`; the FAISS file records the generation it was built
from, which is how a stale or half-written FAISS file is detected.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from .errors import IndexCorrupt

SCHEMA_VERSION = 1
DATABASE_FILE = "documents.db"


def content_hash(text: str) -> str:
    """Stable identity of a normalized text (128 bits of SHA-256, hex)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass
class NewChunk:
    """A chunk about to be stored: its span of the document text and its embedding."""

    start: int
    end: int
    content_hash: str
    vector: np.ndarray | None = None


@dataclass
class NewDocument:
    """A normalized document about to be stored with its chunks."""

    text: str
    source: str
    line: int | None
    metadata: dict[str, Any]
    content_hash: str
    chunks: list[NewChunk] = field(default_factory=list)


@dataclass(frozen=True)
class StoredDocument:
    """A document as read back from the store."""

    id: int
    text: str
    source: str
    line: int | None
    metadata: dict[str, Any]


class DocumentStore:
    """Documents, chunks and embeddings in SQLite (WAL, so readers never wait for a writer)."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        try:
            self.db = sqlite_utils.Database(path)
            self.db.execute("PRAGMA busy_timeout = 10000")
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.enable_wal()
            self._migrate()
        except sqlite3.DatabaseError as e:
            raise IndexCorrupt(f"{path}: not a readable sisearch database ({e})") from None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise IndexCorrupt(
                f"{self.path}: written by a newer sisearch (schema {version}); upgrade sisearch"
            )
        if version == SCHEMA_VERSION:
            return
        with self.db.atomic():
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self.db.execute(
                """CREATE TABLE IF NOT EXISTS documents (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    source TEXT NOT NULL,
                    line INTEGER,
                    text TEXT NOT NULL,
                    metadata TEXT NOT NULL DEFAULT '{}',
                    content_hash TEXT NOT NULL,
                    UNIQUE (source, content_hash)
                )"""
            )
            self.db.execute(
                """CREATE TABLE IF NOT EXISTS chunks (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    start INTEGER NOT NULL,
                    end INTEGER NOT NULL,
                    content_hash TEXT NOT NULL,
                    embedding BLOB NOT NULL
                )"""
            )
            self.db.execute("CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id)")
            self.db.execute("CREATE INDEX IF NOT EXISTS chunks_hash ON chunks(content_hash)")
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @property
    def generation(self) -> int:
        """Number of committed writes; the FAISS file must have been built at the same one."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    def document_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM documents").fetchone()[0]

    def chunk_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def known_documents(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (source, content_hash) pairs are already stored."""
        keys = list(keys)
        found: set[tuple[str, str]] = set()
        for part in _batches(keys, 400):
            clause = " OR ".join(["(source = ? AND content_hash = ?)"] * len(part))
            args = [value for key in part for value in key]
            rows = self.db.execute(
                f"SELECT source, content_hash FROM documents WHERE {clause}", args
            )
            found.update((source, digest) for source, digest in rows)
        return found

    def embeddings_by_hash(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored embeddings by chunk content hash, so equal text is never encoded twice."""
        found: dict[str, np.ndarray] = {}
        for part in _batches(sorted(set(hashes)), 900):
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT content_hash, embedding FROM chunks WHERE content_hash IN ({marks})"
                " GROUP BY content_hash",
                part,
            )
            for digest, blob in rows:
                found[digest] = self._vector(blob)
        return found

    def add(self, documents: Sequence[NewDocument]) -> tuple[np.ndarray, np.ndarray]:
        """Store documents and their embedded chunks in one transaction.

        Returns the new chunk ids and their vectors, in the order stored, for the
        vector index. Bumps the generation.
        """
        ids: list[int] = []
        vectors: list[np.ndarray] = []
        with self.db.atomic():
            for document in documents:
                cursor = self.db.execute(
                    "INSERT INTO documents (source, line, text, metadata, content_hash)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [
                        document.source,
                        document.line,
                        document.text,
                        json.dumps(document.metadata, ensure_ascii=False, sort_keys=True),
                        document.content_hash,
                    ],
                )
                doc_id = cursor.lastrowid
                for position, chunk in enumerate(document.chunks):
                    vector = np.ascontiguousarray(chunk.vector, dtype=np.float32)
                    cursor = self.db.execute(
                        "INSERT INTO chunks (doc_id, position, start, end, content_hash, embedding)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        [
                            doc_id,
                            position,
                            chunk.start,
                            chunk.end,
                            chunk.content_hash,
                            vector.tobytes(),
                        ],
                    )
                    ids.append(cursor.lastrowid)
                    vectors.append(vector)
            self._bump_generation()
        return (
            np.asarray(ids, dtype=np.int64),
            np.vstack(vectors) if vectors else np.zeros((0, self.dim), dtype=np.float32),
        )

    def _bump_generation(self) -> None:
        self.db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
        )

    def iter_embeddings(self, batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (chunk ids, vectors) in id order, a batch at a time, to rebuild the vector index."""
        last = -1
        while True:
            rows = self.db.execute(
                "SELECT id, embedding FROM chunks WHERE id > ? ORDER BY id LIMIT ?", [last, batch]
            ).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            yield ids, vectors.reshape(len(rows), self.dim)
            last = int(ids[-1])

    def documents_for_chunks(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        """Map chunk id -> document id for the chunks that still exist."""
        mapping: dict[int, int] = {}
        for part in _batches(list(chunk_ids), 900):
            marks = ",".join("?" * len(part))
            rows = self.db.execute(f"SELECT id, doc_id FROM chunks WHERE id IN ({marks})", part)
            mapping.update(rows)
        return mapping

    def get_documents(self, doc_ids: Sequence[int]) -> dict[int, StoredDocument]:
        """The documents with these ids (missing ones are left out)."""
        found: dict[int, StoredDocument] = {}
        for part in _batches(list(doc_ids), 900):
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT id, text, source, line, metadata FROM documents WHERE id IN ({marks})",
                part,
            )
            for doc_id, text, source, line, metadata in rows:
                found[doc_id] = StoredDocument(doc_id, text, source, line, json.loads(metadata))
        return found

    def sources(self) -> list[tuple[str, int]]:
        """Each source with its document count."""
        return self.db.execute(
            "SELECT source, count(*) FROM documents GROUP BY source ORDER BY source"
        ).fetchall()

    def close(self) -> None:
        self.db.close()

    def _vector(self, blob: bytes) -> np.ndarray:
        return np.frombuffer(blob, dtype=np.float32).copy()


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
