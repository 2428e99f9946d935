"""DocumentStore: the SQLite database that is the index's source of truth.

It holds documents, their chunks and every chunk's embedding (float16 since schema 4),
so no crash, upgrade or change of vector index ever forces re-encoding. Each write is
one transaction that also bumps `generation`; the FAISS file records the generation it
was built from, which is how a stale or half-written FAISS file is detected.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..documents.origin import split_origin
from ..errors import IndexCorrupt, InvalidQuery
from ..language.lexical import FTS_TOKENIZER, fts_literal
from ..language.text import lexical_key
from .filters import Filter

if TYPE_CHECKING:
    import sqlite_utils


def _sqlite_utils_without_pandas() -> Any:
    """sqlite-utils, imported with pandas hidden: where pandas is installed, sqlite-utils
    imports it (and pandas pyarrow), 0.34 s of a cold query, only to map `pd.Timestamp`
    columns, which sisearch never writes. pandas stays importable for everyone else."""
    if "sqlite_utils" in sys.modules:
        return sys.modules["sqlite_utils"]
    hide = "pandas" not in sys.modules
    if hide:
        sys.modules["pandas"] = None  # type: ignore[assignment]  # import pandas -> ImportError
    try:
        import sqlite_utils
    finally:
        if hide and sys.modules.get("pandas", 0) is None:
            del sys.modules["pandas"]
    return sqlite_utils


SCHEMA_VERSION = 4
# Schema 4 stores embeddings as little-endian float16: half the bytes of float32, and for
# unit vectors each component is off by at most 2**-11 of itself, so a cosine read from
# the store is within 2**-11 (4.9e-4) of the float32 one (Cauchy-Schwarz). Rows written
# before stay float32 and are told apart by their length.
EMBEDDING_DTYPE = np.dtype("<f2")
STORED_COSINE_ERROR = 2.0**-11
_NO_ORIGIN_COLUMN = "<no origin column>"
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
    origin: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredDocument:
    """A document as read back from the store."""

    id: int
    text: str
    source: str
    line: int | None
    metadata: dict[str, Any]
    origin: dict[str, Any] = field(default_factory=dict)


class DocumentStore:
    """Documents, chunks and embeddings in SQLite (WAL, so readers never wait for a writer).

    Opening changes nothing: WAL mode and schema migrations are set up by `upgrade`,
    which the index calls at create and under its writer lock. A folder that cannot be
    written (a read-only share) is opened read-only.
    """

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        # One connection per thread (a server searches from several), all closed by close().
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        try:
            version = self.schema_version
        except sqlite3.DatabaseError as e:
            raise IndexCorrupt(f"{path}: not a readable sisearch database ({e})") from None
        if version > SCHEMA_VERSION:
            raise IndexCorrupt(
                f"{self.path}: written by a newer sisearch (schema {version}); upgrade sisearch"
            )

    @property
    def _sql(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use; reads go through it directly."""
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = _connect(self.path)
            connection.execute("PRAGMA busy_timeout = 10000")
            connection.execute("PRAGMA foreign_keys = ON")
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection wrapped by sqlite-utils, for writes (its transactions).

        Only writers import sqlite-utils: its import and plugin scan cost a cold query
        about 80 ms of its 0.5 s. Plugins are not run: sisearch registers no SQL functions.
        """
        db = getattr(self._local, "db", None)
        if db is None:
            db = _sqlite_utils_without_pandas().Database(self._sql, execute_plugins=False)
            self._local.db = db
        return db

    @property
    def schema_version(self) -> int:
        return int(self._sql.execute("PRAGMA user_version").fetchone()[0])

    @property
    def needs_upgrade(self) -> bool:
        return self.schema_version < SCHEMA_VERSION

    @property
    def has_keyword_table(self) -> bool:
        """False for an index from before schema 2, read as it is until its next write."""
        return self.schema_version >= 2

    @property
    def has_origin_column(self) -> bool:
        """False for an index from before schema 3, whose reader fields are still in
        `metadata` (split as they are read) until its next write moves them."""
        return self.schema_version >= 3

    def upgrade(self) -> None:
        """WAL mode and schema migrations; only for the holder of the index's writer lock."""
        try:
            self.db.enable_wal()
            version = self.schema_version
            if version < 1:
                self._create_v1()
            if version < 2:
                self._add_keyword_index()
            if version < 3:
                self._add_origin_column()
            if version < 4:
                self.db.execute("PRAGMA user_version = 4")  # new embeddings are float16
        except sqlite3.DatabaseError as e:
            raise IndexCorrupt(f"{self.path}: cannot upgrade the database ({e})") from None

    def _create_v1(self) -> None:
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
            self.db.execute("PRAGMA user_version = 1")

    def _add_keyword_index(self) -> None:
        """Schema 2: an FTS5 table over each document's lexical key, rowid = document id."""
        with self.db.atomic():
            self.db.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(key,"
                f' tokenize="{FTS_TOKENIZER}")'
            )
            for doc_id, text in self.db.execute("SELECT id, text FROM documents").fetchall():
                self.db.execute(
                    "INSERT INTO documents_fts (rowid, key) VALUES (?, ?)",
                    [doc_id, lexical_key(text)],
                )
            self.db.execute("PRAGMA user_version = 2")

    def _add_origin_column(self) -> None:
        """Schema 3: reader-recorded fields in their own column, out of the user's metadata."""
        with self.db.atomic():
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(documents)")}
            if "origin" not in columns:
                self.db.execute(
                    "ALTER TABLE documents ADD COLUMN origin TEXT NOT NULL DEFAULT '{}'"
                )
            rows = self.db.execute(
                "SELECT id, source, metadata FROM documents WHERE metadata != '{}'"
            ).fetchall()
            for doc_id, source, metadata in rows:
                user, origin = split_origin(source, json.loads(metadata))
                if origin:
                    self.db.execute(
                        "UPDATE documents SET metadata = ?, origin = ? WHERE id = ?",
                        [_json(user), _json(origin), doc_id],
                    )
            self.db.execute("PRAGMA user_version = 3")

    def _fields(self, source: str, metadata: str, origin: str) -> tuple[dict, dict]:
        """(metadata, origin) of a stored row, split by the old rule before schema 3."""
        if origin == _NO_ORIGIN_COLUMN:
            return split_origin(source, json.loads(metadata))
        return json.loads(metadata), json.loads(origin)

    @property
    def _origin_column(self) -> str:
        """The column filters and counts read reader fields from (`metadata` before schema 3)."""
        return "origin" if self.has_origin_column else "metadata"

    @property
    def _origin_sql(self) -> str:
        """The origin column in a SELECT, or a marker the row reader splits by the old rule."""
        return "origin" if self.has_origin_column else f"'{_NO_ORIGIN_COLUMN}'"

    @property
    def generation(self) -> int:
        """Number of committed writes; the FAISS file must have been built at the same one."""
        row = self._sql.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    def document_count(self) -> int:
        return self._sql.execute("SELECT count(*) FROM documents").fetchone()[0]

    def chunk_count(self) -> int:
        return self._sql.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def known_documents(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int | None]]:
        """The stored (id, line) of each (source, content_hash) pair that is already stored."""
        keys = list(keys)
        found: dict[tuple[str, str], tuple[int, int | None]] = {}
        for part in _batches(keys, 400):
            clause = " OR ".join(["(source = ? AND content_hash = ?)"] * len(part))
            args = [value for key in part for value in key]
            rows = self._sql.execute(
                f"SELECT source, content_hash, id, line FROM documents WHERE {clause}", args
            )
            found.update(
                ((source, digest), (doc_id, line)) for source, digest, doc_id, line in rows
            )
        return found

    def update_lines(self, changes: Sequence[tuple[int | None, int]]) -> None:
        """Set (line, document id) pairs: a passage that moved in its file keeps its vectors."""
        if changes:
            with self.db.atomic():
                for line, doc_id in changes:
                    self.db.execute("UPDATE documents SET line = ? WHERE id = ?", [line, doc_id])

    def documents_of_source(self, source: str) -> list[tuple[int, str]]:
        """(id, content_hash) of every document read from `source`."""
        return self._sql.execute(
            "SELECT id, content_hash FROM documents WHERE source = ? ORDER BY id", [source]
        ).fetchall()

    def delete_documents(self, doc_ids: Sequence[int]) -> np.ndarray:
        """Delete documents with their chunks and keyword rows in one transaction.

        Returns the deleted chunk ids (for the vector index). Bumps the generation.
        """
        chunk_ids: list[int] = []
        with self.db.atomic():
            for part in _batches(_ints(doc_ids), 900):
                marks = ",".join("?" * len(part))
                chunk_ids.extend(
                    r[0]
                    for r in self.db.execute(
                        f"SELECT id FROM chunks WHERE doc_id IN ({marks})", part
                    )
                )
                self.db.execute(f"DELETE FROM chunks WHERE doc_id IN ({marks})", part)
                self.db.execute(f"DELETE FROM documents_fts WHERE rowid IN ({marks})", part)
                self.db.execute(f"DELETE FROM documents WHERE id IN ({marks})", part)
            self._bump_generation()
        return np.asarray(chunk_ids, dtype=np.int64)

    def embeddings_by_hash(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored embeddings by chunk content hash, so equal text is never encoded twice."""
        found: dict[str, np.ndarray] = {}
        for part in _batches(sorted(set(hashes)), 900):
            marks = ",".join("?" * len(part))
            rows = self._sql.execute(
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
                    "INSERT INTO documents (source, line, text, metadata, origin, content_hash)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        document.source,
                        document.line,
                        document.text,
                        _json(document.metadata),
                        _json(document.origin),
                        document.content_hash,
                    ],
                )
                doc_id = cursor.lastrowid
                self.db.execute(
                    "INSERT INTO documents_fts (rowid, key) VALUES (?, ?)",
                    [doc_id, lexical_key(document.text)],
                )
                for chunk_id, vector in self._insert_chunks(doc_id, document):
                    ids.append(chunk_id)
                    vectors.append(vector)
            self._bump_generation()
        return (
            np.asarray(ids, dtype=np.int64),
            np.vstack(vectors) if vectors else np.zeros((0, self.dim), dtype=np.float32),
        )

    def _insert_chunks(
        self, doc_id: int, document: NewDocument
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Insert a document's chunks; yields each new chunk id with its vector."""
        for position, chunk in enumerate(document.chunks):
            try:
                blob = embedding_blob(chunk.vector)
            except InvalidQuery as e:
                raise InvalidQuery(f"{document.source}:{document.line}: {e}") from None
            cursor = self.db.execute(
                "INSERT INTO chunks (doc_id, position, start, end, content_hash, embedding)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [doc_id, position, chunk.start, chunk.end, chunk.content_hash, blob],
            )
            yield int(cursor.lastrowid), self._vectors([blob])[0]

    def _bump_generation(self) -> None:
        self.db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
        )

    def iter_embeddings(self, batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All (chunk ids, vectors) in id order, a batch at a time, to rebuild the vector index."""
        last = -1
        while True:
            rows = self._sql.execute(
                "SELECT id, embedding FROM chunks WHERE id > ? ORDER BY id LIMIT ?", [last, batch]
            ).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield ids, self._vectors([r[1] for r in rows])
            last = int(ids[-1])

    def training_sample(self, rows: int) -> np.ndarray:
        """About `rows` embeddings spread evenly over the store, to train IVF cells on."""
        total = self.chunk_count()
        step = max(1, total // max(rows, 1))
        blobs = self._sql.execute(
            "SELECT embedding FROM chunks WHERE id % ? = 0 LIMIT ?", [step, rows]
        ).fetchall()
        if not blobs:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._vectors([b[0] for b in blobs])

    def embeddings_of_chunks(self, chunk_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of these chunks, for exact search over a filtered subset."""
        ids: list[int] = []
        blobs: list[bytes] = []
        for part in _batches(_ints(chunk_ids), 900):
            marks = ",".join("?" * len(part))
            for chunk_id, blob in self._sql.execute(
                f"SELECT id, embedding FROM chunks WHERE id IN ({marks})", part
            ):
                ids.append(chunk_id)
                blobs.append(blob)
        return np.asarray(ids, dtype=np.int64), self._vectors(blobs)

    def chunk_embeddings_of_documents(self, doc_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """Each document's chunk embeddings (one row a chunk), for exact scoring of hits."""
        blobs: dict[int, list[bytes]] = {}
        for part in _batches(_ints(doc_ids), 900):
            marks = ",".join("?" * len(part))
            rows = self._sql.execute(
                f"SELECT doc_id, embedding FROM chunks WHERE doc_id IN ({marks})", part
            )
            for doc_id, blob in rows:
                blobs.setdefault(doc_id, []).append(blob)
        return {doc_id: self._vectors(parts) for doc_id, parts in blobs.items()}

    def documents_for_chunks(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        """Map chunk id -> document id for the chunks that still exist."""
        mapping: dict[int, int] = {}
        for part in _batches(_ints(chunk_ids), 900):
            marks = ",".join("?" * len(part))
            rows = self._sql.execute(f"SELECT id, doc_id FROM chunks WHERE id IN ({marks})", part)
            mapping.update(rows)
        return mapping

    def get_documents(self, doc_ids: Sequence[int]) -> dict[int, StoredDocument]:
        """The documents with these ids (missing ones are left out)."""
        found: dict[int, StoredDocument] = {}
        for part in _batches(_ints(doc_ids), 900):
            marks = ",".join("?" * len(part))
            rows = self._sql.execute(
                f"SELECT id, text, source, line, metadata, {self._origin_sql} FROM documents"
                f" WHERE id IN ({marks})",
                part,
            )
            for doc_id, text, source, line, metadata, origin in rows:
                user, recorded = self._fields(source, metadata, origin)
                found[doc_id] = StoredDocument(doc_id, text, source, line, user, recorded)
        return found

    def keyword_search(
        self, match: str, limit: int, where: Filter | None = None
    ) -> list[tuple[int, float]]:
        """(document id, BM25 score; higher is better) of the best FTS5 matches, filtered in SQL.

        `match` is an FTS5 expression; a malformed one (from --raw-fts) is InvalidQuery.
        None found in an index without a keyword table yet.
        """
        if not self.has_keyword_table:
            return []
        if where is None:
            # Without a filter, skip the join: it would touch every matching row before the sort.
            sql = (
                "SELECT rowid, -bm25(documents_fts) FROM documents_fts"
                " WHERE documents_fts MATCH ? ORDER BY bm25(documents_fts) LIMIT ?"
            )
            params: list[Any] = [match, limit]
        else:
            clause, where_params = where.sql(origin=self._origin_column)
            sql = (
                "SELECT documents.id, -bm25(documents_fts) FROM documents_fts"
                " JOIN documents ON documents.id = documents_fts.rowid"
                f" WHERE documents_fts MATCH ? AND {clause}"
                " ORDER BY bm25(documents_fts) LIMIT ?"
            )
            params = [match, *where_params, limit]
        try:
            rows = self._sql.execute(sql, params).fetchall()
        except sqlite3.OperationalError as e:
            raise InvalidQuery(f"invalid full-text query {match!r} ({e})") from None
        return [(int(doc_id), float(score)) for doc_id, score in rows]

    def holding_all(self, terms: Sequence[str], doc_ids: Sequence[int]) -> set[int]:
        """Which of `doc_ids` hold every one of `terms` (lexical keys), by the keyword table."""
        if not terms or not doc_ids or not self.has_keyword_table:
            return set()
        match = " AND ".join(fts_literal(term) for term in terms)
        found: set[int] = set()
        for part in _batches(_ints(doc_ids), 900):
            marks = ",".join("?" * len(part))
            rows = self._sql.execute(
                "SELECT rowid FROM documents_fts WHERE documents_fts MATCH ?"
                f" AND rowid IN ({marks})",
                [match, *part],
            )
            found.update(int(row[0]) for row in rows)
        return found

    def chunk_ids_where(self, where: Filter) -> np.ndarray:
        """Ids of the chunks of documents that pass the filter."""
        clause, params = where.sql(origin=self._origin_column)
        rows = self._sql.execute(
            "SELECT chunks.id FROM chunks JOIN documents ON documents.id = chunks.doc_id"
            f" WHERE {clause}",
            params,
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def iter_documents(self, batch: int = 2000) -> Iterator[tuple[int, str, str, int | None, dict]]:
        """(id, text, source, line, metadata) of every document in id order, a batch at a time."""
        last = -1
        while rows := self._sql.execute(
            "SELECT id, text, source, line, metadata FROM documents WHERE id > ? ORDER BY id"
            " LIMIT ?",
            [last, batch],
        ).fetchall():
            for doc_id, text, source, line, metadata in rows:
                yield doc_id, text, source, line, json.loads(metadata)
            last = rows[-1][0]

    def iter_chunk_rows(self, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Every chunk with its document, in document then chunk order: (doc id, document
        text, source, line, metadata JSON, document hash, position, start, end, chunk hash,
        embedding as float32, origin JSON)."""
        last = (-1, -1)
        while rows := self._sql.execute(
            "SELECT d.id, d.text, d.source, d.line, d.metadata, d.content_hash, c.position,"
            f" c.start, c.end, c.content_hash, c.embedding, {self._origin_sql}"
            " FROM chunks c JOIN documents d"
            " ON d.id = c.doc_id WHERE (c.doc_id, c.position) > (?, ?)"
            " ORDER BY c.doc_id, c.position LIMIT ?",
            [*last, batch],
        ).fetchall():
            for row in rows:
                user, origin = self._fields(row[2], row[4], row[11])
                yield (*row[:4], _json(user), *row[5:10], self._vector(row[10]), _json(origin))
            last = (rows[-1][0], rows[-1][6])

    def replace_documents(self, changes: Sequence[tuple[int, NewDocument]]) -> None:
        """Give documents new text (same id, source, line and metadata) with new chunks, in
        one transaction. Bumps the generation."""
        with self.db.atomic():
            for doc_id, document in changes:
                self.db.execute(
                    "UPDATE documents SET text = ?, content_hash = ? WHERE id = ?",
                    [document.text, document.content_hash, doc_id],
                )
                self.db.execute(
                    "UPDATE documents_fts SET key = ? WHERE rowid = ?",
                    [lexical_key(document.text), doc_id],
                )
                self.db.execute("DELETE FROM chunks WHERE doc_id = ?", [doc_id])
                list(self._insert_chunks(doc_id, document))
            self._bump_generation()

    def unresolved_sources(self) -> list[str]:
        """Sources not yet migrated to resolved paths (none once the migration has run)."""
        if self._meta("sources") == "resolved":
            return []
        return [
            row[0]
            for row in self._sql.execute(
                "SELECT DISTINCT source FROM documents WHERE source NOT LIKE '/%'"
            )
        ]

    def mark_sources_resolved(self) -> None:
        with self.db.atomic():
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('sources', 'resolved')")

    def documents_also_in(self, source: str, other: str) -> list[int]:
        """Ids of documents of `source` whose text `other` holds too (a file read twice)."""
        return [
            row[0]
            for row in self._sql.execute(
                "SELECT a.id FROM documents a JOIN documents b"
                " ON b.source = ? AND b.content_hash = a.content_hash WHERE a.source = ?",
                [other, source],
            )
        ]

    def rename_source(self, old: str, new: str) -> None:
        with self.db.atomic():
            self.db.execute("UPDATE documents SET source = ? WHERE source = ?", [new, old])

    def _meta(self, key: str) -> str | None:
        row = self._sql.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def vocabulary(self) -> list[tuple[str, int]]:
        """Every word of the keyword table (its lexical key) with the number of documents
        holding it, from SQLite's fts5vocab (a temporary table: nothing is written)."""
        if not self.has_keyword_table:
            return []
        self._vocabulary_table()
        return self._sql.execute("SELECT term, doc FROM temp.documents_vocabulary").fetchall()

    def held_terms(self, terms: Sequence[str]) -> set[str]:
        """Which of `terms` (lexical keys) the keyword table holds; a look-up per term."""
        if not terms or not self.has_keyword_table:
            return set()
        self._vocabulary_table()
        marks = ", ".join("?" * len(terms))
        sql = f"SELECT term FROM temp.documents_vocabulary WHERE term IN ({marks})"
        return {row[0] for row in self._sql.execute(sql, list(terms))}

    def _vocabulary_table(self) -> None:
        self._sql.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.documents_vocabulary"
            " USING fts5vocab(main, documents_fts, row)"
        )

    def term_counts(self, texts: Sequence[str]) -> dict[str, int]:
        """How many of `texts` hold each keyword-table word, tokenized exactly as the table
        does (a temporary FTS5 table with its tokenizer: nothing is written)."""
        if not texts:
            return {}
        db = self.db
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.scratch_fts USING fts5(key,"
            f' tokenize="{FTS_TOKENIZER}")'
        )
        db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.scratch_vocabulary"
            " USING fts5vocab(temp, scratch_fts, row)"
        )
        try:
            db.conn.executemany(
                "INSERT INTO temp.scratch_fts (key) VALUES (?)",
                [(lexical_key(text),) for text in texts],
            )
            return dict(db.execute("SELECT term, doc FROM temp.scratch_vocabulary").fetchall())
        finally:
            db.execute("DELETE FROM temp.scratch_fts")
            db.conn.commit()  # only the temporary table was written

    def conversion_counts(self) -> tuple[int, int]:
        """(passages converted from a legacy font, PDF words the repair changed), as the
        readers recorded them in each document's origin."""
        column = self._origin_column
        legacy, repaired = self._sql.execute(
            f"SELECT count(json_extract({column}, '$.legacy_font')),"
            f" coalesce(sum(json_extract({column}, '$.repaired_words')), 0)"
            f" FROM documents WHERE {column} != '{{}}'"
        ).fetchone()
        return int(legacy), int(repaired)

    def sources(self) -> list[tuple[str, int]]:
        """Each source with its document count."""
        return self._sql.execute(
            "SELECT source, count(*) FROM documents GROUP BY source ORDER BY source"
        ).fetchall()

    def close(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    def _vector(self, blob: bytes) -> np.ndarray:
        return self._vectors([blob])[0]

    def _vectors(self, blobs: Sequence[bytes]) -> np.ndarray:
        """float32 rows from stored embeddings, float16 or (before schema 4) float32."""
        try:
            return decode_embeddings(blobs, self.dim)
        except ValueError as e:
            raise IndexCorrupt(f"{self.path}: {e}") from None


def embedding_blob(vector: np.ndarray) -> bytes:
    """How an embedding is stored: little-endian float16 (see EMBEDDING_DTYPE)."""
    with np.errstate(over="ignore"):  # reported below, as one error
        half = np.asarray(vector, dtype=np.float32).astype(EMBEDDING_DTYPE)
    if not np.isfinite(half).all():
        raise InvalidQuery(
            "an embedding must be finite and unit-length to be stored"
            " (a component is not a number or too large for float16)"
        )
    return half.tobytes()


def decode_embeddings(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """An (n, dim) float32 array of stored embeddings: a batch all of one width is read in
    one call; one that mixes float32 rows (written before schema 4) with float16 ones is
    read row by row."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    for dtype in (EMBEDDING_DTYPE, np.dtype("<f4")):
        width = dim * dtype.itemsize
        if all(len(blob) == width for blob in blobs):
            joined = np.frombuffer(b"".join(blobs), dtype=dtype)
            return joined.astype(np.float32).reshape(len(blobs), dim)
    rows = []
    for blob in blobs:
        if len(blob) not in (dim * 2, dim * 4):
            raise ValueError(f"a stored embedding of {len(blob)} bytes is not {dim}-dimensional")
        rows.append(np.frombuffer(blob, dtype=EMBEDDING_DTYPE if len(blob) == dim * 2 else "<f4"))
    return np.vstack(rows).astype(np.float32)


def _json(fields: dict[str, Any]) -> str:
    return json.dumps(fields, ensure_ascii=False, sort_keys=True)


def _connect(path: Path) -> sqlite3.Connection:
    """A connection that can write where the folder allows it, else a read-only one.

    A WAL database in a folder that cannot be written cannot create its shared-memory
    file, so a read-only open falls back to `immutable=1` (nobody can write it there).
    """
    if not path.exists() or (os.access(path.parent, os.W_OK) and os.access(path, os.W_OK)):
        return sqlite3.connect(path, check_same_thread=False)
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return connection
    except sqlite3.OperationalError:
        connection.close()
    return sqlite3.connect(f"{uri}&immutable=1", uri=True, check_same_thread=False)


def _ints(values: Iterable[Any]) -> list[int]:
    """Plain ints: sqlite3 binds a numpy integer as a blob, which silently matches nothing."""
    return [int(v) for v in values]


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
