"""Old Sinhala sites set FM legacy fonts in HTML: their runs are converted, others kept."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from corpora.make_documents import unicode_to_fm
from sisearch.documents import ReadOptions, ReadReport, read_file
from sisearch.documents.html import read_html
from sisearch.documents.legacy import from_legacy
from sisearch.language.text import normalize

HISTORY = "ශ්‍රී ලංකාවේ ඉතිහාසය"
PORT = "කොළඹ වරාය ඉදිකිරීම"
FM_HISTORY = unicode_to_fm(HISTORY)
FM_PORT = unicode_to_fm(PORT)
# As a page holds them: FM codes include <, > and &, which HTML escapes.
HTML_HISTORY = html.escape(FM_HISTORY)
HTML_PORT = html.escape(FM_PORT)


def paragraphs(body: str, head: str = "") -> list[tuple[str, str | None]]:
    page = read_html(f"<html><head>{head}</head><body>{body}</body></html>".encode(), "page")
    return [(normalize(p.text), p.legacy_font) for p in page.paragraphs]


def test_the_fm_text_under_test_holds_no_sinhala_letter() -> None:
    for text in (FM_HISTORY, FM_PORT):
        assert text and not any("\u0d80" <= c <= "\u0dff" for c in text), text


def test_font_face_runs_convert_and_english_beside_them_stays() -> None:
    found = paragraphs(f'<p>News: <font face="FMAbhaya">{HTML_HISTORY}</font> today</p>')
    assert found == [(normalize(f"News: {HISTORY} today"), "fm-abhaya")]


def test_inline_styles_choose_and_reset_the_font() -> None:
    body = (
        f"<div style=\"font-family: 'FM Derana', serif\"><p>{HTML_PORT}</p>"
        '<p><span style="font-family: Arial">Colombo port</span></p></div>'
    )
    assert paragraphs(body) == [(normalize(PORT), "fm-derana"), ("Colombo port", None)]


def test_style_rules_by_class_element_and_id() -> None:
    head = (
        "<style>/* the site's fonts */ .news { font-family: FMBindumathi }"
        " p.en { font-family: Arial } #lead, h2 { font: bold 14px 'FM Malithi' }</style>"
    )
    body = (
        f'<div class="news"><p>{HTML_HISTORY}</p><p class="en">In English</p></div>'
        f'<p id="lead">{HTML_PORT}</p>'
    )
    assert paragraphs(body, head) == [
        (normalize(HISTORY), "fm-bindumathi"),
        ("In English", None),
        (normalize(PORT), "fm-malithi"),
    ]


def test_a_font_set_on_the_body_reaches_the_article() -> None:
    head = '<style>body { font-family: "FM Abhaya" }</style>'
    body = f"<nav>menu</nav><main><p>{HTML_HISTORY}</p></main>"
    assert paragraphs(body, head) == [(normalize(HISTORY), "fm-abhaya")]


def test_a_word_split_by_a_tag_converts_whole() -> None:
    cut = FM_HISTORY.index("f") + 1  # between the two codes of one vowel sign (ේ)
    apart = from_legacy(FM_HISTORY[:cut]) + from_legacy(FM_HISTORY[cut:])
    assert normalize(apart) != normalize(HISTORY)  # converted apart, the word breaks
    before, after = html.escape(FM_HISTORY[:cut]), html.escape(FM_HISTORY[cut:])
    body = f'<p><font face="FMAbhaya">{before}<b>{after}</b></font></p>'
    assert paragraphs(body) == [(normalize(HISTORY), "fm-abhaya")]


def test_unicode_sinhala_in_an_fm_element_is_kept() -> None:
    assert paragraphs(f'<p><font face="FMAbhaya">{HISTORY}</font></p>') == [
        (normalize(HISTORY), None)
    ]


def test_a_thousand_nested_fm_font_tags_read_and_convert() -> None:
    body = '<font face="FMAbhaya">' * 1000 + f"<p>{HTML_HISTORY}</p>"
    assert paragraphs(body) == [(normalize(HISTORY), "fm-abhaya")]


@pytest.mark.parametrize("css", ["font-family: inherit", "color: red"])
def test_rules_that_set_no_family_change_nothing(css: str) -> None:
    body = f'<div style="font-family: FMAbhaya"><p style="{css}">{HTML_HISTORY}</p></div>'
    assert paragraphs(body) == [(normalize(HISTORY), "fm-abhaya")]


def test_an_fm_page_indexes_with_its_unicode_text(run, tiny_model, tmp_path: Path) -> None:
    page = tmp_path / "site" / "old.html"
    page.parent.mkdir()
    page.write_text(
        f'<html><body><p><font face="FMAbhaya">{HTML_HISTORY}</font></p>'
        f"<p>{HTML_PORT}</p></body></html>",
        encoding="utf-8",
    )
    report = ReadReport()
    documents = list(read_file(page, ReadOptions(), report))
    assert [d.origin.get("legacy_font") for d in documents] == ["fm-abhaya", None]
    assert report.legacy_passages == 1
    assert run("index", str(page.parent), "--model", tiny_model, "-q").exit_code == 0
    hits = run("query", HISTORY, "--json", "--mode", "lexical").stdout.splitlines()
    assert normalize(json.loads(hits[0])["text"]) == normalize(HISTORY)
    assert json.loads(run("info", "--json").stdout)["legacy_passages"] == 1


def test_a_page_with_a_doctype_reads_its_body_font() -> None:
    """Above <html> is the document node (its tag "" after a doctype): never asked for
    attributes (selectolax 0.3.21 crashes on them)."""
    page = (
        '<!doctype html><html lang="si"><head><style>body { font-family: FMAbhaya }</style>'
        f"</head><body><main><p>{HTML_HISTORY}</p></main></body></html>"
    )
    found = [
        (normalize(p.text), p.legacy_font) for p in read_html(page.encode(), "page").paragraphs
    ]
    assert found == [(normalize(HISTORY), "fm-abhaya")]
