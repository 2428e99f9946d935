"""One owner of an index's state: sources are resolved files, readers write nothing, writers
never undo another process's change, a read-only folder can be searched, an si-1 index keeps
working and moves to si-2 with `rebuild --normalize`."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sisearch.index
from sisearch import Document, Index, IndexBusy, IndexCorrupt, InvalidQuery
from sisearch.core.locking import LOCK_FILE, WriterLock
from sisearch.core.manifest import Manifest
from sisearch.core.store import (
    DATABASE_FILE,
    SCHEMA_VERSION,
    STORED_COSINE_ERROR,
    NewChunk,
    NewDocument,
    content_hash,
    decode_embeddings,
    embedding_blob,
)
from sisearch.core.vectors import VECTORS_FILE
from sisearch.language.text import normalize
from tests.conftest import CORPUS

LINES = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()][:30]


def sources(path: Path) -> set[str]:
    with Index.open(path) as index:
        return {s for s, _ in index.store.sources()}


def test_one_file_under_three_spellings_is_one_source(run, tmp_path, tiny_model, monkeypatch):
    (tmp_path / "corpus.txt").write_text("\n".join(LINES[:5]) + "\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.txt").symlink_to(tmp_path / "corpus.txt")
    indexes = str(tmp_path / "indexes")
    assert run("index", "corpus.txt", "--model", tiny_model, "-q").exit_code == 0
    assert run("index", str(tmp_path / "corpus.txt"), "-q").exit_code == 0
    assert run("index", "link.txt", "-q").exit_code == 0
    monkeypatch.chdir(tmp_path / "sub")
    result = run("index", "../corpus.txt", "--index-dir", indexes)
    assert "5 passages, 0 added, 5 already indexed" in result.output
    ix = tmp_path / "indexes" / "default"
    assert sources(ix) == {str((tmp_path / "corpus.txt").resolve())}
    (tmp_path / "corpus.txt").write_text("\n".join(LINES[:3]) + "\n", encoding="utf-8")
    result = run("index", "../corpus.txt", "--index-dir", indexes, "--sync")
    assert "2 removed" in result.output
    assert run("delete", "--source", "../link.txt", "--index-dir", indexes).exit_code == 0
    with Index.open(ix) as index:
        assert index.info()["documents"] == 0


def test_old_sources_are_migrated_on_the_next_write(tmp_path, tiny_encoder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.txt").write_text("x\n", encoding="utf-8")
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add([Document(t, source="c.txt", line=i) for i, t in enumerate(LINES[:6], 1)])
    index.add([Document(t, source=str(tmp_path / "c.txt")) for t in LINES[4:8]])
    index.add([Document(t, source="<stdin>") for t in LINES[10:12]])
    index.add([Document(t, source="gone.txt") for t in LINES[12:13]])
    db = index.store.db
    db.execute("DELETE FROM meta WHERE key = 'sources'")  # as an older sisearch left it
    db.conn.commit()
    index.close()
    index = Index.open(tmp_path / "ix", encoder=tiny_encoder)
    index.add([])
    resolved = str((tmp_path / "c.txt").resolve())
    assert dict(index.store.sources()) == {resolved: 8, "-": 2, "gone.txt": 1}
    assert len(index.vectors.fresh()) == index.store.chunk_count() == 11
    assert index.delete(source="gone.txt") == 1
    assert index.delete(source="c.txt") == 8


def test_local_model_folder_is_recorded_resolved(run, tmp_path, tiny_model) -> None:
    shutil.copytree(tiny_model, tmp_path / "models" / "tiny")
    (tmp_path / "c.txt").write_text(LINES[0] + "\n", encoding="utf-8")
    assert run("index", "c.txt", "--model", "models/tiny", "--precision", "fp32").exit_code == 0
    recorded = json.loads(run("info", "--json").output)["model"]
    assert recorded == str((tmp_path / "models" / "tiny").resolve())


def test_a_relative_model_folder_from_an_older_index_is_resolved(
    tmp_path, tiny_model, monkeypatch
) -> None:
    shutil.copytree(tiny_model, tmp_path / "models" / "tiny")
    monkeypatch.chdir(tmp_path)
    Index.create(tmp_path / "ix", model="models/tiny", precision="fp32").close()
    manifest = Manifest.read(tmp_path / "ix")
    manifest.with_model_name("models/tiny").write(tmp_path / "ix")  # as older versions kept it
    with Index.open(tmp_path / "ix") as index:
        index.add(LINES[:2])
    assert Manifest.read(tmp_path / "ix").model.name == str((tmp_path / "models/tiny").resolve())
    monkeypatch.chdir(tmp_path / "models")
    with Index.open(tmp_path / "ix") as index:  # `rebuild --encoder` loads the recorded model
        assert index.export_encoder().engine == "onnx"
        assert index.search(LINES[1], limit=1, mode="dense")[0].text == normalize(LINES[1])


def test_a_long_lived_writer_never_undoes_another_processs_rebuild(tmp_path, tiny_encoder):
    first = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    first.add(LINES[:10])
    reader = Index.open(tmp_path / "ix", encoder=tiny_encoder)
    reader.search(LINES[0])
    other = Index.open(tmp_path / "ix", encoder=tiny_encoder)
    other.rebuild(index_type="hnsw")
    other.close()
    first.add(LINES[10:20])  # holds a manifest read before the rebuild
    (tmp_path / "ix" / VECTORS_FILE).unlink()
    assert [h.text for h in reader.search(LINES[12], limit=1, mode="dense")] == [
        normalize(LINES[12])
    ]
    manifest = Manifest.read(tmp_path / "ix")
    assert (manifest.index_type, manifest.vectors_kind) == ("hnsw", "hnsw")
    assert not (tmp_path / "ix" / VECTORS_FILE).exists()  # the reader wrote nothing


def test_opening_and_searching_write_nothing(tmp_path, tiny_encoder, run) -> None:
    index = Index.create(tmp_path / "indexes" / "default", encoder=tiny_encoder)
    index.add(LINES)
    index.close()
    folder = tmp_path / "indexes" / "default"
    (folder / LOCK_FILE).unlink()
    watched = [folder / n for n in ("manifest.json", VECTORS_FILE, DATABASE_FILE)]
    before = [(p.read_bytes(), p.stat().st_mtime_ns) for p in watched]
    for args in (["query", LINES[1]], ["query", LINES[1], "--mode", "lexical"], ["info"], ["list"]):
        assert run(*args).exit_code == 0
    assert [(p.read_bytes(), p.stat().st_mtime_ns) for p in watched] == before
    assert not (folder / LOCK_FILE).exists()


def test_old_schema_is_migrated_only_under_the_writer_lock(tmp_path, tiny_encoder) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(LINES[:5])
    index.store.db.execute("DROP TABLE documents_fts")
    index.store.db.execute("PRAGMA user_version = 1")
    index.close()
    holder = WriterLock(tmp_path / "ix")
    holder.acquire()
    try:  # a reader never waits for a writer, nor fails because one is at work
        with Index.open(tmp_path / "ix") as reader:
            assert reader.store.schema_version == 1
            assert reader.search(LINES[2], limit=1, mode="dense")[0].text == LINES[2]
        with Index.open(tmp_path / "ix") as writer, pytest.raises(IndexBusy):
            writer.add(LINES[5:6])
    finally:
        holder.release()
    with Index.open(tmp_path / "ix") as reopened:
        reopened.add(LINES[5:6])
        assert reopened.store.schema_version == SCHEMA_VERSION
        assert len(reopened.search(LINES[2].split()[0], mode="lexical")) >= 1


def read_only(folder: Path, command: list[str]) -> list[str]:
    """`command` run with `folder` mounted read-only (root ignores permission bits, so a
    private read-only bind mount stands in for a read-only share); chmod for other users."""
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        return command
    script = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"'
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(folder), "true"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {probe.stderr.decode().strip()}")
    return ["unshare", "-m", "sh", "-c", script, "sh", str(folder), *command]


def test_a_read_only_index_folder_can_be_queried(tmp_path, tiny_model) -> None:
    (tmp_path / "c.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    sisearch = [sys.executable, "-m", "sisearch"]
    subprocess.run([*sisearch, "index", "c.txt", "--model", tiny_model, "-q"], cwd=tmp_path)
    folder = tmp_path / "indexes"

    def run_read_only(*args: str) -> subprocess.CompletedProcess:
        command = read_only(folder, [*sisearch, *args])
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)

    try:
        for mode in ("hybrid", "dense", "lexical"):
            result = run_read_only("query", LINES[3], "--mode", mode, "--json", "-k", "3")
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout.splitlines()[0])["text"] == normalize(LINES[3])
        result = run_read_only("index", "c.txt", "-q")
        assert result.returncode == 1
        assert "read-only" in result.stderr and len(result.stderr.strip().splitlines()) == 1
        with sqlite3.connect(folder / "default" / DATABASE_FILE) as old:  # before schema 2
            old.execute("DROP TABLE documents_fts")
            old.execute("PRAGMA user_version = 1")
        for mode in ("hybrid", "dense"):  # an old index is read as it is
            result = run_read_only("query", LINES[3], "--mode", mode, "--json", "-k", "3")
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout.splitlines()[0])["text"] == normalize(LINES[3])
        result = run_read_only("query", LINES[3], "--mode", "lexical")
        assert result.returncode == 1 and "no keyword table yet" in result.stderr
    finally:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_importing_and_indexing_change_no_global_logging(tmp_path, tiny_model) -> None:
    code = (
        "import logging, pkgutil, importlib\n"
        "def state():\n"
        "    root = logging.getLogger()\n"
        "    loggers = logging.root.manager.loggerDict.items()\n"
        "    named = {n: getattr(l, 'level', None) for n, l in loggers}\n"
        "    return root.level, list(root.handlers), named\n"
        "before = state()\n"
        "import sisearch\n"
        "for m in pkgutil.walk_packages(sisearch.__path__, 'sisearch.'):\n"
        "    if m.name == 'sisearch.__main__': continue\n"
        "    importlib.import_module(m.name)\n"
        "after = state()\n"
        "assert before[:2] == after[:2], (before[:2], after[:2])\n"
        "assert all(after[2].get(n) == v for n, v in before[2].items()), 'a logger changed'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    try:
        Index.create(tmp_path / "ix", model=tiny_model, precision="int8").close()
        assert root.level == logging.INFO
    finally:
        root.setLevel(level)


TOUCHING = ["ප්‍රතික්‍ෂේප කිරීම", "ආනන්‍ද හිමි", "බුද්‍ධ දේශනාව"]
PLAIN = ["ප්‍රතික්ෂේප කිරීම", "ආනන්ද හිමි", "බුද්ධ දේශනාව"]


def test_si_1_index_keeps_answering_and_rebuild_normalize_moves_it(
    tmp_path, tiny_encoder, monkeypatch, run
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(sisearch.index, "NORMALIZATION_VERSION", "si-1")
        index = Index.create(tmp_path / "indexes" / "default", encoder=tiny_encoder)
    index.add([*TOUCHING, *PLAIN, *LINES[:10], "ක්‍ෂේත්‍රය පුළුල් ය"])
    index.close()
    assert json.loads(run("info", "--json").output)["normalization"] == "si-1"
    with Index.open(tmp_path / "indexes" / "default", encoder=tiny_encoder) as old:
        assert old.info()["documents"] == 17  # under si-1 the two spellings are two passages
        (hit,) = old.search(TOUCHING[0], limit=1, mode="dense")
        assert hit.text == normalize(TOUCHING[0], "si-1") and hit.cosine > 0.999
    result = run("rebuild", "--normalize")
    assert result.exit_code == 0, result.output
    assert "from si-1 to si-2: 1 passage changed (1 chunk encoded), 3 merged" in result.output
    with Index.open(tmp_path / "indexes" / "default", encoder=tiny_encoder) as new:
        assert new.info()["normalization"] == "si-2" and new.info()["documents"] == 14
        (hit,) = new.search("ක්‍ෂේත්‍රය පුළුල් ය", limit=1, mode="dense")
        assert hit.text == "ක්ෂේත්‍රය පුළුල් ය" and hit.cosine > 0.999
        for joined, plain in zip(TOUCHING, PLAIN):
            for spelling in (joined, plain):
                (hit,) = new.search(spelling, limit=1, mode="dense")
                assert hit.text == plain and hit.cosine > 0.999
        assert len(new.vectors.fresh()) == new.store.chunk_count()
        saved = new.state.load_vocabulary(new.store.generation)
        assert saved is not None and sorted(saved) == sorted(new.store.vocabulary())
    assert "0 passages changed (0 chunks encoded)" in run("rebuild", "--normalize").output


def test_stored_float16_keeps_every_cosine_within_the_stated_bound() -> None:
    rng = np.random.default_rng(0)
    for dim in (384, 768):
        vectors = rng.normal(size=(2000, dim)).astype(np.float32)
        vectors[0] = 0.0
        vectors[0, 0] = 1.0  # one-hot: the largest component a unit vector can have
        vectors[1] = 1.0  # all equal
        vectors[2, : dim // 2] = 0.0  # half of it zero
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        stored = decode_embeddings([embedding_blob(v) for v in vectors], dim)
        assert stored.dtype == np.float32 and stored.shape == vectors.shape
        queries = np.vstack([vectors[:50], rng.normal(size=(50, dim)).astype(np.float32)])
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        error = np.abs(queries @ stored.T - queries @ vectors.T).max()
        assert 0 < error <= STORED_COSINE_ERROR
    with pytest.raises(InvalidQuery, match="finite"):
        embedding_blob(np.full(4, np.nan, dtype=np.float32))


def test_float32_rows_of_an_older_schema_are_read_beside_float16_ones(
    tmp_path, tiny_encoder
) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="fp32")
    index.add(LINES[:10])
    dim = index.manifest.model.dim
    before = [[h.doc_id for h in index.search(line, limit=3, mode="dense")] for line in LINES[:10]]
    rows = index.store._sql.execute("SELECT id, embedding FROM chunks").fetchall()
    assert {len(blob) for _, blob in rows} == {dim * 2}
    with index.store.db.atomic():  # as sisearch stored them before schema 4
        for chunk_id, blob in rows:
            wide = np.frombuffer(blob, dtype="<f2").astype("<f4").tobytes()
            index.store.db.execute("UPDATE chunks SET embedding = ? WHERE id = ?", [wide, chunk_id])
        index.store.db.execute("PRAGMA user_version = 3")
    index.close()
    with Index.open(tmp_path / "ix") as reader:
        after = [
            [h.doc_id for h in reader.search(line, limit=3, mode="dense")] for line in LINES[:10]
        ]
        assert after == before
    with Index.open(tmp_path / "ix") as writer:
        writer.add(LINES[10:15])
        assert writer.store.schema_version == SCHEMA_VERSION
        widths = [len(b) for (b,) in writer.store._sql.execute("SELECT embedding FROM chunks")]
        assert sorted(set(widths)) == [dim * 2, dim * 4]
        writer.rebuild()
        for line in LINES[:15]:
            assert writer.search(line, limit=1, mode="dense")[0].text == normalize(line)
        ids, vectors = next(writer.store.iter_embeddings())
        assert vectors.shape == (len(widths), dim) and vectors.dtype == np.float32
        writer.store.db.execute(
            "UPDATE chunks SET embedding = ? WHERE id = ?", [b"\0" * 7, int(ids[0])]
        )
        with pytest.raises(IndexCorrupt, match="7 bytes is not"):
            next(writer.store.iter_embeddings())


def test_an_embedding_too_large_for_float16_is_refused_by_its_passage(tmp_path, tiny_encoder):
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="fp32")
    index.add(LINES[:3])
    dim = index.manifest.model.dim
    text = "x"
    chunk = NewChunk(0, 1, content_hash(text), np.full(dim, 1e6, dtype=np.float32))
    document = NewDocument(text, "big.parquet", 9, {}, content_hash(text), [chunk])
    with pytest.raises(InvalidQuery, match=r"^big\.parquet:9: .*too large for float16"):
        index.store.add([document])
    assert index.store.document_count() == 3  # the transaction left nothing behind
