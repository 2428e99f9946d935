"""The FastAPI application: the JSON API, the search page and their limits.

Search and write handlers are plain `def`s, so Starlette runs them in its thread pool
and the event loop never waits on encoding, FAISS or SQLite. Every error is JSON
`{"error": "one line"}` with a status that says whose fault it was.
"""

from __future__ import annotations

import json
import logging
import os
import queue
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException

from .. import __version__
from ..documents import ReadOptions
from ..documents.corpus import Document
from ..errors import SisearchError
from .gate import Refusal, RequestGate, write_refusal
from .limits import (
    BODY_TIMEOUT_S,
    MAX_BATCH,
    MAX_DOCUMENTS,
    MAX_K,
    MAX_QUERY_CHARS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_FIELDS,
    MAX_UPLOAD_FILES,
    status_of,
)
from .page import render_page
from .public import public_message, public_model_name
from .registry import IndexRegistry
from .uploads import UploadedFile, add_files

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
    body_timeout: float = BODY_TIMEOUT_S
    max_upload_bytes: int = MAX_UPLOAD_BYTES

    @property
    def writable(self) -> bool:
        return bool(self.token) and not self.read_only

    def to_environment(self) -> dict[str, str]:
        """The settings as the environment worker processes read them back from."""
        return {
            "SISEARCH_INDEX_DIR": str(self.index_dir),
            "SISEARCH_TOKEN": self.token or "",
            "SISEARCH_READ_ONLY": "1" if self.read_only else "0",
            "SISEARCH_CORS_ORIGINS": ",".join(self.cors_origins),
            "SISEARCH_BODY_TIMEOUT": str(self.body_timeout),
            "SISEARCH_MAX_UPLOAD_BYTES": str(self.max_upload_bytes),
        }

    @classmethod
    def from_environment(cls) -> Settings:
        """Settings passed to worker processes (uvicorn --workers starts them fresh)."""
        origins = os.environ.get("SISEARCH_CORS_ORIGINS", "")
        return cls(
            index_dir=Path(os.environ.get("SISEARCH_INDEX_DIR", "indexes")),
            token=os.environ.get("SISEARCH_TOKEN") or None,
            read_only=os.environ.get("SISEARCH_READ_ONLY") == "1",
            cors_origins=tuple(o for o in origins.split(",") if o),
            body_timeout=float(os.environ.get("SISEARCH_BODY_TIMEOUT") or BODY_TIMEOUT_S),
            max_upload_bytes=int(os.environ.get("SISEARCH_MAX_UPLOAD_BYTES") or MAX_UPLOAD_BYTES),
        )


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


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application for `settings` (by default from the environment, for workers)."""
    settings = settings or Settings.from_environment()
    registry = IndexRegistry(settings.index_dir)

    # Upload jobs run one at a time on a thread of their own, off the search threads.
    uploads = ThreadPoolExecutor(1, thread_name_prefix="sisearch-upload")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        uploads.shutdown(wait=True, cancel_futures=True)
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

    def refuse_write(authorization: str) -> Refusal | None:
        return write_refusal(settings.token, settings.read_only, authorization)

    app.add_middleware(
        RequestGate,
        refuse_write=refuse_write,
        body_timeout=settings.body_timeout,
        upload_limit=settings.max_upload_bytes,
    )
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_error_handlers(app, settings.index_dir)

    def require_writer(request: Request) -> None:
        """The gate has checked the token already; this keeps the rule in the API schema."""
        refusal = refuse_write(request.headers.get("authorization", ""))
        if refusal is not None:
            raise refusal

    @app.get("/healthz", tags=["server"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "writable": settings.writable}

    @app.get("/api/indexes", tags=["indexes"])
    def list_indexes() -> dict[str, Any]:
        """Every index in the server's index directory, with its counts and model."""
        rows = []
        for name in registry.names():
            info = registry.get(name).info()
            rows.append({"name": name, **_summary(info), "model": public_model_name(info["model"])})
        return {"indexes": rows}

    @app.get("/api/indexes/{name}", tags=["indexes"])
    def index_info(name: str) -> dict[str, Any]:
        """The object `sisearch info --json` gives, naming the index and model by name only
        (no folder of the server's disk)."""
        info = registry.get(name).info()
        del info["path"]
        return {"name": name, **info, "model": public_model_name(info["model"])}

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
            result = index.add(documents, atomic=True)
            total = index.store.document_count()
        return {
            "added": result.documents_added,
            "skipped": result.documents_skipped,
            "chunks_encoded": result.chunks_encoded,
            "repaired": result.repaired,
            "documents": total,
            "notes": result.notes,
        }

    @app.post(
        "/api/indexes/{name}/files",
        tags=["documents"],
        dependencies=[Depends(require_writer)],
        response_class=StreamingResponse,
        responses={200: {"content": {"application/x-ndjson": {}}}},
    )
    async def add_files_endpoint(name: str, request: Request) -> StreamingResponse:
        """Add document files (needs the token): multipart form data with one or more
        files (any field name) and, optionally, `ocr` (auto, the default here; always;
        never), `legacy_font` and `split`, as `sisearch index` takes them. The body may be
        up to `sisearch serve --max-upload-mb`. The answer streams one JSON object a line
        as the job goes: `received` (the names the files are saved and recorded under), a
        `page` for each page OCR reads, a `file` for each file (`added`, `skipped`,
        `passages`, or the `error` it was skipped for), then `done`. The job goes on if
        the client leaves; searches are answered meanwhile."""
        await run_in_threadpool(registry.get, name)  # a missing index is a 404 now
        form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=MAX_UPLOAD_FIELDS)
        try:
            files = [
                UploadedFile(value.filename or "file", await value.read())
                for _, value in form.multi_items()
                if isinstance(value, StarletteUpload)
            ]
            options = _upload_options(form)
        finally:
            await form.close()
        if not files:
            raise Refusal(400, "send one or more files as multipart/form-data")
        events: queue.Queue[dict[str, Any] | None] = queue.Queue()

        def job() -> None:
            try:
                add_files(registry, name, files, options, events.put)
            except Exception as e:  # told to the client as the stream's last event
                log.exception("upload to %s failed", name)
                message = str(e) if isinstance(e, SisearchError) else type(e).__name__
                error = public_message(message, settings.index_dir)
                events.put({"event": "error", "error": error})
            finally:
                events.put(None)

        uploads.submit(job)

        def lines() -> Iterator[str]:
            while (event := events.get()) is not None:
                if "error" in event:
                    event["error"] = public_message(event["error"], settings.index_dir)
                yield json.dumps(event, ensure_ascii=False) + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

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
        return render_page(request, registry, index, q, k, mode, where, settings.writable)

    return app


def _upload_options(form: Any) -> ReadOptions:
    """The reading options of an upload's form fields (a 400 for a value out of range)."""
    fields = {key: form.get(key) for key in ("ocr", "legacy_font", "split")}
    unknown = sorted(
        key for key, value in form.multi_items() if isinstance(value, str) and key not in fields
    )
    if unknown:
        raise Refusal(400, f"unknown form fields: {', '.join(unknown)} (ocr, legacy_font, split)")
    try:
        return ReadOptions(
            split=fields["split"] or "line",
            legacy_font=fields["legacy_font"] or None,
            ocr=fields["ocr"] or "auto",
        )
    except ValueError as e:
        raise Refusal(400, str(e)) from None


def _check_query(query: str) -> None:
    if len(query) > MAX_QUERY_CHARS:
        raise Refusal(413, f"the query is over {MAX_QUERY_CHARS} characters")


def _summary(info: dict[str, Any]) -> dict[str, Any]:
    keys = ("documents", "chunks", "model", "normalization", "vectors_kind", "created")
    return {key: info[key] for key in keys}


def _add_error_handlers(app: FastAPI, index_dir: Path) -> None:
    @app.exception_handler(Refusal)
    async def refused(request: Request, error: Refusal) -> JSONResponse:
        return error.response()

    @app.exception_handler(SisearchError)
    async def library_error(request: Request, error: SisearchError) -> JSONResponse:
        status = status_of(error)
        if status == 500:
            log.error("%s: %s", type(error).__name__, error)
        return JSONResponse({"error": public_message(str(error), index_dir)}, status)

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
