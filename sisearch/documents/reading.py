"""Documents from any corpus path: a folder, a text corpus, or an HTML, PDF, DOCX, ODT,
EPUB, Markdown or image file, each read by the reader its extension names.

A file named directly is read strictly: any problem is an error before anything is
indexed. A file found in a folder that cannot be read (corrupt, encrypted, not UTF-8)
is reported by name in the `ReadReport` and skipped; the other files are read.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from ..errors import CorpusError
from .corpus import (
    STDIN,
    Document,
    check_corpus_file,
    read_corpus,
    source_name,
)
from .files import READERS, reader_of, walk_folder
from .legacy import LEGACY_FONTS, from_legacy, legacy_font_id
from .ocr import OCR_MODES, OcrMode

if TYPE_CHECKING:
    from .word import OfficeParagraph

Split = Literal["line", "paragraph"]
SPLITS: tuple[Split, ...] = ("line", "paragraph")
# Readers that parse a whole file at once (its passages are held, not streamed).
DOCUMENT_READERS = frozenset({"html", "pdf", "docx", "odt", "epub", "md", "image"})
# Plain-text formats that `legacy_font` converts.
LEGACY_READERS = frozenset({"txt", "md", "jsonl", "csv", "tsv"})


@dataclass(frozen=True)
class ReadOptions:
    """How to read corpus paths (the `sisearch index` options of the same names)."""

    text_field: str = "text"
    split: Split = "line"
    legacy_font: str | None = None
    globs: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    ocr: OcrMode = "never"

    def __post_init__(self) -> None:
        if self.ocr not in OCR_MODES:
            raise ValueError(f"ocr must be one of {OCR_MODES}, not {self.ocr!r}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {self.split!r}")
        if self.legacy_font is not None and self.legacy_font not in LEGACY_FONTS:
            raise ValueError(f"unknown legacy font {self.legacy_font!r}")


@dataclass
class ReadReport:
    """What reading found: files read, skipped and failed, and what was converted."""

    files_read: int = 0  # files that gave passages
    unknown: Counter[str] = field(default_factory=Counter)
    excluded: int = 0
    failed: list[str] = field(default_factory=list)  # a line each: "file: why"
    failed_files: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    legacy_passages: int = 0
    pdf_words_repaired: int = 0
    images_left: int = 0  # image files a folder held, not read without OCR
    ocr_pages: int = 0

    def merge(self, other: ReadReport) -> None:
        """Add what another reader of other files found (workers of `sisearch encode`)."""
        self.files_read += other.files_read
        self.unknown.update(other.unknown)
        self.excluded += other.excluded
        self.failed.extend(other.failed)
        self.failed_files.extend(other.failed_files)
        self.empty.extend(other.empty)
        self.legacy_passages += other.legacy_passages
        self.pdf_words_repaired += other.pdf_words_repaired
        self.images_left += other.images_left
        self.ocr_pages += other.ocr_pages


class FolderRead(Iterator[Document]):
    """The passages of a folder's files, read once, with the folder and what reading found:
    `Index.sync` needs both to tell a file deleted or emptied (its passages go) from one
    that could not be read this time (its passages stay)."""

    def __init__(self, folder: Path, options: ReadOptions, report: ReadReport) -> None:
        self.folder = folder
        self.report = report
        self._documents = _read_folder(folder, options, report)

    def __next__(self) -> Document:
        return next(self._documents)

    def close(self) -> None:
        self._documents.close()


def read_path(
    path: str | os.PathLike[str],
    options: ReadOptions | None = None,
    report: ReadReport | None = None,
    stdin: BinaryIO | None = None,
) -> Iterator[Document]:
    """The passages of a corpus path: a folder (walked; a `FolderRead`), a file, or "-"
    for stdin."""
    options = options or ReadOptions()
    report = report if report is not None else ReadReport()
    name = os.fspath(path)
    if name != STDIN and Path(name).is_dir():
        return FolderRead(Path(name), options, report)
    return _read_single(name, options, report, stdin)


def _read_single(
    name: str, options: ReadOptions, report: ReadReport, stdin: BinaryIO | None
) -> Iterator[Document]:
    documents = read_file(name, options, report, stdin)
    first = next(documents, None)
    if first is not None:
        report.files_read += 1
        yield first
        yield from documents


def read_file(
    path: str | os.PathLike[str],
    options: ReadOptions | None = None,
    report: ReadReport | None = None,
    stdin: BinaryIO | None = None,
) -> Iterator[Document]:
    """The passages of one file (strict: its problems are errors); unknown extensions
    read as one passage a line, as .txt."""
    options = options or ReadOptions()
    report = report if report is not None else ReadReport()
    name = os.fspath(path)
    kind = "txt" if name == STDIN else (reader_of(name) or "txt")
    if kind in DOCUMENT_READERS:
        documents = _read_document(Path(name), name, kind, options, report)
    elif kind == "txt" and options.split == "paragraph":
        documents = _read_text_paragraphs(Path(name), name)
    else:
        documents = read_corpus(name, options.text_field, stdin)
    if options.legacy_font is not None and kind in LEGACY_READERS:
        yield from _converted(documents, options.legacy_font, report)
    else:
        yield from documents


def _read_folder(folder: Path, options: ReadOptions, report: ReadReport) -> Iterator[Document]:
    walk = walk_folder(folder, options.globs, options.excludes, images=options.ocr != "never")
    report.unknown.update(walk.unknown)
    report.excluded += walk.excluded
    report.images_left += walk.images_left
    if not walk.files and walk.images_left:
        raise CorpusError(f"{folder}: only images, which are read by OCR: index it with --ocr auto")
    if not walk.files:
        known = ", ".join(sorted(READERS))
        raise CorpusError(f"{folder}: no file sisearch reads in this folder (it reads {known})")
    for file in walk.files:
        yield from read_or_report(file, options, report)


def read_or_report(
    file: Path, options: ReadOptions, report: ReadReport, label: str | None = None
) -> Iterator[Document]:
    """The passages of a file found in a folder (or fetched by a Ray worker): one that
    cannot be read is named in `report.failed` and skipped, one without text in
    `report.empty`. `label` names the file in the report, where `file` is a copy."""
    label = label or str(file)
    try:  # every reader checks its file whole before its first passage
        documents = read_file(file, options, report)
        first = next(documents, None)
    except Exception as e:  # any reader's failure on one file: name it, read the others
        report.failed.append(_one_line(e, str(file)).replace(str(file), label))
        report.failed_files.append(label)
        return
    if first is None:
        report.empty.append(label)
        return
    report.files_read += 1
    yield first
    try:
        yield from documents
    except Exception as e:  # a text file changed since it was checked
        report.failed.append(_one_line(e, str(file)).replace(str(file), label))
        report.failed_files.append(label)


def _one_line(error: Exception, label: str) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, OSError):
        return f"{label}: {error.strerror or text}"
    if not isinstance(error, CorpusError):  # a reader's own bug or limit, named as such
        return f"{label}: could not be read ({type(error).__name__}: {text[:200]})"
    return text if text.startswith(label) else f"{label}: {text}"


def _read_document(
    path: Path, label: str, kind: str, options: ReadOptions, report: ReadReport
) -> Iterator[Document]:
    """All passages of an HTML, PDF, DOCX, ODT, EPUB, Markdown or image file, parsed before
    the first is given."""
    if not path.exists():
        raise CorpusError(f"{label}: no such file")
    source = source_name(path)
    documents = list(_PARSERS[kind](_Source(path, label, source, options.ocr), report))
    yield from documents


@dataclass(frozen=True)
class _Source:
    """A document file as its parser needs it: where it is, its name in messages and in
    the index, and the OCR mode."""

    path: Path
    label: str
    name: str
    ocr: OcrMode


def _html(file: _Source, report: ReadReport) -> Iterator[Document]:
    from .html import read_html

    page = read_html(file.path.read_bytes(), file.label)
    for position, paragraph in enumerate(page.paragraphs, start=1):
        origin = _present(
            title=page.title, heading=paragraph.heading, legacy_font=paragraph.legacy_font
        )
        if paragraph.legacy_font:
            report.legacy_passages += 1
        yield Document(paragraph.text, file.name, position, origin=origin)


def _pdf(file: _Source, report: ReadReport) -> Iterator[Document]:
    from .pdf import read_pdf

    ocr_pages: set[int] = set()
    for position, paragraph in enumerate(read_pdf(file.path, file.label, file.ocr), start=1):
        report.pdf_words_repaired += paragraph.repaired_words
        origin: dict[str, Any] = {"page": paragraph.page}
        if paragraph.repaired_words:
            origin["repaired_words"] = paragraph.repaired_words
        if paragraph.legacy_font:
            origin["legacy_font"] = paragraph.legacy_font
            report.legacy_passages += 1
        if paragraph.ocr:
            origin["ocr"] = True
            ocr_pages.add(paragraph.page)
        yield Document(paragraph.text, file.name, position, origin=origin)
    report.ocr_pages += len(ocr_pages)


def _image(file: _Source, report: ReadReport) -> Iterator[Document]:
    from .images import read_image

    if file.ocr == "never":
        raise CorpusError(f"{file.label}: an image, read by OCR: index it with --ocr auto")
    position = 0
    for page, paragraphs in read_image(file.path, file.label):
        report.ocr_pages += 1
        for paragraph in paragraphs:
            position += 1
            origin = {"page": page, "ocr": True}
            yield Document(paragraph.text, file.name, position, origin=origin)


def _docx(file: _Source, report: ReadReport) -> Iterator[Document]:
    from .word import read_docx

    return _office(read_docx(file.path, file.label), file.name, report)


def _odt(file: _Source, report: ReadReport) -> Iterator[Document]:
    from .odt import read_odt

    return _office(read_odt(file.path, file.label), file.name, report)


def _epub(file: _Source, report: ReadReport) -> Iterator[Document]:
    from .epub import read_epub

    for position, paragraph in enumerate(read_epub(file.path, file.label), start=1):
        origin = _present(
            title=paragraph.title, heading=paragraph.heading, legacy_font=paragraph.legacy_font
        )
        if paragraph.legacy_font:
            report.legacy_passages += 1
        yield Document(paragraph.text, file.name, position, origin=origin)


def _office(
    paragraphs: Iterator[OfficeParagraph], source: str, report: ReadReport
) -> Iterator[Document]:
    """Documents of a DOCX or ODT file's paragraphs, counting those converted from FM."""
    for position, paragraph in enumerate(paragraphs, start=1):
        origin = _present(heading=paragraph.heading, legacy_font=paragraph.legacy_font)
        if paragraph.legacy_font:
            report.legacy_passages += 1
        yield Document(paragraph.text, source, position, origin=origin)


def _markdown(file: _Source, report: ReadReport) -> Iterator[Document]:
    from .markdown import read_markdown

    check_corpus_file(file.path)
    text = file.path.read_text(encoding="utf-8-sig")
    for position, paragraph in enumerate(read_markdown(text), start=1):
        origin = _present(heading=paragraph.heading)
        yield Document(paragraph.text, file.name, position, origin=origin)


_PARSERS = {
    "html": _html,
    "pdf": _pdf,
    "docx": _docx,
    "odt": _odt,
    "epub": _epub,
    "md": _markdown,
    "image": _image,
}


def _read_text_paragraphs(path: Path, label: str) -> Iterator[Document]:
    """Blank-line-separated paragraphs of a text file; `line` is the paragraph's position."""
    from .markdown import paragraphs_of_text

    check_corpus_file(path)
    text = path.read_text(encoding="utf-8-sig")
    source = source_name(path)
    for position, paragraph in enumerate(paragraphs_of_text(text), start=1):
        yield Document(paragraph, source, position)


def _converted(documents: Iterator[Document], font: str, report: ReadReport) -> Iterator[Document]:
    for document in documents:
        text = from_legacy(document.text, font)
        if text == document.text:
            yield document
            continue
        report.legacy_passages += 1
        origin = {**document.origin, "legacy_font": legacy_font_id(font)}
        yield Document(text, document.source, document.line, document.metadata, origin)


def _present(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value}
