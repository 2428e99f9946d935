"""Repair Sinhala text extracted from PDFs in glyph (visual) order instead of logical order.

A PDF stores glyphs, not characters. When a producer gives no /ActualText for a cluster,
or an extractor ignores it, Sinhala comes out as it is drawn: the kombuva (ෙ, ෛ) before
its consonant (ෙක for කෙ), ො split into ෙ + ා, ෞ into ෙ + ෟ, and spaces where glyph
boxes leave gaps inside a word. The rules here put such text back in logical order; text
already in logical order passes through unchanged (the decision is made per text block
from how its kombuvas sit, since a logical kombuva always follows a consonant).
"""

from __future__ import annotations

import re
import unicodedata

KOMBUVA = "\u0dd9"
KOMBU_DEKA = "\u0ddb"
ZWJ = "\u200d"
AL_LAKUNA = "\u0dca"
_CONSONANT = "\u0d9a-\u0dc6"
_PREFIX_SIGNS = KOMBUVA + KOMBU_DEKA
# Signs drawn after their consonant: a space before one was put there by the extractor
# (the kombuvas are left out: in glyph order they start a syllable).
_DEPENDENT = "\u0d82\u0d83\u0dca\u0dcf-\u0dd8\u0dda\u0ddc-\u0ddf\u0df2\u0df3"
_SPACE_BEFORE_DEPENDENT = re.compile(f"[ \t]+(?=[{_DEPENDENT}{ZWJ}])")
_SPACE_AFTER_JOINER = re.compile(f"(?<={AL_LAKUNA}{ZWJ})[ \t]+(?=[{_CONSONANT}])")
_UNMAPPED_GLYPH = re.compile(r"\(cid:\d+\)|[\x00\ufffd]")
# A visual-order kombuva (or two, drawn as kombu deka) and the consonant cluster it is
# drawn before: a consonant with any yansaya/rakaransaya/touching letters joined to it by
# a ZWJ (an al-lakuna alone after the consonant is the hook of ේ, drawn after it).
_VISUAL_SYLLABLE = re.compile(
    f"({KOMBUVA}{KOMBUVA}|[{_PREFIX_SIGNS}])([{_CONSONANT}](?:{AL_LAKUNA}{ZWJ}[{_CONSONANT}])*)"
)
_MISPLACED_KOMBUVA = re.compile(f"(?<![{_CONSONANT}])[{_PREFIX_SIGNS}]")
_ANY_KOMBUVA = re.compile(f"[{_PREFIX_SIGNS}]")
# Share of kombuvas in impossible places above which a block is taken as visual order.
VISUAL_ORDER_SHARE = 0.2


def is_visual_order(text: str) -> bool:
    """Whether a block's kombuvas sit before their consonants (glyph order)."""
    total = len(_ANY_KOMBUVA.findall(text))
    if total == 0:
        return False
    return len(_MISPLACED_KOMBUVA.findall(text)) / total > VISUAL_ORDER_SHARE


def to_logical_order(text: str) -> str:
    """Move every kombuva after the consonant cluster it is drawn before, then recompose
    split vowel signs (ෙ + ා → ො, ෙ + ් → ේ, ෙ + ෟ → ෞ, ො + ් → ෝ) by NFC."""

    def swap(match: re.Match[str]) -> str:
        sign = KOMBU_DEKA if match.group(1) == KOMBUVA * 2 else match.group(1)
        return match.group(2) + sign

    return unicodedata.normalize("NFC", _VISUAL_SYLLABLE.sub(swap, text))


def repair(text: str) -> tuple[str, int]:
    """Logical-order Sinhala for a block of extracted PDF text; returns (text, words changed).

    Glyphs the PDF maps to no character are dropped, spaces the extractor put before a
    vowel sign or after a joiner are removed, and a block in visual order is reordered.
    The words changed are counted against the input's words at the same positions where
    the count of words is unchanged, else by the words of the output not in the input.
    """
    fixed = _UNMAPPED_GLYPH.sub("", text)
    fixed = _SPACE_BEFORE_DEPENDENT.sub("", fixed)
    fixed = _SPACE_AFTER_JOINER.sub("", fixed)
    if is_visual_order(fixed):
        fixed = to_logical_order(fixed)
    else:
        fixed = unicodedata.normalize("NFC", fixed)
    if fixed == text:
        return text, 0
    return fixed, _words_changed(text, fixed)


def _words_changed(before: str, after: str) -> int:
    old, new = before.split(), after.split()
    if len(old) == len(new):
        return sum(a != b for a, b in zip(old, new, strict=True))
    kept = set(old)
    return sum(word not in kept for word in new)
