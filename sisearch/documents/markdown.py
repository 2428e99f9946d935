"""Paragraphs of Markdown text with their nearest heading, markup removed.

A paragraph is a run of non-blank lines; a heading (`#` or underlined), a list item, a
table row and a quote line start their own. Front matter, fenced code, HTML comments
and link definitions are not passages. Inline markup keeps its text: `[text](url)` is
text, `![alt](src)` is alt, emphasis and code marks go.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^ {0,3}([-*_])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\[[^\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_CODE = re.compile(r"`+([^`]*)`+")
_EMPHASIS = re.compile(r"(\*\*|__|\*|~~)(?=\S)(.+?)(?<=\S)\1")
_UNDERSCORE_EMPHASIS = re.compile(r"(?<![\w])_(?=\S)(.+?)(?<=\S)_(?![\w])")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
_SET_ASIDE = 0xE000
_SET_ASIDE_CHARS = re.compile("[\ue000-\ue07f]")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass(frozen=True)
class MarkdownParagraph:
    text: str
    heading: str | None


def read_markdown(text: str) -> Iterator[MarkdownParagraph]:
    """The paragraphs of a Markdown document, in order."""
    lines = _COMMENT.sub("", _without_front_matter(text)).splitlines()
    heading: str | None = None
    current: list[str] = []
    fence: str | None = None

    def flush() -> Iterator[MarkdownParagraph]:
        if current:
            paragraph = plain_text(" ".join(current))
            current.clear()
            if paragraph:
                yield MarkdownParagraph(paragraph, heading)

    for i, line in enumerate(lines):
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        opening = _FENCE.match(line)
        if opening:
            yield from flush()
            fence = opening.group(1)
            continue
        following = lines[i + 1] if i + 1 < len(lines) else ""
        atx = _ATX_HEADING.match(line)
        setext = current == [] and line.strip() and _SETEXT_UNDERLINE.match(following)
        if atx or setext:
            yield from flush()
            heading = plain_text(atx.group(2) if atx else line)
            if heading:
                yield MarkdownParagraph(heading, heading)
            continue
        if not line.strip() or _RULE.match(line) or _SETEXT_UNDERLINE.match(line):
            yield from flush()
            continue
        if _LINK_DEFINITION.match(line) or _TABLE_SEPARATOR.match(line):
            continue
        if _LIST_ITEM.match(line) or line.lstrip().startswith("|"):
            yield from flush()
            line = _LIST_ITEM.sub("", line, count=1)
            if line.lstrip().startswith("|"):
                current.append(" | ".join(c.strip() for c in line.strip().strip("|").split("|")))
                yield from flush()
                continue
        current.append(_QUOTE.sub("", line).strip())
    yield from flush()


def plain_text(markdown: str) -> str:
    """Inline Markdown as plain text: links and images keep their text, marks go."""
    # Escaped marks are set aside (as private-use characters) so no rule reads them.
    text = _ESCAPE.sub(lambda m: chr(_SET_ASIDE + ord(m.group(1))), markdown)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    text = _TAG.sub("", text)
    for _ in range(2):
        text = _EMPHASIS.sub(r"\2", text)
    text = _UNDERSCORE_EMPHASIS.sub(r"\1", text)
    text = _SET_ASIDE_CHARS.sub(lambda m: chr(ord(m.group(0)) - _SET_ASIDE), text)
    return " ".join(text.split())


def _without_front_matter(text: str) -> str:
    if text.startswith("---\n") or text.startswith("---\r\n"):
        end = re.search(r"^(---|\.\.\.)\s*$", text[4:], re.MULTILINE)
        if end:
            return text[4 + end.end() :]
    return text


def paragraphs_of_text(text: str) -> Iterator[str]:
    """Blank-line-separated paragraphs of plain text, each paragraph's lines joined by a space."""
    for block in re.split(r"\n[ \t]*(?:\r?\n)+", text):
        paragraph = " ".join(block.split())
        if paragraph:
            yield paragraph
