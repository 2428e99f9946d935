"""A model's first index exported from its files without PyTorch, held to PyTorch's output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sisearch import Index
from sisearch.core.store import STORED_COSINE_ERROR
from sisearch.encoders.direct_export import Unsupported, direct_engine, read_folder, read_weights
from sisearch.encoders.encoder import load_encoder
from sisearch.language.text import normalize
from tests.conftest import CORPUS

FINGERPRINT_FIELDS = (
    "name",
    "revision",
    "dim",
    "max_seq_length",
    "pooling",
    "query_prompt",
    "document_prompt",
)


@pytest.fixture
def lines(corpus_lines: list[str]) -> list[str]:
    texts = [normalize(line) for line in corpus_lines[:60]]
    # Long enough to be truncated at max_seq_length, and the edges of the tokenizer.
    return texts + [" ".join(texts[:40]), "", "<mask> </s> x", "😀 中文"]


@pytest.fixture(scope="module")
def bert_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny BERT SentenceTransformer (e5-small's architecture: positions from 0, two
    token types) with mean pooling and a Normalize module."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    from sisearch.encoders.devmodel import train_tokenizer

    scratch = tmp_path_factory.mktemp("bert-parts")
    tokenizer = train_tokenizer(CORPUS.read_text(encoding="utf-8").splitlines())
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=256,
        type_vocab_size=2,
        pad_token_id=1,
    )
    torch.manual_seed(3)
    BertModel(config).save_pretrained(scratch)
    tokenizer.save_pretrained(scratch)
    transformer = Transformer(str(scratch), max_seq_length=96)
    pooling = Pooling(transformer.get_embedding_dimension(), "mean")
    model = SentenceTransformer(modules=[transformer, pooling, Normalize()])
    model.prompts = {"query": "query: ", "document": "passage: "}
    out = tmp_path_factory.mktemp("bert") / "model"
    model.save(str(out))
    return str(out)


@pytest.fixture(scope="module")
def transformers_4_model(tmp_path_factory: pytest.TempPathFactory, tiny_model: str) -> str:
    """The tiny XLM-R model as transformers 4 saved fine-tuned models: its tokenizer_config
    names `XLMRobertaTokenizer`, which transformers 5 rebuilds from the vocabulary with its
    own pipeline instead of reading tokenizer.json as it is."""
    folder = Path(shutil.copytree(tiny_model, tmp_path_factory.mktemp("t4") / "model"))
    edit_json(folder / "tokenizer_config.json", tokenizer_class="XLMRobertaTokenizer")
    return str(folder)


MODELS = {"xlm-roberta": "tiny_model", "bert": "bert_model", "saved by 4": "transformers_4_model"}


@pytest.mark.parametrize("which", sorted(MODELS))
@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_the_direct_export_embeds_as_pytorch_does(tmp_path, request, lines, which, precision):
    name = request.getfixturevalue(MODELS[which])
    made = direct_engine(name, None, None, precision, tmp_path / "encoder")
    assert made is not None
    reference = load_encoder(name)
    expected = reference.fingerprint()
    for field in FINGERPRINT_FIELDS:
        assert getattr(made.fingerprint, field) == getattr(expected, field), field
    assert float(np.dot(made.fingerprint.probe, expected.probe)) > 0.99999
    assert made.fingerprint.mismatch(expected) is None
    assert made.spec.engine == "onnx" and made.spec.precision == precision
    for encode in ("encode_documents", "encode_queries"):
        ours = getattr(made.engine, encode)(lines)
        theirs = getattr(reference, encode)(lines)
        cosines = (ours * theirs).sum(axis=1)
        assert cosines.min() > (0.99999 if precision == "fp32" else 0.995), encode
    assert (made.yardstick is not None) == (precision == "int8")
    made.engine.close()


def forbid_pytorch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test where an index loads its model with PyTorch from now on."""
    import sisearch.index

    def no_pytorch(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded with PyTorch")

    monkeypatch.setattr(sisearch.index, "load_encoder", no_pytorch)


def test_a_new_index_uses_the_direct_export_and_searches(tmp_path, tiny_model, lines, monkeypatch):
    forbid_pytorch(monkeypatch)
    index = Index.create(tmp_path / "ix", model=tiny_model)
    assert index.manifest.encoder.engine == "onnx"
    assert index.manifest.encoder.precision == "int8"
    assert index.manifest.encoder.agreement > 0.99
    index.add(lines[:30])
    assert index.encoders.yardstick is None  # checked on the first passages, then let go
    for text in lines[:5]:
        assert index.search(text, limit=1, mode="dense")[0].text == text
    index.close()
    monkeypatch.undo()
    reopened = Index.open(tmp_path / "ix", model=tiny_model)  # the PyTorch model matches
    stored = np.vstack([v for _, v in reopened.store.iter_embeddings()])
    fp32 = load_encoder(tiny_model).encode_documents(lines[:30])
    assert ((stored * fp32).sum(axis=1)).min() > 0.995 - STORED_COSINE_ERROR


def test_int8_too_far_at_creation_is_exported_again_in_fp32(tmp_path, tiny_model, monkeypatch):
    monkeypatch.setattr("sisearch.encoders.onnx.MIN_MEAN_COSINE", 1.01)
    made = direct_engine(tiny_model, None, None, "int8", tmp_path / "encoder")
    assert made is not None and made.spec.precision == "fp32"
    assert "too far from fp32" in made.spec.note
    config = json.loads((tmp_path / "encoder" / "encoder.json").read_text())
    assert config["precision"] == "fp32"
    assert not (tmp_path / "encoder" / "embedding_scales.npy").exists()
    assert not list(tmp_path.glob("encoder.*"))  # no staging folder left


def test_int8_too_far_on_the_first_passages_falls_back_to_fp32(
    tmp_path, tiny_model, lines, monkeypatch
):
    index = Index.create(tmp_path / "ix", model=tiny_model)
    assert index.encoders.reference is None and index.encoders.yardstick is not None
    monkeypatch.setattr("sisearch.core.writer.MIN_MEAN_COSINE", 1.01)
    result = index.add(lines[:20])
    assert index.manifest.encoder.precision == "fp32"
    assert result.notes and "too far from fp32" in result.notes[0]
    stored = np.vstack([v for _, v in index.store.iter_embeddings()])
    fp32 = load_encoder(tiny_model).encode_documents(lines[:20])
    assert ((stored * fp32).sum(axis=1)).min() > 0.99999 - STORED_COSINE_ERROR
    index.close()
    assert Index.open(tmp_path / "ix").search(lines[3], limit=1)[0].text == lines[3]


def edit_json(file: Path, **changes: object) -> None:
    data = json.loads(file.read_text(encoding="utf-8"))
    data.update(changes)
    file.write_text(json.dumps(data), encoding="utf-8")


UNSUPPORTED = {
    "cls pooling": lambda f: edit_json(f / "1_Pooling" / "config.json", pooling_mode="cls"),
    "prompt left out of the pooling": lambda f: edit_json(
        f / "1_Pooling" / "config.json", include_prompt=False
    ),
    "lower-casing": lambda f: edit_json(f / "sentence_bert_config.json", do_lower_case=True),
    "a tokenizer class transformers lacks": lambda f: edit_json(
        f / "tokenizer_config.json", tokenizer_class="NoSuchTokenizer"
    ),
    "no tokenizer.json to read as it is": lambda f: (f / "tokenizer.json").unlink(),
    "another architecture": lambda f: edit_json(f / "config.json", model_type="t5"),
    "relative positions": lambda f: edit_json(
        f / "config.json", position_embedding_type="relative_key"
    ),
    "an approximate gelu": lambda f: edit_json(f / "config.json", hidden_act="gelu_new"),
    "longer inputs than positions": lambda f: edit_json(
        f / "tokenizer_config.json", model_max_length=100_000
    ),
    "pickled weights": lambda f: (f / "model.safetensors").rename(f / "pytorch_model.bin"),
    "a weight missing": lambda f: strip_weight(f / "model.safetensors", "output.dense.bias"),
}


def strip_weight(file: Path, ending: str) -> None:
    from safetensors.numpy import save_file

    tensors = {k: np.array(v) for k, v in read_weights(file).items() if not k.endswith(ending)}
    save_file(tensors, str(file))


@pytest.mark.parametrize("change", sorted(UNSUPPORTED))
def test_a_model_it_does_not_reproduce_is_left_to_pytorch(tmp_path, tiny_model, change):
    folder = Path(shutil.copytree(tiny_model, tmp_path / "model"))
    UNSUPPORTED[change](folder)
    if change not in (
        "pickled weights",
        "a weight missing",
        "a tokenizer class transformers lacks",
    ):
        with pytest.raises(Unsupported):
            read_folder(folder)
    assert direct_engine(str(folder), None, None, "int8", tmp_path / "encoder") is None
    assert not list(tmp_path.glob("encoder*"))


def test_a_rebuilt_tokenizer_is_transformers_own(tmp_path, tiny_model, transformers_4_model, lines):
    """The export tokenizes as transformers 5 does, which here is not as the file says."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    made = direct_engine(transformers_4_model, None, None, "fp32", tmp_path / "encoder")
    assert made is not None
    made.engine.close()
    exported = Tokenizer.from_file(str(tmp_path / "encoder" / "tokenizer.json"))
    as_saved = Tokenizer.from_file(str(Path(tiny_model) / "tokenizer.json"))
    theirs = AutoTokenizer.from_pretrained(transformers_4_model)
    ours = [e.ids for e in exported.encode_batch(lines)]
    assert ours == theirs(lines)["input_ids"]
    assert ours != [e.ids for e in as_saved.encode_batch(lines)]


def test_rebuild_encoder_exports_afresh_from_the_files(tmp_path, tiny_model, lines, monkeypatch):
    """The damaged export is replaced, in the index and in the shared cache its files are
    linked with, without loading the model with PyTorch."""
    monkeypatch.setenv("SISEARCH_CACHE_DIR", str(tmp_path / "cache"))
    index = Index.create(tmp_path / "ix", model=tiny_model)
    index.add(lines[:10])
    expected = index.search(lines[3], limit=3, mode="dense")
    index.close()
    exported = tmp_path / "ix" / "encoder" / "model.onnx"
    good = exported.read_bytes()
    with open(exported, "r+b") as f:  # damaged in place: the cache's linked copy too
        f.write(b"garbage")

    forbid_pytorch(monkeypatch)
    with Index.open(tmp_path / "ix") as index:
        spec = index.export_encoder()
        assert spec.engine == "onnx" and spec.precision == "int8"
        assert index.search(lines[3], limit=3, mode="dense") == expected
    assert exported.read_bytes() == good
    assert not list(tmp_path.glob("ix/encoder.*"))
    cached = list((tmp_path / "cache").rglob("model.onnx"))
    assert cached and all(p.read_bytes() == good for p in cached)


def test_rebuild_encoder_with_another_model_is_refused_and_keeps_the_export(
    tmp_path, tiny_model, other_tiny_model
):
    from sisearch.errors import ModelMismatch

    Index.create(tmp_path / "ix", model=tiny_model).close()
    before = {p.name: p.read_bytes() for p in (tmp_path / "ix" / "encoder").iterdir()}
    with Index.open(tmp_path / "ix") as index, pytest.raises(ModelMismatch, match="weights"):
        index.export_encoder(other_tiny_model)
    after = {p.name: p.read_bytes() for p in (tmp_path / "ix" / "encoder").iterdir()}
    assert after == before
    assert not list(tmp_path.glob("ix/encoder.*"))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_weights_are_read_as_float32_from_each_stored_type(tmp_path, dtype):
    import torch
    from safetensors.torch import save_file

    values = torch.tensor([[1.5, -2.25, 0.0], [3.0, 1e-3, -7.0]], dtype=getattr(torch, dtype))
    save_file({"w": values, "v": values[0].clone()}, str(tmp_path / "w.safetensors"))
    read = read_weights(tmp_path / "w.safetensors")
    assert read["w"].dtype == np.float32 and read["w"].shape == (2, 3)
    np.testing.assert_array_equal(read["w"], values.float().numpy())
    np.testing.assert_array_equal(read["v"], values[0].float().numpy())


def test_ctrl_c_during_the_direct_export_leaves_no_files(tmp_path, tiny_model, monkeypatch):
    from sisearch.encoders import direct_export

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(direct_export, "save_optimized", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Index.create(tmp_path / "ix", model=tiny_model)
    assert not (tmp_path / "ix").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("kept")
    with pytest.raises(KeyboardInterrupt):
        Index.create(tmp_path / "mine", model=tiny_model)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "kept"
    assert not list((tmp_path / "mine").glob("encoder*"))
    assert not (tmp_path / "mine" / "manifest.json").exists()


def test_damaged_weights_fall_back_to_pytorch_and_its_clear_error(tmp_path, tiny_model):
    from sisearch import ModelLoadError

    folder = Path(shutil.copytree(tiny_model, tmp_path / "model"))
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # an interrupted copy
    assert direct_engine(str(folder), None, None, "int8", tmp_path / "encoder") is None
    with pytest.raises(ModelLoadError, match="model"):
        Index.create(tmp_path / "ix", model=str(folder))
    assert not (tmp_path / "ix").exists()
