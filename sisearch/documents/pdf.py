"""PDF paragraphs with their page numbers: pdfminer.six layout analysis, read through the
/ActualText spans PDF producers write for complex scripts, then the Sinhala repair.

Chromium and LibreOffice both wrap every Sinhala glyph cluster whose glyphs do not map
one to one onto characters (ෙ drawn before its consonant, ligatures, rakaransaya) in a
marked-content span carrying the cluster's real text. Extractors that ignore it (plain
pdfminer, pypdf) read glyph order with unmapped glyphs; pdfium honours it but breaks
words with spaces at each cluster. Here each span's glyphs become one character box
holding the span's text, so the layout analysis still sees the true word gaps.
Text drawn in an FM legacy font (its embedded name, after the subset prefix `ABCDEF+`, is
FMAbhaya, FM Derana, ...) is Latin codes: those runs, and only those, are converted to
Unicode Sinhala. Pages without a text layer (scans) are rendered by pdfium and read by
OCR when asked (`ocr`). Measured in bench/documents.py.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import DocumentError
from .legacy import convert_runs, is_legacy_font_name, legacy_font_id
from .ocr import OCR_DPI, OcrMode, sinhala_share
from .sinhala_repair import repair

# In "auto" OCR, a page whose text layer is not Sinhala is read by OCR too where images
# cover this share of it (a scan under another program's OCR layer).
SCANNED_IMAGE_SHARE = 0.5
# A page's text (its layer's, or what OCR read) is Sinhala when this share of its letters is.
SINHALA_SHARE = 0.5
# A page rendered for OCR has at most this many pixels (an A4 page at 300 dpi has 8.7M).
MAX_OCR_PIXELS = 40_000_000
# Paragraph breaks inside one text box: a line gap this many times the box's tightest,
# a line indented by this many line heights, or a sentence end this far (share of the
# box's width) short of the right edge.
PARAGRAPH_GAP_RATIO = 1.4
# pdfminer groups lines into one box up to this many line heights apart (default 0.5,
# which splits Sinhala paragraphs whose tall glyphs need a wider leading); the rules above
# then split the box into paragraphs.
LINE_MARGIN = 2.0
INDENT_HEIGHTS = 1.0
HEADING_HEIGHT_SHARE = 0.15
# Characters whose vertical centres are this close (share of their height) share a row.
ROW_SHARE = 0.4
ZERO_WIDTH = 0.5
SHORT_LINE_SHARE = 0.12
SENTENCE_ENDS = (".", "?", "!", "\u0df4", ":", "\u2026")
_OPEN_CLUSTER = ("\u200d",)
_DEPENDENT_SIGNS = frozenset(
    "\u0d82\u0d83\u0dca\u0dcf\u0dd0\u0dd1\u0dd2\u0dd3\u0dd4\u0dd6\u0dd8\u0dda\u0ddc\u0ddd\u0dde\u0ddf\u0df2\u0df3"
)


@dataclass(frozen=True)
class PdfParagraph:
    """A paragraph of a PDF: its text, 1-based page, the words the repair changed, the FM
    legacy font of runs converted in it (None when none was), and whether OCR read it."""

    text: str
    page: int
    repaired_words: int = 0
    legacy_font: str | None = None
    ocr: bool = False


@dataclass(frozen=True)
class _TextPage:
    """What a page's text layer gave, and how much of the page images cover."""

    number: int
    paragraphs: list[PdfParagraph]
    image_share: float


def read_pdf(path: Path, label: str, ocr: OcrMode = "never") -> Iterator[PdfParagraph]:
    """The paragraphs of a PDF in reading order, page by page.

    With `ocr` "auto", a page is read by OCR where it has no text layer, or where its
    text layer is not Sinhala but a page-size image on it reads as Sinhala (a scan with
    an English-only OCR layer); "always" reads every page by OCR.
    DocumentError for a file that is not a PDF, is corrupt, encrypted, or holds no text
    (a scan, with `ocr` "never").
    """
    pages = _text_layer(path, label)
    wanted = [page.number for page in pages if _wants_ocr(page, ocr)]
    if not wanted and not any(page.paragraphs for page in pages):
        raise DocumentError(
            f"{label}: the PDF holds no text (a scan: index it with --ocr auto to read it by OCR)"
        )
    read_by_ocr = dict(_ocr_pages(path, label, wanted, len(pages))) if wanted else {}
    for page in pages:
        scanned = read_by_ocr.get(page.number)
        if scanned is not None and (ocr == "always" or not page.paragraphs or _is_sinhala(scanned)):
            yield from scanned
        else:
            yield from page.paragraphs


def _wants_ocr(page: _TextPage, mode: OcrMode) -> bool:
    if mode == "never":
        return False
    if mode == "always" or not page.paragraphs:
        return True
    return not _is_sinhala(page.paragraphs) and page.image_share >= SCANNED_IMAGE_SHARE


def _is_sinhala(paragraphs: list[PdfParagraph]) -> bool:
    """Whether most of the paragraphs' letters are Sinhala."""
    return sinhala_share(" ".join(p.text for p in paragraphs)) >= SINHALA_SHARE


def _text_layer(path: Path, label: str) -> list[_TextPage]:
    from pdfminer.layout import LAParams
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage

    resources = PDFResourceManager()
    device = _actual_text_aggregator(resources, LAParams(line_margin=LINE_MARGIN))
    interpreter = PDFPageInterpreter(resources, device)
    pages = []
    try:
        with open(path, "rb") as f:
            for number, page in enumerate(PDFPage.get_pages(f), start=1):
                interpreter.process_page(page)
                layout = device.get_result()
                paragraphs = []
                for text, legacy_font in _paragraphs(layout):
                    fixed, changed = repair(text)
                    fixed = " ".join(fixed.split())
                    if fixed:
                        paragraphs.append(PdfParagraph(fixed, number, changed, legacy_font))
                pages.append(_TextPage(number, paragraphs, _image_share(layout)))
    except DocumentError:
        raise
    except Exception as e:  # pdfminer raises many unrelated types for a broken file
        raise DocumentError(f"{label}: not a readable PDF ({_reason(e)})") from None
    if not pages:
        raise DocumentError(f"{label}: the PDF has no pages")
    return pages


def _image_share(layout: Any) -> float:
    """Share of the page's area its images cover (overlaps counted twice, capped at 1)."""
    from pdfminer.layout import LTFigure, LTImage

    def images(items: Any) -> Iterator[Any]:
        for item in items:
            if isinstance(item, LTImage):
                yield item
            elif isinstance(item, LTFigure):
                yield from images(item)

    area = max(layout.width * layout.height, 1.0)
    covered = 0.0
    for image in images(layout):
        width = min(image.x1, layout.x1) - max(image.x0, layout.x0)
        height = min(image.y1, layout.y1) - max(image.y0, layout.y0)
        covered += max(width, 0.0) * max(height, 0.0)
    return min(covered / area, 1.0)


def _ocr_pages(
    path: Path, label: str, numbers: list[int], total: int
) -> Iterator[tuple[int, list[PdfParagraph]]]:
    """(page, paragraphs) of the pages `numbers` rendered by pdfium and read by OCR."""
    import pypdfium2 as pdfium

    from .ocr import shared_reader

    reader = shared_reader()
    try:
        document = pdfium.PdfDocument(str(path))
    except Exception as e:  # pdfium's own error type for a file pdfminer could read
        raise DocumentError(f"{label}: the PDF could not be rendered for OCR ({e})") from None
    try:

        def renderer(number: int) -> Callable[[], Any]:
            return lambda: _render(document, number)

        pages = ((number, renderer(number)) for number in numbers)
        for number, found in reader.read_pages(pages, label, total):
            yield number, [PdfParagraph(p.text, number, ocr=True) for p in found]
    finally:
        document.close()


def _render(document: Any, number: int) -> Any:
    """Page `number` as a grayscale image at OCR_DPI, or less for a page so large that
    would pass MAX_OCR_PIXELS."""
    page = document[number - 1]
    try:
        width, height = page.get_size()
        scale = min(OCR_DPI / 72, math.sqrt(MAX_OCR_PIXELS / max(width * height, 1.0)))
        return page.render(scale=scale, grayscale=True).to_pil()
    finally:
        page.close()


def _reason(error: Exception) -> str:
    name = type(error).__name__
    if "Encrypt" in name or "Password" in name:
        return "it is encrypted"
    return f"{name}: {error}" if str(error) else name


def _paragraphs(page: Any) -> Iterator[tuple[str, str | None]]:
    """Text boxes of a laid-out page split into paragraphs, lines joined by a space, each
    with the FM font of runs converted in it.

    A paragraph ends at a wider gap between lines than the box's tightest one (paragraph
    spacing), between lines of different sizes (a heading), before an indented line, or
    after a short line that ends a sentence.
    """
    from pdfminer.layout import LTTextBox, LTTextLine

    for box in page:
        if not isinstance(box, LTTextBox):
            continue
        lines = [line for line in box if isinstance(line, LTTextLine)]
        gaps = [above.y0 - below.y1 for above, below in itertools.pairwise(lines)]
        tightest = min(gaps, default=0.0)
        current, font = "", None
        for i, line in enumerate(lines):
            text, converted = _line_text(line)
            current, font = _join_lines(current, text.strip()), font or converted
            if (
                i + 1 < len(lines)
                and current
                and _ends_paragraph(box, line, lines[i + 1], gaps[i], tightest)
            ):
                yield current, font
                current, font = "", None
        if current:
            yield current, font


def _line_text(line: Any) -> tuple[str, str | None]:
    """A line's text with its FM-font runs converted, and the first FM font converted.
    Spaces the layout inserts belong to the run they fall in."""
    from pdfminer.layout import LTChar

    runs: list[tuple[str, str | None]] = []
    font: str | None = None
    for item in line:
        if isinstance(item, LTChar):
            font = _legacy_font_of(item.fontname)
        runs.append((item.get_text(), font))
    return convert_runs(runs)


@cache
def _legacy_font_of(font_name: Any) -> str | None:
    """The FM font id of an embedded font's name (`ABCDEF+FMAbhaya`), else None."""
    name = font_name.decode("latin-1") if isinstance(font_name, bytes) else str(font_name)
    base = name.split("+", 1)[1] if "+" in name[:7] else name
    return legacy_font_id(base) if is_legacy_font_name(base) else None


def _ends_paragraph(box: Any, line: Any, following: Any, gap: float, tightest: float) -> bool:
    if gap > tightest * PARAGRAPH_GAP_RATIO + 1.0:
        return True
    if abs(line.height - following.height) > HEADING_HEIGHT_SHARE * max(
        line.height, following.height
    ):
        return True
    if following.x0 - box.x0 > INDENT_HEIGHTS * following.height:
        return True
    text = line.get_text().rstrip()
    return text.endswith(SENTENCE_ENDS) and box.x1 - line.x1 > SHORT_LINE_SHARE * box.width


def _join_lines(text: str, line: str) -> str:
    """Lines of one paragraph joined by a space, except where a line broke inside a
    cluster (after an al-lakuna or joiner, or before a vowel sign)."""
    if not text or not line:
        return text or line
    if text.endswith(_OPEN_CLUSTER) or line[0] in _DEPENDENT_SIGNS:
        return text + line
    return text + " " + line


def _in_rows(objects: list[Any], char_type: type) -> list[Any]:
    """The page's characters sorted into rows (top to bottom) and each row left to right,
    other objects first.

    pdfminer builds lines from characters in drawing order; LibreOffice draws a line's
    spaces, digits and Latin letters in separate text objects, which would break one
    line into pieces. Sorted, a line's characters are consecutive, and a gap between
    columns still separates them.
    """
    chars = [o for o in objects if isinstance(o, char_type) and o.height > 0]
    others = [o for o in objects if not (isinstance(o, char_type) and o.height > 0)]
    chars.sort(key=lambda c: -round(c.y0 + c.y1))
    rows: list[list[Any]] = []
    centre = 0.0
    for char in chars:
        middle = (char.y0 + char.y1) / 2
        if rows and abs(centre - middle) < ROW_SHARE * char.height:
            rows[-1].append(char)
        else:
            rows.append([char])
            centre = middle
    return others + [c for row in rows for c in _left_to_right(row)]


def _left_to_right(row: list[Any]) -> list[Any]:
    """A row's characters sorted by position; a zero-width mark (a rakaransaya drawn over
    the letter before it) stays right after the character it was drawn with."""
    groups: list[list[Any]] = []
    for char in row:
        if groups and char.width < ZERO_WIDTH:
            groups[-1].append(char)
        else:
            groups.append([char])
    groups.sort(key=lambda group: group[0].x0)
    return [c for group in groups for c in group]


def _actual_text_aggregator(resources: Any, laparams: Any) -> Any:
    """A pdfminer page aggregator that replaces the glyphs of each /ActualText span with
    one character holding the span's text, boxed around all of them."""
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LTChar
    from pdfminer.utils import decode_text

    class ActualTextAggregator(PDFPageAggregator):
        def __init__(self) -> None:
            super().__init__(resources, laparams=laparams)
            self._spans: list[tuple[str, Any, int] | None] = []

        def begin_tag(self, tag: Any, props: Any = None) -> None:
            actual = props.get("ActualText") if isinstance(props, dict) else None
            outermost = not any(self._spans)
            if isinstance(actual, bytes) and outermost:
                self._spans.append((decode_text(actual), self.cur_item, len(self.cur_item._objs)))
            else:
                self._spans.append(None)

        def end_tag(self) -> None:
            span = self._spans.pop() if self._spans else None
            if span is None:
                return
            text, item, start = span
            if item is not self.cur_item:
                return
            chars = [o for o in item._objs[start:] if isinstance(o, LTChar)]
            if not chars:
                return
            first = chars[0]
            first._text = text
            first.set_bbox(
                (
                    min(c.x0 for c in chars),
                    min(c.y0 for c in chars),
                    max(c.x1 for c in chars),
                    max(c.y1 for c in chars),
                )
            )
            rest = {id(c) for c in chars[1:]}
            item._objs[start:] = [o for o in item._objs[start:] if id(o) not in rest]

        def end_page(self, page: Any) -> None:
            self.cur_item._objs = _in_rows(self.cur_item._objs, LTChar)
            super().end_page(page)

    return ActualTextAggregator()
