"""Measuring and fine-tuning: eval retrieval, eval sts, train."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..encoders.known_models import DEFAULT_MODEL
from ..index import MODES, Index
from ..names import index_location
from .main import cli
from .options import index_options, json_option, quiet_option
from .output import (
    console,
    steps_progress,
)


@cli.group("eval")
def eval_group() -> None:
    """Measure search quality."""


@eval_group.command("retrieval")
@index_options
@click.option(
    "--queries",
    "queries_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="BEIR-style queries.jsonl (_id, text).",
)
@click.option(
    "--qrels",
    "qrels_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="BEIR-style qrels.tsv (query-id, corpus-id, score).",
)
@click.option(
    "--mode",
    "modes",
    type=click.Choice(["all", *MODES]),
    default="all",
    show_default=True,
    help="Search mode(s) to evaluate.",
)
@click.option(
    "--id-field",
    default="id",
    show_default=True,
    help="Metadata field holding the corpus id of each passage.",
)
@json_option("One JSON object per mode and line.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    help="Also write a PNG of recall@k (k = 1..10) per mode.",
)
def eval_retrieval_command(
    index_name: str,
    index_dir: Path,
    queries_file: str,
    qrels_file: str,
    modes: str,
    id_field: str,
    as_json: bool,
    plot: str | None,
) -> None:
    """Recall@1/5/10, MRR@10 and nDCG@10 of an index on judged queries, per search mode.

    \b
      sisearch eval retrieval --queries corpora/queries.jsonl --qrels corpora/qrels.tsv
    """
    from ..quality.evaluation import evaluate_index, read_qrels, read_queries

    queries, qrels = read_queries(queries_file), read_qrels(qrels_file)
    with Index.open(index_location(index_dir, index_name)) as index:
        chosen = MODES if modes == "all" else (modes,)
        results = evaluate_index(index, queries, qrels, chosen, id_field)
        if plot:
            from ..quality.plots import plot_retrieval

            by_k = evaluate_index(index, queries, qrels, chosen, id_field, ks=range(1, 11))
            curves = {m: {k: by_k[m][f"recall@{k}"] for k in range(1, 11)} for m in chosen}
            plot_retrieval(curves, plot, f"{index_name}: {Path(queries_file).name}")
    if as_json:
        for mode, metrics in results.items():
            click.echo(json.dumps({"mode": mode, **metrics}))
        return
    names = [m for m in next(iter(results.values())) if m != "queries"]
    table = Table("mode", *names, title=f"{int(next(iter(results.values()))['queries'])} queries")
    for mode, metrics in results.items():
        table.add_row(mode, *(f"{metrics[n]:.4f}" for n in names))
    console().print(table)


@cli.command("train")
@click.argument("pairs_file", metavar="PAIRS.csv", type=click.Path(dir_okay=False))
@click.option(
    "--base",
    default=DEFAULT_MODEL,
    show_default=True,
    help="Hub id, local folder or installed short name of the model to fine-tune.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write the trained model to (must not exist).",
)
@click.option(
    "--eval",
    "eval_file",
    type=click.Path(dir_okay=False),
    help="STS pairs to score the model on before and after training.",
)
@click.option(
    "--recipe",
    type=click.Choice(["sisearch", "seed"]),
    default="sisearch",
    show_default=True,
    help="sisearch: CoSENT, word embeddings frozen, measured to help a real encoder;"
    " seed: the seed encoder's own CosineSimilarityLoss recipe. Options below override it.",
)
@click.option("--epochs", type=click.IntRange(min=1))
@click.option("--batch-size", type=click.IntRange(min=1))
@click.option("--learning-rate", type=click.FloatRange(min=0))
@click.option("--weight-decay", type=click.FloatRange(min=0))
@click.option("--warmup-steps", type=click.IntRange(min=0))
@click.option("--max-grad-norm", type=click.FloatRange(min=0))
@click.option("--max-seq-length", type=click.IntRange(min=8))
@click.option("--seed", type=int)
@click.option("--max-steps", type=click.IntRange(min=1), help="Stop after this many steps.")
@click.option("--loss", type=click.Choice(["cosent", "cosine-mse"]))
@click.option(
    "--keep-base",
    type=click.FloatRange(0, 1, max_open=True),
    help="Share of the base model's weights mixed back in after training (WiSE-FT).",
)
@click.option(
    "--freeze-embeddings/--train-embeddings",
    default=None,
    help="Keep the word embeddings as they are (the sisearch recipe) or train them (seed).",
)
@quiet_option
def train_command(
    pairs_file: str,
    base: str,
    out: str,
    eval_file: str | None,
    recipe: str,
    quiet: bool,
    **overrides: Any,
) -> None:
    """Fine-tune an encoder on Sinhala STS pairs.

    PAIRS.csv has the columns sentence_0, sentence_1, label (in [0, 1]).
    Recipe sisearch (default): CoSENT loss, word embeddings frozen, batch 16, 4 epochs,
    learning rate 5e-5, then the weights averaged half-way back to the base model's (keeps
    what it knew of other languages). Recipe seed: CosineSimilarityLoss, batch 4, 1 epoch, learning
    rate 5e-5, every weight trained. Both: AdamW, linear schedule without warmup, seed 42,
    max_seq_length 128.

    \b
      sisearch train corpora/sts_train.csv --base e5-small --out models/si-sts \\
          --eval corpora/sts_test.csv
    """
    import dataclasses

    from ..quality.training import RECIPES, train

    pairs, _ = sts_pairs(pairs_file, quiet)
    eval_pairs = sts_pairs(eval_file, quiet)[0] if eval_file else None
    chosen = {k: v for k, v in overrides.items() if v is not None}
    config = dataclasses.replace(RECIPES[recipe], **chosen)
    label = recipe if not chosen else f"{recipe}, with {', '.join(sorted(chosen))} changed"
    with steps_progress(quiet) as progress:
        result = train(base, pairs, out, config, eval_pairs, progress, recipe=label)
    if not quiet:
        text = f"Wrote {result.out}: {result.steps} steps on {result.train_pairs} pairs"
        text += f", final loss {result.final_loss:.4f}"
        if result.scores_after:
            before, after = result.scores_before["spearman"], result.scores_after["spearman"]
            text += f"; Spearman on {eval_file}: {before:.4f} -> {after:.4f}"
        click.echo(text)


@eval_group.command("sts")
@click.argument("pairs_file", metavar="PAIRS.csv", type=click.Path(dir_okay=False))
@click.option(
    "--model",
    required=True,
    help="Hub id, local folder or installed short name (e5-small) of the encoder to score.",
)
@json_option("Print the scores as JSON.")
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    help="Also write a PNG: cosine distributions of similar and dissimilar pairs.",
)
@click.option(
    "--as-written",
    is_flag=True,
    help="Embed the sentences exactly as written (sentence-transformers'"
    " EmbeddingSimilarityEvaluator's number, given the query prompt), not normalized as"
    " sisearch embeds text.",
)
def eval_sts_command(
    pairs_file: str, model: str, as_json: bool, plot: str | None, as_written: bool
) -> None:
    """Pearson and Spearman correlation of an encoder's cosine with STS labels.

    PAIRS.csv has the columns sentence_0, sentence_1, label (in [0, 1]). Both sentences
    get the model's query prompt and, unless --as-written, sisearch's normalization
    (canonical ZWJ spellings, NFC, single spaces), as an index embeds text.

    \b
      sisearch eval sts corpora/sts_test.csv --model models/si-sts
    """
    from ..encoders.encoder import load_encoder
    from ..quality.sts import score_sts, sts_cosines

    pairs, repeated = sts_pairs(pairs_file, as_json, as_written)
    encoder = load_encoder(model)
    scores = score_sts(encoder, pairs, as_written)
    scores["repeated"] = float(repeated.same)
    if plot:
        from ..quality.plots import plot_sts

        title = f"{Path(model).name}: Spearman {scores['spearman']:.3f} on {Path(pairs_file).name}"
        plot_sts(sts_cosines(encoder, pairs, as_written), [p.label for p in pairs], plot, title)
    if as_json:
        click.echo(json.dumps({"model": model, **scores}))
        return
    table = Table("pairs", "pearson", "spearman", title=f"{model} on {pairs_file}")
    table.add_row(
        str(int(scores["pairs"])), f"{scores['pearson']:.4f}", f"{scores['spearman']:.4f}"
    )
    console().print(table)


def sts_pairs(path: str, quiet: bool, as_written: bool = False) -> tuple[list[Any], Any]:
    """The pairs of an STS file and their `Repeats`, saying on stderr how many repeat and
    how many have a blank sentence (all are used)."""
    from ..quality.sts import blank_pairs, read_sts_pairs, repeats

    pairs = read_sts_pairs(path, as_written)
    repeated = repeats(pairs)
    note = repeated.note(path)
    if note and not quiet:
        click.echo(f"Note: {note}", err=True)
    blank = blank_pairs(pairs)
    if blank and not quiet:
        click.echo(
            f"Note: {path}: {blank} pair(s) with a blank sentence; used as they are, as"
            " sentence-transformers uses them",
            err=True,
        )
    return pairs, repeated
