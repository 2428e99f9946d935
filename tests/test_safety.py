"""User text is never markup, and index names never leave the index directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from sisearch import Index
from sisearch.errors import InvalidIndexName
from sisearch.names import MAX_NAME_LENGTH, index_location, validate_index_name

HOSTILE_NAMES = ["../x", "/abs/path", "", "a/b", "..", ".", ".hidden", "a\\b", "x\x00y", "a b"]


@pytest.mark.parametrize("name", HOSTILE_NAMES + ["x" * (MAX_NAME_LENGTH + 1)])
def test_path_like_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidIndexName):
        index_location("indexes", name)


@pytest.mark.parametrize(
    "name", ["news", "news-2024", "v1.2_final", "ප්‍රවෘත්ති", "x" * MAX_NAME_LENGTH]
)
def test_plain_names_are_accepted(name: str) -> None:
    assert index_location("indexes", name) == Path("indexes") / validate_index_name(name)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("command", ["index", "query", "info", "delete", "rebuild"])
def test_every_command_refuses_bad_names_and_creates_nothing(
    run, tmp_path: Path, tiny_model: str, name: str, command: str
) -> None:
    (tmp_path / "c.txt").write_text("ලංකාව\n", encoding="utf-8")
    extra = {
        "index": ["c.txt", "--model", tiny_model],
        "query": ["ලංකාව"],
        "delete": ["--id", "1"],
    }.get(command, [])
    result = run(command, *extra, "--index", name)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--index'" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]
    assert not Path("/abs/path").exists()


@pytest.fixture
def bracket_index(run, tmp_path: Path, tiny_model: str) -> Path:
    corpus = tmp_path / "report[v2].txt"
    corpus.write_text("[bold]x කොළඹ\n[/] වරාය\n:smile: ලංකාව\n", encoding="utf-8")
    assert run("index", corpus.name, "--model", tiny_model, "-q").exit_code == 0
    return corpus


@pytest.mark.parametrize("query", ["[/]", "[bold]x", ":smile:", "[link=http://x]y[/link]"])
def test_queries_and_texts_print_as_typed(run, bracket_index: Path, query: str) -> None:
    result = run("query", query, "-k", "3")
    assert result.exit_code == 0, result.output
    assert query in result.output
    assert "report[v2].txt" in result.output
    assert "[bold]x කොළඹ" in result.output or "[/] වරාය" in result.output


def test_python_api_names_go_through_the_same_validation(tmp_path: Path, tiny_encoder) -> None:
    with pytest.raises(InvalidIndexName):
        Index.create(index_location(tmp_path, "../escape"), encoder=tiny_encoder)
    assert not (tmp_path.parent / "escape").exists()
