"""Sinhala STS pairs: read and validate a CSV, and score an encoder on it.

The CSV has the columns `sentence_0`, `sentence_1`, `label` (a similarity in [0, 1]),
the format the fine-tuned encoder was trained on. A blank sentence or a label that is
not a number in [0, 1] is an error naming its row. Repeated pairs (real STS files have
them, some with another label, some in the other order) are kept, as sentence-transformers'
evaluator and trainer keep them, and counted (`repeats`) so the user is told.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..documents.corpus import check_corpus_file
from ..errors import CorpusError
from ..language.text import normalize

COLUMNS = ("sentence_0", "sentence_1", "label")


@dataclass(frozen=True)
class StsPair:
    sentence_0: str
    sentence_1: str
    label: float


@dataclass(frozen=True)
class Repeats:
    """Pairs seen before in a file (after normalization): `same` repeats of an earlier
    pair, `conflicting` of them with another label, `reversed` an earlier pair in the
    other order."""

    same: int = 0
    conflicting: int = 0
    reversed: int = 0

    def note(self, path: str | Path) -> str | None:
        """One line for the user, or None when nothing repeats."""
        if not (self.same or self.reversed):
            return None
        return (
            f"{path}: {self.same} repeated pair(s) ({self.conflicting} with another label) and"
            f" {self.reversed} pair(s) repeated in the other order; all are used, as"
            " sentence-transformers uses them"
        )


def repeats(pairs: list[StsPair]) -> Repeats:
    """How many pairs repeat an earlier one, exactly or in the other order."""
    labels: dict[tuple[str, str], float] = {}
    same = conflicting = flipped = 0
    for pair in pairs:
        key = (pair.sentence_0, pair.sentence_1)
        if key in labels:
            same += 1
            conflicting += labels[key] != pair.label
        elif (pair.sentence_1, pair.sentence_0) in labels:
            flipped += 1
        labels.setdefault(key, pair.label)
    return Repeats(same, conflicting, flipped)


def blank_pairs(pairs: list[StsPair]) -> int:
    """Pairs with a blank sentence: real STS files hold some, and sentence-transformers
    scores and trains on them as they are, so sisearch does too (and says how many)."""
    return sum(1 for p in pairs if not p.sentence_0 or not p.sentence_1)


def read_sts_pairs(path: str | Path, as_written: bool = False) -> list[StsPair]:
    """Validated pairs from a CSV file; CorpusError names the file and row of a bad one.

    Sentences are normalized as an index normalizes text, unless `as_written`. A blank
    sentence is kept (see `blank_pairs`); a bad or missing label is an error."""
    check_corpus_file(path)
    pairs: list[StsPair] = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CorpusError(
                f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}"
            )
        for row in reader:
            line = reader.line_num
            s0, s1 = row["sentence_0"] or "", row["sentence_1"] or ""
            if not as_written:
                s0, s1 = normalize(s0), normalize(s1)
            try:
                label = float(row["label"])
            except (TypeError, ValueError):
                raise CorpusError(
                    f"{path}:{line}: label {row['label']!r} is not a number"
                ) from None
            if not 0.0 <= label <= 1.0:
                raise CorpusError(f"{path}:{line}: label {label} is outside [0, 1]")
            pairs.append(StsPair(s0, s1, label))
    if len(pairs) < 2:
        raise CorpusError(f"{path}: needs at least two pairs")
    return pairs


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    return float((x @ y) / np.sqrt((x @ x) * (y @ y)))


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank (as Spearman's rho needs)."""
    order = np.argsort(values, kind="stable")
    result = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        result[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return result


def sts_cosines(encoder: Any, pairs: list[StsPair], as_written: bool = False) -> np.ndarray:
    """The encoder's cosine similarity of each pair.

    Both sentences get the query prompt: similarity is symmetric, and e5-style models ask
    for "query: " on both sides of such tasks (a model without prompts gets none). They
    are embedded as sisearch embeds a query (normalized), or `as_written`: exactly as
    sentence-transformers' EmbeddingSimilarityEvaluator embeds them, given that prompt."""
    if as_written:
        model, prompt = encoder.model, encoder.query_prompt or None
        first, second = (
            model.encode(texts, prompt=prompt, normalize_embeddings=True, convert_to_numpy=True)
            for texts in ([p.sentence_0 for p in pairs], [p.sentence_1 for p in pairs])
        )
    else:
        first = encoder.encode_queries([p.sentence_0 for p in pairs])
        second = encoder.encode_queries([p.sentence_1 for p in pairs])
    return (first * second).sum(axis=1).astype(np.float64)


def score_sts(encoder: Any, pairs: list[StsPair], as_written: bool = False) -> dict[str, float]:
    """Pearson and Spearman correlation of the encoder's cosine with the labels."""
    cosines = sts_cosines(encoder, pairs, as_written)
    labels = np.array([p.label for p in pairs], dtype=np.float64)
    return {
        "pearson": pearson(cosines, labels),
        "spearman": pearson(ranks(cosines), ranks(labels)),
        "pairs": float(len(pairs)),
    }
