"""Delete and sync keep SQLite, FTS and FAISS consistent; unchanged passages stay encoded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sisearch import Document, Index
from sisearch.cli import cli
from sisearch.errors import DocumentNotFound, InvalidQuery
from sisearch.language.text import normalize
from tests.conftest import CORPUS

WORDS = normalize(CORPUS.read_text(encoding="utf-8")).split()[:400]


def consistent(index: Index) -> set[tuple[str, str]]:
    """Check every layer agrees; returns the (source, text) pairs the index holds."""
    db = index.store.db
    rows = db.execute("SELECT id, source, text FROM documents").fetchall()
    chunk_docs = {r[0] for r in db.execute("SELECT DISTINCT doc_id FROM chunks")}
    fts = {r[0] for r in db.execute("SELECT rowid FROM documents_fts")}
    assert chunk_docs == fts == {r[0] for r in rows}
    vectors = index.vectors.fresh()
    assert len(vectors) == index.store.chunk_count()
    saved = index.state.saved_vectors()
    assert len(saved) == len(vectors)
    words = index.state.load_vocabulary(index.store.generation)
    if words is not None:  # updated by each write's difference: must equal a full scan
        assert sorted(words) == sorted(index.store.vocabulary())
    if rows:
        hits = index.search(WORDS[0], limit=len(rows), mode="dense")
        assert sorted(h.doc_id for h in hits) == sorted(r[0] for r in rows)
    return {(source, text) for _, source, text in rows}


def test_delete_by_id_and_source(tmp_path: Path, tiny_encoder) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(
        [Document(f"{w} {WORDS[i + 1]}", source="a.txt", line=i) for i, w in enumerate(WORDS[:5])]
    )
    index.add([Document("කොළඹ වරාය", source="b.txt", line=1)])
    assert index.delete([1, 2]) == 2
    assert index.delete(source="b.txt") == 1
    assert {s for s, _ in consistent(index)} == {"a.txt"}
    assert index.info()["documents"] == 3
    with pytest.raises(DocumentNotFound, match="No document with id 1"):
        index.delete([1])
    with pytest.raises(DocumentNotFound, match=r"No documents from source 'b\.txt'"):
        index.delete(source="b.txt")
    assert index.search("කොළඹ වරාය", mode="lexical") == []


def test_deleted_documents_stay_deleted_after_reopening(tmp_path: Path, tiny_encoder) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(["කොළඹ වරාය", "ගාල්ල කොටුව"])
    index.delete([1])
    index.close()
    reopened = Index.open(tmp_path / "ix")
    assert [h.text for h in reopened.search("කොළඹ වරාය", mode="dense", limit=5)] == ["ගාල්ල කොටුව"]


def test_sync_adds_new_removes_gone_and_reencodes_nothing_unchanged(tmp_path, tiny_encoder):
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    first = [Document(t, source="f.txt", line=i + 1) for i, t in enumerate(["අ ආ", "ඉ ඊ", "උ ඌ"])]
    index.sync(first, "f.txt")
    second = [Document(t, source="f.txt", line=i + 1) for i, t in enumerate(["ඉ ඊ", "එ ඒ", "උ ඌ"])]
    result = index.sync(second, "f.txt")
    assert (result.documents_added, result.documents_removed, result.chunks_encoded) == (1, 1, 1)
    assert consistent(index) == {("f.txt", "ඉ ඊ"), ("f.txt", "එ ඒ"), ("f.txt", "උ ඌ")}
    lines = dict(index.store.db.execute("SELECT text, line FROM documents").fetchall())
    assert lines == {"ඉ ඊ": 1, "එ ඒ": 2, "උ ඌ": 3}


def test_sync_refuses_passages_from_another_source(tmp_path, tiny_encoder) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    with pytest.raises(InvalidQuery, match=r"got a passage from 'other\.txt'"):
        index.sync([Document("අ", source="other.txt")], "f.txt")


OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"), st.sampled_from(["a", "b"]), st.lists(st.integers(0, 30), max_size=6)
        ),
        st.tuples(
            st.just("sync"), st.sampled_from(["a", "b"]), st.lists(st.integers(0, 30), max_size=6)
        ),
        st.tuples(st.just("delete_source"), st.sampled_from(["a", "b"]), st.just([])),
        st.tuples(st.just("delete_id"), st.just(""), st.lists(st.integers(0, 40), max_size=3)),
    ),
    max_size=8,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(OPERATIONS)
def test_random_add_delete_sync_sequences_match_a_model(tmp_path_factory, tiny_encoder, ops):
    index = Index.create(tmp_path_factory.mktemp("prop") / "ix", encoder=tiny_encoder)
    model: dict[tuple[str, str], int] = {}  # (source, text) -> doc id
    for op, source, numbers in ops:
        texts = [f"{WORDS[n]} {WORDS[n + 1]}" for n in numbers]
        if op == "add":
            index.add([Document(t, source=source) for t in texts])
            for t in texts:
                model.setdefault((source, normalize(t)), -1)
        elif op == "sync":
            index.sync([Document(t, source=source) for t in texts], source)
            keep = {normalize(t) for t in texts}
            model = {k: v for k, v in model.items() if k[0] != source or k[1] in keep}
            for t in keep:
                model.setdefault((source, t), -1)
        elif op == "delete_source":
            if any(k[0] == source for k in model):
                index.delete(source=source)
                model = {k: v for k, v in model.items() if k[0] != source}
        else:
            ids = {
                r[0]: (r[1], r[2])
                for r in index.store.db.execute("SELECT id, source, text FROM documents").fetchall()
            }
            present = [n for n in numbers if n in ids]
            if present:
                index.delete(present)
                for n in present:
                    model.pop(ids[n], None)
    assert consistent(index) == set(model)
    index.close()
    assert consistent(Index.open(index.path)) == set(model)


def test_cli_delete_and_sync(tmp_path: Path, tiny_model, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    corpus = tmp_path / "news.txt"
    corpus.write_text("කොළඹ වරාය\nගාල්ල කොටුව\nමහනුවර දළදා මාළිගාව\n", encoding="utf-8")
    assert runner.invoke(cli, ["index", "news.txt", "--model", tiny_model, "-q"]).exit_code == 0
    corpus.write_text("ගාල්ල කොටුව\nයාපනය නල්ලූර් කෝවිල\nමහනුවර දළදා මාළිගාව\n", encoding="utf-8")
    result = runner.invoke(cli, ["index", "news.txt", "--sync"])
    assert result.exit_code == 0, result.output
    assert "1 added, 2 already indexed or repeated; 1 chunks encoded" in result.output
    assert "1 removed (no longer in the file)" in result.output
    hits = [
        json.loads(line)
        for line in runner.invoke(
            cli, ["query", "කොටුව", "--json", "-k", "10", "--mode", "dense"]
        ).output.splitlines()
    ]
    assert sorted((h["text"], h["line"]) for h in hits) == [
        ("ගාල්ල කොටුව", 1),
        ("මහනුවර දළදා මාළිගාව", 3),
        ("යාපනය නල්ලූර් කෝවිල", 2),
    ]
    doc_id = next(h["doc_id"] for h in hits if h["text"] == "ගාල්ල කොටුව")
    result = runner.invoke(cli, ["delete", "--id", str(doc_id)])
    assert (result.exit_code, result.output.strip()) == (
        0,
        "Deleted 1 document from indexes/default",
    )
    result = runner.invoke(cli, ["delete", "--source", "./news.txt"])
    assert (result.exit_code, result.output.strip()) == (
        0,
        "Deleted 2 documents from indexes/default",
    )
    result = runner.invoke(cli, ["delete", "--source", "news.txt"])
    assert result.exit_code == 1 and "No documents from source 'news.txt'" in result.output
    assert runner.invoke(cli, ["delete"]).exit_code == 2
