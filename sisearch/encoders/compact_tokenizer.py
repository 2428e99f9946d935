"""A Unigram tokenizer made for the few texts at hand: what a cold query loads instead of the
whole tokenizer.

Building e5-small's tokenizer from its 17 MB tokenizer.json takes 0.8 s, nearly all of
it spent inserting 250,002 pieces into a trie, where a query needs a few hundred of them.
The compact form (`tokenizer.compact`, written beside tokenizer.json) keeps the pieces as
one newline-separated text, their scores and the tokenizer's other parts; for given texts
it keeps only the pieces whose characters all occur in those texts (normalized and
pre-tokenized as the tokenizer does; from a process's second call, only the pieces that
are substrings of their words), and builds a tokenizer of them in milliseconds.

Since 2026-12-02 the form (version 2) also holds the pieces' byte offsets and an
open-addressing hash table of them, so even a process's first call looks the words'
substrings up (well under a millisecond) instead of scanning the list, and the file is
mapped, not read and decoded (about 30 ms of a cold query before). Version 1 files,
written by exports made before, are read as they were.

The ids it gives are the full tokenizer's, exactly: Viterbi segmentation of a word can
only use pieces that are substrings of it, and every such piece is kept; the lowest-scored
piece is kept too, since the unknown-token score is derived from it; the special pieces
keep their ids at the head of the vocabulary, and the other kept pieces are mapped back
to their ids. Tested against the full tokenizer on the sample corpora and random strings.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

COMPACT_FILE = "tokenizer.compact"
_MAGIC = b"sisearch-unigram-1\n"
_MAGIC_2 = b"sisearch-unigram-2\n"
# Smaller vocabularies load whole in a few milliseconds: no compact form for them.
MIN_PIECES = 20_000
# The pieces at the head of an XLM-R-style vocabulary (<s>, <pad>, </s>, <unk>) keep their
# ids, so special tokens need no mapping.
HEAD = 4
# SentencePiece's word-start mark, which the Metaspace pre-tokenizer puts before words.
WORD_START = "\u2581"


class CompactUnigram:
    """A Unigram tokenizer's vocabulary, loaded to build small tokenizers from."""

    def __init__(
        self,
        frame: dict[str, Any],
        pieces: str,
        starts: np.ndarray,
        scores: np.ndarray,
        table: PieceTable | None = None,
    ):
        self._frame = frame
        self._pieces = pieces
        self._starts = starts
        self._scores = scores
        self._table = table
        self._lowest = table.lowest if table is not None else int(np.argmin(scores))
        self._base = self._tokenizer(list(range(HEAD)))
        self._ids_of: dict[str, int] | None = None
        self._longest = 0
        self._calls = 0

    @classmethod
    def load(cls, file: Path) -> CompactUnigram:
        """Read a compact form (ValueError if it is not one): version 2 mapped, version 1
        read whole."""
        with open(file, "rb") as f:
            if f.read(len(_MAGIC_2)) == _MAGIC_2:
                try:
                    return cls.of_version_2(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
                except (struct.error, KeyError, TypeError, IndexError) as e:
                    raise ValueError(f"{file} is not a compact tokenizer ({e})") from None
        return cls.of_version_1(file.read_bytes(), str(file))

    @classmethod
    def of_version_1(cls, data: bytes, name: str = "the data") -> CompactUnigram:
        """A version 1 form from its bytes (ValueError if they are not one)."""
        if not data.startswith(_MAGIC):
            raise ValueError(f"{name} is not a compact tokenizer")
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

    @classmethod
    def of_version_2(cls, data: Any) -> CompactUnigram:
        """A version 2 form from its bytes (a mapped file or a bytes object)."""
        offset = len(_MAGIC_2)
        (header_size,) = struct.unpack_from("<Q", data, offset)
        offset += 8
        header = json.loads(bytes(data[offset : offset + header_size]))
        offset += header_size
        count, text_size, slots = int(header["count"]), int(header["text_bytes"]), header["slots"]
        view = memoryview(data)
        text = view[offset : offset + text_size]
        offset += text_size
        starts = view[offset : offset + 8 * (count + 1)].cast("q")
        offset += 8 * (count + 1)
        scores = np.frombuffer(data, dtype="<f8", count=count, offset=offset)
        offset += 8 * count
        slots_view = view[offset : offset + 4 * int(slots)].cast("i")
        if len(slots_view) != int(slots) or len(starts) != count + 1:
            raise IndexError("the file is shorter than its header says")
        table = PieceTable(text, starts, slots_view, int(header["longest"]), int(header["lowest"]))
        return cls(header["frame"], "", np.zeros(0, dtype=np.int64), scores, table)

    def special_tokens(self) -> int:
        return int(self._base.num_special_tokens_to_add(False))

    def for_texts(self, texts: Sequence[str]) -> tuple[Any, np.ndarray]:
        """A tokenizer for `texts` and the array mapping its ids below len(array) to the
        full tokenizer's (ids at or above it are already the full tokenizer's).

        A version 2 form keeps the pieces that are substrings of the texts' words, looked
        up in its hash table from the first call. With a version 1 form the first call (a
        cold query) keeps every piece made only of the texts' characters, found by one scan
        of the piece list (about 16 ms with e5-small); a process that asks again indexes
        the pieces once (about 40-100 ms) and then looks them up. All keep every piece
        Viterbi could use."""
        words: list[str] = []
        normalizer, pre_tokenizer = self._base.normalizer, self._base.pre_tokenizer
        for text in texts:
            normalized = normalizer.normalize_str(text) if normalizer is not None else text
            words.append(normalized)
            if pre_tokenizer is not None:
                words.extend(word for word, _ in pre_tokenizer.pre_tokenize_str(normalized))
        self._calls += 1
        if self._table is not None:
            kept = self._table.substring_pieces(words)
        elif self._calls > 1:
            kept = self._substring_pieces(words)
        else:
            kept = self._scanned_pieces(words)
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
        ids_of = self._ids_of
        return {ids_of[c] for c in substring_candidates(words, self._longest) if c in ids_of}

    def _tokenizer(self, ids: list[int]) -> Any:
        from tokenizers import Tokenizer

        vocab = [[self._piece(i), float(self._scores[i])] for i in ids]
        frame = dict(self._frame, model=dict(self._frame["model"], vocab=vocab))
        return Tokenizer.from_str(json.dumps(frame, ensure_ascii=False))

    def _piece(self, i: int) -> str:
        if self._table is not None:
            return self._table.piece(i)
        return self._pieces[int(self._starts[i]) : int(self._starts[i + 1]) - 1]


class PieceTable:
    """A version 2 form's pieces: UTF-8 text, byte offsets, and slots holding piece ids
    (-1 empty) at the CRC-32 of their bytes, probed linearly."""

    def __init__(self, text: Any, starts: Any, slots: Any, longest: int, lowest: int) -> None:
        self._text = text
        self._starts = starts
        self._slots = slots
        self._mask = len(slots) - 1
        self.longest = longest
        self.lowest = lowest

    def piece(self, i: int) -> str:
        return bytes(self._text[self._starts[i] : self._starts[i + 1] - 1]).decode("utf-8")

    def find(self, piece: str) -> int | None:
        """The id of `piece`, None if the vocabulary lacks it."""
        key = piece.encode("utf-8")
        slot = zlib.crc32(key) & self._mask
        while (found := self._slots[slot]) >= 0:
            if self._text[self._starts[found] : self._starts[found + 1] - 1] == key:
                return found
            slot = (slot + 1) & self._mask
        return None

    def substring_pieces(self, words: list[str]) -> set[int]:
        """Ids of the pieces that are substrings of `words`, or of a word-start mark
        followed by one (as `CompactUnigram._substring_pieces` finds them)."""
        found = (self.find(c) for c in substring_candidates(words, self.longest))
        return {i for i in found if i is not None}


def substring_candidates(words: list[str], longest: int) -> Iterator[str]:
    """Every substring of the words of at most `longest` characters, alone and after a
    word-start mark (a text split around an added token starts a new word there): all
    the pieces Viterbi could use on them."""
    for word in set(words):
        for start in range(len(word)):
            for end in range(start + 1, min(len(word), start + longest) + 1):
                yield word[start:end]
                yield WORD_START + word[start:end]


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
    tokenizer_json: Path, out: Path, whole: Any, min_pieces: int | None = None, version: int = 2
) -> bool:
    """Write the compact form of a Unigram tokenizer.json to `out` (atomically), checked
    against `whole` (that tokenizer, loaded) on PROBES; False, writing nothing, for another
    kind of tokenizer, a small one (under `min_pieces`, by default MIN_PIECES) or one the
    compact form does not reproduce. `version` 1 is the form exports made before 2026-12-02
    hold (kept to test that they still read)."""
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    model = data.get("model") or {}
    least = MIN_PIECES if min_pieces is None else max(min_pieces, HEAD + 1)
    if model.get("type") != "Unigram" or len(model.get("vocab") or []) < least:
        return False
    pieces = [str(piece) for piece, _ in model["vocab"]]
    if any("\n" in piece or piece == "" for piece in pieces):
        return False
    scores = np.asarray([float(score) for _, score in model["vocab"]], dtype="<f8")
    frame = dict(data, model=dict(model, vocab=[]))
    if version == 2:
        form = _version_2(frame, pieces, scores)
        compact = CompactUnigram.of_version_2(form)
    else:
        form = _version_1(frame, pieces, scores)
        compact = CompactUnigram.of_version_1(form)
    for probe in PROBES:
        tokenizer, mapping = compact.for_texts([probe])
        ids = full_ids(np.asarray(tokenizer.encode(probe).ids, dtype=np.int64), mapping)
        if ids.tolist() != list(whole.encode(probe).ids):
            return False
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(form)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return True


def _version_1(frame: dict[str, Any], pieces: list[str], scores: np.ndarray) -> bytes:
    """The version 1 form's bytes: header, the pieces as one text, their character
    offsets in it, scores."""
    encoded = "".join(piece + "\n" for piece in pieces).encode("utf-8")
    lengths = np.fromiter((len(piece) + 1 for piece in pieces), dtype=np.int64, count=len(pieces))
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype("<i8")
    header = json.dumps(
        {"frame": frame, "count": len(pieces), "text_bytes": len(encoded)}, ensure_ascii=False
    ).encode("utf-8")
    parts = [_MAGIC, struct.pack("<Q", len(header)), header, encoded, starts.tobytes()]
    return b"".join([*parts, scores.astype("<f8").tobytes()])


def _version_2(frame: dict[str, Any], pieces: list[str], scores: np.ndarray) -> bytes:
    """The version 2 form's bytes: header, UTF-8 pieces, byte offsets, scores, hash slots
    (a power of two, at least twice the pieces; a repeated piece keeps its last id, as a
    dict of the pieces would)."""
    keys = [piece.encode("utf-8") for piece in pieces]
    text = b"".join(key + b"\n" for key in keys)
    starts = np.concatenate([[0], np.cumsum([len(key) + 1 for key in keys])]).astype("<i8")
    slots = 1 << max(1, (2 * len(keys) - 1).bit_length())
    mask = slots - 1
    table = [-1] * slots
    for i, key in enumerate(keys):
        slot = zlib.crc32(key) & mask
        while table[slot] >= 0 and keys[table[slot]] != key:
            slot = (slot + 1) & mask
        table[slot] = i
    header = json.dumps(
        {
            "frame": frame,
            "count": len(keys),
            "text_bytes": len(text),
            "slots": slots,
            "longest": max(map(len, pieces), default=0),
            "lowest": int(np.argmin(scores)),
        },
        ensure_ascii=False,
    ).encode("utf-8")
    return b"".join(
        [
            _MAGIC_2,
            struct.pack("<Q", len(header)),
            header,
            text,
            starts.tobytes(),
            scores.astype("<f8").tobytes(),
            np.asarray(table, dtype="<i4").tobytes(),
        ]
    )
