"""Export a BERT or XLM-R SentenceTransformer folder to ONNX from its files, without PyTorch.

Why: a model's first index loaded it with PyTorch (6 s of imports), traced the ONNX
export and quantized it with ONNX Runtime's Python quantizer: 19-25 s for 200 passages,
twice what txtai or Chroma take to load the model and encode them (bench/speed.py). The
encoders sisearch is built for are plain BERT-family encoders with mean pooling, whose
forward pass is a few dozen ONNX nodes: this module writes that graph straight from the
safetensors weights with numpy, quantizes its MatMul weights per output channel as ONNX
Runtime's dynamic quantizer does (int8 weights, activations per batch at run time), and
checks int8 against the same graph in fp32, as `build_engine` checks it against PyTorch.

The tokenizer is the one the PyTorch path would use. A folder whose tokenizer_config.json
names `TokenizersBackend` or `PreTrainedTokenizerFast` (what transformers 5 writes) is
tokenized by its tokenizer.json as it is. A folder saved by transformers 4 names the model's
own class (`XLMRobertaTokenizer`; the fine-tuned encoder's most likely does), which transformers 5
rebuilds from the file's vocabulary with its own pipeline: for those the class is built
through transformers (about 1 s to import, no PyTorch) and its pipeline saved.

Anything else (another architecture or pooling, lower-casing, a tokenizer class
transformers lacks, sharded or pickled weights) returns None and the first index takes the
PyTorch path. Tests hold the graph and the tokens to PyTorch's own output.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .encoder import EncoderSpec, ModelFingerprint, revision_of
from .export_cache import ExportCache, entry_key
from .model_source import model_folder
from .onnx import (
    CHECK_SENTENCES,
    CONFIG_FILE,
    FORMAT,
    MODEL_FILE,
    TOKENIZER_FILE,
    OnnxEncoder,
    agreement,
    close_enough,
    onnxruntime_offline,
    save_embeddings,
    save_optimized,
    write_compact_beside,
)
from .pages import forget

if TYPE_CHECKING:
    from .recorded import RecordedEngine

WEIGHTS_FILE = "model.safetensors"
# Position ids start after the padding id in RoBERTa-style models, at 0 in BERT.
KINDS = ("bert", "xlm-roberta", "roberta")
# Tokenizer classes transformers 5 loads from tokenizer.json as it is (others rebuild it).
AS_SAVED_TOKENIZERS = ("TokenizersBackend", "PreTrainedTokenizerFast")
# What AutoTokenizer takes where neither tokenizer_config.json nor config.json names a class.
MODEL_TOKENIZERS = {
    "bert": "BertTokenizer",
    "xlm-roberta": "XLMRobertaTokenizer",
    "roberta": "RobertaTokenizer",
}
_DTYPES = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}
_OPSET = 17
_IN_MEMORY_BYTES = 1 << 16
_IR_VERSION = 8  # what opset 17 needs, so the oldest ONNX Runtime allowed loads it


class Unsupported(Exception):
    """The folder is not a model this module exports; the PyTorch path takes it."""


@dataclass(frozen=True)
class FolderModel:
    """What a SentenceTransformer folder says about its encoder, read without loading it."""

    folder: Path
    config: dict[str, Any]
    max_seq_length: int
    prompts: dict[str, str]
    position_offset: int
    tokenizer_class: str

    @property
    def dim(self) -> int:
        return int(self.config["hidden_size"])


def read_folder(folder: Path) -> FolderModel:
    """The encoder in `folder`; Unsupported unless it is a BERT-family encoder with mean
    pooling this module reproduces exactly."""
    modules = _json(folder / "modules.json")
    if not isinstance(modules, list) or not 2 <= len(modules) <= 3:
        raise Unsupported("modules other than Transformer, Pooling[, Normalize]")
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]):
        raise Unsupported(f"modules {kinds}")
    if modules[0].get("path", "") != "":
        raise Unsupported("the transformer is not at the folder's root")
    pooling = _json(folder / str(modules[1].get("path", "")) / "config.json")
    mode = pooling.get("pooling_mode")
    if mode is None:
        modes = [k for k, v in pooling.items() if k.startswith("pooling_mode_") and v is True]
        mode = "mean" if modes == ["pooling_mode_mean_tokens"] else ",".join(modes)
    if mode != "mean" or pooling.get("include_prompt", True) is not True:
        raise Unsupported(f"pooling {mode!r}")
    config = _json(folder / "config.json")
    kind = config.get("model_type")
    if kind not in KINDS:
        raise Unsupported(f"model type {kind!r}")
    if config.get("hidden_act") != "gelu" or config.get("is_decoder"):
        raise Unsupported("activation or decoder")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise Unsupported("relative positions")
    if int(config["hidden_size"]) % int(config["num_attention_heads"]):
        raise Unsupported("heads do not divide the width")
    sentence = _json(folder / "sentence_bert_config.json", {})
    tokenizer = _json(folder / "tokenizer_config.json", {})
    if sentence.get("do_lower_case") or tokenizer.get("do_lower_case"):
        raise Unsupported("lower-casing")
    tokenizer_class = (
        tokenizer.get("tokenizer_class") or config.get("tokenizer_class") or MODEL_TOKENIZERS[kind]
    )
    if not isinstance(tokenizer_class, str) or not tokenizer_class.isidentifier():
        raise Unsupported(f"tokenizer class {tokenizer_class!r}")
    if tokenizer_class in AS_SAVED_TOKENIZERS and not (folder / TOKENIZER_FILE).is_file():
        raise Unsupported(f"no {TOKENIZER_FILE}")
    if not (folder / WEIGHTS_FILE).is_file():
        raise Unsupported(f"no {WEIGHTS_FILE}")
    offset = int(config.get("pad_token_id") or 0) + 1 if kind != "bert" else 0
    length = sentence.get("max_seq_length") or tokenizer.get("model_max_length")
    room = int(config["max_position_embeddings"]) - offset
    if not isinstance(length, int) or not 0 < length <= room:
        raise Unsupported(f"max_seq_length {length!r}")
    named = (_json(folder / "config_sentence_transformers.json", {}).get("prompts")) or {}
    return FolderModel(folder, config, length, named, offset, tokenizer_class)


def load_tokenizer(model: FolderModel) -> Any:
    """The `tokenizers.Tokenizer` that transformers 5 tokenizes the folder's text with."""
    from tokenizers import Tokenizer

    if model.tokenizer_class in AS_SAVED_TOKENIZERS:
        return Tokenizer.from_file(str(model.folder / TOKENIZER_FILE))
    import transformers  # its tokenizer classes import no PyTorch

    rebuilt = getattr(transformers, model.tokenizer_class, None)
    backend = getattr(transformers, "TokenizersBackend", None)
    if not (isinstance(rebuilt, type) and backend and issubclass(rebuilt, backend)):
        raise Unsupported(f"tokenizer class {model.tokenizer_class!r}")
    loaded = rebuilt.from_pretrained(str(model.folder), local_files_only=True)
    return loaded.backend_tokenizer


def prompts_of(model: FolderModel, query: str | None, document: str | None) -> tuple[str, str]:
    """The prompts an index records, as `load_encoder` chooses them."""
    own = model.prompts
    if query is None:
        query = own.get("query") or ""
    if document is None:
        document = own.get("document") or own.get("passage") or ""
    return query, document


def read_weights(file: Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file as float32 arrays (mapped where they are float32)."""
    with open(file, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    data = np.memmap(file, dtype=np.uint8, mode="r", offset=8 + size)
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise Unsupported(f"weights of type {info['dtype']}")
        start, end = info["data_offsets"]
        raw = data[start:end].view(_DTYPES[info["dtype"]])
        if info["dtype"] == "BF16":
            raw = (raw.astype("<u4") << 16).view("<f4")
        tensors[name] = raw.astype(np.float32, copy=False).reshape(info["shape"])
    return tensors


class _Weights:
    """The encoder's tensors by their name without the model's prefix ("bert.", ...)."""

    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        marker = "embeddings.word_embeddings.weight"
        found = [name for name in tensors if name.endswith(marker)]
        if len(found) != 1:
            raise Unsupported("no word embeddings")
        self.prefix = found[0][: -len(marker)]
        self.tensors = tensors

    def forget(self) -> None:
        """Drop the mapped weights' resident pages, once a step has read what it needs."""
        for tensor in self.tensors.values():
            forget(tensor)

    def __getitem__(self, name: str) -> np.ndarray:
        """A tensor; a LayerNorm's under its older names too (transformers 5.0 saves
        `gamma` and `beta`)."""
        for candidate in (name, name.replace(".weight", ".gamma"), name.replace(".bias", ".beta")):
            found = self.tensors.get(self.prefix + candidate)
            if found is not None:
                return found
        raise Unsupported(f"no weight {name}")


def build_graph(
    model: FolderModel,
    weights: _Weights,
    quantized: bool,
    in_memory: dict[str, np.ndarray] | None = None,
) -> Any:
    """The forward pass from token vectors and attention mask to the mean-pooled sentence
    embedding (export format 2), fp32 or with int8 MatMul weights.

    With `in_memory`, the graph only names its large initializers (as external data) and
    they are put there, as they lie: for a session made from memory (`_session`). Its
    weights are then multiplied transposed where they lie (FusedMatMul), which ONNX Runtime
    packs without first making a transposed copy: the same outputs, 0.4 s less to start."""
    from onnx import ModelProto, TensorProto, helper

    config = model.config
    width, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    epsilon = float(config.get("layer_norm_eps", 1e-12))
    onnx_model = ModelProto(ir_version=_IR_VERSION, producer_name="sisearch")
    for domain in ("", "com.microsoft"):
        onnx_model.opset_import.add(domain=domain, version=_OPSET if domain == "" else 1)
    graph = onnx_model.graph
    graph.name = "sisearch-encoder"
    nodes: list[Any] = []
    counter = [0]
    types = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int8): TensorProto.INT8}
    types[np.dtype(np.int64)] = TensorProto.INT64

    def constant(array: Any, dtype: Any = np.float32) -> str:
        """An initializer, written into the graph once (helper.make_graph and make_model
        would copy a base-size model's 340 MB twice more)."""
        value = np.ascontiguousarray(array, dtype)
        tensor = graph.initializer.add(name=f"c{len(graph.initializer)}")
        tensor.data_type = types[value.dtype]
        tensor.dims.extend(value.shape)
        if in_memory is not None and value.nbytes >= _IN_MEMORY_BYTES:
            in_memory[tensor.name] = value
            tensor.data_location = TensorProto.EXTERNAL
            tensor.external_data.add(key="location", value="memory")
        else:
            tensor.raw_data = value.tobytes()
        return tensor.name

    def node(op: str, inputs: list[str], domain: str = "", **attributes: Any) -> str:
        counter[0] += 1
        out = f"t{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], domain=domain, **attributes))
        return out

    def linear(x: str, name: str) -> str:
        weight = weights[name + ".weight"]  # output x input
        bias = constant(weights[name + ".bias"])
        if not quantized and in_memory is not None:
            product = node("FusedMatMul", [x, constant(weight)], "com.microsoft", transB=1)
            return node("Add", [product, bias])
        if not quantized:  # ONNX Runtime folds the transpose once, in C++
            transposed = node("Transpose", [constant(weight)], perm=[1, 0])
            return node("Add", [node("MatMul", [x, transposed]), bias])
        scale = np.abs(weight).max(axis=1) / 127.0  # per output channel: a row here
        scale[scale == 0] = 1.0
        values = np.clip(np.rint(weight / scale[:, None]), -127, 127).astype(np.int8)
        inputs = [x, constant(values.T, np.int8), constant(scale), "", bias]
        return node("DynamicQuantizeMatMul", inputs, domain="com.microsoft")

    def layer_norm(x: str, name: str) -> str:
        parts = [x, constant(weights[name + ".weight"]), constant(weights[name + ".bias"])]
        return node("LayerNormalization", parts, axis=-1, epsilon=epsilon)

    positions = weights["embeddings.position_embeddings.weight"][model.position_offset :]
    token_type = weights["embeddings.token_type_embeddings.weight"][0]
    shape = node("Shape", ["inputs_embeds"], start=1, end=2)
    table = constant(positions + token_type)
    tokens = node("Slice", [table, constant([0], np.int64), shape, constant([0], np.int64)])
    x = layer_norm(node("Add", ["inputs_embeds", tokens]), "embeddings.LayerNorm")
    mask = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    blocked = node("Sub", [constant(1.0), mask])
    bias = node(
        "Unsqueeze",
        [node("Mul", [blocked, constant(np.finfo(np.float32).min)]), constant([1, 2], np.int64)],
    )
    split = constant([0, 0, heads, width // heads], np.int64)
    joined = constant([0, 0, width], np.int64)
    scale = constant(1.0 / np.sqrt(width // heads))
    for i in range(int(config["num_hidden_layers"])):
        at = f"encoder.layer.{i}."

        def heads_of(name: str, perm: list[int], x: str = x, at: str = at) -> str:
            projected = linear(x, at + "attention.self." + name)
            return node("Transpose", [node("Reshape", [projected, split])], perm=perm)

        query = heads_of("query", [0, 2, 1, 3])
        key = heads_of("key", [0, 2, 3, 1])
        value = heads_of("value", [0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [query, key]), scale]), bias])
        context = node("MatMul", [node("Softmax", [scores], axis=-1), value])
        context = node("Reshape", [node("Transpose", [context], perm=[0, 2, 1, 3]), joined])
        attended = linear(context, at + "attention.output.dense")
        x = layer_norm(node("Add", [attended, x]), at + "attention.output.LayerNorm")
        inner = linear(x, at + "intermediate.dense")
        erf = node("Erf", [node("Div", [inner, constant(np.sqrt(2.0))])])
        gelu = node("Mul", [node("Mul", [inner, node("Add", [erf, constant(1.0)])]), constant(0.5)])
        x = layer_norm(node("Add", [linear(gelu, at + "output.dense"), x]), at + "output.LayerNorm")
    weights_3d = node("Unsqueeze", [mask, constant([2], np.int64)])
    axis = constant([1], np.int64)
    summed = node("ReduceSum", [node("Mul", [x, weights_3d]), axis], keepdims=0)
    counted = node("Max", [node("ReduceSum", [weights_3d, axis], keepdims=0), constant(1e-9)])
    nodes.append(helper.make_node("Div", [summed, counted], ["embedding"]))
    graph.node.extend(nodes)
    graph.input.extend(
        [
            helper.make_tensor_value_info(
                "inputs_embeds", TensorProto.FLOAT, ["batch", "tokens", width]
            ),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ]
    )
    graph.output.append(
        helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", width])
    )
    return onnx_model


def write_export(
    model: FolderModel, weights: _Weights, out: Path, precision: str, tokenizer: Any
) -> None:
    """The export (format 2) at `precision` in `out`, as `export_onnx` writes it."""
    write_tokenizer(model, out, tokenizer)
    graph = build_graph(model, weights, precision == "int8").SerializeToString()
    weights.forget()
    (out / MODEL_FILE).write_bytes(graph)
    save_embeddings(weights["embeddings.word_embeddings.weight"], out, precision)
    save_optimized(out / MODEL_FILE)
    write_config(model, out, precision, tokenizer)


def write_tokenizer(model: FolderModel, out: Path, tokenizer: Any) -> None:
    """The model's tokenizer.json (as it is, where transformers reads it so) and its compact
    form (compact_tokenizer.py)."""
    out.mkdir(parents=True, exist_ok=True)
    tokenizer_file = out / TOKENIZER_FILE
    if not tokenizer_file.exists():
        if model.tokenizer_class in AS_SAVED_TOKENIZERS:
            shutil.copyfile(model.folder / TOKENIZER_FILE, tokenizer_file)
        else:
            tokenizer.save(str(tokenizer_file))
        write_compact_beside(tokenizer_file, tokenizer)


def write_config(model: FolderModel, out: Path, precision: str, tokenizer: Any) -> None:
    pad_id = int(model.config.get("pad_token_id") or 0)
    config = {
        "format": FORMAT,
        "precision": precision,
        "max_seq_length": model.max_seq_length,
        "dim": model.dim,
        "pad_id": pad_id,
        "pad_token": str(tokenizer.id_to_token(pad_id)),
    }
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def direct_engine(
    name: str,
    query_prompt: str | None,
    document_prompt: str | None,
    precision: str,
    out: Path,
    refresh: bool = False,
) -> RecordedEngine | None:
    """A new index's engine for the model `name` (resolved: a folder or a hub id), exported
    into `out` (which must not exist yet) without PyTorch, with the fingerprint and spec
    it records; None, with `out` removed, where this module does not export the model.
    `refresh`: export afresh and replace the shared cache's copy (which may be the damaged
    one an index's folder links to).

    The fp32 graph runs from memory as the yardstick: its embedding of the probe sentence
    is the fingerprint's (PyTorch's to within 1e-6), and int8 is kept only within the same
    cosines of it that `build_engine` asks of int8 against PyTorch. The export goes into
    the shared cache under the fingerprint's key, made once when processes race."""
    from .recorded import RecordedEngine

    folder = model_folder(name)
    if folder is None:
        return None
    try:
        model = read_folder(folder)
        weights = _Weights(read_weights(folder / WEIGHTS_FILE))
        tokenizer = load_tokenizer(model)
        query, document = prompts_of(model, query_prompt, document_prompt)
        onnxruntime_offline()
        write_tokenizer(model, out, tokenizer)
        write_config(model, out, "fp32", tokenizer)
        initializers: dict[str, np.ndarray] = {}
        graph = build_graph(model, weights, quantized=False, in_memory=initializers)
        reference = OnnxEncoder(
            out,
            name,
            query,
            document,
            threads=os.cpu_count() or 1,
            graph=graph.SerializeToString(),
            initializers=initializers,
            embeddings=weights["embeddings.word_embeddings.weight"],
            tokenizer=tokenizer,
        )
        weights.forget()  # ONNX Runtime has packed its own copy
        fingerprint = ModelFingerprint(
            name=name,
            revision=revision_of(name),
            dim=model.dim,
            max_seq_length=model.max_seq_length,
            pooling="mean",
            query_prompt=query,
            document_prompt=document,
            probe=tuple(float(x) for x in reference.probe()),
        )
        cache = ExportCache.default()
        key = entry_key(fingerprint, precision, FORMAT)
        with cache.exporting(key) if cache else nullcontext():
            fetched = bool(cache and not refresh and cache.fetch(key, out))
            if not fetched:
                write_export(model, weights, out, precision, tokenizer)
            engine = OnnxEncoder(out, name, query, document, tokenizer=tokenizer)
            mean, low = 1.0, 1.0
            if precision == "int8":
                mean, low = agreement(
                    engine.encode_documents(CHECK_SENTENCES),
                    reference.encode_documents(CHECK_SENTENCES),
                )
            if cache and not fetched and close_enough(mean, low):
                cache.store(key, out)
        if not close_enough(mean, low):
            note = (
                f"int8 embeddings were too far from fp32 (mean cosine {mean:.4f}, minimum"
                f" {low:.4f}); using fp32"
            )
            engine.close()
            del engine  # its map of the int8 matrix, replaced next
            yardstick = Yardstick(reference, model, weights, tokenizer, fingerprint)
            engine, spec = yardstick.fp32_engine(out)
            spec = replace(spec, note=note)
        else:
            spec = EncoderSpec("onnx", precision, tuple(map(float, engine.probe())), round(mean, 6))
    except BaseException as e:  # Ctrl-C leaves no half-written export behind either
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(out.with_name(out.name + ".new"), ignore_errors=True)
        if not isinstance(e, Exception):
            raise
        return None  # not a model exported here, or an export that failed: PyTorch's turn
    if spec.precision != "int8":
        reference.close()
        return RecordedEngine(engine, spec, fingerprint)
    yardstick = Yardstick(reference, model, weights, tokenizer, fingerprint)
    return RecordedEngine(engine, spec, fingerprint, yardstick)


def export_again(
    name: str, fingerprint: ModelFingerprint, precision: str, folder: Path
) -> tuple[OnnxEncoder, EncoderSpec] | None:
    """The index's export in `folder` made again from the model `name` without PyTorch
    (`sisearch rebuild --encoder`), once the model is checked against the index's
    `fingerprint` (ModelMismatch otherwise); None where this module does not export it."""
    staging = folder.with_name(folder.name + ".direct")
    shutil.rmtree(staging, ignore_errors=True)
    query, document = fingerprint.query_prompt, fingerprint.document_prompt
    made = direct_engine(name, query, document, precision, staging, refresh=True)
    if made is None:
        return None
    made.engine.close()
    if made.yardstick is not None:
        made.yardstick.close()
    try:
        fingerprint.check(made.fingerprint, str(folder.parent))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return OnnxEncoder(folder, name, query, document), made.spec


class Yardstick:
    """The fp32 graph of a model exported here, kept until the index's first passages have
    checked int8 against it (the PyTorch path keeps the PyTorch model for that check)."""

    def __init__(
        self,
        reference: OnnxEncoder,
        model: FolderModel,
        weights: _Weights,
        tokenizer: Any,
        fingerprint: ModelFingerprint,
    ) -> None:
        self._fingerprint = fingerprint
        self._reference = reference
        self._model = model
        self._weights = weights
        self._tokenizer = tokenizer

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        return self._reference.encode_documents(texts)

    def fp32_engine(self, folder: Path) -> tuple[OnnxEncoder, EncoderSpec]:
        """Replace the export in `folder` with the fp32 one (and keep it in the shared
        cache, where the record of this choice will look); the engine and its spec."""
        staging = folder.with_name(folder.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            write_export(self._model, self._weights, staging, "fp32", self._tokenizer)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
        cache = ExportCache.default()
        if cache is not None:
            key = entry_key(self._fingerprint, "fp32", FORMAT)
            with cache.exporting(key):
                cache.store(key, folder)
        reference = self._reference
        engine = OnnxEncoder(
            folder,
            reference.name,
            reference.query_prompt,
            reference.document_prompt,
            tokenizer=self._tokenizer,
        )
        return engine, EncoderSpec("onnx", "fp32", tuple(map(float, engine.probe())), 1.0)

    def close(self) -> None:
        self._reference.close()


def _json(file: Path, default: Any = None) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if default is not None:
            return default
        raise Unsupported(f"no {file.name}") from None
    except (OSError, ValueError) as e:
        raise Unsupported(f"{file.name}: {e}") from None
