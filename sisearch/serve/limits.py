"""What the server accepts, and which HTTP status each library error becomes."""

from __future__ import annotations

from ..errors import (
    CorpusError,
    DocumentNotFound,
    IndexBusy,
    IndexNotFound,
    IndexReadOnly,
    InvalidIndexName,
    InvalidQuery,
    SisearchError,
)

MAX_K = 100
MAX_QUERY_CHARS = 1000
MAX_BATCH = 64
MAX_DOCUMENTS = 1000
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # POST .../files: `sisearch serve --max-upload-mb`
MAX_UPLOAD_FILES = 20
MAX_UPLOAD_FIELDS = 10
MAX_URL_CHARS = 32 * 1024  # a 1,000-character Sinhala query is about 9 KB percent-encoded
BODY_TIMEOUT_S = 10.0
MAX_CONCURRENT_CONNECTIONS = 100
KEEP_ALIVE_S = 5

STATUS_OF: list[tuple[type[SisearchError], int]] = [
    (InvalidIndexName, 400),
    (IndexNotFound, 404),
    (DocumentNotFound, 404),
    (InvalidQuery, 400),
    (CorpusError, 400),
    (IndexBusy, 409),
    (IndexReadOnly, 403),
]


def status_of(error: SisearchError) -> int:
    """The status for a library error: the client's fault (4xx) or the server's (500)."""
    return next((status for kind, status in STATUS_OF if isinstance(error, kind)), 500)
