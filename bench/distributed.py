"""Distributed encoding benchmark: `sisearch encode` on Ray with 1 and 2 actors (the
workers reading one corpus file, or a folder of 50) against `sisearch index` (Index.add)
on the same passages, for the ONNX int8 engine and the PyTorch fp32 one (what GPU actors
run, here on CPU), Ray's fixed start-up, and the import of Parquet shards at 100,000
passages.

    python bench/distributed.py          # about 8 minutes on 2 cores
    python bench/distributed.py --passages 2000 --torch-passages 400 --import-rows 20000

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


def corpus(count: int, scratch: Path, files: int = 1) -> Path:
    """The passages as one .txt file, or a folder of `files` of them."""
    lines = [d.text for d in documents(count)]
    if files == 1:
        path = scratch / f"corpus-{count}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path
    folder = scratch / f"corpus-{count}-{files}"
    folder.mkdir()
    size = -(-count // files)
    for part in range(files):
        chunk = lines[part * size : (part + 1) * size]
        (folder / f"{part:03d}.txt").write_text("\n".join(chunk) + "\n", encoding="utf-8")
    return folder


def encoding(model: str, count: int, torch_count: int, scratch: Path) -> None:
    import ray

    from sisearch import read_path
    from sisearch.cluster.encode import encode_on_ray, plan_actors
    from sisearch.core.portable import shard_info

    started = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - started
    cores = os.cpu_count() or 1
    rows = []
    for engine, precision, n in (("onnx", "int8", count), ("torch", "fp32", torch_count)):
        one_file = corpus(n, scratch)
        label = f"{engine} {precision}"
        with Index.create(
            scratch / f"direct-{engine}", model=model, precision=precision, engine=engine
        ) as index:
            started = time.perf_counter()
            index.add(read_path(one_file))
            direct = time.perf_counter() - started
        rows.append(f"| {label} | `Index.add` (one process), one file | {n} | {direct:.1f} |"
                    f" {n / direct:.1f} |")  # fmt: skip
        target = Index.create(
            scratch / f"target-{engine}", model=model, precision=precision, engine=engine
        )
        info = shard_info(target)
        target.close()
        runs = [(1, one_file, "one file"), (2, one_file, "one file")]
        if engine == "onnx":
            runs.append((2, corpus(n, scratch, files=50), "50 files"))
        for actors, path, what in runs:
            threads = plan_actors({"CPU": cores}, True, actors).threads
            out = scratch / f"shards-{engine}-{actors}-{path.name}"
            started = time.perf_counter()
            summary = encode_on_ray([str(path)], target.path, out, info, actors=actors)
            seconds = time.perf_counter() - started
            assert summary.passages == n, summary
            rows.append(
                f"| {label} | `sisearch encode`, {actors} Ray actor{'s' if actors > 1 else ''}"
                f" ({threads} thread{'s' if threads > 1 else ''} each), {what} | {n} |"
                f" {seconds:.1f} | {n / seconds:.1f} |"
            )
    ray.shutdown()
    print(f"## Encoding {count} passages (half short, half medium), base-size encoder\n")
    print("| engine | path | passages | seconds | passages/s |\n|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nRay start-up (`ray.init`, local, {cores} CPUs): {startup:.1f} s\n")


def importing(model: str, count: int, scratch: Path) -> None:
    """Import throughput from shards of `count` passages with random unit embeddings (the
    import never encodes, so the vectors' origin does not matter to its cost)."""
    import numpy as np
    import pyarrow.parquet as pq

    from sisearch.core.portable import SHARD_INFO, rows_table, shard_info
    from sisearch.core.store import content_hash
    from sisearch.language.text import normalize

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
    parser.add_argument("--torch-passages", type=int, default=1000)
    parser.add_argument("--import-rows", type=int, default=100_000)
    args = parser.parse_args()
    print(f"# Distributed encoding\n\nMachine: {machine()}\n")
    os.environ["SISEARCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="sisearch-bench-cache-")
    model = base_model()
    with tempfile.TemporaryDirectory(prefix="sisearch-bench-") as scratch:
        encoding(model, args.passages, args.torch_passages, Path(scratch))
        importing(model, args.import_rows, Path(scratch))


if __name__ == "__main__":
    main()
