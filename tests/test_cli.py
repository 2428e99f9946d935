"""The `sisearch` command: every command and option, exact JSON fields and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS, CORPUS_JSONL, HIT_FIELDS

HIT_FIELDS = {"query", *HIT_FIELDS}


@pytest.fixture
def indexed(run, tiny_model):
    result = run("index", str(CORPUS), "--model", tiny_model)
    assert result.exit_code == 0, result.output
    return result


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_index_creates_default_index_in_indexes(indexed, tmp_path: Path) -> None:
    assert (tmp_path / "indexes" / "default" / "manifest.json").exists()
    assert (
        "312 passages, 312 added, 0 already indexed or repeated; 312 chunks encoded"
        in indexed.output
    )


def test_reindexing_adds_nothing(indexed, run) -> None:
    result = run("index", str(CORPUS))
    assert result.exit_code == 0
    assert (
        "312 passages, 0 added, 312 already indexed or repeated; 0 chunks encoded" in result.output
    )


def test_quiet_prints_nothing(run, tiny_model) -> None:
    result = run("index", str(CORPUS), "--model", tiny_model, "--quiet")
    assert (result.exit_code, result.output) == (0, "")


def test_query_json_fields_and_order(indexed, run) -> None:
    result = run("query", "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන", "-k", "5", "--json")
    assert result.exit_code == 0, result.output
    hits = json_lines(result.output)
    assert len(hits) == 5
    assert all(set(hit) == HIT_FIELDS for hit in hits)
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert all(h["source"] == str(CORPUS) and isinstance(h["line"], int) for h in hits)
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    from sisearch.language.text import normalize

    assert all(normalize(lines[h["line"] - 1]) == h["text"] for h in hits)


def test_query_table(indexed, run) -> None:
    import re

    expected = json_lines(run("query", "සීගිරිය", "-k", "3", "--json").output)
    result = run("query", "සීගිරිය", "-k", "3")
    assert result.exit_code == 0
    assert "score" in result.output and "source" in result.output
    rows = re.findall(r"^│ (\d) │ (\d\.\d{4}) │", result.output, flags=re.MULTILINE)
    assert rows == [(str(h["rank"]), f"{h['score']:.4f}") for h in expected]


def test_queries_file_is_one_batch(indexed, run, tmp_path: Path) -> None:
    (tmp_path / "q.txt").write_text("සීගිරිය\n\nවී වගාව\n", encoding="utf-8")
    hits = json_lines(run("query", "--queries", "q.txt", "-k", "2", "--json").output)
    assert [(h["query"], h["rank"]) for h in hits] == [
        ("සීගිරිය", 1),
        ("සීගිරිය", 2),
        ("වී වගාව", 1),
        ("වී වගාව", 2),
    ]
    stdin_hits = json_lines(
        run("query", "--queries", "-", "-k", "1", "--json", input="සීගිරිය\n").output
    )
    assert stdin_hits[0]["doc_id"] == hits[0]["doc_id"]


def test_jsonl_metadata_and_text_field(run, tiny_model, tmp_path: Path) -> None:
    result = run("index", str(CORPUS_JSONL), "--model", tiny_model, "--index", "topics")
    assert result.exit_code == 0, result.output
    hits = json_lines(run("query", "තේ වගාව", "--index", "topics", "--json", "-k", "3").output)
    assert all(set(h["metadata"]) == {"id", "topic"} for h in hits)
    (tmp_path / "c.csv").write_text("body,topic\nකොළඹ වරාය,port\n", encoding="utf-8")
    result = run("index", "c.csv", "--text-field", "body", "--index", "csv", "--model", tiny_model)
    assert result.exit_code == 0, result.output
    (hit,) = json_lines(run("query", "වරාය", "--index", "csv", "--json").output)
    assert (hit["text"], hit["metadata"], hit["line"]) == ("කොළඹ වරාය", {"topic": "port"}, 2)


def test_stdin_corpus(run, tiny_model) -> None:
    result = run("index", "-", "--model", tiny_model, input="ලංකාව\nකොළඹ\n")
    assert result.exit_code == 0, result.output
    hits = json_lines(run("query", "කොළඹ", "--json").output)
    assert {h["source"] for h in hits} == {"-"}


def test_index_dir_option_and_environment(run, tiny_model, tmp_path: Path, monkeypatch) -> None:
    assert run("index", str(CORPUS), "--model", tiny_model, "--index-dir", "a", "-q").exit_code == 0
    assert (tmp_path / "a" / "default" / "manifest.json").exists()
    monkeypatch.setenv("SISEARCH_INDEX_DIR", str(tmp_path / "a"))
    assert run("query", "ලංකාව", "--json", "-k", "1").exit_code == 0
    monkeypatch.setenv("SISEARCH_MODEL", tiny_model)
    assert run("index", str(CORPUS), "--index", "b", "-q").exit_code == 0
    assert json.loads(run("info", "--index", "b", "--json").output)["model"] == tiny_model


def test_info_json(indexed, run, tiny_model) -> None:
    result = run("info", "--json")
    info = json.loads(result.output)
    assert {
        "documents",
        "chunks",
        "model",
        "dim",
        "normalization",
        "index_type",
        "database_bytes",
        "vectors_bytes",
    } <= set(info)
    assert (info["documents"], info["chunks"], info["model"], info["dim"]) == (
        312,
        312,
        tiny_model,
        64,
    )
    assert info["normalization"] == "si-2" and info["index_type"] == "auto"
    assert info["vectors_kind"] == "flat"
    assert info["database_bytes"] > 0 and info["vectors_bytes"] > 0
    assert "documents" in run("info").output


def test_list(indexed, run, tiny_model) -> None:
    rows = json_lines(run("list", "--json").output)
    assert [(r["name"], r["documents"], r["model"]) for r in rows] == [("default", 312, tiny_model)]
    assert "default" in run("list").output


def test_list_without_indexes(run) -> None:
    result = run("list")
    assert result.exit_code == 0 and "No indexes in indexes" in result.output


def test_rebuild(indexed, run, tmp_path: Path) -> None:
    (tmp_path / "indexes" / "default" / "vectors.faiss").unlink()
    result = run("rebuild")
    assert (result.exit_code, result.output.strip()) == (
        0,
        "Rebuilt indexes/default: 312 vectors (flat)",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("query", "ලංකාව", "-k", "0"), "0 is not in the range x>=1"),
        (("query",), "give either a query TEXT or --queries FILE"),
        (("query", "a", "--queries", "-"), "give either a query TEXT or --queries FILE"),
        (("index", "-", "-"), "stdin (-) can be read only once"),
        (("index",), "give at least one corpus PATH (or --embeddings)"),
    ],
)
def test_usage_errors_exit_2(run, args, message) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output


def error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    return lines[0]


def test_missing_index(run) -> None:
    assert error_line(run("query", "ලංකාව")) == (
        "Error: No index at indexes/default. Create one with: sisearch index CORPUS [--index NAME]"
    )
    assert "No index at indexes/default" in error_line(run("info"))


def test_other_model_is_refused(indexed, run, other_tiny_model) -> None:
    line = error_line(run("index", str(CORPUS), "--model", other_tiny_model))
    assert "does not match the index" in line and "weights differ" in line


def test_bad_corpus_files_fail_cleanly_and_write_nothing(run, tiny_model, tmp_path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"ok\n\xff\xfe broken\n")
    assert error_line(run("index", "bad.txt", "--model", tiny_model)) == (
        "Error: bad.txt:2: invalid UTF-8 (byte 0xff at column 1); convert the file to UTF-8 first"
    )
    (tmp_path / "blank.txt").write_text("\n \n", encoding="utf-8")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    assert "binary" in error_line(run("index", "blob.bin", "--model", tiny_model))
    assert "no such file" in error_line(run("index", "nope.txt", "--model", tiny_model))
    assert not (tmp_path / "indexes").exists()
    line = error_line(run("index", "blank.txt", "--model", tiny_model))
    assert line == "Error: blank.txt: the corpus has no non-blank passages"


def test_bad_file_among_good_ones_is_found_before_indexing(run, tiny_model, tmp_path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"\xc3\x28\n")
    result = run("index", str(CORPUS), "bad.txt", "--model", tiny_model)
    assert "bad.txt:1: invalid UTF-8" in error_line(result)
    assert not (tmp_path / "indexes").exists()


def test_megabyte_line_is_indexed_in_chunks(run, tiny_model, tmp_path) -> None:
    line = ("ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන බොහෝ ය. " * 40000)[: 1024 * 1024 // 3]
    (tmp_path / "big.txt").write_text(line + "\nකොළඹ\n", encoding="utf-8")
    result = run("index", "big.txt", "--model", tiny_model, "-q")
    assert result.exit_code == 0, result.output
    info = json.loads(run("info", "--json").output)
    assert info["documents"] == 2 and info["chunks"] > 100


def test_unloadable_model(run, tmp_path) -> None:
    line = error_line(run("index", str(CORPUS), "--model", "./no-such-model"))
    assert line.startswith("Error: Cannot load model './no-such-model': no such folder. Fix:")


def test_help_does_not_import_torch() -> None:
    code = (
        "import sys; from sisearch.cli import main; sys.argv=['sisearch','--help'];\n"
        "try: main()\nexcept SystemExit as e: assert e.code in (0, None), e.code\n"
        "assert 'torch' not in sys.modules and 'faiss' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_info_does_not_import_torch(indexed, tmp_path) -> None:
    code = (
        "import sys; from sisearch.cli import main; sys.argv=['sisearch','info'];\n"
        "try: main()\nexcept SystemExit as e: assert e.code in (0, None), e.code\n"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=tmp_path)


def test_python_m_sisearch(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sisearch", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "sisearch, version 0.1.0"


def test_a_reader_that_stops_early_ends_the_query_quietly(run, tiny_model, tmp_path) -> None:
    """`sisearch query ... | head`: no error line when the reader closes the pipe."""
    corpus = tmp_path / "many.txt"
    corpus.write_text("".join(f"ලංකාව {n}\n" for n in range(3000)), encoding="utf-8")
    assert run("index", str(corpus), "--model", tiny_model, "-q").exit_code == 0
    command = [sys.executable, "-m", "sisearch", "query", "ලංකාව", "-k", "3000", "--json"]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(10)
    process.stdout.close()  # far less than the answer, which fills the pipe
    errors = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert errors == ""
