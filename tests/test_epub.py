"""EPUB books: chapters in spine order as HTML pages, FM runs converted, bad books named."""

from __future__ import annotations

import html
import zipfile
from pathlib import Path

import pytest

from corpora.make_documents import unicode_to_fm
from sisearch.documents import ReadReport, read_file, read_path
from sisearch.errors import DocumentError
from sisearch.language.text import normalize

CONTAINER = (
    '<?xml version="1.0"?><container version="1.0"'
    ' xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
    '<rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
    "</rootfiles></container>"
)
HISTORY = "ශ්‍රී ලංකාවේ ඉතිහාසය"


def chapter(title: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"'
        f' xmlns:epub="http://www.idpf.org/2007/ops"><head><title>{title}</title></head>'
        f"<body>{body}</body></html>"
    )


def write_epub(path: Path, spine: str = "") -> Path:
    package = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>ලංකා කතා</dc:title>'
        "</metadata><manifest>"
        '<item id="two" href="text/two.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="one" href="text/one%20a.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
        '<item id="note" href="text/note.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="cover" href="cover.jpg" media-type="image/jpeg"/>'
        "</manifest><spine>"
        + (
            spine
            or '<itemref idref="nav"/><itemref idref="one"/><itemref idref="two"/>'
            '<itemref idref="note" linear="no"/><itemref idref="cover"/>'
        )
        + "</spine></package>"
    )
    fm = html.escape(unicode_to_fm(HISTORY))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", CONTAINER)
        archive.writestr("OEBPS/content.opf", package)
        archive.writestr(
            "OEBPS/nav.xhtml",
            chapter(
                "පටුන",
                '<nav epub:type="toc"><ol><li><a href="text/one%20a.xhtml">1</a></li></ol></nav>',
            ),
        )
        archive.writestr(
            "OEBPS/text/one a.xhtml",
            chapter(
                "පළමු පරිච්ඡේදය",
                "<h1>පළමු පරිච්ඡේදය</h1><p>කොළඹ වරාය ඉදිකිරීම</p>"
                f'<p><span style="font-family: FMAbhaya">{fm}</span> in English</p>',
            ),
        )
        archive.writestr(
            "OEBPS/text/two.xhtml", chapter("දෙවන", "<h2>දෙවන පරිච්ඡේදය</h2><p>ගාල්ල කොටුව</p>")
        )
        archive.writestr("OEBPS/text/note.xhtml", chapter("සටහන", "<p>පාද සටහන</p>"))
        archive.writestr("OEBPS/cover.jpg", b"\xff\xd8\xff")
    return path


def test_an_epub_reads_its_chapters_in_spine_order(tmp_path: Path) -> None:
    report = ReadReport()
    documents = list(read_file(write_epub(tmp_path / "කතා.epub"), None, report))
    assert [normalize(d.text) for d in documents] == [
        "පළමු පරිච්ඡේදය",
        "කොළඹ වරාය ඉදිකිරීම",
        normalize(f"{HISTORY} in English"),
        "දෙවන පරිච්ඡේදය",
        "ගාල්ල කොටුව",
    ]
    assert documents[1].origin == {"title": "ලංකා කතා", "heading": "පළමු පරිච්ඡේදය"}
    assert documents[2].origin["legacy_font"] == "fm-abhaya"
    assert documents[4].origin["heading"] == "දෙවන පරිච්ඡේදය"
    assert report.legacy_passages == 1
    assert [d.line for d in documents] == [1, 2, 3, 4, 5]


def test_broken_epubs_are_named_errors(tmp_path: Path) -> None:
    not_zip = tmp_path / "a.epub"
    not_zip.write_bytes(b"not a zip")
    with pytest.raises(DocumentError, match=r"a\.epub: not a readable EPUB"):
        list(read_file(not_zip))
    no_container = tmp_path / "b.epub"
    with zipfile.ZipFile(no_container, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
    with pytest.raises(DocumentError, match=r"b\.epub: not a readable EPUB \(KeyError"):
        list(read_file(no_container))
    empty_spine = write_epub(tmp_path / "c.epub", spine='<itemref idref="cover"/>')
    with pytest.raises(DocumentError, match=r"c\.epub: an EPUB whose spine names no chapter"):
        list(read_file(empty_spine))


def test_an_epub_in_a_folder_is_read_with_the_rest(tmp_path: Path) -> None:
    write_epub(tmp_path / "book.epub")
    (tmp_path / "notes.txt").write_text("අනුරාධපුරය\n", encoding="utf-8")
    report = ReadReport()
    documents = list(read_path(tmp_path, report=report))
    assert report.files_read == 2 and len(documents) == 6
