"""sisearch: semantic search for Sinhala text.

from sisearch import Index
index = Index.create("indexes/news", model="path/or/hub-id")
index.add(["...", "..."])
hits = index.search("...", limit=5)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    CorpusError,
    DocumentNotFound,
    EmptyCorpus,
    IndexBusy,
    IndexCorrupt,
    IndexExists,
    IndexNotFound,
    IndexReadOnly,
    InvalidIndexName,
    InvalidQuery,
    ModelLoadError,
    ModelMismatch,
    OutputExists,
    SisearchError,
)

if TYPE_CHECKING:
    from .core.writer import AddResult
    from .documents import ReadOptions, ReadReport, read_path
    from .documents.corpus import Document, read_corpus
    from .index import Hit, Index
    from .language.text import normalize
    from .names import index_location

# Where each public name lives: imported on first use, so `sisearch query` (which needs
# the index but no document reader) does not pay for the whole package at start-up.
_EXPORTS = {
    "AddResult": ".core.writer",
    "ReadOptions": ".documents",
    "ReadReport": ".documents",
    "read_path": ".documents",
    "Document": ".documents.corpus",
    "read_corpus": ".documents.corpus",
    "Hit": ".index",
    "Index": ".index",
    "normalize": ".language.text",
    "index_location": ".names",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "AddResult",
    "CorpusError",
    "Document",
    "DocumentNotFound",
    "EmptyCorpus",
    "Hit",
    "Index",
    "IndexBusy",
    "IndexCorrupt",
    "IndexExists",
    "IndexNotFound",
    "IndexReadOnly",
    "InvalidIndexName",
    "InvalidQuery",
    "ModelLoadError",
    "ModelMismatch",
    "OutputExists",
    "ReadOptions",
    "ReadReport",
    "SisearchError",
    "__version__",
    "index_location",
    "normalize",
    "read_corpus",
    "read_path",
]
