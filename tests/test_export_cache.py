"""Encoder exports are made once per model and shared by its indexes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sisearch import Index
from sisearch.encoders import onnx as onnx_encoder
from sisearch.encoders.export_cache import COMPLETE, ENCODERS, cache_root


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SISEARCH_CACHE_DIR", str(folder))
    return folder


def exports(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Count the real exports from now on."""
    made: list[Path] = []
    real = onnx_encoder.export_onnx

    def counting(model, out, precision):
        made.append(out)
        real(model, out, precision)

    monkeypatch.setattr(onnx_encoder, "export_onnx", counting)
    return made


def test_a_second_index_of_a_model_reuses_the_export(tmp_path, tiny_encoder, cache, monkeypatch):
    made = exports(monkeypatch)
    first = Index.create(tmp_path / "a", encoder=tiny_encoder)
    second = Index.create(tmp_path / "b", encoder=tiny_encoder)
    assert len(made) == 1
    entries = [p for p in (cache / ENCODERS).iterdir() if p.is_dir()]
    assert len(entries) == 1 and (entries[0] / COMPLETE).exists()
    for name in ("model.onnx", "embeddings.npy", "tokenizer.json", "encoder.json"):
        a, b = first.path / "encoder" / name, second.path / "encoder" / name
        assert a.read_bytes() == b.read_bytes()
        assert os.stat(a).st_ino == os.stat(b).st_ino == os.stat(entries[0] / name).st_ino
    texts = ["ශ්‍රී ලංකාව", "කොළඹ වරාය"]
    np.testing.assert_array_equal(
        first.encoder.encode_documents(texts), second.encoder.encode_documents(texts)
    )
    assert second.manifest.encoder == first.manifest.encoder
    # Another precision, or other weights, is another entry.
    Index.create(tmp_path / "c", encoder=tiny_encoder, precision="fp32")
    assert len(made) == 2


def test_other_weights_under_the_same_name_get_their_own_export(
    tmp_path, tiny_model, other_tiny_model, cache, monkeypatch, pytorch_export
):
    made = exports(monkeypatch)
    copy = tmp_path / "model"
    import shutil

    shutil.copytree(tiny_model, copy)
    Index.create(tmp_path / "a", model=str(copy)).close()
    shutil.rmtree(copy)
    shutil.copytree(other_tiny_model, copy)  # retrained in place: same name, new weights
    b = Index.create(tmp_path / "b", model=str(copy))
    assert len(made) == 2
    assert b.manifest.model.probe != Index.open(tmp_path / "a").manifest.model.probe


def test_a_copied_index_folder_does_not_need_the_cache(tmp_path, tiny_encoder, cache):
    index = Index.create(tmp_path / "a", encoder=tiny_encoder)
    index.add(["ශ්‍රී ලංකාව", "කොළඹ වරාය"])
    index.close()
    import shutil

    shutil.copytree(tmp_path / "a", tmp_path / "moved")
    shutil.rmtree(cache)
    assert Index.open(tmp_path / "moved").search("කොළඹ", limit=1)[0].text == "කොළඹ වරාය"


def test_a_damaged_cache_entry_is_exported_again(tmp_path, tiny_encoder, cache, monkeypatch):
    made = exports(monkeypatch)
    Index.create(tmp_path / "a", encoder=tiny_encoder).close()
    entry = next(p for p in (cache / ENCODERS).iterdir() if p.is_dir())
    damaged = entry / "model.onnx"
    damaged.unlink()  # not written in place: the index's hard link keeps the good file
    damaged.write_bytes(b"not a model")
    index = Index.create(tmp_path / "b", encoder=tiny_encoder)
    assert len(made) == 2
    assert index.manifest.encoder.engine == "onnx"
    assert len((entry / "model.onnx").read_bytes()) > 1000


def test_rebuild_encoder_exports_afresh(tmp_path, tiny_encoder, cache, monkeypatch):
    """Through PyTorch where the model is not one exported from its files."""
    monkeypatch.setattr("sisearch.index.export_again", lambda *args: None)
    made = exports(monkeypatch)
    index = Index.create(tmp_path / "a", encoder=tiny_encoder)
    index.export_encoder()
    assert len(made) == 2


def test_the_cache_can_be_moved_or_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("SISEARCH_CACHE_DIR", str(tmp_path / "x"))
    assert cache_root() == tmp_path / "x"
    monkeypatch.setenv("SISEARCH_CACHE_DIR", "off")
    assert cache_root() is None
    monkeypatch.delenv("SISEARCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "sisearch"


def test_an_unwritable_cache_never_stops_an_index(tmp_path, tiny_encoder, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("SISEARCH_CACHE_DIR", str(blocker))
    index = Index.create(tmp_path / "a", encoder=tiny_encoder)
    assert index.manifest.encoder.engine == "onnx"


CREATE = """
import sys
from sisearch import Index
Index.create(sys.argv[1], model=sys.argv[2]).close()
"""


def test_two_processes_creating_indexes_of_one_model_export_it_once(tmp_path, tiny_model, cache):
    env = {**os.environ, "SISEARCH_CACHE_DIR": str(cache)}
    runs = [
        subprocess.Popen([sys.executable, "-c", CREATE, str(tmp_path / name), tiny_model], env=env)
        for name in ("a", "b")
    ]
    assert [run.wait(timeout=300) for run in runs] == [0, 0]
    entries = [p for p in (cache / ENCODERS).iterdir() if p.is_dir()]
    assert len(entries) == 1
    inodes = {os.stat(tmp_path / n / "encoder" / "model.onnx").st_ino for n in ("a", "b")}
    assert inodes == {os.stat(entries[0] / "model.onnx").st_ino}
    for name in ("a", "b"):
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        assert manifest["encoder"]["engine"] == "onnx"


def test_ctrl_c_during_the_export_leaves_nothing_behind(tmp_path, tiny_encoder, cache, monkeypatch):
    def interrupted(model, out, precision):
        out.mkdir(parents=True, exist_ok=True)
        (out / "model.onnx").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_encoder, "export_onnx", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Index.create(tmp_path / "ix", encoder=tiny_encoder)
    assert not (tmp_path / "ix").exists()
    assert not any(p.is_dir() for p in (cache / ENCODERS).glob("*"))


def test_a_failed_export_in_an_existing_folder_keeps_the_folder(tmp_path, tiny_encoder, cache):
    (tmp_path / "ix").mkdir()
    (tmp_path / "ix" / "notes.txt").write_text("mine")
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    assert (tmp_path / "ix" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "ix" / "encoder.new").exists()
    assert index.manifest.encoder.engine == "onnx"
