"""The files a corpus path names: itself, or every readable file under a folder.

Folders are walked recursively in name order; hidden files and folders (a leading dot)
are skipped, symbolic links to folders are not followed (no loops), and `--glob` /
`--exclude` patterns (fnmatch, matched against the path relative to the folder and
against the file name) choose among the rest.
"""

from __future__ import annotations

import fnmatch
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .images import IMAGE_SUFFIXES

# Reader of each extension a folder walk picks up.
READERS = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".odt": "odt",
    ".epub": "epub",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    **dict.fromkeys(IMAGE_SUFFIXES, "image"),
}


@dataclass
class Walk:
    """What a folder walk found: the files to read, and what it left and why."""

    files: list[Path] = field(default_factory=list)
    unknown: Counter[str] = field(default_factory=Counter)
    excluded: int = 0
    images: bool = True  # whether image files are read (they need OCR)
    images_left: int = 0

    def admit(self, relative: str, globs: Sequence[str], excludes: Sequence[str]) -> bool:
        """Whether the file at `relative` (a folder-relative POSIX path) is read; one left
        out is counted here, as excluded or of an unknown type. Shared by folder walks and
        by listings of remote folders (`sisearch encode s3://...`)."""
        name = relative.rsplit("/", 1)[-1]
        if (globs and not _matches(relative, name, globs)) or _matches(relative, name, excludes):
            self.excluded += 1
            return False
        kind = reader_of(name)
        if kind is None:
            self.unknown[Path(name).suffix.lower() or "(no extension)"] += 1
            return False
        if kind == "image" and not self.images:
            self.images_left += 1
            return False
        return True


def reader_of(path: str | os.PathLike[str]) -> str | None:
    """The reader for a file by its extension, None when no reader knows it."""
    return READERS.get(Path(path).suffix.lower())


def walk_folder(
    folder: Path, globs: Sequence[str] = (), excludes: Sequence[str] = (), images: bool = True
) -> Walk:
    """Every file under `folder` a reader knows, in a stable order; others counted by
    extension, and images counted apart where they are not read (`images` False: no OCR)."""
    walk = Walk(images=images)
    for path in _files_under(folder):
        if walk.admit(path.relative_to(folder).as_posix(), globs, excludes):
            walk.files.append(path)
    return walk


def hidden(relative: str) -> bool:
    """Whether a folder-relative path is hidden (any part starts with a dot)."""
    return any(part.startswith(".") for part in relative.split("/"))


def _files_under(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if not name.startswith(".") and path.is_file():
                yield path


def _matches(relative: str, name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(relative, p) or fnmatch.fnmatch(name, p) for p in patterns)
