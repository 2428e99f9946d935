"""Retrieval metrics over BEIR-style queries.jsonl / qrels.tsv, for any index and search mode.

Two definitions of nDCG, because graded judgements make them differ:
- `ndcg@k`: trec_eval's `ndcg_cut_k` (what BEIR and MTEB report): linear gains, the
  judgement's grade / log2(rank + 1), ideal ranking from the grades.
- `ndcg_binary@k`: sentence-transformers' `InformationRetrievalEvaluator`: every judged
  document with a grade above zero has gain 1.
Recall@k counts documents with a grade above zero; MRR@k is the reciprocal rank of the
first such document (trec_eval's `recip_rank` on the top k). Both agree in the two tools.
Tested against pytrec_eval (trec_eval itself) and sentence-transformers.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import CorpusError


def read_queries(path: str | Path) -> dict[str, str]:
    """{query id: text} from a BEIR queries.jsonl (`_id`, `text`)."""
    queries = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                record = json.loads(line)
                queries[str(record["_id"])] = record["text"]
            except (ValueError, KeyError) as e:
                raise CorpusError(
                    f"{path}:{number}: expected a JSON object with _id and text ({e})"
                ) from None
    return queries


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """{query id: {document id: grade}} from a BEIR qrels.tsv (header, then id, id, grade)."""
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t")
        next(rows, None)
        for number, row in enumerate(rows, start=2):
            if not row:
                continue
            try:
                query_id, doc_id, grade = row[0], row[1], int(row[2])
            except (IndexError, ValueError):
                raise CorpusError(f"{path}:{number}: expected query-id, corpus-id, score") from None
            qrels.setdefault(query_id, {})[doc_id] = grade
    return qrels


def ndcg_at_k(
    ranked: Sequence[str], relevant: Mapping[str, int], k: int, binary: bool = False
) -> float:
    """nDCG@k with linear gains (trec_eval), or with every relevant document's gain 1
    (`binary`, sentence-transformers)."""
    gains = {d: (1 if binary else g) for d, g in relevant.items() if g > 0}
    found = sum(gains.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return found / best if best > 0 else 0.0


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    wanted = {d for d, grade in relevant.items() if grade > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at_k(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    for i, d in enumerate(ranked[:k]):
        if relevant.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_rankings(
    rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], k: int = 10
) -> dict[str, float]:
    """Mean nDCG@k (graded and binary), recall@k and MRR@k over the judged queries."""
    judged = [q for q in rankings if q in qrels]
    metrics = {
        f"ndcg@{k}": lambda r, q: ndcg_at_k(r, q, k),
        f"ndcg_binary@{k}": lambda r, q: ndcg_at_k(r, q, k, binary=True),
        f"recall@{k}": lambda r, q: recall_at_k(r, q, k),
        f"mrr@{k}": lambda r, q: mrr_at_k(r, q, k),
    }
    return {
        name: sum(metric(rankings[q], qrels[q]) for q in judged) / len(judged) if judged else 0.0
        for name, metric in metrics.items()
    }


def evaluate_index(
    index: Any,
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    modes: Sequence[str],
    id_field: str = "id",
    ks: Sequence[int] = (1, 5, 10),
    romanized: str = "auto",
) -> dict[str, dict[str, float]]:
    """Metrics per search mode for an index's rankings of the judged queries.

    A hit's corpus id is its metadata field `id_field` (the jsonl/csv id), else its
    document id. `romanized`: how Latin-letter queries are read (Index.search_many).
    Returns {mode: {"recall@1": ..., "mrr@10": ..., "ndcg@10": ...,
    "ndcg_binary@10": ...}}.
    """
    judged = [q for q in queries if q in qrels]
    if not judged:
        raise CorpusError("no query in the queries file has judgements in the qrels file")
    depth = max(max(ks), 10)
    results: dict[str, dict[str, float]] = {}
    for mode in modes:
        texts = [queries[q] for q in judged]
        hits = index.search_many(texts, depth, mode=mode, romanized=romanized)
        rankings = {
            q: [str(h.metadata.get(id_field, h.doc_id)) for h in ranked]
            for q, ranked in zip(judged, hits)
        }
        metrics = {}
        for k in ks:
            metrics[f"recall@{k}"] = score_rankings(rankings, qrels, k)[f"recall@{k}"]
        metrics.update(
            {k: v for k, v in score_rankings(rankings, qrels, 10).items() if k != "recall@10"}
        )
        metrics["queries"] = float(len(judged))
        results[mode] = metrics
    return results
