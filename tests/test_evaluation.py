"""`sisearch eval retrieval` gives the numbers sentence-transformers' evaluator gives."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from sisearch import Index
from sisearch.cli import cli
from sisearch.documents.corpus import read_corpus
from sisearch.language.text import normalize
from sisearch.quality.evaluation import evaluate_index, ndcg_at_k, read_qrels, read_queries
from tests.conftest import CORPUS_JSONL

QUERIES = CORPUS_JSONL.parent / "queries.jsonl"
QRELS = CORPUS_JSONL.parent / "qrels.tsv"


@pytest.fixture(scope="module")
def dense_run(tmp_path_factory, tiny_encoder):
    """The sample index's dense rankings of the judged queries, and our metrics of them."""
    index = Index.create(
        tmp_path_factory.mktemp("eval") / "ix", encoder=tiny_encoder, precision="fp32"
    )
    index.add(read_corpus(CORPUS_JSONL))
    queries, graded = read_queries(QUERIES), read_qrels(QRELS)
    assert {g for docs in graded.values() for g in docs.values()} >= {1, 2}  # truly graded
    judged = [q for q in queries if q in graded]
    hits = index.search_many([queries[q] for q in judged], 10, mode="dense", romanized="off")
    rankings = {q: [h.metadata["id"] for h in ranked] for q, ranked in zip(judged, hits)}
    ours = evaluate_index(index, queries, graded, ["dense"], romanized="off")["dense"]
    return queries, graded, rankings, ours


def test_graded_metrics_equal_trec_eval(dense_run) -> None:
    import pytrec_eval

    _, graded, rankings, ours = dense_run
    run = {q: {d: 1.0 / rank for rank, d in enumerate(r, 1)} for q, r in rankings.items()}
    measures = {"ndcg_cut_10", "recall_1", "recall_5", "recall_10", "recip_rank"}
    per_query = pytrec_eval.RelevanceEvaluator(graded, measures).evaluate(run)
    trec = {m: sum(v[m] for v in per_query.values()) / len(per_query) for m in measures}
    assert len(per_query) == 66
    assert ours["ndcg@10"] == pytest.approx(trec["ndcg_cut_10"], abs=1e-6)
    assert ours["mrr@10"] == pytest.approx(trec["recip_rank"], abs=1e-6)
    for k in (1, 5, 10):
        assert ours[f"recall@{k}"] == pytest.approx(trec[f"recall_{k}"], abs=1e-6)
    assert ours["ndcg@10"] != pytest.approx(ours["ndcg_binary@10"], abs=1e-4)


def test_binary_metrics_equal_information_retrieval_evaluator(dense_run, tiny_encoder) -> None:
    import torch
    from sentence_transformers.sentence_transformer.evaluation import (
        InformationRetrievalEvaluator,
    )

    class AsStored(InformationRetrievalEvaluator):
        """Unit embeddings scored by dot product, documents rounded to float16 as the
        index stores them, so both sides rank the same vectors."""

        def embed_inputs(self, model, sentences, *args, **kwargs):
            vectors = super().embed_inputs(model, sentences, *args, **kwargs)
            vectors = torch.nn.functional.normalize(vectors.float(), dim=-1)
            document = "document" in (*args[:1], kwargs.get("encode_fn_name"))
            return vectors.half().float() if document else vectors

    queries, graded, _, ours = dense_run
    corpus = {
        json.loads(line)["id"]: normalize(json.loads(line)["text"])
        for line in CORPUS_JSONL.read_text(encoding="utf-8").splitlines()
    }
    evaluator = AsStored(
        {q: normalize(t) for q, t in queries.items()},
        corpus,
        {q: {d for d, g in docs.items() if g > 0} for q, docs in graded.items()},
        accuracy_at_k=[1, 5, 10],
        precision_recall_at_k=[1, 5, 10],
        write_csv=False,
        score_functions={"cosine": lambda a, b: a @ b.T},
    )
    theirs = evaluator(tiny_encoder.model)
    pairs = {"ndcg_binary@10": "ndcg@10", "recall@1": "recall@1", "recall@5": "recall@5"}
    pairs |= {"recall@10": "recall@10", "mrr@10": "mrr@10"}
    for mine, their_name in pairs.items():
        key = next(k for k in theirs if k.endswith(f"cosine_{their_name}"))
        assert ours[mine] == pytest.approx(theirs[key], abs=1e-6), mine


def test_ndcg_by_hand() -> None:
    relevant = {"a": 2, "b": 1, "c": 0}
    ranked = ["b", "x", "a"]
    graded = (1 / 1 + 2 / 2) / (2 / 1 + 1 / math.log2(3))
    binary = (1 / 1 + 1 / 2) / (1 / 1 + 1 / math.log2(3))
    assert ndcg_at_k(ranked, relevant, 10) == pytest.approx(graded)
    assert ndcg_at_k(ranked, relevant, 10, binary=True) == pytest.approx(binary)
    assert ndcg_at_k(["c"], relevant, 10) == 0.0


def test_cli_eval_retrieval(tmp_path, tiny_model, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["index", str(CORPUS_JSONL), "--model", tiny_model, "-q"]).exit_code == 0
    )
    args = ["eval", "retrieval", "--queries", str(QUERIES), "--qrels", str(QRELS)]
    rows = [json.loads(line) for line in runner.invoke(cli, [*args, "--json"]).output.splitlines()]
    assert [r["mode"] for r in rows] == ["hybrid", "dense", "lexical"]
    assert all(r["queries"] == 66 for r in rows)
    lexical = next(r for r in rows if r["mode"] == "lexical")
    assert lexical["ndcg@10"] > 0.7  # the keyword side finds names and numbers
    assert set(lexical) == {
        "mode",
        "queries",
        "recall@1",
        "recall@5",
        "recall@10",
        "mrr@10",
        "ndcg@10",
        "ndcg_binary@10",
    }
    table = runner.invoke(cli, [*args, "--mode", "lexical"])
    assert table.exit_code == 0 and "ndcg@10" in table.output and "lexical" in table.output
    (tmp_path / "q.jsonl").write_text('{"_id": "zz", "text": "x"}\n', encoding="utf-8")
    bad = runner.invoke(cli, ["eval", "retrieval", "--queries", "q.jsonl", "--qrels", str(QRELS)])
    assert bad.exit_code == 1 and "no query in the queries file has judgements" in bad.output


def test_cli_eval_retrieval_plot(tmp_path, tiny_model, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["index", str(CORPUS_JSONL), "--model", tiny_model, "-q"]).exit_code == 0
    )
    result = runner.invoke(
        cli,
        [
            "eval",
            "retrieval",
            "--queries",
            str(QUERIES),
            "--qrels",
            str(QRELS),
            "--plot",
            "r.png",
            "--mode",
            "lexical",
        ],
    )
    assert result.exit_code == 0, result.output
    png = (tmp_path / "r.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
