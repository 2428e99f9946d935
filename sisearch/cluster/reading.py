"""Reading a corpus on Ray's workers, for `sisearch encode`.

The driver only lists files: local paths (walked with the same hidden-file, `--glob` and
`--exclude` rules as `sisearch index`) or URIs of a file system pyarrow knows (s3://,
gs://, hdfs://, file://). `ray.data.read_binary_files` fetches them on the workers, where
each is parsed by sisearch's own reader for its extension, so the driver's speed does not
bound a cluster. A file that cannot be read is named in the report and skipped, as in a
folder; a batch job over many files should not fail for one corrupt PDF.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..documents.corpus import STDIN, Document
from ..documents.files import Walk, hidden, walk_folder
from ..documents.reading import ReadOptions, ReadReport, read_or_report
from ..errors import CorpusError

ROWS_PER_BATCH = 512


@dataclass
class CorpusListing:
    """The files to read, on one file system, and what the listing left out."""

    paths: list[str] = field(default_factory=list)  # as the file system names them
    filesystem: Any = None  # a pyarrow FileSystem for URIs; None: the local disk
    prefix: str = ""  # put before a path to make its source ("s3://")
    walk: Walk = field(default_factory=Walk)


def list_corpus(inputs: Sequence[str], options: ReadOptions) -> CorpusListing:
    """The files `inputs` name (local paths, or URIs of one file system)."""
    uris = [i for i in inputs if "://" in i]
    if uris and len(uris) != len(inputs):
        raise CorpusError("give local paths or URIs (s3://...), not both, to one encode")
    if STDIN in inputs:
        raise CorpusError("encode reads files, not stdin: save it to a file first")
    return _list_uris(uris, options) if uris else _list_local(inputs, options)


def _list_local(inputs: Sequence[str], options: ReadOptions) -> CorpusListing:
    listing = CorpusListing()
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            walk = walk_folder(path, options.globs, options.excludes, images=options.ocr != "never")
            listing.paths += [os.path.realpath(f) for f in walk.files]
            listing.walk.unknown.update(walk.unknown)
            listing.walk.excluded += walk.excluded
            listing.walk.images_left += walk.images_left
        elif path.is_file():
            listing.paths.append(os.path.realpath(path))
        else:
            raise CorpusError(f"{name}: no such file or folder")
    return listing


def _list_uris(uris: Sequence[str], options: ReadOptions) -> CorpusListing:
    from pyarrow import fs

    listing = CorpusListing(walk=Walk(images=options.ocr != "never"))
    for uri in uris:
        filesystem, root = filesystem_of(uri)
        try:
            info = filesystem.get_file_info(root)
        except OSError as e:
            raise CorpusError(f"{uri}: {' '.join(str(e).split())}") from None
        if listing.filesystem is not None and filesystem.type_name != listing.filesystem.type_name:
            raise CorpusError("the URIs given to one encode must share a file system")
        listing.filesystem = filesystem
        listing.prefix = uri.split("://", 1)[0] + "://"
        if info.type == fs.FileType.File:
            listing.paths.append(root)
        elif info.type == fs.FileType.Directory:
            selector = fs.FileSelector(root, recursive=True)
            for entry in sorted(filesystem.get_file_info(selector), key=lambda e: e.path):
                relative = entry.path[len(root) :].lstrip("/")
                readable = entry.type == fs.FileType.File and not hidden(relative)
                if readable and listing.walk.admit(relative, options.globs, options.excludes):
                    listing.paths.append(entry.path)
        else:
            raise CorpusError(f"{uri}: no such file or folder")
    return listing


class JobLog:
    """A Ray actor the workers report to: what the readers found, so the driver prints
    one report, and how many chunks the encoders made, so it can check the shards."""

    def __init__(self) -> None:
        self.report = ReadReport()
        self.chunks = 0

    def add(self, part: ReadReport) -> None:
        self.report.merge(part)

    def encoded(self, chunks: int) -> None:
        self.chunks += chunks

    def result(self) -> tuple[ReadReport, int]:
        return self.report, self.chunks


def read_fetched(
    batch: dict[str, Any], options: ReadOptions, prefix: str, log: Any
) -> Iterator[dict[str, list[Any]]]:
    """`map_batches` function: the passages of fetched files (`path`, `bytes` columns), as
    rows of `ROWS_PER_BATCH` with source, line, metadata and origin (JSON) and text."""
    import ray

    report = ReadReport()
    rows: dict[str, list[Any]] = _empty_rows()
    for path, data in zip(batch["path"], batch["bytes"], strict=True):
        for document in _documents_of(prefix + str(path), bytes(data), options, report):
            rows["source"].append(document.source)
            rows["line"].append(-1 if document.line is None else document.line)
            rows["metadata"].append(json.dumps(document.metadata, ensure_ascii=False))
            rows["origin"].append(json.dumps(document.origin, ensure_ascii=False))
            rows["text"].append(document.text)
            if len(rows["text"]) == ROWS_PER_BATCH:
                yield rows
                rows = _empty_rows()
    if rows["text"]:
        yield rows
    ray.get(log.add.remote(report))  # before the task ends, so the driver sees all of it


def _empty_rows() -> dict[str, list[Any]]:
    return {"source": [], "line": [], "metadata": [], "origin": [], "text": []}


def _documents_of(
    location: str, data: bytes, options: ReadOptions, report: ReadReport
) -> list[Document]:
    """The passages of one fetched file, read by sisearch's reader for its extension from
    a private copy; `source` is the file's location, as `sisearch index` would record it."""
    with tempfile.TemporaryDirectory(prefix="sisearch-read-") as folder:
        copy = Path(folder) / (Path(location).name or "corpus")
        copy.write_bytes(data)
        return [
            replace(d, source=location) for d in read_or_report(copy, options, report, location)
        ]


def filesystem_of(uri: str) -> tuple[Any, str]:
    """The pyarrow file system of a URI and the path in it; a bad URI is a CorpusError."""
    from pyarrow import fs

    try:
        return fs.FileSystem.from_uri(uri)
    except (OSError, ValueError) as e:
        raise CorpusError(f"{uri}: {' '.join(str(e).split())}") from None
