"""Interrupted writes: the index always reopens consistent, searchable, with nothing lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sisearch import Index, IndexBusy
from sisearch.core.locking import WriterLock
from sisearch.core.manifest import Manifest
from sisearch.core.store import DocumentStore
from sisearch.core.vectors import VECTORS_FILE, VectorIndex
from sisearch.language.text import normalize

PASSAGES = [
    normalize(line)
    for line in (Path(__file__).parent.parent / "corpora" / "sinhala_passages.txt")
    .read_text(encoding="utf-8")
    .splitlines()[:40]
]


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


def assert_consistent(path: Path, expected_documents: int) -> None:
    """A reader answers in full (rebuilding stale vectors in memory, writing nothing);
    the next write saves the repaired vector file."""
    before = _files(path)
    index = Index.open(path)
    assert index.info()["documents"] == expected_documents
    hits = index.search(PASSAGES[3], limit=expected_documents)
    assert len(hits) == expected_documents
    assert hits[0].text == PASSAGES[3]
    index.close()
    assert _files(path).keys() == before.keys()
    assert {k: v for k, v in _files(path).items() if not k.startswith("documents.db")} == {
        k: v for k, v in before.items() if not k.startswith("documents.db")
    }
    with Index.open(path) as writer:
        writer.add([])
    with Index.open(path) as reopened:
        manifest = Manifest.read(path)
        assert manifest.vectors_generation == reopened.store.generation
        assert len(reopened.state.saved_vectors()) == reopened.store.chunk_count()
        assert not reopened.vectors_rebuilt_in_memory


def test_killed_between_sqlite_commit_and_faiss_save(tmp_path, tiny_encoder, monkeypatch):
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(PASSAGES[:10])

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(VectorIndex, "save", crash)  # a write saving the whole file
    monkeypatch.setattr("sisearch.core.state.append", crash)  # one appending to the log
    with pytest.raises(KeyboardInterrupt):
        index.add(PASSAGES[10:])
    monkeypatch.undo()
    assert Manifest.read(tmp_path / "ix").vectors_generation < index.store.generation
    index.close()
    assert_consistent(tmp_path / "ix", len(PASSAGES))


def test_killed_between_faiss_save_and_manifest_write(tmp_path, tiny_encoder, monkeypatch):
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(PASSAGES[:10])

    def crash(self, directory):
        raise KeyboardInterrupt

    monkeypatch.setattr(Manifest, "write", crash)
    with pytest.raises(KeyboardInterrupt):
        index.add(PASSAGES[10:])
    monkeypatch.undo()
    index.close()
    assert_consistent(tmp_path / "ix", len(PASSAGES))


def test_failure_inside_a_group_commits_none_of_it(tmp_path, tiny_encoder, monkeypatch):
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(PASSAGES[:10])

    def crash(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(DocumentStore, "_bump_generation", crash)
    with pytest.raises(KeyboardInterrupt):
        index.add(PASSAGES[10:])
    monkeypatch.undo()
    assert index.store.document_count() == 10
    assert index.store.chunk_count() == 10
    index.close()
    assert_consistent(tmp_path / "ix", 10)


def test_corrupt_or_missing_faiss_file_is_rebuilt(tmp_path, tiny_encoder):
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(PASSAGES)
    index.close()
    (tmp_path / "ix" / VECTORS_FILE).write_bytes(b"not a faiss index")
    assert_consistent(tmp_path / "ix", len(PASSAGES))
    (tmp_path / "ix" / VECTORS_FILE).unlink()
    assert_consistent(tmp_path / "ix", len(PASSAGES))


def test_truncated_faiss_file_is_rebuilt(tmp_path, tiny_encoder):
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(PASSAGES)
    index.close()
    file = tmp_path / "ix" / VECTORS_FILE
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    assert_consistent(tmp_path / "ix", len(PASSAGES))


def test_second_writer_is_refused_while_readers_keep_working(tmp_path, tiny_encoder):
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(PASSAGES[:10])
    other = WriterLock(tmp_path / "ix")
    other.acquire()
    try:
        with pytest.raises(IndexBusy, match="being written by another process"):
            index.add(PASSAGES[10:])
        assert len(Index.open(tmp_path / "ix", encoder=tiny_encoder).search("ලංකාව")) == 10
    finally:
        other.release()
    index.add(PASSAGES[10:])
    assert index.info()["documents"] == len(PASSAGES)


def test_reader_sees_writes_committed_by_another_process(tmp_path, tiny_encoder):
    writer = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    writer.add(PASSAGES[:5])
    reader = Index.open(tmp_path / "ix", encoder=tiny_encoder)
    assert len(reader.search("ලංකාව", limit=100)) == 5
    writer.add(PASSAGES[5:])
    assert len(reader.search("ලංකාව", limit=100)) == len(PASSAGES)


def _documents(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute("SELECT count(*) FROM documents").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_sigkill_during_indexing_then_rerun_completes_exactly_once(tmp_path, tiny_model):
    corpus = tmp_path / "corpus.txt"
    lines = [f"ශ්‍රී ලංකාවේ ප්‍රදේශ අංක {i} හි සෞඛ්‍ය සේවා ගැන වාර්තාවකි." for i in range(4000)]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "sisearch",
        "index",
        str(corpus),
        "--model",
        tiny_model,
        "--index-dir",
        str(tmp_path),
        "--index",
        "ix",
        "--quiet",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    db = tmp_path / "ix" / "documents.db"
    deadline = time.monotonic() + 120
    while _documents(db) < 512 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "indexing finished before it could be interrupted"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    partial = _documents(db)
    assert 0 < partial < len(lines)

    index = Index.open(tmp_path / "ix")
    assert len(index.search("සෞඛ්‍ය සේවා", limit=5)) == 5
    assert index.info()["documents"] == partial
    index.close()

    subprocess.run(command, check=True, capture_output=True)
    index = Index.open(tmp_path / "ix")
    rows = index.store.db.execute("SELECT count(*), count(DISTINCT content_hash) FROM documents")
    assert rows.fetchone() == (len(lines), len(lines))
    assert index.store.chunk_count() == len(lines)
    assert len(index.search(lines[0], limit=len(lines))) == len(lines)
