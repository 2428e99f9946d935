"""STS pairs: validation with clear errors, and scores equal to sentence-transformers' evaluator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sisearch.cli import cli
from sisearch.errors import CorpusError
from sisearch.quality.sts import (
    Repeats,
    blank_pairs,
    ranks,
    read_sts_pairs,
    repeats,
    score_sts,
    sts_cosines,
)
from tests.conftest import ROOT

TRAIN, TEST = ROOT / "corpora" / "sts_train.csv", ROOT / "corpora" / "sts_test.csv"


def test_project_pairs_are_valid_and_spread() -> None:
    train, test = read_sts_pairs(TRAIN), read_sts_pairs(TEST)
    assert len(train) + len(test) >= 300
    labels = [p.label for p in train + test]
    assert min(labels) == 0.0 and max(labels) >= 0.9
    assert len({round(x, 1) for x in labels}) >= 6
    sentences = lambda pairs: {p.sentence_0 for p in pairs} | {p.sentence_1 for p in pairs}  # noqa: E731
    assert not sentences(train) & sentences(test)


def test_scores_equal_embedding_similarity_evaluator(tiny_encoder) -> None:
    from sentence_transformers.sentence_transformer.evaluation import (
        EmbeddingSimilarityEvaluator,
    )

    pairs = read_sts_pairs(TEST)
    ours = score_sts(tiny_encoder, pairs)
    evaluator = EmbeddingSimilarityEvaluator(
        [p.sentence_0 for p in pairs], [p.sentence_1 for p in pairs], [p.label for p in pairs]
    )
    theirs = evaluator(tiny_encoder.model)
    pearson = next(v for k, v in theirs.items() if k.endswith("pearson_cosine"))
    spearman = next(v for k, v in theirs.items() if k.endswith("spearman_cosine"))
    assert ours["pearson"] == pytest.approx(pearson, abs=1e-6)
    assert ours["spearman"] == pytest.approx(spearman, abs=1e-6)


def test_as_written_is_the_evaluators_number_on_zwj_text(tmp_path: Path, tiny_encoder) -> None:
    from sentence_transformers.sentence_transformer.evaluation import (
        EmbeddingSimilarityEvaluator,
    )

    zwj, lakuna = "\u200d", "\u0dca"
    rows = [
        (f"ශ{lakuna}{zwj}{zwj}රී ලංකාව", "ශ්‍රී ලංකාව", "1.0"),
        (f"ක{lakuna}{zwj}ෂේත්‍රය", f"ක{lakuna}ෂේත්‍රය  විශාලයි", "0.9"),
        (f"ශ{zwj}{lakuna}රී  පාලනය", "කොළඹ වරාය", "0.1"),
        ("ගාල්ල කොටුව", f"ගාල්ල{zwj} කොටුව පැරණි බලකොටුවකි", "0.8"),
        (f"ප{lakuna}{zwj}රධාන වීදිය", "නගරයේ ප්‍රධාන වීදිය", "0.6"),
        ("වැසි සහිත දිනයක්", f"අද වැස්ස{zwj} වැටෙයි", "0.5"),
    ]
    path = tmp_path / "zwj.csv"
    path.write_text(
        "sentence_0,sentence_1,label\n" + "".join(",".join(r) + "\n" for r in rows),
        encoding="utf-8",
    )
    written, normalized = read_sts_pairs(path, as_written=True), read_sts_pairs(path)
    assert [p.sentence_0 for p in written] == [r[0] for r in rows]
    assert [p.sentence_0 for p in written] != [p.sentence_0 for p in normalized]
    for pairs, as_written in ((written, True), (normalized, False)):
        cosines = sts_cosines(tiny_encoder, pairs, as_written)
        assert len({round(c, 4) for c in cosines}) == len(pairs)  # no tie for noise to break
        evaluator = EmbeddingSimilarityEvaluator(
            [p.sentence_0 for p in pairs], [p.sentence_1 for p in pairs], [p.label for p in pairs]
        )
        theirs = evaluator(tiny_encoder.model)
        spearman = next(v for k, v in theirs.items() if k.endswith("spearman_cosine"))
        ours = score_sts(tiny_encoder, pairs, as_written=as_written)
        assert ours["spearman"] == pytest.approx(spearman, abs=1e-6)
    result = CliRunner().invoke(
        cli, ["eval", "sts", str(path), "--model", tiny_encoder.name, "--as-written", "--json"]
    )
    assert result.exit_code == 0, result.output
    expected = score_sts(tiny_encoder, written, as_written=True)["spearman"]
    assert json.loads(result.stdout)["spearman"] == pytest.approx(expected, abs=1e-6)


def test_ranks_average_ties() -> None:
    assert list(ranks(__import__("numpy").array([3.0, 1.0, 3.0, 2.0]))) == [3.5, 1.0, 3.5, 2.0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\nx,y\n", "missing column(s) sentence_0, sentence_1, label"),
        ("sentence_0,sentence_1,label\nකොළඹ,ගාල්ල,high\nඅ,ආ,0.1\n", "label 'high' is not a number"),
        (
            "sentence_0,sentence_1,label\nකොළඹ,ගාල්ල,1.5\nඅ,ආ,0.1\n",
            r"bad\.csv:2: label 1\.5 is outside",
        ),
        ("sentence_0,sentence_1,label\nකොළඹ,ගාල්ල,0.5\n", "needs at least two pairs"),
    ],
)
def test_bad_csv_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_sts_pairs(path)


def test_cli_eval_sts(tiny_model, tiny_encoder) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["eval", "sts", str(TEST), "--model", tiny_model, "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    expected = score_sts(tiny_encoder, read_sts_pairs(TEST))
    assert scores["pairs"] == 73
    assert scores["spearman"] == pytest.approx(expected["spearman"], abs=1e-6)
    assert scores["pearson"] == pytest.approx(expected["pearson"], abs=1e-6)
    result = runner.invoke(cli, ["eval", "sts", str(TEST), "--model", tiny_model])
    assert f"{expected['spearman']:.4f}" in result.output
    result = runner.invoke(cli, ["eval", "sts", "nope.csv", "--model", tiny_model])
    assert result.exit_code == 1 and "nope.csv: no such file" in result.output


def test_repeated_pairs_are_kept_and_counted(tmp_path: Path, tiny_model: str) -> None:
    path = tmp_path / "real.csv"
    path.write_text(
        "sentence_0,sentence_1,label\n"
        "කොළඹ,ගාල්ල,0.5\n"
        "කොළඹ,ගාල්ල,0.5\n"
        "කොළඹ,ගාල්ල,0.4\n"
        "ගාල්ල,කොළඹ,0.5\n"
        "ශ්‍රී ලංකාව,ශ්රී ලංකාව,1.0\n"
        "ශ්රී ලංකාව,ශ්‍රී ලංකාව,1.0\n",
        encoding="utf-8",
    )
    pairs = read_sts_pairs(path)
    assert len(pairs) == 6
    assert repeats(pairs) == Repeats(same=3, conflicting=1, reversed=1)
    result = CliRunner().invoke(cli, ["eval", "sts", str(path), "--model", tiny_model])
    assert result.exit_code == 0, result.output
    assert (
        f"Note: {path}: 3 repeated pair(s) (1 with another label) and 1 pair(s) repeated in"
        " the other order; all are used" in " ".join(result.output.split())
    )
    result = CliRunner().invoke(cli, ["eval", "sts", str(path), "--model", tiny_model, "--json"])
    assert json.loads(result.stdout)["repeated"] == 3


def test_blank_sentences_are_kept_and_counted(tmp_path: Path, tiny_model: str) -> None:
    path = tmp_path / "real.csv"
    path.write_text(
        "sentence_0,sentence_1,label\nකොළඹ,ගාල්ල,0.5\nරතු,,0\n,\u200d,0\nඅ,ආ,0.1\n",
        encoding="utf-8",
    )
    pairs = read_sts_pairs(path)
    assert len(pairs) == 4 and blank_pairs(pairs) == 2
    result = CliRunner().invoke(cli, ["eval", "sts", str(path), "--model", tiny_model])
    assert result.exit_code == 0, result.output
    assert f"Note: {path}: 2 pair(s) with a blank sentence" in " ".join(result.output.split())
    result = CliRunner().invoke(cli, ["eval", "sts", str(path), "--model", tiny_model, "--json"])
    assert json.loads(result.stdout)["pairs"] == 4


def test_cli_eval_sts_plot(tmp_path, tiny_model) -> None:
    plot = tmp_path / "sts.png"
    result = CliRunner().invoke(
        cli, ["eval", "sts", str(TEST), "--model", tiny_model, "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 5000
