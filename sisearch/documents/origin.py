"""What document readers record about a passage (its `origin`), apart from user metadata.

Indexes written before schema 3 kept these fields in `metadata`; `split_origin` is the
rule that separates them again, used by the migration and to read an old index as it is.
"""

from __future__ import annotations

from typing import Any

from .corpus import STDIN_SOURCE

ORIGIN_FIELDS = ("page", "title", "heading", "legacy_font", "repaired_words")
# Readers whose records carry the user's own fields: whatever they hold is the user's.
_FIELD_READERS = {"jsonl", "csv", "tsv"}


def split_origin(source: str, metadata: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(user metadata, origin) of an old-schema document: the reader fields move to origin
    when the source is a file no user field can come from (text, Markdown, HTML, PDF,
    DOCX, stdin); a CSV/JSONL row's or an API document's fields all stay the user's."""
    from .files import reader_of  # the readers' table: only an old index's reads need it

    kind = "txt" if source == STDIN_SOURCE else reader_of(source)
    if kind is None or kind in _FIELD_READERS:
        return metadata, {}
    origin = {key: metadata[key] for key in ORIGIN_FIELDS if key in metadata}
    if not origin:
        return metadata, {}
    return {k: v for k, v in metadata.items() if k not in origin}, origin
