"""Sinhala typed for FM legacy fonts (FM Abhaya and its family) converted to Unicode.

Before Unicode, Sinhala was typed as Latin characters that only an FM font draws as
Sinhala: `Y%S ,xldfõ` is ශ්‍රී ලංකාවේ. The FM fonts share one keyboard layout, so one
table (pandukabhaya's, MIT) converts them all; the project's normalization then applies
its ZWJ rule on top, as for any passage. Text is converted only where it is declared
legacy (`--legacy-font`) or set in an FM font (a DOCX run): Latin text is never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

# The FM fonts known to use the shared layout; names as `--legacy-font` takes them.
FM_FONTS = (
    "fm-abhaya",
    "fm-malithi",
    "fm-bindumathi",
    "fm-emanee",
    "fm-derana",
    "fm-ganganee",
    "fm-gemunu",
    "fm-samantha",
    "fm-arjunn",
    "fm-basuru",
)
LEGACY_FONTS = FM_FONTS
# A font name of the FM family as Word records it: "FMAbhaya", "FM Malithi", "FM-Derana x":
# a known member in any case, or "FM" and a capitalized name.
_KNOWN_FM_NAME = re.compile(
    r"^\s*fm[\s_-]*(" + "|".join(f[3:] for f in FM_FONTS) + ")", re.IGNORECASE
)
_FM_FONT_NAME = re.compile(r"^\s*FM[\s_-]?[A-Z][a-z]{2,}")
_SINHALA = re.compile("[\u0d80-\u0dff]")


def is_legacy_font_name(font_name: str | None) -> bool:
    """Whether a font (as named in a document) is one of the FM legacy fonts."""
    if not font_name:
        return False
    return bool(_KNOWN_FM_NAME.match(font_name) or _FM_FONT_NAME.match(font_name))


def legacy_font_id(font_name: str) -> str:
    """The `--legacy-font` spelling of an FM font name: "FMAbhaya" and "FM Abhaya" are fm-abhaya."""
    letters = re.sub(r"[^a-z]", "", font_name.lower())
    return "fm-" + letters[2:] if letters.startswith("fm") else letters


def from_legacy(text: str, font: str = "fm-abhaya") -> str:
    """Unicode Sinhala for text typed for a legacy font; text already holding Sinhala
    letters is returned as it is (a file that mixes both is converted only where legacy)."""
    if font not in LEGACY_FONTS:
        raise ValueError(f"unknown legacy font {font!r}; known: {', '.join(LEGACY_FONTS)}")
    if _SINHALA.search(text):
        return text
    return _converter().convert(text)


def convert_runs(runs: Iterable[tuple[str, str | None]]) -> tuple[str, str | None]:
    """Text made of runs (text, FM font id or None) with the FM runs converted, and the
    first FM font whose run changed. Adjacent runs in one font convert together: a vowel
    sign typed before its consonant may sit in another element or span (`<b>f</b>l`)."""
    merged: list[tuple[str | None, list[str]]] = []
    for text, font in runs:
        if merged and merged[-1][0] == font:
            merged[-1][1].append(text)
        else:
            merged.append((font, [text]))
    parts: list[str] = []
    first = None
    for font, texts in merged:
        joined = "".join(texts)
        converted = from_legacy(joined) if font is not None and joined.strip() else joined
        if converted != joined:
            first = first or font
        parts.append(converted)
    return "".join(parts), first


@cache
def _converter() -> Any:
    from pandukabhaya import Converter

    return Converter("fm_abhaya")
