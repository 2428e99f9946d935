"""Writes append to the vector log; readers catch up by reading only what was appended."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sisearch import Index
from sisearch.core import loaded_vectors
from sisearch.core.manifest import Manifest
from sisearch.core.segments import SegmentedVectors
from sisearch.core.vector_log import LOG_FILE, LogRecord
from sisearch.core.vectors import VECTORS_FILE, VectorIndex
from sisearch.language.text import normalize

LINES = [
    normalize(line)
    for line in (Path(__file__).parent.parent / "corpora" / "sinhala_passages.txt")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]


def stat(path: Path) -> tuple[int, int, int]:
    info = os.stat(path)
    return info.st_ino, info.st_size, info.st_mtime_ns


def dense_texts(index: Index, query: str, limit: int = 5) -> list[str]:
    return [h.text for h in index.search(query, limit=limit, mode="dense")]


@pytest.fixture
def built(tmp_path, tiny_encoder) -> Path:
    """40 passages, all in the vector file (a small index's first writes go to the log)."""
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(LINES[:40])
    assert index.manifest.log_rows == 40
    index.rebuild()
    assert index.manifest.log_rows == 0
    index.close()
    return tmp_path / "ix"


def test_a_small_write_appends_to_the_log_and_leaves_the_vector_file(built, tiny_encoder):
    before = stat(built / VECTORS_FILE)
    log_before = (built / LOG_FILE).stat().st_size
    with Index.open(built, encoder=tiny_encoder) as writer:
        writer.add(LINES[40:43])
    assert stat(built / VECTORS_FILE) == before
    manifest = Manifest.read(built)
    assert manifest.log_rows == 3
    assert manifest.log_bytes == (built / LOG_FILE).stat().st_size > log_before
    with Index.open(built, encoder=tiny_encoder) as reader:
        assert not reader.vectors_rebuilt_in_memory
        assert len(reader.state.saved_vectors()) == reader.store.chunk_count() == 43
        assert dense_texts(reader, LINES[41], 1) == [LINES[41]]


def test_a_reader_catches_up_on_the_appended_records_only(built, tiny_encoder, monkeypatch):
    reader = Index.open(built, encoder=tiny_encoder)
    assert dense_texts(reader, LINES[3], 1) == [LINES[3]]
    loads = []
    real = reader.state.load_vectors

    def counting(*args, **kwargs):
        loads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(reader.state, "load_vectors", counting)
    with Index.open(built, encoder=tiny_encoder) as writer:
        writer.add(LINES[40:43])
        writer.delete([h.doc_id for h in writer.search(LINES[5], limit=1, mode="dense")])
    assert dense_texts(reader, LINES[42], 1) == [LINES[42]]
    assert LINES[5] not in dense_texts(reader, LINES[5], 40)
    assert loads == []  # caught up from the log, the vector file not read again
    assert not reader.vectors_rebuilt_in_memory
    assert isinstance(reader.vectors.current(), SegmentedVectors)


def test_the_log_is_folded_into_the_file_past_its_limit(built, tiny_encoder, monkeypatch):
    monkeypatch.setattr(loaded_vectors, "MIN_COMPACT_ROWS", 5)
    before = stat(built / VECTORS_FILE)
    with Index.open(built, encoder=tiny_encoder) as writer:
        writer.add(LINES[40:43])
        assert stat(built / VECTORS_FILE) == before
        writer.add(LINES[43:46])  # 6 rows > 5: the file is saved whole, the log starts anew
    assert stat(built / VECTORS_FILE) != before
    manifest = Manifest.read(built)
    assert manifest.log_rows == 0 and manifest.log_bytes == (built / LOG_FILE).stat().st_size
    with Index.open(built, encoder=tiny_encoder) as reader:
        assert len(VectorIndex.load(built / VECTORS_FILE)) == reader.store.chunk_count() == 46
        assert dense_texts(reader, LINES[44], 1) == [LINES[44]]


def test_a_torn_record_past_the_manifest_is_ignored_and_overwritten(built, tiny_encoder):
    with Index.open(built, encoder=tiny_encoder) as writer:
        writer.add(LINES[40:42])
    with open(built / LOG_FILE, "ab") as log:
        log.write(b"SVR1 half a record from a write that was killed")
    with Index.open(built, encoder=tiny_encoder) as reader:
        assert not reader.vectors_rebuilt_in_memory
        assert dense_texts(reader, LINES[41], 1) == [LINES[41]]
    with Index.open(built, encoder=tiny_encoder) as writer:
        writer.add(LINES[42:44])
    assert Manifest.read(built).log_bytes == (built / LOG_FILE).stat().st_size
    with Index.open(built, encoder=tiny_encoder) as reader:
        assert not reader.vectors_rebuilt_in_memory
        assert len(reader.state.saved_vectors()) == 44


def test_a_log_from_another_vector_file_is_never_applied(built, tiny_encoder, tmp_path):
    with Index.open(built, encoder=tiny_encoder) as writer:
        writer.add(LINES[40:42])
    stranger = tmp_path / "other"
    with Index.create(stranger, encoder=tiny_encoder) as other:
        other.add(LINES[50:60])
    (built / LOG_FILE).write_bytes((stranger / LOG_FILE).read_bytes())
    with Index.open(built, encoder=tiny_encoder) as reader:
        assert dense_texts(reader, LINES[41], 1) == [LINES[41]]
        assert reader.vectors_rebuilt_in_memory  # from the store, not the stranger's log
        assert LINES[55] not in dense_texts(reader, LINES[55], 50)
    with Index.open(built, encoder=tiny_encoder) as writer:
        writer.add([])  # the next write repairs the saved vectors
    with Index.open(built, encoder=tiny_encoder) as reader:
        assert not reader.vectors_rebuilt_in_memory
        assert len(reader.state.saved_vectors()) == 42


def test_killed_after_the_log_append_before_the_manifest(built, tiny_encoder, monkeypatch):
    writer = Index.open(built, encoder=tiny_encoder)

    def crash(self, directory):
        raise KeyboardInterrupt

    monkeypatch.setattr(Manifest, "write", crash)
    with pytest.raises(KeyboardInterrupt):
        writer.add(LINES[40:43])
    monkeypatch.undo()
    writer.close()
    with Index.open(built, encoder=tiny_encoder) as reader:
        assert dense_texts(reader, LINES[41], 1) == [LINES[41]]
        assert reader.vectors_rebuilt_in_memory
    with Index.open(built, encoder=tiny_encoder) as again:
        again.add(LINES[43:45])
    with Index.open(built, encoder=tiny_encoder) as reader:
        assert not reader.vectors_rebuilt_in_memory
        assert len(reader.state.saved_vectors()) == reader.store.chunk_count() == 45


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_deleting_through_the_log_needs_no_rebuild_even_for_hnsw(tmp_path, tiny_encoder, kind):
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, index_type=kind)
    index.add(LINES[:60])
    index.close()
    before = stat(tmp_path / "ix" / VECTORS_FILE)
    with Index.open(tmp_path / "ix", encoder=tiny_encoder) as writer:
        gone = writer.search(LINES[7], limit=1, mode="dense")[0]
        writer.delete([gone.doc_id])
    assert stat(tmp_path / "ix" / VECTORS_FILE) == before
    with Index.open(tmp_path / "ix", encoder=tiny_encoder) as reader:
        assert LINES[7] not in dense_texts(reader, LINES[7], 60)
        assert len(reader.vectors.fresh()) == 59


def test_an_index_saved_by_an_older_version_starts_its_log_at_the_next_write(built, tiny_encoder):
    manifest = Manifest.read(built)
    (built / LOG_FILE).unlink()
    old = manifest.with_log(0, 0, "", 0)
    old.write(built)
    with Index.open(built, encoder=tiny_encoder) as reader:
        assert not reader.vectors_rebuilt_in_memory
        assert len(reader.vectors.fresh()) == 40
    with Index.open(built, encoder=tiny_encoder) as writer:
        writer.add(LINES[40:42])  # saves the file once (its size was unknown), then logs
        writer.add(LINES[42:44])
    manifest = Manifest.read(built)
    assert manifest.vectors_token and manifest.log_rows == 2
    with Index.open(built, encoder=tiny_encoder) as reader:
        assert len(reader.state.saved_vectors()) == 44


def test_segments_search_like_one_index_with_filters_and_reused_ids() -> None:
    rng = np.random.default_rng(0)
    dim = 16

    def unit(n: int) -> np.ndarray:
        v = rng.standard_normal((n, dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    base_ids = np.arange(100, dtype=np.int64)
    base_vectors = unit(100)
    base = VectorIndex.create(dim)
    base.add(base_ids, base_vectors)
    expected = {int(i): v for i, v in zip(base_ids, base_vectors)}
    records = []
    for generation, step in enumerate(range(6)):
        removed = rng.choice(list(expected), size=5, replace=False).astype(np.int64)
        reused = removed[:1]  # an id removed and added again in the same record
        fresh = np.arange(100 + step * 10, 110 + step * 10, dtype=np.int64)
        added_ids = np.concatenate([fresh, reused])
        added = unit(len(added_ids))
        for i in removed:
            expected.pop(int(i))
        expected.update({int(i): v for i, v in zip(added_ids, added)})
        records.append(LogRecord(generation, generation + 1, added_ids, added, removed))
    segmented = SegmentedVectors(base).applied(records[:2], 10).applied(records[2:], 20)
    whole = VectorIndex.create(dim)
    ids = np.array(sorted(expected), dtype=np.int64)
    whole.add(ids, np.vstack([expected[int(i)] for i in ids]))
    assert len(segmented) == len(whole) == len(expected)
    queries = unit(8)
    allowed = ids[::3]
    for allow in (None, allowed):
        got_scores, got_ids = segmented.search(queries, 10, allow)
        want_scores, want_ids = whole.search(queries, 10, allow)
        np.testing.assert_array_equal(got_ids, want_ids)
        np.testing.assert_allclose(got_scores, want_scores, rtol=1e-5, atol=1e-6)
