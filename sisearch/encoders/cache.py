"""Where sisearch keeps what it builds once per machine: encoder exports and installed models."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "SISEARCH_CACHE_DIR"
_OFF = ("", "off", "0", "none")


def cache_root() -> Path | None:
    """`$SISEARCH_CACHE_DIR`, else `$XDG_CACHE_HOME/sisearch`, else `~/.cache/sisearch`;
    None when `$SISEARCH_CACHE_DIR` turns caching off."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None and configured.strip().lower() in _OFF:
        return None
    return Path(configured) if configured is not None else default_root()


def default_root() -> Path:
    """The cache folder when `$SISEARCH_CACHE_DIR` does not name one."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sisearch"
