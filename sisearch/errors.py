"""Typed errors raised by the library; the CLI turns each into one line on stderr."""

from __future__ import annotations


class SisearchError(Exception):
    """Base class of every error sisearch raises on purpose."""


class CorpusError(SisearchError):
    """A corpus file cannot be read as the passages it claims to hold."""


class EmptyCorpus(CorpusError):
    """The corpus has no non-blank passages."""


class DocumentError(CorpusError):
    """A document file (PDF, DOCX, HTML, ...) is corrupt, encrypted or holds no text."""


class IndexNotFound(SisearchError):
    """No index exists at the given path."""


class IndexExists(SisearchError):
    """An index already exists where a new one was to be created."""


class IndexCorrupt(SisearchError):
    """The index's files exist but cannot be read."""


class InvalidIndexName(SisearchError):
    """An index name is not a plain name (empty, too long, a path, odd characters)."""


class IndexBusy(SisearchError):
    """Another process is writing to the index."""


class IndexReadOnly(SisearchError):
    """The index's folder cannot be written here (a read-only share); it can still be searched."""


class EncodeFailed(SisearchError):
    """A `sisearch encode` Ray job failed for a reason of Ray's (a worker lost, shards
    written where the driver cannot see them)."""


class MissingExtra(SisearchError):
    """An optional dependency (Ray, pyarrow) is not installed; the message says how to get it."""


class ModelLoadError(SisearchError):
    """The encoder could not be loaded."""


class ModelMismatch(SisearchError):
    """The encoder given is not the one the index was built with."""


class DocumentNotFound(SisearchError):
    """No document matches what was asked for (a delete by id or source)."""


class OutputExists(SisearchError):
    """The folder a trained model would be written to already exists."""


class OptionConflict(SisearchError):
    """Options that cannot go together, or that apply only when an index is created."""


class CannotListen(SisearchError):
    """The server cannot listen on the address and port asked for."""


class InvalidQuery(SisearchError):
    """A search request is malformed (empty query, limit below 1, ...)."""
