"""Index names: what a user (or an HTTP request) may call an index, and where it lives.

A name is one folder inside the index directory, never a path: letters (Latin or
Sinhala), digits, `-`, `_` and `.`, not starting with `.` or a mark, at most
MAX_NAME_LENGTH characters. Every command and the HTTP server go through
`index_location`, so no name can reach outside the index directory.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from .core.manifest import MANIFEST_FILE
from .errors import InvalidIndexName

MAX_NAME_LENGTH = 64
_SINHALA_LETTER = "\u0d85-\u0d96\u0d9a-\u0dc6"
_SINHALA_ANY = "\u0d80-\u0dff\u200d"
_NAME = re.compile(f"[A-Za-z0-9{_SINHALA_LETTER}][A-Za-z0-9_.\\-{_SINHALA_ANY}]*")


def validate_index_name(name: str) -> str:
    """The name in NFC if it is a valid index name; InvalidIndexName (one line) otherwise."""
    normalized = unicodedata.normalize("NFC", name)
    if not normalized:
        raise InvalidIndexName("An index name cannot be empty")
    if len(normalized) > MAX_NAME_LENGTH:
        raise InvalidIndexName(
            f"Index name {normalized[:20]!r}... is {len(normalized)} characters long; the limit"
            f" is {MAX_NAME_LENGTH}"
        )
    if not _NAME.fullmatch(normalized):
        raise InvalidIndexName(
            f"Invalid index name {normalized!r}: use letters, digits, '-', '_' and '.', starting"
            " with a letter or digit (a name, not a path)"
        )
    return normalized


def index_location(index_dir: str | os.PathLike[str], name: str) -> Path:
    """The folder of index `name` inside `index_dir`, after validating the name."""
    return Path(index_dir) / validate_index_name(name)


def index_folders(index_dir: str | os.PathLike[str]) -> list[Path]:
    """The indexes in `index_dir`, in name order: folders with a valid name and a manifest
    (what `sisearch list`, the server and its page all list)."""
    folder = Path(index_dir)
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if is_index_name(p.name) and (p / MANIFEST_FILE).exists()
    )


def is_index_name(name: str) -> bool:
    """Whether `name` is a valid index name (for listing folders)."""
    try:
        return validate_index_name(name) == name
    except InvalidIndexName:
        return False
