"""txtai and Chroma building the same index with the same model folder, for bench/speed.py.

Each runs as a new process (what a user waits for), with the Python given by
`--peers-python` (an environment where they are installed beside sentence-transformers:
`python -m venv peers && peers/bin/pip install torch==2.13.0 sentence-transformers txtai
chromadb`). A peer that cannot be imported there is skipped with a note.
"""

from __future__ import annotations

import subprocess
import textwrap

TXTAI = textwrap.dedent(
    """
    import sys
    from txtai import Embeddings
    texts = open(sys.argv[2], encoding="utf-8").read().splitlines()
    embeddings = Embeddings(path=sys.argv[1], method="sentence-transformers", content=True)
    embeddings.index(texts)
    embeddings.save(sys.argv[3])
    """
)

CHROMA = textwrap.dedent(
    """
    import sys
    import chromadb
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction
    texts = open(sys.argv[2], encoding="utf-8").read().splitlines()
    client = chromadb.PersistentClient(path=sys.argv[3])
    function = SentenceTransformerEmbeddingFunction(model_name=sys.argv[1], device="cpu")
    collection = client.create_collection(
        "bench", embedding_function=function, metadata={"hnsw:space": "cosine"}
    )
    for start in range(0, len(texts), 1000):
        batch = texts[start : start + 1000]
        collection.add(ids=[str(start + i) for i in range(len(batch))], documents=batch)
    """
)

PEERS = {"txtai": ("txtai", TXTAI), "Chroma": ("chromadb", CHROMA)}


def available(python: str) -> tuple[dict[str, str], list[str]]:
    """The peers importable by `python` (name -> script), and a note for each missing."""
    found: dict[str, str] = {}
    notes: list[str] = []
    for name, (module, script) in PEERS.items():
        check = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True)
        if check.returncode == 0:
            found[name] = script
        else:
            reason = (check.stderr.strip().splitlines() or ["not importable"])[-1]
            notes.append(f"{name} not measured: {reason} (with {python})")
    return found, notes


def command(python: str, script: str, model_dir: str, corpus: str, out: str) -> list[str]:
    return [python, "-c", script, model_dir, corpus, out]
