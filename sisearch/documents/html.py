"""The main content of an HTML page as paragraphs, with the page title and nearest heading.

selectolax (Lexbor) parses; readability-style rules keep the article: inside <main> or
a lone <article> when the page has one, without navigation, headers, footers, asides,
forms, scripts, hidden elements, elements whose class or id says boilerplate (menu,
sidebar, cookie, share, ...) and blocks that are mostly links. Block elements end
paragraphs; two line breaks in a row end one too. Text an old site set in an FM legacy
font (`<font face>`, a style, a `<style>` rule: html_fonts.py) is converted to Unicode, run
by run. Measured in bench/documents.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import DocumentError
from .html_fonts import FontRules
from .legacy import convert_runs

_SKIP = frozenset(
    [
        "script",
        "style",
        "noscript",
        "template",
        "nav",
        "aside",
        "form",
        "button",
        "iframe",
        "svg",
        "select",
        "textarea",
        "dialog",
        "menu",
        "object",
        "canvas",
        "head",
        "input",
        "label",
        "audio",
        "video",
        "map",
    ]
)
_OUTSIDE_ARTICLE_ONLY = frozenset({"header", "footer"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "blockquote",
        "pre",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "caption",
        "figcaption",
        "figure",
        "address",
        "hr",
        "details",
        "summary",
        "center",
        "header",
        "footer",
        "body",
        "html",
    ]
)
_CELLS = frozenset({"td", "th"})
_SKIP_ROLES = frozenset(
    [
        "navigation",
        "banner",
        "contentinfo",
        "complementary",
        "search",
        "dialog",
        "alertdialog",
        "menu",
        "menubar",
        "toolbar",
    ]
)
# Readability's "unlikely candidates", less what a Sinhala news page uses for content.
_UNLIKELY = re.compile(
    r"-ad-|\bads?\b|advert|banner|breadcrumb|combx|comment|community|cookie|consent|disqus"
    r"|footer|gdpr|header|menu|modal|newsletter|nav|pagination|pager|popup|promo|related"
    r"|remark|replies|rss|share|sharing|shoutbox|sidebar|skyscraper|social|sponsor"
    r"|subscribe|supplemental|widget|most-?read|trending|tags",
    re.IGNORECASE,
)
_LIKELY = re.compile(r"article|body|content|main|story|post-text|entry", re.IGNORECASE)
# A paragraph whose text is at least this share links (and that is short) is navigation.
LINK_DENSITY = 0.5
LINK_BLOCK_WORDS = 25
_BREAKS = re.compile(r"\n\s*\n")
_SINHALA = re.compile("[\u0d80-\u0dff]")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class HtmlParagraph:
    """A paragraph of the page's main content."""

    text: str
    heading: str | None
    legacy_font: str | None = None  # the FM font of runs converted in it, if any


@dataclass(frozen=True)
class HtmlPage:
    title: str | None
    paragraphs: list[HtmlParagraph]


def decode_html(data: bytes, label: str) -> str:
    """The page as text: UTF-8 (with or without BOM), else the charset its <meta> declares."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        declared = _CHARSET.search(data[:8192])
        if declared is None or declared.group(1).lower() in (b"utf-8", b"utf8"):
            raise DocumentError(
                f"{label}: invalid UTF-8 at byte {e.start} and no other charset declared"
            ) from None
        charset = declared.group(1).decode("ascii")
    try:
        return data.decode(charset)
    except (LookupError, UnicodeDecodeError) as e:
        raise DocumentError(
            f"{label}: cannot be read as its declared charset {charset} ({e})"
        ) from None


def read_html(data: bytes, label: str) -> HtmlPage:
    """The title and main-content paragraphs of an HTML page (none for an empty page)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(decode_html(data, label))
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node is not None else None
    root = _content_root(tree)
    if root is None:
        return HtmlPage(title or None, [])
    fonts = FontRules.of_page(tree)
    walker = _Walker(root.tag in ("main", "article") or _is_main(root), fonts)
    walker.walk(root, font=_inherited_font(root, fonts))
    walker.flush()
    return HtmlPage(title or None, walker.paragraphs)


def _content_root(tree: Any) -> Any:
    for selector in ("main", "[role=main]"):
        node = tree.css_first(selector)
        if node is not None and node.text(strip=True):
            return node
    articles = tree.css("article")
    if len(articles) == 1 and articles[0].text(strip=True):
        return articles[0]
    return tree.body


def _inherited_font(root: Any, fonts: FontRules) -> str | None:
    """The FM font `root` is in from its ancestors (a page whose <body> sets one)."""
    ancestors = []
    node = root
    # Elements only, up to <html>: the document node above it ("#document", or "" after a
    # doctype) has no attributes, and selectolax 0.3.21 crashes when asked for them.
    while node is not None:
        tag = node.tag
        if not isinstance(tag, str) or not tag or tag[0] in "-#":
            break
        ancestors.append(node)
        if tag == "html":
            break
        node = node.parent
    font = None
    for ancestor in reversed(ancestors):
        font = fonts.font_of(ancestor, font)
    return font


def _is_main(node: Any) -> bool:
    return (node.attributes.get("role") or "") == "main"


_CHILDREN, _NODE, _AFTER_CELL, _AFTER_BLOCK = "children", "node", "after cell", "after block"


class _Walker:
    """Collects text in document order, a paragraph per block, skipping boilerplate."""

    def __init__(self, inside_article: bool, fonts: FontRules | None = None) -> None:
        self.inside_article = inside_article
        self.fonts = fonts or FontRules()
        self.paragraphs: list[HtmlParagraph] = []
        self.heading: str | None = None
        self._pieces: list[tuple[str, bool, str | None]] = []  # text, in a link, FM font
        self._in_heading = False

    def walk(self, root: Any, in_link: bool = False, font: str | None = None) -> None:
        """Visit `root`'s subtree in document order with an explicit stack: old FM-font pages
        nest a thousand unclosed `<font>` tags, deeper than Python's recursion allows."""
        stack: list[tuple[str, Any, bool, str | None]] = [(_CHILDREN, root, in_link, font)]
        while stack:
            step, node, in_link, font = stack.pop()
            if step == _CHILDREN:
                children = list(node.iter(include_text=True))
                stack.extend((_NODE, child, in_link, font) for child in reversed(children))
            elif step == _AFTER_CELL:
                self._pieces.append((" ", in_link, font))
            elif step == _AFTER_BLOCK:
                self.flush()
                self._in_heading = False
            else:
                stack.extend(self._visit(node, in_link, font))

    def _visit(
        self, node: Any, in_link: bool, font: str | None
    ) -> list[tuple[str, Any, bool, str | None]]:
        """Take in one node; returns the steps to run next, last first."""
        tag = node.tag
        if tag == "-text":
            self._pieces.append((node.text_content or "", in_link, font))
        elif tag == "br":
            self._pieces.append(("\n", in_link, font))
        elif not isinstance(tag, str) or tag.startswith("-") or self._skipped(node):
            pass
        else:
            font = self.fonts.font_of(node, font)
            if tag in _CELLS:
                self._pieces.append((" ", in_link, font))
                return [(_AFTER_CELL, node, in_link, font), (_CHILDREN, node, in_link, font)]
            if tag in _BLOCKS:
                self.flush()
                self._in_heading = tag in _HEADINGS
                return [(_AFTER_BLOCK, node, in_link, font), (_CHILDREN, node, in_link, font)]
            return [(_CHILDREN, node, in_link or tag == "a", font)]
        return []

    def _skipped(self, node: Any) -> bool:
        tag = node.tag
        if tag in _SKIP or (tag in _OUTSIDE_ARTICLE_ONLY and not self.inside_article):
            return True
        attributes = node.attributes
        if "hidden" in attributes or (attributes.get("aria-hidden") or "") == "true":
            return True
        if (attributes.get("role") or "").lower() in _SKIP_ROLES:
            return True
        names = f"{attributes.get('class') or ''} {attributes.get('id') or ''}"
        return bool(_UNLIKELY.search(names)) and not _LIKELY.search(names)

    def flush(self) -> None:
        if not self._pieces:
            return
        pieces, self._pieces = self._pieces, []
        text, legacy_font = convert_runs((text, font) for text, _, font in pieces)
        linked = sum(len(piece.strip()) for piece, in_link, _ in pieces if in_link)
        for part in _BREAKS.split(text):
            paragraph = " ".join(part.split())
            if not paragraph:
                continue
            if self._in_heading:
                self.heading = paragraph
            elif _is_navigation(paragraph, linked, len(text.strip())):
                continue
            converted = legacy_font if legacy_font and _SINHALA.search(paragraph) else None
            self.paragraphs.append(HtmlParagraph(paragraph, self.heading, converted))


def _is_navigation(paragraph: str, linked: int, total: int) -> bool:
    if total == 0 or linked / total < LINK_DENSITY:
        return False
    return len(paragraph.split()) <= LINK_BLOCK_WORDS
