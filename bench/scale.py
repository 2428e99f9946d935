"""Scale benchmark: vector index kinds at a million vectors, warm query latency, peak memory.

    python bench/scale.py                      # about 15 minutes on 2 cores
    python bench/scale.py --vectors 200000     # quicker

1. Index kinds on synthetic 768-d unit vectors with cluster structure (the shape sentence
   embeddings have): recall@10 against exact search, single-query time, build time and
   bytes per vector, for flat, IVF, IVF+SQ8 and HNSW, built by sisearch's own code.
2. Warm query latency through the Python API at 10k and 100k passages: the real query
   path (ONNX int8 encoding with the full XLM-R base configuration, hybrid search) over
   an index whose passages carry synthetic vectors, since encoding 100k passages would
   take 20 minutes here and does not change what a query costs.
3. Peak memory (max RSS) of a query process at 100k passages and of indexing.
Run it alone: two cores are shared by everything you run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hybrid import base_model, corpus_words, machine, tiny_model  # noqa: E402
from sisearch import Index  # noqa: E402
from sisearch.core.store import NewChunk, NewDocument, content_hash  # noqa: E402
from sisearch.core.vectors import (  # noqa: E402
    DEFAULT_EF,
    FLAT,
    HNSW,
    IVF,
    VectorIndex,
    cells_for,
)

DIM = 768


def clustered(count: int, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors scattered around random centres, like embeddings of topical text."""
    picks = rng.integers(0, len(centres), size=count)
    points = centres[picks] + rng.normal(scale=0.6, size=(count, DIM)).astype(np.float32)
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def batches(vectors: np.ndarray, size: int = 100_000):
    for start in range(0, len(vectors), size):
        end = min(start + size, len(vectors))
        yield np.arange(start, end, dtype=np.int64), vectors[start:end]


def kinds(count: int, queries: int) -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(2000, DIM)).astype(np.float32)
    data = clustered(count, centres, rng)
    probe = clustered(queries, centres, rng)
    compare_kinds(data, probe, f"{count:,} synthetic 768-d vectors, {queries} queries")


def real_vectors(count: int) -> None:
    """The kinds compared on the real encoder architecture's own vectors (random weights)."""
    words = corpus_words()
    picker = random.Random(5)
    texts = [" ".join(picker.choices(words, k=picker.randint(8, 20))) for _ in range(count)]
    queries = [
        json.loads(line)["text"]
        for line in (ROOT / "corpora" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    queries += texts[:: max(1, count // 134)][:134]
    with tempfile.TemporaryDirectory(prefix="sisearch-real-") as folder:
        index = Index.create(Path(folder) / "ix", model=base_model(), index_type="flat")
        started = time.perf_counter()
        index.add(texts)
        seconds = time.perf_counter() - started
        data = np.vstack([v for _, v in index.store.iter_embeddings()])
        probe = index.encoder.encode_queries(queries)
        index.close()
    print(f"\n(encoded {count:,} passages with the base-size int8 encoder in {seconds:.0f} s)\n")
    compare_kinds(data, probe, f"{len(data):,} vectors of the real architecture (random weights)")


def compare_kinds(data: np.ndarray, probe: np.ndarray, description: str) -> None:
    count, queries = len(data), len(probe)
    import faiss

    exact = faiss.IndexFlatIP(DIM)
    exact.add(data)
    faiss.cvar.distance_compute_blas_threshold = 1
    _, truth = exact.search(probe, 10)
    training = data[:: max(1, count // 200_000)][:200_000]
    rows = []
    single: dict[str, float] = {}
    for label, kind, compress in (
        ("flat (exact)", FLAT, False),
        (f"IVF{cells_for(count)},Flat", IVF, False),
        (f"IVF{cells_for(count)},SQ8", IVF, True),
        (f"HNSW{32} efSearch {DEFAULT_EF}", HNSW, False),
    ):
        started = time.perf_counter()
        index = VectorIndex.build(kind, DIM, batches(data), training, count, compress)
        build = time.perf_counter() - started
        if kind == IVF:
            label += f" nprobe {index.nprobe} (tuned)"
        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder) / "v.faiss"
            index.save(file)
            size = file.stat().st_size
        found = []
        times = []
        for q in probe:
            started = time.perf_counter()
            _, ids = index.search(q[None, :], 10)
            times.append(time.perf_counter() - started)
            found.append(ids[0])
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
        single[label] = statistics.median(times)
        rows.append((label, recall, statistics.median(times) * 1000, build, size / count))
        del index
    flat_time = single["flat (exact)"]
    print(f"## Vector index kinds, {description}, {queries} queries\n")
    print("| kind | recall@10 | ms / query (median) | speed vs exact | build s | bytes / vector |")
    print("|---|---|---|---|---|---|")
    for label, recall, ms, build, per in rows:
        speed = flat_time / (ms / 1000)
        print(f"| {label} | {recall:.3f} | {ms:.2f} | {speed:.0f}x | {build:.0f} | {per:.0f} |")


def synthetic_index(model: str, count: int, folder: Path) -> Path:
    """An index with the real encoder and `count` passages carrying synthetic vectors."""
    path = folder / f"warm-{count}"
    index = Index.create(path, model=model)
    rng = np.random.default_rng(count)
    words = corpus_words()
    picker = random.Random(count)
    centres = rng.normal(size=(200, DIM)).astype(np.float32)
    for start in range(0, count, 10_000):
        size = min(10_000, count - start)
        vectors = clustered(size, centres, rng)
        documents = []
        for i in range(size):
            text = " ".join(picker.choices(words, k=picker.randint(8, 20)))
            digest = content_hash(text)
            chunk = NewChunk(0, len(text), digest, vectors[i])
            documents.append(NewDocument(text, "synthetic", start + i + 1, {}, digest, [chunk]))
        index.store.add(documents)
    index.rebuild()
    index.close()
    return path


def warm_latency(model: str, folder: Path, sizes: list[int], rounds: int) -> dict[int, Path]:
    queries = [
        json.loads(line)["text"]
        for line in (ROOT / "corpora" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    paths = {size: synthetic_index(model, size, folder) for size in sizes}
    print("\n## Warm query latency through the Python API (ms; base-size encoder, int8)\n")
    print("| passages | vectors | dense p50 / p99 | hybrid p50 / p99 |\n|---|---|---|---|")
    for size, path in paths.items():
        index = Index.open(path)
        index.search(queries[0])
        times: dict[str, list[float]] = {"dense": [], "hybrid": []}
        for _ in range(rounds):
            for query in queries:
                for mode in times:
                    started = time.perf_counter()
                    index.search(query, limit=10, mode=mode)
                    times[mode].append((time.perf_counter() - started) * 1000)
        cells = []
        for mode in ("dense", "hybrid"):
            p50 = statistics.median(times[mode])
            p99 = statistics.quantiles(times[mode], n=100)[98]
            cells.append(f"{p50:.1f} / {p99:.1f}")
        print(f"| {size:,} | {index.info()['vectors_kind']} | {cells[0]} | {cells[1]} |")
        index.close()
    return paths


def max_rss_mib(command: list[str], env: dict[str, str] | None = None) -> float:
    """Peak resident memory of a command, from GNU time (MiB)."""
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *command], capture_output=True, text=True, env=env
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-500:])
    return int(result.stderr.strip().splitlines()[-1]) / 1024


def memory(paths: dict[int, Path], count: int) -> None:
    import os

    size = max(paths)
    env = {**os.environ, "SISEARCH_INDEX_DIR": str(paths[size].parent)}
    query = [sys.executable, "-m", "sisearch", "query", "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන", "--json"]
    name = ["--index", paths[size].name]
    print("\n## Peak memory (max RSS)\n")
    print("| process | MiB |\n|---|---|")
    rss = max_rss_mib([*query, *name], env)
    print(f"| `sisearch query`, {size:,} passages (base-size int8 encoder) | {rss:.0f} |")
    rss = max_rss_mib([*query, *name, "--mmap"], env)
    print(f"| the same with `--mmap` | {rss:.0f} |")
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.txt"
        words = corpus_words()
        picker = random.Random(1)
        lines = (" ".join(picker.choices(words, k=picker.randint(8, 20))) for _ in range(count))
        corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "sisearch",
            "index",
            str(corpus),
            "--model",
            tiny_model(),
            "--index-dir",
            folder,
            "-q",
        ]
        rss = max_rss_mib(command)
        label = f"`sisearch index`, {count:,} passages, tiny encoder (the pipeline's own)"
        print(f"| {label} | {rss:.0f} |")
        corpus.write_text("\n".join(corpus.read_text().splitlines()[:2000]) + "\n")
        command = [
            sys.executable,
            "-m",
            "sisearch",
            "index",
            str(corpus),
            "--model",
            base_model(),
            "--index-dir",
            folder,
            "--index",
            "base",
            "-q",
        ]
        rss = max_rss_mib(command)
        label = "`sisearch index`, 2,000 passages, base-size encoder (load, export, encode)"
        print(f"| {label} | {rss:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--real",
        type=int,
        default=0,
        help="only compare the kinds on this many passages encoded by the base-size"
        " encoder (100000 takes about 20 minutes)",
    )
    args = parser.parse_args()
    print(f"# Scale benchmark\n\nMachine: {machine()}\n")
    if args.real:
        real_vectors(args.real)
        return
    kinds(args.vectors, args.queries)
    with tempfile.TemporaryDirectory(prefix="sisearch-scale-") as folder:
        paths = warm_latency(base_model(), Path(folder), args.sizes, args.rounds)
        memory(paths, max(args.sizes))


if __name__ == "__main__":
    main()
