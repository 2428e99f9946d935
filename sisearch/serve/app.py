"""The FastAPI application: the JSON API, the search page and their limits.

Search and write handlers are plain `def`s, so Starlette runs them in its thread pool
and the event loop never waits on encoding, FAISS or SQLite. Every error is JSON
`{"error": "one line"}` with a status that says whose fault it was.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..corpus import Document
from ..errors import SisearchError
from .limits import MAX_BATCH, MAX_BODY_BYTES, MAX_DOCUMENTS, MAX_K, MAX_QUERY_CHARS, status_of
from .page import render_page
from .registry import IndexRegistry

API_SOURCE = "api"
STATIC = Path(__file__).parent / "static"
Mode = Literal["hybrid", "dense", "lexical"]
Romanized = Literal["auto", "on", "off"]
log = logging.getLogger("sisearch.serve")


@dataclass(frozen=True)
class Settings:
    """How a server runs: where its indexes are, who may write, who may call it from a page."""

    index_dir: Path = Path("indexes")
    token: str | None = None
    read_only: bool = False
    cors_origins: tuple[str, ...] = field(default_factory=tuple)

    @property
    def writable(self) -> bool:
        return bool(self.token) and not self.read_only

    @classmethod
    def from_environment(cls) -> Settings:
        """Settings passed to worker processes (uvicorn --workers starts them fresh)."""
        origins = os.environ.get("SISEARCH_CORS_ORIGINS", "")
        return cls(
            index_dir=Path(os.environ.get("SISEARCH_INDEX_DIR", "indexes")),
            token=os.environ.get("SISEARCH_TOKEN") or None,
            read_only=os.environ.get("SISEARCH_READ_ONLY") == "1",
            cors_origins=tuple(o for o in origins.split(",") if o),
        )


class ApiError(Exception):
    """An error answered as {"error": message} with `status`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class SearchBody(BaseModel):
    queries: list[str] = Field(min_length=1, max_length=MAX_BATCH)
    k: int = Field(10, ge=1, le=MAX_K)
    mode: Mode = "hybrid"
    where: str | None = None
    romanized: Romanized = "auto"


class NewDocument(BaseModel):
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: str = API_SOURCE


class DocumentsBody(BaseModel):
    documents: list[NewDocument] = Field(min_length=1, max_length=MAX_DOCUMENTS)


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413, by Content-Length or as they stream."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(self.limit)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise ApiError(413, f"the request body is over {self.limit} bytes")
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"error": f"the request body is over {limit} bytes"}, status_code=413)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application for `settings` (by default from the environment, for workers)."""
    settings = settings or Settings.from_environment()
    registry = IndexRegistry(settings.index_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        registry.close()

    app = FastAPI(
        lifespan=lifespan,
        title="sisearch",
        version=__version__,
        description="Semantic and keyword search over Sinhala text. Writes need"
        " `Authorization: Bearer <token>`; without a token the server is read-only.",
    )
    app.state.registry = registry
    app.state.settings = settings
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_error_handlers(app)

    def require_writer(request: Request) -> None:
        if not settings.writable:
            reason = "started with --read-only" if settings.read_only else "started without --token"
            raise ApiError(403, f"this server is read-only ({reason}); writes are refused")
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise ApiError(
                401,
                "this request needs Authorization: Bearer <token>",
                {"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(given.encode(), str(settings.token).encode()):
            raise ApiError(403, "the token is not valid")

    @app.get("/healthz", tags=["server"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "writable": settings.writable}

    @app.get("/api/indexes", tags=["indexes"])
    def list_indexes() -> dict[str, Any]:
        """Every index in the server's index directory, with its counts and model."""
        rows = []
        for name in registry.names():
            info = registry.get(name).info()
            rows.append({"name": name, **_summary(info)})
        return {"indexes": rows}

    @app.get("/api/indexes/{name}", tags=["indexes"])
    def index_info(name: str) -> dict[str, Any]:
        """The same object as `sisearch info --json`."""
        return registry.get(name).info()

    @app.get("/api/indexes/{name}/search", tags=["search"])
    def search(
        name: str,
        q: Annotated[str, Query(description="The query, in Sinhala (or any text).")],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
        mode: Mode = "hybrid",
        where: Annotated[str | None, Query(description="e.g. topic = 'health'")] = None,
        romanized: Romanized = "auto",
    ) -> JSONResponse:
        """The k best passages for q; each hit as in `sisearch query --json`."""
        _check_query(q)
        (hits,) = registry.search(name, [q], k, mode, where, romanized)
        # Hits are plain JSON already: answered as they are, skipping FastAPI's re-encoding.
        return JSONResponse({"query": q, "hits": [hit.to_dict() for hit in hits]})

    @app.post("/api/indexes/{name}/search", tags=["search"])
    def search_many(name: str, body: SearchBody) -> JSONResponse:
        """Several queries in one encoder batch."""
        for query in body.queries:
            _check_query(query)
        results = registry.search(name, body.queries, body.k, body.mode, body.where, body.romanized)
        return JSONResponse(
            {
                "results": [
                    {"query": query, "hits": [hit.to_dict() for hit in hits]}
                    for query, hits in zip(body.queries, results)
                ]
            }
        )

    @app.post(
        "/api/indexes/{name}/documents",
        tags=["documents"],
        dependencies=[Depends(require_writer)],
    )
    def add_documents(name: str, body: DocumentsBody) -> dict[str, Any]:
        """Add passages (needs the token). Passages already there are skipped."""
        documents = [Document(d.text, source=d.source, metadata=d.metadata) for d in body.documents]
        with registry.writer(name) as index:
            result = index.add(documents)
            total = index.store.document_count()
        return {
            "added": result.documents_added,
            "skipped": result.documents_skipped,
            "chunks_encoded": result.chunks_encoded,
            "repaired": result.repaired,
            "documents": total,
            "notes": result.notes,
        }

    @app.delete(
        "/api/indexes/{name}/documents/{doc_id}",
        tags=["documents"],
        dependencies=[Depends(require_writer)],
    )
    def delete_document(name: str, doc_id: int) -> dict[str, Any]:
        """Delete one document and its vectors (needs the token)."""
        with registry.writer(name) as index:
            return {"deleted": index.delete([doc_id])}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(
        request: Request,
        index: str | None = None,
        q: str = "",
        k: str = "10",
        mode: str = "hybrid",
        where: str = "",
    ) -> Response:
        return render_page(request, registry, index, q, k, mode, where)

    return app


def _check_query(query: str) -> None:
    if len(query) > MAX_QUERY_CHARS:
        raise ApiError(413, f"the query is over {MAX_QUERY_CHARS} characters")


def _summary(info: dict[str, Any]) -> dict[str, Any]:
    keys = ("documents", "chunks", "model", "normalization", "vectors_kind", "created")
    return {key: info[key] for key in keys}


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"error": error.message}, error.status, headers=error.headers)

    @app.exception_handler(SisearchError)
    async def library_error(request: Request, error: SisearchError) -> JSONResponse:
        status = status_of(error)
        if status == 500:
            log.error("%s: %s", type(error).__name__, error)
        return JSONResponse({"error": str(error)}, status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"error": f"internal error ({type(error).__name__})"}, 500)
