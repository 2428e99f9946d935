"""A model's files, identified without loading the model, so a second index can skip it.

Loading a SentenceTransformer imports PyTorch and reads the weights (11 s of a 15 s
second index with e5-small, measured here); its fingerprint then costs an encoding.
What an index records of its model (fingerprint, the engine chosen, the int8 check)
depends only on the model's files and the prompts and precision asked for, so it is
kept once per such `source_key` (export_cache.py) and reused while the files are
unchanged: same paths, sizes and modification times, and the same bytes in a few
blocks sampled from each file (every weight moves in training, so a retrained model
copied over the old one with its times kept still gets a new key; reading them costs
milliseconds).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

# Beyond this many files a folder is not a model folder; it is not worth walking.
MAX_FILES = 2000
SAMPLE_BYTES = 65536


def source_key(
    model: str,
    query_prompt: str | None,
    document_prompt: str | None,
    precision: str,
    export_format: int,
) -> str | None:
    """The key of what an index of `model` (resolved name: a folder or a hub id) would
    record, or None where its files cannot be found without loading it."""
    folder = model_folder(model)
    if folder is None:
        return None
    signature = folder_signature(folder)
    if signature is None:
        return None
    identity = {
        "model": model,
        "files": signature,
        "query_prompt": query_prompt,
        "document_prompt": document_prompt,
        "precision": precision,
        "format": export_format,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()[:32]


def model_folder(model: str) -> Path | None:
    """The local folder `model` loads from: the folder itself, or a hub id's snapshot in
    the Hugging Face cache (None where it is not cached)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model, "modules.json")
    except Exception:  # not a valid repo id, or no huggingface_hub
        return None
    return Path(found).parent if isinstance(found, str) else None


def folder_signature(folder: Path, times: bool = True) -> str | None:
    """A digest of every file's relative path, size, modification time (unless `times`
    is False: the same files copied elsewhere keep their digest) and sampled bytes (links
    followed, as the loader follows them); None for an unreadable or huge folder."""
    entries: list[tuple[str, int, int, str]] = []
    pending = [folder]
    try:
        while pending:
            for entry in os.scandir(pending.pop()):
                if entry.name == ".git":
                    continue
                if entry.is_dir():
                    pending.append(Path(entry.path))
                    continue
                stat = entry.stat()
                name = os.path.relpath(entry.path, folder)
                sample = sampled_digest(entry.path, stat.st_size)
                entries.append((name, stat.st_size, stat.st_mtime_ns if times else 0, sample))
                if len(entries) > MAX_FILES:
                    return None
    except OSError:
        return None
    digest = hashlib.sha256(json.dumps(sorted(entries)).encode("utf-8"))
    return digest.hexdigest()


def sampled_digest(path: str, size: int) -> str:
    """A digest of a file's first, middle and last SAMPLE_BYTES (all of a small file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for offset in sorted(
            {0, max(0, size // 2 - SAMPLE_BYTES // 2), max(0, size - SAMPLE_BYTES)}
        ):
            file.seek(offset)
            digest.update(file.read(SAMPLE_BYTES))
    return digest.hexdigest()
