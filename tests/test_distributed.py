"""`sisearch encode` on a local Ray: shards that import as if indexed directly."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")

from sisearch import Index, read_path  # noqa: E402
from sisearch.cluster import encode as distributed  # noqa: E402
from sisearch.cluster.encode import (  # noqa: E402
    ActorPlan,
    ShardFolder,
    encode_on_ray,
    plan_actors,
)
from sisearch.core.portable import shard_info  # noqa: E402
from sisearch.documents.reading import ReadOptions  # noqa: E402
from sisearch.errors import CorpusError, EncodeFailed, ModelMismatch  # noqa: E402
from tests.conftest import CORPUS  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def embeddings(index: Index) -> dict[str, np.ndarray]:
    return {row[9]: row[10] for row in index.store.iter_chunk_rows()}  # chunk hash -> embedding


# fp32 engines give the same vector whatever a passage's batch; int8 quantizes activations
# with one scale per batch, so a passage's vector moves by ~1e-4 with its batch-mates (in
# `sisearch index` as much as here).
@pytest.mark.parametrize(
    ("engine", "precision", "atol"),
    [("onnx", "fp32", 1e-6), ("torch", "fp32", 1e-6), ("onnx", "int8", 5e-4)],
)
def test_encoded_shards_import_as_directly_indexed_passages(
    tmp_path, tiny_encoder, engine, precision, atol
) -> None:
    long = tmp_path / "long.txt"
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    long.write_text(" ".join(lines[:14]) + "\n" + "\n".join(lines[20:40]) + "\n", "utf-8")
    direct = Index.create(
        tmp_path / "direct", encoder=tiny_encoder, precision=precision, engine=engine
    )
    direct.add(read_path(CORPUS))
    direct.add(read_path(long))
    target = Index.create(
        tmp_path / "target", encoder=tiny_encoder, precision=precision, engine=engine
    )
    documents = list(read_path(CORPUS)) + list(read_path(long))
    summary = encode_on_ray(
        [str(CORPUS), str(long)], target.path, tmp_path / "shards", shard_info(target), actors=2
    )
    assert summary.passages == len(documents) and summary.actors == 2
    assert summary.report.files_read == 2 and not summary.report.failed
    result = target.import_embeddings(tmp_path / "shards")
    # Nothing encoded; chunks whose text another passage already stored reuse its vector.
    assert result.chunks_encoded == 0 and 0 < result.imported <= direct.store.chunk_count()
    assert target.store.document_count() == direct.store.document_count()
    assert sorted(target.store.sources()) == sorted(direct.store.sources())
    mine, theirs = embeddings(target), embeddings(direct)
    assert mine.keys() == theirs.keys()
    for key in mine:
        np.testing.assert_allclose(mine[key], theirs[key], rtol=0, atol=atol)
    for query in ("ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන", "ඩෙංගු"):
        assert [(h.text, h.source, h.line) for h in target.search(query, limit=8)] == [
            (h.text, h.source, h.line) for h in direct.search(query, limit=8)
        ]


def test_workers_read_folders_and_name_what_they_skip(tmp_path, tiny_encoder) -> None:
    folder = tmp_path / "corpus"
    (folder / "news" / ".drafts").mkdir(parents=True)
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    (folder / "news" / "a.txt").write_text("\n".join(lines[:30]) + "\n", "utf-8")
    (folder / "news" / ".drafts" / "hidden.txt").write_text(lines[40] + "\n", "utf-8")
    (folder / "b.md").write_text(f"# {lines[50]}\n\n{lines[51]}\n", "utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\nnot really a PDF")
    (folder / "empty.txt").write_text("\n\n", "utf-8")
    (folder / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    index = Index.create(tmp_path / "index", encoder=tiny_encoder, precision="fp32")
    summary = encode_on_ray(
        [str(folder)], index.path, tmp_path / "shards", shard_info(index), actors=2
    )
    report = summary.report
    assert report.files_read == 2 and summary.passages == 32
    assert report.images_left == 1 and not report.unknown  # photo.jpg: no OCR asked for
    assert report.empty == [str(folder / "empty.txt")]
    assert sorted(f.split(":")[0] for f in report.failed) == [
        str(folder / "broken.pdf"),
        str(folder / "latin1.txt"),
    ]
    assert all("sisearch-read-" not in f for f in report.failed)  # no worker's copy named
    index.import_embeddings(tmp_path / "shards")
    direct = Index.create(tmp_path / "direct", encoder=tiny_encoder, precision="fp32")
    direct.add(read_path(folder))
    assert sorted(index.store.sources()) == sorted(direct.store.sources())
    assert {h.origin.get("heading") for h in index.search(lines[51], limit=40)} >= {lines[50]}


def test_a_file_uri_is_listed_and_read_by_the_workers(tmp_path, tiny_encoder) -> None:
    folder = tmp_path / "bucket"
    (folder / "2026").mkdir(parents=True)
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    (folder / "2026" / "a.txt").write_text("\n".join(lines[:10]) + "\n", "utf-8")
    (folder / "2026" / "b.txt").write_text("\n".join(lines[10:15]) + "\n", "utf-8")
    (folder / "notes.csv").write_text("x\n1\n", "utf-8")
    index = Index.create(tmp_path / "index", encoder=tiny_encoder, precision="fp32")
    options = ReadOptions(excludes=("*.csv",))
    out = (tmp_path / "out" / "shards").as_uri()
    summary = encode_on_ray([folder.as_uri()], index.path, out, shard_info(index), options)
    assert summary.passages == 15 and summary.report.excluded == 1
    assert (tmp_path / "out" / "shards" / "sisearch.json").exists()
    index.import_embeddings(tmp_path / "out" / "shards")
    assert sorted(s for s, _ in index.store.sources()) == [
        (folder / "2026" / "a.txt").as_uri(),
        (folder / "2026" / "b.txt").as_uri(),
    ]
    with pytest.raises(CorpusError, match="not both"):
        encode_on_ray([folder.as_uri(), str(CORPUS)], index.path, tmp_path / "x", {})
    with pytest.raises(CorpusError, match="no such file"):
        encode_on_ray([(folder / "gone").as_uri()], index.path, tmp_path / "x", {})
    assert not (tmp_path / "x").exists()


def test_a_worker_whose_model_differs_from_the_index_is_refused(
    tmp_path, tiny_model, other_tiny_model
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    index = Index.create(tmp_path / "index", model=str(model), engine="torch")
    shutil.rmtree(model)
    shutil.copytree(other_tiny_model, model)  # retrained in place after the index was made
    with pytest.raises(ModelMismatch, match=r"On Ray worker .* weights differ"):
        encode_on_ray([str(CORPUS)], index.path, tmp_path / "shards", shard_info(index))
    assert not (tmp_path / "shards").exists()


def test_shards_written_where_this_machine_cannot_see_them_are_an_error(
    tmp_path, tiny_encoder, monkeypatch
) -> None:
    index = Index.create(tmp_path / "index", encoder=tiny_encoder, precision="fp32")
    # As on a cluster whose workers wrote a local --out to their own disks.
    monkeypatch.setattr(ShardFolder, "counts", lambda self: (0, 0))
    with pytest.raises(EncodeFailed, match="wrote them to their own disks"):
        encode_on_ray([str(CORPUS)], index.path, tmp_path / "shards", shard_info(index))
    assert not (tmp_path / "shards").exists()


def test_gpu_actors_need_a_torch_index_and_a_gpu(run, tiny_model) -> None:
    assert run("index", str(CORPUS), "--model", tiny_model, "-q").exit_code == 0
    result = run("encode", str(CORPUS), "--out", "s", "--gpus-per-actor", "1")
    assert result.exit_code == 2 and "--engine torch" in result.stderr
    made = run("index", str(CORPUS), "--model", tiny_model, "--engine", "torch", "--index", "t")
    assert made.exit_code == 0
    result = run("encode", str(CORPUS), "--index", "t", "--out", "s", "--gpus-per-actor", "1")
    assert result.exit_code == 1 and "has no GPU" in result.stderr
    assert not Path("s").exists()


def test_actors_share_the_machine_or_the_cluster() -> None:
    assert plan_actors({"CPU": 2}, local=True) == ActorPlan(2, 1.0, 0.0, 1)
    assert plan_actors({"CPU": 16}, local=True) == ActorPlan(2, 8.0, 0.0, 8)
    assert plan_actors({"CPU": 64}, local=False, node_cpus=16) == ActorPlan(16, 4.0, 0.0, 4)
    assert plan_actors({"CPU": 64}, False, cpus_per_actor=8) == ActorPlan(8, 8.0, 0.0, 8)
    # No machine has 4 CPUs: an actor of 4 could never start.
    assert plan_actors({"CPU": 6}, local=False, node_cpus=2) == ActorPlan(3, 2.0, 0.0, 2)
    gpus = {"CPU": 64, "GPU": 8}
    assert plan_actors(gpus, False, gpus_per_actor=0.5) == ActorPlan(16, 1.0, 0.5, 1)
    with pytest.raises(EncodeFailed, match="no GPU now"):
        plan_actors({"CPU": 64}, local=False, gpus_per_actor=1)
    # An autoscaler adds GPU machines when actors ask for them.
    assert plan_actors({"CPU": 8}, False, actors=4, gpus_per_actor=1) == ActorPlan(4, 1.0, 1, 1)


def test_actors_the_cluster_cannot_hold_fail_instead_of_waiting(
    tmp_path, tiny_encoder, monkeypatch
) -> None:
    index = Index.create(tmp_path / "index", encoder=tiny_encoder, precision="fp32")
    monkeypatch.setattr(distributed, "ACTOR_START_S", 3)
    with pytest.raises(EncodeFailed, match="did not start within 3 s"):
        encode_on_ray(
            [str(CORPUS)], index.path, tmp_path / "s", shard_info(index), cpus_per_actor=8
        )
    assert not (tmp_path / "s").exists()


def test_shards_from_another_model_are_refused(tmp_path, tiny_encoder, other_tiny_model) -> None:
    made_for = Index.create(tmp_path / "a", encoder=tiny_encoder, precision="fp32")
    encode_on_ray([str(CORPUS)], made_for.path, tmp_path / "shards", shard_info(made_for))
    other = Index.create(tmp_path / "b", model=other_tiny_model, precision="fp32")
    with pytest.raises(CorpusError, match="weights differ"):
        other.import_embeddings(tmp_path / "shards")
    assert json.loads((tmp_path / "shards" / "sisearch.json").read_text())["sisearch.engine"]


def test_cli_encode_then_import(run, tiny_model, tmp_path) -> None:
    assert run("index", str(CORPUS), "--model", tiny_model, "--index", "a", "-q").exit_code == 0
    command = [sys.executable, "-m", "sisearch", "encode", str(CORPUS), "--index", "a"]
    logs = set(Path(tempfile.gettempdir()).glob("sisearch-ray-*.log"))
    result = subprocess.run(  # a process of its own: Ray's core writes to descriptor 2
        [*command, "--out", "shards", "--ray", "local"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "312 passages" in result.stdout and "sisearch index --embeddings" in result.stdout
    assert result.stderr == ""  # Ray's log went to a file, removed after a job that worked
    assert set(Path(tempfile.gettempdir()).glob("sisearch-ray-*.log")) == logs
    again = run("encode", str(CORPUS), "--index", "a", "--out", "shards")
    assert again.exit_code == 2 and "already holds Parquet shards" in again.stderr
    result = run("index", "--embeddings", "shards", "--index", "a")
    assert result.exit_code == 0
    assert "0 added, 312 already indexed" in result.stdout


def test_a_failed_encode_names_rays_log(run, tiny_model, tmp_path) -> None:
    assert run("index", str(CORPUS), "--model", tiny_model, "-q").exit_code == 0
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "blank.txt").write_text("\n \n", encoding="utf-8")
    result = run("encode", str(tmp_path / "empty"), "--out", "shards")
    assert result.exit_code == 1 and "no passage to encode" in result.stderr
    log = Path(result.stderr.split("Ray's log of this job: ")[1].split()[0])
    assert log.is_file()
    log.unlink()


def test_encode_without_ray_says_how_to_get_it(run, tiny_model, monkeypatch) -> None:
    assert run("index", str(CORPUS), "--model", tiny_model, "-q").exit_code == 0
    monkeypatch.setitem(sys.modules, "ray", None)
    result = run("encode", str(CORPUS), "--out", "shards")
    assert result.exit_code == 1
    assert 'pip install -e ".[ray]"' in result.stderr
    assert not Path("shards").exists()
