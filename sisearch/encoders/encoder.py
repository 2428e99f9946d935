"""Load a SentenceTransformer from a hub id or a local folder and encode with it.

torch and sentence_transformers cost seconds to import, so they are imported inside
functions: commands that never encode (help, info, list) never pay for them.
Vectors come out float32 and L2-normalized, so an inner product is a cosine.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ..errors import ModelLoadError, ModelMismatch
from ..language.text import NORMALIZATION_VERSION, normalize
from .known_models import resolve

if TYPE_CHECKING:
    import numpy as np

PROBE_TEXT = normalize("ශ්‍රී ලංකාවේ ප්‍රධාන සෞඛ්‍ය සේවා සහ ඓතිහාසික ස්ථාන")
PROBE_MIN_COSINE = 0.999
_CONFIG_FILES = (
    "modules.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "config.json",
    "tokenizer_config.json",
    "1_Pooling/config.json",
)
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class ModelFingerprint:
    """What identifies an encoder's vector space; stored in the index manifest.

    `probe` is the model's embedding of a fixed Sinhala sentence: two models with the
    same name but different weights (a retrained local folder) disagree on it.
    """

    name: str
    revision: str | None
    dim: int
    max_seq_length: int
    pooling: str
    query_prompt: str
    document_prompt: str
    probe: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["probe"] = [round(x, 7) for x in self.probe]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelFingerprint:
        fields = {k: data[k] for k in cls.__dataclass_fields__}
        fields["probe"] = tuple(fields["probe"])
        return cls(**fields)

    def mismatch(self, other: ModelFingerprint) -> str | None:
        """Why `other` cannot share an index with this model, or None if it can."""
        for attribute in ("dim", "max_seq_length", "pooling", "query_prompt", "document_prompt"):
            mine, theirs = getattr(self, attribute), getattr(other, attribute)
            if mine != theirs:
                return f"{attribute} differs ({theirs!r} vs the index's {mine!r})"
        cosine = sum(a * b for a, b in zip(self.probe, other.probe))
        if cosine < PROBE_MIN_COSINE:
            return f"its weights differ (probe cosine {cosine:.4f})"
        return None

    def check(self, other: ModelFingerprint, index_path: str) -> None:
        """Raise ModelMismatch unless `other` embeds into this model's space."""
        reason = self.mismatch(other)
        if reason:
            raise ModelMismatch(
                f"Model {other.name!r} does not match the index at {index_path}, which was built"
                f" with {self.name!r}: {reason}. Query with the index's model, or build a new"
                " index for this one."
            )


def encode_in_slices(
    run: Callable[[list[str], str, int], np.ndarray],
    texts: Sequence[str],
    prompt: str,
    batch_size: int,
    progress: ProgressCallback | None,
    dim: int,
) -> np.ndarray:
    """Encode longest first, a few batches at a time with `run`, reporting progress after each.

    Sorting all the texts by length (not just within a batch) keeps padding, and so
    wasted compute, low; the result is returned in the input order.
    """
    import numpy as np

    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.empty((len(texts), dim), dtype=np.float32)
    slice_size = batch_size * 4
    for start in range(0, len(order), slice_size):
        part = order[start : start + slice_size]
        out[part] = run([texts[i] for i in part], prompt, batch_size)
        if progress is not None:
            progress(len(part))
    return out


class TextEncoder:
    """What the index needs of an encoder; `Encoder` (PyTorch) and `OnnxEncoder` subclass it.

    Subclasses set the attributes and provide `token_offsets`, `special_tokens` and
    `_run` (embed one slice of texts with a prompt); prompts, the chunk limit and
    length-sorted slicing are shared here.
    """

    name: str
    engine: str
    precision: str
    batch_size: int
    dim: int
    max_seq_length: int
    query_prompt: str
    document_prompt: str
    # The normalization rule queries get: the index's (set by Index), so si-1 indexes stay si-1.
    normalization: str = NORMALIZATION_VERSION

    def token_offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character offsets of each text's tokens, without special tokens or truncation."""
        raise NotImplementedError

    def special_tokens(self) -> int:
        """Special tokens the tokenizer adds to one text."""
        raise NotImplementedError

    def _run(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        raise NotImplementedError

    @property
    def max_passage_tokens(self) -> int:
        """Tokens a passage may have before it must be chunked (special tokens, prompt excluded)."""
        prompt_tokens = len(self.token_offsets([self.document_prompt])[0])
        return max(8, self.max_seq_length - self.special_tokens() - prompt_tokens)

    def encode_documents(
        self,
        texts: Sequence[str],
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        """Embed passages (already normalized and chunked) as unit float32 vectors."""
        return encode_in_slices(
            self._run,
            texts,
            self.document_prompt,
            batch_size or self.batch_size,
            progress,
            self.dim,
        )

    def encode_queries(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embed queries as unit float32 vectors; normalizes them exactly as passages were."""
        return encode_in_slices(
            self._run,
            [normalize(t, self.normalization) for t in texts],
            self.query_prompt,
            batch_size or self.batch_size,
            None,
            self.dim,
        )

    def prepare_for_serving(self) -> None:
        """Get ready to answer many queries in a long-lived process (a server): nothing
        here; the ONNX engine loads what a one-off query does without."""

    def probe(self) -> np.ndarray:
        """This encoder's embedding of the fixed probe sentence."""
        return self.encode_documents([PROBE_TEXT])[0]


class Encoder(TextEncoder):
    """A loaded SentenceTransformer with the index's prompts; encodes normalized text."""

    engine = "torch"
    precision = "fp32"
    batch_size = 32

    def __init__(
        self, model: Any, name: str, query_prompt: str = "", document_prompt: str = ""
    ) -> None:
        self.model = model
        self.name = name
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        dimension = getattr(model, "get_embedding_dimension", None)  # sentence-transformers >= 6
        dimension = dimension or model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.max_seq_length = int(model.max_seq_length)
        self.tokenizer = model.tokenizer

    def special_tokens(self) -> int:
        return int(self.tokenizer.num_special_tokens_to_add(pair=False))

    def token_offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        """Character offsets of each text's tokens, without special tokens or truncation."""
        if not texts:
            return []
        encoded = self.tokenizer(
            list(texts),
            add_special_tokens=False,
            return_offsets_mapping=True,
            truncation=False,
            verbose=False,
        )
        return [[tuple(pair) for pair in offsets] for offsets in encoded["offset_mapping"]]

    def _run(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        return self.model.encode(
            texts,
            prompt=prompt or None,
            batch_size=batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )

    def fingerprint(self) -> ModelFingerprint:
        """This encoder's identity, as recorded in the index manifest."""
        probe = self.probe()
        pooling = getattr(self.model[1], "pooling_mode", None) if len(self.model) > 1 else None
        return ModelFingerprint(
            name=self.name,
            revision=revision_of(self.name),
            dim=self.dim,
            max_seq_length=self.max_seq_length,
            pooling=str(pooling or "unknown"),
            query_prompt=self.query_prompt,
            document_prompt=self.document_prompt,
            probe=tuple(float(x) for x in probe),
        )


def load_encoder(
    model: str, query_prompt: str | None = None, document_prompt: str | None = None
) -> Encoder:
    """Load a SentenceTransformer by hub id, local folder or installed short name (e5-small).

    Prompts left as None come from the model's own named prompts ("query", and
    "document" or "passage"), as models such as e5 define them; "" means none.

    Raises ModelLoadError with one line naming the model, the cause and the fix.
    A hub id is looked up in the local cache first, so a model used once before
    loads offline; if it is not cached and the hub is unreachable the error says so
    at once instead of after a minute of retries.
    """
    model = resolve(model)
    path = Path(model).expanduser()
    if path.exists():
        _check_model_folder(model, path)
        # Recorded resolved, so the index finds its model from any working folder.
        resolved = str(path.resolve())
        return _load(resolved, resolved, query_prompt, document_prompt, local_only=True)
    if _looks_like_path(model):
        raise ModelLoadError(
            f"Cannot load model {model!r}: no such folder. Fix: give the path of a saved"
            " SentenceTransformer folder, or a Hugging Face hub id."
        )
    try:
        return _load(model, model, query_prompt, document_prompt, local_only=True)
    except ModelLoadError:
        pass
    if os.environ.get("HF_HUB_OFFLINE") or not _hub_reachable():
        raise ModelLoadError(
            f"Cannot load model {model!r}: it is not in the local Hugging Face cache and the hub"
            " cannot be reached. Fix: download it once on a machine with a network (or copy its"
            " folder here) and pass --model with that folder."
        )
    return _load(model, model, query_prompt, document_prompt, local_only=False)


def _load(
    name: str,
    location: str,
    query_prompt: str | None,
    document_prompt: str | None,
    local_only: bool,
) -> Encoder:
    _quiet_hugging_face()
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(location, local_files_only=local_only, device=_device())
    except Exception as e:  # the library raises OSError, ValueError, KeyError, ... on a bad folder
        cause = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(
            f"Cannot load model {name!r}: {cause}. Fix: pass --model a SentenceTransformer hub id"
            " or a folder saved with SentenceTransformer.save()."
        ) from e
    # sentence-transformers 6 gives every model empty "query" and "document" prompts.
    own = getattr(model, "prompts", None) or {}
    if query_prompt is None:
        query_prompt = own.get("query") or ""
    if document_prompt is None:
        document_prompt = own.get("document") or own.get("passage") or ""
    return Encoder(model, name, query_prompt, document_prompt)


def _check_model_folder(name: str, path: Path) -> None:
    if not path.is_dir():
        raise ModelLoadError(
            f"Cannot load model {name!r}: it is a file, not a folder. Fix: pass the folder that"
            " holds the model's config.json."
        )
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise ModelLoadError(
            f"Cannot load model {name!r}: the folder has no modules.json or config.json, so it"
            " is not a SentenceTransformer or transformers model. Fix: pass the folder written by"
            " SentenceTransformer.save()."
        )


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "/", "~")) or model.count("/") > 1 or os.sep + os.sep in model


def _hub_reachable(timeout: float = 3.0) -> bool:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def revision_of(name: str) -> str | None:
    """A short hash of a local model folder's configuration files; None for a hub id."""
    path = Path(name).expanduser()
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for relative in _CONFIG_FILES:
        file = path / relative
        if file.exists():
            digest.update(relative.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def _device() -> str | None:
    """The torch device to encode on: $SISEARCH_DEVICE, else what sentence-transformers picks."""
    return os.environ.get("SISEARCH_DEVICE") or None


def _quiet_hugging_face() -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


@dataclass(frozen=True)
class EncoderSpec:
    """How the index encodes: engine ("onnx" or "torch"), precision, and the engine's probe.

    `probe` is this engine's embedding of the probe sentence; an ONNX export that no
    longer reproduces it has been replaced or damaged. `agreement` is the mean cosine
    to PyTorch fp32 measured when the engine was chosen. `export_files` is the signature
    of the index's export folder (sizes and sampled bytes) when it was recorded: an
    export that still has it is the one probed, and opening it skips the probe.
    """

    engine: str = "torch"
    precision: str = "fp32"
    probe: tuple[float, ...] = ()
    agreement: float = 1.0
    note: str = ""
    export_files: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["probe"] = [round(x, 7) for x in self.probe]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderSpec:
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**{**fields, "probe": tuple(data.get("probe", ()))})
