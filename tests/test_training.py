"""`sisearch train`: the recipe learns, is deterministic for a seed, never leaves half a model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sisearch import Index, OutputExists
from sisearch.cli import cli
from sisearch.encoders.encoder import load_encoder
from sisearch.quality.sts import read_sts_pairs, score_sts
from sisearch.quality.training import RECIPES, TrainingConfig, train
from tests.conftest import ROOT

TRAIN = ROOT / "corpora" / "sts_train.csv"


@pytest.fixture(scope="module")
def pairs():
    return read_sts_pairs(TRAIN)


def weights(folder: Path) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def test_training_raises_spearman_on_its_pairs(tmp_path, tiny_model, pairs) -> None:
    config = TrainingConfig(epochs=3, learning_rate=1e-3, batch_size=8)
    result = train(tiny_model, pairs, tmp_path / "m", config, eval_pairs=pairs)
    assert result.scores_after["spearman"] > result.scores_before["spearman"] + 0.02
    trained = load_encoder(str(tmp_path / "m"))
    assert score_sts(trained, pairs)["spearman"] == pytest.approx(
        result.scores_after["spearman"], abs=1e-4
    )
    record = json.loads((tmp_path / "m" / "sisearch_training.json").read_text())
    assert record["base_model"] == tiny_model and record["train_pairs"] == len(pairs)
    assert record["hyperparameters"]["learning_rate"] == 1e-3
    assert {"torch", "sentence_transformers", "transformers"} <= set(record["versions"])
    assert "CosineSimilarityLoss" in (tmp_path / "m" / "README.md").read_text()
    index = Index.create(tmp_path / "ix", model=str(tmp_path / "m"))
    index.add([p.sentence_0 for p in pairs[:20]])
    assert index.search(pairs[0].sentence_0, limit=1, mode="dense")[0].text == pairs[0].sentence_0


def test_same_seed_gives_identical_weights(tmp_path, tiny_model, pairs) -> None:
    config = TrainingConfig(max_steps=6)
    train(tiny_model, pairs, tmp_path / "a", config)
    train(tiny_model, pairs, tmp_path / "b", config)
    train(tiny_model, pairs, tmp_path / "c", TrainingConfig(max_steps=6, seed=7))
    a, b, c = weights(tmp_path / "a"), weights(tmp_path / "b"), weights(tmp_path / "c")
    assert all((a[k] == b[k]).all() for k in a)
    assert any((a[k] != c[k]).any() for k in a)


def test_seed_recipe_is_the_seed_encoders_own() -> None:
    config = RECIPES["seed"]
    assert config == TrainingConfig()
    assert (config.batch_size, config.epochs, config.learning_rate, config.warmup_steps) == (
        4,
        1,
        5e-5,
        0,
    )
    assert (config.seed, config.max_seq_length) == (42, 128)
    assert (config.loss, config.freeze_embeddings) == ("cosine-mse", False)


def test_sisearch_recipe_ranks_and_keeps_the_word_embeddings(tmp_path, tiny_model, pairs):
    config = RECIPES["sisearch"]
    assert (config.loss, config.freeze_embeddings) == ("cosent", True)
    tuned = dataclasses.replace(config, learning_rate=1e-3, epochs=3, batch_size=8)
    result = train(tiny_model, pairs, tmp_path / "m", tuned, eval_pairs=pairs, recipe="sisearch")
    assert result.scores_after["spearman"] > result.scores_before["spearman"] + 0.02
    before, after = weights(Path(tiny_model)), weights(tmp_path / "m")
    embedding = next(k for k in after if k.endswith("word_embeddings.weight"))
    assert (before[embedding] == after[embedding]).all()
    assert any((before[k] != after[k]).any() for k in after if k != embedding)
    card = (tmp_path / "m" / "README.md").read_text()
    assert "recipe `sisearch`" in card and "CoSENT" in card and "frozen: word embeddings" in card


def test_keep_base_averages_the_trained_weights_with_the_base(tmp_path, tiny_model, pairs):
    config = dataclasses.replace(RECIPES["sisearch"], max_steps=4, learning_rate=1e-3)
    train(tiny_model, pairs, tmp_path / "full", dataclasses.replace(config, keep_base=0.0))
    train(tiny_model, pairs, tmp_path / "half", dataclasses.replace(config, keep_base=0.5))
    base, full, half = (
        weights(f) for f in (Path(tiny_model), tmp_path / "full", tmp_path / "half")
    )
    changed = [k for k in base if (full[k] != base[k]).any()]
    assert changed
    for key in changed:
        assert abs(half[key] - (full[key] + base[key]) / 2).max() < 1e-5
    with pytest.raises(ValueError, match="keep_base"):
        TrainingConfig(keep_base=1.0)


def test_cosent_is_zero_only_when_the_order_is_right() -> None:
    import torch

    from sisearch.quality.training import _cosent

    labels = torch.tensor([0.1, 0.5, 0.9])
    right = _cosent(torch.tensor([0.0, 0.5, 1.0]), labels)
    wrong = _cosent(torch.tensor([1.0, 0.5, 0.0]), labels)
    assert float(right) < 0.01 < float(wrong)
    assert float(_cosent(torch.tensor([0.2, 0.2]), torch.tensor([0.5, 0.5]))) == 0.0


def test_interrupted_training_leaves_no_model_folder(tmp_path, tiny_model, pairs, monkeypatch):
    from sentence_transformers import SentenceTransformer

    def crash(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(SentenceTransformer, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_model, pairs, tmp_path / "m", TrainingConfig(max_steps=2))
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_refused(tmp_path, tiny_model, pairs) -> None:
    (tmp_path / "m").mkdir()
    with pytest.raises(OutputExists, match="already exists"):
        train(tiny_model, pairs, tmp_path / "m")


def test_cli_train(tmp_path, tiny_model, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    test_file = str(ROOT / "corpora" / "sts_test.csv")
    result = runner.invoke(
        cli,
        [
            "train",
            str(TRAIN),
            "--base",
            tiny_model,
            "--out",
            "m",
            "--max-steps",
            "3",
            "--eval",
            test_file,
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        result.output.startswith("Wrote m: 3 steps on 231 pairs") and "Spearman on" in result.output
    )
    record = json.loads((tmp_path / "m" / "sisearch_training.json").read_text())
    assert record["recipe"] == "sisearch, with max_steps changed"
    assert record["hyperparameters"]["loss"] == "cosent"
    seed = runner.invoke(
        cli,
        ["train", str(TRAIN), "--base", tiny_model, "--out", "s", "--recipe", "seed"]
        + ["--max-steps", "2", "--learning-rate", "1e-4", "--quiet"],
    )
    assert seed.exit_code == 0, seed.output
    record = json.loads((tmp_path / "s" / "sisearch_training.json").read_text())
    assert record["recipe"] == "seed, with learning_rate, max_steps changed"
    assert record["hyperparameters"]["batch_size"] == 4
    assert record["hyperparameters"]["learning_rate"] == 1e-4
    again = runner.invoke(cli, ["train", str(TRAIN), "--base", tiny_model, "--out", "m"])
    assert again.exit_code == 1 and "m already exists" in again.output
    (tmp_path / "bad.csv").write_text("sentence_0,sentence_1\na,b\n", encoding="utf-8")
    bad = runner.invoke(cli, ["train", "bad.csv", "--base", tiny_model, "--out", "n"])
    assert bad.exit_code == 1 and "missing column(s) label" in bad.output
