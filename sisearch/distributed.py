"""Encoding a corpus on Ray: `sisearch encode`, the engine users with a cluster already run.

The driver reads the corpus with sisearch's own readers (folders, PDFs, legacy fonts, ...)
into a Ray Dataset; `map_batches` runs an actor pool, each actor loading the index's
ONNX export once and encoding with a share of its machine's cores. Actors normalize and
chunk with the same functions `sisearch index` uses, so the Parquet shards they write
(`sisearch.portable` schema, `sisearch.json` beside them) import as passages that are
indistinguishable from indexed ones: `sisearch index --embeddings SHARDS`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .corpus import Document
from .errors import MissingExtra

EXTRA_HINT = 'pip install -e ".[ray]"'
BLOCK_ROWS = 512


def require_ray() -> Any:
    try:
        import pyarrow  # noqa: F401
        import ray

        return ray
    except ImportError:
        raise MissingExtra(
            f"sisearch encode needs Ray and pyarrow, which are not installed. Fix: {EXTRA_HINT}"
        ) from None


@dataclass
class EncodeSummary:
    passages: int
    chunks: int
    actors: int
    files: int


def encoder_payload(index_path: Path) -> dict[str, Any]:
    """What an actor needs to encode for the index, shipped through Ray's object store so
    workers need no access to the index folder: the export's files and the settings."""
    from .manifest import Manifest

    manifest = Manifest.read(index_path)
    folder = index_path / "encoder"
    return {
        "files": {f.name: f.read_bytes() for f in folder.iterdir() if f.is_file()},
        "name": manifest.model.name,
        "query_prompt": manifest.model.query_prompt,
        "document_prompt": manifest.model.document_prompt,
        "normalization": manifest.normalization,
        "dim": manifest.model.dim,
    }


class EncodeActor:
    """One Ray actor: the index's encoder, loaded once, embedding batches of passages."""

    def __init__(self, payload: Any, threads: int) -> None:
        import tempfile

        import ray

        from .onnx_encoder import OnnxEncoder

        settings = ray.get(payload) if isinstance(payload, ray.ObjectRef) else payload
        self._folder = tempfile.TemporaryDirectory(prefix="sisearch-encoder-")
        folder = Path(self._folder.name)
        for name, data in settings["files"].items():
            (folder / name).write_bytes(data)
        self.normalization = settings["normalization"]
        self.dim = settings["dim"]
        self.encoder = OnnxEncoder(
            folder,
            settings["name"],
            settings["query_prompt"],
            settings["document_prompt"],
            threads=threads,
        )

    def __call__(self, batch: Any) -> Any:
        from .portable import rows_table
        from .store import content_hash
        from .text import has_content, normalize, repair_mojibake
        from .writer import chunk_texts

        documents = []
        for source, line, metadata, text in zip(
            batch["source"], batch["line"], batch["metadata"], batch["text"], strict=True
        ):
            text = normalize(repair_mojibake(str(text))[0], self.normalization)
            if has_content(text):
                documents.append((str(source), _line(line), str(metadata), text))
        spans = chunk_texts(self.encoder, [d[3] for d in documents])
        pieces = [
            d[3][s.start : s.end] for d, doc_spans in zip(documents, spans) for s in doc_spans
        ]
        vectors = iter(self.encoder.encode_documents(pieces))
        rows = []
        for (source, line, metadata, text), doc_spans in zip(documents, spans, strict=True):
            digest = content_hash(text)
            for position, span in enumerate(doc_spans):
                rows.append(
                    {
                        "source": source,
                        "line": line,
                        "metadata": metadata,
                        "text": text,
                        "content_hash": digest,
                        "chunk": position,
                        "chunk_start": span.start,
                        "chunk_end": span.end,
                        "chunk_hash": content_hash(text[span.start : span.end]),
                        "embedding": next(vectors),
                    }
                )
        return rows_table(rows, self.dim)


def _line(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def start_ray(address: str, cpus: int | None = None) -> Any:
    """Connect to Ray: "local" starts one in this process, "auto" finds a running cluster,
    anything else is a cluster address (ray://host:10001 or host:6379)."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    import logging

    logging.getLogger("ray").setLevel(logging.WARNING)
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    if address == "local":
        ray.init(num_cpus=cpus or os.cpu_count(), include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    return ray


def encode_on_ray(
    documents: Iterable[Document],
    index_path: Path,
    out: Path,
    info: dict[str, str],
    address: str = "local",
    actors: int | None = None,
) -> EncodeSummary:
    """Encode `documents` for the index at `index_path` on Ray and write Parquet shards
    and `sisearch.json` to `out` (which must not hold shards already)."""
    from .portable import SHARD_INFO

    out = out.resolve()  # Ray's writers run in processes of their own, elsewhere
    ray = start_ray(address)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    actors = actors or max(1, min(cpus, 2 if address == "local" else cpus))
    threads = max(1, cpus // actors) if address == "local" else 0
    rows = [
        {
            "source": d.source,
            "line": -1 if d.line is None else d.line,
            "metadata": json.dumps(d.metadata, ensure_ascii=False, sort_keys=True),
            "text": d.text,
        }
        for d in documents
    ]
    if out.exists() and any(out.glob("*.parquet")):
        raise FileExistsError(f"{out} already holds Parquet shards; choose an empty folder")
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    blocks = max(2 * actors, len(rows) // BLOCK_ROWS)
    dataset = ray.data.from_items(rows, override_num_blocks=max(1, min(blocks, len(rows))))
    encoded = dataset.map_batches(
        EncodeActor,
        fn_constructor_kwargs={"payload": ray.put(encoder_payload(index_path)), "threads": threads},
        batch_size=256,
        batch_format="numpy",
        concurrency=actors,
        num_cpus=max(1, threads) if address == "local" else 1,
    )
    out.mkdir(parents=True, exist_ok=True)
    encoded.write_parquet(str(out))
    (out / SHARD_INFO).write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
    files = sorted(out.glob("*.parquet"))
    import pyarrow.parquet as pq

    chunks = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return EncodeSummary(len(rows), chunks, actors, len(files))
