"""Vector index kinds: each finds what exact search finds and stays in step with the store."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from sisearch import Document, Index
from sisearch.cli import cli
from sisearch.core.vectors import cells_for, choose_kind
from sisearch.language.text import normalize
from tests.conftest import CORPUS

WORDS = normalize(CORPUS.read_text(encoding="utf-8")).split()


def passages(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < count:
        out[" ".join(rng.choice(WORDS, size=int(rng.integers(4, 10))))] = None
    return list(out)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return passages(1500)


def test_choose_kind_and_cells() -> None:
    assert choose_kind("auto", 10) == "flat" and choose_kind("auto", 60_000) == "ivf"
    assert choose_kind("ivf", 10) == "flat" and choose_kind("ivf", 5000) == "ivf"
    assert choose_kind("hnsw", 10) == "hnsw"
    assert cells_for(1_000_000) == 4000 and cells_for(1500) == 38


@pytest.mark.parametrize(
    ("kind", "compress"), [("flat", False), ("ivf", False), ("ivf", True), ("hnsw", False)]
)
def test_every_kind_finds_each_passage_by_its_own_text(
    tmp_path, tiny_encoder, texts, kind, compress
):
    index = Index.create(
        tmp_path / "ix", encoder=tiny_encoder, precision="fp32", index_type=kind, compress=compress
    )
    index.add(texts)
    info = index.info()
    assert (info["vectors_kind"], info["compress"]) == (kind, compress)
    if kind == "ivf":
        assert info["ivf_cells"] == 38 and info["trained_on"] == 1500
        assert 32 <= info["ivf_nprobe"] <= 38  # tuned up from 32 until recall@10 >= 0.95
    sample = texts[::50]
    for text, hits in zip(sample, index.search_many(sample, limit=1, mode="dense")):
        assert hits[0].text == text


def test_ivf_recall_against_exact(tmp_path, tiny_encoder, texts) -> None:
    exact = Index.create(
        tmp_path / "flat", encoder=tiny_encoder, precision="fp32", index_type="flat"
    )
    ivf = Index.create(tmp_path / "ivf", encoder=tiny_encoder, precision="fp32", index_type="ivf")
    exact.add(texts)
    ivf.add(texts)
    queries = passages(30, seed=7)
    want = exact.search_many(queries, limit=10, mode="dense")
    got = ivf.search_many(queries, limit=10, mode="dense")
    recall = np.mean(
        [len({h.text for h in a} & {h.text for h in b}) / 10 for a, b in zip(want, got)]
    )
    assert recall >= 0.95
    few = ivf.search_many(queries, limit=10, mode="dense", nprobe=1)
    assert all(len(h) == 10 for h in few)


def test_a_compressed_index_ranks_by_the_stored_embeddings(tmp_path, tiny_encoder, texts) -> None:
    exact = Index.create(tmp_path / "flat", encoder=tiny_encoder, precision="fp32")
    sq8 = Index.create(
        tmp_path / "sq8", encoder=tiny_encoder, precision="fp32", index_type="ivf", compress=True
    )
    exact.add(texts)
    sq8.add(texts)
    queries = passages(30, seed=7)
    want = exact.search_many(queries, limit=10, mode="dense")
    got = sq8.search_many(queries, limit=10, mode="dense", nprobe=sq8.info()["ivf_cells"])
    raw, _ = sq8.vectors.fresh().search(sq8.encoder.encode_queries(queries[:1]), 10)
    assert np.abs(raw[0] - [h.score for h in got[0]]).max() > 1e-4  # 8-bit scores, rescored
    for a, b in zip(want, got):
        assert [h.text for h in b] == [h.text for h in a]
        assert [h.score for h in b] == pytest.approx([h.score for h in a], abs=1e-6)
        assert all(h.score == pytest.approx(h.cosine, abs=1e-6) for h in b)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_delete_and_sync_on_approximate_kinds(tmp_path, tiny_encoder, texts, kind) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="fp32", index_type=kind)
    index.add([Document(t, source="a.txt") for t in texts])
    index.delete(list(range(1, 101)))
    index.sync([Document(t, source="a.txt") for t in texts[200:]], "a.txt")
    index.close()
    reopened = Index.open(tmp_path / "ix")
    assert reopened.info()["documents"] == len(texts) - 200
    assert len(Index.open(tmp_path / "ix").state.saved_vectors()) == len(texts) - 200
    assert reopened.info()["vectors_kind"] == kind
    hits = reopened.search(texts[0], limit=5, mode="dense")
    assert texts[0] not in {h.text for h in hits}
    assert reopened.search(texts[300], limit=1, mode="dense")[0].text == texts[300]


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_filters_on_approximate_kinds_still_return_k(tmp_path, tiny_encoder, texts, kind) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="fp32", index_type=kind)
    index.add(
        [
            Document(t, source="s", line=i, metadata={"group": str(i % 97)})
            for i, t in enumerate(texts)
        ]
    )
    for group in ("0", "5", "96"):
        hits = index.search(
            WORDS[3], limit=12, mode="dense", where={"group": group}, nprobe=1, ef=4
        )
        assert len(hits) == 12 and {h.metadata["group"] for h in hits} == {group}


def test_auto_switches_to_ivf_past_the_exact_limit(tmp_path, tiny_encoder, texts, monkeypatch):
    monkeypatch.setattr("sisearch.core.vectors.EXACT_LIMIT", 1000)
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="fp32")
    index.add(texts[:900])
    assert index.info()["vectors_kind"] == "flat"
    index.add(texts[900:])
    assert index.info()["vectors_kind"] == "ivf" and index.manifest.trained_on == 1500


def test_outgrown_ivf_warns_and_rebuild_retrains(tmp_path, tiny_encoder, texts) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="fp32", index_type="ivf")
    index.add(texts[:1000])
    assert index.manifest.trained_on == 1000
    more = passages(5000, seed=3)
    result = index.add(more[:3500])
    assert any("run `sisearch rebuild` to retrain" in note for note in result.notes)
    index.rebuild()
    assert index.manifest.trained_on == index.store.chunk_count()


def test_rebuild_changes_kind_without_reencoding_and_mmap_loads(tmp_path, tiny_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    (tmp_path / "c.txt").write_text("\n".join(passages(1200)) + "\n", encoding="utf-8")
    assert runner.invoke(cli, ["index", "c.txt", "--model", tiny_model, "-q"]).exit_code == 0
    before = (
        Index.open(tmp_path / "indexes" / "default")
        .store.db.execute("SELECT embedding FROM chunks ORDER BY id")
        .fetchall()
    )
    result = runner.invoke(cli, ["rebuild", "--index-type", "ivf", "--compress"])
    assert result.exit_code == 0 and result.output.strip().endswith("1200 vectors (ivf)")
    info = json.loads(runner.invoke(cli, ["info", "--json"]).output)
    assert (info["index_type"], info["vectors_kind"], info["compress"]) == ("ivf", "ivf", True)
    after = (
        Index.open(tmp_path / "indexes" / "default")
        .store.db.execute("SELECT embedding FROM chunks ORDER BY id")
        .fetchall()
    )
    assert before == after
    for args in (["--mmap"], ["--nprobe", "4"], ["--mmap", "--mode", "dense"]):
        result = runner.invoke(cli, ["query", "ලංකාව", "--json", "-k", "3", *args])
        assert result.exit_code == 0 and len(result.output.splitlines()) == 3
    result = runner.invoke(cli, ["index", "c.txt", "--index-type", "hnsw"])
    assert result.exit_code == 2 and "sisearch rebuild --index-type" in result.output


def test_query_ef_is_per_query_and_never_saved(tmp_path, tiny_encoder, texts) -> None:
    import faiss

    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="fp32", index_type="hnsw")
    index.add(texts[:300])
    index.search("ලංකාව", limit=5, mode="dense", ef=4)
    index.add(texts[300:400])
    reopened = Index.open(tmp_path / "ix", encoder=tiny_encoder)
    graph = faiss.downcast_index(reopened.vectors.fresh().base._index.index)
    assert graph.hnsw.efSearch == 256
    sample = texts[:400:40]
    hits = reopened.search_many(sample, limit=1, mode="dense")
    assert [h[0].text for h in hits] == sample
