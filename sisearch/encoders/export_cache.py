"""Encoder exports kept once per model and precision, shared by every index of that model.

Exporting and quantizing the base-size model takes about 12 s; a second index of the
same model should start encoding at once. An export is keyed by the model's
fingerprint (its probe embedding identifies the weights, so a retrained folder of the
same name gets its own entry), the precision and the export format. Index folders get
hard links to the entry's files where the file system allows (no extra disk; a copied
index folder copies the files, so it stays usable elsewhere), else copies.

Entries are built in a temporary folder and renamed into place, under a lock file per
key, so two processes creating indexes of one model at once export it once. An entry
that fails to load is deleted and exported again. `$SISEARCH_CACHE_DIR` moves the cache
(default `$XDG_CACHE_HOME/sisearch`, else `~/.cache/sisearch`); `off` disables it.

Beside the entries folder, `sources/` keeps what creating an index of a model's unchanged files
decided (model_source.py): the entry, the fingerprint and the engine, so the next index
of those files takes them from here without loading the model.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from .cache import cache_root
from .encoder import ModelFingerprint

ENCODERS = "encoders"
SOURCES = "sources"
COMPLETE = "complete"


def entry_key(fingerprint: ModelFingerprint, precision: str, export_format: int) -> str:
    """The cache key of a model's export: what determines its bytes, not the model's name."""
    identity = fingerprint.to_dict()
    identity.pop("name")
    identity.update(precision=precision, format=export_format)
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()[:32]


class ExportCache:
    """The exports of one cache folder."""

    def __init__(self, root: Path) -> None:
        self.folder = root / ENCODERS
        self.sources = root / SOURCES

    @classmethod
    def default(cls) -> ExportCache | None:
        root = cache_root()
        return None if root is None else cls(root)

    def entry(self, key: str) -> Path:
        return self.folder / key

    def fetch(self, key: str, target: Path) -> bool:
        """Put the entry's files into `target` (links, else copies); False if there is none."""
        entry = self.entry(key)
        if not (entry / COMPLETE).exists():
            return False
        target.mkdir(parents=True, exist_ok=True)
        try:
            for file in entry.iterdir():
                if file.name != COMPLETE:
                    link_or_copy(file, target / file.name)
        except OSError:
            return False
        return True

    def store(self, key: str, source: Path) -> None:
        """Keep a copy (or links) of a freshly exported folder under `key`; best effort."""
        entry = self.entry(key)
        staging: Path | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.folder))
            for file in source.iterdir():
                if file.is_file():
                    link_or_copy(file, staging / file.name)
            (staging / COMPLETE).write_text("", encoding="utf-8")
            if entry.exists():
                shutil.rmtree(entry, ignore_errors=True)
            os.rename(staging, entry)
        except OSError:  # a read-only or full cache never stops an index from being built
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)

    def complete(self, key: str, folder: Path) -> None:
        """Give the entry the files `folder` (fetched from it) gained since, such as the
        compact tokenizer an export made before that file existed lacks; best effort."""
        entry = self.entry(key)
        try:
            for file in folder.iterdir():
                if file.is_file() and not (entry / file.name).exists():
                    link_or_copy(file, entry / file.name)
        except OSError:
            pass

    def recall(self, source: str) -> dict[str, Any] | None:
        """What was recorded for a model source key, None if nothing (or nothing readable)."""
        try:
            record = json.loads((self.sources / f"{source}.json").read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def remember(self, source: str, record: dict[str, Any]) -> None:
        """Record what creating an index from a model source decided; best effort, and
        atomic (a reader sees the old record or the new one)."""
        folder = self.sources
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, scratch = tempfile.mkstemp(prefix=f".{source}.", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(record, out)
            os.replace(scratch, folder / f"{source}.json")
        except OSError:
            with suppress(OSError, UnboundLocalError):
                os.unlink(scratch)

    def forget(self, source: str) -> None:
        with suppress(OSError):
            (self.sources / f"{source}.json").unlink()

    def discard(self, key: str) -> None:
        shutil.rmtree(self.entry(key), ignore_errors=True)

    @contextmanager
    def exporting(self, key: str) -> Iterator[None]:
        """Hold the key's lock while exporting, so a second process waits and then reuses
        the export instead of making its own (a cache that cannot be written is no lock)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows one, else a copy."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
            raise
        shutil.copy2(source, target)
