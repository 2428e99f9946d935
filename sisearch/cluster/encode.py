"""Encoding a corpus on Ray: `sisearch encode`, the engine users with a cluster already run.

Ray Data reads the corpus on the workers (`ray_reading`), and `map_batches` runs an actor
pool: each actor loads the index's encoder once (its ONNX export on CPUs, or the PyTorch
model on a GPU for an index built with `--engine torch`), and normalizes and chunks with
the same functions `sisearch index` uses. The Parquet shards they write (`portable`
schema, `sisearch.json` beside them) import as passages indistinguishable from indexed
ones: `sisearch index --embeddings SHARDS`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..documents.reading import ReadOptions, ReadReport
from ..errors import CorpusError, EncodeFailed, MissingExtra, SisearchError

EXTRA_HINT = 'pip install -e ".[ray]"'
ENCODE_BATCH = 256
ROWS_PER_FILE = 50_000
BLOCK_BYTES = 256 * 1024  # about 800 short passages: a few seconds of work per block
CLUSTER_CPUS_PER_ACTOR = 4
ACTOR_START_S = 900  # loading a model, or an autoscaler adding a GPU machine, takes minutes


def require_ray() -> Any:
    try:
        import pyarrow  # noqa: F401
        import ray

        return ray
    except ImportError:
        raise MissingExtra(
            f"sisearch encode needs Ray and pyarrow, which are not installed. Fix: {EXTRA_HINT}"
        ) from None


@dataclass
class EncodeSummary:
    passages: int
    chunks: int
    actors: int
    files: int
    report: ReadReport = field(default_factory=ReadReport)


@dataclass(frozen=True)
class ActorPlan:
    """How many encoder actors run and what each one holds."""

    actors: int
    cpus: float
    gpus: float
    threads: int


def plan_actors(
    resources: dict[str, float],
    local: bool,
    actors: int | None = None,
    cpus_per_actor: int | None = None,
    gpus_per_actor: float = 0.0,
    node_cpus: float | None = None,
) -> ActorPlan:
    """Split the cluster: on GPUs one actor per `gpus_per_actor` (one CPU each); on CPUs
    `cpus_per_actor` threads each (here: the machine's cores shared by the actors, which
    is as fast as Ray gets on one machine; on a cluster: 4, or fewer when no machine
    (`node_cpus`: the largest) has 4). Defaults fit the cluster as it is now; an explicit
    count is trusted, for clusters whose autoscaler adds machines on demand."""
    cpus = max(1, int(resources.get("CPU", 1)))
    if gpus_per_actor > 0:
        gpus = resources.get("GPU", 0.0)
        if actors is None and gpus < gpus_per_actor:
            raise EncodeFailed(
                "--gpus-per-actor was given, but this Ray cluster has no GPU now. Fix: run on"
                " a cluster with GPU workers, or give --actors N where an autoscaler adds them"
            )
        threads = cpus_per_actor or 1
        count = actors or max(1, int(gpus // gpus_per_actor))
        return ActorPlan(count, float(threads), gpus_per_actor, threads)
    if local:
        count = actors or max(1, min(cpus, 2))
        threads = cpus_per_actor or max(1, cpus // count)
    else:
        largest = max(1, int(node_cpus or cpus))
        threads = cpus_per_actor or min(CLUSTER_CPUS_PER_ACTOR, largest)
        count = actors or max(1, cpus // threads)
    return ActorPlan(count, float(threads), 0.0, threads)


def encoder_payload(index_path: Path) -> dict[str, Any]:
    """What an actor needs to encode for the index, shipped through Ray's object store so
    workers need no access to the index folder: the ONNX export's files, or for a PyTorch
    index the model's name and, when it is a local folder, its files."""
    from ..core.manifest import Manifest

    manifest = Manifest.read(index_path)
    model = manifest.model
    payload: dict[str, Any] = {
        "engine": manifest.encoder.engine,
        "name": model.name,
        "query_prompt": model.query_prompt,
        "document_prompt": model.document_prompt,
        "normalization": manifest.normalization,
        "dim": model.dim,
        "fingerprint": model.to_dict(),
    }
    folder = index_path / "encoder" if payload["engine"] == "onnx" else Path(model.name)
    payload["files"] = _files_of(folder) if folder.is_dir() else {}
    return payload


def _files_of(folder: Path) -> dict[str, bytes]:
    from ..documents.files import hidden

    names = {f: f.relative_to(folder).as_posix() for f in sorted(folder.rglob("*"))}
    return {name: f.read_bytes() for f, name in names.items() if f.is_file() and not hidden(name)}


class EncodeActor:
    """One Ray actor: the index's encoder, loaded once, embedding batches of passages."""

    def __init__(self, payload: Any, threads: int, log: Any = None) -> None:
        import tempfile

        import ray

        settings = ray.get(payload) if isinstance(payload, ray.ObjectRef) else payload
        self._folder = tempfile.TemporaryDirectory(prefix="sisearch-encoder-")
        folder = Path(self._folder.name)
        for name, data in settings["files"].items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        self.normalization = settings["normalization"]
        self.dim = settings["dim"]
        self.log = log
        if settings["engine"] == "onnx":
            from ..encoders.onnx import OnnxEncoder

            self.encoder: Any = OnnxEncoder(
                folder,
                settings["name"],
                settings["query_prompt"],
                settings["document_prompt"],
                threads=threads,
            )
        else:
            self.encoder = _torch_encoder(settings, folder if settings["files"] else None, threads)

    def __call__(self, batch: Any) -> Any:
        from ..core.portable import chunk_row, rows_table
        from ..core.store import content_hash
        from ..core.writer import chunk_texts
        from ..language.text import has_content, normalize, repair_mojibake

        documents = []
        for source, line, metadata, origin, text in zip(
            batch["source"],
            batch["line"],
            batch["metadata"],
            batch["origin"],
            batch["text"],
            strict=True,
        ):
            text = normalize(repair_mojibake(str(text))[0], self.normalization)
            if has_content(text):
                documents.append((str(source), _line(line), str(metadata), str(origin), text))
        spans = chunk_texts(self.encoder, [d[4] for d in documents])
        pieces = [
            d[4][s.start : s.end] for d, doc_spans in zip(documents, spans) for s in doc_spans
        ]
        vectors = iter(self.encoder.encode_documents(pieces))
        rows = []
        for (source, line, metadata, origin, text), doc_spans in zip(documents, spans, strict=True):
            digest = content_hash(text)
            for position, span in enumerate(doc_spans):
                piece = text[span.start : span.end]
                rows.append(
                    chunk_row(
                        text, source, line, metadata, digest, position, span.start, span.end,
                        content_hash(piece), next(vectors), origin,
                    )
                )  # fmt: skip
        if self.log is not None:
            import ray

            ray.get(self.log.encoded.remote(len(rows)))
        return rows_table(rows, self.dim)


def _torch_encoder(settings: dict[str, Any], folder: Path | None, threads: int) -> Any:
    """The index's PyTorch model on this worker (its GPU when Ray gave it one), checked
    against the index's fingerprint: a hub id may resolve to other weights here."""
    import socket

    import torch

    from ..encoders.encoder import ModelFingerprint, load_encoder
    from ..errors import ModelMismatch

    if threads > 0:
        torch.set_num_threads(threads)
    encoder = load_encoder(
        str(folder or settings["name"]), settings["query_prompt"], settings["document_prompt"]
    )
    if str(encoder.model.device).startswith("cuda"):
        encoder.batch_size = 128
    reason = ModelFingerprint.from_dict(settings["fingerprint"]).mismatch(encoder.fingerprint())
    if reason:
        raise ModelMismatch(
            f"On Ray worker {socket.gethostname()}, model {settings['name']!r} is not the"
            f" index's: {reason}. Give the workers the index's model (the same folder or hub"
            " revision)."
        )
    return encoder


def _line(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def start_ray(address: str, verbose: bool = False) -> Any:
    """Connect to Ray: "local" starts one in this process, "auto" finds a running cluster,
    anything else is a cluster address (ray://host:10001 or host:6379). `verbose` passes
    the workers' output through to this process."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    if address == "local":
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=verbose)
    else:
        ray.init(address=address, log_to_driver=verbose)
    return ray


@dataclass
class ShardFolder:
    """Where the shards go: a local folder or a URI (s3://bucket/shards/), through one
    pyarrow file system, since Ray's writers run on the workers."""

    filesystem: Any
    root: str

    @classmethod
    def of(cls, out: str | os.PathLike[str]) -> ShardFolder:
        from pyarrow import fs

        from .reading import filesystem_of

        name = os.fspath(out)
        if "://" in name:
            filesystem, root = filesystem_of(name)
            return cls(filesystem, root.rstrip("/"))
        return cls(fs.LocalFileSystem(), str(Path(name).resolve()))

    def exists(self) -> bool:
        from pyarrow import fs

        return self.filesystem.get_file_info(self.root).type != fs.FileType.NotFound

    def shards(self) -> list[str]:
        from pyarrow import fs

        if not self.exists():
            return []
        found = self.filesystem.get_file_info(fs.FileSelector(self.root))
        return sorted(f.path for f in found if f.path.endswith(".parquet"))

    def write_text(self, name: str, text: str) -> None:
        with self.filesystem.open_output_stream(f"{self.root}/{name}") as stream:
            stream.write(text.encode("utf-8"))

    def remove(self) -> None:
        self.filesystem.delete_dir(self.root)

    def counts(self) -> tuple[int, int]:
        """Passages (rows of chunk 0) and chunks in the shards."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        passages = chunks = 0
        for file in self.shards():
            chunk = pq.read_table(file, columns=["chunk"], filesystem=self.filesystem)["chunk"]
            chunks += len(chunk)
            passages += pc.sum(pc.equal(chunk, 0)).as_py() or 0
        return passages, chunks


def encode_on_ray(
    inputs: Sequence[str],
    index_path: Path,
    out: str | os.PathLike[str],
    info: dict[str, str],
    options: ReadOptions | None = None,
    address: str = "local",
    actors: int | None = None,
    cpus_per_actor: int | None = None,
    gpus_per_actor: float = 0.0,
    verbose: bool = False,
) -> EncodeSummary:
    """Read the corpus files or folders `inputs` (local paths, or URIs such as s3://...)
    on Ray's workers, encode them for the index at `index_path`, and write Parquet shards
    and `sisearch.json` to `out` (a folder every worker can write, or a URI; it must not
    hold shards already). `verbose` lets the workers' output through."""
    from ..core.portable import SHARD_INFO
    from .reading import list_corpus

    options = options or ReadOptions()
    folder = ShardFolder.of(out)
    if folder.shards():
        raise FileExistsError(f"{out} already holds Parquet shards; choose an empty folder")
    listing = list_corpus(inputs, options)
    if not listing.paths:
        raise CorpusError(f"{', '.join(inputs)}: no file sisearch reads")
    ray = start_ray(address, verbose)
    largest = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=0)
    plan = plan_actors(
        ray.cluster_resources(),
        address == "local",
        actors,
        cpus_per_actor,
        gpus_per_actor,
        largest,
    )
    # Read when the dataset is built: small blocks, so one large file feeds every actor.
    context = ray.data.DataContext.get_current()
    settings = (
        context.enable_progress_bars,
        context.target_max_block_size,
        context.wait_for_min_actors_s,
    )
    context.enable_progress_bars = False
    context.target_max_block_size = BLOCK_BYTES
    # Fail, not wait forever, when the cluster cannot hold the actors asked for.
    context.wait_for_min_actors_s = ACTOR_START_S
    made = not folder.exists()
    try:
        report, passages, chunks = _run_job(ray, listing, options, index_path, folder, plan)
        if not passages:
            reasons = "; ".join(report.failed[:3] or report.empty[:3])
            raise CorpusError(f"{', '.join(inputs)}: no passage to encode ({reasons})")
    except Exception as e:
        if made and folder.exists():
            folder.remove()
        if "Timed out while starting actors" in str(e):
            gpus = f" and {plan.gpus:g} GPU" if plan.gpus else ""
            raise EncodeFailed(
                f"{plan.actors} encoder actors of {plan.cpus:g} CPU{gpus} each did not start"
                f" within {ACTOR_START_S} s: the Ray cluster does not have that much (nor did"
                " an autoscaler add it). Fix: fewer --actors, or smaller --cpus-per-actor or"
                " --gpus-per-actor"
            ) from None
        raise _reason(e) from None
    finally:
        (
            context.enable_progress_bars,
            context.target_max_block_size,
            context.wait_for_min_actors_s,
        ) = settings
    folder.write_text(SHARD_INFO, json.dumps(info, ensure_ascii=False, indent=1))
    return EncodeSummary(passages, chunks, plan.actors, len(folder.shards()), report)


def _run_job(
    ray: Any,
    listing: Any,
    options: ReadOptions,
    index_path: Path,
    folder: ShardFolder,
    plan: ActorPlan,
) -> tuple[ReadReport, int, int]:
    """Build and run the Ray Data job; the read report, and the passages and chunks found
    in the shards (checked against what the actors encoded)."""
    from .reading import JobLog, read_fetched

    log = ray.remote(num_cpus=0)(JobLog).remote()
    # Reading takes no CPU from Ray's books: the encoder actors hold them all, and a
    # reader waiting for a CPU they never free would stall the job.
    documents = ray.data.read_binary_files(
        listing.paths, include_paths=True, filesystem=listing.filesystem, num_cpus=0
    ).map_batches(
        read_fetched,
        fn_kwargs={"options": options, "prefix": listing.prefix, "log": log},
        batch_size=1,
        num_cpus=0,
    )
    encoded = documents.map_batches(
        EncodeActor,
        fn_constructor_kwargs={
            "payload": ray.put(encoder_payload(index_path)),
            "threads": plan.threads,
            "log": log,
        },
        batch_size=ENCODE_BATCH,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=plan.actors),  # `concurrency=` is deprecated
        num_cpus=plan.cpus,
        num_gpus=plan.gpus,
    )
    folder.filesystem.create_dir(folder.root)
    encoded.write_parquet(
        folder.root, filesystem=folder.filesystem, min_rows_per_file=ROWS_PER_FILE
    )
    report, written = ray.get(log.result.remote())
    walk = listing.walk
    report.merge(
        ReadReport(unknown=walk.unknown, excluded=walk.excluded, images_left=walk.images_left)
    )
    passages, chunks = folder.counts()
    if chunks != written:
        raise EncodeFailed(
            f"{written - chunks} of {written} encoded chunks are not in {folder.root} as this"
            " machine sees it: the workers wrote them to their own disks. Give --out a"
            " folder every machine shares, or a URI (s3://bucket/shards/)"
        )
    return report, passages, chunks


def _reason(error: BaseException) -> SisearchError:
    """The sisearch error a worker raised, else the failure in one line.

    Ray keeps a worker's exception as an object (a task's) or only as text (an actor
    that died in `__init__`), so both are looked for."""
    from .. import errors

    seen: BaseException | None = error
    for _ in range(20):  # Ray nests a worker's error a few levels deep
        if seen is None:
            break
        if isinstance(seen, SisearchError):
            return seen
        cause = getattr(seen, "cause", None)
        seen = cause if isinstance(cause, BaseException) else seen.__cause__
    raised = re.findall(r"sisearch\.errors\.(\w+): (.+)", str(error))
    if raised:
        kind = getattr(errors, raised[-1][0], None)
        if isinstance(kind, type) and issubclass(kind, SisearchError):
            return kind(raised[-1][1].strip())
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return EncodeFailed(f"The Ray job failed: {lines[-1] if lines else type(error).__name__}")
