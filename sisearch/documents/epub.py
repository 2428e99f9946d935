"""Paragraphs of an EPUB book in reading order: its package's spine, each chapter read as
an HTML page (navigation left out, FM-font runs converted), with the book's title and
the chapter's nearest heading.

The container names the package document; its spine lists the chapters in order (items
marked `linear="no"`, such as pop-up notes, are left out) and its manifest where each
chapter is. The same unzip limits as for DOCX and ODT apply.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree

from ..errors import DocumentError
from .html import read_html
from .zips import check_zip

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_CHAPTER_TYPES = frozenset({"application/xhtml+xml", "text/html"})


@dataclass(frozen=True)
class EpubParagraph:
    """A paragraph of a chapter, with the book's title, the nearest heading and the FM font
    of runs converted in it (None when none was)."""

    text: str
    title: str | None
    heading: str | None
    legacy_font: str | None


def read_epub(path: Path, label: str) -> Iterator[EpubParagraph]:
    """The paragraphs of every chapter of an EPUB, in reading order.

    DocumentError for a file that is not an EPUB, names no chapter, or would unzip past
    the limits.
    """
    check_zip(path, label, "EPUB")
    try:
        with zipfile.ZipFile(path) as archive:
            package_name = _package_name(archive)
            package = ElementTree.fromstring(archive.read(package_name))
            title = _book_title(package)
            chapters = _chapters(package, posixpath.dirname(package_name))
            if not chapters:
                raise DocumentError(f"{label}: an EPUB whose spine names no chapter")
            for name in chapters:
                page = read_html(archive.read(name), f"{label}:{name}")
                for paragraph in page.paragraphs:
                    yield EpubParagraph(
                        paragraph.text,
                        title or page.title,
                        paragraph.heading,
                        paragraph.legacy_font,
                    )
    except DocumentError:
        raise
    except (KeyError, ElementTree.ParseError, zipfile.BadZipFile, ValueError) as e:
        reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        raise DocumentError(f"{label}: not a readable EPUB ({reason})") from None


def _package_name(archive: zipfile.ZipFile) -> str:
    container = ElementTree.fromstring(archive.read("META-INF/container.xml"))
    rootfile = container.find(f".//{_CONTAINER}rootfile")
    if rootfile is None or not rootfile.get("full-path"):
        raise ValueError("META-INF/container.xml names no package document")
    return str(rootfile.get("full-path"))


def _book_title(package: ElementTree.Element) -> str | None:
    node = package.find(f".//{_DC_TITLE}")
    text = " ".join((node.text or "").split()) if node is not None else ""
    return text or None


def _chapters(package: ElementTree.Element, base: str) -> list[str]:
    """The archive names of the spine's linear chapters, in order, each once."""
    manifest = {
        item.get("id"): (item.get("href") or "", item.get("media-type") or "")
        for item in package.iter(f"{_OPF}item")
    }
    names: list[str] = []
    for reference in package.iter(f"{_OPF}itemref"):
        href, media_type = manifest.get(reference.get("idref"), ("", ""))
        if not href or media_type not in _CHAPTER_TYPES or reference.get("linear") == "no":
            continue
        name = posixpath.normpath(posixpath.join(base, unquote(href.split("#", 1)[0])))
        if name not in names:
            names.append(name)
    return names
