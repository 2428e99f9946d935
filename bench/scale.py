"""Scale benchmark: vector index kinds at a million vectors, warm query latency, peak memory.

    python bench/scale.py                      # about 15 minutes on 2 cores
    python bench/scale.py --vectors 200000     # quicker
    python bench/scale.py --library 1000000 3000000   # only section 4 (builds ~10 + 30 min, once)

1. Index kinds on synthetic 768-d unit vectors with cluster structure (the shape sentence
   embeddings have): recall@10 against exact search, single-query time, build time and
   bytes per vector, for flat, IVF, IVF+SQ8 and HNSW, built by sisearch's own code.
2. Warm query latency through the Python API at 10k and 100k passages: the real query
   path (ONNX int8 encoding with the full XLM-R base configuration, hybrid search) over
   an index whose passages carry synthetic vectors, since encoding 100k passages would
   take 20 minutes here and does not change what a query costs.
3. Peak memory (max RSS) of a query process at 100k passages and of indexing.
4. `--library`: millions of 384-d chunks end to end through the library with e5-small
   (issue 22, goal 6). Vectors are scattered around real e5 passage embeddings of the
   FLORES Sinhala sentences; queries are 200 FLORES sentences embedded as queries, answered
   by `Index.search` in a fresh process, dense and hybrid, at the tuned nprobe and twice it.
   Recall@10 is against exact float32 search over the regenerated vectors; RAM is the
   process's RSS after the queries; disk is every file of the index against
   (chunks x dim int8 bytes + the chunks' UTF-8 text).
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

from bench.hybrid import CACHE, base_model, corpus_words, machine, tiny_model  # noqa: E402
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
                    times[mode].append(time.perf_counter() - started)
        cells = [p50_p99_ms(times["dense"]), p50_p99_ms(times["hybrid"])]
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


# --- End to end through the library at millions of chunks (issue 22, goal 6) ---

LIBRARY_QUERIES = 200
# Uncompressed IVF holds float32 vectors in RAM: past this it is not built (10M x 384-d
# is 14.3 GiB on a 24 GiB machine).
FLAT_RAM_LIMIT = 8 * 2**30
SERVE_SCRIPT = r"""
import json, sys, time
from sisearch import Index

path, mmap, queries_file, out = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
probes = json.loads(sys.argv[5])
queries = json.loads(open(queries_file, encoding="utf-8").read())
started = time.perf_counter()
index = Index.open(path, mmap=mmap)
for warm in queries[:2]:  # the second query indexes the tokenizer's pieces, once
    index.search(warm, limit=10, mode="dense")
result = {"open_s": time.perf_counter() - started, "runs": []}
for nprobe in probes:
    run = {"nprobe": nprobe}
    for mode in ("dense", "hybrid"):
        times, ids = [], []
        for query in queries:
            began = time.perf_counter()
            hits = index.search(query, limit=10, mode=mode, nprobe=nprobe)
            times.append(time.perf_counter() - began)
            ids.append([hit.doc_id for hit in hits])
        run[mode] = {"times": times, "ids": ids}
    result["runs"].append(run)
with open("/proc/self/status") as status:  # VmHWM: this process's peak (ru_maxrss keeps
    fields = dict(line.split(":", 1) for line in status)  # the parent's from before exec)
result["rss_mib"] = int(fields["VmRSS"].split()[0]) / 1024
result["max_rss_mib"] = int(fields["VmHWM"].split()[0]) / 1024
# one query at a time, as searched (a batch's int8 activation scales would differ)
result["embeddings"] = [index.encoder.encode_queries([q])[0].tolist() for q in queries]
json.dump(result, open(out, "w"))
"""


def sentence_centres(model_dir: str) -> tuple[np.ndarray, list[str]]:
    """Cluster centres at real passage embeddings of FLORES Sinhala sentences (devtest and
    test), and held-out-style queries: 200 test sentences as the encoder embeds queries."""
    from bench.quality import flores

    sentences = flores("devtest")[0] + flores("test")[0]
    with (
        tempfile.TemporaryDirectory() as folder,
        Index.create(Path(folder) / "centres", model=model_dir) as index,
    ):
        centres = index.encoder.encode_documents(sentences)
    queries = random.Random(7).sample(flores("test")[0], LIBRARY_QUERIES)
    return np.asarray(centres, dtype=np.float32), queries


def scale_vectors(centres: np.ndarray, start: int, size: int) -> np.ndarray:
    """Rows start..start+size of the synthetic collection: unit vectors scattered around
    real sentence embeddings (cosine about 0.86 to their centre), the same rows every time."""
    rng = np.random.default_rng(start)
    dim = centres.shape[1]
    picks = rng.integers(0, len(centres), size)
    points = centres[picks] * np.sqrt(dim) + 0.6 * rng.normal(size=(size, dim))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32)


def scale_index(count: int, model_dir: str, centres: np.ndarray) -> tuple[Path, int]:
    """The `count`-chunk index (built once under bench/.cache) and its text bytes: one
    chunk a passage of 8-20 words drawn Zipf-like from 230,000 Sinhala word forms."""
    from bench.writes import synthetic_documents, vocabulary

    path = CACHE / f"scale-{count}-{Path(model_dir).name}"
    marker = path / ".complete"
    if marker.exists():
        return path, int(marker.read_text())
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    words, weights = vocabulary()
    picker = random.Random(count)
    text_bytes = 0
    started = time.perf_counter()
    with Index.create(path, model=model_dir) as index:
        for start in range(0, count, 50_000):
            size = min(50_000, count - start)
            vectors = scale_vectors(centres, start, size)
            documents = synthetic_documents(vectors, start + 1, words, weights, picker)
            text_bytes += sum(len(document.text.encode("utf-8")) for document in documents)
            index.store.add(documents)
            elapsed = time.perf_counter() - started
            print(f"  stored {start + size:,} chunks, {elapsed:.0f} s", file=sys.stderr)
    marker.write_text(str(text_bytes))
    return path, text_bytes


def exact_top10(centres: np.ndarray, count: int, embeddings: np.ndarray) -> list[set[int]]:
    """Exact top-10 doc ids (row + 1) by float32 cosine over the regenerated collection."""
    from sisearch.core.vectors import _RunningTopK

    top = _RunningTopK(embeddings, 10)
    for start in range(0, count, 50_000):
        size = min(50_000, count - start)
        top.update(np.arange(start + 1, start + size + 1), scale_vectors(centres, start, size))
    return [set(row.tolist()) for row in top.ids()]


def serve_run(path: Path, queries: list[str], mmap: bool, probes: list[int]) -> dict:
    """One fresh process that opens the index and, at each nprobe, runs every query dense
    then hybrid; it reports its RSS after them and the query embeddings."""
    with tempfile.TemporaryDirectory() as folder:
        queries_file = Path(folder) / "queries.json"
        queries_file.write_text(json.dumps(queries, ensure_ascii=False), encoding="utf-8")
        out = Path(folder) / "out.json"
        command = [sys.executable, "-c", SERVE_SCRIPT, str(path), "1" if mmap else "0"]
        arguments = [str(queries_file), str(out), json.dumps(probes)]
        subprocess.run([*command, *arguments], check=True, cwd=folder)
        return json.loads(out.read_text())


def library_scale(counts: list[int]) -> None:
    from bench.writes import model

    model_dir = model()
    centres, queries = sentence_centres(model_dir)
    dim = centres.shape[1]
    print(f"\n## End to end through the library ({Path(model_dir).name}, {dim}-d)\n")
    print(SCALE_HEADER)
    for count in counts:
        path, text_bytes = scale_index(count, model_dir, centres)
        truth: list[set[int]] = []
        variants = [("ivf --compress", True)]
        if count * dim * 4 <= FLAT_RAM_LIMIT:
            variants.insert(0, ("ivf", False))
        else:
            need = count * dim * 4 / 2**30
            print(f"| {count:,} | ivf (float32) | not built: {need:.1f} GiB of RAM |")
        for label, compress in variants:
            with Index.open(path) as index:
                began = time.perf_counter()
                index.rebuild("ivf", compress)
                build = time.perf_counter() - began
                nprobe = index.info()["ivf_nprobe"]
            files = {f.name: f.stat().st_size for f in path.iterdir() if f.is_file()}
            probes = [nprobe, 2 * nprobe]
            run = serve_run(path, queries, False, probes)
            truth = truth or exact_top10(centres, count, np.asarray(run["embeddings"], np.float32))
            enough = probes[-1]
            for sweep in run["runs"]:
                recall = recall_at_10(sweep, truth)
                if recall >= 0.95:
                    enough = min(enough, sweep["nprobe"])
                row = (count, label, sweep, build, files, text_bytes, recall, run)
                report_scale_row(row, dim)
            mapped = serve_run(path, queries, True, [enough])
            sweep = mapped["runs"][0]
            recall = recall_at_10(sweep, truth)
            report_scale_row(
                (count, label + " mmap", sweep, build, files, text_bytes, recall, mapped), dim
            )
            print(
                f"  (tuned nprobe {nprobe}; opened and two queries answered in"
                f" {run['open_s']:.1f} s; files, bytes per chunk: "
                + ", ".join(f"{n} {s / count:.0f}" for n, s in files.items() if s)
                + ")"
            )


SCALE_HEADER = (
    "| chunks | vectors | dense recall@10 | dense p50 / p99 ms | hybrid p50 / p99 ms"
    " | RSS now / peak MiB | disk bytes / chunk | disk / (int8 vectors + text) | rebuild s |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def recall_at_10(sweep: dict, truth: list[set[int]]) -> float:
    """Mean share of each query's exact top 10 among its dense hits in this sweep."""
    return statistics.mean(
        len(set(ids) & exact) / 10 for ids, exact in zip(sweep["dense"]["ids"], truth)
    )


def p50_p99_ms(times: list[float]) -> str:
    """Median and 99th percentile of times in seconds, in milliseconds."""
    p99 = statistics.quantiles(times, n=100)[98]
    return f"{statistics.median(times) * 1000:.1f} / {p99 * 1000:.1f}"


def report_scale_row(row: tuple, dim: int) -> None:
    count, label, sweep, build, files, text_bytes, recall, run = row
    disk = sum(files.values())
    baseline = count * dim + text_bytes
    dense, hybrid = sweep["dense"]["times"], sweep["hybrid"]["times"]
    print(
        f"| {count:,} | {label}, nprobe {sweep['nprobe']} | {recall:.3f} |"
        f" {p50_p99_ms(dense)} | {p50_p99_ms(hybrid)} |"
        f" {run['rss_mib']:.0f} / {run['max_rss_mib']:.0f} | {disk / count:.0f} |"
        f" {disk / baseline:.2f}x | {build:.0f} |"
    )


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
    parser.add_argument(
        "--library",
        type=int,
        nargs="*",
        default=[],
        help="only measure these chunk counts end to end through the library (e5-small,"
        " 384-d: disk, RAM while serving, latency at recall@10; 1000000 builds in about"
        " 15 minutes, once)",
    )
    args = parser.parse_args()
    print(f"# Scale benchmark\n\nMachine: {machine()}\n")
    if args.library:
        library_scale(args.library)
        return
    if args.real:
        real_vectors(args.real)
        return
    kinds(args.vectors, args.queries)
    with tempfile.TemporaryDirectory(prefix="sisearch-scale-") as folder:
        paths = warm_latency(base_model(), Path(folder), args.sizes, args.rounds)
        memory(paths, max(args.sizes))


if __name__ == "__main__":
    main()
