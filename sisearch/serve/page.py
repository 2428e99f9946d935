"""The search page: rendered on the server (it works without JavaScript), Sinhala first."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..documents.files import READERS
from ..errors import SisearchError
from ..hit_view import view_of, words_to_mark
from ..index import MODES
from .limits import MAX_K, MAX_QUERY_CHARS, status_of
from .registry import IndexRegistry

TEMPLATES = Path(__file__).parent / "templates"
PAGE_K = (5, 10, 20, 50)
PAGE_SNIPPET_CHARS = 400  # a phone screen's worth of a long passage
MODE_LABELS = {
    "hybrid": ("මිශ්‍ර", "hybrid"),
    "dense": ("අර්ථය", "meaning"),
    "lexical": ("වචන", "keywords"),
}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(
    request: Request,
    registry: IndexRegistry,
    index: str | None,
    q: str,
    k: str,
    mode: str,
    where: str,
    writable: bool = False,
) -> HTMLResponse:
    """The page; `writable` (the server has a token) adds the form that sends files, which
    asks for the token and sends it in a header, never in a URL."""
    names = registry.names()
    chosen = index or ("default" if "default" in names else (names[0] if names else ""))
    context: dict[str, Any] = {
        "names": names,
        "index": chosen,
        "q": q,
        "k": k,
        "mode": mode,
        "where": where,
        "modes": [(m, *MODE_LABELS[m]) for m in MODES],
        "page_k": PAGE_K,
        "hits": None,
        "error": None,
        "share": "",
        "searched": None,
        "writable": writable,
        "accept": ",".join(sorted(READERS)),
    }
    status = 200
    if q.strip():
        try:
            limit = int(k) if k.strip().isdigit() else -1
            if not 1 <= limit <= MAX_K:
                raise ValueError(f"k must be a whole number from 1 to {MAX_K}")
            if mode not in MODES:
                raise ValueError(f"mode must be one of {', '.join(MODES)}")
            if len(q) > MAX_QUERY_CHARS:
                raise ValueError(f"the query is over {MAX_QUERY_CHARS} characters")
            (hits,) = registry.search(chosen, [q], limit, mode, where)
            searched = next((h.transliteration for h in hits if h.transliteration), None)
            context["searched"] = searched
            words = words_to_mark(q, searched)
            context["hits"] = [view_of(h, words, PAGE_SNIPPET_CHARS) for h in hits]
            params = {"index": chosen, "q": q, "k": limit, "mode": mode}
            context["share"] = "/?" + urlencode({**params, **({"where": where} if where else {})})
        except SisearchError as e:
            context["error"], status = str(e), status_of(e)
        except ValueError as e:
            context["error"], status = str(e), 400
    html = _environment().get_template("search.html").render(**context)
    return HTMLResponse(html, status_code=status)
