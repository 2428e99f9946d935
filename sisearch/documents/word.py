"""Paragraphs of a Word (.docx) file with their nearest heading; FM legacy-font runs
converted to Unicode, every other run left as it is.

python-docx reads the body in order: paragraphs, and table rows (a row's cells joined,
one passage a row). A run's font is its own, else its character style's, else its
paragraph style's (Word's inheritance), so text typed in an FM font through a style is
converted too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DocumentError
from .legacy import from_legacy, is_legacy_font_name, legacy_font_id
from .zips import check_zip


@dataclass(frozen=True)
class OfficeParagraph:
    """A paragraph (or table row) of an office document (DOCX, ODT): its text, nearest
    heading and the FM font of runs converted in it."""

    text: str
    heading: str | None
    legacy_font: str | None


def read_docx(path: Path, label: str) -> Iterator[OfficeParagraph]:
    """The non-blank paragraphs and table rows of a DOCX file, in order.

    DocumentError for a file that is not a DOCX (a legacy .doc, a corrupt zip) or that
    would unzip past the limits of `zips.check_zip` (a zip bomb).
    """
    import docx
    from docx.table import Table

    check_zip(path, label, "Word .docx")
    try:
        document = docx.Document(str(path))
        blocks = list(document.iter_inner_content())
        styles = _Styles(document)
    except Exception as e:  # python-docx raises zip, XML and KeyError alike for bad files
        raise DocumentError(
            f"{label}: not a readable Word .docx file ({type(e).__name__})"
        ) from None
    heading: str | None = None
    for block in blocks:
        if isinstance(block, Table):
            for row in block.rows:
                cells = [_paragraphs_text(cell.paragraphs, styles) for cell in _unique_cells(row)]
                text = " | ".join(c for c, _ in cells if c)
                if text:
                    yield OfficeParagraph(text, heading, next((f for _, f in cells if f), None))
            continue
        text, legacy_font = _paragraph_text(block, styles)
        if not text:
            continue
        if styles.is_heading(block._p.style):
            heading = text
        yield OfficeParagraph(text, heading, legacy_font)


def _style_kinds() -> tuple[Any, Any]:
    from docx.enum.style import WD_STYLE_TYPE

    return WD_STYLE_TYPE.PARAGRAPH, WD_STYLE_TYPE.CHARACTER


class _Styles:
    """The document's styles by id, with each one's font (its own, else its base style's)
    looked up once: python-docx searches the styles part again for every paragraph."""

    def __init__(self, document: Any) -> None:
        self._by_id = {style.style_id: style for style in document.styles}
        defaults = [document.styles.default(kind) for kind in _style_kinds()]
        paragraph, character = (s.style_id if s is not None else None for s in defaults)
        self._default_paragraph, self._default_character = paragraph, character
        self._fonts: dict[str | None, str | None] = {}

    def font(self, style_id: str | None, paragraph: bool = False) -> str | None:
        """The font a paragraph (or character) style gives; no id: the default style's."""
        if style_id is None:
            style_id = self._default_paragraph if paragraph else self._default_character
        if style_id not in self._fonts:
            self._fonts[style_id] = _style_font(self._by_id.get(style_id))
        return self._fonts[style_id]

    def is_heading(self, style_id: str | None) -> bool:
        style = self._by_id.get(style_id if style_id is not None else self._default_paragraph)
        name = (style.name or "") if style is not None else ""
        return name.startswith("Heading") or name == "Title"


def _unique_cells(row: Any) -> list[Any]:
    """A row's cells, a merged cell once (python-docx repeats it for each grid column)."""
    seen: set[int] = set()
    cells = []
    for cell in row.cells:
        if id(cell._tc) not in seen:
            seen.add(id(cell._tc))
            cells.append(cell)
    return cells


def _paragraphs_text(paragraphs: list[Any], styles: _Styles) -> tuple[str, str | None]:
    texts = [_paragraph_text(p, styles) for p in paragraphs]
    return " ".join(t for t, _ in texts if t), next((f for _, f in texts if f), None)


def _paragraph_text(paragraph: Any, styles: _Styles) -> tuple[str, str | None]:
    """The paragraph's text with FM runs converted, and the legacy font of the first
    converted run (None when none was)."""
    runs = list(_runs(paragraph))
    if not any(run.text.strip() for run in runs):
        return "", None
    style_font = styles.font(paragraph._p.style, paragraph=True)
    parts: list[str] = []
    legacy_font = None
    for run in runs:
        font = run.font.name or styles.font(run._r.style) or style_font
        if font and is_legacy_font_name(font) and run.text.strip():
            parts.append(from_legacy(run.text))
            legacy_font = legacy_font or legacy_font_id(font)
        else:
            parts.append(run.text)
    return " ".join("".join(parts).split()), legacy_font


def _runs(paragraph: Any) -> Iterator[Any]:
    """The paragraph's runs, those inside hyperlinks included."""
    from docx.text.hyperlink import Hyperlink

    for item in paragraph.iter_inner_content():
        if isinstance(item, Hyperlink):
            yield from item.runs
        else:
            yield item


def _style_font(style: Any) -> str | None:
    while style is not None:
        name = style.font.name if hasattr(style, "font") else None
        if name:
            return name
        style = style.base_style
    return None
