"""What the server tells clients about itself: index and model names, never a folder of its
disk or a process id (the CLI, run by the owner, keeps both)."""

from __future__ import annotations

import re
from pathlib import Path

_PID = re.compile(r" \(pid [^)]*\)")


def public_message(message: str, index_dir: Path) -> str:
    """A library error's message with the index folders named by index name, pids left out."""
    for folder in {str(index_dir.resolve()), str(index_dir)}:
        message = re.sub(re.escape(folder.rstrip("/")) + r"/([^\s/;:,]+)", r"\1", message)
    return _PID.sub("", message)


def public_model_name(model: str) -> str:
    """A hub id as it is; a local model folder by its last name only."""
    looks_local = model.startswith(("/", "~", ".")) or model.count("/") > 1 or Path(model).is_dir()
    return Path(model).name if looks_local else model
