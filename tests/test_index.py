"""The Python API: search agrees with brute force, re-adding is free, and writes survive crashes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sisearch import Document, Index, IndexExists, IndexNotFound, InvalidQuery, ModelMismatch
from sisearch.core.manifest import MANIFEST_FILE
from sisearch.core.store import STORED_COSINE_ERROR
from sisearch.encoders.encoder import load_encoder
from sisearch.language.text import normalize
from tests.conftest import HIT_FIELDS

QUERIES = ["ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන", "සෞඛ්‍ය සේවා", "ක්‍රිකට් ලෝක කුසලානය", "වී වගාව"]


@pytest.fixture
def corpus_index(tmp_path: Path, tiny_encoder, corpus_lines: list[str]) -> Index:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="fp32")
    index.add(corpus_lines)
    return index


def brute_force(encoder, texts: list[str], query: str) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of the query with every text, by numpy on independently normalized vectors."""
    model = encoder.model
    docs = model.encode([normalize(t) for t in texts], convert_to_numpy=True)
    q = model.encode([normalize(query)], convert_to_numpy=True)[0]
    docs = docs / np.linalg.norm(docs, axis=1, keepdims=True)
    q = q / np.linalg.norm(q)
    scores = docs @ q
    order = np.argsort(-scores, kind="stable")
    return order, scores


@pytest.mark.parametrize("query", QUERIES)
def test_search_agrees_with_brute_force(corpus_index: Index, tiny_encoder, corpus_lines, query):
    hits = corpus_index.search(query, limit=10, mode="dense")
    order, scores = brute_force(tiny_encoder, corpus_lines, query)
    assert len(hits) == 10
    for hit, expected in zip(hits, order[:10]):
        assert hit.score == pytest.approx(float(scores[expected]), abs=STORED_COSINE_ERROR)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # Ids may swap only between scores closer than float16 storage can tell apart.
    expected_texts = {normalize(corpus_lines[i]) for i in order[:10]}
    boundary = scores[order[9]]
    near = 2 * STORED_COSINE_ERROR
    assert all(h.text in expected_texts or abs(h.score - boundary) < near for h in hits)


def test_search_order_matches_sentence_transformers_semantic_search(
    corpus_index: Index, tiny_encoder, corpus_lines
):
    from sentence_transformers import util

    texts = [normalize(t) for t in corpus_lines]
    corpus = tiny_encoder.model.encode(texts, convert_to_tensor=True)
    for query in QUERIES:
        q = tiny_encoder.model.encode([normalize(query)], convert_to_tensor=True)
        expected = util.semantic_search(q, corpus, top_k=5)[0]
        hits = corpus_index.search(query, limit=5, mode="dense")
        assert [h.text for h in hits] == [texts[e["corpus_id"]] for e in expected]
        scores = [e["score"] for e in expected]
        assert [h.score for h in hits] == pytest.approx(scores, abs=STORED_COSINE_ERROR)


def test_hits_carry_source_line_and_metadata(tmp_path: Path, tiny_encoder) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add([Document("කොළඹ වරාය", source="news.jsonl", line=7, metadata={"topic": "port"})])
    (hit,) = index.search("කොළඹ වරාය", limit=3, mode="dense")
    assert (hit.rank, hit.text, hit.source, hit.line, hit.metadata) == (
        1,
        "කොළඹ වරාය",
        "news.jsonl",
        7,
        {"topic": "port"},
    )
    assert hit.score == pytest.approx(1.0, abs=STORED_COSINE_ERROR)
    assert hit.cosine == pytest.approx(hit.score, abs=1e-6)
    assert set(hit.to_dict()) == HIT_FIELDS


def test_zwj_spellings_give_the_same_vector(tiny_encoder) -> None:
    with_zwj = tiny_encoder.encode_queries(["ප්\u200dරදේශයේ සෞඛ්\u200dය සේවා"])
    without = tiny_encoder.encode_queries(["ප්රදේශයේ සෞඛ්ය සේවා"])
    np.testing.assert_array_equal(with_zwj, without)


def test_vectors_are_unit_float32(tiny_encoder) -> None:
    vectors = tiny_encoder.encode_documents(["ලංකාව", "කොළඹ නගරය"])
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_readding_adds_and_encodes_nothing(corpus_index: Index, corpus_lines) -> None:
    before = corpus_index.info()
    result = corpus_index.add(corpus_lines)
    assert (result.documents_added, result.chunks_encoded) == (0, 0)
    assert result.documents_skipped == len(corpus_lines)
    assert corpus_index.info()["documents"] == before["documents"]


def test_same_text_from_another_source_reuses_the_embedding(tmp_path: Path, tiny_encoder):
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add([Document("කොළඹ වරාය", source="a.txt", line=1)])
    result = index.add([Document("කොළඹ වරාය", source="b.txt", line=4)])
    assert (result.documents_added, result.chunks_encoded) == (1, 0)
    assert {h.source for h in index.search("වරාය", limit=5)} == {"a.txt", "b.txt"}


def test_zwj_variants_of_a_passage_are_one_document(tmp_path: Path, tiny_encoder) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    result = index.add(["ප්\u200dරදේශය", "ප්රදේශය"])
    assert result.documents_added == 1


def test_mojibake_is_repaired_and_counted(tmp_path: Path, tiny_encoder) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    text = "ශ්\u200dරී ලංකාවේ සෞඛ්\u200dය සේවය"
    result = index.add([text.encode().decode("latin-1"), text.encode().decode("mac_roman")])
    assert (result.repaired, result.documents_added) == (2, 1)
    assert index.search(text, limit=1)[0].text == text


def test_long_passage_is_chunked_not_truncated_and_returned_once(tmp_path: Path, tiny_encoder):
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    sentences = [f"වාක්‍ය අංක {i} ලංකාවේ ඉතිහාසය ගැන කියයි." for i in range(60)]
    sentences[45] = "සීගිරිය කාශ්‍යප රජු විසින් ඉදිකළ බලකොටුවකි."
    long_text = " ".join(sentences)
    index.add([long_text, "කොළඹ වරාය"])
    rows = index.store.db.execute("SELECT start, end FROM chunks WHERE doc_id = 1").fetchall()
    assert len(rows) > 2
    limit = tiny_encoder.max_passage_tokens
    for start, end in rows:
        assert len(tiny_encoder.token_offsets([long_text[start:end]])[0]) <= limit
    assert rows[0][0] == 0 and rows[-1][1] == len(normalize(long_text))
    assert any("සීගිරිය" in normalize(long_text)[s:e] for s, e in rows[1:])
    hits = index.search("සීගිරිය කාශ්‍යප රජු විසින් ඉදිකළ බලකොටුවකි.", limit=5, mode="dense")
    assert [h.doc_id for h in hits] == [1, 2]
    assert hits[0].text == normalize(long_text)


def test_limit_larger_than_index(corpus_index: Index, corpus_lines) -> None:
    assert len(corpus_index.search("ලංකාව", limit=10_000)) == len(set(corpus_lines))


def test_search_many_equals_search(corpus_index: Index) -> None:
    many = corpus_index.search_many(QUERIES, limit=3, mode="dense")
    single = [corpus_index.search(q, limit=3, mode="dense") for q in QUERIES]
    # Batching pads queries to a common length, which moves scores in the last float digits.
    for batch_hits, one_hits in zip(many, single):
        assert [h.doc_id for h in batch_hits] == [h.doc_id for h in one_hits]
        assert [h.score for h in batch_hits] == pytest.approx([h.score for h in one_hits], abs=1e-5)


def test_invalid_queries(corpus_index: Index) -> None:
    with pytest.raises(InvalidQuery, match="at least 1"):
        corpus_index.search("ලංකාව", limit=0)
    with pytest.raises(InvalidQuery, match="empty"):
        corpus_index.search(" \u200d ")


def test_empty_index_returns_no_hits(tmp_path: Path, tiny_encoder) -> None:
    assert Index.create(tmp_path / "ix", encoder=tiny_encoder).search("ලංකාව") == []


def test_create_twice_and_open_missing(tmp_path: Path, tiny_encoder) -> None:
    Index.create(tmp_path / "ix", encoder=tiny_encoder)
    with pytest.raises(IndexExists):
        Index.create(tmp_path / "ix", encoder=tiny_encoder)
    with pytest.raises(IndexNotFound):
        Index.open(tmp_path / "missing")


def test_reopened_index_loads_model_from_manifest(corpus_index: Index, tiny_model) -> None:
    expected = corpus_index.search(QUERIES[0], limit=5)
    corpus_index.close()
    reopened = Index.open(corpus_index.path)
    assert reopened.manifest.model.name == tiny_model
    assert reopened.search(QUERIES[0], limit=5) == expected


def test_other_model_is_refused_by_fingerprint(corpus_index: Index, other_tiny_model) -> None:
    corpus_index.close()
    with pytest.raises(ModelMismatch, match="weights differ"):
        Index.open(corpus_index.path, model=other_tiny_model)


def test_model_folder_changed_since_indexing(tmp_path: Path, tiny_model, other_tiny_model):
    """The index answers from its own ONNX export; the changed folder is refused for adding."""
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    index = Index.create(tmp_path / "ix", model=str(folder))
    index.add(["ලංකාව", "කොළඹ"])
    expected = index.search("ලංකාව", mode="dense")
    index.close()
    shutil.rmtree(folder)
    shutil.copytree(other_tiny_model, folder)
    assert Index.open(tmp_path / "ix").search("ලංකාව", mode="dense") == expected
    with pytest.raises(ModelMismatch):
        Index.open(tmp_path / "ix", model=str(folder))


def test_an_unchanged_export_is_not_probed_and_a_replaced_one_is_refused(
    tmp_path: Path, tiny_model, other_tiny_model, monkeypatch
):
    """Opening an index compares its export's files with the signature recorded when it was
    probed: the same files skip the probe encoding; another model's export is caught."""
    import shutil

    from sisearch.encoders.onnx import OnnxEncoder

    index = Index.create(tmp_path / "a", model=tiny_model)
    index.add(["ලංකාව", "කොළඹ"])
    expected = index.search("ලංකාව", mode="dense")
    assert index.manifest.encoder.export_files
    index.close()
    Index.create(tmp_path / "b", model=other_tiny_model).close()

    def no_probe(self):
        raise AssertionError("the probe ran for an unchanged export")

    with monkeypatch.context() as patched:
        patched.setattr(OnnxEncoder, "probe", no_probe)
        assert Index.open(tmp_path / "a").search("ලංකාව", mode="dense") == expected
    shutil.rmtree(tmp_path / "a" / "encoder")
    shutil.copytree(tmp_path / "b" / "encoder", tmp_path / "a" / "encoder")
    with pytest.raises(ModelMismatch, match="no longer reproduces"):
        Index.open(tmp_path / "a").search("ලංකාව", mode="dense")


def test_pytorch_index_detects_a_changed_model_folder(
    tmp_path: Path, tiny_model, other_tiny_model, monkeypatch, pytorch_export
):
    import shutil

    from sisearch.encoders import onnx as onnx_encoder

    def no_export(*args, **kwargs):
        raise RuntimeError("exporter unavailable")

    monkeypatch.setattr(onnx_encoder, "export_onnx", no_export)
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    index = Index.create(tmp_path / "ix", model=str(folder))
    assert index.manifest.encoder.engine == "torch"
    assert "exporter unavailable" in index.manifest.encoder.note
    index.add(["ලංකාව"])
    index.close()
    shutil.rmtree(folder)
    shutil.copytree(other_tiny_model, folder)
    with pytest.raises(ModelMismatch):
        Index.open(tmp_path / "ix").search("ලංකාව")


def test_manifest_records_model_and_normalization(corpus_index: Index) -> None:
    manifest = json.loads((corpus_index.path / MANIFEST_FILE).read_text())
    assert manifest["normalization"] == "si-2"
    assert manifest["model"]["dim"] == 64 and manifest["model"]["pooling"] == "mean"
    assert manifest["vectors_generation"] == corpus_index.store.generation


def test_load_encoder_errors_are_one_line(tmp_path: Path) -> None:
    from sisearch.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match="no such folder") as missing:
        load_encoder(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="not a SentenceTransformer") as empty:
        load_encoder(str(tmp_path / "empty"))
    for error in (missing, empty):
        assert "\n" not in str(error.value) and "Fix:" in str(error.value)
