"""Parquet export and import: an index's passages and embeddings leave and come back intact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from click.testing import CliRunner

from sisearch import Index
from sisearch.cli import cli
from sisearch.core import writer as writer_module
from sisearch.core.store import STORED_COSINE_ERROR
from sisearch.errors import CorpusError
from tests.conftest import CORPUS

LINES = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def source_index(tmp_path: Path, tiny_encoder) -> Index:
    index = Index.create(tmp_path / "a", encoder=tiny_encoder, precision="fp32")
    long = " ".join(LINES[:14])  # long enough to be cut into chunks
    index.add(LINES + [long])
    return index


def hits(index: Index, query: str) -> list[tuple[str, float]]:
    return [(h.text, round(h.score, 6)) for h in index.search(query, limit=8)]


def test_export_then_import_gives_the_same_index(source_index, tmp_path, tiny_encoder) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "a.parquet"
    rows = source_index.export_parquet(out)
    assert rows == source_index.store.chunk_count() > source_index.store.document_count()
    table = pq.read_table(out)
    assert table.schema.names == [
        "source", "line", "metadata", "origin", "text", "content_hash", "chunk", "chunk_start",
        "chunk_end", "chunk_hash", "embedding",
    ]  # fmt: skip
    assert table.schema.field("embedding").type.list_size == source_index.manifest.model.dim
    info = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    assert json.loads(info["sisearch.model"])["probe"] == list(
        source_index.manifest.model.to_dict()["probe"]
    )
    vectors = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    norms = np.linalg.norm(vectors, axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=STORED_COSINE_ERROR)  # stored as float16

    copy = Index.create(tmp_path / "b", encoder=tiny_encoder, precision="fp32")
    result = copy.import_embeddings(out)
    assert (result.documents_added, result.imported, result.chunks_encoded) == (
        source_index.store.document_count(),
        rows,
        0,
    )
    for query in ("ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන", "ඩෙංගු", "කොළඹ වරාය"):
        assert hits(copy, query) == hits(source_index, query)
    again = copy.import_embeddings(out)
    assert again.documents_added == 0 and again.documents_skipped == result.documents_added


def test_rows_from_another_model_or_precision_are_refused(
    source_index, tmp_path, tiny_encoder, other_tiny_model
) -> None:
    out = tmp_path / "a.parquet"
    source_index.export_parquet(out)
    other = Index.create(tmp_path / "other", model=other_tiny_model, precision="fp32")
    with pytest.raises(CorpusError, match="weights differ"):
        other.import_embeddings(out)
    int8 = Index.create(tmp_path / "int8", encoder=tiny_encoder, precision="int8")
    with pytest.raises(CorpusError, match="encoder 'onnx/fp32'"):
        int8.import_embeddings(out)
    assert other.store.document_count() == int8.store.document_count() == 0


def test_an_interrupted_import_run_again_adds_every_passage_once(
    source_index, tmp_path, tiny_encoder, monkeypatch
) -> None:
    out = tmp_path / "a.parquet"
    source_index.export_parquet(out)
    monkeypatch.setattr(writer_module, "GROUP_SIZE", 50)
    copy = Index.create(tmp_path / "b", encoder=tiny_encoder, precision="fp32")
    real = writer_module.IndexWriter._add_group
    calls = []

    def dies_on_the_third_group(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(writer_module.IndexWriter, "_add_group", dies_on_the_third_group)
    with pytest.raises(KeyboardInterrupt):
        copy.import_embeddings(out)
    copy.close()
    monkeypatch.setattr(writer_module.IndexWriter, "_add_group", real)
    copy = Index.open(tmp_path / "b")
    assert copy.store.document_count() == 100
    result = copy.import_embeddings(out)
    assert result.chunks_encoded == 0
    assert copy.store.document_count() == source_index.store.document_count()
    texts = [t for _, t, *_ in copy.store.iter_documents()]
    assert len(texts) == len(set(texts))


def test_cli_export_and_import(run, tiny_model, tmp_path) -> None:
    assert run("index", str(CORPUS), "--model", tiny_model, "--index", "a", "-q").exit_code == 0
    result = run("export", "--index", "a", "--out", "a.parquet")
    assert result.exit_code == 0 and "a.parquet: " in result.stdout
    result = run("index", "--embeddings", "a.parquet", "--index", "b")
    assert result.exit_code == 0, result.output
    assert "0 chunks encoded" in result.stdout
    a = json.loads(run("info", "--index", "a", "--json").stdout)
    b = json.loads(run("info", "--index", "b", "--json").stdout)
    assert (a["documents"], a["chunks"], a["model"]) == (b["documents"], b["chunks"], b["model"])
    query = ["query", "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන", "--json", "--mode", "dense"]
    assert run(*query, "--index", "a").stdout.replace('"query"', "") == run(
        *query, "--index", "b"
    ).stdout.replace('"query"', "")
    assert run("index", "x.txt", "--embeddings", "a.parquet").exit_code == 2
    result = run("import", "a.parquet", "--index", "c")  # the command of its own
    assert result.exit_code == 0 and "0 chunks encoded" in result.stdout, result.output
    c = json.loads(run("info", "--index", "c", "--json").stdout)
    assert (c["documents"], c["chunks"], c["model"]) == (a["documents"], a["chunks"], a["model"])
    again = run("import", "a.parquet", "--index", "c")
    assert again.exit_code == 0 and f"{a['documents']} already indexed" in again.stdout
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    result = run("index", "--embeddings", "bad.parquet", "--index", "d")
    assert result.exit_code == 1 and "not a readable Parquet file" in result.stderr


def test_a_file_missing_a_column_is_refused_before_an_index_is_made(run, tiny_model, tmp_path):
    import pyarrow.parquet as pq

    assert run("index", str(CORPUS), "--model", tiny_model, "--index", "a", "-q").exit_code == 0
    assert run("export", "--index", "a", "--out", "a.parquet").exit_code == 0
    table = pq.read_table(tmp_path / "a.parquet")
    pq.write_table(table.drop(["source"]), tmp_path / "broken.parquet")
    result = CliRunner().invoke(cli, ["index", "--embeddings", "broken.parquet", "--index", "b"])
    assert result.exit_code == 1
    assert "broken.parquet: missing column(s) source" in result.output
    assert not (tmp_path / "indexes" / "b").exists()


def test_skipped_rows_leave_no_embeddings_in_memory(source_index, tmp_path, monkeypatch):
    out = tmp_path / "a.parquet"
    source_index.export_parquet(out)
    monkeypatch.setattr(writer_module, "GROUP_SIZE", 20)
    held: list[int] = []
    real = writer_module.IndexWriter._add_group

    def watched(self, *args, **kwargs):
        result = real(self, *args, **kwargs)
        held.append(len(self.given_vectors))
        return result

    monkeypatch.setattr(writer_module.IndexWriter, "_add_group", watched)
    again = source_index.import_embeddings(out)  # every row is already there: all skipped
    assert again.documents_added == 0 and again.documents_skipped > 60
    assert max(held) <= 25  # one group's chunks at most, not every row read so far


def test_export_cleans_up_when_interrupted_and_makes_its_folder(
    source_index, tmp_path, monkeypatch
):
    import sisearch.core.portable as portable

    out = tmp_path / "new" / "folder" / "a.parquet"
    assert source_index.export_parquet(out) == source_index.store.chunk_count()

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(portable, "rows_table", broken)
    with pytest.raises(KeyboardInterrupt):
        source_index.export_parquet(tmp_path / "b.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "new"]
