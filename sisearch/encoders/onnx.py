"""The encoder exported to ONNX (fp32 or dynamically quantized int8) and run with ONNX Runtime.

Why: on a 2-core CPU, plain PyTorch fp32 encodes about 16-55 passages/s with the
XLM-R base architecture; an index encoding with ONNX Runtime indexed 4.68x as fast
with int8 weights on short passages (4.66x on medium ones) and 1.06x as fast in fp32,
end to end (bench/RESULTS.md), and a query needs only onnxruntime and the `tokenizers`
library, not torch or sentence-transformers (seconds of imports).

The export lives in the index folder (`encoder/`, hard links into the shared export
cache where possible), with the tokenizer, so an index answers queries even where the
original model folder is gone.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ModelLoadError
from ..language.text import normalize
from .encoder import EncoderSpec, TextEncoder
from .export_cache import ExportCache, entry_key
from .model_source import folder_signature
from .pages import forget

if TYPE_CHECKING:
    import numpy as np

    from .compact_tokenizer import CompactUnigram

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "encoder.json"
EMBEDDINGS_FILE = "embeddings.npy"
EMBEDDING_SCALES_FILE = "embedding_scales.npy"
# Up to this many texts in one call are tokenized by a compact tokenizer made for them
# while the whole one is not loaded (compact_tokenizer.py): a query, or a batch of them.
QUICK_TEXTS = 64
PRECISIONS = ("int8", "fp32")
ENGINES = ("onnx", "torch")  # "torch": no export, PyTorch fp32 (GPU machines)
# Export formats: 1 = the whole forward pass from token ids (indexes before 2026-11-27);
# 2 = the forward pass from token vectors, with the token embedding matrix in its own
# file (int8 with a scale per row for int8), memory-mapped and gathered with numpy.
FORMAT = 2
_QUANTIZE_ROWS = 16384


def export_onnx(model: Any, out: Path, precision: str) -> None:
    """Export a loaded SentenceTransformer to `out` (format 2, else format 1).

    Format 2 keeps the token embedding matrix (250,002 x 768 for XLM-R: 70% of the
    weights) out of the graph: the export and the quantizer then handle a third of the
    bytes (peak memory of creating a base-size index 6.8 -> under 3 GiB), and a query
    maps the matrix instead of loading it (session 0.44 -> 0.2 s). int8 quantizes the
    MatMul weights per output channel (activations per batch at run time) and the
    embedding matrix per row. Raises whatever the exporter raises: callers fall back.
    """
    out.mkdir(parents=True, exist_ok=True)
    try:
        _export_from_vectors(model, out, precision)
        return
    except Exception:  # a model whose forward pass does not take token vectors
        for name in (MODEL_FILE, EMBEDDINGS_FILE, EMBEDDING_SCALES_FILE):
            (out / name).unlink(missing_ok=True)
    finally:
        release_memory()
    _export_from_ids(model, out, precision)
    release_memory()


def release_memory() -> None:
    """Hand the memory the exporter and quantizer freed back to the system.

    They free gigabytes in pieces the C allocator keeps for reuse; without this, the
    process keeps the export's peak as its size for the rest of its life (2.8 GiB after
    exporting the base-size model, 1.1 GiB after trimming)."""
    import ctypes
    import gc

    gc.collect()
    with suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _export_from_vectors(model: Any, out: Path, precision: str) -> None:
    import torch

    embeddings = model[0].auto_model.get_input_embeddings()
    weight = embeddings.weight
    save_embeddings(weight.detach().to("cpu", torch.float32).numpy(), out, precision)
    dim = int(weight.shape[1])
    sample = (torch.randn(2, 7, dim), torch.ones(2, 7, dtype=torch.int64))
    # The graph never reads the matrix: a one-row stand-in keeps it out of the export.
    embeddings.weight = torch.nn.Parameter(torch.zeros(1, dim), requires_grad=False)
    try:
        _export_graph(model, "inputs_embeds", sample, out, precision)
    finally:
        embeddings.weight = weight
    _save_config(model, out, precision, FORMAT)


def _export_from_ids(model: Any, out: Path, precision: str) -> None:
    sample = model.tokenizer(["ශ්‍රී ලංකාව", "කොළඹ නගරය සහ වරාය"], padding=True, return_tensors="pt")
    _export_graph(
        model, "input_ids", (sample["input_ids"], sample["attention_mask"]), out, precision
    )
    _save_config(model, out, precision, 1)


def _export_graph(
    model: Any, first_input: str, sample: tuple[Any, Any], out: Path, precision: str
) -> None:
    """Trace the model's forward pass from (`first_input`, attention_mask) to its sentence
    embedding into ONNX in `out` (fp32, or quantized to int8 from a scratch fp32 file)."""
    import torch

    class Embed(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, first: Any, attention_mask: Any) -> Any:
            features = {first_input: first, "attention_mask": attention_mask}
            return self.inner(features)["sentence_embedding"]

    inputs = [first_input, "attention_mask"]
    device = model.device
    module = Embed(model.to("cpu").eval())
    with tempfile.TemporaryDirectory(dir=out) as scratch:
        fp32_file = Path(scratch) / MODEL_FILE
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer notes on constants; checked numerically
                torch.onnx.export(
                    module,
                    sample,
                    str(fp32_file),
                    input_names=inputs,
                    output_names=["embedding"],
                    dynamic_axes={
                        inputs[0]: {0: "batch", 1: "tokens"},
                        inputs[1]: {0: "batch", 1: "tokens"},
                        "embedding": {0: "batch"},
                    },
                    opset_version=17,
                    dynamo=False,
                )
        finally:
            model.to(device)
        release_memory()
        if precision == "int8":
            onnxruntime_offline()
            from onnxruntime.quantization import QuantType, quantize_dynamic

            with _root_logger_quiet():  # it logs a "consider pre-processing" notice on root
                quantize_dynamic(
                    fp32_file, out / MODEL_FILE, weight_type=QuantType.QInt8, per_channel=True
                )
        else:
            shutil.move(fp32_file, out / MODEL_FILE)
    release_memory()
    save_optimized(out / MODEL_FILE)


def save_optimized(model_file: Path) -> None:
    """Replace the graph with the one ONNX Runtime makes of it at its extended level
    (constant folding, fusions; nothing specific to this CPU), so each query process
    skips that work when it loads (about 0.05 s of a 0.5 s cold query). Best effort."""
    ort = onnxruntime_offline()

    optimized = model_file.with_name(model_file.name + ".optimized")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(optimized)
    options.log_severity_level = 3
    try:
        ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        os.replace(optimized, model_file)
    except Exception:  # an export ONNX Runtime cannot optimize still runs as it is
        optimized.unlink(missing_ok=True)


def save_embeddings(matrix: np.ndarray, out: Path, precision: str) -> None:
    """The token embedding matrix: fp32 as it is, or int8 with a float32 scale per row
    (symmetric), quantized a block of rows at a time to keep memory flat."""
    import numpy as np

    if precision != "int8":
        np.save(out / EMBEDDINGS_FILE, matrix)
        return
    rows = matrix.shape[0]
    quantized = np.lib.format.open_memmap(
        out / EMBEDDINGS_FILE, mode="w+", dtype=np.int8, shape=matrix.shape
    )
    scales = np.empty(rows, dtype=np.float32)

    def quantize(start: int) -> None:
        block = matrix[start : start + _QUANTIZE_ROWS]
        scale = np.abs(block).max(axis=1)
        scale /= 127.0
        scale[scale == 0] = 1.0
        values = block / scale[:, None]
        np.rint(values, out=values)
        quantized[start : start + _QUANTIZE_ROWS] = values
        scales[start : start + _QUANTIZE_ROWS] = scale
        forget(block)  # where the matrix is mapped from the model's file

    # numpy lets go of the GIL: a thread per core quantized XLM-R's 250,002 x 768 matrix
    # in 0.6 s here against 1.4 s on one.
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(quantize, range(0, rows, _QUANTIZE_ROWS)))
    quantized.flush()
    forget(quantized)
    np.save(out / EMBEDDING_SCALES_FILE, scales)


def _save_config(model: Any, out: Path, precision: str, export_format: int) -> None:
    tokenizer = model.tokenizer
    tokenizer.backend_tokenizer.save(str(out / TOKENIZER_FILE))
    write_compact_beside(out / TOKENIZER_FILE, tokenizer.backend_tokenizer)
    dimension = getattr(model, "get_embedding_dimension", None)  # sentence-transformers >= 6
    dimension = dimension or model.get_sentence_embedding_dimension
    config = {
        "format": export_format,
        "precision": precision,
        "max_seq_length": int(model.max_seq_length),
        "dim": int(dimension()),
        "pad_id": int(tokenizer.pad_token_id),
        "pad_token": str(tokenizer.pad_token),
    }
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


@contextmanager
def _root_logger_quiet() -> Iterator[None]:
    """Hide warnings on the root logger for a moment, then restore the host's level."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


MAX_WORKER_SESSIONS = 4
_local = threading.local()


def onnxruntime_offline() -> Any:
    """The onnxruntime module with its telemetry off: by default a session's creation may
    look up Microsoft's telemetry host (a DNS query seen from `sisearch index` with
    onnxruntime 1.32), and sisearch reaches no network unless asked to download a model."""
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime as ort

    disable = getattr(ort, "disable_telemetry_events", None)
    if disable is not None:
        disable()
    return ort


def _session(
    model: Path | bytes, threads: int = 0, initializers: dict[str, np.ndarray] | None = None
) -> Any:
    """An ONNX Runtime CPU session of the export's file, or of a serialized model
    (`threads` 0: one per core) whose initializers marked external are `initializers`,
    used where they lie in memory: a base-size fp32 graph serialized with its weights
    took 0.7-2 s and twice its 325 MB. The caller keeps the arrays alive with the session."""
    ort = onnxruntime_offline()

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    if initializers:
        names = list(initializers)
        values = [ort.OrtValue.ortvalue_from_numpy(initializers[n]) for n in names]
        options.add_external_initializers(names, values)
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


class OnnxEncoder(TextEncoder):
    """Encodes like `Encoder`, with ONNX Runtime and the fast tokenizer only."""

    engine = "onnx"
    # Texts per slice handed to `_run`; within a slice, batches are cut by token budget.
    batch_size = 32
    # Padded tokens per session call: measured here with int8, 256 ran fastest for
    # ~16-token and ~58-token passages alike (16 and 4 passages a batch).
    token_budget = 256

    def __init__(
        self,
        folder: Path,
        name: str,
        query_prompt: str = "",
        document_prompt: str = "",
        threads: int = 0,
        *,
        graph: bytes | None = None,
        initializers: dict[str, np.ndarray] | None = None,
        embeddings: np.ndarray | None = None,
        tokenizer: Any = None,
    ) -> None:
        """`threads` > 0: one session on that many threads and no worker sessions (a Ray
        actor sharing a machine with others); 0: a session per core for many batches.
        `graph` (with the `initializers` it marks external) and `embeddings`: the model and
        token embedding matrix from memory instead of the folder's files (an export's fp32
        yardstick, never written out). `tokenizer`: the folder's whole tokenizer, already
        loaded (0.75 s for XLM-R's from tokenizer.json)."""
        self._threads = threads
        self._tokenizer_file = folder / TOKENIZER_FILE
        self._tokenizer: Any = None
        self._compact = _compact_of(folder)
        self._initializers = initializers  # the session reads them where they lie
        if tokenizer is not None:
            self._tokenizer = _untruncated(tokenizer)
        self._worker_lock = threading.Lock()
        try:
            config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
            self.max_seq_length = int(config["max_seq_length"])
            self._model_file = folder / MODEL_FILE
            self._session = _session(graph or self._model_file, threads, initializers)
            if self._compact is None:
                self._full_tokenizer()
        except Exception as e:  # missing file, corrupt model, ...
            raise ModelLoadError(
                f"Cannot load the ONNX export of {name!r} in {folder}: {e}. Fix: run"
                " `sisearch rebuild --encoder` to export it again from the model."
            ) from e
        self.name = name
        self.query_prompt = query_prompt
        self.document_prompt = document_prompt
        self.precision: str = config["precision"]
        self.format = int(config.get("format", 1))
        self._embeddings: np.ndarray | None = None
        self._scales: np.ndarray | None = None
        if embeddings is not None:
            self._embeddings = embeddings
        elif self.format >= 2:
            self._load_embeddings(folder, name)
        self.dim = int(config["dim"])
        if self._compact is not None:
            self._specials = self._compact.special_tokens()
        else:
            self._specials = self._tokenizer.num_special_tokens_to_add(False)
        self._pad_id = int(config["pad_id"])
        self._workers: ThreadPoolExecutor | None = None
        self._running = 0
        self._running_lock = threading.Lock()

    def _full_tokenizer(self) -> Any:
        """The whole tokenizer, untruncated: loaded on first need (a query's few texts use
        the compact form), writing the compact form beside it where it is missing.

        One tokenizer serves both cutting passages into chunks (untruncated, offsets) and
        encoding (truncated here, `_truncated_ids`): e5-small's tokenizer.json takes
        0.8 s to load, which a write paid twice when each had its own."""
        with self._worker_lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer

                tokenizer = _untruncated(Tokenizer.from_file(str(self._tokenizer_file)))
                self._tokenizer = tokenizer
                if self._compact is None:
                    write_compact_beside(self._tokenizer_file, tokenizer)
            return self._tokenizer

    def _token_ids(self, texts: list[str]) -> list[Any]:
        """Token ids of each text, truncated: by a compact tokenizer made for a few texts
        while this encoder has only answered queries (a cold query), else by the whole one.

        A write loads the whole tokenizer anyway to cut passages into chunks, and encodes
        slice after slice: there, building a compact tokenizer per 32-text slice (44 ms
        with e5-small) would cost more than the whole one's 3 ms an encode."""
        import numpy as np

        from .compact_tokenizer import full_ids

        if self._tokenizer is None and self._compact is not None and len(texts) <= QUICK_TEXTS:
            tokenizer, mapping = self._compact.for_texts(texts)
            tokenizer.enable_truncation(self.max_seq_length)
            tokenizer.no_padding()
            encodings = tokenizer.encode_batch(texts)
            return [full_ids(np.asarray(e.ids, dtype=np.int64), mapping) for e in encodings]
        return self._truncated_ids(texts)

    def _truncated_ids(self, texts: list[str]) -> list[Any]:
        """What the tokenizer with truncation to max_seq_length would give: the text's
        tokens cut to leave room for the special tokens, then those added (the steps, in
        order, of its own truncation; tested equal)."""
        tokenizer = self._full_tokenizer()
        room = self.max_seq_length - self._specials
        ids = []
        for encoding in tokenizer.encode_batch(texts, add_special_tokens=False):
            if len(encoding.ids) > room:
                encoding.truncate(room)
            ids.append(tokenizer.post_process(encoding).ids)
        return ids

    def _load_embeddings(self, folder: Path, name: str) -> None:
        import numpy as np

        try:
            self._embeddings = np.load(folder / EMBEDDINGS_FILE, mmap_mode="r")
            if self.precision == "int8":
                self._scales = np.load(folder / EMBEDDING_SCALES_FILE)
        except Exception as e:  # a missing or truncated file
            raise ModelLoadError(
                f"Cannot load the token embeddings of the ONNX export of {name!r} in {folder}:"
                f" {e}. Fix: run `sisearch rebuild --encoder` to export it again from the model."
            ) from e

    def special_tokens(self) -> int:
        return self._specials

    def token_offsets(self, texts: Sequence[str]) -> list[list[tuple[int, int]]]:
        if not texts:
            return []
        encodings = self._full_tokenizer().encode_batch(list(texts), add_special_tokens=False)
        return [[tuple(o) for o in e.offsets] for e in encodings]

    def _run(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        """Embed texts (sorted by length by the caller) in batches of about
        `token_budget` padded tokens: many short passages per call, few long ones.

        With an explicit batch size below the default, batches hold at most that many.
        """
        import numpy as np

        texts = [prompt + t for t in texts] if prompt else texts
        encodings = self._token_ids(texts)
        lengths = [len(ids) for ids in encodings]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        batches = list(token_batches(lengths, self.token_budget, batch_size))

        def embed(batch: tuple[int, int], session: Any) -> None:
            start, end = batch
            width = max(lengths[start:end])
            ids = np.full((end - start, width), self._pad_id, dtype=np.int64)
            mask = np.zeros((end - start, width), dtype=np.int64)
            for row, encoding in enumerate(encodings[start:end]):
                ids[row, : lengths[start + row]] = encoding
                mask[row, : lengths[start + row]] = 1
            out[start:end] = session.run(None, self._inputs(ids, mask))[0]

        with self._counted() as crowded:
            workers = self._worker_pool() if len(batches) > 1 or crowded else None
            if workers is None:
                for batch in batches:
                    embed(batch, self._session)
            else:
                list(workers.map(lambda batch: embed(batch, _local.session), batches))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    @contextmanager
    def _counted(self) -> Iterator[bool]:
        """Count this run while it lasts; yields whether another was already running.

        Runs that overlap (a server's concurrent queries) go to the one-thread worker
        sessions: measured here with the base-size model, two one-thread sessions side by
        side answered a third more queries a second than one two-thread session, with the
        very same bits (bench/serve.py). A lone query keeps both cores."""
        with self._running_lock:
            crowded = self._running > 0
            self._running += 1
        try:
            yield crowded
        finally:
            with self._running_lock:
                self._running -= 1

    def prepare_for_serving(self) -> None:
        """Load the whole tokenizer: a compact one built per query (10-25 ms with
        e5-small) pays off only in a process that answers a query or two."""
        self._full_tokenizer()

    def _worker_pool(self) -> ThreadPoolExecutor | None:
        """Threads with a session each (one thread per core), for texts of several batches:
        measured here, two one-thread sessions side by side encoded 5% more medium
        passages per second than one two-thread session. None on a one-core machine."""
        cores = os.cpu_count() or 1
        if cores < 2 or self._threads:
            return None
        with self._worker_lock:
            if self._workers is None:
                count = min(cores, MAX_WORKER_SESSIONS)
                model_file, threads = self._model_file, max(1, cores // count)

                def start() -> None:  # holds no reference to the encoder
                    _local.session = _session(model_file, threads)

                self._workers = ThreadPoolExecutor(count, "sisearch-onnx", initializer=start)
                weakref.finalize(self, self._workers.shutdown, False)
            return self._workers

    def close(self) -> None:
        """Stop the worker threads (and free their sessions); encoding still works after."""
        with self._worker_lock:
            if self._workers is not None:
                self._workers.shutdown(wait=True)
                self._workers = None

    def _inputs(self, ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        if self._embeddings is None:
            return {"input_ids": ids, "attention_mask": mask}
        vectors = self._embeddings[ids].astype("float32")
        if self._scales is not None:
            vectors *= self._scales[ids][..., None]
        return {"inputs_embeds": vectors, "attention_mask": mask}


# Varied Sinhala (and a little English) for checking an export against PyTorch fp32.
CHECK_SENTENCES = [
    "ශ්‍රී ලංකාව ඉන්දියන් සාගරයේ පිහිටි දිවයිනකි.",
    "සෞඛ්‍ය අමාත්‍යාංශය ඩෙංගු මර්දනය සඳහා විශේෂ වැඩසටහනක් ආරම්භ කළේය.",
    "ප්‍රදේශයේ ගොවීන් මහ කන්නයේ වී වගා කිරීමට සූදානම් වෙති.",
    "කොළඹ",
    "1996 ලෝක කුසලානය",
    "මහ බැංකුව පොලී අනුපාත අඩු කිරීමෙන් පසු කොටස් වෙළඳපොළ ඉහළ ගියේය, නමුත් රුපියල දුර්වල විය.",
    "අධ්‍යාපනය, සෞඛ්‍යය සහ ප්‍රවාහනය රජයේ ප්‍රධාන වියදම් ක්ෂේත්‍ර වේ.",
    "The Colombo Stock Exchange rose today.",
    "සීගිරිය කාශ්‍යප රජු විසින් ඉදිකළ බලකොටුවකි. එහි බිතුසිතුවම් ලෝක ප්‍රසිද්ධය. සංචාරකයින් දහස් ගණනක් වාර්ෂිකව එහි පැමිණෙති.",
    "වැස්ස",
]
MIN_MEAN_COSINE = 0.99
MIN_COSINE = 0.98


def with_export_files(spec: EncoderSpec, folder: Path) -> EncoderSpec:
    """`spec` with the signature of the export in `folder` it was probed on (an ONNX
    spec; a PyTorch one as it is)."""
    if spec.engine != "onnx":
        return spec
    return replace(spec, export_files=folder_signature(folder, times=False) or "")


def export_unchanged(spec: EncoderSpec, folder: Path) -> bool:
    """Whether `folder` still holds the very files `spec` was probed on, so opening it need
    not encode the probe again (about 40 ms of a 0.5 s cold query)."""
    return bool(spec.export_files) and folder_signature(folder, times=False) == spec.export_files


def _untruncated(tokenizer: Any) -> Any:
    tokenizer.no_truncation()
    tokenizer.no_padding()  # batches are padded here, to their own longest text
    return tokenizer


def _compact_of(folder: Path) -> CompactUnigram | None:
    """The export's compact tokenizer, None where it has none (or an unreadable one)."""
    from .compact_tokenizer import COMPACT_FILE, CompactUnigram

    try:
        return CompactUnigram.load(folder / COMPACT_FILE)
    except (OSError, ValueError, KeyError):
        return None


def write_compact_beside(tokenizer_file: Path, tokenizer: Any) -> None:
    """Write the compact form of `tokenizer_file` beside it, where the folder allows."""
    from .compact_tokenizer import COMPACT_FILE, write_compact

    with suppress(OSError):
        write_compact(tokenizer_file, tokenizer_file.with_name(COMPACT_FILE), tokenizer)


def token_batches(
    lengths: Sequence[int], budget: int, most: int | None = None
) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive batches whose padded size (rows x longest) stays within
    `budget` tokens (a longer text alone), each of at most `most` rows."""
    start = 0
    while start < len(lengths):
        end, longest = start + 1, lengths[start]
        while end < len(lengths) and (most is None or end - start < most):
            wider = max(longest, lengths[end])
            if wider * (end - start + 1) > budget:
                break
            end, longest = end + 1, wider
        yield start, end
        start = end


def _cached_engine(
    cache: ExportCache, key: str, staging: Path, reference: Any
) -> OnnxEncoder | None:
    """The cached export of this model in `staging`, loaded; None if there is none (or it
    no longer loads, and is dropped)."""
    if not cache.fetch(key, staging):
        shutil.rmtree(staging, ignore_errors=True)
        return None
    try:
        return OnnxEncoder(
            staging, reference.name, reference.query_prompt, reference.document_prompt
        )
    except ModelLoadError:
        cache.discard(key)
        shutil.rmtree(staging, ignore_errors=True)
        return None


def _agreement_on(fast: Any, reference: Any, texts: list[str]) -> tuple[float, float]:
    return agreement(fast.encode_documents(texts), reference.encode_documents(texts))


def close_enough(mean: float, low: float) -> bool:
    return mean >= MIN_MEAN_COSINE and low >= MIN_COSINE


def agreement(fast: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Mean and minimum cosine between two sets of unit vectors, row by row."""
    cosines = (fast * reference).sum(axis=1)
    return float(cosines.mean()), float(cosines.min())


def build_engine(
    reference: Any,
    folder: Path,
    precision: str,
    sample: Sequence[str] = (),
    cache: ExportCache | Literal["default"] | None = "default",
    refresh: bool = False,
) -> tuple[Any, EncoderSpec]:
    """The fastest engine that keeps quality: ONNX int8, else ONNX fp32, else PyTorch.

    `reference` is the PyTorch Encoder; int8 is kept only if its embeddings of
    `sample` (default: built-in sentences) have mean cosine >= 0.99 and minimum
    >= 0.98 to PyTorch fp32. Writes the export to `folder`, replacing what was there.
    The export comes from the shared cache when this model was exported before (and
    goes into it when not); `refresh` exports afresh and replaces the cached one.
    """
    texts = [normalize(t) for t in (sample or CHECK_SENTENCES)]
    staging = folder.with_name(folder.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    if cache == "default":
        cache = ExportCache.default()
    key = entry_key(reference.fingerprint(), precision, FORMAT) if cache else ""
    try:
        with cache.exporting(key) if cache else nullcontext():
            fast = _cached_engine(cache, key, staging, reference) if cache and not refresh else None
            if fast is None:
                export_onnx(reference.model, staging, precision)
                fast = OnnxEncoder(
                    staging, reference.name, reference.query_prompt, reference.document_prompt
                )
                mean, low = _agreement_on(fast, reference, texts)
                if cache and (precision == "fp32" or close_enough(mean, low)):
                    cache.store(key, staging)
            else:
                mean, low = _agreement_on(fast, reference, texts)
    except BaseException as e:
        shutil.rmtree(staging, ignore_errors=True)
        if not isinstance(e, Exception):  # Ctrl-C: nothing half-exported is left behind
            raise
        cause = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        note = f"ONNX export failed ({cause}); encoding with PyTorch fp32"
        return reference, EncoderSpec(
            "torch", "fp32", tuple(map(float, reference.probe())), 1.0, note
        )
    if precision == "int8" and not close_enough(mean, low):
        shutil.rmtree(staging, ignore_errors=True)
        engine, spec = build_engine(reference, folder, "fp32", sample, cache, refresh)
        note = (
            f"int8 embeddings were too far from fp32 (mean cosine {mean:.4f}, minimum {low:.4f});"
            " using fp32"
        )
        return engine, replace(spec, note=note)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    fast = OnnxEncoder(folder, reference.name, reference.query_prompt, reference.document_prompt)
    return fast, EncoderSpec("onnx", precision, tuple(map(float, fast.probe())), round(mean, 6))
