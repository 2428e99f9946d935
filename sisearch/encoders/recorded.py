"""What creating an index of a model decided, reused by the next index of the same files.

The first index of a model loads it with PyTorch, fingerprints it, exports and checks
the export (encoders/onnx.py). All of that depends only on the model's files and the
prompts and precision asked for (model_source.py), so it is recorded in the export
cache; a later index of unchanged files fetches the export, checks that it still
reproduces the recorded probe, and starts encoding without importing PyTorch (15 s ->
about 2 s for a 200-passage e5-small index, bench/speed.py).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelLoadError
from .encoder import EncoderSpec, ModelFingerprint
from .export_cache import ExportCache, entry_key
from .known_models import resolve
from .model_source import source_key
from .onnx import FORMAT, OnnxEncoder

# The fetched export must reproduce the recorded probe as closely as an index's own
# export must on every open (index.py).
MIN_PROBE_COSINE = 0.999


@dataclass
class RecordedEngine:
    """An export fetched for a new index, with what the index records of it."""

    engine: OnnxEncoder
    spec: EncoderSpec
    fingerprint: ModelFingerprint
    # An int8 export made here without PyTorch: its fp32 graph, to check int8 on the
    # index's first passages (direct_export.py).
    yardstick: Any = None


def loaded_name(model: str) -> str:
    """The name `load_encoder` records for `model`: a folder resolved, a hub id as given."""
    model = resolve(model)
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model


def model_source(
    model: str, query_prompt: str | None, document_prompt: str | None, precision: str
) -> str | None:
    """The source key of an ONNX index of `model` at `precision`, None without a cache or
    where the model's files cannot be found unloaded."""
    if ExportCache.default() is None:
        return None
    return source_key(loaded_name(model), query_prompt, document_prompt, precision, FORMAT)


def recall_engine(source: str, folder: Path) -> RecordedEngine | None:
    """The engine recorded for `source`, fetched into `folder` (which must not exist yet)
    and checked; None, with `folder` removed, where anything is missing or differs."""
    cache = ExportCache.default()
    record = cache.recall(source) if cache else None
    if cache is None or record is None:
        return None
    try:
        fingerprint = ModelFingerprint.from_dict(record["fingerprint"])
        spec = EncoderSpec.from_dict(record["spec"])
        entry = str(record["entry"])
    except (KeyError, TypeError, ValueError):
        return None
    if spec.engine != "onnx" or not spec.probe or not cache.fetch(entry, folder):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    try:
        engine = OnnxEncoder(
            folder, fingerprint.name, fingerprint.query_prompt, fingerprint.document_prompt
        )
    except ModelLoadError:
        shutil.rmtree(folder, ignore_errors=True)
        return None
    recorded = np.asarray(spec.probe, dtype=np.float32)
    if float(np.dot(recorded, engine.probe())) < MIN_PROBE_COSINE:
        engine.close()
        shutil.rmtree(folder, ignore_errors=True)
        return None
    cache.complete(entry, folder)
    return RecordedEngine(engine, spec, fingerprint)


def remember_engine(source: str | None, fingerprint: ModelFingerprint, spec: EncoderSpec) -> None:
    """Record the engine an index of `source` uses (an ONNX one; a PyTorch fallback is not
    worth repeating unloaded: the next index tries the export again)."""
    cache = ExportCache.default()
    if source is None or cache is None:
        return
    if spec.engine != "onnx":
        cache.forget(source)
        return
    record = {
        "entry": entry_key(fingerprint, spec.precision, FORMAT),
        "fingerprint": fingerprint.to_dict(),
        "spec": spec.to_dict(),
    }
    cache.remember(source, record)
