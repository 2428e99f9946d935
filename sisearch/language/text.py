"""Text normalization and chunking for Sinhala; pure functions with no heavy imports.

Passages and queries go through the same `normalize`, so two spellings that look
identical (with and without the ZWJ of a yansaya or rakaransaya) embed identically.
The rule set has a version, recorded in every index: an index built under one rule
is never queried under another.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

NORMALIZATION_VERSION = "si-2"
# si-1: joiners of yansaya/rakaransaya added and of repaya dropped; si-2 also drops the
# joiner of touching letters (ක්‍ෂ, න්‍ද, ද්‍ධ). Indexes built under si-1 keep answering under it.
NORMALIZATION_VERSIONS = ("si-1", "si-2")

ZWJ = "\u200d"
ZWNJ = "\u200c"
AL_LAKUNA = "\u0dca"
_RA = "\u0dbb"
_YA = "\u0dba"
# Sinhala consonants ක (U+0D9A) .. ෆ (U+0DC6); U+0DB2 and U+0DBC are unassigned gaps.
_CONSONANT = "\u0d9a-\u0dc6"
_CONSONANT_NOT_RA = "\u0d9a-\u0dba\u0dbc-\u0dc6"

_REPEATED_JOINER = re.compile(f"{ZWJ}{{2,}}")
# Repaya (ර + ් + ZWJ + consonant): real text mostly omits the ZWJ, so drop it.
_REPAYA = re.compile(f"({_RA}{AL_LAKUNA}){ZWJ}(?=[{_CONSONANT}])")
# Any joiner after an al-lakuna (si-2 drops them all, then adds back yansaya/rakaransaya's).
_JOINER_AFTER_LAKUNA = re.compile(f"{AL_LAKUNA}{ZWJ}")
# Yansaya / rakaransaya (consonant other than ර + ් + ය/ර): add the ZWJ standard text has.
_MISSING_CONJUNCT_JOINER = re.compile(f"(?<=[{_CONSONANT_NOT_RA}]){AL_LAKUNA}(?=[{_YA}{_RA}])")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u200b]")
_WHITESPACE = re.compile(r"\s+")
# Characters that never appear in mojibake: if a text holds only these, ftfy has nothing to do.
_PLAIN = re.compile(f"[\\x00-\\x7f\u0d80-\u0dff{ZWJ}{ZWNJ}\\s]*")


def repair_mojibake(text: str) -> tuple[str, bool]:
    """Undo UTF-8 read as Windows-1252, Latin-1 or Mac Roman; returns (text, repaired)."""
    if _PLAIN.fullmatch(text):
        return text, False
    import ftfy  # a third of a second to import; most Sinhala text never needs it

    fixed = ftfy.fix_encoding(text)
    return fixed, fixed != text


def canonical_joiners(text: str, version: str = NORMALIZATION_VERSION) -> str:
    """Apply the canonical ZWJ rule of SINHALA.md; idempotent, leaves standard spelling alone.

    si-2: every joiner after an al-lakuna is dropped (repaya and touching letters, whose
    joiner only asks the font for a joined glyph), then yansaya and rakaransaya get theirs.
    si-1 (older indexes): only repaya's joiner is dropped.
    """
    if ZWJ not in text and AL_LAKUNA not in text:
        return text
    text = _REPEATED_JOINER.sub(ZWJ, text)
    if version == "si-1":
        text = _REPAYA.sub(r"\1", text)
    else:
        text = _JOINER_AFTER_LAKUNA.sub(AL_LAKUNA, text)
    return _MISSING_CONJUNCT_JOINER.sub(AL_LAKUNA + ZWJ, text)


def normalize(text: str, version: str = NORMALIZATION_VERSION) -> str:
    """Canonical form of a passage or query: NFC, canonical joiners, single spaces.

    `version` is the index's normalization rule (see NORMALIZATION_VERSIONS). Mojibake
    repair is separate (`repair_mojibake`) so callers can count repairs.
    """
    if version not in NORMALIZATION_VERSIONS:
        raise ValueError(f"unknown normalization version {version!r}")
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = _WHITESPACE.sub(" ", text).strip()
    return canonical_joiners(text, version)


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: Any) -> str | None:
    """The first lone surrogate (as `\\udxxx`) in a string, or in the keys and strings of a
    JSON-like value, else None. JSON can carry one ("\\ud800") and invalid UTF-8 in argv
    becomes one; it is not text and SQLite cannot store it."""
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        return f"\\u{ord(found.group()):04x}" if found else None
    if isinstance(value, dict):
        return next(
            (f for k, v in value.items() if (f := lone_surrogate(k) or lone_surrogate(v))), None
        )
    if isinstance(value, (list, tuple)):
        return next((f for v in value if (f := lone_surrogate(v))), None)
    return None


def has_content(text: str) -> bool:
    """Whether a text has anything visible: letters, marks, digits, punctuation or symbols."""
    return any(unicodedata.category(ch)[0] in "LMNPS" for ch in text)


def lexical_key(text: str) -> str:
    """Key for keyword matching: joiners removed (spelling variants meet), Latin casefolded."""
    return text.replace(ZWJ, "").replace(ZWNJ, "").casefold()


_SENTENCE_END = re.compile(r"[.!?෴।]+[\"'”’)\]]*(?=\s)")


@dataclass(frozen=True)
class Span:
    """A chunk of a passage: characters [start, end) of the normalized text."""

    start: int
    end: int


def chunk_spans(
    text: str,
    token_offsets: Sequence[tuple[int, int]],
    max_tokens: int,
    overlap_tokens: int,
) -> list[Span]:
    """Split `text` into spans of at most `max_tokens` tokens, breaking where it reads best.

    `token_offsets` are the (start, end) character offsets of the encoder's tokens,
    special tokens excluded. Each span ends at a sentence end if one lies in its second
    half, else at a space, else (one enormous word) between tokens. Consecutive spans
    share about `overlap_tokens` tokens, starting at a word start where there is one,
    so no sentence is cut off from its context. Nothing is dropped: the spans cover the text.
    """
    n = len(token_offsets)
    if n <= max_tokens:
        return [Span(0, len(text))]
    if max_tokens < 2:
        raise ValueError("max_tokens must be at least 2")
    overlap_tokens = max(0, min(overlap_tokens, max_tokens // 4))
    sentence_ends = {m.end() for m in _SENTENCE_END.finditer(text)}

    def breaks_before(i: int) -> tuple[bool, bool]:
        """Whether a chunk may end just before token i: (at a sentence end, at a space)."""
        prev_end, start = token_offsets[i - 1][1], token_offsets[i][0]
        gap = text[prev_end:start]
        at_space = (start > prev_end and gap.isspace()) or text[start : start + 1].isspace()
        at_sentence = at_space and any(prev_end <= e <= start for e in sentence_ends)
        return at_sentence, at_space

    spans: list[Span] = []
    first = 0
    while first < n:
        last = min(first + max_tokens, n)
        if last < n:
            cut = last
            for wanted in (0, 1):
                candidates = [
                    i for i in range(last, first + max_tokens // 2, -1) if breaks_before(i)[wanted]
                ]
                if candidates:
                    cut = candidates[0]
                    break
            last = cut
        start_char = 0 if first == 0 else token_offsets[first][0]
        end_char = len(text) if last >= n else token_offsets[last - 1][1]
        spans.append(Span(start_char, end_char))
        if last >= n:
            break
        overlap_start = max(last - overlap_tokens, first + 1)
        word_starts = (i for i in range(overlap_start, last) if breaks_before(i)[1])
        first = next(word_starts, overlap_start)
    return spans
