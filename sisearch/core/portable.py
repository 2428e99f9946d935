"""An index's passages and embeddings as Parquet: exported for other systems, imported
without re-encoding (from an export, or from shards `sisearch encode` wrote).

One row per chunk (the unit that has an embedding), documents repeated on each of their
chunks, so the file loads straight into a vector database:

| column | type | |
|---|---|---|
| source, line, metadata | string, int64 (null), string (JSON) | where the passage came from |
| origin | string (JSON) | what the document reader recorded (page, heading, ...) |
| text, content_hash | string | the passage as indexed (normalized), and its hash |
| chunk, chunk_start, chunk_end | int32 | the chunk's position and character span in text |
| chunk_hash | string | hash of the chunk's text |
| embedding | fixed_size_list<float32>[dim] | unit vector; inner product is cosine |

The file's key-value metadata records the model fingerprint, the encoder engine and
precision and the normalization rule (`sisearch.*` keys); shards of a folder may carry it
in a `sisearch.json` beside them instead. An import refuses rows made under another
model, engine, precision or normalization. pyarrow is the `parquet` extra's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..documents.corpus import Document
from ..documents.origin import split_origin
from ..errors import CorpusError, MissingExtra

if TYPE_CHECKING:
    import numpy as np

    from ..index import Index

SHARD_INFO = "sisearch.json"
FORMAT = "1"
ROWS_PER_GROUP = 20_000
EXTRA_HINT = 'pip install -e ".[parquet]"  (or: pip install pyarrow)'


def require_pyarrow() -> Any:
    try:
        import pyarrow

        return pyarrow
    except ImportError:
        raise MissingExtra(
            f"Parquet needs pyarrow, which is not installed. Fix: {EXTRA_HINT}"
        ) from None


def creation_settings(info: dict[str, str]) -> dict[str, Any]:
    """`Index.create` keyword arguments that make an index the rows described by `info`
    (`sisearch.*` keys) import into without encoding: their model, engine, precision and
    prompts. The inverse of `shard_info`."""
    from ..encoders.onnx import ENGINES, PRECISIONS

    recorded = json.loads(info["sisearch.model"])
    engine, _, precision = info["sisearch.engine"].partition("/")
    return {  # an engine this sisearch lacks gets the default; the import then names it
        "model": recorded["name"],
        "engine": engine if engine in ENGINES else "onnx",
        "precision": precision if precision in PRECISIONS else None,
        "query_prompt": recorded["query_prompt"],
        "document_prompt": recorded["document_prompt"],
    }


def shard_info(index: Index) -> dict[str, str]:
    """What every row of this index's Parquet records was made under (`sisearch.*` keys)."""
    encoder = index.manifest.encoder
    return {
        "sisearch.format": FORMAT,
        "sisearch.model": json.dumps(index.manifest.model.to_dict(), ensure_ascii=False),
        "sisearch.engine": f"{encoder.engine}/{encoder.precision}",
        "sisearch.normalization": index.manifest.normalization,
    }


def schema(dim: int, info: dict[str, str] | None = None) -> Any:
    pa = require_pyarrow()
    fields = [
        pa.field("source", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("metadata", pa.string()),
        pa.field("origin", pa.string()),
        pa.field("text", pa.string()),
        pa.field("content_hash", pa.string()),
        pa.field("chunk", pa.int32()),
        pa.field("chunk_start", pa.int32()),
        pa.field("chunk_end", pa.int32()),
        pa.field("chunk_hash", pa.string()),
        pa.field("embedding", pa.list_(pa.float32(), dim)),
    ]
    return pa.schema(fields, metadata=info)


def rows_table(rows: list[dict[str, Any]], dim: int, info: dict[str, str] | None = None) -> Any:
    """A pyarrow table of chunk rows (dicts with the schema's columns)."""
    import numpy as np

    pa = require_pyarrow()
    layout = schema(dim, info)
    arrays = [
        pa.array([row[f.name] for row in rows], f.type) for f in layout if f.name != "embedding"
    ]
    vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32).reshape(-1)
    embedding = pa.FixedSizeListArray.from_arrays(pa.array(vectors, pa.float32()), dim)
    return pa.Table.from_arrays([*arrays, embedding], schema=layout)


def export_parquet(index: Index, out: Path) -> int:
    """Write every chunk of `index` to one Parquet file (replaced atomically, its folder made
    if missing); returns rows."""
    import pyarrow.parquet as pq

    dim = index.manifest.model.dim
    info = shard_info(index)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.partial")
    written = 0
    try:
        with pq.ParquetWriter(temporary, schema(dim, info)) as writer:
            rows: list[dict[str, Any]] = []
            for row in index.store.iter_chunk_rows():
                rows.append(chunk_row(*row[1:11], origin=row[11]))
                if len(rows) >= ROWS_PER_GROUP:
                    writer.write_table(rows_table(rows, dim, info))
                    written, rows = written + len(rows), []
            if rows:
                writer.write_table(rows_table(rows, dim, info))
                written += len(rows)
        temporary.replace(out)
    except BaseException:  # Ctrl-C or a full disk: no half-written file stays behind
        temporary.unlink(missing_ok=True)
        raise
    return written


def chunk_row(
    text: str,
    source: str,
    line: int | None,
    metadata: str,
    content_hash: str,
    position: int,
    start: int,
    end: int,
    chunk_hash: str,
    embedding: np.ndarray,
    origin: str = "{}",
) -> dict[str, Any]:
    """One row of the schema: a chunk with its passage (exports and `sisearch encode`)."""
    return {
        "source": source,
        "line": line,
        "metadata": metadata,
        "origin": origin,
        "text": text,
        "content_hash": content_hash,
        "chunk": position,
        "chunk_start": start,
        "chunk_end": end,
        "chunk_hash": chunk_hash,
        "embedding": embedding,
    }


def parquet_files(path: Path) -> list[Path]:
    """A Parquet file, or the Parquet files of a folder (in name order)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if not p.name.startswith("."))
        if not files:
            raise CorpusError(f"{path}: no .parquet files in this folder")
        return files
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder")
    return [path]


def read_info(files: list[Path], folder: Path | None) -> dict[str, str]:
    """The `sisearch.*` metadata every file shares (from the files, else `sisearch.json`)."""
    import pyarrow.parquet as pq

    sidecar = folder / SHARD_INFO if folder is not None else None
    fallback = (
        json.loads(sidecar.read_text(encoding="utf-8")) if sidecar and sidecar.exists() else {}
    )
    found: dict[str, str] | None = None
    for file in files:
        try:
            layout = pq.read_schema(file)
        except Exception as e:  # not Parquet, truncated
            raise CorpusError(f"{file}: not a readable Parquet file ({e})") from None
        _check_columns(layout, file)
        raw = layout.metadata or {}
        info = {k.decode(): v.decode() for k, v in raw.items() if k.startswith(b"sisearch.")}
        info = info or fallback
        if not info:
            raise CorpusError(
                f"{file}: no sisearch metadata (was it written by `sisearch export` or"
                " `sisearch encode`?)"
            )
        if found is not None and info != found:
            raise CorpusError(f"{file}: made under another model or rule than {files[0]}")
        found = info
    return found or {}


REQUIRED_COLUMNS = ("source", "line", "metadata", "text", "content_hash", "chunk_hash")


def _check_columns(layout: Any, file: Path) -> None:
    """Refuse a file without the columns an import reads, before anything is created."""
    import pyarrow as pa

    missing = [c for c in (*REQUIRED_COLUMNS, "embedding") if c not in layout.names]
    if missing:
        raise CorpusError(f"{file}: missing column(s) {', '.join(missing)}")
    embedding = layout.field("embedding").type
    if not (pa.types.is_fixed_size_list(embedding) and pa.types.is_floating(embedding.value_type)):
        raise CorpusError(
            f"{file}: column embedding is {embedding}, not a fixed-size list of floats"
        )


def check_compatible(info: dict[str, str], index: Index, label: str) -> None:
    """Refuse rows made under another model, engine, precision or normalization."""
    from ..encoders.encoder import ModelFingerprint

    mine = shard_info(index)
    if info.get("sisearch.format") != FORMAT:
        raise CorpusError(f"{label}: unknown shard format {info.get('sisearch.format')!r}")
    theirs = ModelFingerprint.from_dict(json.loads(info["sisearch.model"]))
    reason = index.manifest.model.mismatch(theirs)
    if reason:
        raise CorpusError(
            f"{label}: made with model {theirs.name!r}, not the index's: {reason}. Encode"
            " them again for this index (sisearch encode ... --index NAME)."
        )
    for key, what in (("sisearch.engine", "encoder"), ("sisearch.normalization", "normalization")):
        if info.get(key) != mine[key]:
            raise CorpusError(
                f"{label}: made with {what} {info.get(key)!r}, the index uses {mine[key]!r};"
                " embeddings from another engine or rule would not match its own."
            )


def iter_shard_documents(files: list[Path], vectors: dict[str, np.ndarray]) -> Iterator[Document]:
    """The documents of the files, once each, in order; fills `vectors` (chunk hash ->
    embedding) with each document's chunks before the document is given."""
    import numpy as np
    import pyarrow.parquet as pq

    pending: Document | None = None
    previous: tuple[str, str] | None = None
    for file in files:
        parquet = pq.ParquetFile(file)
        for group in range(parquet.num_row_groups):
            table = parquet.read_row_group(group)
            data = {
                name: table.column(name).to_pylist()
                for name in table.column_names
                if name != "embedding"
            }
            embedding = table.column("embedding").combine_chunks()
            dim = embedding.type.list_size
            matrix = np.asarray(embedding.values.to_numpy(zero_copy_only=False), np.float32)
            matrix = matrix.reshape(-1, dim)
            for i in range(table.num_rows):
                key = (data["source"][i], data["content_hash"][i])
                if key != previous:
                    if pending is not None:
                        yield pending  # all its chunks' vectors are in `vectors` now
                    previous = key
                    pending = _shard_document(data, i)
                vectors[data["chunk_hash"][i]] = matrix[i]
    if pending is not None:
        yield pending


def _shard_document(data: dict[str, list[Any]], i: int) -> Document:
    """Row i's passage; a file written before the `origin` column has the reader's fields
    in `metadata`, split by the rule old indexes are migrated by."""
    source = data["source"][i]
    metadata = json.loads(data["metadata"][i] or "{}")
    if "origin" in data:
        origin = json.loads(data["origin"][i] or "{}")
    else:
        metadata, origin = split_origin(source, metadata)
    return Document(data["text"][i], source, data["line"][i], metadata, origin)


__all__ = [
    "EXTRA_HINT",
    "MissingExtra",
    "export_parquet",
    "iter_shard_documents",
    "parquet_files",
    "read_info",
    "rows_table",
    "schema",
    "shard_info",
]
