"""Keyword search on Sinhala: whole-word tokens, safe FTS5 queries, match highlighting.

SQLite's default `unicode61` tokenizer treats vowel signs, al-lakuna and ZWJ as
separators and shreds Sinhala words into syllables. The FTS table therefore indexes
`lexical_key(text)` (joiners removed, Latin casefolded) with a tokenizer that keeps
marks inside words, and queries are cut into words by the same rule.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from .text import ZWJ, ZWNJ, lexical_key, normalize

FTS_TOKENIZER = "unicode61 categories 'L* N* Co M*' remove_diacritics 2"
_JOINERS = {ZWJ, ZWNJ}


def _in_word(ch: str) -> bool:
    category = unicodedata.category(ch)
    return ch in _JOINERS or category[0] in "LMN" or category == "Co"


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word: letters, marks, digits and private-use characters, with
    the joiners inside a word kept in it. Never splits a Sinhala word at a vowel sign."""
    spans = []
    start = None
    for i, ch in enumerate(text):
        inside = _in_word(ch)
        if inside and start is None:
            start = i
        elif not inside and start is not None:
            spans.append((start, i))
            start = None
    if start is not None:
        spans.append((start, len(text)))
    return [(s, e) for s, e in spans if any(c not in _JOINERS for c in text[s:e])]


def query_terms(query: str) -> list[str]:
    """The distinct lexical keys of a query's words, in order."""
    text = normalize(query)
    terms = []
    for start, end in word_spans(text):
        key = lexical_key(text[start:end])
        if key and key not in terms:
            terms.append(key)
    return terms


def fts_query(query: str, alternatives: Sequence[str] = ()) -> str | None:
    """An FTS5 MATCH expression for plain user text: each word quoted, any word may match.

    Quoting makes every word a literal, so quotes, `*`, `-`, `NEAR`, `AND` or
    parentheses in the user's text are never operators. `alternatives`: more words
    (lexical keys) that may match, such as other readings of a romanized word. None if
    there is no word.
    """
    terms = query_terms(query)
    terms += [key for key in alternatives if key and key not in terms]
    if not terms:
        return None
    return " OR ".join(fts_literal(term) for term in terms)


def fts_literal(term: str) -> str:
    """`term` as an FTS5 string literal: matched as a word, never read as an operator."""
    return '"' + term.replace('"', '""') + '"'


def match_spans(text: str, terms: list[str]) -> list[tuple[int, int]]:
    """Spans of the words of `text` whose lexical key is one of `terms` (whole words only)."""
    wanted = set(terms)
    return [(s, e) for s, e in word_spans(text) if lexical_key(text[s:e]) in wanted]


def snippet(
    text: str, spans: list[tuple[int, int]], width: int = 240
) -> tuple[str, list[tuple[int, int]]]:
    """A window of about `width` characters around the first match, at word boundaries.

    Returns the snippet (with … where text was cut) and the match spans within it.
    """
    if len(text) <= width:
        return text, spans
    words = word_spans(text)
    centre = spans[0][0] if spans else 0
    start = max(0, centre - width // 3)
    start = next((s for s, _ in words if s >= start), start) if start else 0
    end = min(len(text), start + width)
    end = max((e for _, e in words if e <= end), default=end) if end < len(text) else end
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    inside = [
        (s - start + len(prefix), e - start + len(prefix))
        for s, e in spans
        if s >= start and e <= end
    ]
    return prefix + text[start:end] + suffix, inside
