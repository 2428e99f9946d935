"""sisearch: semantic search for Sinhala text.

from sisearch import Index
index = Index.create("indexes/news", model="path/or/hub-id")
index.add(["...", "..."])
hits = index.search("...", limit=5)
"""

from .documents import ReadOptions, ReadReport, read_path
from .documents.corpus import Document, read_corpus
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
from .index import AddResult, Hit, Index
from .language.text import normalize
from .names import index_location

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
