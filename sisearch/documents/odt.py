"""Paragraphs of an OpenDocument text (.odt) file, as LibreOffice writes them, with their
nearest heading; runs set in an FM legacy font converted to Unicode, others left alone.

The body is read in order from content.xml: headings, paragraphs (list items among them)
and table rows (a row's cells joined, one passage a row). A span's font is its own
style's, else its paragraph's, else the style each inherits from (content.xml's
automatic styles and styles.xml's named ones), down to the font face's family.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from ..errors import DocumentError
from .legacy import convert_runs, is_legacy_font_name, legacy_font_id
from .word import OfficeParagraph
from .zips import check_zip

_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
}
_TEXT, _TABLE, _STYLE = (f"{{{_NS[k]}}}" for k in ("text", "table", "style"))
_PARAGRAPHS = {f"{_TEXT}p", f"{_TEXT}h"}
_ROW = f"{_TABLE}table-row"
_CELL = f"{_TABLE}table-cell"
_SKIPPED = {f"{_TEXT}note", f"{_TEXT}tracked-changes", f"{_TEXT}sequence-decls"}


def read_odt(path: Path, label: str) -> Iterator[OfficeParagraph]:
    """The non-blank paragraphs and table rows of an ODT file, in order.

    DocumentError for a file that is not an ODT or would unzip past the limits.
    """
    check_zip(path, label, "OpenDocument .odt")
    try:
        with zipfile.ZipFile(path) as archive:
            content = ElementTree.fromstring(archive.read("content.xml"))
            names = set(archive.namelist())
            styles_xml = archive.read("styles.xml") if "styles.xml" in names else None
        styles = _Fonts(content, None if styles_xml is None else ElementTree.fromstring(styles_xml))
        body = content.find("office:body/office:text", _NS)
    except (KeyError, ElementTree.ParseError, zipfile.BadZipFile, OSError) as e:
        raise DocumentError(
            f"{label}: not a readable OpenDocument .odt file ({type(e).__name__})"
        ) from None
    if body is None:
        raise DocumentError(f"{label}: not an OpenDocument text (no office:text body)")
    heading: str | None = None
    stack: list[Any] = list(reversed(body))
    while stack:  # explicit: sections and lists nest as deep as a file likes
        element = stack.pop()
        if element.tag in _PARAGRAPHS:
            text, font = _paragraph_text(element, styles)
            if not text:
                continue
            if element.tag == f"{_TEXT}h":
                heading = text
            yield OfficeParagraph(text, heading, font)
        elif element.tag == _ROW:
            cells = [_cell_text(cell, styles) for cell in element if cell.tag == _CELL]
            text = " | ".join(c for c, _ in cells if c)
            if text:
                yield OfficeParagraph(text, heading, next((f for _, f in cells if f), None))
        elif element.tag not in _SKIPPED:
            stack.extend(reversed(list(element)))


def _cell_text(cell: Any, styles: _Fonts) -> tuple[str, str | None]:
    parts = [_paragraph_text(p, styles) for p in cell.iter() if p.tag in _PARAGRAPHS]
    return " ".join(t for t, _ in parts if t), next((f for _, f in parts if f), None)


def _paragraph_text(paragraph: Any, styles: _Fonts) -> tuple[str, str | None]:
    """The paragraph's text with FM runs converted, and the first FM font converted."""
    runs: list[tuple[str, str | None]] = []
    own = styles.font(paragraph.get(f"{_TEXT}style-name"))
    stack: list[tuple[Any, str | None, bool]] = [(paragraph, own, False)]
    while stack:
        element, font, tail = stack.pop()
        if tail:
            runs.append((element.tail or "", font))
            continue
        tag = element.tag
        if tag == f"{_TEXT}s":
            runs.append((" " * int(element.get(f"{_TEXT}c", "1") or 1), font))
        elif tag in (f"{_TEXT}tab", f"{_TEXT}line-break"):
            runs.append((" ", font))
        elif tag not in _SKIPPED:
            inner = styles.font(element.get(f"{_TEXT}style-name"), font)
            runs.append((element.text or "", inner))
            for child in reversed(list(element)):
                stack.append((child, inner, True))  # after the child: its tail, outer font
                stack.append((child, inner, False))
    text, font = convert_runs(runs)
    return " ".join(text.split()), font


class _Fonts:
    """Each style's FM font (a `--legacy-font` id) or None, following parent styles down
    to the font face a style names."""

    def __init__(self, content: Any, styles: Any) -> None:
        self._faces: dict[str, str] = {}
        self._styles: dict[str, tuple[str | None, str | None]] = {}
        for root in (styles, content):
            if root is None:
                continue
            for face in root.iter(f"{_STYLE}font-face"):
                family = face.get(f"{{{_NS['svg']}}}font-family") or face.get(f"{_STYLE}name")
                self._faces[face.get(f"{_STYLE}name") or ""] = (family or "").strip("'\"")
            for style in root.iter(f"{_STYLE}style"):
                properties = style.find("style:text-properties", _NS)
                family = None
                if properties is not None:
                    named = properties.get(f"{_STYLE}font-name")
                    family = self._faces.get(named or "", named) or properties.get(
                        f"{{{_NS['fo']}}}font-family"
                    )
                parent = style.get(f"{_STYLE}parent-style-name")
                self._styles[style.get(f"{_STYLE}name") or ""] = (family, parent)
        self._cache: dict[str, str | None] = {}

    def font(self, name: str | None, inherited: str | None = None) -> str | None:
        """The FM font of text in style `name`, else what it inherits."""
        if not name or name not in self._styles:
            return inherited
        if name not in self._cache:
            self._cache[name] = self._resolve(name)
        found = self._cache[name]
        return inherited if found == "" else found

    def _resolve(self, name: str) -> str | None:
        """The style's FM font id, None for another family, "" when no style sets one."""
        seen: set[str] = set()
        while name and name in self._styles and name not in seen:
            seen.add(name)
            family, parent = self._styles[name]
            if family:
                family = family.strip("'\"")
                return legacy_font_id(family) if is_legacy_font_name(family) else None
            name = parent or ""
        return ""
