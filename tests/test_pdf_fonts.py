"""PDFs typed in FM legacy fonts: runs under an embedded FM font are converted to Unicode."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from corpora.make_documents import print_fm_pdf, unicode_to_fm
from sisearch.documents import ReadReport, read_file
from sisearch.language.text import normalize

FIXTURE = Path(__file__).parent / "fixtures" / "documents" / "fm-abhaya-chromium.pdf"
HISTORY = "ශ්‍රී ලංකාවේ ඉතිහාසය"
PORT = "කොළඹ වරාය ඉදිකිරීම"
ENGLISH = "The port of Colombo."
MIXED = "Mixed: {fm} and English."


def expected() -> list[tuple[str, str | None]]:
    return [
        (normalize(HISTORY), "fm-abhaya"),
        (normalize(PORT), "fm-abhaya"),
        (ENGLISH, None),
        (normalize(MIXED.replace("{fm}", HISTORY)), "fm-abhaya"),
    ]


def read(pdf: Path) -> tuple[list[tuple[str, str | None]], ReadReport]:
    report = ReadReport()
    found = [(normalize(d.text), d.origin.get("legacy_font")) for d in read_file(pdf, None, report)]
    return found, report


def test_the_fixture_holds_fm_codes_under_an_fm_font() -> None:
    from pdfminer.high_level import extract_text

    raw = extract_text(FIXTURE)
    assert unicode_to_fm(HISTORY) in raw and "\u0d9a" not in raw  # Latin codes, no Sinhala


def test_an_fm_font_pdf_reads_as_unicode_sinhala() -> None:
    found, report = read(FIXTURE)
    assert found == expected()
    assert report.legacy_passages == 3


def test_an_fm_pdf_printed_by_this_machines_chromium(tmp_path: Path) -> None:
    """The fixture pins one Chromium; this prints a fresh one where Chromium is here."""
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("chromium is not installed")
    pdf = tmp_path / "fm.pdf"
    print_fm_pdf(pdf, [unicode_to_fm(HISTORY), unicode_to_fm(PORT)], ENGLISH, MIXED)
    assert read(pdf)[0] == expected()


def test_an_fm_pdf_indexes_and_answers_in_unicode(run, tiny_model, tmp_path: Path) -> None:
    assert run("index", str(FIXTURE), "--model", tiny_model, "-q").exit_code == 0
    hits = run("query", PORT, "--json", "--mode", "lexical").stdout.splitlines()
    assert '"legacy_font": "fm-abhaya"' in hits[0] and normalize(PORT) in normalize(hits[0])
