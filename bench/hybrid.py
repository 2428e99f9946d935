"""Hybrid search benchmark: Sinhala tokenization, retrieval quality, fusion depth, latency.

    python bench/hybrid.py                 # sizes 10k and 100k (builds cached indexes once)
    python bench/hybrid.py --sizes 10000   # quicker

Run it alone: two cores are shared by everything you run. Every comparison is measured
side by side in this one run and printed as a ratio. The encoder is the tiny stand-in
(`sisearch.encoders.devmodel`, random weights), so dense quality here is a floor, not the real
encoder's; the tokenization and latency figures do not depend on the encoder's quality.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sisearch import Document, Index  # noqa: E402
from sisearch.core.fusion import reciprocal_rank_fusion  # noqa: E402
from sisearch.documents.corpus import read_corpus  # noqa: E402
from sisearch.encoders.devmodel import build_encoder  # noqa: E402
from sisearch.language.lexical import FTS_TOKENIZER, word_spans  # noqa: E402
from sisearch.language.text import lexical_key, normalize  # noqa: E402
from sisearch.quality.evaluation import read_qrels, read_queries, score_rankings  # noqa: E402

CORPORA = ROOT / "corpora"
CACHE = Path(__file__).resolve().parent / ".cache"
DEFAULT_TOKENIZER = "unicode61"


def machine() -> str:
    import faiss
    import torch

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, torch {torch.__version__}, faiss {faiss.__version__}"
    )


def corpus_words() -> list[str]:
    words = []
    for line in (CORPORA / "sinhala_passages.txt").read_text(encoding="utf-8").splitlines():
        text = normalize(line)
        words.extend(text[s:e] for s, e in word_spans(text))
    return [w for w in words if any("\u0d80" <= ch <= "\u0dff" for ch in w)]


def whole_word_share(tokenizer: str, words: list[str]) -> float:
    """Share of Sinhala word occurrences that one FTS5 tokenizer keeps as a single token."""
    connection = sqlite3.connect(":memory:")
    connection.execute(f'CREATE VIRTUAL TABLE f USING fts5(key, tokenize="{tokenizer}")')
    connection.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')")
    distinct = sorted(set(words))
    connection.executemany(
        "INSERT INTO f (rowid, key) VALUES (?, ?)",
        [(i, lexical_key(w)) for i, w in enumerate(distinct)],
    )
    tokens: dict[int, list[str]] = {}
    for term, doc in connection.execute("SELECT term, doc FROM v"):
        tokens.setdefault(doc, []).append(term)
    whole = {w for i, w in enumerate(distinct) if tokens.get(i) == [lexical_key(w)]}
    return sum(w in whole for w in words) / len(words)


def tiny_model() -> str:
    folder = CACHE / "tiny-model"
    if not (folder / "modules.json").exists():
        build_encoder(folder, size="tiny", seed=0)
    return str(folder)


def base_model() -> str:
    """A randomly initialised encoder with the full XLM-R base configuration (cached)."""
    folder = CACHE / "base-model"
    if not (folder / "modules.json").exists():
        build_encoder(folder, size="base", seed=0)
    return str(folder)


def ranked_ids(hits: list) -> list[str]:
    return [h.metadata.get("id", str(h.doc_id)) for h in hits]


def quality(model: str) -> None:
    queries = read_queries(CORPORA / "queries.jsonl")
    qrels = read_qrels(CORPORA / "qrels.tsv")
    with tempfile.TemporaryDirectory() as scratch:
        index = Index.create(Path(scratch) / "ix", model=model)
        index.add(read_corpus(CORPORA / "sinhala_passages.jsonl"))
        ids, texts = list(queries), list(queries.values())
        kinds = {
            json.loads(line)["_id"]: json.loads(line)["metadata"]["type"]
            for line in (CORPORA / "queries.jsonl").read_text(encoding="utf-8").splitlines()
        }
        print(f"\n## Quality on corpora/queries.jsonl ({len(ids)} queries, tiny random encoder)\n")
        print("| mode | subset | nDCG@10 | recall@10 | MRR@10 |")
        print("|---|---|---|---|---|")
        for mode in ("lexical", "dense", "hybrid"):
            results = index.search_many(texts, 10, mode=mode)
            rankings = {q: ranked_ids(h) for q, h in zip(ids, results)}
            for subset in ("all", "exact", "paraphrase", "topic"):
                chosen = {q: r for q, r in rankings.items() if subset in ("all", kinds[q])}
                m = score_rankings(chosen, qrels)
                print(
                    f"| {mode} | {subset} | {m['ndcg@10']:.3f} | {m['recall@10']:.3f}"
                    f" | {m['mrr@10']:.3f} |"
                )
        fusion_depth(index, texts, "sample corpus", qrels, ids)
        index.close()


def fusion_depth(
    index: Index,
    texts: list[str],
    label: str,
    qrels: dict[str, dict[str, int]] | None = None,
    ids: list[str] | None = None,
) -> None:
    """Top-10 overlap with full-depth fusion (and nDCG@10 when judged) per candidate depth."""
    full = index.store.document_count()
    depths = [d for d in (10, 20, 50, 100, 200) if d < full] + [min(full, 1000)]
    dense = index.search_many(texts, depths[-1], mode="dense")
    lexical = index.search_many(texts, depths[-1], mode="lexical")

    def top10(i: int, depth: int) -> list:
        fused = reciprocal_rank_fusion(
            {
                "dense": [h.doc_id for h in dense[i][:depth]],
                "lexical": [h.doc_id for h in lexical[i][:depth]],
            }
        )
        return [d for d, _, _ in fused[:10]]

    reference = [top10(i, depths[-1]) for i in range(len(texts))]
    by_doc = {h.doc_id: h for hits in dense + lexical for h in hits}
    print(f"\nFusion depth, {label} (full depth {depths[-1]}):\n")
    header = "| candidates per side | top-10 overlap with full depth |"
    print(header + (" nDCG@10 |" if qrels else "") + "\n|---|---|" + ("---|" if qrels else ""))
    for depth in depths:
        tops = [top10(i, depth) for i in range(len(texts))]
        overlap = statistics.mean(len(set(t) & set(r)) / 10 for t, r in zip(tops, reference))
        row = f"| {depth} | {overlap:.3f} |"
        if qrels and ids:
            rankings = {q: ranked_ids([by_doc[d] for d in t]) for q, t in zip(ids, tops)}
            row += f" {score_rankings(rankings, qrels)['ndcg@10']:.3f} |"
        print(row)


def synthetic_index(model: str, size: int) -> Path:
    """An index of `size` synthetic Sinhala passages (corpus words, 8-20 a passage), cached."""
    path = CACHE / f"hybrid-{size}"
    if Index.exists(path) and Index.open(path).store.document_count() == size:
        return path
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    words = corpus_words()
    rng = random.Random(size)
    texts = (" ".join(rng.choices(words, k=rng.randint(8, 20))) for _ in range(size))
    index = Index.create(path, model=model)
    started = time.perf_counter()
    index.add(Document(t, source="synthetic", line=i + 1) for i, t in enumerate(texts))
    print(f"(built {size} passages in {time.perf_counter() - started:.0f} s)")
    index.close()
    return path


def latency(path: Path, size: int, rounds: int) -> tuple[str, float, float]:
    """A table row (median / p99 ms per mode, hybrid / dense) and the dense and hybrid medians."""
    queries = list(read_queries(CORPORA / "queries.jsonl").values())
    index = Index.open(path)
    index.search(queries[0], mode="hybrid")  # load the model and the vectors first
    times: dict[str, list[float]] = {"dense": [], "hybrid": [], "lexical": []}
    for _ in range(rounds):
        for query in queries:
            for mode in ("dense", "hybrid", "lexical"):
                started = time.perf_counter()
                index.search(query, limit=10, mode=mode)
                times[mode].append(time.perf_counter() - started)

    index.close()
    row = [f"| {size:,} |"]
    for mode in ("dense", "lexical", "hybrid"):
        median = statistics.median(times[mode]) * 1000
        p99 = statistics.quantiles(times[mode], n=100)[98] * 1000
        row.append(f" {median:.1f} / {p99:.1f} |")
    dense, hybrid = statistics.median(times["dense"]), statistics.median(times["hybrid"])
    return "".join(row) + f" {hybrid / dense:.2f}x |", dense * 1000, hybrid * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    print(f"# Hybrid search benchmark\n\nMachine: {machine()}\n")

    words = corpus_words()
    default = whole_word_share(DEFAULT_TOKENIZER, words)
    ours = whole_word_share(FTS_TOKENIZER, words)
    print(f"## Tokenization ({len(words)} Sinhala word occurrences in the sample corpus)\n")
    print("| FTS5 tokenizer | words kept whole |\n|---|---|")
    print(f"| default `{DEFAULT_TOKENIZER}` | {default:.1%} |")
    print(f"| sisearch `{FTS_TOKENIZER}` on the lexical key | {ours:.1%} |")

    model = tiny_model()
    quality(model)
    if args.sizes:
        print()
        paths = {size: synthetic_index(model, size) for size in args.sizes}
        results = {size: latency(paths[size], size, args.rounds) for size in args.sizes}
        print("\n## Query latency, ms median / p99 (tiny encoder; alternating modes)\n")
        print("| passages | dense | lexical | hybrid | hybrid / dense |\n|---|---|---|---|---|")
        print("\n".join(row for row, _, _ in results.values()))
        print(
            "\nThe tiny encoder's query costs about a millisecond, so this ratio is the search"
            " side's alone; bench/scale.py measures it with the real architecture's encoder."
        )
        queries = list(read_queries(CORPORA / "queries.jsonl").values())
        for size, path in paths.items():
            with Index.open(path) as index:
                fusion_depth(index, queries, f"{size:,} synthetic passages")


if __name__ == "__main__":
    main()
