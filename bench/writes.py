"""Writes that cost what they add: adding 3 passages to a large index, and a reader
catching up on that write, with the vector log against saving the whole vector file.

    python bench/writes.py                  # 1,000,000 passages (built once, ~15 min)
    python bench/writes.py --count 100000

The index holds `count` passages with clustered synthetic vectors (encoding a million
passages would take days here and changes nothing measured) and words drawn Zipf-like
from a vocabulary the size of a real collection's (sample-corpus words with Sinhala
endings, about 230,000 words; each write keeps the saved vocabulary current), made
with e5-small where it is installed (384 dimensions; else the base-size model, 768), and
kept under bench/.cache. Each write is what the server does for `POST /api/indexes/...`:
a new Index for the write, lent the reader's encoder, `add` of 3 new passages, closed.
"Beyond encoding" subtracts the encoder's time for the same 3 texts, measured right after.
The reader is a long-lived Index (as a server holds one) whose next search first catches
up: timed is `vectors.fresh()`, the catch-up alone. The two designs alternate write by
write (A B A B); "whole file" forces every write to save the vector file (as before the
log) by setting the log's limit to 0 rows. Run it alone: two cores are shared.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hybrid import CACHE, base_model, corpus_words, machine  # noqa: E402
from sisearch import Index  # noqa: E402
from sisearch.core import loaded_vectors  # noqa: E402
from sisearch.core.store import NewChunk, NewDocument, content_hash  # noqa: E402

GOAL_MS = 50.0


def model() -> str:
    from sisearch.encoders.known_models import install

    try:
        return str(install("e5-small")[0])
    except Exception:  # no e5 extra: the base-size stand-in
        return base_model()


def vocabulary() -> tuple[list[str], list[float]]:
    """Distinct words (sample-corpus words with Sinhala endings) and their cumulative
    Zipf-like weights."""
    endings = ["", "ය", "යි", "ට", "ගේ", "වල", "ක්", "න්", "ෙන්", "ේ", "ා", "ී", "ු", "ම", "ද"]
    endings += [a + b for a in ("ක", "ග", "ම", "ල", "ව", "ස", "ත", "න") for b in ("ා", "ි", "ේ", "ෝ")]
    words = sorted({w + e + t for w in corpus_words() for e in endings for t in ("", "ත්", "ම")})
    random.Random(0).shuffle(words)
    return words, list(itertools.accumulate(1.0 / (rank + 10) for rank in range(len(words))))


def synthetic_documents(
    vectors: np.ndarray,
    first_line: int,
    words: list[str],
    weights: list[float],
    picker: random.Random,
) -> list[NewDocument]:
    """A one-chunk document a vector, 8-20 words drawn Zipf-like by `picker`, its lines
    numbered from `first_line` (source "synthetic")."""
    documents = []
    for i, vector in enumerate(vectors):
        text = " ".join(picker.choices(words, cum_weights=weights, k=picker.randint(8, 20)))
        digest = content_hash(text)
        chunk = NewChunk(0, len(text), digest, vector)
        documents.append(NewDocument(text, "synthetic", first_line + i, {}, digest, [chunk]))
    return documents


def built(count: int, model_dir: str) -> Path:
    """The `count`-passage index (made once), its vectors clustered like real embeddings."""
    path = CACHE / f"writes-{count}-{Path(model_dir).name}-zipf"
    marker = path / ".complete"
    if marker.exists():
        return path
    import shutil

    shutil.rmtree(path, ignore_errors=True)
    words, weights = vocabulary()
    picker = random.Random(count)
    rng = np.random.default_rng(count)
    with Index.create(path, model=model_dir) as index:
        dim = index.manifest.model.dim
        centres = rng.normal(size=(200, dim)).astype(np.float32)
        for start in range(0, count, 20_000):
            size = min(20_000, count - start)
            vectors = centres[rng.integers(0, len(centres), size)]
            vectors = vectors + 0.6 * rng.normal(size=(size, dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            index.store.add(synthetic_documents(vectors, start + 1, words, weights, picker))
        index.rebuild()
    marker.touch()
    return path


def new_passages(words: list[str], weights: list[float], rng: random.Random) -> list[str]:
    return [
        " ".join(rng.choices(words, cum_weights=weights, k=rng.randint(8, 20))) + f" {rng.random()}"
        for _ in "abc"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--writes", type=int, default=15, help="writes of each design")
    args = parser.parse_args()
    print(f"# Write benchmark\n\nMachine: {machine()}\n")
    model_dir = model()
    started = time.perf_counter()
    path = built(args.count, model_dir)
    reader = Index.open(path)
    words_saved = len(reader.vocabulary().counts)
    print(f"Index of {args.count} passages ({Path(model_dir).name}, {words_saved} distinct words;")
    print(f"ready in {time.perf_counter() - started:.0f} s, cached after the first run).\n")
    reader.search("ශ්‍රී ලංකාව", limit=5)  # loads the vectors and the encoder once
    encoder = reader.encoder
    words, weights = vocabulary()
    rng = random.Random(time.time_ns())  # texts new to the cached index on every run
    limit = loaded_vectors.compact_rows
    results: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.writes):
        for design in ("vector log", "whole file"):
            loaded_vectors.compact_rows = limit if design == "vector log" else (lambda count: 0)
            texts = new_passages(words, weights, rng)
            began = time.perf_counter()
            with Index.open(path, borrow_encoder=encoder) as writer:
                writer.add(texts)
            write = time.perf_counter() - began
            began = time.perf_counter()
            encoder.encode_documents(texts)
            encode = time.perf_counter() - began
            began = time.perf_counter()
            vectors = reader.vectors.fresh()
            catch_up = time.perf_counter() - began
            assert len(vectors) == reader.store.chunk_count()  # the reader holds the write
            row = results.setdefault(design, {})
            for name, seconds in (
                ("write", write),
                ("beyond", write - encode),
                ("catch", catch_up),
            ):
                row.setdefault(name, []).append(seconds * 1000)
    loaded_vectors.compact_rows = limit
    with Index.open(path, borrow_encoder=encoder) as writer:
        writer.rebuild()  # leave the cached index without a log for the next run
    reader.close()
    print(f"## Adding 3 passages to a {args.count}-passage index ({args.writes} writes a design)\n")
    print("Median ms (min-max).\n")
    print("| design | whole write | beyond encoding | reader catch-up |\n|---|---|---|---|")
    for design, row in results.items():
        cells = [
            f"{statistics.median(row[n]):.1f} ({min(row[n]):.1f}-{max(row[n]):.1f})"
            for n in ("write", "beyond", "catch")
        ]
        print(f"| {design} | {' | '.join(cells)} |")
    log, whole = results["vector log"], results["whole file"]
    beyond, catch = statistics.median(log["beyond"]), statistics.median(log["catch"])
    print(
        f"\nWhole file / vector log: write beyond encoding"
        f" {statistics.median(whole['beyond']) / beyond:.1f}x, reader catch-up"
        f" {statistics.median(whole['catch']) / catch:.1f}x."
    )
    for name, value in (("a write beyond encoding", beyond), ("a reader's catch-up", catch)):
        verdict = "met" if value <= GOAL_MS else "MISSED"
        print(f"Goal {name} <= {GOAL_MS:.0f} ms: {value:.1f} ms, {verdict}.")


if __name__ == "__main__":
    main()
