"""Query and document prompts: applied to queries and passages, recorded, honoured at query time."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from sisearch import Index
from sisearch.cli import cli
from sisearch.core.store import STORED_COSINE_ERROR
from sisearch.encoders.encoder import load_encoder
from sisearch.language.text import normalize
from tests.conftest import CORPUS

TEXTS = ["ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන", "කොළඹ වරාය"]
# The tiny test tokenizer knows only Sinhala: Latin prompts would all become one <unk>.
QUERY_PROMPT, DOCUMENT_PROMPT = "ප්‍රශ්නය: ", "ඡේදය: "


@pytest.fixture(scope="module")
def e5_style_model(tiny_model, tmp_path_factory) -> str:
    """The tiny model with named prompts in its config, as e5-style models ship them."""
    folder = tmp_path_factory.mktemp("e5") / "model"
    shutil.copytree(tiny_model, folder)
    config = folder / "config_sentence_transformers.json"
    data = json.loads(config.read_text())
    data["prompts"] = {"query": "query: ", "document": "passage: "}
    config.write_text(json.dumps(data))
    return str(folder)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_prompts_are_applied_like_sentence_transformers(tmp_path, tiny_model, precision) -> None:
    index = Index.create(
        tmp_path / "ix",
        model=tiny_model,
        precision=precision,
        query_prompt=QUERY_PROMPT,
        document_prompt=DOCUMENT_PROMPT,
    )
    model = load_encoder(tiny_model).model
    texts = [normalize(t) for t in TEXTS]
    expected_q = model.encode(texts, prompt=QUERY_PROMPT, normalize_embeddings=True)
    expected_d = model.encode(texts, prompt=DOCUMENT_PROMPT, normalize_embeddings=True)
    got_q, got_d = index.encoder.encode_queries(TEXTS), index.encoder.encode_documents(texts)
    tolerance = 1e-5 if precision == "fp32" else 2e-2
    np.testing.assert_allclose(got_q, expected_q, atol=tolerance)
    np.testing.assert_allclose(got_d, expected_d, atol=tolerance)
    assert not np.allclose(got_q, got_d, atol=1e-3)


def test_prompts_are_recorded_and_used_after_reopening(tmp_path, tiny_model) -> None:
    index = Index.create(
        tmp_path / "ix",
        model=tiny_model,
        precision="fp32",
        query_prompt=QUERY_PROMPT,
        document_prompt=DOCUMENT_PROMPT,
    )
    index.add(TEXTS)
    index.close()
    reopened = Index.open(tmp_path / "ix")
    info = reopened.info()
    assert (info["query_prompt"], info["document_prompt"]) == (QUERY_PROMPT, DOCUMENT_PROMPT)
    model = load_encoder(tiny_model).model
    texts = [normalize(TEXTS[0])]
    query = model.encode(texts, prompt=QUERY_PROMPT, normalize_embeddings=True)
    doc = model.encode(texts, prompt=DOCUMENT_PROMPT, normalize_embeddings=True)
    assert not np.allclose(query, doc, atol=1e-3)
    # Each prompt recorded is the one used: the reopened encoder matches PyTorch's.
    np.testing.assert_allclose(reopened.encoder.encode_queries(TEXTS[:1]), query, atol=1e-5)
    np.testing.assert_allclose(reopened.encoder.encode_documents(texts), doc, atol=1e-5)
    hit = reopened.search(TEXTS[0], limit=1, mode="dense")[0]
    # A reopened index's dense score may come from the stored float16 embedding, within
    # the bound test_index holds every score to (CI runs measured 1.9e-5 and 6.4e-5 off).
    assert hit.score == pytest.approx(float(query[0] @ doc[0]), abs=STORED_COSINE_ERROR)


def test_the_models_own_named_prompts_are_the_default(tmp_path, e5_style_model) -> None:
    encoder = load_encoder(e5_style_model)
    assert (encoder.query_prompt, encoder.document_prompt) == ("query: ", "passage: ")
    assert (load_encoder(e5_style_model, "", "").query_prompt) == ""
    index = Index.create(tmp_path / "ix", model=e5_style_model)
    assert index.manifest.model.query_prompt == "query: "


def test_a_different_prompt_is_a_different_model(tmp_path, tiny_model) -> None:
    from sisearch import ModelMismatch

    index = Index.create(tmp_path / "ix", model=tiny_model, query_prompt="query: ")
    index.close()
    with pytest.raises(ModelMismatch, match="query_prompt differs"):
        Index.open(tmp_path / "ix", encoder=load_encoder(tiny_model))


def test_cli_prompts(tmp_path, tiny_model, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "index",
            str(CORPUS),
            "--model",
            tiny_model,
            "--query-prompt",
            "query: ",
            "--document-prompt",
            "passage: ",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "prompts: query 'query: ', passage 'passage: '" in result.output
    info = json.loads(runner.invoke(cli, ["info", "--json"]).output)
    assert (info["query_prompt"], info["document_prompt"]) == ("query: ", "passage: ")
    result = runner.invoke(cli, ["index", str(CORPUS), "--query-prompt", "q: "])
    assert result.exit_code == 2 and "prompts apply when an index is created" in result.output
