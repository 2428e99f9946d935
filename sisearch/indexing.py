"""Indexing corpus paths as `sisearch index` does, for the command line and for Python.

Every path is read ahead (encoding, format, emptiness) before anything is created, so a
bad file stops the job before an index exists; an index is opened, or created with the
options that only creation can set; then each path is added, or synced (a folder's
deleted and emptied files lose their passages), with a report of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from .core.writer import AddResult, ProgressCallback
from .documents import ReadOptions, ReadReport, check_ocr, read_path
from .documents.corpus import STDIN, Document, require_passages, source_name
from .documents.files import reader_of
from .documents.reading import DOCUMENT_READERS
from .encoders.known_models import default_model, install, missing_default
from .errors import OptionConflict
from .index import Index

Announce = Callable[[str], AbstractContextManager[object]]


@dataclass(frozen=True)
class CreationOptions:
    """How a new index is made; for an existing one only `model` may be given (it must
    be the index's), and `precision` / `engine` only as what the index already uses."""

    model: str | None = None
    precision: str | None = None
    engine: str | None = None
    index_type: str | None = None
    compress: bool = False
    query_prompt: str | None = None
    document_prompt: str | None = None


class CorpusPaths:
    """Corpus paths, each read ahead once: a folder's or a parsed document's passages are
    kept for the write; a text file is read again then (it may be large)."""

    def __init__(self, paths: Sequence[str], options: ReadOptions) -> None:
        if not paths:
            raise OptionConflict("give at least one corpus PATH (or --embeddings)")
        if list(paths).count(STDIN) > 1:
            raise OptionConflict("stdin (-) can be read only once")
        if options.ocr != "never":
            check_ocr()
        self.paths = list(paths)
        self.options = options
        self.reports = {path: ReadReport() for path in self.paths}
        self._kept: dict[str, Iterator[Document]] = {}

    def read_ahead(self, path: str) -> None:
        """Read the first passage of `path`: CorpusError if it has none or cannot be read
        (its report then names the files of a folder it skipped)."""
        documents = require_passages(read_path(path, self.options, self.reports[path]), path)
        if path == STDIN or keeps_passages(path):
            self._kept[path] = documents
        else:
            documents.close()

    def take(self, path: str) -> tuple[Iterator[Document], ReadReport]:
        """The passages of `path` for the write, with the report they fill."""
        if path in self._kept:
            return self._kept.pop(path), self.reports[path]
        report = self.reports[path] = ReadReport()
        return read_path(path, self.options, report), report


def keeps_passages(path: str) -> bool:
    """Whether reading `path` ahead keeps its passages: a folder, or a parsed document."""
    return Path(path).is_dir() or reader_of(path) in DOCUMENT_READERS


def open_or_create(
    location: Path,
    creation: CreationOptions,
    announce: Announce | None = None,
    installed: Callable[[str, Path], None] | None = None,
) -> tuple[Index, bool]:
    """The index at `location`, opened, or created when missing (True); `announce(what)`
    wraps the slow steps (installing the default model, loading a model) for a caller
    that shows them, and `installed(name, folder)` hears of a model installed on the way.
    OptionConflict when an option can only apply to a new index."""
    announce = announce or (lambda _: nullcontext())
    if Index.exists(location):
        index = Index.open(location, model=creation.model)
        try:
            _check_existing(index, creation)
        except OptionConflict:
            index.close()
            raise
        return index, False
    chosen = creation.model or default_model()
    if creation.model is None and missing_default(chosen):
        with announce(f"Installing the default model {chosen} (once, about 20 s)"):
            folder, _ = install(chosen)
        if installed is not None:
            installed(chosen, folder)
    with announce(f"Loading model {chosen} and preparing its encoder"):
        index = Index.create(
            location,
            model=chosen,
            precision=creation.precision,
            engine=creation.engine or "onnx",
            index_type=creation.index_type or "auto",
            compress=creation.compress,
            query_prompt=creation.query_prompt,
            document_prompt=creation.document_prompt,
        )
    return index, True


def _check_existing(index: Index, creation: CreationOptions) -> None:
    spec = index.manifest.encoder
    for option, given, recorded in (
        ("--precision", creation.precision, spec.precision),
        ("--engine", creation.engine, spec.engine),
    ):
        if given and given != recorded:
            raise OptionConflict(
                f"{option} {given}: the index at {index.path} encodes with {spec.engine}"
                f" {spec.precision}; the engine and precision are chosen when an index is"
                " created"
            )
    if (
        creation.index_type
        or creation.compress
        or creation.query_prompt is not None
        or creation.document_prompt is not None
    ):
        raise OptionConflict(
            "--index-type, --compress and the prompts apply when an index is created (a new"
            " prompt means new vectors: build a new index); change the index type of an"
            " existing one with: sisearch rebuild --index-type TYPE [--compress]"
        )


def add_path(
    index: Index,
    path: str,
    documents: Iterator[Document],
    report: ReadReport,
    sync: bool = False,
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
) -> AddResult:
    """Add the passages read from `path`; with `sync`, make the index match it (a file's
    source, or a folder's files: deleted and emptied ones lose their passages)."""
    if not sync:
        return index.add(documents, batch_size=batch_size, progress=progress)
    folder = Path(path).is_dir()
    return index.sync(
        documents,
        None if folder else source_name(path),
        batch_size=batch_size,
        progress=progress,
        folder=path if folder else None,
        report=report,
    )


__all__ = [
    "CorpusPaths",
    "CreationOptions",
    "add_path",
    "keeps_passages",
    "open_or_create",
]
