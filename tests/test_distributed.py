"""`sisearch encode` on a local Ray: shards that import as if indexed directly."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")

from sisearch import Index, read_path  # noqa: E402
from sisearch.distributed import encode_on_ray  # noqa: E402
from sisearch.errors import CorpusError  # noqa: E402
from sisearch.portable import shard_info  # noqa: E402
from tests.conftest import CORPUS  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def embeddings(index: Index) -> dict[str, np.ndarray]:
    return {row[9]: row[10] for row in index.store.iter_chunk_rows()}  # chunk hash -> embedding


def test_encoded_shards_import_as_directly_indexed_passages(tmp_path, tiny_encoder) -> None:
    long = tmp_path / "long.txt"
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    long.write_text(" ".join(lines[:14]) + "\n" + "\n".join(lines[20:40]) + "\n", "utf-8")
    direct = Index.create(tmp_path / "direct", encoder=tiny_encoder, precision="fp32")
    direct.add(read_path(CORPUS))
    direct.add(read_path(long))
    target = Index.create(tmp_path / "target", encoder=tiny_encoder, precision="fp32")
    documents = list(read_path(CORPUS)) + list(read_path(long))
    summary = encode_on_ray(
        documents, target.path, tmp_path / "shards", shard_info(target), "local", 2
    )
    assert summary.passages == len(documents) and summary.actors == 2
    result = target.import_embeddings(tmp_path / "shards")
    # Nothing encoded; chunks whose text another passage already stored reuse its vector.
    assert result.chunks_encoded == 0 and 0 < result.imported <= direct.store.chunk_count()
    assert target.store.document_count() == direct.store.document_count()
    mine, theirs = embeddings(target), embeddings(direct)
    assert mine.keys() == theirs.keys()
    for key in mine:
        np.testing.assert_allclose(mine[key], theirs[key], atol=1e-5)
    for query in ("ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන", "ඩෙංගු"):
        assert [(h.text, h.source, h.line) for h in target.search(query, limit=8)] == [
            (h.text, h.source, h.line) for h in direct.search(query, limit=8)
        ]


def test_shards_from_another_model_are_refused(tmp_path, tiny_encoder, other_tiny_model) -> None:
    made_for = Index.create(tmp_path / "a", encoder=tiny_encoder, precision="fp32")
    encode_on_ray(
        list(read_path(CORPUS))[:20], made_for.path, tmp_path / "shards", shard_info(made_for)
    )
    other = Index.create(tmp_path / "b", model=other_tiny_model, precision="fp32")
    with pytest.raises(CorpusError, match="weights differ"):
        other.import_embeddings(tmp_path / "shards")
    assert json.loads((tmp_path / "shards" / "sisearch.json").read_text())["sisearch.engine"]


def test_cli_encode_then_import(run, tiny_model, tmp_path) -> None:
    assert run("index", str(CORPUS), "--model", tiny_model, "--index", "a", "-q").exit_code == 0
    result = run("encode", str(CORPUS), "--index", "a", "--out", "shards", "--ray", "local")
    assert result.exit_code == 0, result.output
    assert "312 passages" in result.stdout and "sisearch index --embeddings" in result.stdout
    again = run("encode", str(CORPUS), "--index", "a", "--out", "shards")
    assert again.exit_code == 2 and "already holds Parquet shards" in again.stderr
    result = run("index", "--embeddings", "shards", "--index", "a")
    assert result.exit_code == 0
    assert "0 added, 312 already indexed" in result.stdout


def test_encode_without_ray_says_how_to_get_it(run, tiny_model, monkeypatch) -> None:
    assert run("index", str(CORPUS), "--model", tiny_model, "-q").exit_code == 0
    monkeypatch.setitem(sys.modules, "ray", None)
    result = run("encode", str(CORPUS), "--out", "shards")
    assert result.exit_code == 1
    assert 'pip install -e ".[ray]"' in result.stderr
    assert not Path("shards").exists()
