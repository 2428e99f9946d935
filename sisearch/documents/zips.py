"""Limits on what a zipped document (DOCX, ODT, EPUB) may unzip to, checked before unzipping."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import DocumentError

MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
MAX_PARTS = 10_000


def check_zip(path: Path, label: str, what: str) -> None:
    """Refuse a file (`what`: "Word .docx") that is not a zip, or whose parts would unzip
    past the limits, before anything is unzipped (a part never yields more than the size
    its zip entry declares)."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise DocumentError(f"{label}: not a readable {what} file ({type(e).__name__})") from None
    unzipped = sum(part.file_size for part in parts)
    if len(parts) > MAX_PARTS or unzipped > MAX_UNZIPPED_BYTES:
        raise DocumentError(
            f"{label}: unzips to {unzipped / 2**20:.0f} MiB in {len(parts)} parts, past the"
            f" limits of {MAX_UNZIPPED_BYTES // 2**20} MiB and {MAX_PARTS} parts; not read"
        )
