"""Scanned pages read by OCR: PDFs without a text layer, images, and the options and
errors around them. Pages are drawn from the sample corpus by corpora/make_scans.py."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from corpora.make_documents import topics
from corpora.make_scans import (
    image_pdf,
    installed_fonts,
    noisy,
    pdf_with_hidden_text,
    render_pages,
    skewed,
)
from sisearch.cli import cli
from sisearch.documents import ReadOptions, ReadReport, read_file, read_path
from sisearch.documents.ocr import OcrUnavailable, check_ocr, clean_ocr_text, sinhala_share
from sisearch.errors import CorpusError, MissingExtra
from sisearch.language.text import normalize


def _ocr_missing() -> str | None:
    try:
        check_ocr()
    except Exception as e:
        return str(e)
    return None if "Noto Sans Sinhala" in installed_fonts() else "fonts-noto-core is missing"


needs_ocr = pytest.mark.skipif(
    _ocr_missing() is not None, reason=f"OCR cannot run here: {_ocr_missing()}"
)
PASSAGES = topics(1)[0][1][:8]
FONT = installed_fonts().get("Noto Sans Sinhala", "")


def word_recall(expected: list[str], got: list[str]) -> float:
    want = Counter(w for text in expected for w in normalize(text).split())
    have = Counter(w for text in got for w in normalize(text).split())
    return sum(min(n, have[w]) for w, n in want.items()) / sum(want.values())


def test_ocr_text_comes_out_as_typed_text() -> None:
    # Tesseract's ZWNJ after a word-final al-lakuna goes; the ZWJ of a yansaya stays.
    assert clean_ocr_text("මෝසම්\u200c වැසි\nසමඟ") == "මෝසම් වැසි සමඟ"
    assert clean_ocr_text("ප්\u200dරධාන") == "ප්\u200dරධාන"
    assert clean_ocr_text("a\u200cb") == "a\u200cb"
    assert sinhala_share("ලංකාව Lanka") == pytest.approx(3 / 8)  # letters, not signs
    assert sinhala_share("1234") == 0.0


def test_ocr_modes_are_checked() -> None:
    with pytest.raises(ValueError, match="ocr must be one of"):
        ReadOptions(ocr="sometimes")  # type: ignore[arg-type]


@needs_ocr
def test_a_scanned_pdf_reads_by_ocr_with_pages(tmp_path: Path) -> None:
    pages = render_pages(PASSAGES, FONT, points=12)
    pages += render_pages(PASSAGES[:2], FONT, points=14)
    scan = tmp_path / "scan.pdf"
    image_pdf([page.image for page in pages], scan)

    with pytest.raises(CorpusError, match="--ocr auto"):
        list(read_file(scan))
    report = ReadReport()
    documents = list(read_file(scan, ReadOptions(ocr="auto"), report))
    assert report.ocr_pages == len(pages)
    assert {d.origin["page"] for d in documents} == set(range(1, len(pages) + 1))
    assert all(d.origin["ocr"] is True for d in documents)
    assert word_recall([*PASSAGES, *PASSAGES[:2]], [d.text for d in documents]) >= 0.95
    assert not any("\u200c" in d.text for d in documents)
    exact = {normalize(d.text) for d in documents}
    assert sum(normalize(p) in exact for p in PASSAGES) >= len(PASSAGES) - 1


@needs_ocr
def test_a_crooked_dirty_scan_still_reads(tmp_path: Path) -> None:
    page = render_pages(PASSAGES[:4], FONT, points=12)[0]
    scan = tmp_path / "photocopy.pdf"
    image_pdf([noisy(skewed(page.image, 1.5), seed=3)], scan)
    documents = list(read_file(scan, ReadOptions(ocr="auto")))
    assert word_recall(PASSAGES[:4], [d.text for d in documents]) >= 0.85


@needs_ocr
def test_an_english_text_layer_over_a_sinhala_scan_is_replaced_in_auto(tmp_path: Path) -> None:
    page = render_pages(PASSAGES[:3], FONT)[0]
    pdf = tmp_path / "layered.pdf"
    pdf_with_hidden_text(page.image, "Scanned by ACME Office 2009 page 1", pdf)

    as_typed = [d.text for d in read_file(pdf)]
    assert as_typed == ["Scanned by ACME Office 2009 page 1"]
    documents = list(read_file(pdf, ReadOptions(ocr="auto")))
    assert all(d.origin.get("ocr") for d in documents)
    assert word_recall(PASSAGES[:3], [d.text for d in documents]) >= 0.95


@needs_ocr
def test_an_english_page_with_an_english_layer_keeps_its_layer(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (2481, 3508), 255)
    face = ImageFont.truetype(FONT.replace("SansSinhala", "Sans"), 50)  # Noto Sans: Latin
    ImageDraw.Draw(image).text((300, 300), "Annual report of the Ministry", font=face, fill=0)
    pdf = tmp_path / "english.pdf"
    pdf_with_hidden_text(image, "Annual report of the Ministry", pdf)
    documents = list(read_file(pdf, ReadOptions(ocr="auto")))
    assert [(d.text, d.origin.get("ocr")) for d in documents] == [
        ("Annual report of the Ministry", None)
    ]
    # "always" reads the page image even so.
    always = list(read_file(pdf, ReadOptions(ocr="always")))
    assert always and all(d.origin["ocr"] for d in always)
    assert "Annual report" in always[0].text


@needs_ocr
def test_images_are_documents_when_ocr_is_on(tmp_path: Path) -> None:
    from PIL import Image

    page = render_pages(PASSAGES[:3], FONT)[0].image
    folder = tmp_path / "scans"
    folder.mkdir()
    # A transparent PNG (black text on nothing), a JPEG photo stored on its side with an
    # EXIF orientation to turn it upright, and a two-page TIFF.
    transparent = Image.new("LA", page.size)
    transparent.putalpha(page.point(lambda v: 255 - v))
    transparent.save(folder / "a.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: shown turned 90 degrees clockwise
    page.rotate(90, expand=True).convert("RGB").save(folder / "b.jpg", exif=exif)
    page.save(folder / "c.tif", save_all=True, append_images=[page])
    (folder / "d.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")

    report = ReadReport()
    documents = list(read_path(folder, ReadOptions(ocr="auto"), report))
    by_file: dict[str, list[str]] = {}
    for document in documents:
        by_file.setdefault(Path(document.source).name, []).append(document.text)
        assert document.origin["ocr"] is True
    for name in ("a.png", "b.jpg"):
        assert word_recall(PASSAGES[:3], by_file[name]) >= 0.95, name
    assert word_recall(PASSAGES[:3] * 2, by_file["c.tif"]) >= 0.95
    pages = {d.origin["page"] for d in documents if d.source.endswith("c.tif")}
    assert pages == {1, 2}
    assert len(report.failed) == 1
    assert report.failed[0].startswith(f"{folder / 'd.png'}: not a readable image (")


def test_images_in_a_folder_wait_for_ocr(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("ශ්‍රී ලංකාව\n", encoding="utf-8")
    (tmp_path / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    report = ReadReport()
    assert [d.text for d in read_path(tmp_path, ReadOptions(), report)] == ["ශ්‍රී ලංකාව"]
    assert report.images_left == 1
    only_images = tmp_path / "only"
    only_images.mkdir()
    (only_images / "scan.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(CorpusError, match=r"only images.*--ocr auto"):
        list(read_path(only_images, ReadOptions()))
    with pytest.raises(CorpusError, match="an image, read by OCR: index it with --ocr auto"):
        list(read_file(only_images / "scan.jpg"))


def test_missing_sinhala_data_is_one_line_naming_the_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sisearch.documents import ocr

    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    monkeypatch.setattr(ocr, "TESSDATA_FOLDERS", ())
    with pytest.raises(OcrUnavailable, match="apt install tesseract-ocr tesseract-ocr-sin"):
        ocr.tessdata_folder()
    (tmp_path / "notes.txt").write_text("ශ්‍රී ලංකාව\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["index", str(tmp_path), "--index-dir", str(tmp_path / "ix"), "--ocr", "auto"]
    )
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert "tesseract-ocr-sin" in result.output and not (tmp_path / "ix").exists()


def test_a_missing_ocr_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tesserocr", None)
    with pytest.raises(MissingExtra, match=r"pip install 'sisearch\[ocr\]'"):
        check_ocr()


@needs_ocr
def test_sisearch_index_reads_a_scan_and_answers_from_it(tmp_path: Path, tiny_model: str) -> None:
    pages = render_pages(PASSAGES[:4], FONT)
    scan = tmp_path / "scan.pdf"
    image_pdf([page.image for page in pages], scan)
    index_dir = tmp_path / "indexes"
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["index", str(scan), "--index-dir", str(index_dir), "--model", tiny_model]
        + ["--ocr", "auto"],
    )
    assert result.exit_code == 0, result.output
    assert "page 1 of 1 read by OCR" in result.output
    assert "read 1 scanned pages by OCR" in result.output
    result = runner.invoke(
        cli, ["query", PASSAGES[1], "--index-dir", str(index_dir), "--json", "-k", "1"]
    )
    hit = json.loads(result.output.splitlines()[0])
    assert normalize(hit["text"]) == normalize(PASSAGES[1])
    assert hit["origin"] == {"page": 1, "ocr": True}
