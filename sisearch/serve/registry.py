"""One warm `Index` per index name per process, opened on first use, shared by all requests."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import IndexNotFound
from ..index import Hit, Index
from ..names import index_folders, index_location


class IndexRegistry:
    """Indexes of one folder by name. Searches share one open `Index` per name (it notices
    other processes' writes by the store's generation); each write opens its own `Index`,
    sharing the warm encoder, so a reader's in-memory vectors are never changed under it."""

    def __init__(self, index_dir: str | Path) -> None:
        self.index_dir = Path(index_dir)
        self._open: dict[str, Index] = {}
        self._lock = threading.Lock()
        # Searches at once: overlapping encodes queue for the encoder's one-thread sessions
        # (one a core), so more searches than cores only let the SQLite and fusion work of
        # some run beside the encoding of others: with one search a core, a server at 16
        # clients answered fewer queries a second than one in-process thread; with four a
        # core, more (bench/serve.py). Beyond this, requests wait here.
        self._searching = threading.BoundedSemaphore(4 * (os.cpu_count() or 1))

    def names(self) -> list[str]:
        return [folder.name for folder in index_folders(self.index_dir)]

    def get(self, name: str) -> Index:
        """The open index `name`; InvalidIndexName or IndexNotFound (one line) otherwise."""
        location = index_location(self.index_dir, name)
        with self._lock:
            index = self._open.get(name)
            if index is None:
                if not Index.exists(location):
                    raise IndexNotFound(f"No index named {name!r}")
                index = self._open[name] = Index.open(location)
                threading.Thread(target=_prepare, args=(index,), daemon=True).start()
            return index

    def search(
        self,
        name: str,
        queries: list[str],
        k: int,
        mode: str,
        where: str | None,
        romanized: str = "auto",
    ) -> list[list[Hit]]:
        """Search index `name` as `sisearch query --json` does (lexical mode gives no
        cosine, as there), waiting while every core is busy with another search."""
        index = self.get(name)
        with self._searching:
            return index.search_many(
                queries,
                k,
                mode=mode,
                where=where or None,
                cosine=mode != "lexical",
                romanized=romanized,
            )

    @contextmanager
    def writer(self, name: str) -> Iterator[Index]:
        """A fresh `Index` for one write, lent the reader's encoder (loaded once, owned and
        closed by the registry alone: searches keep using it during and after the write)."""
        reader = self.get(name)
        writer = Index.open(reader.path, borrow_encoder=reader.encoder)
        try:
            yield writer
        finally:
            writer.close()

    def close(self) -> None:
        with self._lock:
            for index in self._open.values():
                index.close()
            self._open.clear()


def _prepare(index: Index) -> None:
    """Load what many queries need and one query does without (e5-small's whole tokenizer,
    0.8 s), off the request threads: queries answered meanwhile do without it. A failure
    here is left for the first query to report."""
    try:
        index.encoder.prepare_for_serving()
    except Exception:  # the first query that needs the encoder reports it
        return
