"""What a request must pass before the application reads it: its URL's length, the token of
a write (checked before its body is read), the body's size and how long it takes to arrive.

Each refusal is the JSON error the rest of the API gives. The body is read here, whole
(at most MAX_BODY_BYTES, or the upload limit for files sent to an index), and handed on:
an over-long body streamed without a Content-Length is a 413, not a parse error, and a
client that declares more than it sends is cut off after `body_timeout` seconds without a
byte (408).
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Callable

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .limits import MAX_BODY_BYTES, MAX_UPLOAD_BYTES, MAX_URL_CHARS

_WRITE_PATH = re.compile(r"^/api/indexes/[^/]+/(?:documents(?:/[^/]*)?|files)/?$")
_UPLOAD_PATH = re.compile(r"^/api/indexes/[^/]+/files/?$")
_WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class Refusal(Exception):
    """A request refused with `status` and {"error": message}."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.message}, self.status, headers=self.headers)


def write_refusal(token: str | None, read_only: bool, authorization: str) -> Refusal | None:
    """Why a write with this Authorization header is refused, or None when it may go on."""
    if read_only or not token:
        reason = "started with --read-only" if read_only else "started without --token"
        return Refusal(403, f"this server is read-only ({reason}); writes are refused")
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return Refusal(
            401, "this request needs Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
        )
    if not hmac.compare_digest(given.encode(), token.encode()):
        return Refusal(403, "the token is not valid")
    return None


def is_write(method: str, path: str) -> bool:
    return method in _WRITE_METHODS and bool(_WRITE_PATH.match(path))


class RequestGate:
    """ASGI middleware in front of the application; see the module's docstring."""

    def __init__(
        self,
        app: ASGIApp,
        refuse_write: Callable[[str], Refusal | None],
        body_timeout: float = 10.0,
        limit: int = MAX_BODY_BYTES,
        upload_limit: int = MAX_UPLOAD_BYTES,
    ) -> None:
        self.app = app
        self.refuse_write = refuse_write
        self.body_timeout = body_timeout
        self.limit = limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            replay = await self._checked(scope, receive)
        except Refusal as refusal:
            await refusal.response()(scope, receive, send)
            return
        await self.app(scope, replay, send)

    async def _checked(self, scope: Scope, receive: Receive) -> Receive:
        """The request's receive channel with its body already read, or a Refusal."""
        url_chars = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if url_chars > MAX_URL_CHARS:
            raise Refusal(414, f"the URL is over {MAX_URL_CHARS} characters")
        headers = {k.lower(): v for k, v in scope["headers"]}
        if is_write(scope["method"], scope["path"]):
            refusal = self.refuse_write(headers.get(b"authorization", b"").decode("latin-1"))
            if refusal is not None:
                raise refusal
        limit = self.upload_limit if _UPLOAD_PATH.match(scope["path"]) else self.limit
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return receive
        body = await self._body(receive, limit)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    async def _body(self, receive: Receive, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
                raise Refusal(
                    408, f"the request body did not arrive within {self.body_timeout:g} s"
                ) from None
            if message["type"] == "http.disconnect":
                raise Refusal(400, "the client went away before sending its body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)


def _too_large(limit: int) -> Refusal:
    return Refusal(413, f"the request body is over {limit} bytes")
