"""Reading corpus files: formats, line numbers, metadata, and refusing bad input clearly."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sisearch.documents.corpus import MAX_PASSAGE_BYTES, read_corpus, require_passages
from sisearch.errors import CorpusError, EmptyCorpus


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_txt_yields_non_blank_lines_with_1_based_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "c.txt", "ලංකාව\n\n   \nකොළඹ\r\n".encode())
    docs = list(read_corpus(path))
    assert [(d.text, d.line) for d in docs] == [("ලංකාව", 1), ("කොළඹ", 4)]
    assert docs[0].source == str(path)


def test_bom_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path / "c.txt", "\ufeffලංකාව\n".encode())
    assert [d.text for d in read_corpus(path)] == ["ලංකාව"]


def test_jsonl_text_field_and_metadata(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.jsonl",
        '{"body": "ලංකාව", "topic": "geo", "n": 3}\n\n{"body": "කොළඹ"}\n'.encode(),
    )
    docs = list(read_corpus(path, text_field="body"))
    assert [(d.text, d.line, d.metadata) for d in docs] == [
        ("ලංකාව", 1, {"topic": "geo", "n": 3}),
        ("කොළඹ", 3, {}),
    ]


def test_jsonl_missing_field_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.jsonl", b'{"text": "a"}\n{"body": "b"}\n')
    with pytest.raises(CorpusError, match=r"c\.jsonl:2: no string field 'text'"):
        list(read_corpus(path))


def test_jsonl_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.jsonl", b'{"text": "a"}\n{oops\n')
    with pytest.raises(CorpusError, match=r"c\.jsonl:2: invalid JSON"):
        list(read_corpus(path))


def test_csv_and_tsv_rows_with_metadata_and_line_numbers(tmp_path: Path) -> None:
    csv_path = write(
        tmp_path / "c.csv", 'text,topic\nලංකාව,geo\n"කොළඹ,\nනගරය",city\n,empty\n'.encode()
    )
    docs = list(read_corpus(csv_path))
    assert [(d.text, d.line, d.metadata) for d in docs] == [
        ("ලංකාව", 2, {"topic": "geo"}),
        ("කොළඹ,\nනගරය", 3, {"topic": "city"}),
    ]
    tsv_path = write(tmp_path / "c.tsv", "topic\tbody\ngeo\tලංකාව\n".encode())
    assert [d.text for d in read_corpus(tsv_path, text_field="body")] == ["ලංකාව"]


def test_csv_without_the_text_column(tmp_path: Path) -> None:
    path = write(tmp_path / "c.csv", b"body,topic\na,b\n")
    with pytest.raises(CorpusError, match="no column 'text'"):
        list(read_corpus(path))


def test_stdin(tmp_path: Path) -> None:
    docs = list(read_corpus("-", stdin=io.BytesIO("ලංකාව\nකොළඹ\n".encode())))
    assert [(d.text, d.source, d.line) for d in docs] == [
        ("ලංකාව", "-", 1),
        ("කොළඹ", "-", 2),
    ]


def test_invalid_utf8_names_file_line_and_byte(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.txt", "ලංකාව\n".encode() + b"abc \xff def\n")
    with pytest.raises(CorpusError, match=r"bad\.txt:2: invalid UTF-8 \(byte 0xff at column 5\)"):
        list(read_corpus(path))


def test_invalid_utf8_is_found_before_anything_is_yielded(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.txt", b"good line\n" * 1000 + b"\xc3\x28\n")
    documents = read_corpus(path)
    with pytest.raises(CorpusError, match=r"bad\.txt:1001"):
        next(documents)


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "model.bin", bytes(range(256)) * 10)
    with pytest.raises(CorpusError, match="binary"):
        list(read_corpus(path))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no such file"):
        list(read_corpus(tmp_path / "nope.txt"))
    with pytest.raises(CorpusError, match="directory"):
        list(read_corpus(tmp_path))


def test_blank_file_is_an_empty_corpus(tmp_path: Path) -> None:
    path = write(tmp_path / "blank.txt", b"\n  \n\t\n")
    with pytest.raises(EmptyCorpus, match="no non-blank passages"):
        list(require_passages(read_corpus(path), str(path)))


def test_one_megabyte_line_is_read_whole(tmp_path: Path) -> None:
    line = ("ශ්‍රී ලංකාව " * 70000)[: 1024 * 1024 // 3]
    path = write(tmp_path / "big.txt", (line + "\n").encode())
    (document,) = read_corpus(path)
    assert document.text == line


def test_line_over_the_limit_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:
        f.write(b"x" * (MAX_PASSAGE_BYTES + 10))
    with pytest.raises(CorpusError, match=r"huge\.txt:1: line longer than 16 MiB"):
        list(read_corpus(path))


def test_literal_quote_in_unquoted_csv_field_keeps_later_line_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.csv",
        'text,size\nතිරය 5" screen,5\nකොළඹ,"a\nb"\nවරාය,7\n\nලංකාව,8\n'.encode(),
    )
    docs = list(read_corpus(path))
    assert [(d.text, d.line) for d in docs] == [
        ('තිරය 5" screen', 2),
        ("කොළඹ", 3),
        ("වරාය", 5),
        ("ලංකාව", 7),
    ]
    assert docs[1].metadata == {"size": "a\nb"}
