"""Romanized ("Singlish") queries: transliteration accuracy, retrieval, latency, vocabulary cost.

    python bench/romanized.py                # about 4 minutes on 2 cores
    python bench/romanized.py --pairs 2000 --sizes 100000

Data: ../shared/data/singlish_pairs_train.json (8,571 human-typed Singlish / Sinhala
sentence pairs, MIT, IndoNLP-2025 shared task), read in place when present. The Sinhala
sides are indexed and searched with their Singlish sides. "Ad-hoc" typing is made from
the Singlish sides by dropping the "a" between two consonants inside a word ("prashnayak"
-> "prshnyk"), as phone typists do. The drop-in baselines are PyPI transliterators used
in place of sisearch's reading (`pip install siconv SinhalaTools` to include them).
Everything is measured side by side in this one run. Run it alone.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hybrid import base_model, machine, tiny_model  # noqa: E402
from sisearch import Document, Index  # noqa: E402
from sisearch.core.locking import WriterLock  # noqa: E402
from sisearch.core.state import IndexState  # noqa: E402
from sisearch.language.lexical import FTS_TOKENIZER, query_terms  # noqa: E402
from sisearch.language.romanized import Vocabulary, transliterate  # noqa: E402
from sisearch.language.text import lexical_key, normalize  # noqa: E402

PAIRS = ROOT.parent / "shared" / "data" / "singlish_pairs_train.json"
_INNER_A = re.compile(r"(?<=[bcdfghjklmnpqrstvwxyz])a(?=[bcdfghjklmnpqrstvwxyz])")


def load_pairs(limit: int) -> list[tuple[str, str]]:
    records = json.loads(PAIRS.read_text(encoding="utf-8"))
    pairs = [(r["translation"]["en"].strip(), normalize(r["translation"]["si"])) for r in records]
    return [(en, si) for en, si in pairs if en and si][:limit]


def adhoc(singlish: str) -> str:
    return " ".join(
        w[0] + _INNER_A.sub("", w[1:-1]) + w[-1] if len(w) > 2 else w for w in singlish.split()
    )


def baselines() -> dict[str, Callable[[str], str]]:
    """Drop-in PyPI transliterators that are installed (rule-based, no vocabulary)."""
    found: dict[str, Callable[[str], str]] = {}
    try:
        from siconv.to_sinhala import singlish_to_sinhala

        found["siconv"] = singlish_to_sinhala
    except ImportError:
        pass
    try:
        import SinhalaTools

        found["SinhalaTools"] = SinhalaTools.roman_to_sinhala
    except ImportError:
        pass
    return found


def word_accuracy(readings: list[str], pairs: list[tuple[str, str]]) -> float:
    """Share of words read exactly (joiners aside), over sentences whose word counts agree."""
    right = total = 0
    for reading, (_, sinhala) in zip(readings, pairs):
        got = [lexical_key(w) for w in normalize(reading).split()]
        want = [lexical_key(w) for w in sinhala.split()]
        if len(got) == len(want):
            total += len(want)
            right += sum(g == w for g, w in zip(got, want))
    return right / max(total, 1)


def retrieval(index: Index, queries: list[str], targets: list[str], mode: str, romanized: str):
    """Top-1 and top-10 rate of the target sentence's text among the hits."""
    hits = index.search_many(queries, 10, mode=mode, romanized=romanized)
    top1 = sum(bool(h) and h[0].text == t for h, t in zip(hits, targets)) / len(targets)
    top10 = sum(any(x.text == t for x in h) for h, t in zip(hits, targets)) / len(targets)
    return top1, top10


def quality(index: Index, pairs: list[tuple[str, str]]) -> None:
    vocabulary = index.vocabulary()
    sides = {
        "general": [en for en, _ in pairs],
        "ad-hoc": [adhoc(en) for en, _ in pairs],
    }
    targets = [si for _, si in pairs]
    drop_ins = baselines()
    print(f"## Transliteration and retrieval on {len(pairs)} Singlish/Sinhala pairs\n")
    print("Word accuracy: the reading's words against the Sinhala side's.\n")
    print("| typing | reader | word accuracy |\n|---|---|---|")
    readings: dict[tuple[str, str], list[str]] = {}
    for style, queries in sides.items():
        ours = []
        for query in queries:
            reading = transliterate(query, vocabulary)
            ours.append(query if reading is None else reading.text)
        readings[(style, "sisearch")] = ours
        print(f"| {style} | sisearch (index vocabulary) | {word_accuracy(ours, pairs):.3f} |")
        for name, convert in drop_ins.items():
            theirs = [_safe(convert, q) for q in queries]
            readings[(style, name)] = theirs
            print(f"| {style} | {name} (drop-in) | {word_accuracy(theirs, pairs):.3f} |")
    print(
        "\nRetrieval of the right sentence (top-1 / top-10). `native`: the Sinhala side itself.\n"
    )
    print("| typing | words | query as | lexical top-1 | top-10 | hybrid top-1 | top-10 |")
    print("|---|---|---|---|---|---|---|")
    for style, queries in sides.items():
        for words in ("all", "first 3"):
            cut = (lambda q: q) if words == "all" else (lambda q: " ".join(q.split()[:3]))
            rows = {"read by sisearch": ([cut(q) for q in queries], "auto")}
            rows["typed (--romanized off)"] = ([cut(q) for q in queries], "off")
            for name in drop_ins:
                rows[f"{name} reading"] = ([cut(q) for q in readings[(style, name)]], "off")
            if style == "general":
                rows["native Sinhala"] = ([cut(t) for t in targets], "off")
            for label, (texts, romanized) in rows.items():
                lexical = retrieval(index, texts, targets, "lexical", romanized)
                hybrid = retrieval(index, texts, targets, "hybrid", romanized)
                print(
                    f"| {style} | {words} | {label} | {lexical[0]:.3f} | {lexical[1]:.3f} |"
                    f" {hybrid[0]:.3f} | {hybrid[1]:.3f} |"
                )
    print()


def _safe(convert: Callable[[str], str], text: str) -> str:
    try:
        return str(convert(text))
    except Exception:  # a baseline that fails on a sentence reads nothing
        return text


def latency(index: Index, pairs: list[tuple[str, str]], label: str, rounds: int = 3) -> None:
    """Warm per-query time of the romanized query against its Sinhala side, alternated."""
    sample = pairs[:: max(1, len(pairs) // 200)][:200]
    index.vocabulary()
    rows = []
    for mode in ("lexical", "hybrid"):
        romanized, native = [], []
        for _ in range(rounds):
            for en, si in sample:
                started = time.perf_counter()
                index.search(en, 10, mode=mode)
                romanized.append(time.perf_counter() - started)
                started = time.perf_counter()
                index.search(si, 10, mode=mode)
                native.append(time.perf_counter() - started)
        r, n = statistics.median(romanized) * 1000, statistics.median(native) * 1000
        rows.append(f"| {label} | {mode} | {n:.2f} | {r:.2f} | {r / n:.2f}x |")
    print("\n".join(rows))


def vocabulary_cost(sizes: list[int], words: list[str], latin: list[str]) -> None:
    """Build time and memory of the vocabulary structure for synthetic indexes of `sizes`
    passages, and the time to read one romanized word (`latin`) against it. Words are
    Zipf-distributed: the pairs' words plus invented ones, so the vocabulary keeps growing
    with the corpus as real vocabularies do."""
    print("\n## Vocabulary structure: build time and memory\n")
    print(
        "| passages | distinct words | fts5vocab read | built | memory | from the saved file |"
        " a Latin word read |"
    )
    print("|---|---|---|---|---|---|---|")
    rng = random.Random(0)
    syllables = sorted({w[i : i + 2] for w in words for i in range(0, len(w) - 1, 2)})
    for size in sizes:
        # Heaps' law, distinct words = 20 * tokens^0.6 (8 words a passage): 71k at 100k
        # passages, 283k at 1M, in the range real news corpora show.
        types = list(dict.fromkeys(words))
        while len(types) < int(20 * (8 * size) ** 0.6):
            types.append("".join(rng.choice(syllables) for _ in range(rng.randint(2, 5))))
        cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(types))))
        with tempfile.TemporaryDirectory() as scratch:
            db = sqlite3.connect(Path(scratch) / "v.db")
            db.execute(
                f'CREATE VIRTUAL TABLE documents_fts USING fts5(key, tokenize="{FTS_TOKENIZER}")'
            )
            for start in range(0, size, 20000):
                rows = [
                    (lexical_key(" ".join(rng.choices(types, cum_weights=cumulative, k=8))),)
                    for _ in range(min(20000, size - start))
                ]
                db.executemany("INSERT INTO documents_fts (key) VALUES (?)", rows)
            db.commit()
            db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, documents_fts, row)")
            tracemalloc.start()
            started = time.perf_counter()
            counts = db.execute("SELECT term, doc FROM temp.v").fetchall()
            read = time.perf_counter() - started
            started = time.perf_counter()
            vocabulary = Vocabulary(counts)
            built = time.perf_counter() - started
            del counts
            memory = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            db.close()
            with WriterLock(Path(scratch)) as lock:
                state = IndexState(Path(scratch), lock)
                state.save_vocabulary(1, sorted(vocabulary.counts.items()))
            started = time.perf_counter()
            Vocabulary(state.load_vocabulary(1) or [])
            from_file = time.perf_counter() - started
            lookups = [rng.choice(latin) for _ in range(2000)]
            started = time.perf_counter()
            for word in lookups:
                transliterate(word, vocabulary)
            per_word = (time.perf_counter() - started) / len(lookups)
        print(
            f"| {size:,} | {len(vocabulary.words):,} | {read * 1000:.0f} ms |"
            f" {built * 1000:.0f} ms | {memory / 2**20:.1f} MiB | {from_file * 1000:.0f} ms |"
            f" {per_word * 1000:.3f} ms |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(f"# Romanized queries\n\nMachine: {machine()}\n")
    if not PAIRS.exists():
        print(f"{PAIRS} is not here; nothing to measure.")
        return
    pairs = load_pairs(args.pairs)
    with tempfile.TemporaryDirectory() as scratch:
        index = Index.create(Path(scratch) / "pairs", model=tiny_model())
        index.add(Document(si, source="pairs", line=i) for i, (_, si) in enumerate(pairs, 1))
        quality(index, pairs)
        print(
            "## Query latency, warm, median ms (romanized against the same sentence in Sinhala)\n"
        )
        print("| encoder | mode | Sinhala | romanized | ratio |\n|---|---|---|---|---|")
        latency(index, pairs, "tiny")
        index.close()
        subset = pairs[:1000]
        base = Index.create(Path(scratch) / "base", model=base_model())
        base.add(Document(si, source="pairs", line=i) for i, (_, si) in enumerate(subset, 1))
        latency(base, subset, "base (XLM-R size)", rounds=1)
        base.close()
    vocabulary_cost(
        args.sizes,
        [w for _, si in pairs for w in query_terms(si)],
        [w for en, _ in pairs for w in en.lower().split() if w.isalpha()],
    )


if __name__ == "__main__":
    main()
