"""A Unigram tokenizer made for the few texts at hand: what a cold query loads instead of the
whole tokenizer.

Building e5-small's tokenizer from its 17 MB tokenizer.json takes 0.8 s, nearly all of
it spent inserting 250,002 pieces into a trie, where a query needs a few hundred of them.
The compact form (`tokenizer.compact`, written beside tokenizer.json) keeps the pieces as
one newline-separated text, their scores and the tokenizer's other parts; for given texts
it keeps only the pieces whose characters all occur in those texts (normalized and
pre-tokenized as the tokenizer does; from a process's second call, only the pieces that
are substrings of their words), and builds a tokenizer of them in milliseconds.

The ids it gives are the full tokenizer's, exactly: Viterbi segmentation of a word can
only use pieces that are substrings of it, and every such piece is kept; the lowest-scored
piece is kept too, since the unknown-token score is derived from it; the special pieces
keep their ids at the head of the vocabulary, and the other kept pieces are mapped back
to their ids. Tested against the full tokenizer on the sample corpora and random strings.
"""

from __future__ import annotations

import json
import os
import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

COMPACT_FILE = "tokenizer.compact"
_MAGIC = b"sisearch-unigram-1\n"
# Smaller vocabularies load whole in a few milliseconds: no compact form for them.
MIN_PIECES = 20_000
# The pieces at the head of an XLM-R-style vocabulary (<s>, <pad>, </s>, <unk>) keep their
# ids, so special tokens need no mapping.
HEAD = 4
# SentencePiece's word-start mark, which the Metaspace pre-tokenizer puts before words.
WORD_START = "\u2581"


class CompactUnigram:
    """A Unigram tokenizer's vocabulary, loaded to build small tokenizers from."""

    def __init__(self, frame: dict[str, Any], pieces: str, starts: np.ndarray, scores: np.ndarray):
        self._frame = frame
        self._pieces = pieces
        self._starts = starts
        self._scores = scores
        self._lowest = int(np.argmin(scores))
        self._base = self._tokenizer(list(range(HEAD)))
        self._ids_of: dict[str, int] | None = None
        self._longest = 0
        self._calls = 0

    @classmethod
    def load(cls, file: Path) -> CompactUnigram:
        """Read a compact form (ValueError if it is not one)."""
        data = file.read_bytes()
        if not data.startswith(_MAGIC):
            raise ValueError(f"{file} is not a compact tokenizer")
        offset = len(_MAGIC)
        (header_size,) = struct.unpack_from("<Q", data, offset)
        offset += 8
        header = json.loads(data[offset : offset + header_size])
        offset += header_size
        count, text_size = int(header["count"]), int(header["text_bytes"])
        pieces = data[offset : offset + text_size].decode("utf-8")
        offset += text_size
        starts = np.frombuffer(data, dtype="<i8", count=count + 1, offset=offset)
        offset += 8 * (count + 1)
        scores = np.frombuffer(data, dtype="<f8", count=count, offset=offset)
        return cls(header["frame"], pieces, starts, scores)

    def special_tokens(self) -> int:
        return int(self._base.num_special_tokens_to_add(False))

    def for_texts(self, texts: Sequence[str]) -> tuple[Any, np.ndarray]:
        """A tokenizer for `texts` and the array mapping its ids below len(array) to the
        full tokenizer's (ids at or above it are already the full tokenizer's).

        The first call (a cold query) keeps every piece made only of the texts' characters,
        found by one scan of the piece list (about 16 ms with e5-small). A process that asks
        again (a library user, a test, a server) indexes the pieces once (about 40 ms) and
        from then on keeps just the pieces that are substrings of the texts' words, looked
        up in well under a millisecond. Both keep every piece Viterbi could use."""
        words: list[str] = []
        normalizer, pre_tokenizer = self._base.normalizer, self._base.pre_tokenizer
        for text in texts:
            normalized = normalizer.normalize_str(text) if normalizer is not None else text
            words.append(normalized)
            if pre_tokenizer is not None:
                words.extend(word for word, _ in pre_tokenizer.pre_tokenize_str(normalized))
        self._calls += 1
        kept = self._substring_pieces(words) if self._calls > 1 else self._scanned_pieces(words)
        kept.add(self._lowest)
        ids = list(range(HEAD)) + sorted(i for i in kept if i >= HEAD)
        return self._tokenizer(ids), np.asarray(ids, dtype=np.int64)

    def _scanned_pieces(self, words: list[str]) -> set[int]:
        """Ids of the pieces whose characters all occur in `words`."""
        characters = set("".join(words))
        characters.discard("\n")
        if not characters:
            return set()
        allowed = "".join(re.escape(c) for c in sorted(characters))
        found = [m.start() for m in re.finditer(f"^[{allowed}]+$", self._pieces, re.M)]
        return {int(i) for i in np.searchsorted(self._starts, found, side="right") - 1}

    def _substring_pieces(self, words: list[str]) -> set[int]:
        """Ids of the pieces that are substrings of `words`, or of a word-start mark
        followed by one (a text split around an added token starts a new word there)."""
        if self._ids_of is None:
            names = self._pieces.split("\n")[:-1]
            self._longest = max(map(len, names), default=0)  # set first: other threads
            self._ids_of = dict(zip(names, range(len(names))))  # start once this is set
        ids_of, longest = self._ids_of, self._longest
        kept: set[int] = set()
        for word in set(words):
            for start in range(len(word)):
                for end in range(start + 1, min(len(word), start + longest) + 1):
                    piece = word[start:end]
                    for candidate in (piece, WORD_START + piece):
                        found = ids_of.get(candidate)
                        if found is not None:
                            kept.add(found)
        return kept

    def _tokenizer(self, ids: list[int]) -> Any:
        from tokenizers import Tokenizer

        vocab = [[self._piece(i), float(self._scores[i])] for i in ids]
        frame = dict(self._frame, model=dict(self._frame["model"], vocab=vocab))
        return Tokenizer.from_str(json.dumps(frame, ensure_ascii=False))

    def _piece(self, i: int) -> str:
        return self._pieces[int(self._starts[i]) : int(self._starts[i + 1]) - 1]


def full_ids(ids: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """Ids of a compact tokenizer as the full tokenizer's (see `for_texts`)."""
    inside = ids < len(mapping)
    return np.where(inside, mapping[np.where(inside, ids, 0)], ids)


# Checked at writing: the compact form must give these exactly the ids the whole tokenizer
# gives, or it is not written (a tokenizer whose specials sit elsewhere, say).
PROBES = (
    "query: ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන",
    "passage: කොළඹ වරාය 2024, Colombo Port <mask> <s>",
    "sri lankawe aithihasika sthana 😀 中文 ①",
)


def write_compact(
    tokenizer_json: Path, out: Path, whole: Any, min_pieces: int | None = None
) -> bool:
    """Write the compact form of a Unigram tokenizer.json to `out` (atomically), checked
    against `whole` (that tokenizer, loaded) on PROBES; False, writing nothing, for another
    kind of tokenizer, a small one (under `min_pieces`, by default MIN_PIECES) or one the
    compact form does not reproduce."""
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    model = data.get("model") or {}
    least = MIN_PIECES if min_pieces is None else max(min_pieces, HEAD + 1)
    if model.get("type") != "Unigram" or len(model.get("vocab") or []) < least:
        return False
    pieces = [str(piece) for piece, _ in model["vocab"]]
    if any("\n" in piece or piece == "" for piece in pieces):
        return False
    text = "".join(piece + "\n" for piece in pieces)
    lengths = np.fromiter((len(piece) + 1 for piece in pieces), dtype=np.int64, count=len(pieces))
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype("<i8")
    scores = np.asarray([float(score) for _, score in model["vocab"]], dtype="<f8")
    encoded = text.encode("utf-8")
    frame = dict(data, model=dict(model, vocab=[]))
    header = json.dumps(
        {"frame": frame, "count": len(pieces), "text_bytes": len(encoded)}, ensure_ascii=False
    ).encode("utf-8")
    compact = CompactUnigram(frame, text, starts, scores)
    for probe in PROBES:
        tokenizer, mapping = compact.for_texts([probe])
        ids = full_ids(np.asarray(tokenizer.encode(probe).ids, dtype=np.int64), mapping)
        if ids.tolist() != list(whole.encode(probe).ids):
            return False
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as f:
            f.write(_MAGIC + struct.pack("<Q", len(header)) + header + encoded)
            f.write(starts.tobytes())
            f.write(scores.tobytes())
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return True
