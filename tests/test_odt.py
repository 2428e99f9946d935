"""OpenDocument text (.odt), as LibreOffice writes it: paragraphs, headings, lists, tables,
and runs in FM legacy fonts converted by their style's font."""

from __future__ import annotations

import html
import json
import zipfile
from pathlib import Path

import pytest

from corpora.make_documents import unicode_to_fm
from sisearch.documents import ReadReport, read_file
from sisearch.errors import DocumentError
from sisearch.language.text import normalize

HISTORY = "ශ්‍රී ලංකාවේ ඉතිහාසය"
PORT = "කොළඹ වරාය ඉදිකිරීම"
NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
    ' xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"'
    ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
    ' xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"'
    ' xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"'
)
FONTS = (
    '<office:font-face-decls><style:font-face style:name="FMAbhaya"'
    ' svg:font-family="FMAbhaya"/><style:font-face style:name="Liberation Serif"'
    " svg:font-family=\"'Liberation Serif'\"/></office:font-face-decls>"
)
# An automatic span style in an FM font, a paragraph style inheriting a named FM style from
# styles.xml, and a span that resets to a Latin font inside it.
AUTOMATIC = (
    '<office:automatic-styles><style:style style:name="T1" style:family="text">'
    '<style:text-properties style:font-name="FMAbhaya"/></style:style>'
    '<style:style style:name="P2" style:family="paragraph" style:parent-style-name="Old">'
    '</style:style><style:style style:name="T2" style:family="text">'
    '<style:text-properties style:font-name="Liberation Serif"/></style:style>'
    "</office:automatic-styles>"
)
NAMED = (
    f'<office:document-styles {NAMESPACES} office:version="1.3">{FONTS}<office:styles>'
    '<style:style style:name="Old" style:family="paragraph"><style:text-properties'
    ' fo:font-family="FM Derana"/></style:style></office:styles></office:document-styles>'
)


def fm(text: str) -> str:
    return html.escape(unicode_to_fm(text))


def write_odt(path: Path, body: str) -> Path:
    content = (
        f'<office:document-content {NAMESPACES} office:version="1.3">{FONTS}{AUTOMATIC}'
        f"<office:body><office:text>{body}</office:text></office:body>"
        "</office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
        archive.writestr("styles.xml", NAMED)
    return path


BODY = (
    '<text:h text:outline-level="1">ඉතිහාසය</text:h>'
    f'<text:p>News: <text:span text:style-name="T1">{fm(HISTORY)}</text:span> today</text:p>'
    f'<text:p text:style-name="P2">{fm(PORT)}<text:s text:c="2"/>'
    '<text:span text:style-name="T2">Colombo</text:span></text:p>'
    "<text:list><text:list-item><text:p>ලැයිස්තු අයිතමය</text:p></text:list-item></text:list>"
    "<table:table><table:table-row><table:table-cell><text:p>පේළිය</text:p></table:table-cell>"
    "<table:table-cell><text:p>row</text:p></table:table-cell></table:table-row></table:table>"
)


def test_an_odt_reads_in_order_with_headings_and_fm_runs_converted(tmp_path: Path) -> None:
    report = ReadReport()
    documents = list(read_file(write_odt(tmp_path / "letter.odt", BODY), None, report))
    found = [
        (normalize(d.text), d.origin.get("heading"), d.origin.get("legacy_font")) for d in documents
    ]
    heading = normalize("ඉතිහාසය")
    assert found == [
        (heading, heading, None),
        (normalize(f"News: {HISTORY} today"), heading, "fm-abhaya"),
        (normalize(f"{PORT} Colombo"), heading, "fm-derana"),
        (normalize("ලැයිස්තු අයිතමය"), heading, None),
        (normalize("පේළිය | row"), heading, None),
    ]
    assert report.legacy_passages == 2


def test_a_broken_odt_is_a_named_error(tmp_path: Path) -> None:
    (tmp_path / "bad.odt").write_bytes(b"not a zip")
    with pytest.raises(DocumentError, match=r"bad\.odt: not a readable OpenDocument \.odt file"):
        list(read_file(tmp_path / "bad.odt"))
    with zipfile.ZipFile(tmp_path / "empty.odt", "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
    with pytest.raises(DocumentError, match=r"empty\.odt: not a readable OpenDocument"):
        list(read_file(tmp_path / "empty.odt"))


def test_deeply_nested_sections_read(tmp_path: Path) -> None:
    body = "<text:section>" * 2000 + f"<text:p>{HISTORY}</text:p>" + "</text:section>" * 2000
    documents = list(read_file(write_odt(tmp_path / "deep.odt", body)))
    assert [normalize(d.text) for d in documents] == [normalize(HISTORY)]


def test_an_odt_in_a_folder_indexes(run, tiny_model, tmp_path: Path) -> None:
    (tmp_path / "office").mkdir()
    write_odt(tmp_path / "office" / "letter.odt", BODY)
    assert run("index", str(tmp_path / "office"), "--model", tiny_model, "-q").exit_code == 0
    hits = run("query", PORT, "--json", "--mode", "lexical").stdout.splitlines()
    assert normalize(PORT) in normalize(json.loads(hits[0])["text"])
