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


@dataclass(frozen=True)
class WordParagraph:
    """A paragraph (or table row) of a DOCX file."""

    text: str
    heading: str | None
    legacy_font: str | None


def read_docx(path: Path, label: str) -> Iterator[WordParagraph]:
    """The non-blank paragraphs and table rows of a DOCX file, in order.

    DocumentError for a file that is not a DOCX (a legacy .doc, a corrupt zip).
    """
    import docx
    from docx.table import Table

    try:
        document = docx.Document(str(path))
        blocks = list(document.iter_inner_content())
    except Exception as e:  # python-docx raises zip, XML and KeyError alike for bad files
        raise DocumentError(
            f"{label}: not a readable Word .docx file ({type(e).__name__})"
        ) from None
    heading: str | None = None
    for block in blocks:
        if isinstance(block, Table):
            for row in block.rows:
                cells = [_paragraphs_text(cell.paragraphs) for cell in _unique_cells(row)]
                text = " | ".join(c for c, _ in cells if c)
                if text:
                    yield WordParagraph(text, heading, next((f for _, f in cells if f), None))
            continue
        text, legacy_font = _paragraph_text(block)
        if not text:
            continue
        if _is_heading(block):
            heading = text
        yield WordParagraph(text, heading, legacy_font)


def _unique_cells(row: Any) -> list[Any]:
    """A row's cells, a merged cell once (python-docx repeats it for each grid column)."""
    seen: set[int] = set()
    cells = []
    for cell in row.cells:
        if id(cell._tc) not in seen:
            seen.add(id(cell._tc))
            cells.append(cell)
    return cells


def _paragraphs_text(paragraphs: list[Any]) -> tuple[str, str | None]:
    texts = [_paragraph_text(p) for p in paragraphs]
    return " ".join(t for t, _ in texts if t), next((f for _, f in texts if f), None)


def _paragraph_text(paragraph: Any) -> tuple[str, str | None]:
    """The paragraph's text with FM runs converted, and the legacy font of the first
    converted run (None when none was)."""
    style_font = _style_font(paragraph.style)
    parts: list[str] = []
    legacy_font = None
    for run in _runs(paragraph):
        font = run.font.name or _style_font(run.style) or style_font
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


def _is_heading(paragraph: Any) -> bool:
    name = (paragraph.style.name or "") if paragraph.style is not None else ""
    return name.startswith("Heading") or name == "Title"
