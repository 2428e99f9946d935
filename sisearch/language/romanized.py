"""Queries typed in romanized Sinhala ("Singlish"): turn them into the Sinhala words the
index actually holds.

A general transliterator has to guess ("t" is ට or ත, "a" is අ, ආ or ඇ, a vowel may not be
typed at all). A search engine knows which Sinhala words exist and how often: its
keyword table's vocabulary. So each romanized word is read against that vocabulary: a
best-first search extends Sinhala prefixes by the spellings people really type (below),
keeps only prefixes of real words (a bisection in the sorted vocabulary, never an
enumeration of spellings), and ranks the words it reaches by how loose the reading was
and how common the word is. A word with no reading in the vocabulary gets the best
reading by the rules alone.
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from .lexical import word_spans
from .text import AL_LAKUNA, lexical_key, normalize

MODES = ("auto", "on", "off")
CANDIDATES_PER_WORD = 3
# Best-first search budget per word: states popped before giving up on more candidates.
MAX_EXPANSIONS = 4000
# Weight of a word's rarity (natural log of its share of the vocabulary) against the cost
# of the reading; tuned on the Singlish training pairs (bench/romanized.py).
FREQUENCY_WEIGHT = 0.6
# Readings up to this much looser than the first word found still compete on frequency.
COST_MARGIN = 1.0
# A Latin-only query is read as romanized Sinhala in auto mode only when at least this
# share of its words have a reading in the index's vocabulary. Measured on real text
# (bench/quality.py, bench/romanized.py): Singlish sentences 0.96 on average (0.3% below
# 0.5), English sentences over a Sinhala index 0.29 (6% at or above 0.5, 0.3% once English
# function words do not count).
ROMANIZED_SHARE = 0.5
# English function words: a Sinhala reading of one ("the" as තේ, "in" as ඉන්) says nothing
# about the query being Singlish. Words Singlish typists use too ("me" for මේ, "we" for
# වේ, "be", "as") are left out of the list.
ENGLISH_FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "by",
        "from",
        "and",
        "or",
        "is",
        "was",
        "were",
        "are",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "had",
        "has",
        "have",
        "having",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "why",
        "how",
        "not",
        "no",
        "nor",
        "but",
        "if",
        "then",
        "than",
        "there",
        "their",
        "they",
        "them",
        "he",
        "she",
        "his",
        "her",
        "him",
        "our",
        "us",
        "you",
        "your",
        "i",
        "my",
        "do",
        "does",
        "did",
        "done",
        "can",
        "could",
        "will",
        "would",
        "shall",
        "should",
        "may",
        "might",
        "must",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "any",
        "because",
        "before",
        "below",
        "between",
        "both",
        "down",
        "during",
        "each",
        "few",
        "further",
        "here",
        "into",
        "more",
        "most",
        "other",
        "out",
        "over",
        "own",
        "same",
        "so",
        "some",
        "such",
        "through",
        "too",
        "under",
        "until",
        "up",
        "very",
        "off",
        "once",
        "only",
        "just",
        "now",
        "while",
        "many",
        "also",
    ]
)
ANUSVARA = "\u0d82"  # ං
_LATIN_RUN = re.compile(r"[A-Za-z]+")

# Sinhala consonant -> the ways people type it, with a cost for the looser ones.
CONSONANTS: dict[str, tuple[tuple[str, float], ...]] = {
    "ක": (("k", 0), ("c", 0.4), ("q", 0.6)),
    "ඛ": (("kh", 0.2), ("k", 0.6)),
    "ග": (("g", 0),),
    "ඝ": (("gh", 0.2), ("g", 0.6)),
    "ඟ": (("ng", 0.1), ("g", 0.6)),
    "ච": (("ch", 0), ("c", 0.3)),
    "ඡ": (("chh", 0.2), ("ch", 0.6)),
    "ජ": (("j", 0),),
    "ඣ": (("jh", 0.2), ("j", 0.6)),
    "ඤ": (("gn", 0.2), ("kn", 0.2), ("ny", 0.2)),
    "ඥ": (("gn", 0.1), ("gy", 0.3), ("kn", 0.3)),
    "ට": (("t", 0), ("tt", 0.2)),
    "ඨ": (("th", 0.6), ("t", 0.6)),
    "ඩ": (("d", 0), ("dd", 0.2)),
    "ඪ": (("dh", 0.6), ("d", 0.6)),
    "ණ": (("n", 0.3),),
    "ඬ": (("nd", 0.2), ("d", 0.6)),
    "ත": (("th", 0), ("t", 0.3)),
    "ථ": (("th", 0.5), ("t", 0.7)),
    "ද": (("d", 0), ("dh", 0.3)),
    "ධ": (("dh", 0.3), ("d", 0.5)),
    "න": (("n", 0),),
    "ඳ": (("nd", 0.1), ("d", 0.5)),
    "ප": (("p", 0),),
    "ඵ": (("ph", 0.3), ("p", 0.6), ("f", 0.5)),
    "බ": (("b", 0),),
    "භ": (("bh", 0.2), ("b", 0.5)),
    "ම": (("m", 0),),
    "ඹ": (("mb", 0.1), ("b", 0.6)),
    "ය": (("y", 0),),
    "ර": (("r", 0),),
    "ල": (("l", 0),),
    "ළ": (("l", 0.3), ("ll", 0.4)),
    "ව": (("w", 0), ("v", 0)),
    "ශ": (("sh", 0), ("s", 0.3)),
    "ෂ": (("sh", 0.2), ("s", 0.5)),
    "ස": (("s", 0), ("z", 0.3)),
    "ක්ස": (("x", 0),),
    "හ": (("h", 0),),
    "ෆ": (("f", 0),),
}
# After a consonant: its vowel sign (or none, the inherent "a"; or al-lakuna, no vowel).
VOWEL_SIGNS: dict[str, tuple[tuple[str, float], ...]] = {
    "": (("a", 0), ("", 0.7)),  # the inherent vowel, typed or dropped ("mta" for මට)
    "ා": (("aa", 0), ("a", 0.3)),
    "ැ": (("ae", 0), ("a", 0.4), ("e", 0.5)),
    "ෑ": (("aae", 0), ("ae", 0.3), ("a", 0.6), ("e", 0.6)),
    "ි": (("i", 0), ("e", 0.7), ("", 0.9)),
    "ී": (("ii", 0), ("ee", 0), ("i", 0.3), ("", 1.0)),
    "ු": (("u", 0), ("o", 0.7), ("", 0.9)),
    "ූ": (("uu", 0), ("oo", 0.1), ("u", 0.3)),
    "ෘ": (("ru", 0.1), ("ri", 0.2)),
    "ෙ": (("e", 0),),
    "ේ": (("ee", 0), ("e", 0.3)),
    "ෛ": (("ai", 0), ("ei", 0.3)),
    "ො": (("o", 0),),
    "ෝ": (("oo", 0), ("o", 0.3)),
    "ෞ": (("au", 0), ("ow", 0.3)),
    AL_LAKUNA: (("", 0.05),),
}
INDEPENDENT_VOWELS: dict[str, tuple[tuple[str, float], ...]] = {
    "අ": (("a", 0),),
    "ආ": (("aa", 0), ("a", 0.3)),
    "ඇ": (("ae", 0), ("a", 0.4), ("e", 0.5)),
    "ඈ": (("aae", 0), ("ae", 0.3)),
    "ඉ": (("i", 0), ("e", 0.7)),
    "ඊ": (("ii", 0), ("ee", 0), ("i", 0.3)),
    "උ": (("u", 0),),
    "ඌ": (("uu", 0), ("oo", 0.1), ("u", 0.3)),
    "ඍ": (("ru", 0.2), ("ri", 0.3)),
    "එ": (("e", 0),),
    "ඒ": (("ee", 0), ("e", 0.3)),
    "ඓ": (("ai", 0),),
    "ඔ": (("o", 0),),
    "ඕ": (("oo", 0), ("o", 0.3)),
    "ඖ": (("au", 0),),
}
AFTER_VOWEL: dict[str, tuple[tuple[str, float], ...]] = {
    ANUSVARA: (("n", 0.1), ("m", 0.2), ("ng", 0.2)),
    "ඃ": (("h", 0.8),),
}
_INDEPENDENT_COST = 0.5  # an independent vowel inside a word is rare
# At the end of a word people write long vowels short far more often (මගේ as "mage",
# කියලා as "kiyala"), so there the long reading costs little more than the short one.
FINAL_SIGN_COSTS = {("ේ", "e"): 0.05, ("ෙ", "e"): 0.1, ("ා", "a"): 0.1, ("", "a"): 0.05}


@dataclass(frozen=True)
class Transliteration:
    """What a romanized query became: `text`, the Sinhala searched (each romanized word's
    best reading), and `alternatives`, the next-best vocabulary words of each (keyword
    search looks for them too)."""

    text: str
    alternatives: tuple[str, ...] = ()


class Vocabulary:
    """The index's words (lexical keys) with their document frequencies, sorted so that
    "is this a prefix of some word?" is one bisection."""

    def __init__(self, counts: Iterable[tuple[str, int]]) -> None:
        self.counts = {word: count for word, count in counts if word}
        self.words = sorted(self.counts)
        self.total = sum(self.counts.values()) or 1

    def __contains__(self, word: str) -> bool:
        return word in self.counts

    def count(self, word: str) -> int:
        return self.counts.get(word, 0)

    def has_prefix(self, prefix: str) -> bool:
        i = bisect.bisect_left(self.words, prefix)
        return i < len(self.words) and self.words[i].startswith(prefix)

    def rarity(self, word: str) -> float:
        return -math.log(self.counts.get(word, 0.5) / self.total)


def is_romanized(query: str) -> bool:
    """Latin letters and no Sinhala letters: what `--romanized auto` treats as Singlish."""
    letters = [ch for ch in query if unicodedata.category(ch).startswith("L")]
    return any(_is_latin(ch) for ch in letters) and not any(_is_sinhala(ch) for ch in letters)


def transliterate(
    query: str,
    vocabulary: Vocabulary,
    mode: str = "auto",
    per_word: int = CANDIDATES_PER_WORD,
) -> Transliteration | None:
    """The Sinhala reading of a romanized (or mixed) query, or None if nothing is read.

    mode "auto": a query in Latin letters only is read when it looks like romanized
    Sinhala, that is when at least ROMANIZED_SHARE of its words have a reading among the
    index's words (an English query such as "ancient cities of Sri Lanka" does not, and
    is searched as typed: the encoder understands English). The words with Latin letters
    are then read, except a word the index holds as it is: in a mixed query (with Sinhala
    letters) any such word stays ("Firefox", "COVID", "5G"); in a Latin-only query it
    stays if the index holds it at least as often as its reading (a stray Latin "e" does
    not stop "e" from reading as ඒ). "on": every word with Latin letters is read.
    "off": None.
    """
    if mode not in MODES:
        raise ValueError(f"romanized must be one of {', '.join(MODES)}, not {mode!r}")
    text = normalize(query)
    if mode == "off" or not has_latin(text):
        return None
    mixed = any(_is_sinhala(ch) for ch in text)
    parts: list[str] = []
    alternatives: list[str] = []
    position = 0
    latin_words = read_words = 0
    for start, end in word_spans(text):
        word = text[start:end]
        if not has_latin(word):
            continue
        found: list[str] = []
        known: list[bool] = []

        def read(match: re.Match[str], found: list[str] = found, known: list[bool] = known) -> str:
            latin = match.group().casefold()
            words = _search(latin, vocabulary, per_word)
            known.append(bool(words) and latin not in ENGLISH_FUNCTION_WORDS)
            words = words or _rule_reading(latin)
            found.extend(words[1:])
            return words[0]

        reading = _LATIN_RUN.sub(read, word)
        held = vocabulary.count(lexical_key(word))
        stays = bool(held) and mode == "auto"
        stays = stays and (mixed or held >= vocabulary.count(lexical_key(reading)))
        latin_words += 1
        read_words += stays or all(known)  # a word the index holds counts as understood
        if stays:
            continue
        parts.append(text[position:start] + reading)
        position = end
        alternatives.extend(w for w in found if w not in alternatives)
    if not parts:
        return None
    if mode == "auto" and not mixed and read_words < ROMANIZED_SHARE * latin_words:
        return None
    return Transliteration(normalize("".join(parts) + text[position:]), tuple(alternatives))


def read_word(latin: str, vocabulary: Vocabulary, limit: int) -> list[str]:
    """The `limit` best Sinhala words of the vocabulary for one romanized word, best first;
    the best rule-only reading if the vocabulary has none."""
    return _search(latin, vocabulary, limit) or _rule_reading(latin)


def _rule_reading(latin: str) -> list[str]:
    """The best reading by the spelling rules alone (the Latin itself if there is none)."""
    return _search(latin, None, 1) or [latin]


def _search(latin: str, vocabulary: Vocabulary | None, limit: int) -> list[str]:
    """Best-first search over readings; with a vocabulary, prefixes outside it are cut."""
    # A state: (cost, Latin position, Sinhala so far, whether a vowel sign may follow).
    heap: list[tuple[float, int, str, bool]] = [(0.0, 0, "", False)]
    seen: set[tuple[int, str, bool]] = set()
    results: dict[str, float] = {}
    first_cost: float | None = None
    expansions = 0
    while heap and expansions < MAX_EXPANSIONS:
        cost, position, sinhala, after_consonant = heapq.heappop(heap)
        if (position, sinhala, after_consonant) in seen:
            continue
        seen.add((position, sinhala, after_consonant))
        expansions += 1
        if first_cost is not None and cost > first_cost + COST_MARGIN:
            break  # no reading this loose can overtake the ones found by frequency
        if position == len(latin) and not after_consonant and sinhala:
            if vocabulary is None:
                return [sinhala]
            if sinhala in vocabulary and sinhala not in results:
                results[sinhala] = cost + FREQUENCY_WEIGHT * vocabulary.rarity(sinhala)
                first_cost = cost if first_cost is None else first_cost
        for piece, (letters, step_cost), consonant in _steps(
            latin, position, sinhala, after_consonant
        ):
            extended = sinhala + piece
            if vocabulary is not None and piece and not vocabulary.has_prefix(extended):
                continue
            heapq.heappush(heap, (cost + step_cost, position + letters, extended, consonant))
    return sorted(results, key=results.__getitem__)[:limit]


Step = tuple[str, str, float]  # (Latin spelling, Sinhala piece, cost)


def _by_first_letter(table: dict[str, tuple[tuple[str, float], ...]]) -> dict[str, list[Step]]:
    """A table's spellings grouped by their first letter ("" for the empty spelling), so a
    step looks only at the spellings that can match the next Latin letter."""
    grouped: dict[str, list[Step]] = {}
    for piece, spellings in table.items():
        for spelling, cost in spellings:
            grouped.setdefault(spelling[:1], []).append((spelling, piece, cost))
    return grouped


_CONSONANT_STEPS = _by_first_letter(CONSONANTS)
_SIGN_STEPS = _by_first_letter(VOWEL_SIGNS)
_VOWEL_STEPS = _by_first_letter(INDEPENDENT_VOWELS)
_AFTER_VOWEL_STEPS = _by_first_letter(AFTER_VOWEL)


def _matching(steps: dict[str, list[Step]], rest: str) -> Iterable[Step]:
    yield from steps.get("", ())
    if rest:
        for step in steps.get(rest[0], ()):
            if rest.startswith(step[0]):
                yield step


def _steps(
    latin: str, position: int, sinhala: str, after_consonant: bool
) -> Iterable[tuple[str, tuple[int, float], bool]]:
    """(Sinhala piece, (Latin letters used, cost), is the piece a consonant) for each way
    the Latin text at `position` can continue the reading."""
    rest = latin[position:]
    if after_consonant:
        for spelling, sign, cost in _matching(_SIGN_STEPS, rest):
            if sign == AL_LAKUNA and not rest:
                cost = 0.0  # a word-final consonant typed bare: විසින් as "wisin"
            elif len(spelling) == len(rest):
                cost = FINAL_SIGN_COSTS.get((sign, spelling), cost)
            yield sign, (len(spelling), cost), False
        return
    if not rest:
        return
    for spelling, consonant, cost in _matching(_CONSONANT_STEPS, rest):
        yield consonant, (len(spelling), cost), True
    if sinhala.endswith(AL_LAKUNA):
        return
    inside = _INDEPENDENT_COST if sinhala else 0.0
    for spelling, vowel, cost in _matching(_VOWEL_STEPS, rest):
        yield vowel, (len(spelling), cost + inside), False
    if sinhala:
        for spelling, sign, cost in _matching(_AFTER_VOWEL_STEPS, rest):
            yield sign, (len(spelling), cost), False


def has_latin(text: str) -> bool:
    return _LATIN_RUN.search(text) is not None


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _is_sinhala(ch: str) -> bool:
    return "\u0d80" <= ch <= "\u0dff"
