"""`sisearch eval retrieval` gives the numbers sentence-transformers' evaluator gives."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sisearch import Index
from sisearch.cli import cli
from sisearch.corpus import read_corpus
from sisearch.evaluation import evaluate_index, read_qrels, read_queries
from sisearch.text import normalize
from tests.conftest import CORPUS_JSONL

QUERIES = CORPUS_JSONL.parent / "queries.jsonl"
QRELS = CORPUS_JSONL.parent / "qrels.tsv"


def test_dense_metrics_equal_information_retrieval_evaluator(tmp_path, tiny_encoder) -> None:
    from sentence_transformers.sentence_transformer.evaluation import (
        InformationRetrievalEvaluator,
    )

    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="fp32")
    index.add(read_corpus(CORPUS_JSONL))
    queries, graded = read_queries(QUERIES), read_qrels(QRELS)
    binary = {q: {d: 1 for d in docs} for q, docs in graded.items()}
    ours = evaluate_index(index, queries, binary, ["dense"])["dense"]

    corpus = {
        json.loads(line)["id"]: normalize(json.loads(line)["text"])
        for line in CORPUS_JSONL.read_text(encoding="utf-8").splitlines()
    }
    evaluator = InformationRetrievalEvaluator(
        {q: normalize(t) for q, t in queries.items()},
        corpus,
        {q: set(docs) for q, docs in binary.items()},
        accuracy_at_k=[1, 5, 10],
        precision_recall_at_k=[1, 5, 10],
        write_csv=False,
    )
    theirs = evaluator(tiny_encoder.model)
    for metric in ("recall@1", "recall@5", "recall@10", "ndcg@10", "mrr@10"):
        key = next(k for k in theirs if k.endswith(f"cosine_{metric}"))
        assert ours[metric] == pytest.approx(theirs[key], abs=1e-6), metric


def test_cli_eval_retrieval(tmp_path, tiny_model, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["index", str(CORPUS_JSONL), "--model", tiny_model, "-q"]).exit_code == 0
    )
    args = ["eval", "retrieval", "--queries", str(QUERIES), "--qrels", str(QRELS)]
    rows = [json.loads(line) for line in runner.invoke(cli, [*args, "--json"]).output.splitlines()]
    assert [r["mode"] for r in rows] == ["hybrid", "dense", "lexical"]
    assert all(r["queries"] == 66 and 0 <= r["ndcg@10"] <= 1 for r in rows)
    lexical = next(r for r in rows if r["mode"] == "lexical")
    assert lexical["ndcg@10"] > 0.7  # the keyword side finds names and numbers
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
