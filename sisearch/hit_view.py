"""How a hit is shown to people, the one description the CLI's table and the search page
share (`--json` and the API give `Hit.to_dict()` whole): where the passage is, and its
text cut to a snippet around the query's words, in plain and matched pieces."""

from __future__ import annotations

from dataclasses import dataclass

from .index import Hit
from .language.lexical import match_spans, query_terms, snippet


@dataclass(frozen=True)
class Piece:
    text: str
    match: bool


@dataclass(frozen=True)
class HitView:
    """A hit as shown: the hit itself, its place (`file:line` or `file p.N`) and pieces."""

    hit: Hit
    place: str
    pieces: list[Piece]


def words_to_mark(query: str, searched: str | None) -> list[str]:
    """The words a hit's text is marked at: those of what was searched (the Sinhala
    reading of a romanized query), else of the query as typed."""
    return query_terms(searched or query)


def view_of(hit: Hit, words: list[str], width: int) -> HitView:
    """The hit with its text (a snippet of about `width` characters if longer) in pieces,
    the query's words marked whole."""
    text, spans = snippet(hit.text, match_spans(hit.text, words), width=width)
    pieces: list[Piece] = []
    position = 0
    for start, end in spans:
        if start > position:
            pieces.append(Piece(text[position:start], False))
        pieces.append(Piece(text[start:end], True))
        position = end
    if position < len(text):
        pieces.append(Piece(text[position:], False))
    return HitView(hit, hit.place, pieces)
