"""The ONNX engine: int8 by default where it keeps quality, fp32 on request, recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sisearch import Index, ModelLoadError
from sisearch.cli import cli
from sisearch.core.store import STORED_COSINE_ERROR
from sisearch.language.text import normalize
from tests.conftest import CORPUS


@pytest.fixture
def lines(corpus_lines: list[str]) -> list[str]:
    return [normalize(line) for line in corpus_lines]


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_onnx_engine_agrees_with_pytorch_fp32(tmp_path, tiny_encoder, lines, precision):
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision=precision)
    assert (index.manifest.encoder.engine, index.manifest.encoder.precision) == ("onnx", precision)
    fast = index.encoder.encode_documents(lines)
    exact = tiny_encoder.encode_documents(lines)
    cosines = (fast * exact).sum(axis=1)
    assert cosines.mean() >= 0.99 and cosines.min() >= 0.98
    if precision == "fp32":
        np.testing.assert_allclose(fast, exact, atol=1e-5)
    queries = ["ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන", "සෞඛ්‍ය සේවා"]
    q_fast, q_exact = index.encoder.encode_queries(queries), tiny_encoder.encode_queries(queries)
    assert ((q_fast * q_exact).sum(axis=1) >= 0.99).all()


def test_token_offsets_match_the_model_tokenizer(tmp_path, tiny_encoder, lines) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    assert index.encoder.token_offsets(lines) == tiny_encoder.token_offsets(lines)
    assert index.encoder.max_passage_tokens == tiny_encoder.max_passage_tokens


def test_int8_index_finds_each_passage_by_its_own_text(tmp_path, tiny_encoder, lines) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    index.add(lines)
    for text in lines[::25]:
        assert index.search(text, limit=1, mode="dense")[0].text == text


def test_precision_is_recorded_and_honoured_after_reopening(tmp_path, tiny_model) -> None:
    index = Index.create(tmp_path / "ix", model=tiny_model, precision="fp32")
    index.add(["කොළඹ වරාය"])
    index.close()
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    assert manifest["encoder"]["precision"] == "fp32" and manifest["encoder"]["engine"] == "onnx"
    reopened = Index.open(tmp_path / "ix")
    assert reopened.encoder.precision == "fp32"
    assert reopened.info()["precision"] == "fp32"
    assert reopened.search("කොළඹ", limit=1)[0].text == "කොළඹ වරාය"


def test_a_write_reads_tokenizer_json_once(tmp_path, tiny_model, monkeypatch) -> None:
    import tokenizers

    index = Index.create(tmp_path / "ix", model=tiny_model)
    index.close()
    loads = []
    real = tokenizers.Tokenizer

    class Counting:
        @staticmethod
        def from_file(path: str) -> tokenizers.Tokenizer:
            loads.append(path)
            return real.from_file(path)

    monkeypatch.setattr(tokenizers, "Tokenizer", Counting)
    reopened = Index.open(tmp_path / "ix")
    reopened.add(["ගාල්ල කොටුව " * 80, "කොළඹ වරාය"])  # one passage cut into chunks
    assert len(loads) == 1


def test_truncated_ids_equal_the_truncating_tokenizers(tmp_path, tiny_encoder, lines) -> None:
    from tokenizers import Tokenizer

    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    engine = index.encoder
    truncating = Tokenizer.from_file(str(tmp_path / "ix" / "encoder" / "tokenizer.json"))
    truncating.enable_truncation(engine.max_seq_length)
    truncating.no_padding()
    texts = [" ".join(lines[i : i + n]) for i in range(0, 60, 3) for n in (1, 4, 12)]
    texts += ["", "<mask> </s> x", "ක" * 600]
    expected = [e.ids for e in truncating.encode_batch(texts)]
    assert sum(len(ids) == engine.max_seq_length for ids in expected) > 5  # some were cut
    assert engine._truncated_ids(texts) == expected


def test_int8_that_drifts_on_the_users_passages_falls_back_to_fp32(
    tmp_path, tiny_encoder, lines, monkeypatch
) -> None:
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    assert index.manifest.encoder.precision == "int8"
    monkeypatch.setattr("sisearch.core.writer.MIN_MEAN_COSINE", 1.01)
    result = index.add(lines[:20])
    assert index.manifest.encoder.precision == "fp32"
    assert result.notes and "too far from fp32" in result.notes[0]
    stored = np.vstack([v for _, v in index.store.iter_embeddings()])
    fp32 = tiny_encoder.encode_documents(lines[:20])
    np.testing.assert_allclose(stored, fp32, atol=STORED_COSINE_ERROR)  # float16 in the store


def test_int8_that_drifts_on_the_check_sentences_is_never_used(
    tmp_path, tiny_encoder, monkeypatch
) -> None:
    monkeypatch.setattr("sisearch.encoders.onnx.MIN_MEAN_COSINE", 1.01)
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    assert index.manifest.encoder.precision == "fp32"
    assert "too far from fp32" in index.manifest.encoder.note


def test_damaged_export_is_a_clear_error_and_rebuild_encoder_repairs_it(
    tmp_path, tiny_model, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["index", str(CORPUS), "--model", tiny_model, "-q"]).exit_code == 0
    (tmp_path / "indexes" / "default" / "encoder" / "model.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match="rebuild --encoder"):
        Index.open(tmp_path / "indexes" / "default").search("ලංකාව", mode="dense")
    result = runner.invoke(cli, ["query", "ලංකාව"])
    assert result.exit_code == 1 and "sisearch rebuild --encoder" in result.output
    result = runner.invoke(cli, ["rebuild", "--encoder"])
    assert result.exit_code == 0, result.output
    assert "Exported the encoder of indexes/default: onnx int8" in result.output
    assert runner.invoke(cli, ["query", "ලංකාව", "--json"]).exit_code == 0


def test_precision_of_an_existing_index_cannot_change(tmp_path, tiny_model, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    created = runner.invoke(cli, ["index", str(CORPUS), "--model", tiny_model])
    assert "encoding with onnx int8 (mean cosine to fp32" in created.output
    result = runner.invoke(cli, ["index", str(CORPUS), "--precision", "fp32"])
    assert (
        result.exit_code == 2
        and "the engine and precision are chosen when an index is created" in result.output
    )
    result = runner.invoke(cli, ["index", str(CORPUS), "--engine", "torch"])
    assert result.exit_code == 2 and "encodes with onnx int8" in result.output


def test_torch_engine_index_skips_the_export(tmp_path, tiny_model, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    created = runner.invoke(cli, ["index", str(CORPUS), "--model", tiny_model, "--engine", "torch"])
    assert created.exit_code == 0, created.output
    assert "encoding with torch fp32" in created.output
    assert not (tmp_path / "indexes" / "default" / "encoder").exists()
    output = runner.invoke(cli, ["query", "ලංකාව", "--json"]).stdout
    hits = [json.loads(line) for line in output.splitlines()]
    assert hits and all(h["cosine"] is not None for h in hits)
    refused = runner.invoke(
        cli, ["index", str(CORPUS), "--engine", "torch", "--precision", "int8", "--index", "b"]
    )
    assert refused.exit_code != 0 and "precision must be one of fp32" in refused.output


def test_query_process_never_imports_torch(tmp_path, tiny_model, monkeypatch) -> None:
    """Nor anything else a query does not use: sqlite-utils (writes only), the write path,
    the document readers."""
    monkeypatch.chdir(tmp_path)
    assert (
        CliRunner().invoke(cli, ["index", str(CORPUS), "--model", tiny_model, "-q"]).exit_code == 0
    )
    code = (
        "import sys; from sisearch.cli import main\n"
        "sys.argv = ['sisearch', 'query', 'ලංකාව', '--json', '-k', '2']\n"
        "try: main()\nexcept SystemExit as e: assert not e.code, e.code\n"
        "heavy = ('torch', 'sentence_transformers', 'transformers', 'pandas', 'pyarrow', 'ray',"
        " 'sqlite_utils', 'sisearch.core.writer', 'sisearch.documents.reading',"
        " 'sisearch.cli.indexing', 'rich')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2


def test_the_command_line_starts_without_heavy_imports() -> None:
    code = (
        "import sys, sisearch.cli\n"
        "heavy = ('torch', 'sentence_transformers', 'transformers', 'faiss', 'pandas',"
        " 'pyarrow', 'ray', 'onnxruntime')\n"
        "print(' '.join(m for m in heavy if sys.modules.get(m) is not None))\n"
        "import importlib.util  # pandas, where installed, is still importable after\n"
        "if importlib.util.find_spec('pandas'): import pandas  # sqlite-utils hid it\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_the_token_embeddings_live_outside_the_graph(tmp_path, tiny_encoder, lines, precision):
    """Format 2: the matrix is its own file (int8 with a scale a row for int8), mapped at
    query time; the graph starts from token vectors and is a fraction of the export."""
    from sisearch.encoders.onnx import EMBEDDING_SCALES_FILE, EMBEDDINGS_FILE, MODEL_FILE

    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision=precision)
    folder = index.path / "encoder"
    config = json.loads((folder / "encoder.json").read_text())
    assert config["format"] == 2
    matrix = np.load(folder / EMBEDDINGS_FILE, mmap_mode="r")
    vocabulary, dim = tiny_encoder.model[0].auto_model.get_input_embeddings().weight.shape
    assert matrix.shape == (vocabulary, dim)
    assert matrix.dtype == (np.int8 if precision == "int8" else np.float32)
    assert (folder / EMBEDDING_SCALES_FILE).exists() == (precision == "int8")
    import onnx

    graph = onnx.load(str(folder / MODEL_FILE))
    assert [i.name for i in graph.graph.input] == ["inputs_embeds", "attention_mask"]
    assert all(vocabulary not in t.dims for t in graph.graph.initializer)
    # The reference model got its own embedding matrix back after the export.
    again = tiny_encoder.encode_documents(lines[:5])
    np.testing.assert_allclose(again, index.encoder.encode_documents(lines[:5]), atol=0.05)


def test_a_model_that_cannot_take_token_vectors_is_exported_whole(
    tmp_path, tiny_encoder, lines, monkeypatch
) -> None:
    from sisearch.encoders import onnx as onnx_encoder

    def refuse(*args, **kwargs):
        raise RuntimeError("no inputs_embeds here")

    monkeypatch.setattr(onnx_encoder, "_export_from_vectors", refuse)
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="fp32")
    assert json.loads((index.path / "encoder" / "encoder.json").read_text())["format"] == 1
    assert not (index.path / "encoder" / onnx_encoder.EMBEDDINGS_FILE).exists()
    np.testing.assert_allclose(
        index.encoder.encode_documents(lines), tiny_encoder.encode_documents(lines), atol=1e-5
    )


def test_indexes_exported_whole_before_format_2_still_answer(tmp_path, tiny_encoder, lines):
    """An index from before the token embeddings moved out of the graph (format 1, no
    "format" key) is read as it is, without re-exporting."""
    from sisearch.encoders import onnx as onnx_encoder

    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="int8")
    index.add(lines[:40])
    index.close()
    folder = tmp_path / "ix" / "encoder"
    for name in list(folder.iterdir()):
        name.unlink()
    onnx_encoder._export_from_ids(tiny_encoder.model, folder, "int8")
    config = json.loads((folder / "encoder.json").read_text())
    del config["format"]
    (folder / "encoder.json").write_text(json.dumps(config))
    reopened = Index.open(tmp_path / "ix")
    assert reopened.encoder.format == 1
    assert reopened.search(lines[3], limit=1, mode="dense")[0].text == lines[3]


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 130), min_size=0, max_size=60),
    budget=st.integers(1, 600),
    most=st.one_of(st.none(), st.integers(1, 40)),
)
def test_token_batches_cover_every_text_once_within_the_budget(lengths, budget, most) -> None:
    from sisearch.encoders.onnx import token_batches

    batches = list(token_batches(lengths, budget, most))
    assert [i for start, end in batches for i in range(start, end)] == list(range(len(lengths)))
    for start, end in batches:
        assert end > start
        assert most is None or end - start <= most
        assert end - start == 1 or max(lengths[start:end]) * (end - start) <= budget


def test_token_budget_batching_returns_embeddings_in_input_order(tmp_path, tiny_encoder, lines):
    # fp32: int8 quantizes activations per batch, so its vectors move a little with company.
    index = Index.create(tmp_path / "ix", encoder=tiny_encoder, precision="fp32")
    shuffled = lines[::-1][:80] + ["කොළඹ", lines[0] * 3]
    together = index.encoder.encode_documents(shuffled)
    one_by_one = np.stack([index.encoder.encode_documents([t])[0] for t in shuffled])
    np.testing.assert_allclose(together, one_by_one, atol=1e-4)
    for batch_size in (1, 3):
        np.testing.assert_allclose(
            index.encoder.encode_documents(shuffled, batch_size=batch_size), one_by_one, atol=1e-4
        )


def test_overlapping_queries_use_one_thread_sessions_and_give_the_same_bits(
    tmp_path, tiny_encoder, lines
) -> None:
    """A server's concurrent queries run on a session per core (1.33x the queries a second
    here); each answer must be bit for bit what a lone query gets."""
    from concurrent.futures import ThreadPoolExecutor

    index = Index.create(tmp_path / "ix", encoder=tiny_encoder)
    encoder = index.encoder
    queries = lines[:40]
    alone = [encoder.encode_queries([q])[0] for q in queries]
    assert encoder._workers is None  # lone queries keep the two-thread session
    with encoder._counted(), ThreadPoolExecutor(8) as pool:  # as if another query ran
        together = list(pool.map(lambda q: encoder.encode_queries([q])[0], queries))
    assert all(np.array_equal(a, b) for a, b in zip(alone, together))
    if (os.cpu_count() or 1) > 1:
        assert encoder._workers is not None
    index.close()
