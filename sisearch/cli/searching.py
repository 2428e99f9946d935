"""`sisearch query`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..index import MODES, Index
from ..language.romanized import MODES as ROMANIZED_MODES
from ..names import index_location
from .main import cli
from .options import index_options, json_option
from .output import (
    console,
    hits_table,
)


@cli.command("query")
@click.argument("text", required=False)
@index_options
@click.option(
    "-k",
    "--limit",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of results.",
)
@json_option("One JSON object per hit and line.")
@click.option(
    "--queries",
    type=click.File("r", encoding="utf-8"),
    help="Read queries from a file, one a line ('-' for stdin); encoded in one batch.",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="hybrid",
    show_default=True,
    help="hybrid: keyword and vector results fused; dense: vectors only;"
    " lexical: keywords only (loads no model).",
)
@click.option(
    "--where",
    help="Metadata filter, e.g. \"topic = 'health' and year >= 2020\"; fields are the"
    " jsonl/csv fields, or source and line.",
)
@click.option(
    "--nprobe",
    type=click.IntRange(min=1),
    help="IVF cells to scan (default: tuned per index to recall@10 0.95 against exact search).",
)
@click.option("--ef", type=click.IntRange(min=1), help="HNSW candidate list size (default 256).")
@click.option("--mmap", is_flag=True, help="Memory-map the vector file instead of reading it.")
@click.option(
    "--raw-fts",
    is_flag=True,
    help='Pass the query to SQLite FTS5 as an expression (AND, OR, NEAR, "phrase", *).',
)
@click.option(
    "--romanized",
    type=click.Choice(ROMANIZED_MODES),
    default="auto",
    show_default=True,
    help='Queries typed in Latin letters ("sri lankawe"): auto reads them as romanized'
    " Sinhala using the index's vocabulary (Latin words the index holds stay); on reads"
    " every Latin word; off searches the text as typed.",
)
def query_command(
    text: str | None,
    index_name: str,
    index_dir: Path,
    limit: int,
    as_json: bool,
    queries: Any,
    mode: str,
    where: str | None,
    nprobe: int | None,
    ef: int | None,
    mmap: bool,
    raw_fts: bool,
    romanized: str,
) -> None:
    """Search an index for the passages that best match TEXT.

    \b
      sisearch query "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන" -k 5
      sisearch query "කොළඹ වරාය" --json
      sisearch query --queries questions.txt --json
      sisearch query "ඩෙංගු" --mode lexical --where "topic = 'health'"
      sisearch query "sri lankawe aithihasika sthana"      # romanized Sinhala
    """
    if (text is None) == (queries is None):
        raise click.UsageError("give either a query TEXT or --queries FILE")
    if raw_fts and mode == "dense":
        raise click.UsageError("--raw-fts needs --mode lexical or hybrid")
    texts = [text] if text is not None else [q.strip() for q in queries if q.strip()]
    if not texts:
        raise click.UsageError("--queries has no non-blank lines")
    with Index.open(index_location(index_dir, index_name), mmap=mmap) as index:
        results = index.search_many(
            texts,
            limit,
            mode=mode,
            where=where,
            raw_fts=raw_fts,
            nprobe=nprobe,
            ef=ef,
            romanized=romanized,
        )
        readings = [  # the hits carry the reading; a query with none asks for it
            hits[0].transliteration if hits else None if raw_fts else index.reading(q, romanized)
            for q, hits in zip(texts, results)
        ]
        if index.vectors_rebuilt_in_memory:
            click.echo(
                f"Note: the vector file of {index.path} lags its database (an interrupted write?);"
                " it was rebuilt in memory for this query. Save it with: sisearch rebuild"
                f" --index {index_name}",
                err=True,
            )
    if as_json:
        for query, hits, reading in zip(texts, results, readings):
            if reading is not None and not hits:  # the hits carry it; with none, say it here
                click.echo(f"Note: {query!r} was searched as {reading!r}: no results", err=True)
            for hit in hits:
                click.echo(json.dumps({"query": query, **hit.to_dict()}, ensure_ascii=False))
        return
    terminal = console(soft_wrap=False)
    for query, hits, reading in zip(texts, results, readings):
        terminal.print(hits_table(query, hits, mode, reading))
