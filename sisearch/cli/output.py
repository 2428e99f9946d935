"""What the commands print: tables, summaries, progress bars and status lines."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..documents.corpus import STDIN
from ..hit_view import view_of, words_to_mark
from ..index import Hit, Index

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from ..core.writer import AddResult
    from ..documents import ReadReport

TABLE_SNIPPET_CHARS = 240  # a terminal line or three of a long passage


def console(stderr: bool = False, soft_wrap: bool = False) -> Console:
    """A console that prints user text as it is: no markup, emoji codes or highlighting
    (a query "[bold]x" or a file "report[v2].txt" must show as typed). Rich is imported
    here, not at the top: `query --json` prints without it (about 50 ms of a cold query)."""
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=soft_wrap, markup=False, emoji=False, highlight=False)


def hits_table(query: str, hits: list[Hit], mode: str, searched: str | None) -> Table:
    """Hits as a table, under the query and what it was searched as (a romanized reading);
    the query's words are highlighted whole, long texts cut to a snippet."""
    from rich.table import Table
    from rich.text import Text

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
    words = words_to_mark(query, searched)
    for hit in hits:
        view = view_of(hit, words, TABLE_SNIPPET_CHARS)
        highlighted = Text()
        for piece in view.pieces:
            highlighted.append(piece.text, "bold yellow" if piece.match else None)
        ranks = [_rank_cell(hit.dense_rank), _rank_cell(hit.lexical_rank)]
        table.add_row(
            str(hit.rank),
            f"{hit.score:.4f}",
            "-" if hit.cosine is None else f"{hit.cosine:.4f}",
            *(ranks if mode == "hybrid" else []),
            highlighted,
            view.place,  # the full path is in --json
        )
    if not hits:
        table.caption = "no results"
    return table


def _rank_cell(rank: int | None) -> str:
    return "-" if rank is None else str(rank)


def engine_summary(location: Path, index: Index) -> str:
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


def add_summary(path: str, result: AddResult, seconds: float, report: ReadReport) -> str:
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
    if report.ocr_pages:
        text += f"; read {report.ocr_pages} scanned pages by OCR"
    if path != STDIN and Path(path).is_dir():
        text += "\n" + files_summary(path, report)
    return text


def files_summary(path: str, report: ReadReport) -> str:
    """What a folder walk read and left: files read, unknown types, exclusions, failures."""
    parts = [f"{report.files_read} files read"]
    if report.unknown:
        kinds = ", ".join(f"{ext} {n}" for ext, n in sorted(report.unknown.items()))
        parts.append(f"{sum(report.unknown.values())} skipped as unknown types ({kinds})")
    if report.excluded:
        parts.append(f"{report.excluded} left out by --glob/--exclude")
    if report.images_left == 1:
        parts.append("1 image left unread (index it with --ocr auto)")
    elif report.images_left:
        parts.append(f"{report.images_left} images left unread (index them with --ocr auto)")
    if report.empty:
        parts.append(f"{len(report.empty)} with no text")
    if report.failed:
        parts.append(f"{len(report.failed)} unreadable (listed above)")
    return f"{path}: " + ", ".join(parts)


@contextmanager
def progress_bar(label: str, total: int | None, quiet: bool) -> Iterator[Callable[[int], None]]:
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
    from rich.text import Text

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
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def ocr_progress(quiet: bool) -> Iterator[None]:
    """A line on stderr for each page OCR reads (pages take a second or more each)."""
    if quiet:
        yield
        return

    def echo(label: str, page: int, pages: int) -> None:
        click.echo(f"{label}: page {page} of {pages} read by OCR", err=True)

    from ..documents.ocr import pages_reported_to

    with pages_reported_to(echo):
        yield


@contextmanager
def status(message: str, quiet: bool) -> Iterator[None]:
    if quiet or not sys.stderr.isatty():
        yield
        return
    from rich.text import Text

    with console(stderr=True).status(Text(message)):
        yield


@contextmanager
def steps_progress(quiet: bool) -> Iterator[Callable[[int, int, float], None] | None]:
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
    with Progress(*columns, console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("training", total=None, loss=float("nan"))

        def advance(step: int, total: int, loss: float) -> None:
            bar.update(task, completed=step, total=total, loss=loss)

        yield advance


def counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


@contextmanager
def output_of_ray(verbose: bool) -> Iterator[None]:
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
