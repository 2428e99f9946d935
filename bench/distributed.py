"""Distributed encoding benchmark: `sisearch encode` on Ray with 1 and 2 actors against
`sisearch index` (Index.add) on the same passages, Ray's fixed start-up, and the import of
Parquet shards at 100,000 passages.

    python bench/distributed.py          # about 6 minutes on 2 cores
    python bench/distributed.py --passages 2000 --import-rows 20000

The encoder is the randomly initialised full-size XLM-R base model (it costs what the real
one costs). Run it alone: two cores are shared by everything you run.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hybrid import base_model, machine  # noqa: E402
from bench.speed import passages, short_passages  # noqa: E402
from sisearch import Document, Index  # noqa: E402


def documents(count: int) -> list[Document]:
    short, _ = short_passages(count // 2, seed=3)
    texts = short + passages(count - len(short), seed=3)
    return [Document(text, "bench", i + 1) for i, text in enumerate(texts)]


def encoding(model: str, count: int, scratch: Path) -> None:
    import ray

    from sisearch.distributed import encode_on_ray
    from sisearch.portable import shard_info

    docs = documents(count)
    with Index.create(scratch / "direct", model=model) as index:
        started = time.perf_counter()
        index.add(docs)
        direct = time.perf_counter() - started
    target = Index.create(scratch / "target", model=model)
    info = shard_info(target)
    target.close()
    started = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - started
    rows = [f"| `Index.add` (one process) | {count} | {direct:.1f} | {count / direct:.1f} |"]
    for actors in (1, 2):
        started = time.perf_counter()
        encode_on_ray(docs, scratch / "target", scratch / f"shards-{actors}", info, "local", actors)
        seconds = time.perf_counter() - started
        rows.append(
            f"| `sisearch encode`, {actors} Ray actor{'s' if actors > 1 else ''} (ONNX int8,"
            f" {max(1, (os.cpu_count() or 1) // actors)} thread(s) each) | {count} |"
            f" {seconds:.1f} | {count / seconds:.1f} |"
        )
    ray.shutdown()
    print(f"## Encoding {count} passages (half short, half medium), base-size encoder\n")
    print("| path | passages | seconds | passages/s |\n|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nRay start-up (`ray.init`, local, {os.cpu_count()} CPUs): {startup:.1f} s\n")


def importing(model: str, count: int, scratch: Path) -> None:
    """Import throughput from shards of `count` passages with random unit embeddings (the
    import never encodes, so the vectors' origin does not matter to its cost)."""
    import numpy as np
    import pyarrow.parquet as pq

    from sisearch.portable import SHARD_INFO, rows_table, shard_info
    from sisearch.store import content_hash
    from sisearch.text import normalize

    index = Index.create(scratch / "imported", model=model)
    info, dim = shard_info(index), index.manifest.model.dim
    words = sorted({w for d in documents(400) for w in normalize(d.text).split()})
    rng = random.Random(5)
    vectors = np.random.default_rng(5).standard_normal((count, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    folder = scratch / "import-shards"
    folder.mkdir()
    texts: set[str] = set()
    while len(texts) < count:
        texts.add(" ".join(rng.sample(words, rng.randint(4, 9))))
    ordered = sorted(texts)
    spans = index.encoder.token_offsets(ordered[:1])  # warm the tokenizer
    del spans
    for part in range(0, count, 25_000):
        rows = []
        for i, text in enumerate(ordered[part : part + 25_000], start=part):
            digest = content_hash(text)
            rows.append(
                {
                    "source": "bench", "line": i + 1, "metadata": "{}", "text": text,
                    "content_hash": digest, "chunk": 0, "chunk_start": 0,
                    "chunk_end": len(text), "chunk_hash": digest, "embedding": vectors[i],
                }
            )  # fmt: skip
        pq.write_table(rows_table(rows, dim), folder / f"part-{part // 25_000:03d}.parquet")
    import json

    (folder / SHARD_INFO).write_text(json.dumps(info))
    started = time.perf_counter()
    result = index.import_embeddings(folder)
    seconds = time.perf_counter() - started
    index.close()
    print(f"## Importing {count} passages from Parquet shards\n")
    print("| passages added | embeddings imported | chunks encoded | seconds | passages/s |")
    print("|---|---|---|---|---|")
    print(
        f"| {result.documents_added} | {result.imported} | {result.chunks_encoded} |"
        f" {seconds:.1f} | {result.documents_added / seconds:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=5000)
    parser.add_argument("--import-rows", type=int, default=100_000)
    args = parser.parse_args()
    print(f"# Distributed encoding\n\nMachine: {machine()}\n")
    os.environ["SISEARCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="sisearch-bench-cache-")
    model = base_model()
    with tempfile.TemporaryDirectory(prefix="sisearch-bench-") as scratch:
        encoding(model, args.passages, Path(scratch))
        importing(model, args.import_rows, Path(scratch))


if __name__ == "__main__":
    main()
