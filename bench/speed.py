"""Speed benchmark: indexing throughput and cold query time against plain sentence-transformers.

    python bench/speed.py              # about 5 minutes on 2 cores
    python bench/speed.py --passages 300 --runs 3

The encoder is a randomly initialised model with the full XLM-R base configuration
(`sisearch.devmodel --size base`): it costs what the real fine-tuned encoder costs.
Both sides of each comparison run in this one process tree, alternated (A B A B), and
the medians are compared. Run it alone: two cores are shared by everything you run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hybrid import base_model, machine  # noqa: E402
from sisearch import Index  # noqa: E402
from sisearch.text import normalize  # noqa: E402

CORPUS = ROOT / "corpora" / "sinhala_passages.txt"
QUERIES = ROOT / "corpora" / "queries.jsonl"


def passages(count: int, seed: int = 0) -> list[str]:
    """Distinct realistic passages: two to three sample-corpus passages joined."""
    lines = [normalize(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        out.add(" ".join(rng.sample(lines, rng.choice((2, 2, 3)))))
    return sorted(out)


def plain_encode(model_dir: str, texts: list[str]) -> tuple[float, object]:
    """Seconds for SentenceTransformer.encode(batch_size=32) fp32, and the vectors."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu")
    model.encode(texts[:8])
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
    return time.perf_counter() - started, vectors


def sisearch_add(model_dir: str, texts: list[str], precision: str) -> tuple[float, object]:
    """Seconds for Index.add (normalize, chunk, encode, store, FAISS) after the index is
    created (model load and ONNX export excluded), and the engine's embeddings of `texts`."""
    with tempfile.TemporaryDirectory(prefix="sisearch-bench-") as folder:
        index = Index.create(Path(folder) / "ix", model=model_dir, precision=precision)
        index.add(texts[:8])  # warm the session; these passages are then skipped
        started = time.perf_counter()
        index.add(texts)
        seconds = time.perf_counter() - started
        vectors = index.encoder.encode_documents(texts)
        index.close()
    return seconds, vectors


def indexing(model_dir: str, count: int, runs: int) -> None:
    import numpy as np

    texts = passages(count)
    from sisearch.encoder import load_encoder

    reference = load_encoder(model_dir)
    tokens = statistics.mean(len(o) for o in reference.token_offsets(texts))
    limit = reference.max_passage_tokens
    print(f"## Indexing {count} passages ({tokens:.0f} tokens each on average, limit {limit})\n")
    times: dict[str, list[float]] = {"plain": [], "int8": [], "fp32": []}
    vectors: dict[str, object] = {}
    for _ in range(runs):
        times["plain"].append(plain_encode(model_dir, texts)[0])
        for precision in ("int8", "fp32"):
            seconds, vectors[precision] = sisearch_add(model_dir, texts, precision)
            times[precision].append(seconds)
    plain = count / statistics.median(times["plain"])
    print("| path | passages/s (median) | vs plain fp32 |\n|---|---|---|")
    print(f"| plain `SentenceTransformer.encode(batch_size=32)` fp32 | {plain:.1f} | 1.00x |")
    for precision in ("int8", "fp32"):
        rate = count / statistics.median(times[precision])
        label = "int8 (default)" if precision == "int8" else "fp32"
        print(
            f"| `Index.add` end to end, ONNX Runtime {label} | {rate:.1f} | {rate / plain:.2f}x |"
        )

    exact = reference.encode_documents(texts)
    fast = np.asarray(vectors["int8"])
    cosines = (fast * exact).sum(axis=1)
    queries = [json.loads(line)["text"] for line in QUERIES.read_text().splitlines()]
    q_exact = reference.encode_queries(queries)
    q_fast = fast_queries(model_dir, queries)
    overlaps, gaps = [], []
    for qe, qf in zip(q_exact, q_fast):
        exact_scores, fast_scores = exact @ qe, fast @ qf
        top_exact, top_fast = np.argsort(-exact_scores)[:10], np.argsort(-fast_scores)[:10]
        overlaps.append(len(set(top_exact) & set(top_fast)) / 10)
        gaps.append(float(np.abs(exact_scores[top_exact] - fast_scores[top_exact]).max()))
    print(
        f"\nint8 vs PyTorch fp32, same passages: mean cosine {cosines.mean():.5f}, minimum"
        f" {cosines.min():.5f}. Over {len(queries)} queries: top-10 overlap"
        f" {statistics.mean(overlaps):.3f}, largest score difference on the fp32 top 10"
        f" {max(gaps):.5f}. Random weights give neighbours about 1e-4 apart in cosine, so the"
        " overlap measures noise more than quality here; the cosines are the fidelity measure"
        " (see ../shared/MEASURING.md).\n"
    )


def fast_queries(model_dir: str, queries: list[str]) -> object:
    """Queries encoded by an int8 index's own engine, as `sisearch query` encodes them."""
    with tempfile.TemporaryDirectory(prefix="sisearch-bench-") as folder:
        index = Index.create(Path(folder) / "ix", model=model_dir, precision="int8")
        vectors = index.encoder.encode_queries(queries)
        index.close()
    return vectors


PLAIN_QUERY = textwrap.dedent(
    """
    import sqlite3, sys
    import faiss
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(sys.argv[1], device="cpu")
    vector = model.encode([sys.argv[3]], normalize_embeddings=True)
    index = faiss.read_index(sys.argv[2] + "/vectors.faiss")
    scores, ids = index.search(vector, 5)
    db = sqlite3.connect(sys.argv[2] + "/documents.db")
    for chunk_id in ids[0]:
        row = db.execute(
            "SELECT d.text FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id = ?",
            [int(chunk_id)],
        ).fetchone()
        print(row[0][:40])
    """
)


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def cold_query(model_dir: str, runs: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sisearch-cold-"))
    env = {**os.environ, "SISEARCH_INDEX_DIR": str(folder)}
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(passages(200, seed=1)) + "\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "sisearch", "index", str(corpus), "--model", model_dir, "-q"],
        check=True,
        env=env,
    )
    query = "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන"
    sides = {
        "plain script (import sentence_transformers, load, encode, FAISS, SQLite)": [
            sys.executable,
            "-c",
            PLAIN_QUERY,
            model_dir,
            str(folder / "default"),
            query,
        ],
        "`sisearch query` (hybrid, the default)": [
            sys.executable,
            "-m",
            "sisearch",
            "query",
            query,
            "-k",
            "5",
            "--json",
        ],
        "`sisearch query --mode dense`": [
            sys.executable,
            "-m",
            "sisearch",
            "query",
            query,
            "-k",
            "5",
            "--json",
            "--mode",
            "dense",
        ],
        "`sisearch --help`": [sys.executable, "-m", "sisearch", "--help"],
        "`python -c pass` (Python's own start)": [sys.executable, "-c", "pass"],
    }
    times: dict[str, list[float]] = {label: [] for label in sides}
    for command in sides.values():
        wall(command, env)  # page cache warm for every side alike
    for _ in range(runs):
        for label, command in sides.items():
            times[label].append(wall(command, env))
    medians = {label: statistics.median(t) for label, t in times.items()}
    plain = medians[next(iter(sides))]
    print(f"## Cold query, a new process each time ({runs} alternating runs, median)\n")
    print("| process | seconds | plain / this |\n|---|---|---|")
    for label, seconds in medians.items():
        print(f"| {label} | {seconds:.2f} | {plain / seconds:.1f}x |")
    beyond = medians["`sisearch --help`"] - medians["`python -c pass` (Python's own start)"]
    print(f"\n`sisearch --help` beyond Python's own start: {beyond:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"# Speed benchmark\n\nMachine: {machine()}\n")
    model_dir = base_model()
    indexing(model_dir, args.passages, args.runs)
    cold_query(model_dir, args.runs + 2)


if __name__ == "__main__":
    main()
