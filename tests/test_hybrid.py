"""Keyword search on Sinhala, FTS escaping, filters and rank fusion."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sisearch import Document, Index, InvalidQuery
from sisearch.core.filters import as_filter, parse_where
from sisearch.core.fusion import reciprocal_rank_fusion
from sisearch.language.lexical import fts_query, match_spans, query_terms, snippet, word_spans
from sisearch.language.text import lexical_key, normalize
from tests.conftest import CORPUS_JSONL


@pytest.fixture(scope="module")
def topic_index(tmp_path_factory, tiny_encoder) -> Index:
    from sisearch.documents.corpus import read_corpus

    index = Index.create(tmp_path_factory.mktemp("hybrid") / "ix", encoder=tiny_encoder)
    index.add(read_corpus(CORPUS_JSONL))
    return index


def test_every_indexed_token_is_a_whole_word(topic_index: Index) -> None:
    db = topic_index.store.db
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, documents_fts, row)"
    )
    terms = {row[0] for row in db.execute("SELECT term FROM temp.vocab")}
    words = set()
    for (text,) in db.execute("SELECT text FROM documents"):
        words.update(lexical_key(text[s:e]) for s, e in word_spans(text))
    assert terms == words
    assert "ප්රදේශයේ" in terms and "සෞඛ්ය" in terms and "ශ්රී" in terms


def test_word_spans_keep_vowel_signs_al_lakuna_and_joiners() -> None:
    text = "ප්‍රදේශයේ සෞඛ්‍ය, ශ්‍රී-ලංකාව."
    assert [text[s:e] for s, e in word_spans(text)] == ["ප්‍රදේශයේ", "සෞඛ්‍ය", "ශ්‍රී", "ලංකාව"]


def test_zwj_spellings_match_each_other_lexically(tmp_path: Path, tiny_encoder) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(["ප්‍රදේශයේ ගොවීන්", "කාර්‍ය සාධක"])
    for query in ("ප්රදේශයේ", "ප්‍රදේශයේ", "කාර්ය", "කාර්‍ය"):
        assert len(index.search(query, mode="lexical")) == 1, query


def test_a_syllable_does_not_match_every_word(topic_index: Index) -> None:
    assert topic_index.search("ප", mode="lexical", limit=50) == []


def test_lexical_mode_ranks_documents_with_the_words(topic_index: Index) -> None:
    hits = topic_index.search("ඩෙංගු මර්දනය", mode="lexical", limit=5)
    assert "ඩෙංගු මර්දනය" in hits[0].text
    assert all("ඩෙංගු" in h.text or "මර්දනය" in h.text for h in hits)
    assert all(h.dense_rank is None and h.lexical_rank == h.rank for h in hits)


def test_lexical_mode_loads_no_model(tmp_path: Path, tiny_encoder) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(["කොළඹ වරාය"])
    index.close()
    reopened = Index.open(tmp_path / "ix")
    assert [h.text for h in reopened.search("වරාය", mode="lexical")] == ["කොළඹ වරාය"]
    assert reopened.encoders.engine is None


HOSTILE = st.lists(
    st.sampled_from(
        list("\"'*-+^:(){}[]<>,. ") + ["NEAR", "AND", "OR", "NOT", "ලංකා", "ප්‍ර", "\u200d", "සෞඛ්‍ය"]
    ),
    max_size=12,
).map("".join)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(HOSTILE)
def test_hostile_text_never_breaks_keyword_search(topic_index: Index, query: str) -> None:
    try:
        hits = topic_index.search(query, mode="lexical", limit=5, romanized="off")
        read = topic_index.search(query, mode="lexical", limit=5)
    except InvalidQuery as e:
        assert "empty" in str(e)
        return
    terms = query_terms(query)
    for hit in hits:
        assert match_spans(hit.text, terms), (query, hit.text)
    for hit in read:  # read as romanized Sinhala: the hits hold the words searched
        searched = query_terms(hit.transliteration or query)
        alternatives = topic_index._transliterate(query, "auto", False)
        extra = list(alternatives.alternatives) if alternatives else []
        assert match_spans(hit.text, searched + extra), (query, hit.text)


@given(st.text(max_size=30))
def test_fts_query_is_always_valid_fts5(query: str) -> None:
    expression = fts_query(query)
    if expression is None:
        return
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE f USING fts5(key)")
    connection.execute("SELECT * FROM f WHERE f MATCH ?", [expression]).fetchall()


def test_operators_in_plain_queries_are_words(tmp_path: Path, tiny_encoder) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(["cats AND dogs", "NEAR the river", "just cats"])
    assert {h.text for h in index.search("AND", mode="lexical")} == {"cats AND dogs"}
    assert {h.text for h in index.search("NEAR(", mode="lexical")} == {"NEAR the river"}


def test_raw_fts_expressions(topic_index: Index) -> None:
    hits = topic_index.search('"ශ්රී ලංකා" AND ජාතික', mode="lexical", raw_fts=True, limit=50)
    assert hits and all("ශ්‍රී ලංකා" in h.text and "ජාතික" in h.text for h in hits)
    with pytest.raises(InvalidQuery, match="invalid full-text query"):
        topic_index.search('"unbalanced AND (', mode="lexical", raw_fts=True)


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
@pytest.mark.parametrize("limit", [1, 10, 26])
def test_filter_returns_exactly_k_when_k_match(topic_index: Index, mode: str, limit: int) -> None:
    hits = topic_index.search("ශ්‍රී ලංකාවේ ක්‍රිකට්", limit=limit, mode=mode, where={"topic": "health"})
    assert len(hits) == limit
    assert all(h.metadata["topic"] == "health" for h in hits)


def test_filter_with_fewer_matches_returns_them_all(topic_index: Index) -> None:
    where = "topic = 'health' and id <= 'health-03'"
    hits = topic_index.search("සෞඛ්‍ය", limit=10, mode="dense", where=where)
    assert sorted(h.metadata["id"] for h in hits) == ["health-01", "health-02", "health-03"]


def test_filter_on_columns_and_lists(topic_index: Index) -> None:
    hits = topic_index.search("ලංකාව", limit=100, mode="dense", where={"topic": ["food", "sports"]})
    assert len(hits) == 52 and {h.metadata["topic"] for h in hits} == {"food", "sports"}
    (hit,) = topic_index.search("ලංකාව", limit=5, mode="dense", where="line = 3")
    assert hit.line == 3
    assert topic_index.search("ලංකාව", where={"topic": "no such topic"}) == []


def test_numeric_filters_compare_numbers(tmp_path: Path, tiny_encoder) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(
        [
            Document(f"වාර්තාව {y}", source="s", line=i, metadata={"year": str(y)})
            for i, y in enumerate([999, 2001, 2020, 2024])
        ]
    )
    hits = index.search("වාර්තාව", limit=10, mode="dense", where="year >= 2020")
    assert sorted(h.metadata["year"] for h in hits) == ["2020", "2024"]


@pytest.mark.parametrize(
    "where",
    [
        "topic",
        "topic = health",
        "topic = 'a' or 1=1",
        "topic = 'x'; DROP TABLE documents",
        "= 'x'",
        "topic ~ 'x'",
    ],
)
def test_bad_filters_are_refused(where: str) -> None:
    with pytest.raises(InvalidQuery):
        parse_where(where)


def test_filter_values_are_parameters_not_sql(topic_index: Index) -> None:
    sneaky = "health' OR '1'='1"
    assert topic_index.search("සෞඛ්‍ය", where={"topic": sneaky}, mode="dense") == []
    assert (
        topic_index.search("සෞඛ්‍ය", where=f"topic = '{sneaky.replace(chr(39), chr(39) * 2)}'") == []
    )
    clause, params = as_filter({"to\u0027pic": "x"}).sql()
    assert "pic" not in clause and params == ['$."to\'pic"', "x"]


def test_reciprocal_rank_fusion_by_hand() -> None:
    fused = reciprocal_rank_fusion({"dense": [10, 20, 30], "lexical": [30, 40]}, k=60)
    # 30: 1/63 + 1/61 = .032266; 10: 1/61 = .016393; 20: 1/62; 40: 1/62 (tie: both rank 2, id order)
    assert [item for item, _, _ in fused] == [30, 10, 20, 40]
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[0][2] == {"dense": 3, "lexical": 1}


def test_hybrid_reports_both_ranks(topic_index: Index) -> None:
    hits = topic_index.search("ඩෙංගු මර්දනය", limit=10)
    both = [h for h in hits if h.dense_rank and h.lexical_rank]
    assert all(
        h.score == pytest.approx(1 / (60 + h.dense_rank) + 1 / (60 + h.lexical_rank)) for h in both
    )
    assert any(h.lexical_rank for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_invalid_mode(topic_index: Index) -> None:
    with pytest.raises(InvalidQuery, match="mode must be one of"):
        topic_index.search("ලංකාව", mode="fuzzy")


def test_match_spans_and_snippet_are_whole_words() -> None:
    text = normalize("ශ්‍රී ලංකාවේ ප්‍රදේශයේ ප්‍රදේශ")
    spans = match_spans(text, query_terms("ප්රදේශයේ"))
    assert [text[s:e] for s, e in spans] == ["ප්‍රදේශයේ"]
    long_text = "මුල " * 200 + "සීගිරිය පර්වතය " + "අග " * 200
    cut, inside = snippet(long_text, match_spans(long_text, ["සීගිරිය"]), width=80)
    assert cut.startswith("…") and cut.endswith("…") and len(cut) <= 82
    assert [cut[s:e] for s, e in inside] == ["සීගිරිය"]


def test_old_index_without_keyword_table_is_read_then_migrated_by_a_write(
    tmp_path: Path, tiny_encoder
) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(["කොළඹ වරාය", "ගාල්ල කොටුව"])
    index.close()
    with sqlite3.connect(tmp_path / "ix" / "documents.db") as connection:
        connection.execute("DROP TABLE documents_fts")
        connection.execute("PRAGMA user_version = 1")
    reopened = Index.open(tmp_path / "ix")  # read as it is: opening writes nothing
    assert reopened.store.schema_version == 1
    with pytest.raises(InvalidQuery, match="no keyword table yet"):
        reopened.search("කොටුව", mode="lexical")
    assert [h.text for h in reopened.search("ගාල්ල කොටුව", mode="hybrid", limit=1)] == ["ගාල්ල කොටුව"]
    reopened.add([])  # the next write upgrades it
    assert [h.text for h in reopened.search("කොටුව", mode="lexical")] == ["ගාල්ල කොටුව"]


def test_cli_modes_and_where(tmp_path: Path, tiny_model, monkeypatch) -> None:
    from click.testing import CliRunner

    from sisearch.cli import cli

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["index", str(CORPUS_JSONL), "--model", tiny_model, "-q"]).exit_code == 0
    )
    for mode in ("hybrid", "dense", "lexical"):
        result = runner.invoke(
            cli,
            ["query", "ඩෙංගු", "--mode", mode, "--json", "-k", "3", "--where", "topic = 'health'"],
        )
        assert result.exit_code == 0, result.output
        hits = [json.loads(line) for line in result.output.splitlines()]
        assert hits and all(h["metadata"]["topic"] == "health" for h in hits)
        assert all({"dense_rank", "lexical_rank", "score"} <= set(h) for h in hits)
    table = runner.invoke(cli, ["query", "ඩෙංගු", "-k", "2"])
    assert "keyword" in table.output and "dense" in table.output
    bad = runner.invoke(cli, ["query", "x", "--where", "topic ="])
    assert bad.exit_code == 1 and bad.output.startswith("Error: cannot read the filter")
    bad = runner.invoke(cli, ["query", "x", "--mode", "dense", "--raw-fts"])
    assert bad.exit_code == 2
    bad = runner.invoke(cli, ["query", '"open', "--raw-fts", "--mode", "lexical"])
    assert bad.exit_code == 1 and "invalid full-text query" in bad.output


def test_retrieval_metrics_by_hand() -> None:
    from sisearch.quality.evaluation import mrr_at_k, ndcg_at_k, recall_at_k, score_rankings

    relevant = {"a": 2, "b": 1, "z": 1}
    ranked = ["x", "a", "b", "y"]
    # DCG = 2/log2(3) + 1/log2(4); ideal = 2/log2(2) + 1/log2(3) + 1/log2(4)
    import math

    expected = (2 / math.log2(3) + 0.5) / (2 + 1 / math.log2(3) + 0.5)
    assert ndcg_at_k(ranked, relevant, 10) == pytest.approx(expected)
    assert recall_at_k(ranked, relevant, 10) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, relevant, 10) == 0.5
    assert mrr_at_k(ranked, relevant, 1) == 0.0
    scores = score_rankings(
        {"q1": ranked, "q2": ["a"], "unjudged": ["a"]}, {"q1": relevant, "q2": {"a": 1}}
    )
    assert scores["mrr@10"] == pytest.approx(0.75)


def test_retrieval_set_is_complete() -> None:
    from sisearch.quality.evaluation import read_qrels, read_queries

    root = Path(__file__).resolve().parent.parent / "corpora"
    queries = read_queries(root / "queries.jsonl")
    qrels = read_qrels(root / "qrels.tsv")
    ids = {
        json.loads(line)["id"] for line in (root / "sinhala_passages.jsonl").open(encoding="utf-8")
    }
    assert len(queries) >= 60 and set(qrels) == set(queries)
    assert all(
        doc in ids and grade in (1, 2) for judged in qrels.values() for doc, grade in judged.items()
    )


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_every_hit_carries_its_exact_best_chunk_cosine(topic_index: Index, mode: str) -> None:
    query = "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන"
    hits = topic_index.search(query, limit=8, mode=mode, cosine=True)
    assert hits
    embedding = topic_index.encoder.encode_queries([query])[0]
    chunks = topic_index.store.chunk_embeddings_of_documents([h.doc_id for h in hits])
    for hit in hits:
        assert hit.cosine == pytest.approx(float(np.max(chunks[hit.doc_id] @ embedding)), abs=1e-6)
    if mode == "dense":
        assert [h.cosine for h in hits] == pytest.approx([h.score for h in hits], abs=1e-5)


def test_lexical_mode_without_a_loaded_model_has_no_cosine(tmp_path: Path, tiny_encoder) -> None:
    Index.create(tmp_path / "ix", encoder=tiny_encoder).add(["කොළඹ වරාය", "ලංකාව"])
    (hit,) = Index.open(tmp_path / "ix").search("වරාය", mode="lexical")
    assert hit.cosine is None


def test_keyword_weight_is_the_squared_share_of_words_the_index_holds() -> None:
    from sisearch.core.search import keyword_weight, rank_for_mode

    assert keyword_weight(["a", "b"], {"a", "b"}) == 1.0
    assert keyword_weight(["a", "b", "c", "d"], {"a"}) == 1 / 16
    assert keyword_weight([], set()) == 0.0
    dense = [(1, 0.9), (2, 0.8), (3, 0.7)]
    lexical = [(3, 9.0), (2, 5.0)]
    assert [d for d, _, _ in rank_for_mode("hybrid", dense, lexical, 0.0)] == [1, 2, 3]
    assert next(d for d, _, _ in rank_for_mode("hybrid", dense, lexical, 1.0)) != 1


def test_typed_words_first_moves_holders_up_and_keeps_each_part_in_order() -> None:
    from sisearch.core.search import typed_words_first

    fused = [(1, 0.03, {"dense": 1}), (2, 0.02, {"lexical": 1}), (3, 0.01, {"lexical": 2})]
    moved = typed_words_first(fused, {3, 2})
    assert [d for d, _, _ in moved] == [2, 3, 1]
    assert [s for _, s, _ in moved] == pytest.approx([1.02, 1.01, 0.03])
    assert typed_words_first(fused, set()) == fused


def test_a_query_whose_words_the_index_lacks_ranks_mostly_by_meaning(
    tmp_path, tiny_encoder
) -> None:
    from sisearch.documents.corpus import read_corpus

    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="fp32")
    index.add([Document("ශ්‍රී ලංකාව 1948 දී නිදහස ලැබීය."), Document("කොළඹ වරාය 1948")])
    index.add(read_corpus(CORPUS_JSONL))
    query = "independence in 1948"  # one word of three held: keyword weight 1/9

    def ids(mode: str) -> list[int]:
        return [h.doc_id for h in index.search(query, 100, mode=mode, romanized="off")]

    sides = {"dense": ids("dense"), "lexical": ids("lexical")}
    assert len(sides["lexical"]) == 3  # the two above and the sample's 1948 passage
    expected = reciprocal_rank_fusion(sides, weights={"lexical": 1 / 9})
    hybrid = index.search(query, 10, mode="hybrid", romanized="off")
    assert [h.doc_id for h in hybrid] == [d for d, _, _ in expected[:10]]
