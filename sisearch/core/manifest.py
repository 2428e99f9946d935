"""The index manifest: format version, model fingerprint, normalization rule, vector index state.

Written atomically (temporary file, fsync, `os.replace`) so a crash leaves the old or
the new manifest, never a torn one. `vectors_generation` is written only after the
FAISS file it describes is in place, so it can lag the store but never lead it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..encoders.encoder import EncoderSpec, ModelFingerprint
from ..errors import IndexCorrupt, IndexNotFound

# 2: the vector file may be extended by a vector log (core/vector_log.py), which an older
# sisearch would ignore and so search without the latest writes.
FORMAT_VERSION = 2
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """What an index is: how its vectors were made and which store generation they match."""

    model: ModelFingerprint
    normalization: str
    index_type: str
    vectors_generation: int = 0
    created: str = ""
    format_version: int = FORMAT_VERSION
    encoder: EncoderSpec = field(default_factory=EncoderSpec)
    compress: bool = False
    trained_on: int = 0
    vectors_kind: str = "flat"
    ivf_cells: int = 0
    ivf_nprobe: int = 0
    # The vector file's size and vectors when saved, and the vector log extending it: its
    # token (hex), valid bytes and rows (added and removed) held.
    vectors_bytes: int = 0
    vectors_rows: int = 0
    vectors_token: str = ""
    log_bytes: int = 0
    log_rows: int = 0

    @classmethod
    def new(
        cls, model: ModelFingerprint, normalization: str, index_type: str, encoder: EncoderSpec
    ) -> Manifest:
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(model, normalization, index_type, created=created, encoder=encoder)

    def with_encoder(self, encoder: EncoderSpec) -> Manifest:
        return replace(self, encoder=encoder)

    def with_vectors(self, index_type: str, compress: bool) -> Manifest:
        """The vector index the user asked for (the saved file follows at the next save)."""
        return replace(self, index_type=index_type, compress=compress)

    def with_generation(
        self, generation: int, kind: str, cells: int, nprobe: int, trained_on: int
    ) -> Manifest:
        """The state of a vector file just saved: its generation, kind, IVF cells, nprobe and
        the number of vectors its IVF cells were trained on."""
        return replace(
            self,
            vectors_generation=generation,
            vectors_kind=kind,
            ivf_cells=cells,
            ivf_nprobe=nprobe,
            trained_on=trained_on,
        )

    def with_log(
        self, vectors_bytes: int, vectors_rows: int, token: str, log_bytes: int
    ) -> Manifest:
        """The vector file just saved (its size and vectors) and the new, empty vector log
        extending it."""
        return replace(
            self,
            vectors_bytes=vectors_bytes,
            vectors_rows=vectors_rows,
            vectors_token=token,
            log_bytes=log_bytes,
            log_rows=0,
        )

    def with_logged(self, generation: int, log_bytes: int, log_rows: int) -> Manifest:
        """A record appended to the vector log, bringing the vectors to `generation`."""
        return replace(self, vectors_generation=generation, log_bytes=log_bytes, log_rows=log_rows)

    def with_model_name(self, name: str) -> Manifest:
        return replace(self, model=replace(self.model, name=name))

    def with_normalization(self, version: str) -> Manifest:
        return replace(self, normalization=version)

    def to_dict(self) -> dict[str, Any]:
        # Shallow: `asdict` would deep-copy both probe vectors first (5 ms of every write).
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["model"] = self.model.to_dict()
        data["encoder"] = self.encoder.to_dict()
        return data

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST_FILE
        if not path.exists():
            raise IndexNotFound(f"No index at {directory}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format_version", 0) > FORMAT_VERSION:
                raise IndexCorrupt(
                    f"{path}: written by a newer sisearch (format {data['format_version']});"
                    " upgrade sisearch"
                )
            data["model"] = ModelFingerprint.from_dict(data["model"])
            spec = data.get("encoder", {})
            data["encoder"] = EncoderSpec.from_dict(spec)
            return cls(**data)
        except (ValueError, KeyError, TypeError) as e:
            raise IndexCorrupt(f"{path}: unreadable manifest ({e})") from None

    def write(self, directory: Path) -> None:
        path = directory / MANIFEST_FILE
        temporary = directory / f".{MANIFEST_FILE}.{os.getpid()}.tmp"
        try:
            with open(temporary, "w", encoding="utf-8") as f:
                json.dump(self.to_dict(), f, ensure_ascii=False, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
