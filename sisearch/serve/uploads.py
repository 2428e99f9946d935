"""Files sent over HTTP (`POST /api/indexes/{name}/files`) read and added as `sisearch
index` reads and adds them, their progress told as events.

Each file is saved under a temporary folder that is removed however the job ends, read
by the reader its extension names (with the request's `ocr`, `legacy_font` and `split`),
and added to the index; a file that cannot be read is reported and skipped, the others
are added. A job runs on the server's upload thread, never on the threads that answer
searches, and tells what it does as it goes: `received`, a `page` for each page OCR
reads, a `file` for each file (what was added, or why it was skipped) and `done`.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..documents import ReadOptions, ReadReport
from ..documents.files import reader_of
from ..documents.ocr import pages_reported_to
from ..documents.reading import read_or_report
from ..errors import SisearchError
from .registry import IndexRegistry

Event = dict[str, Any]
MAX_NAME_CHARS = 120
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


@dataclass(frozen=True)
class UploadedFile:
    """A file as the client sent it: its name (as given) and its bytes."""

    name: str
    data: bytes


def safe_file_name(name: str, taken: set[str]) -> str:
    """A name to save an upload under and to record as its passages' source: the last
    part of what the client sent, without control or path characters, at most
    MAX_NAME_CHARS, made unique among `taken` (which it joins)."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" ._") or "file"
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = f".{suffix[:16]}" if suffix else ""
    stem = stem[: MAX_NAME_CHARS - len(suffix)] or "file"
    candidate, number = f"{stem}{suffix}", 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{stem}-{number}{suffix}"
    taken.add(candidate.lower())
    return candidate


def add_files(
    registry: IndexRegistry,
    index_name: str,
    files: list[UploadedFile],
    options: ReadOptions,
    tell: Callable[[Event], None],
) -> Event:
    """Read and add `files` to index `index_name`, telling each event to `tell`; the
    `done` event (also returned) sums them up."""
    taken: set[str] = set()
    names = [safe_file_name(file.name, taken) for file in files]
    tell({"event": "received", "files": names})
    results = []
    with tempfile.TemporaryDirectory(prefix="sisearch-upload-") as folder:
        for name, file in zip(names, files):
            path = Path(folder) / name
            path.write_bytes(file.data)
            results.append(_add_one(registry, index_name, path, name, options, tell))
            path.unlink()
    done = {
        "event": "done",
        "added": sum(r.get("added", 0) for r in results),
        "skipped_files": sum("error" in r for r in results),
        "files": results,
    }
    tell(done)
    return done


def _add_one(
    registry: IndexRegistry,
    index_name: str,
    path: Path,
    name: str,
    options: ReadOptions,
    tell: Callable[[Event], None],
) -> Event:
    def page_read(label: str, page: int, pages: int) -> None:
        tell({"event": "page", "file": name, "page": page, "pages": pages})

    if reader_of(name) is None:
        result: Event = {"file": name, "error": f"{name}: not a type sisearch reads"}
    else:
        report = ReadReport()
        with pages_reported_to(page_read):
            documents = [
                replace(document, source=name)
                for document in read_or_report(path, options, report, label=name)
            ]
        if report.failed:
            result = {"file": name, "error": report.failed[0]}
        elif not documents:
            result = {"file": name, "error": f"{name}: no text"}
        else:
            result = _write(registry, index_name, name, documents, report)
    tell({"event": "file", **result})
    return result


def _write(
    registry: IndexRegistry,
    index_name: str,
    name: str,
    documents: list[Any],
    report: ReadReport,
) -> Event:
    try:
        with registry.writer(index_name) as index:
            added = index.add(documents, atomic=True)
    except SisearchError as e:
        return {"file": name, "error": f"{name}: {' '.join(str(e).split())}"}
    result: Event = {
        "file": name,
        "passages": added.passages,
        "added": added.documents_added,
        "skipped": added.documents_skipped,
    }
    if report.ocr_pages:
        result["ocr_pages"] = report.ocr_pages
    if report.legacy_passages:
        result["legacy_passages"] = report.legacy_passages
    return result
