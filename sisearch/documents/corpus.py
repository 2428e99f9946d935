"""Read corpus files into Documents: .txt (a passage a line), .jsonl, .csv/.tsv, or stdin.

Reading is strict: an invalid UTF-8 byte, a binary file or an over-long passage is a
CorpusError naming the file and line, raised before anything is indexed when the
file can be checked ahead (`check_corpus_file`).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import CorpusError, EmptyCorpus

STDIN = "-"
STDIN_SOURCE = "-"
MAX_PASSAGE_BYTES = 16 * 1024 * 1024
_SNIFF_BYTES = 8192
_FORMATS = {".txt": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}


@dataclass(frozen=True)
class Document:
    """A passage to index: its text, where it came from, and any metadata fields.

    `metadata` is what the user gave (a JSONL record's or CSV row's other fields);
    `origin` is what a document reader recorded (`page`, `title`, `heading`,
    `legacy_font`, `repaired_words`), kept apart so neither can change the other.
    """

    text: str
    source: str = ""
    line: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, Any] = field(default_factory=dict)


def corpus_format(path: str) -> str:
    """The format of a corpus path by its extension; stdin and unknown extensions read as .txt."""
    if path == STDIN:
        return "txt"
    return _FORMATS.get(Path(path).suffix.lower(), "txt")


def check_corpus_file(path: str | os.PathLike[str]) -> None:
    """Refuse a missing, binary, non-UTF-8 or over-long file before any of it is indexed."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file")
    if path.is_dir():
        raise CorpusError(f"{path}: is a directory, not a corpus file")
    with path.open("rb") as f:
        if b"\x00" in f.read(_SNIFF_BYTES):
            raise CorpusError(f"{path}: looks like a binary file (it contains NUL bytes)")
        f.seek(0)
        for number, raw in enumerate(_lines(f, str(path)), start=1):
            _decode(raw, str(path), number)


def read_corpus(
    path: str | os.PathLike[str], text_field: str = "text", stdin: BinaryIO | None = None
) -> Iterator[Document]:
    """Yield the non-blank passages of a corpus file (or of stdin for "-")."""
    name = os.fspath(path)
    fmt = corpus_format(name)
    if name == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        yield from _read(stream, STDIN_SOURCE, "<stdin>", fmt, text_field)
        return
    check_corpus_file(name)
    with open(name, "rb") as f:
        yield from _read(f, source_name(name), name, fmt, text_field)


def source_name(path: str | os.PathLike[str]) -> str:
    """The `source` recorded for documents read from `path`: the file's resolved path
    (links followed), so every spelling of one file is one source; "-" is stdin."""
    name = os.fspath(path)
    return STDIN_SOURCE if name == STDIN else os.path.realpath(name)


def require_passages(documents: Iterator[Document], source: str) -> Generator[Document]:
    """The same documents, after reading the first now: EmptyCorpus at once if there is none.

    Reading ahead lets a caller refuse an empty corpus before it creates anything.
    """
    first = next(documents, None)
    if first is None:
        raise EmptyCorpus(f"{source}: the corpus has no non-blank passages")
    return _chain(first, documents)


def _chain(first: Document, rest: Iterator[Document]) -> Generator[Document]:
    yield first
    yield from rest


def _read(
    stream: BinaryIO, source: str, label: str, fmt: str, text_field: str
) -> Iterator[Document]:
    """Documents recorded under `source`; errors name the file as `label` (as the user typed it)."""
    lines = _decoded_lines(stream, label)
    if fmt == "txt":
        for number, line in lines:
            if line.strip():
                yield Document(text=line.rstrip("\r\n"), source=source, line=number)
    elif fmt == "jsonl":
        yield from _read_jsonl(lines, source, label, text_field)
    else:
        yield from _read_table(lines, source, label, text_field, "\t" if fmt == "tsv" else ",")


def _read_jsonl(
    lines: Iterator[tuple[int, str]], source: str, label: str, text_field: str
) -> Iterator[Document]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{label}:{number}: invalid JSON ({e.msg})") from None
        if not isinstance(record, dict):
            raise CorpusError(f"{label}:{number}: expected a JSON object per line")
        text = record.pop(text_field, None)
        if not isinstance(text, str):
            raise CorpusError(
                f"{label}:{number}: no string field {text_field!r} (use --text-field)"
            )
        if text.strip():
            yield Document(text=text, source=source, line=number, metadata=record)


def _read_table(
    lines: Iterator[tuple[int, str]], source: str, label: str, text_field: str, delimiter: str
) -> Iterator[Document]:
    """Rows of a CSV/TSV file as Documents, each numbered by the file line it starts on.

    The numbers come from the csv module's own `line_num` (lines consumed so far), so a
    quote inside an unquoted field (`5" screen`) or a quoted field spanning lines
    numbers every later row correctly.
    """
    reader = csv.reader((text for _, text in lines), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            return
        if text_field not in header:
            raise CorpusError(
                f"{label}:1: no column {text_field!r} in the header {header} (use --text-field)"
            )
        consumed = reader.line_num
        for row in reader:
            number, consumed = consumed + 1, reader.line_num
            if not row:
                continue
            if len(row) > len(header):
                raise CorpusError(f"{label}:{number}: more fields than the header has")
            record = dict(zip(header, row))
            text = record.pop(text_field, "") or ""
            if text.strip():
                yield Document(text=text, source=source, line=number, metadata=record)
    except csv.Error as e:
        raise CorpusError(f"{label}:{reader.line_num}: malformed CSV ({e})") from None


def _lines(stream: BinaryIO, source: str) -> Iterator[bytes]:
    """Raw lines, refusing any longer than MAX_PASSAGE_BYTES without reading them whole."""
    number = 0
    while True:
        raw = stream.readline(MAX_PASSAGE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_PASSAGE_BYTES and not raw.endswith(b"\n"):
            raise CorpusError(
                f"{source}:{number}: line longer than {MAX_PASSAGE_BYTES // (1024 * 1024)} MiB;"
                " split it into passages"
            )
        yield raw


def _decoded_lines(stream: BinaryIO, source: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(_lines(stream, source), start=1):
        yield number, _decode(raw, source, number)


def _decode(raw: bytes, source: str, number: int) -> str:
    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(
            f"{source}:{number}: invalid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1});"
            " convert the file to UTF-8 first"
        ) from None
    if "\x00" in text:
        raise CorpusError(f"{source}:{number}: contains a NUL byte; is this a binary file?")
    return text


def documents_from_texts(texts: list[str] | tuple[str, ...], source: str = "") -> list[Document]:
    """Wrap plain strings as Documents for `Index.add`."""
    return [Document(text=t, source=source) for t in texts]


__all__ = [
    "STDIN",
    "Document",
    "check_corpus_file",
    "corpus_format",
    "documents_from_texts",
    "read_corpus",
    "require_passages",
]
