"""Normalization, joiner canonicalization, mojibake repair and chunking."""

from __future__ import annotations

import itertools
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from sisearch.language.text import (
    ZWJ,
    canonical_joiners,
    chunk_spans,
    lexical_key,
    normalize,
    repair_mojibake,
)

SINHALA = st.text(
    alphabet=st.sampled_from(
        [chr(c) for c in range(0x0D80, 0x0E00)] + [ZWJ, "\u200c", " ", ".", "a", "\u0301"]
    ),
    max_size=60,
)


@given(SINHALA)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(SINHALA)
def test_normalize_output_is_nfc(text: str) -> None:
    assert unicodedata.is_normalized("NFC", normalize(text))


def test_missing_zwj_is_added_to_yansaya_and_rakaransaya() -> None:
    assert normalize("සෞඛ්ය") == "සෞඛ්\u200dය"
    assert normalize("ප්රදේශය") == "ප්\u200dරදේශය"
    assert normalize("ශ්රී ලංකා") == "ශ්\u200dරී ලංකා"


def test_standard_spelling_is_left_alone() -> None:
    for word in ("සෞඛ්\u200dය", "ප්\u200dරදේශය", "වෛද්\u200dය", "ලංකාව", "කාර්ය"):
        assert normalize(word) == word


def test_repaya_loses_its_zwj() -> None:
    assert canonical_joiners("කාර්\u200dය") == "කාර්ය"
    assert canonical_joiners("ධර්\u200dම") == "ධර්ම"


TOUCHING_LETTERS = [
    ("ප්‍රතික්‍ෂේප", "ප්‍රතික්ෂේප"),
    ("ක්‍ෂේත්‍රය", "ක්ෂේත්‍රය"),
    ("ආනන්‍ද", "ආනන්ද"),
    ("බුද්‍ධ", "බුද්ධ"),
    ("නිට්‍ඨාව", "නිට්ඨාව"),
    ("ක්‍වොන්ටම්", "ක්වොන්ටම්"),
]


def test_touching_letters_lose_their_zwj_in_si_2() -> None:
    for joined, plain in TOUCHING_LETTERS:
        assert normalize(joined) == normalize(plain) == plain
        assert normalize(joined, "si-1") == joined  # older indexes keep their rule


def test_si_2_keeps_yansaya_rakaransaya_and_drops_repaya() -> None:
    text = "ප්රතික්‍ෂේප කාර්‍ය සෞඛ්ය ධර්‍ම ශ්‍රී"
    assert normalize(text) == "ප්‍රතික්ෂේප කාර්ය සෞඛ්‍ය ධර්ම ශ්‍රී"


@given(SINHALA)
def test_si_1_is_idempotent_too(text: str) -> None:
    once = normalize(text, "si-1")
    assert normalize(once, "si-1") == once


@given(SINHALA)
def test_si_2_of_si_1_text_is_si_2(text: str) -> None:
    """What `rebuild --normalize` relies on: stored si-1 text re-normalizes to si-2 exactly."""
    assert normalize(normalize(text, "si-1")) == normalize(text)


def test_repeated_zwj_collapses() -> None:
    assert normalize("ප්\u200d\u200d\u200dරදේශය") == "ප්\u200dරදේශය"


def test_nfc_composes_decomposed_vowel_signs() -> None:
    decomposed = "\u0d9a\u0dd9\u0dca"  # ක + ෙ + ් , NFC gives ක + ේ
    assert normalize(decomposed) == "\u0d9a\u0dda"


def test_whitespace_and_control_characters() -> None:
    assert normalize("  ලංකාව\t\tකොළඹ\u200b\x07 \n") == "ලංකාව කොළඹ"


def test_lexical_key_removes_joiners_and_casefolds() -> None:
    assert lexical_key("ප්\u200dරදේශය COVID") == "ප්රදේශය covid"


ORIGINAL = "ශ්\u200dරී ලංකාවේ සෞඛ්\u200dය සේවය"


def test_mojibake_windows_1252_is_repaired() -> None:
    import ftfy.bad_codecs  # noqa: F401 - registers "sloppy-windows-1252"

    # Browsers and spreadsheets decode the five undefined Windows-1252 bytes as C1 controls.
    sloppy = ORIGINAL.encode("utf-8").decode("sloppy-windows-1252")
    assert "à·" in sloppy
    assert repair_mojibake(sloppy) == (ORIGINAL, True)


def test_mojibake_latin_1_is_repaired() -> None:
    assert repair_mojibake(ORIGINAL.encode("utf-8").decode("latin-1")) == (ORIGINAL, True)


def test_mojibake_mac_roman_is_repaired() -> None:
    assert repair_mojibake(ORIGINAL.encode("utf-8").decode("mac_roman")) == (ORIGINAL, True)


def test_clean_text_is_not_touched_by_repair() -> None:
    for text in (ORIGINAL, "“quoted” café ﬁ", "plain ascii"):
        assert repair_mojibake(text) == (text, False)


def _word_offsets(text: str) -> list[tuple[int, int]]:
    """One 'token' per word, like a tokenizer with a whole-word vocabulary."""
    offsets, position = [], 0
    for word in text.split(" "):
        offsets.append((position, position + len(word)))
        position += len(word) + 1
    return offsets


def test_short_text_is_one_chunk() -> None:
    text = "ලංකාව දිවයිනකි."
    assert [(s.start, s.end) for s in chunk_spans(text, _word_offsets(text), 10, 2)] == [
        (0, len(text))
    ]


def test_chunks_respect_the_limit_cover_the_text_and_prefer_sentence_ends() -> None:
    sentence = "මෙය එක වාක්‍යයකි සහ එහි වචන හයකි."
    text = " ".join([sentence] * 6)
    offsets = _word_offsets(text)
    spans = chunk_spans(text, offsets, 14, 3)
    assert spans[0].start == 0 and spans[-1].end == len(text)
    covered = set()
    for span in spans:
        tokens = [o for o in offsets if o[0] >= span.start and o[1] <= span.end]
        assert len(tokens) <= 14
        covered.update(tokens)
        if span is not spans[-1]:
            assert text[span.start : span.end].endswith(".")
    assert covered == set(offsets)


def test_one_enormous_word_is_cut_between_tokens() -> None:
    text = "ක" * 1000
    offsets = [(i, i + 1) for i in range(1000)]
    spans = chunk_spans(text, offsets, 100, 10)
    assert all(span.end - span.start <= 100 for span in spans)
    assert spans[-1].end == 1000
    assert all(b.start < a.end for a, b in itertools.pairwise(spans))
