"""OCR accuracy and speed on scanned Sinhala pages (printed by bench/documents.py).

    python bench/documents.py --ocr-only      # about 1.5 minutes on 2 cores

Pages of the sample corpus are drawn by corpora/make_scans.py in each Sinhala font
installed (Noto Sans and Noto Serif Sinhala from fonts-noto-core, LKLUG from
fonts-lklug-sinhala), at 10 and 12 pt, scanned at 200 and 300 dpi, and at 300 dpi also
turned 1.5 degrees (skewed), dirtied like a photocopy (noisy), and both. Each page is read
by sisearch's OCR path and scored against the text drawn:
- character accuracy: 1 - (edit distance / characters drawn), over the page's text;
- word accuracy: 1 - (word edit distance / words drawn), words in reading order;
each "raw" (Tesseract's text as it comes, against the text as typed) and "normalized"
(sisearch's OCR cleaning, then both sides through sisearch's text normalization, as the
index compares them). A 10-page scanned PDF is then read end to end (`read_file` with
ocr "auto": pdfminer finds no text layer, pdfium renders, Tesseract reads two pages at a
time), and a 300-dpi scan is rendered for OCR at 200, 300 and 400 dpi to choose OCR_DPI.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corpora.make_documents import topics  # noqa: E402
from corpora.make_scans import image_pdf, installed_fonts, noisy, render_pages, skewed  # noqa: E402
from sisearch.documents import ReadOptions, read_file  # noqa: E402
from sisearch.language.text import normalize  # noqa: E402

GOAL_CLEAN = 0.90
GOAL_NOISY = 0.80
GOAL_TEN_PAGES_S = 60.0
VARIANTS: dict[str, Callable[[Any], Any]] = {
    "clean": lambda page: page,
    "skewed 1.5°": lambda page: skewed(page, 1.5),
    "noisy": lambda page: noisy(page, seed=7),
    "skewed + noisy": lambda page: noisy(skewed(page, -1.5), seed=11),
}


def edit_distance(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Levenshtein distance between two sequences (characters or words)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def accuracy(expected: str, got: str, unit: str) -> float:
    truth = expected.split() if unit == "word" else " ".join(expected.split())
    read = got.split() if unit == "word" else " ".join(got.split())
    return max(0.0, 1 - edit_distance(truth, read) / max(len(truth), 1))


def scores(drawn: list[str], paragraphs: list[Any]) -> dict[str, float]:
    """Character and word accuracy of OCR paragraphs against the paragraphs drawn, raw
    and normalized."""
    raw_truth, raw_read = " ".join(drawn), " ".join(p.raw for p in paragraphs)
    truth, read = normalize(raw_truth), normalize(" ".join(p.text for p in paragraphs))
    return {
        "char raw": accuracy(raw_truth, raw_read, "char"),
        "char": accuracy(truth, read, "char"),
        "word raw": accuracy(raw_truth, raw_read, "word"),
        "word": accuracy(truth, read, "word"),
    }


def passages(count: int = 60) -> list[str]:
    return [p for _, rows in topics() for p in rows][:count]


def accuracy_table(reader: Any) -> dict[str, list[float]]:
    """Print the accuracy table; return the normalized word accuracies per goal row."""
    text = passages()
    print("| font | size | dpi | page | char acc. raw | char acc. | word acc. raw | word acc. |")
    print("|---|---|---|---|---|---|---|---|")
    goals: dict[str, list[float]] = {"clean": [], "noisy": []}
    for font, path in installed_fonts().items():
        for points in (10, 12):
            for dpi in (200, 300):
                page = render_pages(text, path, points=points, dpi=dpi)[0]
                for variant, make in VARIANTS.items():
                    if dpi != 300 and variant != "clean":
                        continue
                    result = scores(page.paragraphs, reader.read(make(page.image)))
                    if font != "LKLUG" and dpi == 300 and variant in goals:
                        goals[variant].append(result["word"])
                    print(
                        f"| {font} | {points} pt | {dpi} | {variant} | {result['char raw']:.3f}"
                        f" | {result['char']:.3f} | {result['word raw']:.3f}"
                        f" | {result['word']:.3f} |"
                    )
    return goals


def ten_page_pdf(scratch: Path) -> tuple[float, float]:
    """(seconds, normalized word accuracy) of reading a 10-page scanned PDF."""
    from sisearch.documents.ocr import shared_reader

    font = installed_fonts()["Noto Sans Sinhala"]
    pages = render_pages(passages(200), font, points=12)[:10]
    pdf = scratch / "ten-pages.pdf"
    image_pdf([page.image for page in pages], pdf)
    shared_reader.cache_clear()
    started = time.perf_counter()
    documents = list(read_file(pdf, ReadOptions(ocr="auto")))
    seconds = time.perf_counter() - started
    truth = normalize(" ".join(p for page in pages for p in page.paragraphs))
    read = normalize(" ".join(d.text for d in documents))
    return seconds, accuracy(truth, read, "word")


def rendering_table(scratch: Path) -> None:
    """Word accuracy and time of one 300-dpi scan rendered for OCR at several resolutions."""
    from sisearch.documents import pdf as pdf_reader

    font = installed_fonts()["Noto Sans Sinhala"]
    page = render_pages(passages(), font, points=10)[0]
    scan = scratch / "one-page.pdf"
    image_pdf([noisy(page.image, seed=5)], scan)
    print("\n| PDF page rendered for OCR at | word acc. (10 pt, noisy 300-dpi scan) | s |")
    print("|---|---|---|")
    chosen = pdf_reader.OCR_DPI
    try:
        for dpi in (200, 300, 400):
            pdf_reader.OCR_DPI = dpi
            started = time.perf_counter()
            documents = list(read_file(scan, ReadOptions(ocr="auto")))
            seconds = time.perf_counter() - started
            read = normalize(" ".join(d.text for d in documents))
            word = accuracy(normalize(" ".join(page.paragraphs)), read, "word")
            mark = " (sisearch's OCR_DPI)" if dpi == chosen else ""
            print(f"| {dpi} dpi{mark} | {word:.3f} | {seconds:.1f} |")
    finally:
        pdf_reader.OCR_DPI = chosen


def ocr_report() -> None:
    """Print every OCR table and the goals; a note and nothing else where OCR cannot run."""
    from sisearch.documents.ocr import check_ocr, shared_reader

    try:
        check_ocr()
    except Exception as e:  # no Tesseract here: say so, measure the rest
        print(f"OCR not measured: {e}")
        return
    if "Noto Sans Sinhala" not in installed_fonts():
        print("OCR not measured: the Noto Sinhala fonts are missing (apt install fonts-noto-core)")
        return
    print("\n## OCR of scanned pages\n")
    goals = accuracy_table(shared_reader())
    with tempfile.TemporaryDirectory() as scratch:
        rendering_table(Path(scratch))
        seconds, word = ten_page_pdf(Path(scratch))
    clean, dirty = min(goals["clean"]), min(goals["noisy"])
    print(
        f"\nA 10-page scanned PDF (Noto Sans Sinhala 12 pt, 300 dpi) read in {seconds:.1f} s"
        f" ({10 / seconds:.2f} pages/s), word accuracy {word:.3f}.\n"
    )
    for what, value, goal, unit in (
        ("word accuracy, clean 300-dpi pages (lowest, Noto fonts)", clean, GOAL_CLEAN, ""),
        ("word accuracy, noisy 300-dpi pages (lowest, Noto fonts)", dirty, GOAL_NOISY, ""),
    ):
        verdict = "met" if value >= goal else "MISSED"
        print(f"Goal {what} >= {goal:.2f}{unit}: {value:.3f}, {verdict}")
    verdict = "met" if seconds <= GOAL_TEN_PAGES_S else "MISSED"
    print(f"Goal a 10-page scan read within {GOAL_TEN_PAGES_S:.0f} s: {seconds:.1f} s, {verdict}")
    mean = statistics.mean(goals["clean"])
    print(f"(mean word accuracy of the clean 300-dpi Noto pages: {mean:.3f})")


if __name__ == "__main__":
    ocr_report()
