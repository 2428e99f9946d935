"""Options several commands share, as decorators (the habit of sqlite-utils' CLI)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import InvalidIndexName
from ..names import validate_index_name

DEFAULT_INDEX = "default"
F = TypeVar("F", bound=Callable[..., Any])


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
    """How corpus paths are read (--text-field, --split, --legacy-font, --glob, --exclude, --ocr),
    shared by index and encode; the command gets them as one `options: ReadOptions`.
    The readers are imported here, not at the top: `sisearch query` needs none of them."""
    from ..documents import LEGACY_FONTS, OCR_MODES, SPLITS, ReadOptions

    @functools.wraps(command)
    def with_options(
        *args: Any,
        text_field: str,
        split: str,
        legacy_font: str | None,
        globs: tuple[str, ...],
        excludes: tuple[str, ...],
        ocr: str,
        **kwargs: Any,
    ) -> Any:
        options = ReadOptions(text_field, split, legacy_font, globs, excludes, ocr)  # type: ignore[arg-type]
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
        click.option(
            "--ocr",
            type=click.Choice(OCR_MODES),
            default="never",
            show_default=True,
            help="Read scanned pages by OCR (Tesseract, Sinhala and English; the ocr extra):"
            " auto reads PDF pages with no text layer, or whose text layer is not Sinhala where"
            " the page image reads as Sinhala, and images (.png .jpg .tif .webp .bmp); always"
            " reads every PDF page by OCR.",
        ),
    )
    for decorator in reversed(decorators):
        with_options = decorator(with_options)
    return with_options  # type: ignore[return-value]


def json_option(what: str) -> Callable[[F], F]:
    """--json (as `as_json`) for a command that can print machine-readable output: `what`
    says what it prints, e.g. "One JSON object per hit and line."."""
    return click.option("--json", "as_json", is_flag=True, help=what)


def quiet_option(command: F) -> F:
    """--quiet / -q for a command that reports progress and summaries."""
    return click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")(command)
