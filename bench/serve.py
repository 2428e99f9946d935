"""Server benchmark: HTTP against in-process search, under load, during indexing, and memory.

    python bench/serve.py                       # about 6 minutes on 2 cores (first run longer)
    python bench/serve.py --passages 2000 --queries 60
    python bench/serve.py --model e5-small --load-only   # the real encoder, the load table

The encoder is a randomly initialised model with the full XLM-R base configuration, so a
query costs what it costs with the real encoder. Everything talks to 127.0.0.1 only, and
every request loop is bounded in count. Both sides of each comparison run in this one run
and are printed as ratios. Run it alone: two cores are shared by everything you run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hybrid import base_model, machine  # noqa: E402
from bench.speed import passages  # noqa: E402
from sisearch import Index  # noqa: E402
from sisearch.quality.evaluation import read_queries  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
K = 10


def build_index(folder: Path, model_dir: str, count: int) -> None:
    """An index of `count` passages (encoded for real; cached between runs)."""
    marker = folder / f".complete-{count}"
    if marker.exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    with Index.create(folder, model=model_dir) as index:
        index.add(passages(count))
    marker.touch()
    print(f"(built a {count}-passage index in {time.perf_counter() - started:.0f} s)\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`sisearch serve` in a subprocess on 127.0.0.1, stopped with SIGTERM."""

    def __init__(self, index_dir: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sisearch", "serve", "--index-dir", str(index_dir)]
            + ["--port", str(self.port)],
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(self.port, "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)

    def rss_mib(self) -> tuple[float, float]:
        """(current, peak) resident memory of the server process, MiB."""
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


_local = threading.local()


def get(port: int, path: str) -> tuple[int, bytes]:
    """One GET on this thread's keep-alive connection."""
    connection = getattr(_local, "connection", None)
    if connection is None or getattr(_local, "port", None) != port:
        connection = _local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        _local.port = port
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    except http.client.RemoteDisconnected:  # an idle keep-alive connection the server closed
        _local.connection = None
        return get(port, path)
    except (http.client.HTTPException, OSError):
        _local.connection = None
        raise


def run_load(call: Callable[[str], None], queries: list[str], clients: int) -> dict[str, float]:
    """Every query once, spread over `clients` threads; rate and latency percentiles."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one(query: str) -> None:
        started = time.perf_counter()
        call(query)
        elapsed = time.perf_counter() - started
        with lock:
            latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, queries))
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "qps": len(queries) / wall,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
    }


def http_search(port: int) -> Callable[[str], None]:
    def call(query: str) -> None:
        status, body = get(port, f"/api/indexes/bench/search?k={K}&q={quote(query)}")
        hits = json.loads(body)["hits"]
        if status != 200 or len(hits) != K:
            raise RuntimeError(f"incomplete answer: {status} {len(hits)} hits")

    return call


def answers_equal(index: Index, port: int, queries: list[str], clients: int = 16) -> int:
    """How many of the server's answers, asked by `clients` at once (so the server's
    encodes overlap), are exactly the in-process ones (`sisearch query --json`'s hits)."""

    def remote(query: str) -> list[dict]:
        status, body = get(port, f"/api/indexes/bench/search?k={K}&q={quote(query)}")
        return json.loads(body)["hits"] if status == 200 else []

    with ThreadPoolExecutor(clients) as pool:
        answers = list(pool.map(remote, queries))
    local = [json.loads(json.dumps([h.to_dict() for h in index.search(q, K)])) for q in queries]
    return sum(a == b for a, b in zip(answers, local))


def load_table(index_dir: Path, queries: list[str]) -> None:
    index = Index.open(index_dir / "bench")
    index.search_many(queries[:4], K)  # warm: encoder loaded, vectors read
    index.encoder.prepare_for_serving()  # as the server does for its indexes

    def in_process(query: str) -> None:
        if len(index.search(query, K)) != K:
            raise RuntimeError("incomplete answer")

    server = Server(index_dir)
    try:
        remote = http_search(server.port)
        run_load(remote, queries[:32], 16)  # warm: every session the server makes under load
        rows: dict[str, list[dict[str, float]]] = {}
        for _ in range(2):  # A B A B, medians below
            for clients in (1, 4, 16):
                rows.setdefault(f"in-process, {clients}", []).append(
                    run_load(in_process, queries, clients)
                )
                rows.setdefault(f"HTTP, {clients}", []).append(run_load(remote, queries, clients))
        rss, peak = server.rss_mib()
        equal = answers_equal(index, server.port, queries)
    finally:
        server.stop()
        index.close()
    medians = {
        label: {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        for label, runs in rows.items()
    }
    single = medians["in-process, 1"]["qps"]
    print(f"## Search: HTTP against in-process ({len(queries)} queries, hybrid, k={K})\n")
    print("| side, clients | queries/s | p50 ms | p99 ms | qps / in-process single |")
    print("|---|---|---|---|---|")
    for label, row in medians.items():
        print(
            f"| {label} | {row['qps']:.1f} | {row['p50']:.1f} | {row['p99']:.1f} |"
            f" {row['qps'] / single:.2f}x |"
        )
    overhead = medians["HTTP, 1"]["p50"] / medians["in-process, 1"]["p50"]
    print(f"\nHTTP overhead at 1 client, p50 HTTP / in-process: {overhead:.2f}x (goal <= 1.3x)")
    at_16 = medians["HTTP, 16"]["qps"] / single
    print(f"HTTP throughput at 16 clients / in-process single-thread: {at_16:.2f}x (goal >= 1)")
    print(f"Server memory after the load: {rss:.0f} MiB resident, peak {peak:.0f} MiB")
    print(
        f"Answers at 16 clients equal to in-process (`query --json`): {equal} of {len(queries)}\n"
    )


def during_indexing(index_dir: Path, model_dir: str, queries: list[str], adding: int) -> None:
    """Queries from 4 clients while another process adds `adding` passages to the index."""
    extra = Path(tempfile.mkdtemp()) / "more.txt"
    extra.write_text("\n".join(passages(adding, seed=7)) + "\n", encoding="utf-8")
    server = Server(index_dir)
    remote = http_search(server.port)
    remote(queries[0])
    writer = subprocess.Popen(
        [sys.executable, "-m", "sisearch", "index", str(extra), "--index", "bench"]
        + ["--index-dir", str(index_dir), "-q"],
    )
    answered = errors = 0
    latencies: list[float] = []
    try:
        with ThreadPoolExecutor(4) as pool:
            rounds = 0
            while writer.poll() is None and rounds < 200:  # bounded: at most 200 rounds
                rounds += 1
                started = time.perf_counter()
                outcomes = list(pool.map(_attempt(remote), queries[:8]))
                latencies.append((time.perf_counter() - started) / len(outcomes))
                answered += sum(outcomes)
                errors += len(outcomes) - sum(outcomes)
        writer.wait(timeout=600)
        after = json.loads(get(server.port, "/api/indexes/bench")[1])
    finally:
        server.stop()
    print(f"## Search while another process indexes {adding} passages into the same index\n")
    print("| answers complete | errors or short answers | mean s a query | documents after |")
    print("|---|---|---|---|")
    mean = statistics.mean(latencies) if latencies else float("nan")
    print(f"| {answered} | {errors} | {mean:.3f} | {after['documents']} |\n")


def _attempt(remote: Callable[[str], None]) -> Callable[[str], bool]:
    def attempt(query: str) -> bool:
        try:
            remote(query)
            return True
        except (RuntimeError, OSError, http.client.HTTPException, ValueError):
            return False

    return attempt


def memory_at(count: int, model_dir: str) -> None:
    """Resident memory of a server with one `count`-passage index open and searched.

    The passages' vectors are random unit vectors stored directly (encoding 100k passages
    takes 20 minutes here and does not change what the server holds in memory)."""
    import numpy as np

    from sisearch.core.store import NewChunk, NewDocument, content_hash

    folder = CACHE / f"serve-memory-{count}"
    index_dir = folder / "indexes"
    marker = folder / ".complete"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        with Index.create(index_dir / "bench", model=model_dir) as index:
            rng = np.random.default_rng(0)
            texts = passages(count, seed=3)
            for start in range(0, count, 5000):
                group = []
                for text in texts[start : start + 5000]:
                    vector = rng.standard_normal(index.manifest.model.dim).astype(np.float32)
                    vector /= np.linalg.norm(vector)
                    digest = content_hash(text)
                    chunk = NewChunk(0, len(text), digest, vector)
                    group.append(NewDocument(text, "synthetic", None, {}, digest, [chunk]))
                index.store.add(group)
            index.rebuild()
        marker.touch()
    server = Server(index_dir)
    try:
        idle = server.rss_mib()[0]
        http_search(server.port)("ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන")
        rss, peak = server.rss_mib()
    finally:
        server.stop()
    size = sum(p.stat().st_size for p in (index_dir / "bench").rglob("*") if p.is_file())
    print(f"## Server memory with one {count}-passage index open\n")
    print("| before the first query | after it | peak | index on disk |\n|---|---|---|---|")
    print(f"| {idle:.0f} MiB | {rss:.0f} MiB | {peak:.0f} MiB | {size / 2**20:.0f} MiB |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=132)
    parser.add_argument("--adding", type=int, default=600)
    parser.add_argument("--memory-passages", type=int, default=100_000)
    parser.add_argument(
        "--model",
        choices=("base", "e5-small"),
        default="base",
        help="the base-size random model (the default) or the installed e5-small",
    )
    parser.add_argument("--load-only", action="store_true", help="only the load table")
    args = parser.parse_args()
    print(f"# Server benchmark ({args.model})\n\nMachine: {machine()}\n")
    if args.model == "base":
        model_dir = base_model()
    else:
        from sisearch.encoders.known_models import install

        model_dir = str(install("e5-small")[0])
    index_dir = CACHE / f"serve-{args.model}-{args.passages}" / "indexes"
    build_index(index_dir / "bench", model_dir, args.passages)
    judged = list(read_queries(ROOT / "corpora" / "queries.jsonl").values())
    queries = (judged * (args.queries // len(judged) + 1))[: args.queries]
    load_table(index_dir, queries)
    if args.load_only:
        return
    copy = Path(tempfile.mkdtemp()) / "indexes"
    shutil.copytree(index_dir, copy)
    try:
        during_indexing(copy, model_dir, queries, args.adding)
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)
    memory_at(args.memory_passages, model_dir)
    os.environ.pop("SISEARCH_TOKEN", None)


if __name__ == "__main__":
    main()
