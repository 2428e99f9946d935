"""A second index of unchanged model files takes the first one's decisions, unloaded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sisearch import Index
from sisearch.encoders.export_cache import ENCODERS, SOURCES

TEXTS = ["ශ්‍රී ලංකාව ඉන්දියන් සාගරයේ දිවයිනකි.", "කොළඹ වරාය", "මහනුවර දළදා මාළිගාව"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("SISEARCH_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def model(tmp_path: Path, tiny_model: str) -> Path:
    """A copy of the tiny model this test may change."""
    return Path(shutil.copytree(tiny_model, tmp_path / "model"))


def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The models read and exported from now on: loaded with PyTorch, or exported from
    their files without it (direct_export.py)."""
    import sisearch.index

    loaded: list[str] = []
    real_load, real_direct = sisearch.index.load_encoder, sisearch.index.direct_engine

    def counting_load(model, *args, **kwargs):
        loaded.append(model)
        return real_load(model, *args, **kwargs)

    def counting_direct(model, *args, **kwargs):
        made = real_direct(model, *args, **kwargs)
        if made is not None:
            loaded.append(model)
        return made

    monkeypatch.setattr(sisearch.index, "load_encoder", counting_load)
    monkeypatch.setattr(sisearch.index, "direct_engine", counting_direct)
    return loaded


def records(cache: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (cache / SOURCES).glob("*.json")]


def test_a_second_index_of_the_same_files_does_not_load_the_model(
    tmp_path, model, cache, monkeypatch
):
    first = Index.create(tmp_path / "a", model=str(model))
    first.add(TEXTS)
    loaded = loads(monkeypatch)
    second = Index.create(tmp_path / "b", model=str(model))
    assert loaded == []
    assert second.manifest.model == first.manifest.model
    assert second.manifest.encoder == first.manifest.encoder
    second.add(TEXTS)
    np.testing.assert_array_equal(
        np.vstack([v for _, v in first.store.iter_embeddings()]),
        np.vstack([v for _, v in second.store.iter_embeddings()]),
    )
    assert second.search("කොළඹ", limit=1)[0].text == "කොළඹ වරාය"
    assert len(records(cache)) == 1


CREATE_AND_ADD = """
import sys
import sisearch.index
from sisearch import Index
if sys.argv[3] == "pytorch":
    sisearch.index.direct_engine = lambda *args, **kwargs: None
index = Index.create(sys.argv[1], model=sys.argv[2])
index.add(["ශ්‍රී ලංකාව", "කොළඹ වරාය"])
heavy = sorted({"torch", "sentence_transformers", "transformers"} & set(sys.modules))
print("imported:", heavy)
"""


FIRST_IMPORTS = {
    "direct": "imported: []",
    # A tokenizer transformers 5 rebuilds (as transformers 4 saved XLM-R): its class only,
    # and PyTorch only where that transformers imports it for the class (5.0 does).
    "direct, tokenizer rebuilt": "imported: ['transformers']",
    "pytorch": "'torch'",
}


def transformers_tokenizers_import_torch() -> bool:
    code = (
        "import sys, transformers; transformers.XLMRobertaTokenizer; print('torch' in sys.modules)"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return found.stdout.strip() == "True"


@pytest.mark.parametrize("first_export", sorted(FIRST_IMPORTS))
def test_the_second_index_imports_no_pytorch(tmp_path, model, cache, first_export):
    """Nor does the first, where the model is one the direct exporter takes."""
    if first_export == "direct, tokenizer rebuilt":
        config = json.loads((model / "tokenizer_config.json").read_text())
        config["tokenizer_class"] = "XLMRobertaTokenizer"
        (model / "tokenizer_config.json").write_text(json.dumps(config))
    env = {**os.environ, "SISEARCH_CACHE_DIR": str(cache)}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", CREATE_AND_ADD, str(tmp_path / name), str(model), first_export],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout
        for name in ("a", "b")
    ]
    expected = FIRST_IMPORTS[first_export]
    if first_export == "direct, tokenizer rebuilt" and transformers_tokenizers_import_torch():
        expected = "imported: ['torch', 'transformers']"
    assert expected in outputs[0]
    assert outputs[1].strip() == "imported: []"


def test_changed_model_files_are_loaded_again(
    tmp_path, model, other_tiny_model, cache, monkeypatch
):
    Index.create(tmp_path / "a", model=str(model)).close()
    loaded = loads(monkeypatch)
    (model / "notes.md").write_text("a note the user added")
    Index.create(tmp_path / "b", model=str(model)).close()
    assert len(loaded) == 1
    # Retrained weights copied over the old ones with the old times kept: still a new key.
    weights = next(model.glob("*.safetensors"))
    times = os.stat(weights)
    shutil.copyfile(next(Path(other_tiny_model).glob("*.safetensors")), weights)
    os.utime(weights, ns=(times.st_atime_ns, times.st_mtime_ns))
    c = Index.create(tmp_path / "c", model=str(model))
    assert len(loaded) == 2
    assert c.manifest.model.probe != Index.open(tmp_path / "a").manifest.model.probe


def test_other_prompts_or_precision_are_another_record(tmp_path, model, cache, monkeypatch):
    Index.create(tmp_path / "a", model=str(model)).close()
    loaded = loads(monkeypatch)
    Index.create(tmp_path / "b", model=str(model), query_prompt="query: ").close()
    Index.create(tmp_path / "c", model=str(model), precision="fp32").close()
    assert len(loaded) == 2
    Index.create(tmp_path / "d", model=str(model), query_prompt="query: ").close()
    assert len(loaded) == 2
    assert Index.open(tmp_path / "d").manifest.model.query_prompt == "query: "


def test_a_damaged_export_or_record_falls_back_to_loading(tmp_path, model, cache, monkeypatch):
    Index.create(tmp_path / "a", model=str(model)).close()
    loaded = loads(monkeypatch)
    entry = next(p for p in (cache / ENCODERS).iterdir() if p.is_dir())
    (entry / "model.onnx").unlink()  # the index's hard link keeps its own good file
    (entry / "model.onnx").write_bytes(b"not a model")
    b = Index.create(tmp_path / "b", model=str(model))
    assert len(loaded) == 1 and b.manifest.encoder.engine == "onnx"
    b.add(TEXTS)
    record_file = next((cache / SOURCES).glob("*.json"))
    record = json.loads(record_file.read_text())
    record["spec"]["probe"] = [-x for x in record["spec"]["probe"]]  # not what the export gives
    record_file.write_text(json.dumps(record))
    c = Index.create(tmp_path / "c", model=str(model))
    assert len(loaded) == 2
    assert c.manifest.encoder.probe == b.manifest.encoder.probe
    record_file.write_text("{ torn")
    Index.create(tmp_path / "d", model=str(model)).close()
    assert len(loaded) == 3


def test_int8_that_drifted_on_the_first_passages_is_remembered(tmp_path, model, cache, monkeypatch):
    first = Index.create(tmp_path / "a", model=str(model))
    monkeypatch.setattr("sisearch.core.writer.MIN_MEAN_COSINE", 1.01)
    first.add(TEXTS)
    assert first.manifest.encoder.precision == "fp32"
    loaded = loads(monkeypatch)
    second = Index.create(tmp_path / "b", model=str(model))
    assert loaded == []
    assert second.manifest.encoder.precision == "fp32"
    assert "too far from fp32" in second.manifest.encoder.note


def test_without_a_cache_every_index_loads_the_model(tmp_path, model, monkeypatch):
    monkeypatch.setenv("SISEARCH_CACHE_DIR", "off")
    loaded = loads(monkeypatch)
    Index.create(tmp_path / "a", model=str(model)).close()
    Index.create(tmp_path / "b", model=str(model)).close()
    assert len(loaded) == 2
