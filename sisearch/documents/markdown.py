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

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*)$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^ {0,3}([-*_])(\s*\1){2,}\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?")
_QUOTE = re.compile(r"^\s*(?:>\s?)+")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+")
# Inline patterns never scan past the next opening mark of their own kind, so every rule
# reads a line once (a 10 MB line of unclosed "[" or "<a" costs linear time, not quadratic).
_DESTINATION = r"\((?:[^()\n]|\([^()\n]*\))*\)"  # a URL, with one level of parentheses
_IMAGE = re.compile(r"!\[([^\[\]]*)\]" + _DESTINATION)
_LINK = re.compile(r"\[([^\[\]]+)\](?:" + _DESTINATION + r"|\[[^\[\]]*\])")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^<>\s]+)>")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_CODE = re.compile(r"`+([^`]*)`+")
# Emphasis marks go wherever they touch a word ("**bold**", "~~gone~~"); a lone "*"
# between spaces stays. Underscores go only at a word's edge, so snake_case stays.
_EMPHASIS_MARKS = re.compile(r"(?:\*+|~~+)(?=\S)|(?<=\S)(?:\*+|~~+)")
_UNDERSCORE_MARKS = re.compile(r"(?<!\w)_+(?=\S)|(?<=\S)_+(?!\w)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
_SET_ASIDE = 0xE000
_SET_ASIDE_CHARS = re.compile("[\ue000-\ue07f]")


@dataclass(frozen=True)
class MarkdownParagraph:
    text: str
    heading: str | None


def read_markdown(text: str) -> Iterator[MarkdownParagraph]:
    """The paragraphs of a Markdown document, in order."""
    lines = _without_comments(_without_front_matter(text)).splitlines()
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
            heading = plain_text(_closing_hashes_removed(atx.group(2)) if atx else line)
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
    text = _EMPHASIS_MARKS.sub("", text)
    text = _UNDERSCORE_MARKS.sub("", text)
    text = _SET_ASIDE_CHARS.sub(lambda m: chr(ord(m.group(0)) - _SET_ASIDE), text)
    return " ".join(text.split())


def _without_comments(text: str) -> str:
    """`text` without HTML comments; an unclosed one runs to the end. One pass."""
    kept: list[str] = []
    position = 0
    while (start := text.find("<!--", position)) >= 0:
        kept.append(text[position:start])
        end = text.find("-->", start + 4)
        if end < 0:
            return "".join(kept)
        position = end + 3
    kept.append(text[position:])
    return "".join(kept)


def _closing_hashes_removed(heading: str) -> str:
    return heading.rstrip().rstrip("#").rstrip()


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
